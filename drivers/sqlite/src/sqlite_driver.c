/*
 * sqlite_driver.c - nr_sqlite_type: create, validate, recycle, health check
 * and destroy of one sqlite3 connection.
 *
 * Waits inside SQLite (a lock held by another connection) go through
 * busy_wait() while create or a health check runs, so that the context's
 * deadline and cancel token are honoured; afterwards the plain
 * sqlite3_busy_timeout() of the config is put back for the lease holder.
 */
#include "nebula/sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nebula/alloc.h"
#include "nebula/cancel.h"
#include "nebula/error.h"
#include "nebula/time.h"

#define SQLITE_CONN_MAGIC 0x5117E5C0DEC0FFEEULL
#define SQLITE_CONN_DEAD  0xDEADDEADDEADDEADULL

/* Room for the path shown in messages (cut with "..." beyond). */
#define SHOWN_PATH_MAX 96

/* How often (in SQLite VM steps) a running statement looks at the clock. */
#define PROGRESS_STEPS 64

struct nr_sqlite_conn {
    uint64_t magic; /* SQLITE_CONN_MAGIC while open */
    sqlite3 *db;
    sqlite3_stmt *ping; /* "SELECT 1", prepared once */
    int busy_timeout_ms;
    bool health_write; /* health_check "write": the check takes the write lock too */
    char id[NR_ERROR_ID_MAX];
    char shown_path[SHOWN_PATH_MAX];
};

/* What busy_wait() and interrupt_check() stop at. */
typedef struct wait_limits {
    nr_deadline deadline;    /* unset = never */
    const nr_cancel *cancel; /* may be NULL */
    int64_t busy_until_ns;   /* end of the busy timeout budget */
    bool timed_out, canceled;
} wait_limits;

/* ---- helpers -------------------------------------------------------------- */

/* The path as messages show it: without a URI's query, cut to fit. */
static void shown_path(char *dst, size_t n, const char *path)
{
    size_t len = strlen(path);
    if (strncmp(path, "file:", 5) == 0) {
        const char *q = strchr(path, '?');
        if (q)
            len = (size_t)(q - path);
    }
    if (len < n) {
        memcpy(dst, path, len);
        dst[len] = '\0';
    } else {
        memcpy(dst, path, n - 4);
        memcpy(dst + n - 4, "...", 4);
    }
}

/* The library's code for a SQLite result code. */
static int map_code(int rc, int fallback)
{
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return NR_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return NR_EBUSY;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return NR_EUNAVAIL;
    default:
        return fallback;
    }
}

/* SQLite's message for the last failure on db, or the text of rc. */
static const char *db_message(sqlite3 *db, int rc)
{
    const char *m = db ? sqlite3_errmsg(db) : NULL;
    return m && *m ? m : sqlite3_errstr(rc);
}

static wait_limits limits_make(nr_deadline deadline, const nr_cancel *cancel, int busy_ms)
{
    wait_limits w = {.deadline = deadline, .cancel = cancel};
    w.busy_until_ns = nr_now_ns() + (int64_t)busy_ms * NR_NS_PER_MS;
    return w;
}

/* true (and the reason recorded) once the deadline passed or the token is set. */
static bool limits_hit(wait_limits *w)
{
    if (nr_cancel_is_set(w->cancel))
        w->canceled = true;
    else if (nr_deadline_expired(w->deadline))
        w->timed_out = true;
    return w->canceled || w->timed_out;
}

/* sqlite3_busy_handler: sleep in 1 ms steps until the lock frees, the busy
 * budget is spent, the deadline passes or the token is set. Returning 0 makes
 * the statement fail with SQLITE_BUSY. */
static int busy_wait(void *ud, int count)
{
    wait_limits *w = ud;
    if (limits_hit(w))
        return 0;
    int64_t now = nr_now_ns();
    if (now >= w->busy_until_ns)
        return 0;
    /* 1 ms steps: a waiter that sleeps longer loses the lock to busy writers
     * every time it comes free (count is not used) */
    (void)count;
    int64_t step = NR_NS_PER_MS;
    int64_t left = w->busy_until_ns - now;
    int64_t to_deadline = nr_deadline_remaining_ns(w->deadline);
    if (step > left)
        step = left;
    if (step > to_deadline)
        step = to_deadline;
    nr_sleep_ns(step);
    return 1;
}

/* sqlite3_progress_handler: a non-zero return interrupts the statement. */
static int interrupt_check(void *ud)
{
    return limits_hit(ud) ? 1 : 0;
}

static void limits_install(sqlite3 *db, wait_limits *w)
{
    sqlite3_busy_handler(db, busy_wait, w);
    sqlite3_progress_handler(db, PROGRESS_STEPS, interrupt_check, w);
}

/* Back to what a lease holder gets: the configured busy timeout, no
 * progress handler. */
static void limits_remove(nr_sqlite_conn *c)
{
    sqlite3_progress_handler(c->db, 0, NULL, NULL);
    sqlite3_busy_timeout(c->db, c->busy_timeout_ms);
}

/* Run one statement that returns at most one row; buf (may be NULL) gets the
 * first column of that row as text ("" without a row). Returns the SQLite
 * result code (SQLITE_OK on success). */
static int run_one(sqlite3 *db, const char *sql, char *buf, size_t n)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (buf && n) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            snprintf(buf, n, "%s", t ? (const char *)t : "");
        }
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        if (buf && n)
            buf[0] = '\0';
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        /* keep the step's error: finalize would report it again */
        sqlite3_finalize(st);
        return rc;
    }
    return sqlite3_finalize(st);
}

/* Whether the main database has no file (":memory:", mode=memory, ""). */
static bool has_no_file(sqlite3 *db)
{
    const char *f = sqlite3_db_filename(db, "main");
    return f == NULL || f[0] == '\0';
}

static void conn_free(nr_sqlite_conn *c)
{
    if (!c)
        return;
    if (c->db) {
        sqlite3_stmt *st;
        while ((st = sqlite3_next_stmt(c->db, NULL)) != NULL)
            sqlite3_finalize(st);
        c->ping = NULL;
        sqlite3_close_v2(c->db);
        c->db = NULL;
    }
    c->magic = SQLITE_CONN_DEAD;
    nr_free(c);
}

/* The failure of a wait, or the SQLite failure rc during create. */
static int create_fail(nr_error *err, const nr_sqlite_conn *c, const wait_limits *w, int rc,
                       const char *what)
{
    if (w->canceled)
        return nr_error_set_cause(err, NR_ECANCELED, NR_OK, rc, c->id,
                                  "sqlite '%s': canceled while %s '%s'", c->id, what,
                                  c->shown_path);
    if (w->timed_out)
        return nr_error_set_cause(err, NR_ETIMEDOUT, NR_OK, rc, c->id,
                                  "sqlite '%s': deadline passed while %s '%s'", c->id, what,
                                  c->shown_path);
    int code = map_code(rc, NR_EINIT);
    if (code == NR_EBUSY) /* the lock did not come free: the database is unavailable */
        code = NR_EUNAVAIL;
    const char *msg = db_message(c->db, rc);
    const char *str = sqlite3_errstr(rc);
    bool same = strcmp(msg, str) == 0;
    /* Out of file descriptors, SQLite says only "unable to open database
     * file" (SQLITE_CANTOPEN, also for the WAL and journal files); the errno
     * beside it tells, with the limit that was hit. */
    char fds[160] = "";
    int sys = c->db ? sqlite3_system_errno(c->db) : 0;
    if ((rc & 0xff) == SQLITE_CANTOPEN && (sys == EMFILE || sys == ENFILE)) {
        char t[150];
        snprintf(fds, sizeof(fds), ": %s", nr_errno_text(sys, t, sizeof(t)));
    }
    return nr_error_set_cause(err, code, NR_OK, rc, c->id,
                              "sqlite '%s': %s '%s' failed: %s%s%s%s%s", c->id, what, c->shown_path,
                              msg, same ? "" : " (", same ? "" : str, same ? "" : ")", fds);
}

/* ---- create / destroy ------------------------------------------------------ */

static int sqlite_create(void **handle, const void *config, const nr_create_ctx *ctx, void *ud,
                         nr_error *err)
{
    (void)ud;
    const nr_sqlite_config *cfg = config;
    const char *id = ctx && ctx->resource_id ? ctx->resource_id : "";
    nr_deadline deadline = ctx ? ctx->deadline : (nr_deadline){0};
    const nr_cancel *cancel = ctx ? ctx->cancel : NULL;

    if (!handle || !cfg)
        return nr_error_set(err, NR_EINVAL, id, "sqlite '%s': handle and config are required", id);
    *handle = NULL;
    if (!cfg->path || !cfg->path[0])
        return nr_error_set(err, NR_ECONFIG, id, "sqlite '%s': path must not be empty", id);
    if (cfg->busy_timeout_ms < 0 || cfg->busy_timeout_ms > NR_SQLITE_BUSY_TIMEOUT_MS_MAX)
        return nr_error_set(err, NR_ECONFIG, id,
                            "sqlite '%s': busy_timeout_ms must be between 0 and %d (got %lld)", id,
                            NR_SQLITE_BUSY_TIMEOUT_MS_MAX, (long long)cfg->busy_timeout_ms);
    if (cfg->wal && cfg->read_only)
        return nr_error_set(err, NR_ECONFIG, id,
                            "sqlite '%s': wal must be false when read_only is true", id);
    if (cfg->health_check != NR_SQLITE_HEALTH_READ && cfg->health_check != NR_SQLITE_HEALTH_WRITE)
        return nr_error_set(err, NR_ECONFIG, id,
                            "sqlite '%s': health_check must be \"read\" or \"write\" (got %d)", id,
                            cfg->health_check);
    if (cfg->health_check == NR_SQLITE_HEALTH_WRITE && cfg->read_only)
        return nr_error_set(err, NR_ECONFIG, id,
                            "sqlite '%s': health_check must be \"read\" when read_only is true",
                            id);
    if (!sqlite3_threadsafe())
        return nr_error_set(err, NR_EINIT, id,
                            "sqlite '%s': libsqlite3 was built without thread support", id);

    nr_sqlite_conn *c = nr_calloc(1, sizeof(*c));
    if (!c)
        return nr_error_set(err, NR_ENOMEM, id, "sqlite '%s': out of memory for the connection",
                            id);
    c->magic = SQLITE_CONN_MAGIC;
    c->busy_timeout_ms = (int)cfg->busy_timeout_ms;
    c->health_write = cfg->health_check == NR_SQLITE_HEALTH_WRITE;
    snprintf(c->id, sizeof(c->id), "%s", id);
    shown_path(c->shown_path, sizeof(c->shown_path), cfg->path);

    wait_limits w = limits_make(deadline, cancel, c->busy_timeout_ms);
    if (limits_hit(&w)) {
        int rc = create_fail(err, c, &w, 0, "opening");
        conn_free(c);
        return rc;
    }

    int flags = SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
    if (cfg->read_only)
        flags |= SQLITE_OPEN_READONLY;
    else
        flags |= SQLITE_OPEN_READWRITE | (cfg->create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(cfg->path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (c->db)
            rc = sqlite3_extended_errcode(c->db);
        int code = create_fail(err, c, &w, rc, "opening");
        conn_free(c);
        return code;
    }
    sqlite3_extended_result_codes(c->db, 1);
    limits_install(c->db, &w);

    const char *step = "enabling foreign keys on";
    rc = run_one(c->db, cfg->foreign_keys ? "PRAGMA foreign_keys=ON" : "PRAGMA foreign_keys=OFF",
                 NULL, 0);
    if (rc == SQLITE_OK && cfg->wal && !has_no_file(c->db)) {
        char mode[16];
        step = "switching to WAL on";
        rc = run_one(c->db, "PRAGMA journal_mode=WAL", mode, sizeof(mode));
        /* A mode that could not be changed comes back unchanged, without an
         * error: a lock wait cut short by the deadline or the token is
         * reported as such below. */
        if (rc == SQLITE_OK && (w.timed_out || w.canceled))
            rc = SQLITE_BUSY;
        if (rc == SQLITE_OK && strcasecmp(mode, "wal") != 0) {
            limits_remove(c);
            nr_error_set(err, NR_EINIT, c->id,
                         "sqlite '%s': switching to WAL on '%s' failed: journal_mode is '%s'",
                         c->id, c->shown_path, mode);
            conn_free(c);
            return NR_EINIT;
        }
    }
    if (rc == SQLITE_OK) {
        step = "preparing the ping on";
        rc = sqlite3_prepare_v3(c->db, "SELECT 1", -1, SQLITE_PREPARE_PERSISTENT, &c->ping, NULL);
    }
    /* A deadline or cancel seen after the last step still counts: the
     * caller asked for the instance by then. */
    if (rc == SQLITE_OK && limits_hit(&w))
        rc = SQLITE_INTERRUPT;
    if (rc != SQLITE_OK) {
        int code = create_fail(err, c, &w, rc, step);
        conn_free(c);
        return code;
    }
    limits_remove(c);
    *handle = c;
    return NR_OK;
}

static void sqlite_destroy(void *handle, void *ud)
{
    (void)ud;
    conn_free(handle);
}

/* ---- validate / recycle ----------------------------------------------------- */

static int bad_handle(nr_error *err, const char *what)
{
    return nr_error_set(err, NR_EINVAL, NULL, "sqlite: %s: not an open sqlite connection", what);
}

static bool conn_ok(const nr_sqlite_conn *c)
{
    return c && c->magic == SQLITE_CONN_MAGIC && c->db && c->ping &&
           sqlite3_db_handle(c->ping) == c->db;
}

/* Step the kept "SELECT 1"; SQLITE_OK when it gave 1. */
static int ping(nr_sqlite_conn *c)
{
    int rc = sqlite3_step(c->ping);
    if (rc == SQLITE_ROW)
        rc = sqlite3_column_int(c->ping, 0) == 1 ? SQLITE_OK : SQLITE_MISMATCH;
    int rrc = sqlite3_reset(c->ping);
    if (rc == SQLITE_OK && rrc != SQLITE_OK)
        rc = rrc;
    return rc;
}

static int sqlite_validate(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_sqlite_conn *c = handle;
    if (!conn_ok(c))
        return bad_handle(err, "validate");
    int rc = ping(c);
    if (rc != SQLITE_OK)
        return nr_error_set_cause(err, NR_EUNAVAIL, map_code(rc, NR_EUNAVAIL), rc, c->id,
                                  "sqlite '%s': validate of '%s' failed: %s", c->id, c->shown_path,
                                  db_message(c->db, rc));
    return NR_OK;
}

static int sqlite_recycle(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_sqlite_conn *c = handle;
    if (!conn_ok(c))
        return bad_handle(err, "recycle");
    /* Statements still running would keep read locks and, for writes, make
     * the rollback fail; their bindings are left alone. */
    sqlite3_stmt *st = NULL;
    while ((st = sqlite3_next_stmt(c->db, st)) != NULL)
        sqlite3_reset(st);
    limits_remove(c);
    if (!sqlite3_get_autocommit(c->db)) {
        int rc = sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        if (rc != SQLITE_OK || !sqlite3_get_autocommit(c->db)) {
            if (rc == SQLITE_OK)
                rc = SQLITE_ERROR;
            return nr_error_set_cause(err, NR_ECLEANUP, map_code(rc, NR_ECLEANUP), rc, c->id,
                                      "sqlite '%s': rolling back the open transaction on '%s' "
                                      "failed: %s",
                                      c->id, c->shown_path, db_message(c->db, rc));
        }
    }
    return NR_OK;
}

/* ---- health check -------------------------------------------------------------- */

static void set_reason(nr_health_report *report, const char *fmt, const char *a, const char *b)
{
    snprintf(report->reason, sizeof(report->reason), fmt, a, b);
}

static bool is_lock(int rc)
{
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* health_check "write": take the write lock and give it back. SQLITE_OK, or
 * the failure of BEGIN IMMEDIATE (SQLITE_BUSY when the lock did not come
 * free within the busy budget or by the deadline). The rollback runs with
 * the limits removed: it must not be interrupted half-way. */
static int write_probe(nr_sqlite_conn *c, wait_limits *w)
{
    int rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        rc = sqlite3_extended_errcode(c->db);
    if (rc != SQLITE_OK && is_lock(rc))
        w->timed_out = false; /* a lock wait cut by the deadline is a locked database */
    limits_remove(c);
    if (!sqlite3_get_autocommit(c->db)) {
        int rrc = sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        if (rc == SQLITE_OK && rrc != SQLITE_OK)
            rc = sqlite3_extended_errcode(c->db);
    }
    return rc;
}

static int sqlite_health(void *handle, void *ud, nr_deadline deadline, nr_health_report *report,
                         nr_error *err)
{
    (void)ud;
    nr_sqlite_conn *c = handle;
    if (!conn_ok(c) || !report)
        return bad_handle(err, "health check");
    wait_limits w = limits_make(deadline, NULL, c->busy_timeout_ms);
    if (limits_hit(&w))
        return nr_error_set(err, NR_ETIMEDOUT, c->id,
                            "sqlite '%s': health check of '%s': deadline passed before it ran",
                            c->id, c->shown_path);
    int64_t t0 = nr_now_ns();
    limits_install(c->db, &w);
    const char *what = "SELECT 1";
    int rc = ping(c);
    if (rc == SQLITE_OK) {
        /* reads the file: takes a shared lock, reads page 1 and the schema */
        what = "schema read";
        rc = run_one(c->db, "SELECT count(*) FROM sqlite_master", NULL, 0);
    }
    if (rc == SQLITE_OK && c->health_write && !w.timed_out) {
        what = "write lock";
        rc = write_probe(c, &w);
    }
    limits_remove(c);
    if (w.timed_out)
        return nr_error_set_cause(err, NR_ETIMEDOUT, NR_OK, rc, c->id,
                                  "sqlite '%s': health check of '%s' ran out of time (%s)", c->id,
                                  c->shown_path, what);
    if (rc == SQLITE_OK) {
        report->state = NR_HEALTH_HEALTHY;
        report->reason[0] = '\0';
    } else if (is_lock(rc) && c->health_write) {
        /* the check is there to prove writes can happen: a lock in the way is a failure */
        report->state = NR_HEALTH_UNHEALTHY;
        snprintf(report->reason, sizeof(report->reason), "%s: %s (not free within %lld ms)", what,
                 db_message(c->db, rc), (long long)((nr_now_ns() - t0) / NR_NS_PER_MS));
    } else if (is_lock(rc)) {
        report->state = NR_HEALTH_DEGRADED;
        set_reason(report, "%s: %s", what, db_message(c->db, rc));
    } else {
        report->state = NR_HEALTH_UNHEALTHY;
        set_reason(report, "%s: %s", what, db_message(c->db, rc));
    }
    return NR_OK;
}

/* ---- public helpers -------------------------------------------------------------- */

sqlite3 *nr_sqlite_db(void *handle)
{
    nr_sqlite_conn *c = handle;
    return c && c->magic == SQLITE_CONN_MAGIC ? c->db : NULL;
}

int nr_sqlite_exec(void *handle, const char *sql, nr_error *err)
{
    nr_sqlite_conn *c = handle;
    if (!c || c->magic != SQLITE_CONN_MAGIC || !c->db)
        return bad_handle(err, "exec");
    if (!sql)
        return nr_error_set(err, NR_EINVAL, c->id, "sqlite '%s': exec: sql must not be NULL",
                            c->id);
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return NR_OK;
    rc = sqlite3_extended_errcode(c->db);
    int code = map_code(rc, NR_EINVAL);
    return nr_error_set_cause(err, code, NR_OK, rc, c->id,
                              "sqlite '%s': statement on '%s' failed: %s", c->id, c->shown_path,
                              db_message(c->db, rc));
}

const nr_resource_type nr_sqlite_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "sqlite",
    .config_schema = &nr_sqlite_config_schema,
    .create = sqlite_create,
    .destroy = sqlite_destroy,
    .validate = sqlite_validate,
    .recycle = sqlite_recycle,
    .health_check = sqlite_health,
};
