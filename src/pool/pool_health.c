/*
 * pool_health.c - health checks of the idle instances of a pool, and what
 * each verdict does to the instance (see nr_pool_check_health in
 * nebula/pool.h):
 *
 *   healthy    -> idle list (degraded flag and failure count cleared)
 *   degraded   -> degraded list (failure count cleared)
 *   unknown    -> back where it was
 *   unhealthy  -> destroyed                  (instance_quarantine_after 0)
 *              -> degraded list, kept        (failures in a row below it)
 *              -> quarantined                (failures in a row at it)
 *
 * An instance is taken off its list one at a time (counted in maint, in
 * Maintenance), checked with no lock held, and put back; the others stay
 * available meanwhile. Then the round probes the quarantined instances whose
 * probe is due (pool_quarantine.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_internal.h"
#include "observe/span.h"
#include "base/strutil.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Severity order for picking the worst result. */
static int severity(nr_health_state s)
{
    switch (s) {
    case NR_HEALTH_HEALTHY:
        return 0;
    case NR_HEALTH_UNKNOWN:
        return 1;
    case NR_HEALTH_DEGRADED:
        return 2;
    case NR_HEALTH_UNHEALTHY:
        return 3;
    }
    return 3;
}

void nr__health_run(nr_pool *p, struct nr__instance *inst, int64_t timeout_ns, nr_health_report *hr)
{
    memset(hr, 0, sizeof(*hr));
    nr_error e;
    nr_error_clear(&e);
    int64_t t0 = nr_now_ns();
    int rc;
    if (p->type->health_check) {
        rc = p->type->health_check(inst->handle, p->type_ud, nr_deadline_in_ns(timeout_ns), hr, &e);
    } else if (p->type->validate) {
        rc = p->type->validate(inst->handle, p->type_ud, &e);
        hr->state = rc == NR_OK ? NR_HEALTH_HEALTHY : NR_HEALTH_UNHEALTHY;
    } else {
        rc = NR_OK;
        hr->state = NR_HEALTH_HEALTHY;
    }
    hr->latency_ns = nr_now_ns() - t0;
    if (p->health_hist)
        nr_histogram_observe(p->health_hist, (double)hr->latency_ns / 1e9);
    if (rc != NR_OK) {
        hr->state = NR_HEALTH_UNHEALTHY;
        nr__copy_marked(hr->reason, sizeof(hr->reason), e.message[0] ? e.message : nr_strerror(rc));
    } else if (hr->state != NR_HEALTH_UNHEALTHY && hr->latency_ns > timeout_ns) {
        hr->state = NR_HEALTH_UNHEALTHY;
        snprintf(hr->reason, sizeof(hr->reason), "health check took %lld ms, over %lld ms",
                 (long long)(hr->latency_ns / NR_NS_PER_MS),
                 (long long)(timeout_ns / NR_NS_PER_MS));
    }
}

int nr__health_check_one(nr_pool *p, struct nr__instance *inst, int64_t timeout_ns,
                         nr_health_report *hr)
{
    if (!NR__POOL_HOOKS(p, NR_HOOK_HEALTH_CHECK)) {
        nr__health_run(p, inst, timeout_ns, hr);
        return 1;
    }
    nr__hook_run run = {0};
    nr_hook_call call;
    if (nr__pool_hooks_before(p, NR_HOOK_HEALTH_CHECK, inst->id, &run, &call, NULL) != NR_OK) {
        memset(hr, 0, sizeof(*hr)); /* no verdict */
        hr->state = NR_HEALTH_UNKNOWN;
        return 0;
    }
    nr__health_run(p, inst, timeout_ns, hr);
    call.health = hr->state;
    nr_error e;
    nr_error_clear(&e);
    int rc = NR_OK;
    if (hr->state == NR_HEALTH_UNHEALTHY)
        rc = nr_error_set(&e, NR_EHEALTH, p->id, "pool '%s': instance %llu is unhealthy: %s", p->id,
                          (unsigned long long)inst->id, hr->reason);
    nr__pool_hooks_after(p, &run, &call, rc, &e);
    return 1;
}

/* [mu] The next instance of this round to check, taken off its list: the
 * degraded ones first (so that a healed one rejoins soon), the longest idle
 * first within each list. NULL when every idle one was seen. */
static struct nr__instance *next_unchecked_locked(nr_pool *p, uint64_t round)
{
    NR__ASSERT_LOCKED(p);
    struct nr__instance *inst = p->deg_tail;
    while (inst && inst->health_round == round)
        inst = inst->prev;
    if (inst) {
        nr__deg_remove(p, inst);
        return inst;
    }
    inst = p->idle_tail;
    while (inst && inst->health_round == round)
        inst = inst->prev;
    if (inst)
        nr__idle_remove(p, inst);
    return inst;
}

/* Count one verdict in the report. */
static void tally(nr_pool_health_report *rep, int *worst_sev, const nr_health_report *hr)
{
    rep->checked++;
    switch (hr->state) {
    case NR_HEALTH_HEALTHY:
        rep->healthy++;
        break;
    case NR_HEALTH_DEGRADED:
        rep->degraded++;
        break;
    case NR_HEALTH_UNHEALTHY:
        rep->unhealthy++;
        break;
    case NR_HEALTH_UNKNOWN:
        break;
    }
    if (severity(hr->state) > *worst_sev) {
        *worst_sev = severity(hr->state);
        rep->worst = hr->state;
        memcpy(rep->reason, hr->reason, sizeof(rep->reason));
    }
}

/* Act on the verdict of a checked instance (counted in maint, held by this
 * thread): put it back, quarantine it or destroy it. */
static void settle_checked(nr_pool *p, struct nr__instance *inst, const nr_health_report *hr,
                           nr_pool_health_report *rep)
{
    int64_t after = NR__CFG(p, instance_quarantine_after); /* constant */
    if (hr->state == NR_HEALTH_UNHEALTHY && after == 0) {
        rep->discarded++;
        uint64_t gone = inst->id;
        nr__discard(p, inst, &p->maint, NR__DISCARD_HEALTH);
        nr__pool_event(p, NR_EV_CLEANED_UP, gone, 0, 1, NR_EHEALTH, hr->reason);
        return;
    }
    /* A quarantine's hooks run before the lock. health_fails is read without
     * it: the instance is this thread's while it is checked (counted in
     * maint), and nobody else writes it meanwhile. */
    nr__hook_run qrun = {0};
    nr_hook_call qcall;
    int q_refused = 0;
    if (hr->state == NR_HEALTH_UNHEALTHY && inst->health_fails + 1 >= (uint64_t)after &&
        NR__POOL_HOOKS(p, NR_HOOK_QUARANTINE))
        q_refused =
            nr__pool_hooks_before(p, NR_HOOK_QUARANTINE, inst->id, &qrun, &qcall, NULL) != NR_OK;
    /* the clock is the caller's: read it before the lock */
    int64_t now = hr->state == NR_HEALTH_UNHEALTHY ? nr__pool_clock(p) : 0;
    nr__pool_lock(p);
    if (atomic_load_explicit(&p->closed, memory_order_relaxed)) {
        nr__pool_unlock(p);
        if (qrun.active) {
            nr_error e;
            nr_error_clear(&e);
            nr_error_set(&e, NR_ESHUTDOWN, p->id, "pool '%s' closed: instance %llu destroyed",
                         p->id, (unsigned long long)inst->id);
            nr__pool_hooks_after(p, &qrun, &qcall, NR_ESHUTDOWN, &e);
        }
        nr__discard(p, inst, &p->maint, NR__DISCARD_CLOSED);
        return;
    }
    switch (hr->state) {
    case NR_HEALTH_HEALTHY:
        inst->health_fails = 0;
        inst->degraded = 0;
        break;
    case NR_HEALTH_DEGRADED:
        inst->health_fails = 0;
        inst->degraded = 1;
        break;
    case NR_HEALTH_UNKNOWN:
        break; /* no verdict: nothing changes */
    case NR_HEALTH_UNHEALTHY:
        if (++inst->health_fails >= (uint64_t)after && !q_refused) {
            char text[NR_EVENT_TEXT_MAX * 2];
            uint64_t id = inst->id;
            nr__q_enter_locked(p, inst, now, hr->reason, text, sizeof(text));
            rep->quarantined++;
            nr__pool_assert_locked_invariants(p);
            nr__pool_unlock(p);
            nr__trace_log(NR_TRACE_LEVEL_WARN, "quarantine", p->id, NR_EHEALTH, text);
            nr__pool_event(p, NR_EV_QUARANTINED, id, 0, 1, NR_EHEALTH, text);
            if (qrun.active)
                nr__pool_hooks_after(p, &qrun, &qcall, NR_OK, NULL);
            return;
        }
        /* below the threshold, or a hook kept it out of quarantine: handed out last */
        inst->degraded = 1;
        rep->kept++;
        break;
    }
    p->maint--;
    nr__place_checked_unlock(p, inst);
}

static int check_health_impl(nr_pool *p, int64_t check_timeout_ns, nr_pool_health_report *report,
                             nr_error *err);

int nr_pool_check_health(nr_pool *p, int64_t check_timeout_ns, nr_pool_health_report *report,
                         nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "check_health", p ? p->id : NULL,
                   p ? &p->scope : NULL, NULL);
    int rc = check_health_impl(p, check_timeout_ns, report, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

static int check_health_impl(nr_pool *p, int64_t check_timeout_ns, nr_pool_health_report *report,
                             nr_error *err)
{
    nr_pool_health_report rep;
    memset(&rep, 0, sizeof(rep));
    rep.worst = NR_HEALTH_UNKNOWN;
    int worst_sev = -1;
    if (!p)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_check_health: pool must not be NULL");
    if (check_timeout_ns <= 0)
        return nr_error_set(err, NR_EINVAL, p->id,
                            "pool '%s': health check timeout must be positive", p->id);

    nr__pool_lock(p);
    nr__bag_flush_locked(p);
    uint64_t round = ++p->health_round;
    uint32_t budget = p->idle + p->deg_idle; /* check at most what is idle now */
    nr__pool_unlock(p);

    while (budget--) {
        nr__pool_lock(p);
        struct nr__instance *inst = next_unchecked_locked(p, round);
        if (!inst) {
            nr__pool_unlock(p);
            break;
        }
        inst->health_round = round;
        nr__inst_transition(inst, NR_LC_MAINTENANCE);
        p->maint++;
        nr__pool_unlock(p);

        nr_health_report hr;
        if (nr__health_check_one(p, inst, check_timeout_ns, &hr))
            tally(&rep, &worst_sev, &hr);
        /* (a check a hook refused: no verdict, back where it was, not counted) */
        settle_checked(p, inst, &hr, &rep);
    }
    nr__q_probe_round(p, round, check_timeout_ns, &rep);
    if (report)
        *report = rep;
    return NR_OK;
}
