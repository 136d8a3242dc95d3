/*
 * nebula/loop_uv.h - async acquires and non-blocking queries on a libuv
 * loop (library nebula-resource-libuv, component libuv; docs/event-loops.md).
 *
 * Two things a libuv server needs:
 *
 *   - nr_uv_queue_attach puts an fd completion queue (nebula/async.h) on a
 *     uv_loop_t: a uv_poll_t watches nr_async_queue_fd for reading and
 *     calls nr_async_queue_dispatch, so that the callbacks of
 *     nr_pool_acquire_async / nr_manager_acquire_async run on the loop's
 *     thread. nr_uv_queue_detach stops and closes that handle.
 *   - nr_uv_run_start drives one step machine (nebula/loop.h: a driver's
 *     nr_pg_async or nr_redis_async query, or anything of that shape) on
 *     the loop: a uv_poll_t on the machine's fd for the events it wants,
 *     a uv_timer_t for its deadline, step on readiness or when the timer
 *     fires, and a completion callback once with the final code.
 *
 * Neither runs driver code: creates, validates and recycles run on the
 * pool's threads (nebula/async.h), and the steps of a query helper only
 * read and write a socket that is ready.
 *
 * uv_poll_init puts the fd it is given in non-blocking mode; when the
 * machine's fd was blocking as nr_uv_run_start found it, it is made
 * blocking again before the completion callback runs, so a connection used
 * by blocking code later (a recycle on the pool's worker) is as it was. An
 * fd that was non-blocking already is left to the machine (the Redis
 * helper sets O_NONBLOCK itself and clears it as the command finishes).
 *
 * uv.h needs POSIX declarations: a file compiled with -std=c11 (no GNU
 * extensions) defines _DEFAULT_SOURCE (or _POSIX_C_SOURCE 200809L) before
 * its first #include.
 *
 * Ownership: an attachment and a run are allocated by the library and
 * freed by it once their libuv handles have closed (a loop turn after
 * detach, or after the completion callback). The uv_loop_t, the queue and
 * the machine are borrowed: the queue must outlive its attachment (destroy
 * it in, or after, the detach callback), the machine and its connection
 * must outlive the run (until its completion callback begins). The loop
 * must run until the handles have closed before uv_loop_close can succeed.
 *
 * Thread safety: every function here must be called on the loop's thread
 * (libuv's rule for its handles); the callbacks run there, with no lock of
 * the library held.
 */
#ifndef NEBULA_LOOP_UV_H
#define NEBULA_LOOP_UV_H

#include <uv.h>

#include "nebula/async.h"
#include "nebula/error.h"
#include "nebula/export.h"
#include "nebula/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_uv_queue nr_uv_queue;
typedef struct nr_uv_run nr_uv_run;

/*
 * Watch q (made by nr_async_queue_create) on loop: whenever its fd is
 * readable, every completion queued then is dispatched on the loop's
 * thread. The handle keeps the loop alive until it is detached. Returns
 * NR_OK with *out set, NR_EINVAL for NULL arguments or an executor queue
 * (no fd), NR_ENOMEM, NR_EINIT when libuv refuses the fd (err->driver_code
 * holds libuv's code).
 */
NR_API int nr_uv_queue_attach(nr_uv_queue **out, uv_loop_t *loop, nr_async_queue *q, nr_error *err);

/*
 * Stop watching and close the handle. closed(ud), when not NULL, runs on
 * the loop's thread once the handle has closed and the attachment is
 * freed: from there the queue may be destroyed. Completions still queued
 * are not dispatched by the attachment any more (call
 * nr_async_queue_dispatch yourself, or let nr_async_queue_destroy drop
 * them). May be called from a completion callback of the same queue. NULL
 * is a no-op.
 */
NR_API void nr_uv_queue_detach(nr_uv_queue *a, void (*closed)(void *ud), void *ud);

/*
 * Run machine on loop with the table ops (see nebula/loop.h): the fd is
 * polled for what ops->wants asks, step is called when it is ready or the
 * deadline passes, until a step returns something other than NR_PENDING;
 * then done(ud, rc, err) runs once on the loop's thread. The first step
 * comes after the fd is first ready (or at once when wants is 0): start
 * the machine (nr_pg_async_start, ...) before. Returns NR_OK with *out set
 * (when out is not NULL; the handle is valid until done begins), or
 * NR_EINVAL (NULL arguments, an incomplete table, a negative fd), NR_ENOMEM,
 * NR_EINIT (libuv refused the fd; err->driver_code holds libuv's code); done
 * is then never called.
 */
NR_API int nr_uv_run_start(nr_uv_run **out, uv_loop_t *loop, const nr_loop_machine *ops,
                           void *machine, nr_loop_done_fn done, void *ud, nr_error *err);

/*
 * Stop a run: the fd is polled no more, the machine is not stepped again,
 * and done runs with NR_ECANCELED on the loop's next turn (never inside
 * this call). The machine is left mid-operation: its connection should be
 * tainted, not given back. NR_OK, NR_ESTATE when the run has already been
 * cancelled, NR_EINVAL for NULL.
 */
NR_API int nr_uv_run_cancel(nr_uv_run *r);

#ifdef __cplusplus
}
#endif
#endif
