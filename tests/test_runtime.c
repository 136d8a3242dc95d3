/*
 * test_runtime.c - unit and stress tests of the background runtime (worker
 * pool, bounded queue, timer thread, tasks, stop and destroy).
 *
 * Atomics in this file use the default sequentially consistent ordering
 * unless a comment says otherwise: the counters are read by the test thread
 * while workers write them, and seq_cst keeps the reasoning simple.
 * No assertion here bounds how long anything takes; the waits below give up
 * after HANG_GUARD_NS only so that a broken runtime fails instead of hanging.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "manager/runtime.h"
#include "nebula/alloc.h"
#include "nebula/time.h"
#include "testutil.h"

#define HANG_GUARD_NS (60 * NR_NS_PER_S)

#define WAIT_UNTIL(cond)                                                                           \
    do {                                                                                           \
        int64_t until_ = nr_now_ns() + HANG_GUARD_NS;                                              \
        while (!(cond)) {                                                                          \
            if (nr_now_ns() > until_)                                                              \
                fail_msg("gave up waiting for: %s", #cond);                                        \
            nr_sleep_ns(NR_NS_PER_MS / 2);                                                         \
        }                                                                                          \
    } while (0)

static nr__runtime_stats stats(nr__runtime *rt)
{
    nr__runtime_stats s;
    nr__runtime_stats_get(rt, &s);
    assert_int_equal(s.submitted, s.completed + s.dropped + s.queued + s.running);
    return s;
}

static nr__runtime *make_runtime(uint32_t workers, uint32_t cap)
{
    nr__runtime *rt = NULL;
    nr_error err = {0};
    int rc = nr__runtime_create(&rt, workers, cap, &err);
    if (rc != NR_OK)
        fail_msg("nr__runtime_create: %s", err.message);
    assert_non_null(rt);
    return rt;
}

static void stop_ok(nr__runtime *rt)
{
    nr_error err = {0};
    int rc = nr__runtime_stop(rt, nr_deadline_in_ns(HANG_GUARD_NS), &err);
    if (rc != NR_OK)
        fail_msg("nr__runtime_stop: %s", err.message);
}

/* ---- jobs used by the tests ---- */

static void count_job(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void noop_job(void *arg)
{
    (void)arg;
}

/* A job that blocks until the gate opens. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open; /* [mu] */
    atomic_int entered;
    atomic_int left;
} gate;

static void gate_init(gate *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void gate_fini(gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_job(void *arg)
{
    gate *g = arg;
    atomic_fetch_add(&g->entered, 1);
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->left, 1);
}

/* Occupy the only worker of rt with a gate job, and wait until it runs. */
static void block_worker(nr__runtime *rt, gate *g)
{
    gate_init(g);
    assert_int_equal(nr__runtime_submit(rt, gate_job, g, NULL), NR_OK);
    WAIT_UNTIL(atomic_load(&g->entered) == 1);
}

typedef struct opener {
    gate *g;
    int64_t delay_ns;
} opener;

static void *opener_main(void *arg)
{
    opener *o = arg;
    nr_sleep_ns(o->delay_ns);
    gate_open(o->g);
    return NULL;
}

/* ---- create and argument checks ---- */

static void test_create_rejects_bad_arguments(void **state)
{
    (void)state;
    nr__runtime *rt = NULL;
    nr_error err = {0};
    assert_int_equal(nr__runtime_create(NULL, 1, 1, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "out pointer");
    assert_int_equal(nr__runtime_create(&rt, 0, 8, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "workers is 0, must be 1..64");
    assert_int_equal(nr__runtime_create(&rt, 65, 8, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "workers is 65");
    assert_int_equal(nr__runtime_create(&rt, 1, 0, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "queue_capacity is 0, must be 1..65536");
    assert_int_equal(nr__runtime_create(&rt, 1, 65537, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "queue_capacity is 65537");
    assert_null(rt);

    /* Both ends of both ranges are accepted. */
    rt = make_runtime(64, 65536);
    assert_int_equal(stats(rt).workers, 64);
    nr__runtime_destroy(rt);
    rt = make_runtime(1, 1);
    assert_int_equal(stats(rt).workers, 1);

    /* submit and schedule check their arguments and change nothing. */
    nr__task *t = NULL;
    assert_int_equal(nr__runtime_submit(NULL, noop_job, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "NULL runtime");
    assert_int_equal(nr__runtime_submit(rt, NULL, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "NULL function");
    assert_int_equal(nr__runtime_schedule(rt, 0, 0, NULL, NULL, &t, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "NULL function");
    assert_int_equal(nr__runtime_schedule(rt, 0, 0, noop_job, NULL, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "NULL out pointer");
    assert_int_equal(nr__runtime_schedule(rt, -1, 0, noop_job, NULL, &t, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "delay_ns is -1");
    assert_int_equal(nr__runtime_schedule(rt, 0, -5, noop_job, NULL, &t, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "period_ns is -5, must be 0 (one-shot) or >= 100000");
    assert_int_equal(
        nr__runtime_schedule(rt, 0, NR__RUNTIME_MIN_PERIOD_NS - 1, noop_job, NULL, &t, &err),
        NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "period_ns is 99999");
    assert_null(t);
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.submitted, 0);
    assert_int_equal(s.rejected, 0);
    assert_int_equal(s.tasks, 0);
    nr__runtime_destroy(rt);
    nr__runtime_destroy(NULL);
}

/* ---- submit ---- */

#define MANY_JOBS 1000

static void test_submit_runs_every_job_exactly_once(void **state)
{
    (void)state;
    static atomic_int runs[MANY_JOBS];
    for (int i = 0; i < MANY_JOBS; i++)
        atomic_init(&runs[i], 0);
    nr__runtime *rt = make_runtime(4, MANY_JOBS);
    for (int i = 0; i < MANY_JOBS; i++)
        assert_int_equal(nr__runtime_submit(rt, count_job, &runs[i], NULL), NR_OK);
    stop_ok(rt);
    for (int i = 0; i < MANY_JOBS; i++)
        assert_int_equal(atomic_load(&runs[i]), 1);
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.submitted, MANY_JOBS);
    assert_int_equal(s.completed, MANY_JOBS);
    assert_int_equal(s.rejected, 0);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.running, 0);
    nr__runtime_destroy(rt);
}

#define BOUND 8

static void test_queue_bound(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(1, BOUND);
    gate g;
    block_worker(rt, &g);
    atomic_int accepted = 0, refused = 0;
    nr_error err = {0};
    for (int i = 0; i < BOUND; i++)
        assert_int_equal(nr__runtime_submit(rt, count_job, &accepted, &err), NR_OK);
    assert_int_equal(nr__runtime_submit(rt, count_job, &refused, &err), NR_EEXHAUSTED);
    NR_ASSERT_ERR(err, NR_EEXHAUSTED, "queue is full (capacity 8)");
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.queued, BOUND);
    assert_int_equal(s.running, 1);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(s.submitted, BOUND + 1);

    gate_open(&g);
    stop_ok(rt);
    assert_int_equal(atomic_load(&accepted), BOUND);
    assert_int_equal(atomic_load(&refused), 0); /* a refused job is never called */
    s = stats(rt);
    assert_int_equal(s.completed, BOUND + 1);
    assert_int_equal(s.rejected, 1);
    nr__runtime_destroy(rt);
    gate_fini(&g);
}

/* ---- scheduled tasks ---- */

typedef struct stamp_rec {
    atomic_int runs;
    _Atomic int64_t ran_at;
} stamp_rec;

static void stamp_job(void *arg)
{
    stamp_rec *r = arg;
    atomic_store(&r->ran_at, nr_now_ns());
    atomic_fetch_add(&r->runs, 1);
}

static void test_one_shot_runs_once_not_before_its_delay(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(2, 16);
    stamp_rec r = {0};
    const int64_t delay = 20 * NR_NS_PER_MS;
    nr__task *t = NULL;
    int64_t start = nr_now_ns();
    assert_int_equal(nr__runtime_schedule(rt, delay, 0, stamp_job, &r, &t, NULL), NR_OK);
    assert_non_null(t);
    WAIT_UNTIL(atomic_load(&r.runs) == 1);
    assert_true(atomic_load(&r.ran_at) - start >= delay);
    nr_sleep_ns(3 * delay);
    assert_int_equal(atomic_load(&r.runs), 1);
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.timer_fires, 1);
    assert_int_equal(s.completed, 1);
    assert_int_equal(s.tasks, 1); /* the handle lives until cancel */
    nr__task_cancel(rt, t);
    assert_int_equal(stats(rt).tasks, 0);
    assert_int_equal(atomic_load(&r.runs), 1);
    nr__runtime_destroy(rt);
}

typedef struct overlap_rec {
    nr__runtime *rt;
    atomic_int in_flight;
    atomic_int overlaps;
    atomic_int runs;
    atomic_bool finish;
} overlap_rec;

/* Stays running until the timer has skipped an occurrence of this task
 * because of it (or until the test finishes), so every run spans a due time. */
static void overlap_job(void *arg)
{
    overlap_rec *r = arg;
    if (atomic_fetch_add(&r->in_flight, 1) != 0)
        atomic_fetch_add(&r->overlaps, 1);
    atomic_fetch_add(&r->runs, 1);
    nr__runtime_stats s;
    nr__runtime_stats_get(r->rt, &s);
    uint64_t skipped = s.skipped_overlaps;
    int64_t until = nr_now_ns() + HANG_GUARD_NS;
    while (!atomic_load(&r->finish) && nr_now_ns() < until) {
        nr_sleep_ns(NR_NS_PER_MS / 2);
        nr__runtime_stats_get(r->rt, &s);
        if (s.skipped_overlaps > skipped)
            break;
    }
    atomic_fetch_sub(&r->in_flight, 1);
}

static void test_periodic_runs_repeatedly_and_never_overlaps(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(4, 16);
    overlap_rec r = {.rt = rt};
    nr__task *t = NULL;
    assert_int_equal(nr__runtime_schedule(rt, 0, 2 * NR_NS_PER_MS, overlap_job, &r, &t, NULL),
                     NR_OK);
    WAIT_UNTIL(atomic_load(&r.runs) >= 5);
    atomic_store(&r.finish, true);
    nr__task_cancel(rt, t);
    assert_int_equal(atomic_load(&r.in_flight), 0);
    assert_int_equal(atomic_load(&r.overlaps), 0);
    int runs = atomic_load(&r.runs);
    nr__runtime_stats s = stats(rt);
    /* each run but the last ended only after an occurrence was skipped */
    assert_true(s.skipped_overlaps >= (uint64_t)runs - 1);
    assert_int_equal(s.timer_fires, s.completed + s.dropped);
    assert_int_equal(s.tasks, 0);
    nr__runtime_destroy(rt);
}

static void test_full_queue_defers_one_shot_and_skips_periodic(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(1, 1);
    gate g;
    block_worker(rt, &g);
    atomic_int filler = 0, once = 0, every = 0;
    assert_int_equal(nr__runtime_submit(rt, count_job, &filler, NULL), NR_OK); /* queue full */
    nr__task *t_once = NULL, *t_every = NULL;
    assert_int_equal(nr__runtime_schedule(rt, 0, 0, count_job, &once, &t_once, NULL), NR_OK);
    assert_int_equal(nr__runtime_schedule(rt, 0, NR_NS_PER_MS, count_job, &every, &t_every, NULL),
                     NR_OK);
    WAIT_UNTIL(stats(rt).deferred_full >= 1 && stats(rt).skipped_full >= 1);
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.timer_fires, 0);
    assert_int_equal(s.queued, 1);
    assert_int_equal(atomic_load(&once), 0);
    nr__task_cancel(rt, t_every);
    gate_open(&g);
    /* the deferred one-shot is not lost: it runs once the queue has room */
    WAIT_UNTIL(atomic_load(&once) == 1);
    stop_ok(rt);
    s = stats(rt);
    assert_int_equal(atomic_load(&filler), 1);
    assert_int_equal(atomic_load(&once), 1);
    assert_int_equal(s.timer_fires, 1);
    assert_int_equal(s.completed, 3);
    nr__task_cancel(rt, t_once);
    nr__runtime_destroy(rt);
    gate_fini(&g);
}

typedef struct busy_rec {
    atomic_int in_flight;
    atomic_int runs;
    atomic_int overlaps;
} busy_rec;

static void busy_job(void *arg)
{
    busy_rec *r = arg;
    if (atomic_fetch_add(&r->in_flight, 1) != 0)
        atomic_fetch_add(&r->overlaps, 1);
    atomic_fetch_add(&r->runs, 1);
    nr_sleep_ns(2 * NR_NS_PER_MS);
    atomic_fetch_sub(&r->in_flight, 1);
}

static void test_cancel_stops_a_periodic_task(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(2, 16);
    busy_rec r = {0};
    nr__task *t = NULL;
    assert_int_equal(nr__runtime_schedule(rt, 0, NR_NS_PER_MS, busy_job, &r, &t, NULL), NR_OK);
    WAIT_UNTIL(atomic_load(&r.runs) >= 3);
    nr__task_cancel(rt, t);
    /* not running now, and never again */
    assert_int_equal(atomic_load(&r.in_flight), 0);
    int runs = atomic_load(&r.runs);
    nr_sleep_ns(30 * NR_NS_PER_MS);
    assert_int_equal(atomic_load(&r.runs), runs);
    assert_int_equal(atomic_load(&r.overlaps), 0);
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.tasks, 0);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.running, 0);
    nr__runtime_destroy(rt);
}

static void test_cancel_takes_a_queued_occurrence_off_the_queue(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(1, 16);
    gate g;
    block_worker(rt, &g);
    atomic_int runs = 0;
    nr__task *t = NULL;
    assert_int_equal(nr__runtime_schedule(rt, 0, 0, count_job, &runs, &t, NULL), NR_OK);
    WAIT_UNTIL(stats(rt).queued == 1); /* the timer queued it behind the gate */
    nr__task_cancel(rt, t);
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.dropped, 1);
    assert_int_equal(s.timer_fires, 1);
    assert_int_equal(s.tasks, 0);
    gate_open(&g);
    stop_ok(rt);
    assert_int_equal(atomic_load(&runs), 0);
    s = stats(rt);
    assert_int_equal(s.completed, 1); /* only the gate job */
    nr__runtime_destroy(rt);
    gate_fini(&g);
}

static void test_cancel_before_due_never_runs(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(1, 4);
    atomic_int runs = 0;
    nr__task *once = NULL, *every = NULL;
    assert_int_equal(nr__runtime_schedule(rt, 3600 * NR_NS_PER_S, 0, count_job, &runs, &once, NULL),
                     NR_OK);
    assert_int_equal(
        nr__runtime_schedule(rt, 3600 * NR_NS_PER_S, NR_NS_PER_MS, count_job, &runs, &every, NULL),
        NR_OK);
    assert_int_equal(stats(rt).tasks, 2);
    nr__task_cancel(rt, once);
    nr__task_cancel(rt, every);
    nr__task_cancel(rt, NULL); /* no-op */
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.tasks, 0);
    assert_int_equal(s.timer_fires, 0);
    stop_ok(rt);
    assert_int_equal(atomic_load(&runs), 0);
    nr__runtime_destroy(rt);
}

static void test_cancel_waits_for_the_running_job(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(2, 4);
    gate g;
    gate_init(&g);
    nr__task *t = NULL;
    assert_int_equal(nr__runtime_schedule(rt, 0, 0, gate_job, &g, &t, NULL), NR_OK);
    WAIT_UNTIL(atomic_load(&g.entered) == 1);
    opener o = {&g, 20 * NR_NS_PER_MS};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, opener_main, &o), 0);
    nr__task_cancel(rt, t);
    /* cancel returned only after the job did */
    assert_int_equal(atomic_load(&g.left), 1);
    pthread_join(th, NULL);
    assert_int_equal(stats(rt).tasks, 0);
    nr__runtime_destroy(rt);
    gate_fini(&g);
}

typedef struct self_rec {
    nr__runtime *rt;
    nr__task *task; /* written by schedule under the runtime lock, before the first run */
    int cancel_at;
    atomic_int runs;
} self_rec;

static void self_cancel_job(void *arg)
{
    self_rec *r = arg;
    if (atomic_fetch_add(&r->runs, 1) + 1 == r->cancel_at) {
        nr__task_cancel(r->rt, r->task);
        /* outlive a few periods: no further occurrence may start meanwhile */
        nr_sleep_ns(5 * NR_NS_PER_MS);
    }
}

static void test_cancel_from_inside_the_job(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(4, 16);
    self_rec periodic = {.rt = rt, .cancel_at = 3};
    self_rec once = {.rt = rt, .cancel_at = 1};
    assert_int_equal(
        nr__runtime_schedule(rt, 0, NR_NS_PER_MS, self_cancel_job, &periodic, &periodic.task, NULL),
        NR_OK);
    assert_int_equal(nr__runtime_schedule(rt, 0, 0, self_cancel_job, &once, &once.task, NULL),
                     NR_OK);
    /* the workers free both tasks once their jobs return */
    WAIT_UNTIL(stats(rt).tasks == 0);
    nr_sleep_ns(20 * NR_NS_PER_MS);
    assert_int_equal(atomic_load(&periodic.runs), 3);
    assert_int_equal(atomic_load(&once.runs), 1);
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.tasks, 0);
    assert_int_equal(s.running, 0);
    stop_ok(rt);
    nr__runtime_destroy(rt);
}

/* ---- stop and destroy ---- */

typedef struct probe_rec {
    nr__runtime *rt;
    atomic_int rc;
} probe_rec;

static void probe_job(void *arg)
{
    probe_rec *p = arg;
    atomic_store(&p->rc, nr__runtime_submit(p->rt, noop_job, NULL, NULL));
}

typedef struct late_submitter {
    nr__runtime *rt;
    gate *g;
    atomic_int accepted;
} late_submitter;

/* Submits until stop has begun (proven by NR_ESHUTDOWN), then opens the gate. */
static void *late_submitter_main(void *arg)
{
    late_submitter *l = arg;
    for (;;) {
        int rc = nr__runtime_submit(l->rt, noop_job, NULL, NULL);
        if (rc == NR_ESHUTDOWN)
            break;
        if (rc == NR_OK)
            atomic_fetch_add(&l->accepted, 1);
        nr_sleep_ns(NR_NS_PER_MS);
    }
    gate_open(l->g);
    return NULL;
}

static void test_stop_drains_queued_jobs(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(1, 4096);
    gate g;
    block_worker(rt, &g);
    atomic_int runs[10];
    for (int i = 0; i < 10; i++) {
        atomic_init(&runs[i], 0);
        assert_int_equal(nr__runtime_submit(rt, count_job, &runs[i], NULL), NR_OK);
    }
    probe_rec probe = {.rt = rt, .rc = 1};
    assert_int_equal(nr__runtime_submit(rt, probe_job, &probe, NULL), NR_OK);
    late_submitter l = {.rt = rt, .g = &g};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, late_submitter_main, &l), 0);
    stop_ok(rt); /* the gate opens only once this has begun */
    pthread_join(th, NULL);
    for (int i = 0; i < 10; i++)
        assert_int_equal(atomic_load(&runs[i]), 1);
    /* the probe ran after stop began: its submit was refused */
    assert_int_equal(atomic_load(&probe.rc), NR_ESHUTDOWN);
    assert_int_equal(atomic_load(&g.left), 1);
    nr__runtime_stats s = stats(rt);
    uint64_t expect = 1 + 10 + 1 + (uint64_t)atomic_load(&l.accepted);
    assert_int_equal(s.submitted, expect);
    assert_int_equal(s.completed, expect);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.rejected, 2); /* the probe's and the late submitter's last */
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.running, 0);
    nr__runtime_destroy(rt);
    gate_fini(&g);
}

static void test_stop_past_deadline_drops_queued_jobs(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(1, 16);
    gate g;
    block_worker(rt, &g);
    atomic_int runs = 0;
    for (int i = 0; i < 5; i++)
        assert_int_equal(nr__runtime_submit(rt, count_job, &runs, NULL), NR_OK);

    /* A deadline in the future is waited for, at least until it passes. */
    nr_error err = {0};
    const int64_t wait = 20 * NR_NS_PER_MS;
    int64_t start = nr_now_ns();
    nr_deadline d = nr_deadline_in_ns(wait);
    assert_int_equal(nr__runtime_stop(rt, d, &err), NR_ETIMEDOUT);
    assert_true(nr_now_ns() >= d.at_ns);
    assert_true(nr_now_ns() - start >= wait);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "5 queued job(s) dropped, 1 job(s) still running");
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.dropped, 5);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.running, 1);

    /* An expired deadline returns at once; nothing is left to drop. */
    assert_int_equal(nr__runtime_stop(rt, nr_deadline_in_ns(0), &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "0 queued job(s) dropped, 1 job(s) still running");

    gate_open(&g);
    nr__runtime_destroy(rt); /* joins the worker once the gate job returns */
    assert_int_equal(atomic_load(&g.left), 1);
    assert_int_equal(atomic_load(&runs), 0);
    gate_fini(&g);
}

static void test_stop_with_expired_deadline_drops_immediately(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(1, 16);
    gate g;
    block_worker(rt, &g);
    atomic_int runs = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(nr__runtime_submit(rt, count_job, &runs, NULL), NR_OK);
    nr_error err = {0};
    assert_int_equal(nr__runtime_stop(rt, nr_deadline_in_ns(0), &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "3 queued job(s) dropped");
    assert_int_equal(stats(rt).dropped, 3);
    gate_open(&g);
    nr__runtime_destroy(rt);
    assert_int_equal(atomic_load(&runs), 0);
    gate_fini(&g);
}

static void test_submit_and_schedule_after_stop_are_refused(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(2, 4);
    stop_ok(rt);
    stop_ok(rt); /* a second stop is harmless */
    atomic_int runs = 0;
    nr_error err = {0};
    assert_int_equal(nr__runtime_submit(rt, count_job, &runs, &err), NR_ESHUTDOWN);
    NR_ASSERT_ERR(err, NR_ESHUTDOWN, "shutting down");
    nr__task *t = NULL;
    assert_int_equal(nr__runtime_schedule(rt, 0, 0, count_job, &runs, &t, &err), NR_ESHUTDOWN);
    NR_ASSERT_ERR(err, NR_ESHUTDOWN, "shutting down");
    assert_null(t);
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(s.submitted, 0);
    assert_int_equal(s.tasks, 0);
    nr__runtime_destroy(rt);
    assert_int_equal(atomic_load(&runs), 0);
}

static void test_stop_keeps_tasks_until_cancelled(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(1, 4);
    atomic_int runs = 0;
    nr__task *t = NULL;
    assert_int_equal(nr__runtime_schedule(rt, 0, NR_NS_PER_MS, count_job, &runs, &t, NULL), NR_OK);
    WAIT_UNTIL(atomic_load(&runs) >= 2);
    stop_ok(rt);
    int after_stop = atomic_load(&runs);
    nr_sleep_ns(10 * NR_NS_PER_MS);
    assert_int_equal(atomic_load(&runs), after_stop); /* no timer fires after stop */
    assert_int_equal(stats(rt).tasks, 1);
    nr__task_cancel(rt, t); /* still a valid handle */
    assert_int_equal(stats(rt).tasks, 0);
    nr__runtime_destroy(rt);
}

static void test_destroy_without_stop_waits_for_the_running_job(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(1, 16);
    gate g;
    block_worker(rt, &g);
    atomic_int runs = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(nr__runtime_submit(rt, count_job, &runs, NULL), NR_OK);
    /* destroy frees tasks nobody cancelled (the leak checker watches this) */
    nr__task *t = NULL;
    assert_int_equal(
        nr__runtime_schedule(rt, 3600 * NR_NS_PER_S, NR_NS_PER_S, count_job, &runs, &t, NULL),
        NR_OK);
    opener o = {&g, 20 * NR_NS_PER_MS};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, opener_main, &o), 0);
    nr__runtime_destroy(rt);
    assert_int_equal(atomic_load(&g.left), 1); /* the running job finished first */
    pthread_join(th, NULL);
    /* queued jobs were dropped, unless the gate opened before destroy began */
    assert_true(atomic_load(&runs) <= 3);
    gate_fini(&g);
}

/* ---- on_worker ---- */

typedef struct where_rec {
    nr__runtime *rt, *other;
    atomic_int on_own, on_other, runs;
} where_rec;

static void where_job(void *arg)
{
    where_rec *w = arg;
    if (nr__runtime_on_worker(w->rt))
        atomic_fetch_add(&w->on_own, 1);
    if (nr__runtime_on_worker(w->other))
        atomic_fetch_add(&w->on_other, 1);
    atomic_fetch_add(&w->runs, 1);
}

static void test_on_worker(void **state)
{
    (void)state;
    nr__runtime *rt = make_runtime(2, 8);
    nr__runtime *other = make_runtime(1, 8);
    assert_false(nr__runtime_on_worker(rt));
    assert_false(nr__runtime_on_worker(other));
    assert_false(nr__runtime_on_worker(NULL));
    where_rec w = {.rt = rt, .other = other};
    assert_int_equal(nr__runtime_submit(rt, where_job, &w, NULL), NR_OK);
    nr__task *t = NULL;
    assert_int_equal(nr__runtime_schedule(rt, 0, 0, where_job, &w, &t, NULL), NR_OK);
    WAIT_UNTIL(atomic_load(&w.runs) == 2);
    assert_int_equal(atomic_load(&w.on_own), 2);
    assert_int_equal(atomic_load(&w.on_other), 0);
    nr__task_cancel(rt, t);
    nr__runtime_destroy(other);
    nr__runtime_destroy(rt);
}

typedef struct mask_rec {
    atomic_int checked;
    atomic_int blocked;
} mask_rec;

static void mask_job(void *arg)
{
    mask_rec *m = arg;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    if (sigismember(&cur, SIGINT) == 1 && sigismember(&cur, SIGTERM) == 1 &&
        sigismember(&cur, SIGUSR1) == 1)
        atomic_fetch_add(&m->blocked, 1);
    atomic_fetch_add(&m->checked, 1);
}

static void test_runtime_threads_block_signals(void **state)
{
    (void)state;
    sigset_t before;
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    assert_int_equal(sigismember(&before, SIGUSR1), 0);
    nr__runtime *rt = make_runtime(2, 4);
    /* the creating thread's own mask is left as it was */
    sigset_t after;
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    assert_int_equal(sigismember(&after, SIGUSR1), 0);
    mask_rec m = {0};
    assert_int_equal(nr__runtime_submit(rt, mask_job, &m, NULL), NR_OK);
    assert_int_equal(nr__runtime_submit(rt, mask_job, &m, NULL), NR_OK);
    stop_ok(rt);
    assert_int_equal(atomic_load(&m.checked), 2);
    assert_int_equal(atomic_load(&m.blocked), 2);
    nr__runtime_destroy(rt);
}

/* ---- out of memory ---- */

static void test_out_of_memory_at_every_point(void **state)
{
    (void)state;
    nr_test_alloc_install();

    /* create */
    nr__runtime *rt = NULL;
    long k;
    for (k = 0;; k++) {
        nr_error err = {0};
        nr_test_alloc_fail_after(k);
        int rc = nr__runtime_create(&rt, 2, 16, &err);
        nr_test_alloc_reset();
        if (rc == NR_OK)
            break;
        assert_int_equal(rc, NR_ENOMEM);
        NR_ASSERT_ERR(err, NR_ENOMEM, "runtime: out of memory");
        assert_null(rt);
        assert_true(k < 64);
    }
    assert_true(k >= 2); /* the runtime and its queue */

    /* submit allocates nothing */
    atomic_int runs = 0;
    nr_test_alloc_fail_after(0);
    assert_int_equal(nr__runtime_submit(rt, count_job, &runs, NULL), NR_OK);
    nr_test_alloc_reset();

    /* schedule: the task record, the first heap, and later a larger heap */
    const int64_t later = 3600 * NR_NS_PER_S;
    for (int round = 0; round < 2; round++) {
        nr__task *t = NULL;
        uint32_t before = stats(rt).tasks;
        for (k = 0;; k++) {
            nr_error err = {0};
            nr_test_alloc_fail_after(k);
            int rc = nr__runtime_schedule(rt, later, 0, count_job, &runs, &t, &err);
            nr_test_alloc_reset();
            if (rc == NR_OK)
                break;
            assert_int_equal(rc, NR_ENOMEM);
            NR_ASSERT_ERR(err, NR_ENOMEM, "runtime: out of memory");
            assert_null(t);
            assert_int_equal(stats(rt).tasks, before);
            assert_true(k < 64);
        }
        assert_true(k >= 2); /* the task, then the heap */
        assert_int_equal(stats(rt).tasks, before + 1);
        /* fill the heap so that the next round must grow it */
        while (round == 0 && stats(rt).tasks < 16) {
            assert_int_equal(nr__runtime_schedule(rt, later, 0, count_job, &runs, &t, NULL), NR_OK);
        }
    }
    assert_int_equal(stats(rt).tasks, 17);
    stop_ok(rt);
    assert_int_equal(atomic_load(&runs), 1); /* the submitted job only */
    nr__runtime_destroy(rt);                 /* frees the 17 tasks */
    nr_set_allocator(NULL);
}

/* ---- stress ---- */

#define STRESS_THREADS 8
#define STRESS_LIVE    6

typedef struct stress_task {
    atomic_int in_flight;
    atomic_int runs;
    atomic_int overlaps;
    int runs_at_cancel;     /* owner thread only, after cancel */
    int not_idle_at_cancel; /* owner thread only */
    bool periodic;          /* set before schedule; read by the job */
} stress_task;

static void stress_task_job(void *arg)
{
    stress_task *r = arg;
    if (atomic_fetch_add(&r->in_flight, 1) != 0)
        atomic_fetch_add(&r->overlaps, 1);
    atomic_fetch_add(&r->runs, 1);
    if (r->periodic) /* written before schedule, which publishes it under the runtime lock */
        nr_sleep_ns(100 * NR_NS_PER_US);
    atomic_fetch_sub(&r->in_flight, 1);
}

typedef struct stress_thread {
    nr__runtime *rt;
    pthread_barrier_t *start;
    uint64_t seed;
    int ops;
    atomic_int *job_runs; /* ops entries */
    bool *job_accepted;   /* ops entries */
    stress_task *tasks;   /* ops entries; one per schedule */
    int ntasks;
    long accepted, refused_full, bad_rc;
} stress_thread;

static void stress_cancel(stress_thread *st, nr__task **live, stress_task **rec, int *nlive, int i)
{
    nr__task_cancel(st->rt, live[i]);
    if (atomic_load(&rec[i]->in_flight) != 0)
        rec[i]->not_idle_at_cancel = 1;
    rec[i]->runs_at_cancel = atomic_load(&rec[i]->runs);
    live[i] = live[*nlive - 1];
    rec[i] = rec[*nlive - 1];
    (*nlive)--;
}

static void *stress_main(void *arg)
{
    stress_thread *st = arg;
    nr_rng rng;
    nr_rng_seed(&rng, st->seed);
    nr__task *live[STRESS_LIVE];
    stress_task *rec[STRESS_LIVE];
    int nlive = 0;
    pthread_barrier_wait(st->start);
    for (int i = 0; i < st->ops; i++) {
        uint64_t pick = nr_rng_below(&rng, 10);
        if (pick < 6) {
            int rc = nr__runtime_submit(st->rt, count_job, &st->job_runs[i], NULL);
            if (rc == NR_OK) {
                st->job_accepted[i] = true;
                st->accepted++;
            } else if (rc == NR_EEXHAUSTED) {
                st->refused_full++;
            } else {
                st->bad_rc++;
            }
        } else if (pick < 8) {
            if (nlive == STRESS_LIVE)
                stress_cancel(st, live, rec, &nlive, (int)nr_rng_below(&rng, (uint64_t)nlive));
            stress_task *r = &st->tasks[st->ntasks++];
            r->periodic = nr_rng_chance(&rng, 1, 2);
            int64_t delay = (int64_t)nr_rng_below(&rng, 2 * NR_NS_PER_MS);
            int64_t period =
                r->periodic ? NR_NS_PER_MS / 4 + (int64_t)nr_rng_below(&rng, NR_NS_PER_MS) : 0;
            int rc =
                nr__runtime_schedule(st->rt, delay, period, stress_task_job, r, &live[nlive], NULL);
            if (rc == NR_OK)
                rec[nlive++] = r;
            else
                st->bad_rc++;
        } else if (nlive > 0) {
            stress_cancel(st, live, rec, &nlive, (int)nr_rng_below(&rng, (uint64_t)nlive));
        }
        if (nr_rng_chance(&rng, 1, 16))
            nr_sleep_ns((int64_t)nr_rng_below(&rng, 200 * NR_NS_PER_US));
    }
    while (nlive > 0)
        stress_cancel(st, live, rec, &nlive, nlive - 1);
    return NULL;
}

static void test_stress_submit_schedule_cancel(void **state)
{
    (void)state;
    uint64_t seed = nr_test_seed("runtime stress");
    int ops = nr_test_iterations(1500);
    nr__runtime *rt = make_runtime(4, 64);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, STRESS_THREADS);
    stress_thread st[STRESS_THREADS];
    pthread_t th[STRESS_THREADS];
    for (int t = 0; t < STRESS_THREADS; t++) {
        memset(&st[t], 0, sizeof(st[t]));
        st[t].rt = rt;
        st[t].start = &start;
        st[t].seed = seed + (uint64_t)t * 0x9E3779B97F4A7C15ULL;
        st[t].ops = ops;
        st[t].job_runs = calloc((size_t)ops, sizeof(*st[t].job_runs));
        st[t].job_accepted = calloc((size_t)ops, sizeof(*st[t].job_accepted));
        st[t].tasks = calloc((size_t)ops, sizeof(*st[t].tasks));
        assert_non_null(st[t].job_runs);
        assert_non_null(st[t].job_accepted);
        assert_non_null(st[t].tasks);
        assert_int_equal(pthread_create(&th[t], NULL, stress_main, &st[t]), 0);
    }
    for (int t = 0; t < STRESS_THREADS; t++)
        pthread_join(th[t], NULL);
    stop_ok(rt);

    uint64_t accepted = 0, refused = 0, task_runs = 0;
    for (int t = 0; t < STRESS_THREADS; t++) {
        assert_int_equal(st[t].bad_rc, 0);
        accepted += (uint64_t)st[t].accepted;
        refused += (uint64_t)st[t].refused_full;
        for (int i = 0; i < ops; i++) /* every accepted job ran exactly once, no other did */
            assert_int_equal(atomic_load(&st[t].job_runs[i]), st[t].job_accepted[i] ? 1 : 0);
        for (int i = 0; i < st[t].ntasks; i++) {
            stress_task *r = &st[t].tasks[i];
            int runs = atomic_load(&r->runs);
            assert_int_equal(atomic_load(&r->overlaps), 0);
            assert_int_equal(r->not_idle_at_cancel, 0);
            assert_int_equal(runs, r->runs_at_cancel); /* nothing ran after cancel */
            if (!r->periodic)
                assert_true(runs <= 1);
            task_runs += (uint64_t)runs;
        }
        free(st[t].job_runs);
        free(st[t].job_accepted);
        free(st[t].tasks);
    }
    nr__runtime_stats s = stats(rt);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.running, 0);
    assert_int_equal(s.tasks, 0);
    assert_int_equal(s.rejected, refused);
    assert_int_equal(s.submitted, accepted + s.timer_fires);
    assert_int_equal(s.completed, accepted + task_runs);
    assert_int_equal(s.submitted, s.completed + s.dropped);
    /* only cancelled task occurrences were dropped: stop drained the rest */
    assert_int_equal(s.dropped, s.timer_fires - task_runs);
    pthread_barrier_destroy(&start);
    nr__runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_bad_arguments),
        cmocka_unit_test(test_submit_runs_every_job_exactly_once),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_one_shot_runs_once_not_before_its_delay),
        cmocka_unit_test(test_periodic_runs_repeatedly_and_never_overlaps),
        cmocka_unit_test(test_full_queue_defers_one_shot_and_skips_periodic),
        cmocka_unit_test(test_cancel_stops_a_periodic_task),
        cmocka_unit_test(test_cancel_takes_a_queued_occurrence_off_the_queue),
        cmocka_unit_test(test_cancel_before_due_never_runs),
        cmocka_unit_test(test_cancel_waits_for_the_running_job),
        cmocka_unit_test(test_cancel_from_inside_the_job),
        cmocka_unit_test(test_stop_drains_queued_jobs),
        cmocka_unit_test(test_stop_past_deadline_drops_queued_jobs),
        cmocka_unit_test(test_stop_with_expired_deadline_drops_immediately),
        cmocka_unit_test(test_submit_and_schedule_after_stop_are_refused),
        cmocka_unit_test(test_stop_keeps_tasks_until_cancelled),
        cmocka_unit_test(test_destroy_without_stop_waits_for_the_running_job),
        cmocka_unit_test(test_on_worker),
        cmocka_unit_test(test_runtime_threads_block_signals),
        cmocka_unit_test(test_out_of_memory_at_every_point),
        cmocka_unit_test(test_stress_submit_schedule_cancel),
    };
    return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
