/*
 * test_postgres_driver.c - the PostgreSQL driver's callbacks called directly
 * against a real server (tests/with-postgres.sh), and its config schema.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_testlib.h"
#include "postgres_internal.h"

#define LONG_WAIT nr_deadline_in_ms(30000)

typedef struct fixture {
    nr_postgres_config cfg;
    nr_secret *pw;
    void *h;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    pgt_config(&f->cfg);
    f->pw = pgt_password();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    /* a failed test may have left the postmaster frozen */
    pgt_ctl("sigcont");
    if (f->h)
        nr_postgres_type.destroy(f->h, NULL);
    nr_secret_free(f->pw);
    nr_config_free(&nr_postgres_config_schema, &f->cfg);
    free(f);
    return 0;
}

static void set_str(char **field, const char *value)
{
    nr_free(*field);
    *field = value ? nr_strdup(value) : NULL;
    if (value)
        assert_non_null(*field);
}

static void assert_no_secret(const char *msg)
{
    const char *pw = getenv("NR_TEST_PG_PASSWORD");
    if (pw && strstr(msg, pw))
        fail_msg("the password appears in \"%s\"", msg);
}

/* ---- config schema ---- */

static void test_config_defaults_and_rules(void **state)
{
    (void)state;
    nr_error err = {0};
    nr_postgres_config c;
    assert_int_equal(nr_config_init(&nr_postgres_config_schema, &c, &err), NR_OK);
    assert_string_equal(c.host, "localhost");
    assert_int_equal(c.port, 5432);
    assert_string_equal(c.dbname, "postgres");
    assert_string_equal(c.user, "postgres");
    assert_string_equal(c.application_name, "nebula-resource");
    assert_string_equal(c.reset_query, "DISCARD ALL");
    assert_string_equal(c.health_query, "SELECT 1");
    assert_int_equal(c.sslmode, NR_PG_SSL_PREFER);
    assert_int_equal(c.connect_timeout_ms, 10000);
    assert_int_equal(c.health_timeout_ms, 5000);
    assert_int_equal(c.statement_timeout_ms, 0);
    assert_true(c.keepalives);
    assert_null(c.hostaddr);
    nr_config_free(&nr_postgres_config_schema, &c);

    nr_config_report rep;
    const char *bad = "{\"port\": 70000, \"sslmode\": \"sometimes\", \"connect_timeout_ms\": 0,"
                      " \"sslcert\": \"/etc/c.pem\", \"user\": \"\"}";
    assert_int_equal(nr_config_parse(&nr_postgres_config_schema, bad, strlen(bad), &c, &rep, &err),
                     NR_ECONFIG);
    bool port = false, ssl = false, timeout = false, user = false;
    for (size_t i = 0; i < rep.count; i++) {
        port |= strcmp(rep.items[i].path, "$.port") == 0;
        ssl |= strcmp(rep.items[i].path, "$.sslmode") == 0;
        timeout |= strcmp(rep.items[i].path, "$.connect_timeout_ms") == 0;
        user |= strcmp(rep.items[i].path, "$.user") == 0;
    }
    assert_true(port && ssl && timeout && user);
    nr_config_free(&nr_postgres_config_schema, &c);

    /* a certificate without its key: the cross-field rule */
    const char *half = "{\"sslcert\": \"/etc/c.pem\"}";
    assert_int_equal(
        nr_config_parse(&nr_postgres_config_schema, half, strlen(half), &c, &rep, &err),
        NR_ECONFIG);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].path, "$.sslkey");
    nr_config_free(&nr_postgres_config_schema, &c);

    /* JSON round trip */
    const char *good = "{\"host\": \"db1,db2\", \"port\": 6432, \"sslmode\": \"verify-full\","
                       " \"target_session_attrs\": \"read-write\", \"statement_timeout_ms\": 1500,"
                       " \"reset_query\": \"\", \"options\": \"-c search_path=app\"}";
    assert_int_equal(
        nr_config_parse(&nr_postgres_config_schema, good, strlen(good), &c, &rep, &err), NR_OK);
    assert_int_equal(c.sslmode, NR_PG_SSL_VERIFY_FULL);
    assert_int_equal(c.target_session_attrs, NR_PG_TARGET_READ_WRITE);
    char *text =
        nr_config_serialize(&nr_postgres_config_schema, &c, NR_CONFIG_SECRETS_REDACT, &err);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"verify-full\""));
    nr_postgres_config back;
    assert_int_equal(
        nr_config_parse(&nr_postgres_config_schema, text, strlen(text), &back, &rep, &err), NR_OK);
    assert_true(nr_config_equal(&nr_postgres_config_schema, &c, &back));
    nr_free(text);
    nr_config_free(&nr_postgres_config_schema, &back);
    nr_config_free(&nr_postgres_config_schema, &c);
}

/* ---- message cleaning (internal) ---- */

static void test_message_cleaning(void **state)
{
    (void)state;
    char out[128];
    nr__pg_clean_message(out, sizeof(out),
                         "connection to server at \"h\", port 1 failed: FATAL:  28P01: password "
                         "s3cret-pw failed\nLOCATION:  auth_failed, auth.c:335\n\tsecond line\n",
                         "s3cret-pw");
    assert_string_equal(out, "connection to server at \"h\", port 1 failed: FATAL:  28P01: "
                             "password <redacted> failed; second line");
    assert_int_equal(nr__pg_sqlstate_in_message("x FATAL:  28P01: password"),
                     nr__pg_sqlstate_from_text("28P01"));
    assert_int_equal(nr__pg_sqlstate_in_message("no state here"), 0);
    char s[6];
    assert_string_equal(nr_postgres_sqlstate(nr__pg_sqlstate_from_text("3D000"), s), "3D000");
    assert_string_equal(nr_postgres_sqlstate(0, s), "");
    assert_int_equal(nr__pg_sqlstate_from_text("28p01"), 0);
    /* cut with "..." */
    char small[12];
    nr__pg_clean_message(small, sizeof(small), "abcdefghijklmnopqrstuvwxyz", NULL);
    assert_string_equal(small, "abcdefgh...");
}

/* ---- create, validate, health, application_name, session settings ---- */

static void test_create_and_use(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    f->cfg.statement_timeout_ms = 4321;
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    PGconn *pg = nr_postgres_conn(f->h);
    assert_non_null(pg);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    assert_int_equal(nr_postgres_type.validate(f->h, NULL, &err), NR_OK);

    nr_health_report hr = {0};
    assert_int_equal(nr_postgres_type.health_check(f->h, NULL, nr_deadline_in_ms(10000), &hr, &err),
                     NR_OK);
    assert_int_equal(hr.state, NR_HEALTH_HEALTHY);

    /* application_name as the server sees it */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND application_name = "
             "'nebula-resource'",
             PQbackendPID(pg));
    assert_int_equal(pgt_admin_long(sql), 1);

    /* statement_timeout is the session default: it survives DISCARD ALL */
    char buf[64];
    pgt_query_text(pg, "SHOW statement_timeout", buf, sizeof(buf));
    assert_string_equal(buf, "4321ms");
    assert_int_equal(nr_postgres_exec(f->h, "SET statement_timeout = 0", &err), NR_OK);
    assert_int_equal(nr_postgres_type.recycle(f->h, NULL, &err), NR_OK);
    pgt_query_text(pg, "SHOW statement_timeout", buf, sizeof(buf));
    assert_string_equal(buf, "4321ms");

    nr_postgres_type.destroy(f->h, NULL);
    f->h = NULL;

    /* another application_name */
    set_str(&f->cfg.application_name, "orders-service");
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND application_name = "
             "'orders-service'",
             PQbackendPID(nr_postgres_conn(f->h)));
    assert_int_equal(pgt_admin_long(sql), 1);
}

/* ---- refusals ---- */

static void test_wrong_password(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    nr_secret *bad = pgt_secret("Wrong-Pass-9f3a");
    int rc = pgt_create(&f->h, &f->cfg, bad, LONG_WAIT, NULL, &err);
    nr_secret_free(bad);
    assert_null(f->h);
    NR_ASSERT_ERR(err, NR_ECRED, "postgres 'pg-test'");
    assert_int_equal(rc, NR_ECRED);
    assert_string_equal(err.resource_id, "pg-test");
    assert_non_null(strstr(err.message, "user 'app'"));
    assert_non_null(strstr(err.message, "password authentication failed"));
    assert_null(strstr(err.message, "Wrong-Pass-9f3a"));
    assert_no_secret(err.message);
    char s[6];
    assert_string_equal(nr_postgres_sqlstate(err.driver_code, s), "28P01");

    /* no credential at all */
    nr_error_clear(&err);
    assert_int_equal(pgt_create(&f->h, &f->cfg, NULL, LONG_WAIT, NULL, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "no credential");
    assert_non_null(strstr(err.message, "pg-test"));

    /* a password that the server's message happens to contain is redacted */
    nr_error_clear(&err);
    bad = pgt_secret("password");
    assert_int_equal(pgt_create(&f->h, &f->cfg, bad, LONG_WAIT, NULL, &err), NR_ECRED);
    nr_secret_free(bad);
    assert_null(strstr(err.message, "password"));
    assert_non_null(strstr(err.message, "<redacted>"));
}

static void test_refused_and_unknown_db(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    f->cfg.port = atol(pgt_env("NR_TEST_PG_CLOSED_PORT"));
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_EUNAVAIL);
    assert_null(f->h);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "postgres 'pg-test': cannot connect to 127.0.0.1:");
    assert_non_null(strstr(err.message, "refused"));
    assert_no_secret(err.message);

    f->cfg.port = atol(pgt_env("NR_TEST_PG_PORT"));
    set_str(&f->cfg.dbname, "no_such_db");
    nr_error_clear(&err);
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "no_such_db");
    char s[6];
    assert_string_equal(nr_postgres_sqlstate(err.driver_code, s), "3D000");
    assert_no_secret(err.message);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    nr_create_ctx ctx = {.resource_id = "pg-test"};
    assert_int_equal(nr_postgres_type.create(NULL, &f->cfg, &ctx, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_postgres_type.create(&f->h, NULL, &ctx, NULL, &err), NR_EINVAL);
    f->cfg.port = 0;
    assert_int_equal(nr_postgres_type.create(&f->h, &f->cfg, &ctx, NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.port");
    assert_non_null(strstr(err.message, "pg-test"));
    f->cfg.port = 5432;
    f->cfg.sslmode = 42;
    assert_int_equal(nr_postgres_type.create(&f->h, &f->cfg, &ctx, NULL, &err), NR_ECONFIG);
    f->cfg.sslmode = 0;
    /* a credential with a NUL byte cannot be a PostgreSQL password */
    nr_secret *nul = NULL;
    assert_int_equal(nr_secret_create(&nul, "ab\0cd", 5, &err), NR_OK);
    assert_int_equal(pgt_create(&f->h, &f->cfg, nul, LONG_WAIT, NULL, &err), NR_ECRED);
    nr_secret_free(nul);
    assert_null(f->h);

    assert_null(nr_postgres_conn(NULL));
    int not_a_conn[16] = {0};
    assert_null(nr_postgres_conn(not_a_conn));
    assert_int_equal(nr_postgres_exec(NULL, "SELECT 1", &err), NR_EINVAL);
    assert_int_equal(nr_postgres_type.validate(NULL, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_postgres_type.recycle(NULL, NULL, &err), NR_EINVAL);
    nr_health_report hr;
    assert_int_equal(nr_postgres_type.health_check(NULL, NULL, LONG_WAIT, &hr, &err), NR_EINVAL);
    nr_postgres_type.destroy(NULL, NULL);
}

/* ---- deadlines and cancellation against a frozen server ---- */

static void test_deadline_frozen_server(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    pgt_ctl("sigstop");
    int rc = pgt_create(&f->h, &f->cfg, f->pw, nr_deadline_in_ms(300), NULL, &err);
    nr_error err2 = {0};
    f->cfg.connect_timeout_ms = 300;
    int rc2 = pgt_create(&f->h, &f->cfg, f->pw, (nr_deadline){0}, NULL, &err2);
    pgt_ctl("sigcont");
    assert_int_equal(rc, NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "postgres 'pg-test': the create deadline passed");
    assert_no_secret(err.message);
    assert_int_equal(rc2, NR_ETIMEDOUT);
    NR_ASSERT_ERR(err2, NR_ETIMEDOUT, "connect_timeout_ms (300)");
    assert_null(f->h);
    /* thawed, it answers again (with a timeout a loaded machine meets) */
    f->cfg.connect_timeout_ms = 30000;
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
}

typedef struct trigger_arg {
    nr_cancel *token;
    int delay_ms;
} trigger_arg;

static void *trigger_later(void *arg)
{
    trigger_arg *t = arg;
    nr_sleep_ns(t->delay_ms * NR_NS_PER_MS);
    nr_cancel_trigger(t->token);
    return NULL;
}

static void test_cancel(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    nr_cancel *token = NULL;
    assert_int_equal(nr_cancel_create(&token, NULL, &err), NR_OK);
    nr_cancel_trigger(token);
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, token, &err), NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, "postgres 'pg-test': canceled before connecting");
    nr_cancel_destroy(token);

    /* set while the connection waits on a frozen server */
    assert_int_equal(nr_cancel_create(&token, NULL, &err), NR_OK);
    pgt_ctl("sigstop");
    trigger_arg ta = {token, 100};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, trigger_later, &ta), 0);
    int rc = pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, token, &err);
    pthread_join(t, NULL);
    pgt_ctl("sigcont");
    nr_cancel_destroy(token);
    assert_int_equal(rc, NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, "canceled while connecting to 127.0.0.1:");
    assert_null(f->h);
}

/* ---- health check timeouts ---- */

static void test_health_timeout_on_lock(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    assert_int_equal(nr_postgres_exec(f->h, "CREATE TABLE IF NOT EXISTS probe(x int)", &err),
                     NR_OK);
    nr_postgres_type.destroy(f->h, NULL);
    f->h = NULL;

    set_str(&f->cfg.health_query, "SELECT count(*) FROM probe");
    f->cfg.health_timeout_ms = 300;
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    int pid = PQbackendPID(nr_postgres_conn(f->h));

    PGconn *locker = pgt_admin();
    PGresult *r = PQexec(locker, "BEGIN; LOCK TABLE probe IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);

    nr_health_report hr = {0};
    assert_int_equal(nr_postgres_type.health_check(f->h, NULL, LONG_WAIT, &hr, &err), NR_OK);
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_non_null(strstr(hr.reason, "no answer within 300 ms"));
    /* "cancelled", or "cancel pending" on a slow machine: the wait below
     * shows that it arrived */
    assert_non_null(strstr(hr.reason, "cancel"));
    assert_null(strstr(hr.reason, "not sent"));

    /* the cancel reached the server: nothing waits on the lock any more,
     * although it is still held */
    char sql[200];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock'",
             pid);
    assert_true(pgt_wait_admin_long(sql, 0));
    /* the connection was left busy: it cannot be reused */
    assert_int_equal(nr_postgres_type.recycle(f->h, NULL, &err), NR_ECLEANUP);
    NR_ASSERT_ERR(err, NR_ECLEANUP, "running a query");

    r = PQexec(locker, "ROLLBACK");
    PQclear(r);
    PQfinish(locker);
}

static void test_health_timeout_frozen_backend(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    /* the given deadline is the smaller one here (health_timeout_ms 5000) */
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    int pid = PQbackendPID(nr_postgres_conn(f->h));
    assert_int_equal(kill(pid, SIGSTOP), 0);
    nr_health_report hr = {0};
    int rc = nr_postgres_type.health_check(f->h, NULL, nr_deadline_in_ms(300), &hr, &err);
    kill(pid, SIGCONT);
    assert_int_equal(rc, NR_OK);
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_non_null(strstr(hr.reason, "no answer within"));

    /* an already expired deadline: the check does not run */
    nr_postgres_type.destroy(f->h, NULL);
    f->h = NULL;
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    assert_int_equal(nr_postgres_type.health_check(f->h, NULL, nr_deadline_in_ms(0), &hr, &err),
                     NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "postgres 'pg-test'");

    /* a failing health query: unhealthy with the server's message */
    nr_postgres_type.destroy(f->h, NULL);
    f->h = NULL;
    set_str(&f->cfg.health_query, "SELECT * FROM no_such_table");
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    assert_int_equal(nr_postgres_type.health_check(f->h, NULL, LONG_WAIT, &hr, &err), NR_OK);
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_non_null(strstr(hr.reason, "no_such_table"));
    /* the session is still usable after a failed query */
    assert_int_equal(nr_postgres_type.validate(f->h, NULL, &err), NR_OK);
}

/* ---- recycle ---- */

static void test_recycle_states(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    PGconn *pg = nr_postgres_conn(f->h);

    /* open transaction, with session state around it */
    /* (separate calls: a BEGIN inside one query string takes the statements
     * before it into its transaction) */
    assert_int_equal(nr_postgres_exec(f->h, "CREATE TEMP TABLE leftover(x int)", &err), NR_OK);
    assert_int_equal(nr_postgres_exec(f->h, "SET work_mem = '77kB'", &err), NR_OK);
    assert_int_equal(nr_postgres_exec(f->h, "PREPARE leftover_stmt AS SELECT 1", &err), NR_OK);
    assert_int_equal(nr_postgres_exec(f->h, "BEGIN; INSERT INTO leftover VALUES (1)", &err), NR_OK);
    assert_int_equal(PQtransactionStatus(pg), PQTRANS_INTRANS);
    assert_int_equal(nr_postgres_type.validate(f->h, NULL, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "in a transaction");
    assert_int_equal(nr_postgres_type.recycle(f->h, NULL, &err), NR_OK);
    assert_int_equal(PQtransactionStatus(pg), PQTRANS_IDLE);
    assert_int_equal(pgt_query_long(pg, "SELECT count(*) FROM pg_class WHERE relname = 'leftover' "
                                        "AND relpersistence = 't'"),
                     0);
    char buf[64];
    pgt_query_text(pg, "SHOW work_mem", buf, sizeof(buf));
    assert_string_not_equal(buf, "77kB");
    assert_int_equal(pgt_query_long(pg, "SELECT count(*) FROM pg_prepared_statements"), 0);

    /* aborted transaction */
    assert_int_equal(nr_postgres_exec(f->h, "BEGIN", &err), NR_OK);
    assert_int_equal(nr_postgres_exec(f->h, "SELECT 1/0", &err), NR_EINVAL);
    char s[6];
    assert_string_equal(nr_postgres_sqlstate(err.driver_code, s), "22012");
    assert_int_equal(PQtransactionStatus(pg), PQTRANS_INERROR);
    assert_int_equal(nr_postgres_type.recycle(f->h, NULL, &err), NR_OK);
    assert_int_equal(PQtransactionStatus(pg), PQTRANS_IDLE);
    assert_int_equal(nr_postgres_type.validate(f->h, NULL, &err), NR_OK);

    /* a query still running: the connection cannot be reused */
    assert_true(PQsendQuery(pg, "SELECT pg_sleep(0.05)"));
    assert_int_equal(nr_postgres_type.recycle(f->h, NULL, &err), NR_ECLEANUP);
    NR_ASSERT_ERR(err, NR_ECLEANUP, "running a query");
    nr_postgres_type.destroy(f->h, NULL);
    f->h = NULL;

    /* pipeline mode left on */
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    assert_true(PQenterPipelineMode(nr_postgres_conn(f->h)));
    assert_int_equal(nr_postgres_type.recycle(f->h, NULL, &err), NR_ECLEANUP);
    NR_ASSERT_ERR(err, NR_ECLEANUP, "pipeline");
    nr_postgres_type.destroy(f->h, NULL);
    f->h = NULL;

    /* a reset query that fails */
    set_str(&f->cfg.reset_query, "SELECT no_such_function()");
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    assert_int_equal(nr_postgres_type.recycle(f->h, NULL, &err), NR_ECLEANUP);
    NR_ASSERT_ERR(err, NR_ECLEANUP, "the reset query");
    assert_non_null(strstr(err.message, "no_such_function"));
    assert_string_equal(nr_postgres_sqlstate(err.driver_code, s), "42883");
    nr_postgres_type.destroy(f->h, NULL);
    f->h = NULL;

    /* no reset query: only the rollback; session state stays */
    set_str(&f->cfg.reset_query, "");
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    assert_int_equal(nr_postgres_exec(f->h, "CREATE TEMP TABLE kept(x int)", &err), NR_OK);
    assert_int_equal(nr_postgres_exec(f->h, "BEGIN", &err), NR_OK);
    assert_int_equal(nr_postgres_type.recycle(f->h, NULL, &err), NR_OK);
    assert_int_equal(PQtransactionStatus(nr_postgres_conn(f->h)), PQTRANS_IDLE);
    assert_int_equal(pgt_query_long(nr_postgres_conn(f->h),
                                    "SELECT count(*) FROM pg_class WHERE relname = 'kept'"),
                     1);
}

/* ---- a connection the server closed ---- */

static void test_terminated_backend(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    int pid = PQbackendPID(nr_postgres_conn(f->h));
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
    pgt_admin_exec(sql);
    assert_true(pgt_wait_pid_gone(pid));

    assert_int_equal(nr_postgres_type.validate(f->h, NULL, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "postgres 'pg-test': validate: connection to 127.0.0.1:");
    nr_health_report hr = {0};
    assert_int_equal(nr_postgres_type.health_check(f->h, NULL, LONG_WAIT, &hr, &err), NR_OK);
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_non_null(strstr(hr.reason, "connection"));
    assert_int_equal(nr_postgres_type.recycle(f->h, NULL, &err), NR_ECLEANUP);
    assert_int_equal(nr_postgres_exec(f->h, "SELECT 1", &err), NR_EUNAVAIL);
}

/* ---- exec ---- */

static void test_exec_errors(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    assert_int_equal(pgt_create(&f->h, &f->cfg, f->pw, LONG_WAIT, NULL, &err), NR_OK);
    assert_int_equal(nr_postgres_exec(f->h, "", &err), NR_OK);
    assert_int_equal(nr_postgres_exec(f->h, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "pg-test");
    assert_int_equal(nr_postgres_exec(f->h, "SELEC 1", &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "postgres 'pg-test': statement on 127.0.0.1:");
    assert_non_null(strstr(err.message, "syntax error"));
    char s[6];
    assert_string_equal(nr_postgres_sqlstate(err.driver_code, s), "42601");
    assert_int_equal(nr_postgres_exec(f->h, "SET statement_timeout = 50; SELECT pg_sleep(5)", &err),
                     NR_ETIMEDOUT);
    assert_string_equal(nr_postgres_sqlstate(err.driver_code, s), "57014");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_and_rules),
        cmocka_unit_test(test_message_cleaning),
        cmocka_unit_test_setup_teardown(test_create_and_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_and_unknown_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_frozen_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_timeout_on_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_timeout_frozen_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recycle_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminated_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_errors, setup, teardown),
    };
    return cmocka_run_group_tests_name("postgres_driver", tests, NULL, NULL);
}
