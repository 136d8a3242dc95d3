/*
 * postgres_example.c - a pool of PostgreSQL connections: create it, lease a
 * connection, run statements, give it back, destroy the pool.
 *
 *     NR_PG_PASSWORD=... postgres_example '{"host": "127.0.0.1", "port": 5432,
 *                                           "user": "app", "dbname": "appdb"}'
 *
 * The config is JSON checked by the driver's schema; the password comes from
 * the environment into a secret, never into the config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/postgres.h"
#include "nebula/resource.h"

static int fail(const char *what, const nr_error *err)
{
    fprintf(stderr, "%s: %s: %s\n", what, nr_err_name(err->code), err->message);
    return 1;
}

int main(int argc, char **argv)
{
    const char *json = argc > 1 ? argv[1] : "{}";
    nr_error err = {0};

    /* 1. The driver's config from JSON: defaults, then the keys given. */
    nr_postgres_config cfg;
    nr_config_report rep;
    if (nr_config_parse(&nr_postgres_config_schema, json, strlen(json), &cfg, &rep, &err) !=
        NR_OK) {
        nr_config_report_print(&rep, stderr); /* "$.port: must be between 1 and 65535 (got 0)" */
        nr_config_free(&nr_postgres_config_schema, &cfg);
        return 1;
    }
    cfg.statement_timeout_ms = 5000; /* no statement of this program runs longer */

    /* 2. The password, as a secret the pool copies. */
    nr_secret *password = NULL;
    const char *pw = getenv("NR_PG_PASSWORD");
    if (pw && nr_secret_from_str(&password, pw, &err) != NR_OK) {
        nr_config_free(&nr_postgres_config_schema, &cfg);
        return fail("password", &err);
    }

    /* 3. The pool: at most 4 connections, 1 kept ready. */
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;
    pc.min_idle = 1;
    nr_pool_options opts = NR_POOL_OPTIONS(.id = "example-pg", .type = &nr_postgres_type,
                                           .config = &cfg, .pool = &pc, .credential = password);
    nr_pool *pool = NULL;
    int status = 0;
    if (nr_pool_create(&pool, &opts, &err) != NR_OK) {
        status = fail("pool", &err);
        goto out;
    }

    /* 4. Connect now, so that a wrong password shows up at start; then lease
     * a connection (waiting at most 2 s), use it, give it back. */
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(2000), .caller = "example");
    if (nr_pool_fill(pool, nr_deadline_in_ms(5000), &err) != NR_OK) {
        status = fail("fill", &err); /* e.g. NR_ECRED: authentication failed ... user 'app' */
    } else if (nr_pool_acquire(pool, &ctx, &g, &err) != NR_OK) {
        status = fail("acquire", &err);
    } else {
        void *conn = nr_guard_handle(&g);
        if (nr_postgres_exec(conn,
                             "CREATE TABLE IF NOT EXISTS visits(who text NOT NULL);"
                             "INSERT INTO visits(who) VALUES ('example')",
                             &err) != NR_OK) {
            status = fail("exec", &err);
            (void)nr_guard_taint(&g); /* do not give a connection in doubt to the next user */
        } else {
            PGresult *r = PQexec(nr_postgres_conn(conn), "SELECT count(*) FROM visits");
            if (PQresultStatus(r) == PGRES_TUPLES_OK)
                printf("visits: %s\n", PQgetvalue(r, 0, 0));
            else
                status = 1;
            PQclear(r);
            (void)nr_guard_release(&g); /* ROLLBACK if needed, then DISCARD ALL */
        }
    }

    /* 5. Every lease is back: the pool can go, then the secret and the config. */
    if (nr_pool_destroy(pool, &err) != NR_OK)
        status = fail("destroy", &err);
out:
    nr_secret_free(password);
    nr_config_free(&nr_postgres_config_schema, &cfg);
    return status;
}
