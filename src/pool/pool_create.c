/*
 * pool_create.c - making instances: one create into a reserved slot, and
 * the creator that decides when creates start and where they run.
 *
 * The creator's rule (HikariCP's, with MongoDB CMAP's max_connecting):
 *
 *   start a create only while  waiters + extra > creates the creator runs
 *                         and  creating < max_connecting
 *                         and  total < max_size
 *                         and  the pool is neither refusing nor suspended
 *                         and  no backoff is pending
 *   while creates are failing, at most one runs at a time (a probe); after
 *   breaker_failures failures in a row the breaker is open, and the probe
 *   is the one trial create per backoff step.
 *
 * A create's slot is reserved (total, creating, creating_async) when it is
 * planned, under the pool lock, so that the bound holds the moment the
 * decision is taken; the job is started after the lock is released. A job
 * that finds the pool refusing gives its slot back without calling create.
 *
 * Where jobs run: on the executor of the pool's options, or on the pool's
 * own creator threads (at most max_connecting, started on demand, parked on
 * own_cv between jobs, joined by nr_pool_destroy). A job the executor
 * refuses runs on the pool's own threads, so a reserved slot always gets
 * its job.
 *
 * Backoff after the n-th failure in a row: d = create_backoff_ms *
 * factor^(n-1), capped at create_backoff_max_ms, then "equal jitter": a
 * uniform pick in [d/2, d]. Waiters sleep at most until the backoff ends
 * and then plan again, so no timer is needed.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_budget.h"
#include "pool/pool_internal.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "nebula/alloc.h"
#include "observe/probes.h"
#include "observe/span.h"

/* ---- random numbers ----------------------------------------------------------------- */

static uint64_t rand64(void)
{
    static _Thread_local uint64_t state;
    if (!state) {
        int local;
        state = (uint64_t)nr_now_ns() ^ ((uint64_t)(uintptr_t)&local << 16) ^ 0x9E3779B97F4A7C15ULL;
    }
    /* splitmix64 */
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double nr__rand_unit(void)
{
    return (double)(rand64() >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- failure state ------------------------------------------------------------------ */

static int64_t backoff_ns(const nr_pool *p, uint32_t failures)
{
    double d = (double)NR__CFG(p, create_backoff_ms);
    double cap = (double)NR__CFG(p, create_backoff_max_ms);
    for (uint32_t i = 1; i < failures && d < cap; i++)
        d *= NR__CFG_D(p, create_backoff_factor);
    if (d > cap)
        d = cap;
    d = d / 2 + nr__rand_unit() * (d / 2);
    return (int64_t)(d * (double)NR_NS_PER_MS);
}

void nr__slot_released_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    nr__budget_sync_locked(p);
    /* drain and destroy wait for this; total == 0 implies creating == 0 */
    if (p->creating == 0 && p->destroying == 0)
        pthread_cond_broadcast(&p->drained);
    nr__signal_returned_locked(p);
}

/* [mu] Wake every waiter, so that each recomputes how long to sleep. */
static void wake_waiters_locked(nr_pool *p)
{
    for (nr__waiter *w = p->wait_head; w; w = w->next)
        if (!w->op)
            pthread_cond_signal(&w->cv);
    nr__async_poke_locked(p); /* async waiters: the worker plans again */
}

/* [mu] Record a failed create (its slot is already given back). Returns 1
 * when this failure opened the breaker. */
static int record_failure_locked(nr_pool *p, const nr_error *e)
{
    NR__ASSERT_LOCKED(p);
    p->create_failures++;
    p->failures++;
    p->last_create_err = *e;
    p->next_create_ns = nr_now_ns() + backoff_ns(p, p->failures);
    int opened = 0;
    if (NR__CFG(p, breaker_failures) > 0 && p->failures >= (uint64_t)NR__CFG(p, breaker_failures) &&
        !p->breaker_open) {
        p->breaker_open = 1;
        p->breaker_opens++;
        opened = 1;
    }
    wake_waiters_locked(p);
    return opened;
}

/* [mu] Record a successful create. Returns 1 when it closed the breaker. */
static int record_success_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    p->creates++;
    p->failures = 0;
    p->next_create_ns = 0;
    if (!p->breaker_open)
        return 0;
    p->breaker_open = 0;
    return 1;
}

/* ---- one create ----------------------------------------------------------------------- */

static int64_t lifetime_end(const nr_pool *p, int64_t created)
{
    if (NR__CFG(p, max_lifetime_ms) <= 0)
        return INT64_MAX;
    double life = (double)NR__CFG(p, max_lifetime_ms) * (double)NR_NS_PER_MS;
    if (NR__CFG_D(p, max_lifetime_jitter) > 0)
        life *= 1.0 - NR__CFG_D(p, max_lifetime_jitter) * nr__rand_unit();
    return created + (int64_t)life;
}

int nr__create_reserved(nr_pool *p, struct nr__instance *rec, nr_deadline deadline,
                        const nr_cancel *cancel, int async, struct nr__instance **out,
                        nr_error *err)
{
    int rc;
    nr_error e;
    nr_error_clear(&e);
    nr__hook_run run = {0}; /* active once the create hooks' befores passed */
    nr_hook_call call;
    if (!rec) {
        rec = nr__record_alloc();
        if (!rec) {
            rc = nr_error_set(&e, NR_ENOMEM, p->id, "out of memory for an instance record");
            goto failed;
        }
        rec->pool = p;
        nr__pool_lock(p);
        rec->all_next = p->all_records;
        p->all_records = rec;
        nr__pool_unlock(p);
    }
    rec->state = NR_LC_CREATED;
    nr__inst_transition(rec, NR_LC_INITIALIZING);
    if (NR__POOL_HOOKS(p, NR_HOOK_CREATE) &&
        (rc = nr__pool_hooks_before(p, NR_HOOK_CREATE, 0, &run, &call, &e)) != NR_OK) {
        /* refused: a failed create like any other, its message the cause */
        nr__inst_transition(rec, NR_LC_FAILED);
        nr__pool_lock(p);
        nr__record_put_locked(p, rec);
        nr__pool_unlock(p);
        goto failed;
    }

    /* The credential is read here, right before create() and after anything
     * that runs ahead of the create (its before hooks): one of them may give
     * the pool a new credential (a refresh), which this create then uses. */
    nr__pool_lock(p);
    struct nr__cred *cred = p->cred;
    if (cred)
        atomic_fetch_add_explicit(&cred->refs, 1, memory_order_relaxed);
    rec->gen = atomic_load_explicit(&p->gen, memory_order_relaxed);
    rec->degraded = 0; /* a record is reused: nothing of its last instance stays */
    rec->health_fails = 0;
    rec->q_attempt = 0;
    nr__pool_unlock(p);

    nr_create_ctx cctx = {
        .resource_id = p->id,
        .scope = &p->scope,
        .deadline = deadline,
        .cancel = cancel,
        .credential = cred ? cred->secret : NULL,
    };
    void *handle = NULL;
    rc = p->type->create(&handle, p->config, &cctx, p->type_ud, &e);
    nr__cred_release(cred);
    if (rc != NR_OK)
        NR_PROBE_CREATE(p->id, (uint64_t)0, rc);
    if (rc == NR_OK && !handle)
        rc = nr_error_set(&e, NR_EINTERNAL, p->id, "create returned no handle");
    if (rc != NR_OK) {
        nr__inst_transition(rec, NR_LC_FAILED);
        nr__pool_lock(p);
        nr__record_put_locked(p, rec);
        nr__pool_unlock(p);
        goto failed;
    }
    rec->handle = handle;
    rec->created_ns = nr_now_coarse_ns();
    rec->last_used_ns = rec->created_ns;
    rec->expires_ns = lifetime_end(p, rec->created_ns);
    rec->use_count = 0;
    nr__inst_transition(rec, NR_LC_READY);

    nr__pool_lock(p);
    int closed_breaker = record_success_locked(p);
    rec->id = ++p->created_seq;
    NR_PROBE_CREATE(p->id, rec->id, NR_OK); /* a probe is one no-op instruction: fine under mu */
    nr__pool_unlock(p);
    if (run.active) {
        call.instance_id = rec->id;
        nr__pool_hooks_after(p, &run, &call, NR_OK, NULL);
    }
    if (closed_breaker) {
        nr__trace_log(NR_TRACE_LEVEL_INFO, "breaker", p->id, NR_OK,
                      "create succeeded: breaker closed");
        nr__pool_event(p, NR_EV_BREAKER_CLOSED, rec->id, 0, 0, NR_OK, "create succeeded");
    }
    nr__pool_event(p, NR_EV_CREATED, rec->id, 0, 0, NR_OK, NULL);
    *out = rec;
    return NR_OK;

failed : {
    /* The slot stays reserved (so the pool cannot be destroyed under this
     * thread) until the failure has been told; then it goes back, and
     * nothing touches the pool after that. */
    int cause = e.code ? e.code : rc;
    nr_error full;
    nr_error_clear(&full);
    nr_error_set_cause(&full, rc, cause, e.driver_code, p->id, "pool '%s': create failed: %s",
                       p->id, e.message[0] ? e.message : nr_strerror(rc));
    nr_error raw = full; /* what a waiter's error quotes: the create's own message */
    snprintf(raw.message, sizeof(raw.message), "%s", e.message[0] ? e.message : nr_strerror(rc));
    nr__pool_lock(p);
    int opened = record_failure_locked(p, &raw);
    uint32_t failures = p->failures;
    nr__pool_unlock(p);
    nr__trace_log(NR_TRACE_LEVEL_WARN, "create", p->id, rc,
                  e.message[0] ? e.message : nr_strerror(rc));
    nr__pool_event(p, NR_EV_ERROR, 0, 0, 0, rc, e.message[0] ? e.message : nr_strerror(rc));
    if (opened) {
        char why[96];
        snprintf(why, sizeof(why), "%u creates failed in a row", failures);
        nr__trace_log(NR_TRACE_LEVEL_WARN, "breaker", p->id, rc, why);
        nr__pool_event(p, NR_EV_BREAKER_OPENED, 0, 0, failures, rc, why);
    }
    if (run.active) /* while the slot is still held: the pool cannot go meanwhile */
        nr__pool_hooks_after(p, &run, &call, rc, &full);
    if (err)
        *err = full;
    nr__pool_lock(p);
    p->creating--;
    p->total--;
    if (async)
        p->creating_async--;
    nr__slot_released_locked(p);
    /* Waiters that woke while this slot was still counted planned nothing:
     * wake them again, so that one of them starts the next try when the
     * backoff ends. */
    wake_waiters_locked(p);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    return rc;
}
}

int nr__place_created_locked(nr_pool *p, struct nr__instance *inst, int async)
{
    NR__ASSERT_LOCKED(p);
    p->creating--;
    if (async)
        p->creating_async--;
    if (p->creating == 0)
        pthread_cond_broadcast(&p->drained); /* nr_pool_destroy waits for creates */
    if (!nr__place_locked(p, inst)) {
        nr__lease_on_locked(p, inst);
        return 0;
    }
    return 1;
}

/* ---- the creator ------------------------------------------------------------------------ */

uint32_t nr__creator_plan_locked(nr_pool *p, uint32_t extra)
{
    NR__ASSERT_LOCKED(p);
    if (atomic_load_explicit(&p->refusing, memory_order_relaxed) || p->suspended)
        return 0;
    uint64_t demand = (uint64_t)p->waiters + extra;
    if (demand <= p->creating_async)
        return 0;
    uint64_t want = demand - p->creating_async;
    uint64_t max_conn = (uint64_t)p->cfg.max_connecting;
    if (p->failures > 0) {
        /* Creates are failing: one probe at a time, after the backoff. */
        if (p->creating_async > 0 || nr_now_ns() < p->next_create_ns)
            return 0;
        max_conn = 1;
    }
    if (p->creating >= max_conn || p->total >= (uint64_t)p->cfg.max_size)
        return 0;
    uint64_t n = want;
    if (n > max_conn - p->creating)
        n = max_conn - p->creating;
    if (n > (uint64_t)p->cfg.max_size - p->total)
        n = (uint64_t)p->cfg.max_size - p->total;
    n = nr__budget_take_locked(p, (uint32_t)n, 1); /* shared places (max_total) */
    p->total += (uint32_t)n;
    p->creating += (uint32_t)n;
    p->creating_async += (uint32_t)n;
    return (uint32_t)n;
}

/* The job of one reserved create. */
static void create_job(void *arg)
{
    nr_pool *p = arg;
    nr__pool_lock(p);
    if (atomic_load_explicit(&p->refusing, memory_order_relaxed)) {
        /* Quiesced or closed since it was planned: no create. */
        p->creating--;
        p->creating_async--;
        p->total--;
        nr__slot_released_locked(p);
        nr__pool_assert_locked_invariants(p);
        nr__pool_unlock(p);
        return;
    }
    struct nr__instance *rec = nr__record_take_locked(p);
    nr__pool_unlock(p);

    struct nr__instance *inst = NULL;
    nr_error e;
    nr_error_clear(&e);
    int rc = nr__create_reserved(p, rec, nr_deadline_in_ms(NR__CFG(p, create_timeout_ms)),
                                 p->close_cancel, 1, &inst, &e);
    if (rc != NR_OK)
        return; /* the slot is given back: the pool may be gone now */
    nr__pool_lock(p);
    int placed = nr__place_created_locked(p, inst, 1);
    /* More demand than the creates now running: the next one starts here. */
    uint32_t more = nr__creator_plan_locked(p, 0);
    nr__signal_returned_locked(p);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    if (!placed)
        nr__discard(p, inst, &p->in_use, NR__DISCARD_CLOSED);
    if (more)
        nr__creator_start(p, more);
}

static void *own_main(void *arg)
{
    nr_pool *p = arg;
    nr__pool_lock(p);
    for (;;) {
        while (p->own_pending == 0 && !p->own_stop) {
            pthread_cond_wait(&p->own_cv, &p->mu);
            nr__pool_note_owner(p);
        }
        if (p->own_pending == 0)
            break; /* stopping, and nothing left to do */
        p->own_pending--;
        p->own_busy++;
        nr__pool_unlock(p);
        create_job(p);
        nr__pool_lock(p);
        p->own_busy--;
    }
    nr__pool_unlock(p);
    return NULL;
}

/* [mu] Queue n jobs for the pool's own threads, starting threads as needed
 * (one per job waiting or running, at most max_connecting). */
static void own_queue_locked(nr_pool *p, uint32_t n)
{
    NR__ASSERT_LOCKED(p);
    p->own_pending += n;
    uint32_t cap = (uint32_t)p->cfg.max_connecting;
    while (p->own_threads < cap && p->own_threads < p->own_pending + p->own_busy) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 256 * 1024);
        int rc = pthread_create(&p->own_tids[p->own_threads], &a, own_main, p);
        pthread_attr_destroy(&a);
        if (rc != 0)
            break;
        p->own_threads++;
    }
    if (p->own_threads == 0) {
        /* No thread could be started: the slots go back, and waiters see
         * it as a failed create. */
        p->own_pending -= n;
        p->creating -= n;
        p->creating_async -= n;
        p->total -= n;
        nr_error e;
        nr_error_clear(&e);
        nr_error_set(&e, NR_EINIT, p->id, "pool '%s': cannot start a creator thread", p->id);
        record_failure_locked(p, &e);
        nr__slot_released_locked(p);
        return;
    }
    pthread_cond_broadcast(&p->own_cv);
}

void nr__creator_start(nr_pool *p, uint32_t n)
{
    uint32_t refused = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!p->executor.submit || p->executor.submit(p->executor.ud, create_job, p) != 0)
            refused++;
    }
    if (!refused)
        return;
    nr__pool_lock(p);
    own_queue_locked(p, refused);
    nr__pool_unlock(p);
}

void nr__creator_join(nr_pool *p)
{
    nr__pool_lock(p);
    p->own_stop = 1;
    pthread_cond_broadcast(&p->own_cv);
    uint32_t n = p->own_threads;
    nr__pool_unlock(p);
    for (uint32_t i = 0; i < n; i++)
        pthread_join(p->own_tids[i], NULL);
    nr__pool_lock(p);
    p->own_threads = 0;
    nr__pool_unlock(p);
}
