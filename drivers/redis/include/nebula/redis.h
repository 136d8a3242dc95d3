/*
 * nebula/redis.h - the Redis driver: pooled hiredis connections.
 *
 * nr_redis_type is an nr_resource_type whose instances are connected,
 * authenticated hiredis (0.14, RESP2) contexts. Give it to a pool or a
 * manager together with an nr_redis_config; the password comes only from
 * the credential (nr_pool_options.credential or the manager's credential
 * provider), never from the config:
 *
 *     nr_redis_config cfg;
 *     nr_config_init(&nr_redis_config_schema, &cfg, &err);    // defaults
 *     nr_config_set_str(&nr_redis_config_schema, &cfg, "host", "cache", &err);  // copied
 *     ... and "port", "user", "db" (nr_config_set_int for numbers) ...
 *     nr_pool_options o = NR_POOL_OPTIONS(.id = "cache", .type = &nr_redis_type, .config = &cfg,
 *                          .credential = password);
 *     nr_pool_create(&pool, &o, &err);
 *     ... nr_pool_acquire(pool, NULL, &g, &err);
 *         redisReply *r;
 *         if (nr_redis_command(nr_guard_handle(&g), &r, &err, "GET %s", key) == NR_OK)
 *             freeReplyObject(r);
 *     nr_pool_destroy(pool, &err);
 *     nr_config_free(&nr_redis_config_schema, &cfg);
 *
 * What each callback does:
 *   create        connects (TCP, or the unix socket when unix_socket is set)
 *                 with redisConnectWithTimeout, giving it the smaller of
 *                 connect_timeout_ms and what is left of the context's
 *                 deadline; then AUTH (user and password when user is set,
 *                 the password alone otherwise, nothing without either),
 *                 SELECT db and CLIENT SETNAME client_name, each waiting at
 *                 most until the earlier of the deadline and the end of the
 *                 connect_timeout_ms budget, and looking at the cancel token
 *                 every 20 ms while it waits; then sets the command timeout
 *                 and TCP keepalive. The token is also checked before and
 *                 after the connect (which cannot be interrupted).
 *   validate      cheap, no round trip: the context has no error, the socket
 *                 was not closed by the server (a non-blocking peek) and no
 *                 unread reply is waiting on it.
 *   recycle       one pipelined round trip: "PING <nonce>", DISCARD,
 *                 UNWATCH, SELECT db; so a transaction left open (MULTI
 *                 without EXEC) is discarded, WATCHed keys are forgotten and
 *                 the configured database is selected again. A connection
 *                 left in subscribe mode, one whose replies are out of step
 *                 (unread replies, CLIENT REPLY OFF), or any I/O error gives
 *                 NR_ECLEANUP, so the pool destroys it. The command timeout is
 *                 put back. Waits at most health_timeout_ms.
 *   health_check  PING with the smaller of health_timeout_ms and the check's
 *                 deadline as the socket timeout (the command timeout is
 *                 restored afterwards); PONG is healthy, LOADING / BUSY /
 *                 MASTERDOWN replies degraded, anything else unhealthy. No
 *                 answer in time: NR_ETIMEDOUT (the connection is then broken
 *                 and the pool discards it).
 *   destroy       redisFree.
 *
 * SIGPIPE: hiredis 0.14 writes with write(), so a write to a connection the
 * server has closed raises SIGPIPE, which kills a program that keeps the
 * default disposition. Every driver call that may write (create, recycle,
 * health_check, nr_redis_command) blocks SIGPIPE in the calling thread for
 * the call and consumes a SIGPIPE it raised (one that was already pending
 * before the call is left pending), then restores the thread's signal mask.
 * Code that writes through the raw context (nr_redis_context) must do the
 * same, with nr_redis_sigpipe_block / nr_redis_sigpipe_restore around the
 * hiredis calls, or ignore SIGPIPE process-wide (signal(SIGPIPE, SIG_IGN)).
 *
 * Errors: every failure names the resource id (err->resource_id and the
 * message) and the server (host:port or the socket path); hiredis' error
 * kind (c->err, REDIS_ERR_*) or, for an error reply, REDIS_REPLY_ERROR goes
 * into err->driver_code. From create:
 *   NR_EUNAVAIL   refused, unreachable, closed by the server, the server
 *                 answered with an error such as "max number of clients", or
 *                 connect_timeout_ms ran out before the context's deadline
 *   NR_ETIMEDOUT  the context's deadline ran out (connect or a reply)
 *   NR_ECANCELED  the cancel token was set
 *   NR_ECRED      the server refused the credential (WRONGPASS, NOAUTH,
 *                 NOPERM...); the message names the user ("default" for a
 *                 password-only AUTH) and never contains the password, which
 *                 is also cut out of anything the server echoed
 *   NR_ECONFIG    the server refused SELECT db (index out of range) or the
 *                 config breaks a rule
 *   NR_ENOMEM     out of memory
 *   NR_EINIT      any other failure of the handshake
 *
 * Ownership: an instance (the handle the pool gives out, an
 * nr_redis_conn *) owns its redisContext. Replies belong to the caller
 * (freeReplyObject).
 *
 * Thread safety: nr_redis_type and nr_redis_config_schema are immutable. One
 * instance is used by one thread at a time (the pool guarantees it for its
 * callbacks; a lease holder must not share the context with other threads
 * while it holds the lease). Different instances may be used from different
 * threads at once. The SIGPIPE guard acts on the calling thread only.
 *
 * Not supported (hiredis 0.14 limits): TLS, RESP3 (HELLO 3), push
 * callbacks, cluster and sentinel.
 */
#ifndef NEBULA_REDIS_H
#define NEBULA_REDIS_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "nebula/config.h"
#include "nebula/error.h"
#include "nebula/resource_type.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The driver's config. Schema: nr_redis_config_schema (JSON keys as the
 * member names). Strings are owned by the struct (see nebula/config.h).
 * Each entry: kind, member, min, max (bytes for strings), default, flags and
 * what it means (nebula/config_fields.h); the README's table is made from it.
 */
#define NR_REDIS_CONFIG_FIELDS(X, T)                                                               \
    X(T, STRING, host, 1, NR_REDIS_HOST_MAX, "127.0.0.1", 0,                                       \
      "server name or address (ignored when `unix_socket` is set)")                                \
    X(T, INT, port, 1, 65535, 6379, 0, "server TCP port")                                          \
    X(T, STRING, unix_socket, 0, NR_REDIS_UNIX_SOCKET_MAX, "", 0,                                  \
      "path of the server's unix socket; `\"\"` = connect to host and port")                       \
    X(T, STRING, user, 0, NR_REDIS_NAME_MAX, "", 0,                                                \
      "ACL user for `AUTH user password`, no spaces or control characters; `\"\"` = "              \
      "`AUTH password` (the default user)")                                                        \
    X(T, INT, db, 0, 2147483647, 0, 0,                                                             \
      "database index chosen with `SELECT` (and again at every release); beyond the server's "     \
      "`databases` setting create fails with `NR_ECONFIG`")                                        \
    X(T, INT, connect_timeout_ms, 1, NR_REDIS_TIMEOUT_MS_MAX, 5000, 0,                             \
      "budget for connecting and the handshake (`AUTH`, `SELECT`, `CLIENT SETNAME`)")              \
    X(T, INT, command_timeout_ms, 0, NR_REDIS_TIMEOUT_MS_MAX, 5000, 0,                             \
      "socket timeout of each command a lease holder sends (0 = wait forever). A command that "    \
      "times out leaves the connection broken (hiredis does not recover): the next validate or "   \
      "recycle retires it")                                                                        \
    X(T, INT, health_timeout_ms, 1, NR_REDIS_TIMEOUT_MS_MAX, 2000, 0,                              \
      "socket timeout of the health check `PING` and of the reset at release")                     \
    X(T, STRING, client_name, 0, NR_REDIS_NAME_MAX, "nebula-resource", 0,                          \
      "`CLIENT SETNAME` value, no spaces or control characters; `\"\"` = no name")                 \
    X(T, BOOL, keepalive, 0, 1, 1, 0,                                                              \
      "TCP keepalive on the connection (hiredis: 15 s); not used on a unix socket")

NR_CONFIG_STRUCT(nr_redis_config, NR_REDIS_CONFIG_FIELDS)

#define NR_REDIS_HOST_MAX        255
#define NR_REDIS_UNIX_SOCKET_MAX 107
#define NR_REDIS_NAME_MAX        128
#define NR_REDIS_TIMEOUT_MS_MAX  3600000

/* The schema of nr_redis_config (name "redis"); its check rejects spaces
 * and control characters in user and client_name. */
NR_API extern const nr_config_schema nr_redis_config_schema;

/* The resource type (name "redis"); instances are nr_redis_conn *. */
NR_API extern const nr_resource_type nr_redis_type;

/* One connection: the handle nr_guard_handle() returns. Opaque. */
typedef struct nr_redis_conn nr_redis_conn;

/*
 * The hiredis context of an instance (handle is what nr_guard_handle()
 * returns for a pool of nr_redis_type). NULL for a NULL or foreign handle.
 * The context stays owned by the instance: never free it, and use it only
 * while holding the lease. Writes through it are not protected against
 * SIGPIPE: see nr_redis_sigpipe_block. Leave it in blocking mode (the
 * async command of nebula/redis_async.h switches it for one command and
 * puts it back); changes made with redisSetTimeout are undone at release.
 */
NR_API redisContext *nr_redis_context(void *handle);

/*
 * Send one command (hiredis format, e.g. "SET %s %b", key, val, len) and
 * wait for its reply, with SIGPIPE blocked for the call. On NR_OK *out
 * (may be NULL: the reply is then freed) holds the reply, to be freed with
 * freeReplyObject; on failure *out is NULL and err says:
 *   NR_EINVAL     NULL handle or fmt; an error reply (ERR, WRONGTYPE,
 *                 EXECABORT, ...)
 *   NR_EUNAVAIL   the connection is broken or was closed by the server (it
 *                 stays broken: give the lease back, the pool replaces it);
 *                 error replies LOADING, READONLY, MASTERDOWN, OOM,
 *                 TRYAGAIN, CLUSTERDOWN
 *   NR_ETIMEDOUT  no reply within command_timeout_ms (connection broken)
 *   NR_ECRED      error replies NOAUTH, WRONGPASS, NOPERM
 *   NR_EBUSY      error reply BUSY (a script is running)
 *   NR_ENOMEM     out of memory in hiredis
 * The message quotes the server's error text, which for some errors (an
 * unknown command) repeats the command's arguments: keep secrets out of
 * commands sent through here, or clear err before logging it. Error
 * elements inside an array reply (EXEC) are not looked at.
 */
NR_API int nr_redis_command(void *handle, redisReply **out, nr_error *err, const char *fmt, ...);

/*
 * SIGPIPE guard for code that writes through the raw context:
 *
 *     nr_redis_sigpipe_guard sg;
 *     nr_redis_sigpipe_block(&sg);
 *     redisReply *r = redisCommand(nr_redis_context(h), "PING");
 *     nr_redis_sigpipe_restore(&sg);
 *
 * block adds SIGPIPE to the calling thread's signal mask and notes whether
 * one was already pending; restore consumes a SIGPIPE raised in between
 * (not one that was pending before) and puts the old mask back. errno is
 * kept across both. Guards nest; block and restore must run on the same
 * thread. The struct is opaque storage for the saved mask.
 */
typedef struct nr_redis_sigpipe_guard {
    unsigned long long opaque_[20];
} nr_redis_sigpipe_guard;

NR_API void nr_redis_sigpipe_block(nr_redis_sigpipe_guard *g);
NR_API void nr_redis_sigpipe_restore(nr_redis_sigpipe_guard *g);

#ifdef __cplusplus
}
#endif
#endif
