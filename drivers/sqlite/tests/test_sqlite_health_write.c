/*
 * test_sqlite_health_write.c - health_check "write": the health check also
 * takes the write lock, so a writer stuck in a transaction (a connection
 * outside the pool holding BEGIN IMMEDIATE) makes the database unhealthy,
 * where the default read check, on a WAL file, still finds it healthy.
 */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nebula/sqlite.h"

#define ID "orders-db"

typedef struct fixture {
    char dir[64];
    char path[256];
    sqlite3 *writer; /* the stuck writer: a plain connection, not the driver's */
    void *h[2];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/nr-sqlite-hw-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/orders.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 2; i++)
        if (f->h[i])
            nr_sqlite_type.destroy(f->h[i], NULL);
    if (f->writer)
        sqlite3_close(f->writer);
    nr_test_remove_dir(f->dir);
    free(f);
    return 0;
}

/* Instance i on the fixture's file, in WAL mode, with the given check. */
static void make(fixture *f, int i, int mode, int64_t busy_ms)
{
    nr_sqlite_config c = {.path = f->path,
                          .busy_timeout_ms = busy_ms,
                          .wal = true,
                          .create = true,
                          .foreign_keys = true,
                          .health_check = mode};
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(60000)};
    nr_error err = {0};
    int rc = nr_sqlite_type.create(&f->h[i], &c, &ctx, NULL, &err);
    if (rc != NR_OK)
        fail_msg("create: %s: %s", nr_err_name(rc), err.message);
}

/* A connection outside the pool takes the write lock and keeps it. */
static void stick_writer(fixture *f)
{
    assert_int_equal(sqlite3_open(f->path, &f->writer), SQLITE_OK);
    assert_int_equal(sqlite3_exec(f->writer,
                                  "CREATE TABLE IF NOT EXISTS batch(x); BEGIN IMMEDIATE; "
                                  "INSERT INTO batch VALUES (1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
}

static nr_health_report check(void *h, int64_t deadline_ms, int expect_rc)
{
    nr_health_report rep = {.state = NR_HEALTH_UNKNOWN};
    nr_error err = {0};
    int rc = nr_sqlite_type.health_check(h, NULL, nr_deadline_in_ms(deadline_ms), &rep, &err);
    if (rc != expect_rc)
        fail_msg("health check: %s (%s), expected %s", nr_err_name(rc), err.message,
                 nr_err_name(expect_rc));
    return rep;
}

static void test_write_check_healthy_leaves_no_transaction(void **state)
{
    fixture *f = *state;
    make(f, 0, NR_SQLITE_HEALTH_WRITE, 5000);
    nr_health_report rep = check(f->h[0], 10000, NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_HEALTHY);
    assert_string_equal(rep.reason, "");
    /* the write lock was given back: the connection is out of any transaction
     * and another connection can write at once */
    assert_true(sqlite3_get_autocommit(nr_sqlite_db(f->h[0])));
    make(f, 1, NR_SQLITE_HEALTH_READ, 0);
    nr_error err = {0};
    assert_int_equal(nr_sqlite_exec(f->h[1], "CREATE TABLE t(x); INSERT INTO t VALUES (1)", &err),
                     NR_OK);
}

static void test_stuck_writer_unhealthy_only_for_write_check(void **state)
{
    fixture *f = *state;
    make(f, 0, NR_SQLITE_HEALTH_READ, 50);
    make(f, 1, NR_SQLITE_HEALTH_WRITE, 50);
    stick_writer(f);
    /* WAL: readers are not blocked, so the read check sees nothing wrong */
    assert_int_equal(check(f->h[0], 10000, NR_OK).state, NR_HEALTH_HEALTHY);
    nr_health_report rep = check(f->h[1], 10000, NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_UNHEALTHY);
    if (!strstr(rep.reason, "write lock: database is locked (not free within "))
        fail_msg("reason: %s", rep.reason);
    assert_true(sqlite3_get_autocommit(nr_sqlite_db(f->h[1])));

    /* the writer finishes: the same connection is healthy again */
    assert_int_equal(sqlite3_exec(f->writer, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    rep = check(f->h[1], 10000, NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_HEALTHY);
    assert_string_equal(rep.reason, "");
}

static void test_lock_wait_ends_at_the_deadline_as_locked(void **state)
{
    fixture *f = *state;
    /* the busy budget alone would wait an hour: the check's deadline ends it,
     * and a lock still in the way then is an unhealthy database, not an error */
    make(f, 0, NR_SQLITE_HEALTH_WRITE, NR_SQLITE_BUSY_TIMEOUT_MS_MAX);
    stick_writer(f);
    nr_health_report rep = check(f->h[0], 100, NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_UNHEALTHY);
    assert_non_null(strstr(rep.reason, "database is locked"));
    /* no transaction is left open on the checked connection */
    assert_true(sqlite3_get_autocommit(nr_sqlite_db(f->h[0])));
}

static void test_rollback_journal_lock_blocks_the_read_part(void **state)
{
    fixture *f = *state;
    nr_sqlite_config c = {.path = f->path,
                          .busy_timeout_ms = 30,
                          .create = true,
                          .foreign_keys = true,
                          .health_check = NR_SQLITE_HEALTH_WRITE};
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(60000)};
    nr_error err = {0};
    assert_int_equal(nr_sqlite_type.create(&f->h[0], &c, &ctx, NULL, &err), NR_OK);
    assert_int_equal(sqlite3_open(f->path, &f->writer), SQLITE_OK);
    assert_int_equal(sqlite3_exec(f->writer,
                                  "CREATE TABLE batch(x); BEGIN EXCLUSIVE; "
                                  "INSERT INTO batch VALUES (1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    /* without WAL an exclusive lock keeps readers out too: unhealthy in write mode */
    nr_health_report rep = check(f->h[0], 10000, NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_UNHEALTHY);
    assert_non_null(strstr(rep.reason, "schema read: database is locked"));
}

static void expect_issue(const char *json, const char *path, const char *rule)
{
    nr_sqlite_config c;
    nr_config_report rep;
    nr_error err = {0};
    assert_int_equal(nr_config_parse(&nr_sqlite_config_schema, json, strlen(json), &c, &rep, &err),
                     NR_ECONFIG);
    for (size_t i = 0; i < rep.count; i++)
        if (strcmp(rep.items[i].path, path) == 0 && strstr(rep.items[i].rule, rule)) {
            nr_config_free(&nr_sqlite_config_schema, &c);
            return;
        }
    fail_msg("%s: no issue at %s with \"%s\" (first: %s: %s)", json, path, rule,
             rep.count ? rep.items[0].path : "none", rep.count ? rep.items[0].rule : "");
}

static void test_config(void **state)
{
    (void)state;
    nr_sqlite_config c;
    nr_config_report rep;
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_sqlite_config_schema, &c, &err), NR_OK);
    assert_int_equal(c.health_check, NR_SQLITE_HEALTH_READ);
    nr_config_free(&nr_sqlite_config_schema, &c);

    const char *json = "{\"path\": \"a.db\", \"health_check\": \"write\"}";
    assert_int_equal(nr_config_parse(&nr_sqlite_config_schema, json, strlen(json), &c, &rep, &err),
                     NR_OK);
    assert_int_equal(c.health_check, NR_SQLITE_HEALTH_WRITE);
    char *text = nr_config_serialize(&nr_sqlite_config_schema, &c, NR_CONFIG_SECRETS_REDACT, &err);
    assert_non_null(text);
    if (!strstr(text, "\"health_check\":\"write\"") && !strstr(text, "\"health_check\": \"write\""))
        fail_msg("serialized: %s", text);
    nr_free(text);
    nr_config_free(&nr_sqlite_config_schema, &c);

    expect_issue("{\"health_check\": \"writable\"}", "$.health_check", "read, write");
    expect_issue("{\"health_check\": true}", "$.health_check", "");
    expect_issue("{\"health_check\": \"write\", \"read_only\": true}", "$.health_check",
                 "must be \"read\" when read_only is true");
}

static void test_create_refuses_write_check_read_only(void **state)
{
    fixture *f = *state;
    nr_sqlite_config c = {.path = f->path,
                          .busy_timeout_ms = 10,
                          .read_only = true,
                          .health_check = NR_SQLITE_HEALTH_WRITE};
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(60000)};
    nr_error err = {0};
    void *h = NULL;
    assert_int_equal(nr_sqlite_type.create(&h, &c, &ctx, NULL, &err), NR_ECONFIG);
    assert_null(h);
    NR_ASSERT_ERR(err, NR_ECONFIG, "sqlite 'orders-db': health_check must be \"read\"");
    c.read_only = false;
    c.health_check = 7;
    assert_int_equal(nr_sqlite_type.create(&h, &c, &ctx, NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "health_check must be \"read\" or \"write\" (got 7)");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_write_check_healthy_leaves_no_transaction),
        T(test_stuck_writer_unhealthy_only_for_write_check),
        T(test_lock_wait_ends_at_the_deadline_as_locked),
        T(test_rollback_journal_lock_blocks_the_read_part),
        T(test_config),
        T(test_create_refuses_write_check_read_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
