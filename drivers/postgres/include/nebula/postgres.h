/*
 * nebula/postgres.h - the PostgreSQL driver: pooled libpq connections.
 *
 * nr_postgres_type is an nr_resource_type whose instances are open libpq
 * connections (PGconn). Give it to a pool together with an
 * nr_postgres_config; the password comes from the pool's (or the manager's)
 * credential, never from the config:
 *
 *     nr_postgres_config cfg;
 *     nr_config_init(&nr_postgres_config_schema, &cfg, &err);   // defaults
 *     nr_config_set_str(&nr_postgres_config_schema, &cfg, "host", "db", &err);  // copied
 *     ... and "port", "dbname", "user" (nr_config_set_int for the port) ...
 *     nr_secret *pw;  nr_secret_from_str(&pw, password, &err);
 *     nr_pool_options o = NR_POOL_OPTIONS(.id = "orders-db", .type = &nr_postgres_type,
 *                          .config = &cfg, .credential = pw);
 *     nr_pool_create(&pool, &o, &err);
 *     ... nr_pool_acquire(pool, &ctx, &g, &err);
 *         PGconn *conn = nr_postgres_conn(nr_guard_handle(&g));
 *     nr_pool_destroy(pool, &err);
 *     nr_secret_free(pw);
 *     nr_config_free(&nr_postgres_config_schema, &cfg);
 *
 * What each callback does:
 *   create        PQconnectStartParams + PQconnectPoll, waiting with poll()
 *                 on PQsocket in slices of at most 50 ms, so that it gives up
 *                 with NR_ETIMEDOUT at the earlier of the context's deadline
 *                 and connect_timeout_ms, and with NR_ECANCELED soon after the
 *                 context's cancel token is set. The password is the
 *                 context's credential, given as libpq's "password" keyword.
 *                 application_name, statement_timeout_ms and lock_timeout_ms
 *                 travel in the startup packet, so they are the session's
 *                 defaults (what RESET and DISCARD ALL go back to).
 *   validate      no network: PQstatus is CONNECTION_OK and the transaction
 *                 status is idle.
 *   recycle       on release: an idle session runs reset_query; a session in
 *                 a transaction (open or aborted) runs ROLLBACK first; a
 *                 session with a query still running, in COPY or pipeline
 *                 mode, a broken connection, or a ROLLBACK / reset_query that
 *                 fails or does not finish within reset_timeout_ms gives
 *                 NR_ECLEANUP, and the pool retires the connection. It also
 *                 puts back blocking mode, the default error verbosity, the
 *                 driver's notice processor, stops PQtrace and drops pending
 *                 notifications.
 *   health_check  sends health_query (default "SELECT 1") with PQsendQuery
 *                 and waits with poll() until the earlier of the given deadline
 *                 and health_timeout_ms. A failure reports unhealthy with the
 *                 server's message as reason. On timeout the query is
 *                 cancelled (PQcancel, on a helper thread waited for at most
 *                 500 ms, so a frozen server cannot hold the check) and the
 *                 report is unhealthy; the connection is then left busy and
 *                 the pool retires it.
 *   destroy       PQfinish.
 *
 * Errors: every failure names the resource id (err->resource_id and the
 * message), and create's also the user and the host; err->driver_code holds
 * the SQLSTATE when the server sent one, encoded as the server does
 * (nr_postgres_sqlstate() turns it back into text), 0 otherwise.
 *   NR_ECRED      the server refused the login: wrong password, no password
 *                 when one is needed, unknown role, pg_hba.conf rejection
 *                 (SQLSTATE class 28)
 *   NR_EUNAVAIL   refused, unreachable, unresolvable host, server starting up
 *                 or shutting down, too many connections, any other failed
 *                 connection attempt
 *   NR_ECONFIG    the database does not exist (3D000), or a bad config given
 *                 to create directly
 *   NR_ETIMEDOUT  the create deadline (or connect_timeout_ms) passed
 *   NR_ECANCELED  the create context's cancel token was set
 *   NR_ENOMEM     out of memory
 * libpq's messages are kept (one line, without LOCATION lines); any
 * occurrence of the password in them is replaced by "<redacted>", so no
 * error, health reason or log line carries it.
 *
 * Ownership: an instance (the handle the pool gives out, an
 * nr_postgres_handle *) owns its PGconn. A lease holder uses the PGconn as it
 * likes during the lease but never closes it; results (PGresult) are the
 * holder's to PQclear before the release.
 *
 * Thread safety: nr_postgres_type and nr_postgres_config_schema are
 * immutable. One instance is used by one thread at a time (the pool
 * guarantees it for its callbacks; a lease holder must not share the
 * connection while it holds the lease). Different instances may be used from
 * different threads at once (libpq is thread-safe per connection).
 * create may block in host name resolution, which libpq does synchronously:
 * give numeric addresses (hostaddr) where the deadline must hold exactly.
 */
#ifndef NEBULA_POSTGRES_H
#define NEBULA_POSTGRES_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "nebula/config.h"
#include "nebula/error.h"
#include "nebula/resource_type.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* sslmode values (the enum field holds the index; JSON holds the name). */
typedef enum nr_postgres_sslmode {
    NR_PG_SSL_DISABLE = 0,
    NR_PG_SSL_ALLOW,
    NR_PG_SSL_PREFER,
    NR_PG_SSL_REQUIRE,
    NR_PG_SSL_VERIFY_CA,
    NR_PG_SSL_VERIFY_FULL,
} nr_postgres_sslmode;

/* target_session_attrs values (libpq's names). */
typedef enum nr_postgres_target {
    NR_PG_TARGET_ANY = 0,
    NR_PG_TARGET_READ_WRITE,
    NR_PG_TARGET_READ_ONLY,
    NR_PG_TARGET_PRIMARY,
    NR_PG_TARGET_STANDBY,
    NR_PG_TARGET_PREFER_STANDBY,
} nr_postgres_target;

/*
 * The driver's config. Schema: nr_postgres_config_schema (JSON keys are the
 * member names). Strings are owned by the struct (see nebula/config.h); a
 * NULL string means "not set" (libpq's default or environment applies).
 * Each entry: kind, member, min, max (bytes for strings), default, flags and
 * what it means (nebula/config_fields.h); the README's table is made from it.
 */
#define NR_POSTGRES_CONFIG_FIELDS(X, T)                                                            \
    X(T, STRING, host, 1, NR_POSTGRES_HOST_MAX, "localhost", 0,                                    \
      "host name, IP address or unix socket directory (starting with `/`); comma-separated "       \
      "hosts are tried in turn")                                                                   \
    X(T, STRING, hostaddr, 1, NR_POSTGRES_HOST_MAX, NULL, 0,                                       \
      "numeric address(es) to connect to without name resolution (`host` still names the server "  \
      "for TLS)")                                                                                  \
    X(T, INT, port, 1, 65535, 5432, 0, "server port")                                              \
    X(T, STRING, dbname, 1, NR_POSTGRES_NAME_MAX, "postgres", 0, "database")                       \
    X(T, STRING, user, 1, NR_POSTGRES_NAME_MAX, "postgres", 0,                                     \
      "role to log in as (the password comes from the credential)")                                \
    X(T, STRING, application_name, 0, NR_POSTGRES_NAME_MAX, "nebula-resource", 0,                  \
      "set on every connection (visible in `pg_stat_activity`); `\"\"` = none")                    \
    X(T, ENUM, sslmode, nr__pg_sslmode_names, 0, NR_PG_SSL_PREFER, 0, "TLS")                       \
    X(T, STRING, sslrootcert, 1, NR_POSTGRES_PATH_MAX, NULL, 0,                                    \
      "file of the CA certificates to trust")                                                      \
    X(T, STRING, sslcert, 1, NR_POSTGRES_PATH_MAX, NULL, 0,                                        \
      "client certificate file; needs `sslkey`")                                                   \
    X(T, STRING, sslkey, 1, NR_POSTGRES_PATH_MAX, NULL, 0,                                         \
      "client key file, unencrypted (an encrypted key is not supported); needs `sslcert`")         \
    X(T, ENUM, target_session_attrs, nr__pg_target_names, 0, NR_PG_TARGET_ANY, 0,                  \
      "which of several hosts to accept")                                                          \
    X(T, INT, connect_timeout_ms, 1, NR_POSTGRES_TIMEOUT_MAX, 10000, 0,                            \
      "longest a connection attempt may take (the create deadline wins when earlier)")             \
    X(T, INT, health_timeout_ms, 1, NR_POSTGRES_TIMEOUT_MAX, 5000, 0,                              \
      "the health check's own timeout (the check's deadline wins when earlier)")                   \
    X(T, INT, reset_timeout_ms, 1, NR_POSTGRES_TIMEOUT_MAX, 5000, 0,                               \
      "how long the cleanup on release (`ROLLBACK`, `reset_query`) may take")                      \
    X(T, INT, statement_timeout_ms, 0, NR_POSTGRES_SESSION_MAX, 0, 0,                              \
      "the session's `statement_timeout` (0 = none)")                                              \
    X(T, INT, lock_timeout_ms, 0, NR_POSTGRES_SESSION_MAX, 0, 0,                                   \
      "the session's `lock_timeout` (0 = none)")                                                   \
    X(T, INT, tcp_user_timeout_ms, 0, NR_POSTGRES_SESSION_MAX, 0, 0,                               \
      "`TCP_USER_TIMEOUT` of the socket: how long sent data may stay unacknowledged (0 = the "     \
      "system's)")                                                                                 \
    X(T, BOOL, keepalives, 0, 1, 1, 0, "TCP keepalives on the connection")                         \
    X(T, INT, keepalives_idle_s, 0, 86400, 0, 0,                                                   \
      "idle seconds before the first keepalive probe (0 = the system's)")                          \
    X(T, STRING, reset_query, 0, NR_POSTGRES_QUERY_MAX, "DISCARD ALL", 0,                          \
      "run on every release to reset the session; `\"\"` = none (only the `ROLLBACK` of an open "  \
      "transaction)")                                                                              \
    X(T, STRING, health_query, 1, NR_POSTGRES_QUERY_MAX, "SELECT 1", 0,                            \
      "the health check's query")                                                                  \
    X(T, STRING, options, 0, NR_POSTGRES_OPTIONS_MAX, NULL, 0,                                     \
      "extra server options for the startup packet, e.g. `-c search_path=app`")

NR_CONFIG_STRUCT(nr_postgres_config, NR_POSTGRES_CONFIG_FIELDS)

#define NR_POSTGRES_HOST_MAX    1024
#define NR_POSTGRES_NAME_MAX    63 /* NAMEDATALEN - 1 */
#define NR_POSTGRES_PATH_MAX    4096
#define NR_POSTGRES_QUERY_MAX   4096
#define NR_POSTGRES_OPTIONS_MAX 1024
#define NR_POSTGRES_TIMEOUT_MAX 3600000
#define NR_POSTGRES_SESSION_MAX 2147483647

/* The schema of nr_postgres_config (name "postgres"); its check requires
 * sslcert and sslkey together. */
NR_API extern const nr_config_schema nr_postgres_config_schema;

/* The resource type (name "postgres"); instances are nr_postgres_handle *. */
NR_API extern const nr_resource_type nr_postgres_type;

/* One open connection: the handle nr_guard_handle() returns. Opaque. */
typedef struct nr_postgres_handle nr_postgres_handle;

/*
 * The libpq connection of an instance (handle is what nr_guard_handle()
 * returns for a pool of nr_postgres_type). NULL for a NULL or foreign
 * handle. The connection stays owned by the instance: never PQfinish it;
 * use it only while holding the lease.
 */
NR_API PGconn *nr_postgres_conn(void *handle);

/*
 * Run one or more SQL commands whose rows the caller does not need (PQexec;
 * blocking, bounded by the session's statement_timeout). Returns NR_OK;
 * NR_EINVAL for a NULL handle or sql; otherwise err names the resource and
 * carries the server's message, with the SQLSTATE in err->driver_code:
 *   NR_EUNAVAIL   the connection is broken (taint the lease), or the server
 *                 is out of resources or shutting down (classes 08, 53, 57P)
 *   NR_ETIMEDOUT  the statement was cancelled, e.g. by statement_timeout (57014)
 *   NR_EBUSY      lock_timeout (55P03), serialization failure (40001) or
 *                 deadlock (40P01): worth retrying
 *   NR_ENOMEM     libpq ran out of memory
 *   NR_EINVAL     anything else (syntax error, constraint, privilege, ...)
 * A COPY statement is refused with NR_EINVAL and leaves the connection in
 * COPY mode (give the lease back: recycle retires it).
 * The server's message may quote the statement: bind secrets as parameters
 * (PQexecParams) instead of writing them into SQL text.
 */
NR_API int nr_postgres_exec(void *handle, const char *sql, nr_error *err);

/* The 5-character SQLSTATE of an err->driver_code set by this driver
 * ("" for 0) into buf (at least 6 bytes); returns buf. */
NR_API char *nr_postgres_sqlstate(long driver_code, char buf[6]);

#ifdef __cplusplus
}
#endif
#endif
