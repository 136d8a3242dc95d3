/*
 * manager_health.c - the background rounds: pool maintenance, health checks
 * with failure and recovery thresholds.
 *
 * Health of a resource, one round at a time:
 *
 *   round result       what happens
 *   bad                failures++, successes = 0; at failure_threshold -> Unhealthy
 *   degraded           -> Degraded at once (successes = 0)
 *   good               successes++, failures = 0; Unknown -> Healthy at once;
 *                      Degraded/Unhealthy -> Healthy at recovery_threshold
 *   no information     nothing changes: state, reason and both counts stay
 *
 * A round is bad when a checked instance was unhealthy, when maintenance
 * could not create instances, or when a probe (one acquire, made when no
 * instance was idle to check, or creates failed, and the resource is not
 * known to be healthy; for a tenant-partitioned resource, through one of its
 * tenant pools) failed, or the driver's check of the instance it leased
 * did; degraded when the worst check said degraded; good when a check said
 * healthy and none worse, or a probe and its check succeeded. A
 * check that says Unknown is no verdict: a round whose every check said
 * Unknown (and no probe) has no information, like one that had nothing to
 * check. Acquires of an Unhealthy resource fail fast; the rounds keep
 * probing it, so it heals by itself once the backend is back.
 *
 * A round is the resource's health pipeline (docs/health.md), run with no
 * lock held. What the paragraph above describes is its check (round_check_fn),
 * which the connectivity stage calls (and the performance stage, when no
 * connectivity stage runs before it); the utilization stage gets the pools'
 * statistics, summed. The pipeline's verdict is the round's result:
 * unhealthy = bad, degraded = degraded, healthy = good, unknown = no
 * information, with the reason of the stage that gave it. The default
 * pipeline is connectivity alone, which is the check above.
 *
 * Shutdown sets the manager's closing token before anything else. A round
 * (background or nr_manager_tick) looks at it before each resource, before
 * each pool's maintenance or check and before its probe, whose acquire
 * carries it; a round cut short records nothing. A driver callback already
 * running (a check, a create) is not interrupted: nr_pool_check_health gives
 * the check its deadline only, and nr_pool_maintain gives creates no token.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "base/strutil.h"
#include "manager/manager_internal.h"
#include "nebula/alloc.h"
#include "observe/probes.h"
#include "observe/span.h"

void nr__entry_maintain(nr_manager *m, nr__entry *e)
{
    int q = atomic_load_explicit(&e->q_state, memory_order_relaxed);
    if (atomic_load_explicit(&e->state, memory_order_relaxed) != NR_RS_RUNNING ||
        nr__manager_closing(m) || q == NR_QUARANTINE_ON || q == NR_QUARANTINE_HELD)
        return; /* a quarantined resource is left alone: only its probes reach the backend */
    size_t n;
    nr_pool **pools = nr__entry_pools(e, &n);
    int failed = -1; /* -1: nothing learned */
    nr_error first;
    nr_error_clear(&first);
    for (size_t i = 0; i < n && !nr__manager_closing(m); i++) {
        nr_pool_maintain_report rep;
        nr_error pe;
        nr_error_clear(&pe);
        int rc = nr_pool_maintain(pools[i], &rep, &pe);
        if (rc != NR_OK) {
            if (failed != 1)
                first = pe;
            failed = 1;
        } else if (rep.created > 0 && failed != 1) {
            failed = 0;
        }
    }
    nr_free(pools);
    if (failed < 0)
        return;
    pthread_mutex_lock(&e->mu);
    e->maint_failed = failed;
    if (failed)
        nr__copy_marked(e->maint_reason, sizeof(e->maint_reason), first.message);
    pthread_mutex_unlock(&e->mu);
}

/* What one round makes of a resource. */
enum { ROUND_NONE = -1, ROUND_GOOD = 0, ROUND_DEGRADED = 1, ROUND_BAD = 2 };

/* Apply one round's result (not ROUND_NONE) to e's health. [e->mu] */
static nr_health_state apply_round(nr_manager *m, nr__entry *e, int result, const char *reason)
{
    nr_health_state h = (nr_health_state)atomic_load_explicit(&e->health, memory_order_relaxed);
    nr_health_state next = h;
    if (result == ROUND_BAD) {
        e->succs = 0;
        e->fails++;
        if (e->fails >= m->opts.failure_threshold)
            next = NR_HEALTH_UNHEALTHY;
    } else if (result == ROUND_DEGRADED) {
        e->succs = 0;
        e->fails = 0;
        next = NR_HEALTH_DEGRADED;
    } else {
        e->fails = 0;
        e->succs++;
        if (h == NR_HEALTH_UNKNOWN || h == NR_HEALTH_HEALTHY ||
            e->succs >= m->opts.recovery_threshold)
            next = NR_HEALTH_HEALTHY;
    }
    if (next != h || result != ROUND_GOOD) {
        if (next == NR_HEALTH_HEALTHY)
            e->health_reason[0] = '\0';
        else if (reason && result != ROUND_GOOD)
            nr__copy_marked(e->health_reason, sizeof(e->health_reason), reason);
    }
    atomic_store_explicit(&e->health, next, memory_order_relaxed);
    return h;
}

/* What the checks of one round found, over every pool of a resource. A
 * check that reported Unknown is counted in checked but gives no verdict. */
typedef struct round_tally {
    uint32_t checked;
    uint32_t healthy, degraded, unhealthy;
    char reason[NR_HEALTH_REASON_MAX]; /* of the first pool with the worst verdict */
} round_tally;

/* Check the idle instances of every pool. Returns -1, with the round cut
 * short, when shutdown began before a pool's turn; 0 otherwise. */
static int check_pools(nr_manager *m, nr_pool **pools, size_t n, round_tally *t)
{
    int64_t timeout = m->opts.health_timeout_ms * NR_NS_PER_MS;
    for (size_t i = 0; i < n; i++) {
        if (nr__manager_closing(m))
            return -1;
        nr_pool_health_report rep;
        if (nr_pool_check_health(pools[i], timeout, &rep, NULL) != NR_OK || !rep.checked)
            continue;
        /* rep.reason is the reason of the pool's worst result, and a pool
         * ranks Unknown above Healthy: take it only for a worse verdict */
        if ((rep.unhealthy && !t->unhealthy) ||
            (rep.degraded && !rep.unhealthy && !t->unhealthy && !t->degraded))
            memcpy(t->reason, rep.reason, sizeof(t->reason));
        t->checked += rep.checked;
        t->healthy += rep.healthy;
        t->degraded += rep.degraded;
        t->unhealthy += rep.unhealthy;
    }
    return 0;
}

/* The round's result from its checks alone: the worst verdict, and no
 * information when nothing was checked or every check said Unknown. */
static int checks_result(const round_tally *t)
{
    if (t->unhealthy)
        return ROUND_BAD;
    if (t->degraded)
        return ROUND_DEGRADED;
    if (t->healthy)
        return ROUND_GOOD;
    return ROUND_NONE;
}

/* The driver's health check on the instance a probe leased (a fresh
 * connection may open fine while the backend cannot serve: a SQLite file
 * whose write lock another process holds). ROUND_GOOD, ROUND_DEGRADED or
 * ROUND_BAD with reason filled; ROUND_GOOD when the type has no check.
 * [no locks held] */
static int probe_check(nr_manager *m, nr__entry *e, nr_guard *g, char *reason, size_t reason_len)
{
    if (!e->type->health_check)
        return ROUND_GOOD;
    nr_health_report hr = {.state = NR_HEALTH_UNKNOWN, .latency_ns = -1};
    nr_error he;
    nr_error_clear(&he);
    int rc = e->type->health_check(nr_guard_handle(g), e->type_ud,
                                   nr_deadline_in_ms(m->opts.health_timeout_ms), &hr, &he);
    if (rc != NR_OK) {
        char msg[sizeof(he.message) + 32]; /* copy_marked cuts it to the reason, with ... */
        snprintf(msg, sizeof(msg), "health check failed: %s", he.message);
        nr__copy_marked(reason, reason_len, msg);
        return ROUND_BAD;
    }
    if (hr.state == NR_HEALTH_UNHEALTHY) {
        nr__copy_marked(reason, reason_len, hr.reason[0] ? hr.reason : "unhealthy");
        return ROUND_BAD;
    }
    if (hr.state == NR_HEALTH_DEGRADED) {
        nr__copy_marked(reason, reason_len, hr.reason[0] ? hr.reason : "degraded");
        return ROUND_DEGRADED;
    }
    return ROUND_GOOD;
}

/* One acquire from p, made when nothing was idle to check or creates are
 * failing, and the driver's check on what it leased: returns the round's
 * result as it stands after the probe, or ROUND_NONE when shutdown (the
 * manager's token, or p closed) ended it. */
static int probe(nr_manager *m, nr__entry *e, nr_pool *p, int result, int from_checks, char *reason,
                 size_t reason_len)
{
    nr_error pe;
    nr_error_clear(&pe);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(m->opts.health_timeout_ms),
                        .cancel = m->closing, .scope = nr_pool_scope(p));
    nr_guard g = NR_GUARD_INIT;
    if (nr_pool_acquire(p, &ctx, &g, &pe) == NR_OK) {
        char why[NR_HEALTH_REASON_MAX] = "";
        int verdict = probe_check(m, e, &g, why, sizeof(why));
        if (verdict == ROUND_BAD) {
            nr_guard_taint(&g); /* an instance that cannot serve is not kept */
            nr__copy_marked(reason, reason_len, why);
            return ROUND_BAD;
        }
        nr_guard_release(&g);
        pthread_mutex_lock(&e->mu);
        e->maint_failed = 0;
        pthread_mutex_unlock(&e->mu);
        if (verdict == ROUND_DEGRADED && result != ROUND_BAD) {
            nr__copy_marked(reason, reason_len, why);
            return ROUND_DEGRADED;
        }
        return from_checks == ROUND_NONE || from_checks == ROUND_GOOD ? ROUND_GOOD : result;
    }
    if (pe.code == NR_ECANCELED || pe.code == NR_ESHUTDOWN)
        return ROUND_NONE; /* a closing pool is no sign of ill health either */
    if ((pe.code != NR_ETIMEDOUT && pe.code != NR_EEXHAUSTED) || pe.cause != NR_OK) {
        /* a busy pool is no sign of ill health; a failing create is (a wait
         * that ran out while creates failed carries their cause) */
        nr__copy_marked(reason, reason_len, pe.message);
        return ROUND_BAD;
    }
    return result;
}

/* Publish a change of e's health, outside every lock (a trace sink is user code). */
static void tell_change(nr_manager *m, nr__entry *e, nr_health_state old, nr_health_state now,
                        const char *why)
{
    NR_PROBE_HEALTH(e->id, (int)old, (int)now);
    nr__health_event(m, e, old, now, why);
    if (nr__trace_enabled(NR_TRACE_LEVEL_INFO)) {
        char msg[NR_HEALTH_REASON_MAX + 64];
        snprintf(msg, sizeof(msg), "%s -> %s%s%s", nr_health_name(old), nr_health_name(now),
                 why[0] ? ": " : "", why);
        nr__trace_log(NR_TRACE_LEVEL_INFO, "health", e->id, NR_OK, msg);
    }
}

/* What the round's check works on, and what it learned beyond its report. */
typedef struct round_check {
    nr_manager *m;
    nr__entry *e;
    nr_pool **pools;
    size_t n;
    nr_health_state h; /* e's own health when the round began */
    bool cut;          /* shutdown cut the check short: the round is not judged */
} round_check;

static nr_health_state round_state(int result)
{
    return result == ROUND_BAD        ? NR_HEALTH_UNHEALTHY
           : result == ROUND_DEGRADED ? NR_HEALTH_DEGRADED
           : result == ROUND_GOOD     ? NR_HEALTH_HEALTHY
                                      : NR_HEALTH_UNKNOWN;
}

/* The round's check (nr_health_check_fn), what the connectivity stage runs:
 * every idle instance of every pool checked, maintenance failures, and the
 * probe acquire when nothing was idle or creates fail. [no locks held] */
static int round_check_fn(void *ud, nr_deadline deadline, nr_health_report *report, nr_error *err)
{
    (void)deadline; /* each instance's check and the probe have health_timeout_ms */
    (void)err;
    round_check *c = ud;
    nr_manager *m = c->m;
    nr__entry *e = c->e;
    round_tally t;
    memset(&t, 0, sizeof(t));
    if (check_pools(m, c->pools, c->n, &t) != 0) {
        c->cut = true; /* cut short by shutdown: a partial round is not judged */
        report->state = NR_HEALTH_UNKNOWN;
        snprintf(report->reason, sizeof(report->reason), "cut short by shutdown");
        return NR_OK;
    }
    char reason[NR_HEALTH_REASON_MAX];
    memcpy(reason, t.reason, sizeof(reason));
    pthread_mutex_lock(&e->mu);
    int maint_failed = e->maint_failed;
    char maint_reason[NR_HEALTH_REASON_MAX];
    memcpy(maint_reason, e->maint_reason, sizeof(maint_reason));
    pthread_mutex_unlock(&e->mu);

    int from_checks = checks_result(&t), result = from_checks;
    if (maint_failed && result != ROUND_BAD) {
        result = ROUND_BAD;
        memcpy(reason, maint_reason, sizeof(reason));
    }
    /* A partitioned resource is probed through one of its tenant pools (the
     * newest, pools[0]), as a caller of that tenant: the backend is the same
     * for all. One without a tenant pool has had nothing a round could judge. */
    if ((!t.checked || maint_failed) && c->h != NR_HEALTH_HEALTHY && c->n > 0 &&
        !nr__manager_closing(m)) {
        result = probe(m, e, c->pools[0], result, from_checks, reason, sizeof(reason));
        if (result == ROUND_NONE && nr__manager_closing(m))
            c->cut = true;
    }
    report->state = round_state(result);
    if (result == ROUND_BAD || result == ROUND_DEGRADED)
        memcpy(report->reason, reason, sizeof(report->reason));
    return NR_OK;
}

/* Map a pipeline round onto the manager's round results. */
static int pipeline_result(nr_health_state s)
{
    return s == NR_HEALTH_UNHEALTHY  ? ROUND_BAD
           : s == NR_HEALTH_DEGRADED ? ROUND_DEGRADED
           : s == NR_HEALTH_HEALTHY  ? ROUND_GOOD
                                     : ROUND_NONE;
}

void nr__entry_health_round(nr_manager *m, nr__entry *e)
{
    if (atomic_load_explicit(&e->state, memory_order_relaxed) != NR_RS_RUNNING ||
        nr__manager_closing(m) || nr__quarantine_skip(m, e))
        return;
    round_check c = {.m = m, .e = e};
    c.pools = nr__entry_pools(e, &c.n);
    c.h = (nr_health_state)atomic_load_explicit(&e->health, memory_order_relaxed);
    /* the utilization stage sees the resource's pools summed, taken before
     * the checks borrow idle instances */
    nr_pool_stats sum = NR_POOL_STATS_INIT;
    for (size_t i = 0; i < c.n; i++) {
        nr_pool_stats s = NR_POOL_STATS_INIT;
        nr_pool_stats_get(c.pools[i], &s);
        nr_pool_stats_add(&sum, &s);
    }
    nr_health_round in = {.check = round_check_fn,
                          .check_ud = &c,
                          .deadline = nr_deadline_in_ms(m->opts.health_timeout_ms),
                          .stats = c.n ? &sum : NULL};
    nr_health_round_result res;
    /* NR_EBUSY: a round of this resource is already running (a tick beside
     * the background round); that one judges it */
    int rc = nr_health_pipeline_run(nr__entry_pipeline(e), &in, &res, NULL);
    nr_free(c.pools);
    int result = rc == NR_OK ? pipeline_result(res.state) : ROUND_NONE;
    if (result == ROUND_NONE || c.cut || nr__manager_closing(m))
        return;
    pthread_mutex_lock(&e->mu);
    nr_health_state old = apply_round(m, e, result, res.reason);
    nr_health_state now = (nr_health_state)atomic_load_explicit(&e->health, memory_order_relaxed);
    char why[NR_HEALTH_REASON_MAX];
    memcpy(why, e->health_reason, sizeof(why));
    pthread_mutex_unlock(&e->mu);
    if (now != old)
        tell_change(m, e, old, now, why);
    nr__quarantine_after_round(m, e, result == ROUND_BAD, why);
}

/* ---- the periodic tasks ---------------------------------------------------------------- */

typedef struct round_job {
    nr_manager *m;
    nr__entry *e;
} round_job;

static void maintain_job(void *arg)
{
    round_job *j = arg;
    nr__entry_maintain(j->m, j->e);
    nr__autoscale_round(j->m, j->e);
    nr__tenants_evict_round(j->m, j->e);
}

static void health_job(void *arg)
{
    round_job *j = arg;
    nr__entry_health_round(j->m, j->e);
}

static void round_all(nr_manager *m, void (*fn)(void *))
{
    nr__entry **list;
    size_t n = nr__entries_snapshot(m, 1, &list, NULL);
    round_job *jobs = n ? nr_calloc(n, sizeof(*jobs)) : NULL;
    void **args = n ? nr_calloc(n, sizeof(*args)) : NULL;
    if (jobs && args) {
        for (size_t i = 0; i < n; i++) {
            jobs[i] = (round_job){m, list[i]};
            args[i] = &jobs[i];
        }
        nr__run_all(m, fn, args, n);
    }
    nr__entries_put(list, n);
    nr_free(jobs);
    nr_free(args);
}

static void maintain_tick(void *arg)
{
    round_all(arg, maintain_job);
    nr__reap(arg);
}

static void health_tick(void *arg)
{
    round_all(arg, health_job);
    nr__cascade_update(arg);
}

void nr_manager_tick(nr_manager *m)
{
    if (!m)
        return;
    round_all(m, maintain_job);
    nr__reap(m);
    round_all(m, health_job);
    nr__cascade_update(m);
}

int nr__manager_schedule(nr_manager *m, nr_error *err)
{
    int rc = NR_OK;
    if (m->opts.maintain_interval_ms > 0)
        rc = nr__runtime_schedule(m->rt, m->opts.maintain_interval_ms * NR_NS_PER_MS,
                                  m->opts.maintain_interval_ms * NR_NS_PER_MS, maintain_tick, m,
                                  &m->maint_task, err);
    if (rc == NR_OK && m->opts.health_interval_ms > 0)
        rc = nr__runtime_schedule(m->rt, m->opts.health_interval_ms * NR_NS_PER_MS,
                                  m->opts.health_interval_ms * NR_NS_PER_MS, health_tick, m,
                                  &m->health_task, err);
    if (rc != NR_OK)
        nr__manager_unschedule(m);
    return rc;
}

void nr__manager_unschedule(nr_manager *m)
{
    if (m->maint_task)
        nr__task_cancel(m->rt, m->maint_task);
    if (m->health_task)
        nr__task_cancel(m->rt, m->health_task);
    m->maint_task = m->health_task = NULL;
}
