/*
 * runtime.c - the background runtime: a bounded job queue served by worker
 * threads, and a timer thread that queues occurrences of scheduled tasks.
 *
 * One mutex (rt->mu) guards everything marked [mu]. Nothing slow happens
 * under it: job functions run and memory is freed with it released. Four
 * condition variables, all on CLOCK_MONOTONIC, hang off it:
 *     work_cv   workers wait for a queued job, or for stop
 *     idle_cv   stop waits for the queue to empty and the workers to go idle
 *     timer_cv  the timer thread waits for the earliest due time, an earlier
 *               task, or stop
 *     task_cv   cancel waits for a task's running fn to return
 *
 * The queue is a ring of `cap` jobs. The timer keeps every armed task in a
 * min-heap ordered by due time (each task knows its heap index, so cancel
 * removes it in O(log n)).
 *
 * Each task has a run state, so that it never overlaps itself and cancel
 * knows what to wait for:
 *
 *     Idle --(timer queues an occurrence)--> Queued --(worker takes it)--> Running
 *       ^                                     |                              |
 *       +-----(cancel removes it, or stop drops it)                          |
 *       +------------------------------------------------(fn returned)-------+
 *
 * Whether the task is armed (in the heap) is separate from its run state: a
 * periodic task stays armed while its occurrence is queued or running, a
 * one-shot task leaves the heap when it fires, and cancel or stop disarms.
 * The transition table below is the only source of truth for run states.
 *
 * Accounting, always true while mu is held:
 *     submitted == completed + dropped + count + running
 *     count <= cap
 *     a task is Queued iff exactly one queued job refers to it
 */
#define _POSIX_C_SOURCE 200809L
#include "manager/runtime.h"

#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "nebula/alloc.h"

typedef enum task_state { TASK_IDLE, TASK_QUEUED, TASK_RUNNING, TASK_STATE_COUNT } task_state;

/* Y = allowed, N = refused; rows are "from", columns are "to". */
#define Y true
#define N false
// clang-format off
/* read only by assertions, so unused in a build without them */
static const bool task_table[TASK_STATE_COUNT][TASK_STATE_COUNT] __attribute__((unused)) = {
    /*                  Idl Que Run */
    [TASK_IDLE]    = {  N,  Y,  N },
    [TASK_QUEUED]  = {  Y,  N,  Y },
    [TASK_RUNNING] = {  Y,  N,  N },
};
// clang-format on
#undef Y
#undef N

#define NOT_IN_HEAP  UINT32_MAX
#define HEAP_INITIAL 16u

struct nr__task {
    nr__runtime *rt;       /* constant */
    void (*fn)(void *arg); /* constant */
    void *arg;             /* constant */
    int64_t period_ns;     /* constant; 0 for a one-shot task */
    int64_t due_ns;        /* [mu] next due time; INT64_MAX: never */
    uint32_t heap_index;   /* [mu] position in rt->heap, or NOT_IN_HEAP */
    task_state state;      /* [mu] see the table */
    bool free_on_return;   /* [mu] cancelled from inside its own fn */
    pthread_t runner;      /* [mu] the worker running fn, while Running */
    nr__task *prev, *next; /* [mu] rt->tasks, every task not yet freed */
};

typedef struct job {
    void (*fn)(void *arg);
    void *arg;
    nr__task *task; /* the task this occurrence belongs to, NULL for a submit */
} job;

struct nr__runtime {
    pthread_mutex_t mu;
    pthread_cond_t work_cv;
    pthread_cond_t idle_cv;
    pthread_cond_t timer_cv;
    pthread_cond_t task_cv;

    bool stopping; /* [mu] set once, by stop or destroy */

    job *ring;        /* [mu] the queue; cap slots, allocated at create */
    uint32_t cap;     /* constant */
    uint32_t head;    /* [mu] index of the oldest queued job */
    uint32_t count;   /* [mu] jobs queued */
    uint32_t running; /* [mu] jobs running */

    nr__task **heap;   /* [mu] armed tasks, min-heap on due_ns */
    uint32_t heap_len; /* [mu] */
    uint32_t heap_cap; /* [mu] */

    nr__task *tasks; /* [mu] every task not yet freed */
    uint32_t ntasks; /* [mu] */

    uint64_t submitted, completed, rejected, dropped;                    /* [mu] */
    uint64_t timer_fires, skipped_overlaps, skipped_full, deferred_full; /* [mu] */

    uint32_t nworkers;                          /* constant */
    pthread_t timer;                            /* constant after create */
    pthread_t workers[NR__RUNTIME_MAX_WORKERS]; /* constant after create */
};

/* The runtime whose thread this is; NULL on every other thread. Each thread
 * reads and writes only its own copy, so no atomic is needed. */
static _Thread_local const nr__runtime *current_rt;

/* ---- small helpers ---------------------------------------------------------------------- */

static void lock(nr__runtime *rt)
{
    int rc = pthread_mutex_lock(&rt->mu);
    assert(rc == 0);
    (void)rc;
}

static void unlock(nr__runtime *rt)
{
    int rc = pthread_mutex_unlock(&rt->mu);
    assert(rc == 0);
    (void)rc;
}

static void wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t at_ns)
{
    if (at_ns == NR_DEADLINE_NEVER) {
        pthread_cond_wait(cv, mu);
        return;
    }
    struct timespec ts;
    ts.tv_sec = (time_t)(at_ns / NR_NS_PER_S);
    ts.tv_nsec = (long)(at_ns % NR_NS_PER_S);
    pthread_cond_timedwait(cv, mu, &ts);
}

/* a + b for b >= 0, saturating at INT64_MAX ("never"). */
static int64_t add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* [mu] Move t to state `to`; an illegal move is a bug in this file. */
static void task_transition(nr__task *t, task_state to)
{
    assert(t->state < TASK_STATE_COUNT && to < TASK_STATE_COUNT);
    assert(task_table[t->state][to]);
    t->state = to;
}

/* [mu] Wake stop when the runtime has gone idle. */
static void note_idle_locked(nr__runtime *rt)
{
    if (rt->stopping && rt->count == 0 && rt->running == 0)
        pthread_cond_broadcast(&rt->idle_cv);
}

/* ---- the queue --------------------------------------------------------------------------- */

static void ring_push(nr__runtime *rt, job j)
{
    assert(rt->count < rt->cap);
    rt->ring[(rt->head + rt->count) % rt->cap] = j;
    rt->count++;
    rt->submitted++;
}

static job ring_pop(nr__runtime *rt)
{
    assert(rt->count > 0);
    job j = rt->ring[rt->head];
    rt->head = (rt->head + 1) % rt->cap;
    rt->count--;
    return j;
}

/* [mu] Take the queued occurrence of t off the queue, keeping the order of
 * the others. */
static void ring_remove_task(nr__runtime *rt, const nr__task *t)
{
    uint32_t i = 0;
    while (i < rt->count && rt->ring[(rt->head + i) % rt->cap].task != t)
        i++;
    assert(i < rt->count);
    for (; i + 1 < rt->count; i++)
        rt->ring[(rt->head + i) % rt->cap] = rt->ring[(rt->head + i + 1) % rt->cap];
    rt->count--;
}

/* [mu] Drop every queued job: none of them will be called. */
static void drop_queue_locked(nr__runtime *rt)
{
    while (rt->count > 0) {
        job j = ring_pop(rt);
        if (j.task)
            task_transition(j.task, TASK_IDLE);
        rt->dropped++;
    }
    note_idle_locked(rt);
}

/* ---- the timer heap ---------------------------------------------------------------------- */

static void heap_set(nr__runtime *rt, uint32_t i, nr__task *t)
{
    rt->heap[i] = t;
    t->heap_index = i;
}

static void heap_sift_up(nr__runtime *rt, uint32_t i)
{
    nr__task *t = rt->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (rt->heap[parent]->due_ns <= t->due_ns)
            break;
        heap_set(rt, i, rt->heap[parent]);
        i = parent;
    }
    heap_set(rt, i, t);
}

static void heap_sift_down(nr__runtime *rt, uint32_t i)
{
    nr__task *t = rt->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= rt->heap_len)
            break;
        if (child + 1 < rt->heap_len && rt->heap[child + 1]->due_ns < rt->heap[child]->due_ns)
            child++;
        if (t->due_ns <= rt->heap[child]->due_ns)
            break;
        heap_set(rt, i, rt->heap[child]);
        i = child;
    }
    heap_set(rt, i, t);
}

/* [mu] The caller made room (heap_len < heap_cap). */
static void heap_push(nr__runtime *rt, nr__task *t)
{
    assert(rt->heap_len < rt->heap_cap);
    heap_set(rt, rt->heap_len++, t);
    heap_sift_up(rt, t->heap_index);
}

static void heap_remove(nr__runtime *rt, nr__task *t)
{
    uint32_t i = t->heap_index;
    assert(i < rt->heap_len && rt->heap[i] == t);
    t->heap_index = NOT_IN_HEAP;
    nr__task *last = rt->heap[--rt->heap_len];
    if (last == t)
        return;
    heap_set(rt, i, last);
    heap_sift_up(rt, i);
    heap_sift_down(rt, last->heap_index);
}

/* ---- threads ----------------------------------------------------------------------------- */

static void *worker_main(void *p)
{
    nr__runtime *rt = p;
    current_rt = rt;
    lock(rt);
    for (;;) {
        while (rt->count == 0 && !rt->stopping)
            pthread_cond_wait(&rt->work_cv, &rt->mu);
        if (rt->count == 0)
            break; /* stopping, and nothing left to drain */
        job j = ring_pop(rt);
        rt->running++;
        if (j.task) {
            task_transition(j.task, TASK_RUNNING);
            j.task->runner = pthread_self();
        }
        unlock(rt);

        j.fn(j.arg); /* no runtime lock held */

        lock(rt);
        rt->running--;
        rt->completed++;
        nr__task *dead = NULL;
        if (j.task) {
            task_transition(j.task, TASK_IDLE);
            if (j.task->free_on_return) {
                dead = j.task;
                if (dead->prev)
                    dead->prev->next = dead->next;
                else
                    rt->tasks = dead->next;
                if (dead->next)
                    dead->next->prev = dead->prev;
                rt->ntasks--;
            }
            pthread_cond_broadcast(&rt->task_cv);
        }
        note_idle_locked(rt);
        if (dead) {
            unlock(rt);
            nr_free(dead);
            lock(rt);
        }
    }
    unlock(rt);
    return NULL;
}

/* [mu] t (armed) is due at `now`: queue an occurrence, skip it, or defer it,
 * then re-arm or disarm it. */
static void fire_locked(nr__runtime *rt, nr__task *t, int64_t now)
{
    bool periodic = t->period_ns > 0;
    if (t->state != TASK_IDLE) {
        rt->skipped_overlaps++;
    } else if (rt->count == rt->cap) {
        if (!periodic) {
            rt->deferred_full++;
            t->due_ns = add_sat(now, NR__RUNTIME_RETRY_NS);
            heap_sift_down(rt, t->heap_index);
            return;
        }
        rt->skipped_full++;
    } else {
        job j = {t->fn, t->arg, t};
        ring_push(rt, j);
        task_transition(t, TASK_QUEUED);
        rt->timer_fires++;
        pthread_cond_signal(&rt->work_cv);
    }
    if (!periodic) {
        heap_remove(rt, t);
        return;
    }
    /* Fixed rate: the next due time after now. The occurrences in between
     * came due while the timer was late; each would have found what this
     * one left behind (its own run queued or running, or a full queue). */
    int64_t late = (now - t->due_ns) / t->period_ns;
    int64_t base = t->due_ns + late * t->period_ns; /* <= now, no overflow */
    if (late > 0) {
        if (t->state != TASK_IDLE)
            rt->skipped_overlaps += (uint64_t)late;
        else
            rt->skipped_full += (uint64_t)late;
    }
    t->due_ns = add_sat(base, t->period_ns);
    heap_sift_down(rt, t->heap_index);
}

static void *timer_main(void *p)
{
    nr__runtime *rt = p;
    current_rt = rt;
    lock(rt);
    while (!rt->stopping) {
        if (rt->heap_len == 0) {
            pthread_cond_wait(&rt->timer_cv, &rt->mu);
            continue;
        }
        nr__task *t = rt->heap[0];
        int64_t now = nr_now_ns();
        if (t->due_ns > now) {
            wait_until(&rt->timer_cv, &rt->mu, t->due_ns);
            continue;
        }
        fire_locked(rt, t, now);
        /* Let workers and submitters in between two fires of a long burst. */
        unlock(rt);
        lock(rt);
    }
    unlock(rt);
    return NULL;
}

/* [mu] Refuse new work, stop the timer and wake everyone who must notice. */
static void begin_stop_locked(nr__runtime *rt)
{
    if (rt->stopping)
        return;
    rt->stopping = true;
    while (rt->heap_len > 0)
        heap_remove(rt, rt->heap[rt->heap_len - 1]);
    pthread_cond_broadcast(&rt->work_cv);
    pthread_cond_broadcast(&rt->timer_cv);
    note_idle_locked(rt);
}

/* ---- create and destroy ------------------------------------------------------------------ */

static int init_cond(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}

/* Initialise mu and the condition variables; on failure none is left. */
static int init_sync(nr__runtime *rt)
{
    pthread_cond_t *cvs[] = {&rt->work_cv, &rt->idle_cv, &rt->timer_cv, &rt->task_cv};
    const size_t ncv = sizeof(cvs) / sizeof(cvs[0]);
    int rc = pthread_mutex_init(&rt->mu, NULL);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < ncv; i++) {
        rc = init_cond(cvs[i]);
        if (rc != 0) {
            while (i-- > 0)
                pthread_cond_destroy(cvs[i]);
            pthread_mutex_destroy(&rt->mu);
            return rc;
        }
    }
    return 0;
}

static void destroy_sync(nr__runtime *rt)
{
    pthread_cond_destroy(&rt->task_cv);
    pthread_cond_destroy(&rt->timer_cv);
    pthread_cond_destroy(&rt->idle_cv);
    pthread_cond_destroy(&rt->work_cv);
    pthread_mutex_destroy(&rt->mu);
}

/* Stop and join the threads started so far (timer first when started). */
static void stop_started(nr__runtime *rt, bool timer_started, uint32_t workers_started)
{
    lock(rt);
    begin_stop_locked(rt);
    unlock(rt);
    if (timer_started)
        pthread_join(rt->timer, NULL);
    for (uint32_t i = 0; i < workers_started; i++)
        pthread_join(rt->workers[i], NULL);
}

int nr__runtime_create(nr__runtime **out, uint32_t workers, uint32_t queue_capacity, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "runtime: out pointer is NULL");
    if (workers < 1 || workers > NR__RUNTIME_MAX_WORKERS)
        return nr_error_set(err, NR_EINVAL, NULL, "runtime: workers is %u, must be 1..%u", workers,
                            NR__RUNTIME_MAX_WORKERS);
    if (queue_capacity < 1 || queue_capacity > NR__RUNTIME_MAX_QUEUE)
        return nr_error_set(err, NR_EINVAL, NULL, "runtime: queue_capacity is %u, must be 1..%u",
                            queue_capacity, NR__RUNTIME_MAX_QUEUE);

    nr__runtime *rt = nr_malloc(sizeof(*rt));
    if (!rt)
        return nr_error_set(err, NR_ENOMEM, NULL, "runtime: out of memory");
    memset(rt, 0, sizeof(*rt));
    rt->cap = queue_capacity;
    rt->nworkers = workers;
    rt->ring = nr_malloc((size_t)queue_capacity * sizeof(*rt->ring));
    if (!rt->ring) {
        nr_free(rt);
        return nr_error_set(err, NR_ENOMEM, NULL, "runtime: out of memory for a queue of %u jobs",
                            queue_capacity);
    }
    int rc = init_sync(rt);
    if (rc != 0) {
        nr_free(rt->ring);
        nr_free(rt);
        return nr_error_set_cause(err, NR_EINIT, NR_OK, rc, NULL,
                                  "runtime: cannot create its lock (error %d)", rc);
    }

    /* The runtime's threads inherit a full signal mask: the application's
     * signal handlers never run on them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    const char *what = "timer";
    uint32_t started = 0;
    rc = pthread_create(&rt->timer, NULL, timer_main, rt);
    bool timer_started = rc == 0;
    if (timer_started) {
        what = "worker";
        for (; started < workers; started++) {
            rc = pthread_create(&rt->workers[started], NULL, worker_main, rt);
            if (rc != 0)
                break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (rc != 0) {
        stop_started(rt, timer_started, started);
        destroy_sync(rt);
        nr_free(rt->ring);
        nr_free(rt);
        return nr_error_set_cause(err, NR_EINIT, NR_OK, rc, NULL,
                                  "runtime: cannot start the %s thread (%u of %u workers "
                                  "started; error %d)",
                                  what, started, workers, rc);
    }
    *out = rt;
    return NR_OK;
}

void nr__runtime_destroy(nr__runtime *rt)
{
    if (!rt)
        return;
    assert(!nr__runtime_on_worker(rt) && "nr__runtime_destroy called from a runtime thread");
    lock(rt);
    begin_stop_locked(rt);
    drop_queue_locked(rt);
    unlock(rt);
    pthread_join(rt->timer, NULL);
    for (uint32_t i = 0; i < rt->nworkers; i++)
        pthread_join(rt->workers[i], NULL);
    /* Every thread is gone: nothing else touches rt any more. */
    assert(rt->count == 0 && rt->running == 0);
    nr__task *t = rt->tasks;
    while (t) {
        nr__task *next = t->next;
        nr_free(t);
        t = next;
    }
    nr_free(rt->heap);
    nr_free(rt->ring);
    destroy_sync(rt);
    nr_free(rt);
}

static int stop_impl(nr__runtime *rt, nr_deadline deadline, bool drop, nr_error *err);

int nr__runtime_stop(nr__runtime *rt, nr_deadline deadline, nr_error *err)
{
    return stop_impl(rt, deadline, true, err);
}

int nr__runtime_stop_keep(nr__runtime *rt, nr_deadline deadline, nr_error *err)
{
    return stop_impl(rt, deadline, false, err);
}

static int stop_impl(nr__runtime *rt, nr_deadline deadline, bool drop, nr_error *err)
{
    if (!rt)
        return nr_error_set(err, NR_EINVAL, NULL, "runtime: stop of a NULL runtime");
    assert(!nr__runtime_on_worker(rt) && "nr__runtime_stop called from a runtime thread");
    int64_t at = nr_deadline_is_set(deadline) ? deadline.at_ns : NR_DEADLINE_NEVER;
    lock(rt);
    begin_stop_locked(rt);
    while ((rt->count > 0 || rt->running > 0) && !nr_deadline_expired(deadline))
        wait_until(&rt->idle_cv, &rt->mu, at);
    if (rt->count == 0 && rt->running == 0) {
        unlock(rt);
        return NR_OK;
    }
    uint32_t queued = rt->count, running = rt->running;
    if (!drop) {
        unlock(rt);
        return nr_error_set(err, NR_ETIMEDOUT, NULL,
                            "runtime: stop deadline passed; %u queued job(s) still to run, %u "
                            "job(s) running",
                            queued, running);
    }
    drop_queue_locked(rt);
    unlock(rt);
    return nr_error_set(err, NR_ETIMEDOUT, NULL,
                        "runtime: stop deadline passed; %u queued job(s) dropped, %u job(s) "
                        "still running",
                        queued, running);
}

/* ---- jobs and tasks ---------------------------------------------------------------------- */

int nr__runtime_submit(nr__runtime *rt, void (*fn)(void *arg), void *arg, nr_error *err)
{
    if (!rt || !fn)
        return nr_error_set(err, NR_EINVAL, NULL, "runtime: submit with a NULL %s",
                            rt ? "function" : "runtime");
    lock(rt);
    if (rt->stopping) {
        rt->rejected++;
        unlock(rt);
        return nr_error_set(err, NR_ESHUTDOWN, NULL, "runtime: shutting down, job refused");
    }
    if (rt->count == rt->cap) {
        rt->rejected++;
        uint32_t cap = rt->cap;
        unlock(rt);
        return nr_error_set(err, NR_EEXHAUSTED, NULL,
                            "runtime: the job queue is full (capacity %u)", cap);
    }
    job j = {fn, arg, NULL};
    ring_push(rt, j);
    pthread_cond_signal(&rt->work_cv);
    unlock(rt);
    return NR_OK;
}

int nr__runtime_schedule(nr__runtime *rt, int64_t delay_ns, int64_t period_ns,
                         void (*fn)(void *arg), void *arg, nr__task **out, nr_error *err)
{
    if (!rt || !fn || !out)
        return nr_error_set(err, NR_EINVAL, NULL, "runtime: schedule with a NULL %s",
                            !rt   ? "runtime"
                            : !fn ? "function"
                                  : "out pointer");
    if (delay_ns < 0)
        return nr_error_set(err, NR_EINVAL, NULL, "runtime: delay_ns is %lld, must be >= 0",
                            (long long)delay_ns);
    if (period_ns != 0 && period_ns < NR__RUNTIME_MIN_PERIOD_NS)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "runtime: period_ns is %lld, must be 0 (one-shot) or >= %lld",
                            (long long)period_ns, (long long)NR__RUNTIME_MIN_PERIOD_NS);
    int64_t due = add_sat(nr_now_ns(), delay_ns);

    nr__task *t = nr_malloc(sizeof(*t));
    if (!t)
        return nr_error_set(err, NR_ENOMEM, NULL, "runtime: out of memory for a task");
    memset(t, 0, sizeof(*t));
    t->rt = rt;
    t->fn = fn;
    t->arg = arg;
    t->period_ns = period_ns;
    t->due_ns = due;
    t->heap_index = NOT_IN_HEAP;
    t->state = TASK_IDLE;

    /* Grow the heap with the lock released; whatever this replaces (or a
     * block that lost a race with another grower) is freed after unlock. */
    nr__task **garbage = NULL;
    lock(rt);
    while (!rt->stopping && rt->heap_len == rt->heap_cap) {
        uint32_t cap = rt->heap_cap;
        size_t want = cap ? (size_t)cap * 2 : HEAP_INITIAL;
        unlock(rt);
        nr_free(garbage);
        garbage = NULL;
        nr__task **bigger = want <= UINT32_MAX ? nr_malloc(want * sizeof(*bigger)) : NULL;
        if (!bigger) {
            nr_free(t);
            return nr_error_set(err, NR_ENOMEM, NULL,
                                "runtime: out of memory for a timer heap of %zu tasks", want);
        }
        lock(rt);
        if (rt->heap_cap == cap) {
            if (rt->heap_len)
                memcpy(bigger, rt->heap, rt->heap_len * sizeof(*bigger));
            garbage = rt->heap;
            rt->heap = bigger;
            rt->heap_cap = (uint32_t)want;
        } else {
            garbage = bigger;
        }
    }
    if (rt->stopping) {
        unlock(rt);
        nr_free(garbage);
        nr_free(t);
        return nr_error_set(err, NR_ESHUTDOWN, NULL, "runtime: shutting down, task refused");
    }
    t->next = rt->tasks;
    if (rt->tasks)
        rt->tasks->prev = t;
    rt->tasks = t;
    rt->ntasks++;
    heap_push(rt, t);
    if (t->heap_index == 0)
        pthread_cond_signal(&rt->timer_cv); /* earlier than what the timer waits for */
    /* Written under mu, so a fn that reads the handle through its argument
     * sees it: the worker takes the occurrence under mu after this. */
    *out = t;
    unlock(rt);
    nr_free(garbage);
    return NR_OK;
}

void nr__task_cancel(nr__runtime *rt, nr__task *task)
{
    if (!task)
        return;
    assert(rt && task->rt == rt);
    lock(rt);
    assert(!task->free_on_return && "task cancelled twice");
    if (task->heap_index != NOT_IN_HEAP)
        heap_remove(rt, task);
    if (task->state == TASK_QUEUED) {
        ring_remove_task(rt, task);
        task_transition(task, TASK_IDLE);
        rt->dropped++;
        note_idle_locked(rt);
    }
    if (task->state == TASK_RUNNING && pthread_equal(task->runner, pthread_self())) {
        /* From inside its own fn: the worker frees it when fn returns. */
        task->free_on_return = true;
        unlock(rt);
        return;
    }
    while (task->state == TASK_RUNNING)
        pthread_cond_wait(&rt->task_cv, &rt->mu);
    if (task->prev)
        task->prev->next = task->next;
    else
        rt->tasks = task->next;
    if (task->next)
        task->next->prev = task->prev;
    rt->ntasks--;
    unlock(rt);
    nr_free(task);
}

void nr__runtime_stats_get(nr__runtime *rt, nr__runtime_stats *out)
{
    lock(rt);
    out->submitted = rt->submitted;
    out->completed = rt->completed;
    out->rejected = rt->rejected;
    out->dropped = rt->dropped;
    out->timer_fires = rt->timer_fires;
    out->skipped_overlaps = rt->skipped_overlaps;
    out->skipped_full = rt->skipped_full;
    out->deferred_full = rt->deferred_full;
    out->queued = rt->count;
    out->running = rt->running;
    out->workers = rt->nworkers;
    out->tasks = rt->ntasks;
    assert(out->submitted == out->completed + out->dropped + out->queued + out->running);
    unlock(rt);
}

bool nr__runtime_on_worker(const nr__runtime *rt)
{
    return rt != NULL && current_rt == rt;
}
