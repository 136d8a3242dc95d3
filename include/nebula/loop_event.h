/*
 * nebula/loop_event.h - async acquires and non-blocking queries on a
 * libevent event_base (library nebula-resource-libevent, component
 * libevent; docs/event-loops.md).
 *
 * The same two things as nebula/loop_uv.h, on libevent 2.1:
 *
 *   - nr_event_queue_attach puts an fd completion queue (nebula/async.h)
 *     on an event_base: event_new(base, fd, EV_READ | EV_PERSIST, ...) on
 *     nr_async_queue_fd, whose callback calls nr_async_queue_dispatch, so
 *     that the callbacks of nr_pool_acquire_async /
 *     nr_manager_acquire_async run on the loop's thread.
 *     nr_event_queue_detach deletes and frees that event.
 *   - nr_event_run_start drives one step machine (nebula/loop.h: a driver's
 *     nr_pg_async or nr_redis_async query, or anything of that shape): an
 *     event on the machine's fd for the events it wants, a timer event for
 *     its deadline, step on readiness or when the timer fires, and a
 *     completion callback once with the final code.
 *
 * Neither runs driver code (creates, validates and recycles run on the
 * pool's threads, nebula/async.h), and neither changes the fd's flags.
 *
 * Ownership: an attachment and a run are allocated and freed by the
 * library: the attachment by nr_event_queue_detach (or after the dispatch
 * it was detached from returns), a run when its completion callback has
 * returned. The event_base, the queue and the machine are borrowed: the
 * queue must outlive its attachment, the machine and its connection the
 * run (until its completion callback begins). event_base_free after every
 * attachment is detached and every run completed.
 *
 * Thread safety: every function here must be called on the thread that
 * runs the event_base (the adapter uses no libevent locking); the
 * callbacks run there, with no lock of the library held.
 */
#ifndef NEBULA_LOOP_EVENT_H
#define NEBULA_LOOP_EVENT_H

#include <event2/event.h>

#include "nebula/async.h"
#include "nebula/error.h"
#include "nebula/export.h"
#include "nebula/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_event_queue nr_event_queue;
typedef struct nr_event_run nr_event_run;

/*
 * Watch q (made by nr_async_queue_create) on base: whenever its fd is
 * readable, every completion queued then is dispatched on the loop's
 * thread. The event keeps event_base_dispatch running until it is
 * detached. Returns NR_OK with *out set, NR_EINVAL for NULL arguments or
 * an executor queue (no fd), NR_ENOMEM, NR_EINIT when libevent refuses the
 * event.
 */
NR_API int nr_event_queue_attach(nr_event_queue **out, struct event_base *base, nr_async_queue *q,
                                 nr_error *err);

/*
 * Delete the event and free the attachment. When it returns the queue is
 * watched no more and may be destroyed, unless the call came from a
 * completion callback of that same queue: the attachment is then freed
 * when that dispatch returns, and the queue must be destroyed after it
 * (from another event, or after the loop). Completions still queued are
 * not dispatched by the attachment any more. NULL is a no-op.
 */
NR_API void nr_event_queue_detach(nr_event_queue *a);

/*
 * Run machine on base with the table ops (see nebula/loop.h): the fd is
 * watched for what ops->wants asks, step is called when it is ready or
 * the deadline passes, until a step returns something other than
 * NR_PENDING; then done(ud, rc, err) runs once on the loop's thread. The
 * first step comes after the fd is first ready (or on the loop's next
 * turn when wants is 0): start the machine (nr_pg_async_start, ...)
 * before. Returns NR_OK with *out set (when out is not NULL; the handle is
 * valid until done begins), or NR_EINVAL (NULL arguments, an incomplete
 * table, a negative fd), NR_ENOMEM, NR_EINIT (libevent refused an event);
 * done is then never called.
 */
NR_API int nr_event_run_start(nr_event_run **out, struct event_base *base,
                              const nr_loop_machine *ops, void *machine, nr_loop_done_fn done,
                              void *ud, nr_error *err);

/*
 * Stop a run: the fd is watched no more, the machine is not stepped
 * again, and done runs with NR_ECANCELED on the loop's next turn (never
 * inside this call). The machine is left mid-operation: its connection
 * should be tainted, not given back. NR_OK, NR_ESTATE when the run has
 * already been cancelled, NR_EINVAL for NULL.
 */
NR_API int nr_event_run_cancel(nr_event_run *r);

#ifdef __cplusplus
}
#endif
#endif
