/*
 * test_sqlite_driver.c - the SQLite driver's callbacks called directly, and
 * its config schema.
 */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nebula/sqlite.h"

#define ID "db-main"

/* ---- fixtures ------------------------------------------------------------------ */

typedef struct fixture {
    char dir[64];
    char path[256];          /* dir/test.db */
    char path_buf[4][512];   /* what cfg.path points at */
    nr_sqlite_config cfg[4]; /* filled by use_cfg(); strings are not owned */
    void *h[4];              /* instances to destroy at teardown */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/nr-sqlite-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 4; i++)
        if (f->h[i])
            nr_sqlite_type.destroy(f->h[i], NULL);
    nr_test_remove_dir(f->dir);
    free(f);
    return 0;
}

/* Config slot i with the documented defaults and the given path (not owned:
 * these configs never go through nr_config_free). */
static nr_sqlite_config *use_cfg(fixture *f, int i, const char *path)
{
    snprintf(f->path_buf[i], sizeof(f->path_buf[i]), "%s", path);
    nr_sqlite_config *c = &f->cfg[i];
    c->path = f->path_buf[i];
    c->busy_timeout_ms = 5000;
    c->wal = false;
    c->read_only = false;
    c->create = true;
    c->foreign_keys = true;
    return c;
}

static nr_create_ctx ctx_make(void)
{
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(60000)};
    return ctx;
}

/* Create instance slot i from config slot i; returns the code. */
static int make(fixture *f, int i, nr_error *err)
{
    nr_create_ctx ctx = ctx_make();
    return nr_sqlite_type.create(&f->h[i], &f->cfg[i], &ctx, NULL, err);
}

static void make_ok(fixture *f, int i)
{
    nr_error err = {0};
    int rc = make(f, i, &err);
    if (rc != NR_OK)
        fail_msg("create: %s: %s", nr_err_name(rc), err.message);
    assert_non_null(f->h[i]);
}

static void exec_ok(void *h, const char *sql)
{
    nr_error err = {0};
    int rc = nr_sqlite_exec(h, sql, &err);
    if (rc != NR_OK)
        fail_msg("exec '%s': %s: %s", sql, nr_err_name(rc), err.message);
}

/* First column of the first row of sql, as text (into a static buffer). */
static const char *query_text(sqlite3 *db, const char *sql)
{
    static char out[128];
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, sizeof(out), "%s", t ? (const char *)t : "");
    sqlite3_finalize(st);
    return out;
}

static int query_int(sqlite3 *db, const char *sql)
{
    return atoi(query_text(db, sql));
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- type ------------------------------------------------------------------------ */

static void test_type_is_complete(void **state)
{
    (void)state;
    nr_error err = {0};
    assert_int_equal(nr_resource_type_check(&nr_sqlite_type, &err), NR_OK);
    assert_string_equal(nr_sqlite_type.name, "sqlite");
    assert_ptr_equal(nr_sqlite_type.config_schema, &nr_sqlite_config_schema);
    assert_non_null(nr_sqlite_type.validate);
    assert_non_null(nr_sqlite_type.recycle);
    assert_non_null(nr_sqlite_type.health_check);
    assert_null(nr_sqlite_db(NULL));
}

/* ---- create / destroy --------------------------------------------------------------- */

static void test_create_destroy_memory(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, ":memory:");
    make_ok(f, 0);
    sqlite3 *db = nr_sqlite_db(f->h[0]);
    assert_non_null(db);
    exec_ok(f->h[0], "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)");
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 2);
    nr_sqlite_type.destroy(f->h[0], NULL);
    f->h[0] = NULL;

    /* ":memory:" is private to each instance */
    make_ok(f, 0);
    assert_int_equal(
        query_int(nr_sqlite_db(f->h[0]), "SELECT count(*) FROM sqlite_master WHERE name = 't'"), 0);
}

static void test_create_destroy_file(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, f->path);
    make_ok(f, 0);
    exec_ok(f->h[0], "CREATE TABLE t(x); INSERT INTO t VALUES (42)");
    assert_true(file_exists(f->path));
    nr_sqlite_type.destroy(f->h[0], NULL);
    f->h[0] = NULL;

    /* the data is in the file, seen by a connection opened without the driver */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(query_int(db, "SELECT x FROM t"), 42);
    sqlite3_close(db);
}

static void test_create_false_refuses_missing_file(void **state)
{
    fixture *f = *state;
    nr_sqlite_config *c = use_cfg(f, 0, f->path);
    c->create = false;
    nr_error err = {0};
    assert_int_equal(make(f, 0, &err), NR_EUNAVAIL);
    assert_null(f->h[0]);
    assert_int_equal(err.driver_code & 0xff, SQLITE_CANTOPEN);
    assert_false(file_exists(f->path));
}

static void test_bad_path_names_resource_and_path(void **state)
{
    fixture *f = *state;
    char bad[300];
    snprintf(bad, sizeof(bad), "%s/no-such-dir/test.db", f->dir);
    use_cfg(f, 0, bad);
    nr_error err = {0};
    assert_int_equal(make(f, 0, &err), NR_EUNAVAIL);
    assert_null(f->h[0]);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, ID);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, bad);
    assert_string_equal(err.resource_id, ID);
    assert_int_not_equal(err.driver_code, 0);
    assert_int_equal(err.driver_code & 0xff, SQLITE_CANTOPEN);
}

static void test_uri_query_not_shown(void **state)
{
    fixture *f = *state;
    char uri[300];
    snprintf(uri, sizeof(uri), "file:%s/no-such-dir/test.db?vfs=unix&hidden=xyzzy", f->dir);
    use_cfg(f, 0, uri);
    nr_error err = {0};
    assert_int_not_equal(make(f, 0, &err), NR_OK);
    assert_non_null(strstr(err.message, "no-such-dir/test.db"));
    assert_null(strstr(err.message, "xyzzy"));
}

static void test_expired_deadline_times_out(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, f->path);
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ns(-1)};
    nr_error err = {0};
    assert_int_equal(nr_sqlite_type.create(&f->h[0], &f->cfg[0], &ctx, NULL, &err), NR_ETIMEDOUT);
    assert_null(f->h[0]);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, ID);
    assert_false(file_exists(f->path)); /* gave up before opening */
}

static void test_set_cancel_token_cancels(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, f->path);
    nr_cancel *tok = NULL;
    assert_int_equal(nr_cancel_create(&tok, NULL, NULL), NR_OK);
    nr_cancel_trigger(tok);
    nr_create_ctx ctx = ctx_make();
    ctx.cancel = tok;
    nr_error err = {0};
    assert_int_equal(nr_sqlite_type.create(&f->h[0], &f->cfg[0], &ctx, NULL, &err), NR_ECANCELED);
    assert_null(f->h[0]);
    NR_ASSERT_ERR(err, NR_ECANCELED, ID);
    nr_cancel_destroy(tok);
}

/* Hold an exclusive lock on f->path through instance slot 1 (rollback journal
 * mode, so that no other connection can even read). */
static void hold_exclusive_lock(fixture *f)
{
    use_cfg(f, 1, f->path);
    make_ok(f, 1);
    exec_ok(f->h[1], "CREATE TABLE IF NOT EXISTS t(x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)");
}

static void test_deadline_ends_wait_for_lock(void **state)
{
    fixture *f = *state;
    hold_exclusive_lock(f);
    /* switching to WAL needs the lock; the busy timeout alone would wait an hour */
    nr_sqlite_config *c = use_cfg(f, 0, f->path);
    c->wal = true;
    c->busy_timeout_ms = NR_SQLITE_BUSY_TIMEOUT_MS_MAX;
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(100)};
    nr_error err = {0};
    assert_int_equal(nr_sqlite_type.create(&f->h[0], c, &ctx, NULL, &err), NR_ETIMEDOUT);
    assert_null(f->h[0]);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, f->path);
}

static void *trigger_later(void *arg)
{
    nr_sleep_ns(50 * NR_NS_PER_MS);
    nr_cancel_trigger(arg);
    return NULL;
}

static void test_cancel_ends_wait_for_lock(void **state)
{
    fixture *f = *state;
    hold_exclusive_lock(f);
    nr_sqlite_config *c = use_cfg(f, 0, f->path);
    c->wal = true;
    c->busy_timeout_ms = NR_SQLITE_BUSY_TIMEOUT_MS_MAX;
    nr_cancel *tok = NULL;
    assert_int_equal(nr_cancel_create(&tok, NULL, NULL), NR_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, trigger_later, tok), 0);
    nr_create_ctx ctx = ctx_make();
    ctx.cancel = tok;
    nr_error err = {0};
    assert_int_equal(nr_sqlite_type.create(&f->h[0], c, &ctx, NULL, &err), NR_ECANCELED);
    assert_null(f->h[0]);
    NR_ASSERT_ERR(err, NR_ECANCELED, ID);
    pthread_join(t, NULL);
    nr_cancel_destroy(tok);
}

static void test_config_errors_refused(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    nr_sqlite_config *c = use_cfg(f, 0, "");
    assert_int_equal(make(f, 0, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "path");
    c = use_cfg(f, 0, ":memory:");
    c->busy_timeout_ms = -1;
    assert_int_equal(make(f, 0, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "busy_timeout_ms");
    c = use_cfg(f, 0, f->path);
    c->wal = true;
    c->read_only = true;
    assert_int_equal(make(f, 0, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "read_only");
    assert_null(f->h[0]);
}

static void test_out_of_memory(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, ":memory:");
    nr_test_alloc_install();
    nr_test_alloc_fail_after(0);
    nr_error err = {0};
    int rc = make(f, 0, &err);
    nr_test_alloc_reset();
    nr_set_allocator(NULL);
    assert_int_equal(rc, NR_ENOMEM);
    NR_ASSERT_ERR(err, NR_ENOMEM, ID);
    assert_null(f->h[0]);
}

/* ---- pragmas ------------------------------------------------------------------------ */

static void test_wal_switches_file_journal_mode(void **state)
{
    fixture *f = *state;
    nr_sqlite_config *c = use_cfg(f, 0, f->path);
    c->wal = true;
    make_ok(f, 0);
    assert_string_equal(query_text(nr_sqlite_db(f->h[0]), "PRAGMA journal_mode"), "wal");
    exec_ok(f->h[0], "CREATE TABLE t(x)");

    /* the mode belongs to the file: a connection without wal sees it too */
    use_cfg(f, 1, f->path);
    make_ok(f, 1);
    assert_string_equal(query_text(nr_sqlite_db(f->h[1]), "PRAGMA journal_mode"), "wal");
}

static void test_no_wal_keeps_rollback_journal(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, f->path);
    make_ok(f, 0);
    assert_string_equal(query_text(nr_sqlite_db(f->h[0]), "PRAGMA journal_mode"), "delete");
}

static void test_wal_ignored_in_memory(void **state)
{
    fixture *f = *state;
    nr_sqlite_config *c = use_cfg(f, 0, ":memory:");
    c->wal = true;
    make_ok(f, 0);
    assert_string_equal(query_text(nr_sqlite_db(f->h[0]), "PRAGMA journal_mode"), "memory");
}

static void test_busy_timeout_applies(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, f->path);
    make_ok(f, 0);
    exec_ok(f->h[0], "CREATE TABLE t(x)");
    nr_sqlite_config *c = use_cfg(f, 1, f->path);
    c->busy_timeout_ms = 100;
    make_ok(f, 1);

    exec_ok(f->h[0], "BEGIN IMMEDIATE");
    nr_error err = {0};
    assert_int_equal(nr_sqlite_exec(f->h[1], "INSERT INTO t VALUES (1)", &err), NR_EBUSY);
    assert_int_equal(err.driver_code & 0xff, SQLITE_BUSY);
    NR_ASSERT_ERR(err, NR_EBUSY, ID);
    exec_ok(f->h[0], "COMMIT");
    /* the lock is gone: the same write now goes through */
    exec_ok(f->h[1], "INSERT INTO t VALUES (1)");
    assert_int_equal(query_int(nr_sqlite_db(f->h[0]), "SELECT count(*) FROM t"), 1);
}

static void test_read_only_refuses_writes(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, f->path);
    make_ok(f, 0);
    exec_ok(f->h[0], "CREATE TABLE t(x); INSERT INTO t VALUES (7)");

    nr_sqlite_config *c = use_cfg(f, 1, f->path);
    c->read_only = true;
    make_ok(f, 1);
    assert_int_equal(query_int(nr_sqlite_db(f->h[1]), "SELECT x FROM t"), 7);
    nr_error err = {0};
    assert_int_equal(nr_sqlite_exec(f->h[1], "INSERT INTO t VALUES (8)", &err), NR_EUNAVAIL);
    assert_int_equal(err.driver_code & 0xff, SQLITE_READONLY);
    assert_int_equal(query_int(nr_sqlite_db(f->h[0]), "SELECT count(*) FROM t"), 1);
}

static void test_read_only_never_creates(void **state)
{
    fixture *f = *state;
    nr_sqlite_config *c = use_cfg(f, 0, f->path);
    c->read_only = true;
    c->create = true; /* ignored with read_only */
    nr_error err = {0};
    assert_int_equal(make(f, 0, &err), NR_EUNAVAIL);
    assert_false(file_exists(f->path));
}

static void test_foreign_keys(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, ":memory:");
    make_ok(f, 0);
    assert_int_equal(query_int(nr_sqlite_db(f->h[0]), "PRAGMA foreign_keys"), 1);
    exec_ok(f->h[0], "CREATE TABLE p(id INTEGER PRIMARY KEY);"
                     "CREATE TABLE c(pid INTEGER REFERENCES p(id))");
    nr_error err = {0};
    assert_int_equal(nr_sqlite_exec(f->h[0], "INSERT INTO c VALUES (5)", &err), NR_EINVAL);
    assert_int_equal(err.driver_code & 0xff, SQLITE_CONSTRAINT);

    nr_sqlite_config *c = use_cfg(f, 1, ":memory:");
    c->foreign_keys = false;
    make_ok(f, 1);
    assert_int_equal(query_int(nr_sqlite_db(f->h[1]), "PRAGMA foreign_keys"), 0);
}

/* ---- exec ------------------------------------------------------------------------------ */

static void test_exec_reports_errors(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, ":memory:");
    make_ok(f, 0);
    nr_error err = {0};
    assert_int_equal(nr_sqlite_exec(f->h[0], "SELEC nonsense", &err), NR_EINVAL);
    assert_int_equal(err.driver_code & 0xff, SQLITE_ERROR);
    NR_ASSERT_ERR(err, NR_EINVAL, "syntax error");
    NR_ASSERT_ERR(err, NR_EINVAL, ID);
    assert_string_equal(err.resource_id, ID);
    assert_int_equal(nr_sqlite_exec(f->h[0], NULL, &err), NR_EINVAL);
    assert_int_equal(nr_sqlite_exec(NULL, "SELECT 1", &err), NR_EINVAL);
}

/* ---- validate / recycle -------------------------------------------------------------------- */

static void test_validate(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, ":memory:");
    make_ok(f, 0);
    nr_error err = {0};
    for (int i = 0; i < 3; i++) /* the kept statement is reset after each use */
        assert_int_equal(nr_sqlite_type.validate(f->h[0], NULL, &err), NR_OK);
    uint64_t not_a_conn[16] = {0};
    assert_int_equal(nr_sqlite_type.validate(not_a_conn, NULL, &err), NR_EINVAL);
    assert_null(nr_sqlite_db(not_a_conn));
}

static void test_recycle_rolls_back_open_transaction(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, f->path);
    make_ok(f, 0);
    sqlite3 *db = nr_sqlite_db(f->h[0]);
    exec_ok(f->h[0], "CREATE TABLE t(x)");
    exec_ok(f->h[0], "BEGIN; INSERT INTO t VALUES (1)");
    assert_int_equal(sqlite3_get_autocommit(db), 0);

    nr_error err = {0};
    assert_int_equal(nr_sqlite_type.recycle(f->h[0], NULL, &err), NR_OK);
    assert_int_not_equal(sqlite3_get_autocommit(db), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 0);

    /* a recycle with nothing open changes nothing */
    exec_ok(f->h[0], "INSERT INTO t VALUES (2)");
    assert_int_equal(nr_sqlite_type.recycle(f->h[0], NULL, &err), NR_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 1);
}

static void test_recycle_resets_statements(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, f->path);
    make_ok(f, 0);
    sqlite3 *db = nr_sqlite_db(f->h[0]);
    exec_ok(f->h[0], "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)");
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT x FROM t", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_stmt_busy(st));

    nr_error err = {0};
    assert_int_equal(nr_sqlite_type.recycle(f->h[0], NULL, &err), NR_OK);
    assert_false(sqlite3_stmt_busy(st));
    sqlite3_finalize(st);

    /* a statement left over is finalized by destroy (ASan/LSan would see a leak) */
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT x FROM t", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    nr_sqlite_type.destroy(f->h[0], NULL);
    f->h[0] = NULL;
}

static void test_recycle_restores_busy_timeout(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, f->path);
    make_ok(f, 0);
    exec_ok(f->h[0], "CREATE TABLE t(x)");
    nr_sqlite_config *c = use_cfg(f, 1, f->path);
    c->busy_timeout_ms = 100;
    make_ok(f, 1);
    /* a lease holder installs a busy handler that would wait forever */
    sqlite3_busy_timeout(nr_sqlite_db(f->h[1]), 3600000);
    nr_error err = {0};
    assert_int_equal(nr_sqlite_type.recycle(f->h[1], NULL, &err), NR_OK);

    exec_ok(f->h[0], "BEGIN IMMEDIATE");
    assert_int_equal(nr_sqlite_exec(f->h[1], "INSERT INTO t VALUES (1)", &err), NR_EBUSY);
    exec_ok(f->h[0], "ROLLBACK");
}

/* ---- health check ------------------------------------------------------------------------------
 */

static void test_health_healthy(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, f->path);
    make_ok(f, 0);
    nr_health_report rep = {.state = NR_HEALTH_UNKNOWN};
    nr_error err = {0};
    assert_int_equal(
        nr_sqlite_type.health_check(f->h[0], NULL, nr_deadline_in_ms(10000), &rep, &err), NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_HEALTHY);
    assert_string_equal(rep.reason, "");
}

static void test_health_locked_is_degraded(void **state)
{
    fixture *f = *state;
    hold_exclusive_lock(f);
    nr_sqlite_config *c = use_cfg(f, 0, f->path);
    c->busy_timeout_ms = 20;
    make_ok(f, 0);
    nr_health_report rep = {.state = NR_HEALTH_UNKNOWN};
    nr_error err = {0};
    assert_int_equal(
        nr_sqlite_type.health_check(f->h[0], NULL, nr_deadline_in_ms(60000), &rep, &err), NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_DEGRADED);
    assert_non_null(strstr(rep.reason, "locked"));

    exec_ok(f->h[1], "COMMIT");
    assert_int_equal(
        nr_sqlite_type.health_check(f->h[0], NULL, nr_deadline_in_ms(60000), &rep, &err), NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_HEALTHY);
}

static void test_health_deadline(void **state)
{
    fixture *f = *state;
    use_cfg(f, 0, ":memory:");
    make_ok(f, 0);
    nr_health_report rep = {.state = NR_HEALTH_UNKNOWN};
    nr_error err = {0};
    assert_int_equal(nr_sqlite_type.health_check(f->h[0], NULL, nr_deadline_in_ns(-1), &rep, &err),
                     NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, ID);

    /* a lock that outlasts the deadline ends the check at the deadline */
    hold_exclusive_lock(f);
    nr_sqlite_config *c = use_cfg(f, 2, f->path);
    c->busy_timeout_ms = NR_SQLITE_BUSY_TIMEOUT_MS_MAX;
    make_ok(f, 2);
    assert_int_equal(nr_sqlite_type.health_check(f->h[2], NULL, nr_deadline_in_ms(50), &rep, &err),
                     NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, f->path);
}

/* ---- config schema
 * ---------------------------------------------------------------------------------- */

static void test_config_defaults(void **state)
{
    (void)state;
    nr_sqlite_config c;
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_sqlite_config_schema, &c, &err), NR_OK);
    assert_string_equal(c.path, ":memory:");
    assert_int_equal(c.busy_timeout_ms, 5000);
    assert_false(c.wal);
    assert_false(c.read_only);
    assert_true(c.create);
    assert_true(c.foreign_keys);
    assert_int_equal(nr_config_validate(&nr_sqlite_config_schema, &c, "$", NULL, &err), NR_OK);
    nr_config_free(&nr_sqlite_config_schema, &c);
}

static void test_config_parse(void **state)
{
    (void)state;
    const char *json = "{\"path\": \"/var/lib/app/app.db\", \"busy_timeout_ms\": 250,"
                       " \"wal\": true, \"create\": false, \"foreign_keys\": false}";
    nr_sqlite_config c;
    nr_config_report rep;
    nr_error err = {0};
    assert_int_equal(nr_config_parse(&nr_sqlite_config_schema, json, strlen(json), &c, &rep, &err),
                     NR_OK);
    assert_string_equal(c.path, "/var/lib/app/app.db");
    assert_int_equal(c.busy_timeout_ms, 250);
    assert_true(c.wal);
    assert_false(c.read_only); /* not given: default */
    assert_false(c.create);
    assert_false(c.foreign_keys);
    nr_config_free(&nr_sqlite_config_schema, &c);
}

/* Parse json, expect NR_ECONFIG with an issue at path. */
static void expect_issue(const char *json, const char *path)
{
    nr_sqlite_config c;
    nr_config_report rep;
    nr_error err = {0};
    assert_int_equal(nr_config_parse(&nr_sqlite_config_schema, json, strlen(json), &c, &rep, &err),
                     NR_ECONFIG);
    bool found = false;
    for (size_t i = 0; i < rep.count; i++)
        if (strcmp(rep.items[i].path, path) == 0)
            found = true;
    if (!found)
        fail_msg("%s: no issue at %s (first: %s)", json, path,
                 rep.count ? rep.items[0].path : "none");
    nr_config_free(&nr_sqlite_config_schema, &c);
}

static void test_config_invalid_values_rejected(void **state)
{
    (void)state;
    expect_issue("{\"busy_timeout_ms\": -1}", "$.busy_timeout_ms");
    expect_issue("{\"busy_timeout_ms\": 3600001}", "$.busy_timeout_ms");
    expect_issue("{\"busy_timeout_ms\": \"5s\"}", "$.busy_timeout_ms");
    expect_issue("{\"path\": \"\"}", "$.path");
    expect_issue("{\"path\": 3}", "$.path");
    expect_issue("{\"wal\": \"yes\"}", "$.wal");
    expect_issue("{\"wal\": true, \"read_only\": true}", "$.wal");
    expect_issue("{\"journal\": \"wal\"}", "$.journal");

    /* a path longer than NR_SQLITE_PATH_MAX */
    size_t n = NR_SQLITE_PATH_MAX + 1;
    char *json = malloc(n + 32);
    assert_non_null(json);
    strcpy(json, "{\"path\": \"");
    size_t at = strlen(json);
    memset(json + at, 'a', n);
    strcpy(json + at + n, "\"}");
    expect_issue(json, "$.path");
    free(json);
}

static void test_config_round_trip(void **state)
{
    (void)state;
    nr_sqlite_config a, b;
    nr_config_report rep;
    nr_error err = {0};
    const char *json = "{\"path\": \"file:app.db?mode=rwc\", \"busy_timeout_ms\": 0,"
                       " \"read_only\": false, \"wal\": true, \"foreign_keys\": false}";
    assert_int_equal(nr_config_parse(&nr_sqlite_config_schema, json, strlen(json), &a, &rep, &err),
                     NR_OK);
    char *text = nr_config_serialize(&nr_sqlite_config_schema, &a, NR_CONFIG_SECRETS_REDACT, &err);
    assert_non_null(text);
    assert_int_equal(nr_config_parse(&nr_sqlite_config_schema, text, strlen(text), &b, &rep, &err),
                     NR_OK);
    assert_true(nr_config_equal(&nr_sqlite_config_schema, &a, &b));
    assert_string_equal(b.path, "file:app.db?mode=rwc");
    assert_int_equal(b.busy_timeout_ms, 0);
    assert_true(b.wal);
    assert_false(b.foreign_keys);
    nr_free(text);

    /* a copy is equal too, and a changed field is not */
    nr_sqlite_config c;
    assert_int_equal(nr_config_copy(&nr_sqlite_config_schema, &c, &a, &err), NR_OK);
    assert_true(nr_config_equal(&nr_sqlite_config_schema, &a, &c));
    c.busy_timeout_ms = 1;
    assert_false(nr_config_equal(&nr_sqlite_config_schema, &a, &c));
    nr_config_free(&nr_sqlite_config_schema, &a);
    nr_config_free(&nr_sqlite_config_schema, &b);
    nr_config_free(&nr_sqlite_config_schema, &c);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_type_is_complete),
        T(test_create_destroy_memory),
        T(test_create_destroy_file),
        T(test_create_false_refuses_missing_file),
        T(test_bad_path_names_resource_and_path),
        T(test_uri_query_not_shown),
        T(test_expired_deadline_times_out),
        T(test_set_cancel_token_cancels),
        T(test_deadline_ends_wait_for_lock),
        T(test_cancel_ends_wait_for_lock),
        T(test_config_errors_refused),
        T(test_out_of_memory),
        T(test_wal_switches_file_journal_mode),
        T(test_no_wal_keeps_rollback_journal),
        T(test_wal_ignored_in_memory),
        T(test_busy_timeout_applies),
        T(test_read_only_refuses_writes),
        T(test_read_only_never_creates),
        T(test_foreign_keys),
        T(test_exec_reports_errors),
        T(test_validate),
        T(test_recycle_rolls_back_open_transaction),
        T(test_recycle_resets_statements),
        T(test_recycle_restores_busy_timeout),
        T(test_health_healthy),
        T(test_health_locked_is_degraded),
        T(test_health_deadline),
        T(test_config_defaults),
        T(test_config_parse),
        T(test_config_invalid_values_rejected),
        T(test_config_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
