/*
 * nebula/mongo.h - the MongoDB driver: pooled mongoc_client_t clients
 * (libmongoc 1.23).
 *
 * nr_mongo_type is an nr_resource_type whose instances are single-threaded
 * mongoc_client_t clients, each with its own connection(s). The pool gives
 * an instance to one thread at a time, which is exactly what a
 * single-threaded client needs. Give it to a pool together with an
 * nr_mongo_config; the password comes from the credential provider (or
 * nr_pool_options.credential), never from the config:
 *
 *     nr_mongo_config cfg;
 *     nr_config_init(&nr_mongo_config_schema, &cfg, &err);    // defaults
 *     cfg.hosts = nr_strdup("db1.example:27017,db2.example:27017");
 *     cfg.database = nr_strdup("orders");
 *     cfg.username = nr_strdup("app");                         // optional
 *     nr_pool_options o = NR_POOL_OPTIONS(.id = "orders-mongo", .type = &nr_mongo_type,
 *                          .config = &cfg, .credential = password);
 *     nr_pool_create(&pool, &o, &err);
 *     ... nr_pool_acquire(pool, &ctx, &g, &err);
 *         mongoc_client_t *c = nr_mongo_client(nr_guard_handle(&g));
 *     nr_pool_destroy(pool, &err);
 *     nr_config_free(&nr_mongo_config_schema, &cfg);
 *
 * What each callback does:
 *   create        builds the URI with mongoc_uri_new_with_error and the
 *                 mongoc_uri_set_* setters (user name, password from
 *                 ctx->credential, database, auth source, app name,
 *                 timeouts, TLS), makes the client (error API version 2), then
 *                 runs {ping: 1} on "admin", so that an unreachable server
 *                 or a refused login fails here and not in the caller's
 *                 first operation. The context's deadline caps
 *                 serverSelectionTimeoutMS and connectTimeoutMS of that
 *                 client (see "Deadlines" below); its cancel token is
 *                 checked before connecting and after the ping.
 *   validate      no I/O: fails (NR_EUNAVAIL) when the client knows no
 *                 server in a usable state any more, i.e. its last
 *                 operation lost the connection; the pool then makes a new
 *                 client instead of handing out one in its 5 s reconnect
 *                 cool-down. A client whose server went away without an
 *                 operation noticing passes (the health check finds it).
 *   recycle       nothing to reset: a client holds no per-lease state the
 *                 driver could see. Client sessions, cursors, collections
 *                 and databases the lease holder made from the client must
 *                 be ended/destroyed before the release (a session still
 *                 open is the caller's bug and is ended only when the
 *                 instance is destroyed). Always NR_OK.
 *   health_check  {ping: 1} on "admin" (read preference primaryPreferred),
 *                 within the earlier of the pool's deadline and
 *                 health_timeout_ms. A failed ping reports unhealthy with
 *                 libmongoc's message as reason.
 *   destroy       mongoc_client_destroy.
 *
 * Deadlines: libmongoc 1.23 cannot interrupt a call once it runs and has no
 * per-operation client-side timeout, so time limits are given to it as URI
 * options:
 *   - create sets serverSelectionTimeoutMS and connectTimeoutMS to the
 *     smaller of the configured value and the time left before
 *     ctx->deadline (rounded up to whole milliseconds). A server that does
 *     not answer therefore fails create at the deadline with NR_ETIMEDOUT
 *     (cause NR_EUNAVAIL). These capped values stay with that client for its
 *     whole life (libmongoc fixes them when the client is made).
 *   - the ping's round trip on an established connection is bounded by
 *     socketTimeoutMS, also fixed at creation (socket_timeout_ms);
 *   - a health check passes maxTimeMS (time left) to the server, and a
 *     reconnect it needs is bounded by connectTimeoutMS; a check that ends
 *     after its deadline is NR_ETIMEDOUT and the instance is discarded.
 *   So a health check against a server that accepted the request and then
 *   froze can last up to socket_timeout_ms: keep socket_timeout_ms as
 *   small as the longest operation the application runs allows.
 *
 * Errors: every failure names the resource id (err->resource_id and the
 * message), what was tried, the printable target (nr_mongo_describe: hosts,
 * user name, database, never a password) and libmongoc's message; the
 * libmongoc error code goes into err->driver_code and the domain is in the
 * message.
 *   NR_ECONFIG    the config breaks a rule (a URI with a password in it, a
 *                 malformed host list, ...) or libmongoc refuses the URI
 *   NR_ECRED      authentication failed (the message names the user and the
 *                 auth source), a credential without a user name or a user
 *                 name without a credential, a password libmongoc refuses
 *   NR_EUNAVAIL   no server reachable: refused, unknown host, TLS handshake
 *                 failed, server selection gave up within the configured
 *                 timeouts
 *   NR_ETIMEDOUT  ctx->deadline passed before or during create
 *   NR_ECANCELED  ctx->cancel was set before or during create
 *   NR_EINIT      libmongoc could not make the client
 *   NR_EINVAL     NULL handle or config
 * Messages are checked for the password: if libmongoc ever echoed it,
 * it is replaced with "<redacted>".
 *
 * Library initialisation: mongoc_init() runs once, the first time an
 * instance is created (pthread_once). The driver never calls
 * mongoc_cleanup(), because instances may exist until the program exits;
 * a program that wants it must call mongoc_cleanup() itself, after every
 * pool and manager using this driver has been destroyed.
 *
 * Ownership: an instance owns its client. Everything made from the client
 * (databases, collections, cursors, sessions, bulk operations) belongs to
 * the lease and must be destroyed before the release.
 *
 * Thread safety: nr_mongo_type, nr_mongo_config_schema and the functions
 * below that take no handle may be used from any thread. A client is used by
 * one thread at a time: the lease holder only, while it holds the lease.
 * Different instances may be used from different threads at once.
 */
#ifndef NEBULA_MONGO_H
#define NEBULA_MONGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "nebula/config.h"
#include "nebula/error.h"
#include "nebula/resource_type.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The driver's config. Schema: nr_mongo_config_schema (JSON keys as the
 * member names). Strings are owned by the struct (see nebula/config.h).
 * Exactly one of hosts and uri must be set. Each entry: kind, member, min,
 * max (bytes for strings), default, flags and what it means
 * (nebula/config_fields.h); the README's table is made from it. hosts, uri,
 * database and auth_source have no bounds in the table: the schema's check
 * applies their rules, so that an issue shows a URI redacted.
 */
#define NR_MONGO_CONFIG_FIELDS(X, T)                                                               \
    X(T, STRING, hosts, 0, 0, NULL, 0,                                                             \
      "`host:port[,host:port...]`, at most 2048 bytes; a host alone means port 27017; IPv6 as "    \
      "`[::1]:27017` (or use `uri`)")                                                              \
    X(T, STRING, uri, 0, 0, NULL, 0,                                                               \
      "a `mongodb://` or `mongodb+srv://` URI **without credentials**, at most 4096 bytes (or "    \
      "use `hosts`). A user name, a password, `tlsCertificateKeyFilePassword` or "                 \
      "`authMechanismProperties` in it is refused by the config check, with an issue at `$.uri` "  \
      "that shows the URI redacted: the password comes from the credential provider, the user "    \
      "name goes in `username`. Its other options are kept unless a field below sets the same "    \
      "option")                                                                                    \
    X(T, STRING, database, 0, 0, NULL, 0,                                                          \
      "the application's database (the URI path; `nr_mongo_database(handle)` returns it), "        \
      "1..63 bytes, none of `/ \\ . \" $` or space; also the default auth source")                 \
    X(T, STRING, username, 1, NR_MONGO_USERNAME_MAX, NULL, 0,                                      \
      "user to log in as (unset: no authentication); needs a credential, and a credential needs "  \
      "it")                                                                                        \
    X(T, STRING, auth_source, 0, 0, NULL, 0,                                                       \
      "database holding the user, named as `database`; needs `username` (libmongoc's default: "    \
      "`database`, else `admin`)")                                                                 \
    X(T, STRING, app_name, 1, NR_MONGO_APP_NAME_MAX, NR_MONGO_DEFAULT_APPNAME, 0,                  \
      "shown in the server's logs and `currentOp`")                                                \
    X(T, INT, server_selection_timeout_ms, 1, NR_MONGO_TIMEOUT_MS_MAX, 10000, 0,                   \
      "how long an operation looks for a suitable server (capped by the create deadline)")         \
    X(T, INT, connect_timeout_ms, 1, NR_MONGO_CONNECT_MS_MAX, 10000, 0,                            \
      "TCP connect plus handshake of one connection (capped by the create deadline)")              \
    X(T, INT, socket_timeout_ms, 1, NR_MONGO_TIMEOUT_MS_MAX, 300000, 0,                            \
      "one network round trip on an established connection")                                       \
    X(T, INT, health_timeout_ms, 1, NR_MONGO_HEALTH_MS_MAX, 5000, 0,                               \
      "upper bound of one health check; the pool's check deadline also applies")                   \
    X(T, BOOL, tls, 0, 1, 0, 0, "connect with TLS")                                                \
    X(T, STRING, tls_ca_file, 1, NR_MONGO_PATH_MAX, NULL, 0,                                       \
      "PEM file of the CAs to trust (default: the system store); needs `tls`")

NR_CONFIG_STRUCT(nr_mongo_config, NR_MONGO_CONFIG_FIELDS)

#define NR_MONGO_HOSTS_MAX       2048
#define NR_MONGO_URI_MAX         4096
#define NR_MONGO_NAME_MAX        63
#define NR_MONGO_USERNAME_MAX    256
#define NR_MONGO_APP_NAME_MAX    128
#define NR_MONGO_PATH_MAX        4096
#define NR_MONGO_TIMEOUT_MS_MAX  3600000
#define NR_MONGO_CONNECT_MS_MAX  300000
#define NR_MONGO_HEALTH_MS_MAX   600000
#define NR_MONGO_DEFAULT_APPNAME "nebula-resource"

/* The schema of nr_mongo_config (name "mongo"). Its check enforces exactly
 * one of hosts/uri, the host list syntax, a URI without credentials (the
 * issue shows the URI redacted), the database and auth_source name rules and
 * tls_ca_file only with tls. */
NR_API extern const nr_config_schema nr_mongo_config_schema;

/* The resource type (name "mongo"); instances are nr_mongo_conn *. */
NR_API extern const nr_resource_type nr_mongo_type;

/* One client: the handle nr_guard_handle() returns. Opaque. */
typedef struct nr_mongo_conn nr_mongo_conn;

/*
 * The client of an instance (handle is what nr_guard_handle() returns for a
 * pool of nr_mongo_type). NULL for a NULL or foreign handle. The client
 * stays owned by the instance: never destroy it; use it only while holding
 * the lease, from the thread holding it.
 */
NR_API mongoc_client_t *nr_mongo_client(void *handle);

/* The configured database name of an instance (config.database), or NULL
 * when none was configured or the handle is not an instance. Valid while
 * the instance lives. */
NR_API const char *nr_mongo_database(void *handle);

/*
 * Write the printable form of a MongoDB URI into out (n bytes, always
 * NUL-terminated when n > 0): the password of the userinfo part and the
 * values of the options tlsCertificateKeyFilePassword and
 * authMechanismProperties are replaced with "<redacted>"; the rest is kept.
 * Text that is not a URI is copied as it is. A result cut to fit ends in
 * "...". Returns out (or "" when out is NULL or n is 0).
 */
NR_API const char *nr_mongo_redact_uri(const char *uri, char *out, size_t n);

/*
 * Write the printable form of the target a config connects to into out:
 * "mongodb://[user@]hosts[/database][?authSource=..&tls=true]" built from
 * the fields, or the redacted uri with the user name added. Never contains a
 * password. Same conventions as nr_mongo_redact_uri; a NULL cfg gives
 * "(no config)".
 */
NR_API const char *nr_mongo_describe(const nr_mongo_config *cfg, char *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
