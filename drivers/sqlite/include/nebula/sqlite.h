/*
 * nebula/sqlite.h - the SQLite driver: pooled sqlite3 connections.
 *
 * nr_sqlite_type is an nr_resource_type whose instances are open sqlite3
 * connections. Give it to a pool together with an nr_sqlite_config:
 *
 *     nr_sqlite_config cfg;
 *     nr_config_init(&nr_sqlite_config_schema, &cfg, &err);   // defaults
 *     nr_config_set_str(&nr_sqlite_config_schema, &cfg, "path", "app.db", &err);  // copied
 *     cfg.wal = true;                 // numbers and bools may be assigned, strings never
 *     nr_pool_options o = NR_POOL_OPTIONS(.id = "app-db", .type = &nr_sqlite_type, .config = &cfg);
 *     nr_pool_create(&pool, &o, &err);
 *     ... nr_pool_acquire(pool, NULL, &g, &err);
 *         sqlite3 *db = nr_sqlite_db(nr_guard_handle(&g));
 *     nr_pool_destroy(pool, &err);
 *     nr_config_free(&nr_sqlite_config_schema, &cfg);
 *
 * What each callback does:
 *   create        sqlite3_open_v2 (URI filenames on, SQLITE_OPEN_NOMUTEX),
 *                 busy timeout, PRAGMA foreign_keys, PRAGMA journal_mode=WAL
 *                 when asked. Gives up with NR_ETIMEDOUT at the context's
 *                 deadline and NR_ECANCELED when its cancel token is set,
 *                 also while waiting on a lock held by another connection.
 *   validate      steps a prepared "SELECT 1" kept in the instance.
 *   recycle       resets every statement still active on the connection,
 *                 rolls back a transaction left open, restores the busy
 *                 timeout and removes any progress handler; fails with
 *                 NR_ECLEANUP (so the pool discards the instance) when the
 *                 rollback fails.
 *   health_check  "SELECT 1" and a read of the schema table, interrupted at
 *                 the deadline (NR_ETIMEDOUT). A locked database reports
 *                 degraded, any other failure unhealthy, both with the SQLite
 *                 message as reason. With health_check "write" it then takes
 *                 the write lock and gives it back (BEGIN IMMEDIATE;
 *                 ROLLBACK), waiting for it at most busy_timeout_ms and never
 *                 past the deadline: a write lock that does not come free,
 *                 or any lock in the way, is unhealthy ("write lock: database
 *                 is locked (not free within N ms)").
 *   destroy       finalizes every statement left on the connection and
 *                 closes it with sqlite3_close_v2.
 *
 * Errors: every failure names the resource id (err->resource_id and the
 * message) and the database path; SQLite's extended result code goes into
 * err->driver_code. A cannot-open, I/O, permission or read-only error is
 * NR_EUNAVAIL, an out-of-memory NR_ENOMEM, anything else during create
 * NR_EINIT. Messages show a URI filename without its query part.
 *
 * Ownership: an instance (the handle the pool gives out, an
 * nr_sqlite_conn *) owns its sqlite3 connection. Statements a user prepares
 * on it belong to the lease: finalize them before the release. Any left
 * over are reset at release and finalized when the instance is destroyed,
 * after which they must not be used.
 *
 * Thread safety: nr_sqlite_type and nr_sqlite_config_schema are immutable.
 * One instance is used by one thread at a time (the pool guarantees it for
 * its callbacks; a lease holder must not share the connection with other
 * threads while it holds the lease). Different instances may be used from
 * different threads at once; this needs a libsqlite3 built thread-safe
 * (create refuses with NR_EINIT otherwise).
 */
#ifndef NEBULA_SQLITE_H
#define NEBULA_SQLITE_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "nebula/config.h"
#include "nebula/error.h"
#include "nebula/resource_type.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The driver's config. Schema: nr_sqlite_config_schema (JSON keys as the
 * member names). Strings are owned by the struct (see nebula/config.h).
 * Each entry: kind, member, min, max (bytes for strings), default, flags and
 * what it means (nebula/config_fields.h); the README's table is made from it.
 * health_check holds an nr_sqlite_health_mode.
 */
#define NR_SQLITE_CONFIG_FIELDS(X, T)                                                              \
    X(T, STRING, path, 1, NR_SQLITE_PATH_MAX, ":memory:", 0,                                       \
      "a file name or a `file:` URI. `:memory:` gives every instance its own private database; "   \
      "connections share an in-memory database only through a URI such as "                        \
      "`file:name?mode=memory&cache=shared`.")                                                     \
    X(T, INT, busy_timeout_ms, 0, NR_SQLITE_BUSY_TIMEOUT_MS_MAX, 5000, 0,                          \
      "how long a statement waits for a lock another connection holds before it fails with "       \
      "`SQLITE_BUSY`; 0 fails at once.")                                                           \
    X(T, BOOL, wal, 0, 1, 0, 0,                                                                    \
      "switch the database file to write-ahead logging (the mode is stored in the file). "         \
      "Ignored for a database without a file (`:memory:`, `mode=memory` URIs, `\"\"`), which "     \
      "keeps its in-memory journal. Must be `false` when `read_only` is `true` (a read-only "      \
      "connection uses whatever the file has).")                                                   \
    X(T, BOOL, read_only, 0, 1, 0, 0,                                                              \
      "open read-only: writes fail with `NR_EUNAVAIL` (`SQLITE_READONLY`). The file must exist "   \
      "(`create` is ignored).")                                                                    \
    X(T, BOOL, create, 0, 1, 1, 0,                                                                 \
      "create the file when it does not exist; when `false`, a missing file is `NR_EUNAVAIL` "     \
      "(`SQLITE_CANTOPEN`).")                                                                      \
    X(T, BOOL, foreign_keys, 0, 1, 1, 0,                                                           \
      "enforce foreign key constraints (`PRAGMA foreign_keys`).")                                  \
    X(T, ENUM, health_check, nr__sqlite_health_names, 0, NR_SQLITE_HEALTH_READ, 0,                 \
      "what the health check proves. `\"read\"`: the file can be read. `\"write\"`: also that "    \
      "the "                                                                                       \
      "write lock can be taken, so a writer stuck in a transaction shows. Must be `\"read\"` "     \
      "when "                                                                                      \
      "`read_only` is `true`.")

NR_CONFIG_STRUCT(nr_sqlite_config, NR_SQLITE_CONFIG_FIELDS)

/* What the health check proves (nr_sqlite_config.health_check; JSON names
 * "read" and "write"). */
typedef enum nr_sqlite_health_mode {
    NR_SQLITE_HEALTH_READ = 0,
    NR_SQLITE_HEALTH_WRITE = 1,
} nr_sqlite_health_mode;

#define NR_SQLITE_PATH_MAX            4096
#define NR_SQLITE_BUSY_TIMEOUT_MS_MAX 3600000

/* The schema of nr_sqlite_config (name "sqlite"); its check rejects wal,
 * and health_check "write", together with read_only. */
NR_API extern const nr_config_schema nr_sqlite_config_schema;

/* The resource type (name "sqlite"); instances are nr_sqlite_conn *. */
NR_API extern const nr_resource_type nr_sqlite_type;

/* One open connection: the handle nr_guard_handle() returns. Opaque. */
typedef struct nr_sqlite_conn nr_sqlite_conn;

/*
 * The connection of an instance (handle is what nr_guard_handle() returns
 * for a pool of nr_sqlite_type). NULL for a NULL handle. The connection stays
 * owned by the instance: never close it; use it only while holding the lease.
 */
NR_API sqlite3 *nr_sqlite_db(void *handle);

/*
 * Run one or more SQL statements that return no rows needed by the caller
 * (sqlite3_exec without a callback). Returns NR_OK; NR_EINVAL for a NULL
 * handle or sql; otherwise err names the statement's failure with SQLite's
 * message and its extended result code in err->driver_code:
 *   NR_EBUSY      SQLITE_BUSY / SQLITE_LOCKED (the lock did not come free
 *                 within busy_timeout_ms)
 *   NR_EUNAVAIL   SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_READONLY, SQLITE_PERM
 *   NR_ENOMEM     SQLITE_NOMEM
 *   NR_EINVAL     anything else (syntax error, constraint, ...)
 * The message holds SQLite's own message, which may quote the part of the
 * statement near a syntax error: keep secrets out of statement text (bind
 * them with sqlite3_bind_* instead).
 */
NR_API int nr_sqlite_exec(void *handle, const char *sql, nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
