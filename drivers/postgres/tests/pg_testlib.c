/* pg_testlib.c - see pg_testlib.h. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_testlib.h"

const char *pgt_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !v[0])
        fail_msg("%s is not set: run the test through tests/with-postgres.sh", name);
    return v;
}

static char *dup_or_fail(const char *s)
{
    char *d = nr_strdup(s);
    assert_non_null(d);
    return d;
}

void pgt_config(nr_postgres_config *cfg)
{
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_postgres_config_schema, cfg, &err), NR_OK);
    nr_free(cfg->host);
    cfg->host = dup_or_fail(pgt_env("NR_TEST_PG_HOST"));
    cfg->port = atol(pgt_env("NR_TEST_PG_PORT"));
    nr_free(cfg->user);
    cfg->user = dup_or_fail(pgt_env("NR_TEST_PG_USER"));
    nr_free(cfg->dbname);
    cfg->dbname = dup_or_fail(pgt_env("NR_TEST_PG_DB"));
    cfg->sslmode = NR_PG_SSL_DISABLE;
}

nr_secret *pgt_secret(const char *text)
{
    nr_secret *s = NULL;
    nr_error err = {0};
    assert_int_equal(nr_secret_from_str(&s, text, &err), NR_OK);
    return s;
}

nr_secret *pgt_password(void)
{
    return pgt_secret(pgt_env("NR_TEST_PG_PASSWORD"));
}

PGconn *pgt_admin(void)
{
    const char *kw[] = {"host", "port", "user", "dbname", NULL};
    const char *val[] = {pgt_env("NR_TEST_PG_SOCKDIR"), pgt_env("NR_TEST_PG_PORT"), "postgres",
                         pgt_env("NR_TEST_PG_DB"), NULL};
    PGconn *pg = PQconnectdbParams(kw, val, 0);
    if (PQstatus(pg) != CONNECTION_OK)
        fail_msg("admin connection: %s", PQerrorMessage(pg));
    return pg;
}

void pgt_admin_exec(const char *sql)
{
    PGconn *pg = pgt_admin();
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(pg);
        fail_msg("admin: %s: %s", sql, msg);
    }
    PQclear(r);
    PQfinish(pg);
}

void pgt_query_text(PGconn *pg, const char *sql, char *buf, size_t n)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        fail_msg("query: %s: %s", sql, msg);
    }
    snprintf(buf, n, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

long pgt_query_long(PGconn *pg, const char *sql)
{
    char buf[64];
    pgt_query_text(pg, sql, buf, sizeof(buf));
    return buf[0] ? atol(buf) : -1;
}

long pgt_admin_long(const char *sql)
{
    PGconn *pg = pgt_admin();
    char buf[64];
    PGresult *r = PQexec(pg, sql);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    snprintf(buf, sizeof(buf), "%s", ok && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    if (!ok) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(pg);
        fail_msg("admin: %s: %s", sql, msg);
    }
    PQclear(r);
    PQfinish(pg);
    return buf[0] ? atol(buf) : -1;
}

void pgt_ctl(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s", pgt_env("NR_TEST_PG_CTL"), what);
    if (system(cmd) != 0)
        fail_msg("'%s' failed", cmd);
}

bool pgt_wait_pid_gone(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d", pid);
    for (int i = 0; i < 1000; i++) {
        if (access(path, F_OK) != 0)
            return true;
        nr_sleep_ns(10 * NR_NS_PER_MS);
    }
    return false;
}

bool pgt_wait_admin_long(const char *sql, long want)
{
    for (int i = 0; i < 200; i++) {
        if (pgt_admin_long(sql) == want)
            return true;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    return false;
}

int pgt_create(void **h, const nr_postgres_config *cfg, const nr_secret *pw, nr_deadline dl,
               const nr_cancel *cancel, nr_error *err)
{
    nr_create_ctx ctx = {
        .resource_id = "pg-test", .deadline = dl, .cancel = cancel, .credential = pw};
    return nr_postgres_type.create(h, cfg, &ctx, NULL, err);
}
