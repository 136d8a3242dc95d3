/*
 * runtime.h - the background runtime of the resource manager: one timer
 * thread and a fixed pool of worker threads that run background jobs
 * (filling pools, evicting, health checks).
 *
 * Jobs. A job is a function and its argument. nr__runtime_submit puts one on
 * a bounded FIFO queue; a free worker takes it and calls fn(arg). Scheduled
 * tasks (nr__runtime_schedule) are kept by the timer thread, which puts an
 * occurrence of the task on the same queue when it comes due, so timed work
 * is subject to the same bound and runs on the same workers.
 *
 * Which thread runs a callback. Every fn given to this API runs on one of the
 * runtime's worker threads, never on the caller's thread and never on the
 * timer thread. The timer thread runs no user code at all.
 *
 * Lock rules. The runtime has one internal mutex. No callback ever runs while
 * it is held, and neither does the allocator (nr_malloc / nr_free are called
 * with it released). So a job may call any function of this API on its own
 * runtime (submit, schedule, cancel, stats, on_worker), except
 * nr__runtime_stop and nr__runtime_destroy (which wait for the workers), and
 * except a cancel that would wait for a job that is itself waiting for this
 * one (two jobs cancelling each other's tasks deadlock, as two threads
 * joining each other would).
 *
 * Ownership. The runtime owns its threads, its queue and every task. A task
 * handle stays valid until nr__task_cancel returns for it or the runtime is
 * destroyed, whichever comes first; a one-shot task that has run is still a
 * valid handle (and still holds its memory) until then. The argument of a
 * job is never owned: the runtime neither frees nor inspects it, and a job
 * dropped by stop or cancel is simply never called.
 *
 * Shutdown. nr__runtime_stop refuses new work, stops the timers and drains
 * the queue until a deadline; work still queued at the deadline is dropped.
 * nr__runtime_destroy then joins every thread, waiting for running jobs
 * however long they take, and frees everything.
 *
 * Thread safety: every function may be called from any thread at the same
 * time, except that nr__runtime_destroy must be the last call on a runtime
 * (and must not race with any other call on it), and nr__runtime_stop and
 * nr__runtime_destroy must not be called from one of the runtime's own
 * threads (asserted).
 */
#ifndef NR_MANAGER_RUNTIME_H
#define NR_MANAGER_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "nebula/error.h"
#include "nebula/time.h"

#define NR__RUNTIME_MAX_WORKERS 64u
#define NR__RUNTIME_MAX_QUEUE   65536u

/* When a one-shot task comes due and finds the queue full, it is not dropped:
 * it is tried again this much later, until it fits (or is cancelled). */
#define NR__RUNTIME_RETRY_NS (1 * NR_NS_PER_MS)

/* The shortest period a periodic task may have. Background work runs at
 * millisecond-to-second periods; a near-zero period would only keep the timer
 * thread busy skipping occurrences. */
#define NR__RUNTIME_MIN_PERIOD_NS (100 * NR_NS_PER_US)

typedef struct nr__runtime nr__runtime;
typedef struct nr__task nr__task; /* a scheduled (one-shot or periodic) job */

/*
 * Create a runtime and start its timer thread and `workers` worker threads.
 * workers is 1..64, queue_capacity (the most jobs waiting for a worker, not
 * counting running ones) is 1..65536. Worker and timer threads start with
 * every signal blocked.
 *
 * Returns
 *   NR_OK      *out is the runtime, owned by the caller (nr__runtime_destroy)
 *   NR_EINVAL  out is NULL, or workers / queue_capacity is out of range (the
 *              message names the argument, its value and the range)
 *   NR_ENOMEM  an allocation failed
 *   NR_EINIT   a lock or a thread could not be created (err->driver_code is
 *              the pthread error); every thread already started was stopped
 *              and joined and everything was freed
 * On failure *out is left as it was.
 */
int nr__runtime_create(nr__runtime **out, uint32_t workers, uint32_t queue_capacity, nr_error *err);

/*
 * Queue fn(arg) to run on a worker as soon as one is free (FIFO with every
 * other queued job, including timed occurrences). fn is called exactly once
 * if this returns NR_OK, unless nr__runtime_stop drops it at its deadline; it
 * is never called if this fails. Never blocks.
 *
 * Returns
 *   NR_OK
 *   NR_EINVAL      rt or fn is NULL
 *   NR_EEXHAUSTED  the queue is full; the message gives its capacity
 *   NR_ESHUTDOWN   nr__runtime_stop (or destroy) has begun
 * Allocates nothing.
 */
int nr__runtime_submit(nr__runtime *rt, void (*fn)(void *arg), void *arg, nr_error *err);

/*
 * Schedule fn(arg) to run on a worker delay_ns from now (0: now), and then
 * every period_ns after that first due time if period_ns > 0 (fixed rate:
 * the n-th occurrence is due at first + n * period_ns).
 *
 * A task never overlaps itself: an occurrence that comes due while the
 * previous one is still queued or running is skipped and counted in
 * skipped_overlaps. A periodic occurrence that finds the queue full is
 * skipped too, and counted in skipped_full. When the timer thread wakes late,
 * it handles the oldest due occurrence and skips the ones that fell due
 * meanwhile, counting each like the one it handled left things (its run
 * queued: skipped_overlaps; queue full: skipped_full). A one-shot occurrence
 * that finds the queue full is tried again NR__RUNTIME_RETRY_NS later
 * (counted in deferred_full) until it is queued. Each occurrence that is
 * queued counts in timer_fires and in submitted.
 *
 * *out is written before fn can first run, under the runtime's lock, so fn
 * may read the handle from memory its argument points to (to cancel itself).
 *
 * Returns
 *   NR_OK         *out is the task handle, owned by the runtime; give it back
 *                 with nr__task_cancel (or let nr__runtime_destroy free it)
 *   NR_EINVAL     rt, fn or out is NULL, delay_ns is negative, or period_ns
 *                 is neither 0 nor at least NR__RUNTIME_MIN_PERIOD_NS
 *   NR_ENOMEM     an allocation failed (the task record, or a larger timer heap)
 *   NR_ESHUTDOWN  nr__runtime_stop (or destroy) has begun
 * On failure *out is left as it was and fn is never called.
 */
int nr__runtime_schedule(nr__runtime *rt, int64_t delay_ns, int64_t period_ns,
                         void (*fn)(void *arg), void *arg, nr__task **out, nr_error *err);

/*
 * Cancel task and free it. When this returns, task's fn is not running and
 * will never run again: a queued occurrence is taken off the queue (and
 * counted as dropped), and if the fn is running on a worker this waits for it
 * to return. task must not be used afterwards. Works the same before and
 * after nr__runtime_stop, and on a one-shot task that has already run.
 *
 * From inside the task's own fn (same task, on the worker running it) this
 * does not wait for itself: it marks the task cancelled, so it will never run
 * again, returns at once, and the worker frees the task after fn returns.
 * The caller must still not use the handle after this call.
 *
 * Cancelling the same task twice, or from two threads at once, is a bug in
 * the caller (the handle is gone after the first). NULL task is a no-op.
 */
void nr__task_cancel(nr__runtime *rt, nr__task *task);

/*
 * Begin shutdown and drain: from now on submit and schedule fail with
 * NR_ESHUTDOWN and no timer fires again (tasks stay allocated until cancelled
 * or destroyed). Jobs already queued keep running, in order, until the queue
 * is empty and no job is running, or until deadline (unset means never).
 *
 * Returns
 *   NR_OK         every queued job ran and none is running any more
 *   NR_ETIMEDOUT  the deadline passed first: the jobs still queued were
 *                 dropped (never called, counted in dropped); jobs already
 *                 running were not interrupted and may still be running when
 *                 this returns (nr__runtime_destroy waits for them)
 * May be called more than once, from several threads; each call waits by its
 * own deadline. Must not be called from one of rt's threads (asserted).
 */
int nr__runtime_stop(nr__runtime *rt, nr_deadline deadline, nr_error *err);

/*
 * As nr__runtime_stop, except at the deadline: the jobs still queued are
 * kept, and the workers go on running them in order (NR_ETIMEDOUT says how
 * many are left). For a runtime behind an nr_executor, whose promise is
 * that a job it took runs exactly once: a later nr__runtime_stop (with no
 * deadline, to wait for all of them) or nr__runtime_destroy (which drops
 * what is left) ends them.
 */
int nr__runtime_stop_keep(nr__runtime *rt, nr_deadline deadline, nr_error *err);

/*
 * Stop if not stopped yet, with an expired deadline (so queued jobs are
 * dropped; call nr__runtime_stop first to drain them), join every thread,
 * waiting for running jobs to return, free every task not yet cancelled and
 * free rt. NULL is a no-op. Must not be called from one of rt's threads
 * (asserted), nor while another thread still uses rt.
 */
void nr__runtime_destroy(nr__runtime *rt);

/*
 * A snapshot, taken under the runtime's lock, so it is consistent:
 *     submitted == completed + dropped + queued + running
 * submitted counts every job that entered the queue (accepted submits and
 * queued timer occurrences); rejected counts failed submits (queue full or
 * shut down); dropped counts queued jobs that never ran (dropped by stop, or
 * taken off the queue by nr__task_cancel).
 */
typedef struct nr__runtime_stats {
    uint64_t submitted;        /* jobs that entered the queue */
    uint64_t completed;        /* jobs whose fn returned */
    uint64_t rejected;         /* submits refused: NR_EEXHAUSTED or NR_ESHUTDOWN */
    uint64_t dropped;          /* queued jobs never run (stop deadline, task cancel) */
    uint64_t timer_fires;      /* task occurrences queued (also in submitted) */
    uint64_t skipped_overlaps; /* task occurrences skipped: previous one still queued or running */
    uint64_t skipped_full;     /* periodic occurrences skipped: queue full */
    uint64_t deferred_full;    /* one-shot occurrences postponed: queue full */
    uint32_t queued;           /* jobs waiting for a worker now */
    uint32_t running;          /* jobs running now */
    uint32_t workers;          /* worker threads (as created) */
    uint32_t tasks;            /* task handles not yet freed */
} nr__runtime_stats;

void nr__runtime_stats_get(nr__runtime *rt, nr__runtime_stats *out);

/* true when the calling thread is one of rt's threads (a worker or the timer
 * thread). Lock-free; rt may be any pointer (never dereferenced). */
bool nr__runtime_on_worker(const nr__runtime *rt);

#endif
