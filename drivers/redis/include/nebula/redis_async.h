/*
 * nebula/redis_async.h - one command on a pooled Redis connection without
 * blocking, for event loops.
 *
 * A step machine that any loop can drive: start the command, then poll the
 * connection's fd for what nr_redis_async_wants() says, with a timer at
 * nr_redis_async_deadline_ns(), and call nr_redis_async_step() when either
 * fires. No call here ever blocks or sleeps.
 *
 *     const char *argv[] = {"GET", key};
 *     nr_redis_async *q;
 *     if (nr_redis_async_start(&q, nr_guard_handle(&g), 2, argv, NULL, nr_deadline_in_ms(200),
 *                              NULL, &err) != NR_OK)
 *         ... err ...
 *     ... poll(nr_redis_async_fd(q), nr_redis_async_wants(q)) until ready or the deadline ...
 *     int rc = nr_redis_async_step(q, &err);    // NR_PENDING: wait again
 *     if (rc == NR_OK) { redisReply *r = nr_redis_async_reply(q); ... freeReplyObject(r); }
 *     nr_redis_async_free(q);
 *     rc == NR_OK || err.driver_code == REDIS_REPLY_ERROR ? nr_guard_release_async(&g)
 *                                                         : nr_guard_taint_async(&g);
 *
 * The connection is the driver's own (nr_redis_conn, what nr_guard_handle
 * gives for a pool of nr_redis_type): the same connections serve blocking
 * and async users, with the same pool, health checks and recycle. For the
 * command only, its socket is non-blocking (O_NONBLOCK, and REDIS_BLOCK
 * cleared in the hiredis context, so that hiredis' reads and writes take
 * EAGAIN as "later"); blocking mode comes back when the command finishes,
 * whatever the outcome, or at nr_redis_async_free. After NR_OK, or an error
 * reply (err->driver_code REDIS_REPLY_ERROR), the reply has been read and
 * the connection is in step: it may take more commands, blocking or not,
 * and the lease is given back as usual. After any other final result
 * (NR_ETIMEDOUT, NR_ECANCELED, NR_EUNAVAIL, NR_ENOMEM) or a free before
 * the end, the command may still run on the server (Redis cannot cancel a
 * command) and its reply would arrive unasked: the context is marked
 * broken (its err is set), so validate, recycle and nr_redis_command refuse
 * it; taint the lease (nr_guard_taint_async, or nr_guard_taint off the loop).
 *
 * SIGPIPE: start and step block it in the calling thread around their
 * writes, as every driver call does (nebula/redis.h).
 *
 * Ownership: the nr_redis_async is the caller's, freed with
 * nr_redis_async_free. The connection stays the lease's; it must outlive
 * the nr_redis_async, and nothing else may use it while the command runs.
 * argv is copied into hiredis' output buffer before start returns. The
 * reply of nr_redis_async_reply is the caller's (freeReplyObject).
 *
 * Thread safety: one thread at a time per nr_redis_async (and its
 * connection); different ones may run on different threads. The cancel
 * token may be set from any thread.
 */
#ifndef NEBULA_REDIS_ASYNC_H
#define NEBULA_REDIS_ASYNC_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "nebula/async.h"
#include "nebula/cancel.h"
#include "nebula/error.h"
#include "nebula/export.h"
#include "nebula/redis.h"
#include "nebula/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One command in flight on one connection. Opaque. */
typedef struct nr_redis_async nr_redis_async;

/*
 * Send one command, argv[0..argc) (argvlen gives each argument's length,
 * binary-safe; NULL: each is a NUL-terminated string), on conn with its
 * socket non-blocking, writing what the socket takes now. deadline (unset:
 * none) bounds the whole command; cancel (may be NULL) ends it when set.
 * Never blocks. Returns:
 *   NR_OK         *out is the command, to be stepped and freed
 *   NR_EINVAL     NULL out or argv (or an argument), argc < 1, conn not an
 *                 open connection of nr_redis_type, or unread replies or
 *                 unsent commands on it: conn is untouched
 *   NR_ECANCELED  the token is already set; NR_ETIMEDOUT the deadline has
 *                 already passed: nothing was sent, conn is untouched
 *   NR_EUNAVAIL   conn is broken, or writing failed: taint the lease
 *   NR_ENOMEM     out of memory (the context is broken when hiredis ran
 *                 out): taint the lease
 * On failure *out is NULL. Errors name the resource and the server.
 */
NR_API int nr_redis_async_start(nr_redis_async **out, nr_redis_conn *conn, int argc,
                                const char **argv, const size_t *argvlen, nr_deadline deadline,
                                const nr_cancel *cancel, nr_error *err);

/* The socket to poll; -1 for NULL. */
NR_API int nr_redis_async_fd(const nr_redis_async *q);

/* What to poll the fd for: NR_IO_WRITE while part of the command is unsent,
 * then NR_IO_READ; 0 once the command has finished. */
NR_API int nr_redis_async_wants(const nr_redis_async *q);

/* When to call step even without readiness (the deadline's at_ns on the
 * nr_now_ns clock); NR_DEADLINE_NEVER when there is none (or for NULL). */
NR_API int64_t nr_redis_async_deadline_ns(const nr_redis_async *q);

/*
 * Make progress without blocking: call it when the fd is ready for what
 * wants() said, when the deadline is reached, or at any other time. The fd
 * is read until it has nothing more (edge- or level-triggered polling both
 * work). Returns:
 *   NR_PENDING    not finished: poll for wants() again
 *   NR_OK         the reply is in: nr_redis_async_reply
 *   an error reply (err->driver_code REDIS_REPLY_ERROR, the message quotes
 *   it; the connection is in step and usable), with nr_redis_command's codes:
 *     NR_EINVAL     ERR, WRONGTYPE, EXECABORT, ... (anything not below)
 *     NR_EUNAVAIL   LOADING, READONLY, MASTERDOWN, OOM, TRYAGAIN, CLUSTERDOWN
 *     NR_ECRED      NOAUTH, WRONGPASS, NOPERM
 *     NR_EBUSY      BUSY (a script is running)
 *   a failure of the command itself (err->driver_code is hiredis' c->err
 *   kind, or 0): the connection is marked broken, taint the lease:
 *     NR_ETIMEDOUT  the deadline passed before the reply
 *     NR_ECANCELED  the cancel token was set
 *     NR_EUNAVAIL   the connection failed or the server closed it
 *     NR_ENOMEM     out of memory in hiredis
 * Once finished, every further call returns the same code and err again.
 * NR_EINVAL for NULL q. The message quotes the server's error text, which
 * for some errors (an unknown command) repeats the command's arguments: keep
 * secrets out of the command, or clear err before logging it.
 */
NR_API int nr_redis_async_step(nr_redis_async *q, nr_error *err);

/* The reply of a command that finished with NR_OK, which passes to the
 * caller (freeReplyObject); NULL before that, after an error, and on a
 * second call. Error elements inside an array reply (EXEC) are left as
 * they are. */
NR_API redisReply *nr_redis_async_reply(nr_redis_async *q);

/*
 * Free q and any reply not taken. The connection is back in blocking mode
 * either way; a command not finished (still NR_PENDING) is abandoned with
 * its reply unread and the context marked broken, as after a timeout:
 * taint the lease. NULL is a no-op.
 */
NR_API void nr_redis_async_free(nr_redis_async *q);

#ifdef __cplusplus
}
#endif
#endif
