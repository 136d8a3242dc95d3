/*
 * pool_maintain.c - the maintenance step and warming to min_idle (health
 * checks are in pool_health.c). Every driver callback here runs on the
 * calling thread with no lock held.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_budget.h"
#include "pool/pool_internal.h"
#include "observe/span.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* [mu] How many creates would bring idle up to min_idle within max_size
 * (none while suspended, and none during a create backoff: then at most
 * the one probe, when its time has come). */
static uint32_t need_locked(const nr_pool *p, uint64_t want, int honor_backoff);
static uint32_t fill_need_locked(const nr_pool *p, int honor_backoff)
{
    return need_locked(p, (uint64_t)p->cfg.min_idle, honor_backoff);
}

static uint32_t need_locked(const nr_pool *p, uint64_t want, int honor_backoff)
{
    NR__ASSERT_LOCKED(p);
    if (atomic_load_explicit(&p->refusing, memory_order_relaxed) || p->suspended)
        return 0;
    if (honor_backoff && p->failures > 0 && (p->creating > 0 || nr_now_ns() < p->next_create_ns))
        return 0;
    /* Maintenance counts every create in flight as on its way; an explicit
     * fill or prime counts only its own, since the creator's may fail or
     * go to a waiter. */
    /* (instances out for a health check come back idle: they count too;
     * quarantined ones are never handed out: they do not) */
    uint64_t have = (uint64_t)p->idle + p->deg_idle + p->maint +
                    (honor_backoff ? p->creating : p->creating - p->creating_async);
    if (have >= want)
        return 0;
    uint64_t need = want - have;
    if (p->total >= (uint64_t)p->cfg.max_size)
        return 0;
    uint64_t room = (uint64_t)p->cfg.max_size - p->total;
    if (honor_backoff && p->failures > 0)
        room = 1;
    return (uint32_t)(need < room ? need : room);
}

/* Create `n` reserved instances one after the other and place them. */
static int create_placed(nr_pool *p, uint32_t n, nr_deadline deadline, uint32_t *created,
                         uint32_t *failed, nr_error *err)
{
    int first = NR_OK;
    for (uint32_t i = 0; i < n; i++) {
        nr__pool_lock(p);
        struct nr__instance *rec = nr__record_take_locked(p);
        nr__pool_unlock(p);
        struct nr__instance *inst = NULL;
        nr_error e;
        nr_error_clear(&e);
        int rc = nr__create_reserved(p, rec, deadline, NULL, 0, &inst, &e);
        if (rc != NR_OK) {
            (*failed)++;
            if (first == NR_OK) {
                first = rc;
                if (err)
                    *err = e;
            }
            continue;
        }
        (*created)++;
        nr__pool_lock(p);
        if (!nr__place_created_locked(p, inst, 0)) {
            nr__pool_unlock(p); /* counted in in_use, for nr__discard */
            nr__discard(p, inst, &p->in_use, NR__DISCARD_CLOSED);
            continue;
        }
        nr__pool_assert_locked_invariants(p);
        nr__pool_unlock(p);
    }
    return first;
}

/* [mu] Take the instances of the degraded list (degraded) or of the idle
 * list that maintenance retires onto *list, the longest idle first: past
 * max_lifetime, or past idle_timeout while more than min_idle are idle.
 * Returns how many (still counted in total). */
static uint32_t evict_locked(nr_pool *p, int degraded, int64_t now, struct nr__instance **list,
                             nr_pool_maintain_report *rep)
{
    NR__ASSERT_LOCKED(p);
    int64_t idle_ns = NR__CFG(p, idle_timeout_ms) * NR_NS_PER_MS;
    uint32_t n = 0;
    for (struct nr__instance *inst = degraded ? p->deg_tail : p->idle_tail, *prev; inst;
         inst = prev) {
        prev = inst->prev;
        if (nr__expired(p, inst, now)) {
            rep->evicted_lifetime++;
            p->evicted_lifetime++;
        } else if (idle_ns > 0 && now - inst->last_used_ns >= idle_ns &&
                   (uint64_t)p->idle + p->deg_idle > (uint64_t)p->cfg.min_idle) {
            rep->evicted_idle++;
            p->evicted_idle++;
        } else {
            continue;
        }
        if (degraded)
            nr__deg_remove(p, inst);
        else
            nr__idle_remove(p, inst);
        nr__inst_transition(inst, NR_LC_CLEANUP);
        inst->next = *list;
        *list = inst;
        n++;
    }
    return n;
}

static int maintain_impl(nr_pool *p, nr_pool_maintain_report *report, nr_error *err);

int nr_pool_maintain(nr_pool *p, nr_pool_maintain_report *report, nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "maintain", p ? p->id : NULL, p ? &p->scope : NULL,
                   NULL);
    int rc = maintain_impl(p, report, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

static int maintain_impl(nr_pool *p, nr_pool_maintain_report *report, nr_error *err)
{
    nr_pool_maintain_report rep;
    memset(&rep, 0, sizeof(rep));
    if (!p)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_maintain: pool must not be NULL");

    nr__pool_lock(p);
    nr__bag_flush_locked(p); /* the walk below sees every idle instance */
    int64_t now = nr_now_coarse_ns();
    struct nr__instance *list = NULL;
    /* Degraded ones go first, then healthy ones; quarantined ones only for
     * their lifetime. */
    uint32_t n = evict_locked(p, 1, now, &list, &rep) + evict_locked(p, 0, now, &list, &rep);
    for (struct nr__instance *inst = p->q_head, *next; inst; inst = next) {
        next = inst->next;
        if (!nr__expired(p, inst, now))
            continue;
        nr__q_remove(p, inst);
        p->quarantined--;
        nr__inst_transition(inst, NR_LC_CLEANUP);
        rep.evicted_lifetime++;
        p->evicted_lifetime++;
        inst->next = list;
        list = inst;
        n++;
    }
    p->total -= n;
    p->destroying += n;
    uint32_t more = nr__creator_plan_locked(p, 0);
    uint32_t need = fill_need_locked(p, 1) ? 1 : 0; /* one at a time: see create_placed below */
    need = nr__budget_take_locked(p, need, 0);
    p->total += need;
    p->creating += need;
    /* Short of min_idle and held back by the create backoff: the step
     * reports the failure that keeps it short. */
    nr_error held_back;
    int backoff_rc = NR_OK;
    if (!need && p->failures > 0 && fill_need_locked(p, 0) > 0) {
        held_back = p->last_create_err;
        backoff_rc = held_back.code ? held_back.code : NR_EUNAVAIL;
    }
    nr__pool_assert_locked_invariants(p);
    nr__leak_scan_unlock(p);
    if (more)
        nr__creator_start(p, more);

    if (n) {
        nr__destroy_list(p, list, n);
        nr__pool_event(p, NR_EV_CLEANED_UP, 0, 0, n, NR_OK,
                       rep.evicted_lifetime ? "max_lifetime or idle_timeout" : "idle_timeout");
    }
    /* Fill to min_idle one create at a time, each slot reserved just before
     * its create, so the creator's max_connecting bound sees them. */
    nr_deadline dl = nr_deadline_in_ms(NR__CFG(p, create_timeout_ms));
    int rc = NR_OK;
    while (need) {
        int one = create_placed(p, 1, dl, &rep.created, &rep.create_failures, err);
        if (rc == NR_OK)
            rc = one;
        if (one != NR_OK || nr_deadline_expired(dl))
            break;
        nr__pool_lock(p);
        need = nr__budget_take_locked(p, fill_need_locked(p, 1) ? 1 : 0, 0);
        p->total += need;
        p->creating += need;
        nr__pool_unlock(p);
    }
    /* Then replace degraded idle instances by new ones, when it can be done. */
    rep.replaced_degraded = nr__replace_degraded(p, &rep.create_failures, &rc, err);
    if (rc == NR_OK && backoff_rc != NR_OK) {
        rc = backoff_rc;
        if (err)
            nr_error_set_cause(err, held_back.code, held_back.cause, held_back.driver_code, p->id,
                               "pool '%s': below min_idle while creates fail: %s", p->id,
                               held_back.message);
    }
    if (report)
        *report = rep;
    return rc;
}

static int fill_impl(nr_pool *p, int64_t want, nr_deadline deadline, nr_error *err);

int nr_pool_fill(nr_pool *p, nr_deadline deadline, nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "fill", p ? p->id : NULL, p ? &p->scope : NULL,
                   NULL);
    int rc = fill_impl(p, -1, deadline, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

int nr_pool_prime(nr_pool *p, uint32_t n, nr_deadline deadline, nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "fill", p ? p->id : NULL, p ? &p->scope : NULL,
                   NULL);
    int rc = fill_impl(p, n, deadline, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

static int fill_impl(nr_pool *p, int64_t want, nr_deadline deadline, nr_error *err)
{
    if (!p)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_fill: pool must not be NULL");
    uint32_t created = 0, failed = 0;
    for (;;) {
        if (nr_deadline_expired(deadline)) {
            nr__pool_lock(p);
            long long target = want < 0 ? (long long)p->cfg.min_idle : (long long)want;
            nr__pool_unlock(p);
            return nr_error_set(err, NR_ETIMEDOUT, p->id,
                                "pool '%s': fill to %lld idle instance(s) ran out of time", p->id,
                                target);
        }
        nr__pool_lock(p);
        nr__bag_flush_locked(p);
        uint32_t need = want < 0 ? fill_need_locked(p, 0) : need_locked(p, (uint64_t)want, 0);
        if (need) {
            need = 1; /* one at a time, so the deadline is checked between creates */
            if (!nr__budget_take_locked(p, 1, 0)) {
                /* the places shared with other pools are taken: as full as it may be */
                nr__pool_unlock(p);
                return NR_OK;
            }
            p->total++;
            p->creating++;
        }
        nr__pool_unlock(p);
        if (!need)
            return NR_OK;
        int rc = create_placed(p, 1, deadline, &created, &failed, err);
        if (rc != NR_OK)
            return rc;
    }
}
