/*
 * pool_quarantine.c - instance quarantine: an instance whose health checks
 * failed instance_quarantine_after times in a row is held out of service
 * instead of destroyed, and probed with growing delays until it passes or
 * runs out of probes.
 *
 *        checks failed in a row reach instance_quarantine_after
 *   idle ------------------------------------------------------> QUARANTINED (probe 1 due)
 *    ^                                                            |        |
 *    |  probe k passes (healthy -> idle list,                      |        | probe k fails,
 *    |  degraded -> degraded list)                                 |        | k < max_attempts:
 *    +-------------------------------------------------------------+        | probe k+1 due
 *                                                                           |
 *        probe max_attempts fails; evict-all, credential, close,            v
 *        shrinking resize, max_lifetime --------------------------------> destroyed
 *
 * A quarantined instance stays in Maintenance, counts in total and in
 * `quarantined`, and is never handed out: it is on the quarantine list, or
 * off it while the one thread probing it holds it (then evict-all and close
 * cannot see it; that thread destroys it after the probe if the pool closed
 * or the instance's generation is gone). Probe k is due
 * base x factor^(k-1) ms, capped, +- jitter, after the verdict before it,
 * on the pool's clock (nr_pool_options.clock, read with no lock held).
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_internal.h"
#include "observe/span.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

int64_t nr__pool_clock(const nr_pool *p)
{
    return p->clock ? p->clock(p->clock_ud) : nr_now_ns();
}

void nr__q_push_tail(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    inst->next = NULL;
    inst->prev = p->q_tail;
    if (p->q_tail)
        p->q_tail->next = inst;
    else
        p->q_head = inst;
    p->q_tail = inst;
}

void nr__q_remove(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    if (inst->prev)
        inst->prev->next = inst->next;
    else
        p->q_head = inst->next;
    if (inst->next)
        inst->next->prev = inst->prev;
    else
        p->q_tail = inst->prev;
    inst->prev = inst->next = NULL;
}

int64_t nr__q_delay_ms(const nr_pool *p, uint32_t attempt)
{
    double cap = (double)NR__CFG(p, instance_quarantine_max_ms);
    double d = (double)NR__CFG(p, instance_quarantine_base_ms);
    double factor = NR__CFG_D(p, instance_quarantine_factor),
           jitter = NR__CFG_D(p, instance_quarantine_jitter);
    for (uint32_t k = 1; k < attempt && d < cap; k++)
        d *= factor;
    if (d > cap)
        d = cap;
    if (jitter > 0)
        d *= 1.0 + jitter * (2.0 * nr__rand_unit() - 1.0);
    return d < 1 ? 1 : (int64_t)d;
}

/* [mu] Schedule probe `attempt` of inst at now + its delay; the event text. */
static void schedule_locked(nr_pool *p, struct nr__instance *inst, uint32_t attempt, int64_t now,
                            const char *reason, char *text, size_t text_len)
{
    int64_t delay = nr__q_delay_ms(p, attempt);
    inst->q_attempt = attempt;
    inst->q_due_ns = now + delay * NR_NS_PER_MS;
    nr__q_push_tail(p, inst);
    snprintf(text, text_len, "instance %llu quarantined (probe %u of %lld in %lld ms): %s",
             (unsigned long long)inst->id, attempt,
             (long long)NR__CFG(p, instance_quarantine_max_attempts), (long long)delay,
             reason && *reason ? reason : "unhealthy");
}

void nr__q_enter_locked(nr_pool *p, struct nr__instance *inst, int64_t now, const char *reason,
                        char *text, size_t text_len)
{
    NR__ASSERT_LOCKED(p);
    assert(inst->state == NR_LC_MAINTENANCE && inst->q_attempt == 0);
    p->maint--;
    p->quarantined++;
    p->quarantines++;
    schedule_locked(p, inst, 1, now, reason, text, text_len);
}

/* [mu] The due quarantined instance with the earliest probe time that this
 * round has not probed, taken off the list; NULL when none is due. */
static struct nr__instance *next_due_locked(nr_pool *p, uint64_t round, int64_t now)
{
    NR__ASSERT_LOCKED(p);
    struct nr__instance *best = NULL;
    for (struct nr__instance *inst = p->q_head; inst; inst = inst->next) {
        if (inst->health_round == round || inst->q_due_ns > now)
            continue;
        if (!best || inst->q_due_ns < best->q_due_ns)
            best = inst;
    }
    if (best)
        nr__q_remove(p, best);
    return best;
}

/* After a probe of inst (off the list, still counted in quarantined). */
static void settle_probe(nr_pool *p, struct nr__instance *inst, uint32_t attempt,
                         const nr_health_report *hr, nr_pool_health_report *rep)
{
    int pass = hr->state == NR_HEALTH_HEALTHY || hr->state == NR_HEALTH_DEGRADED;
    /* A release's hooks run before the lock; a refusal keeps it quarantined
     * until its probe comes round again (the same attempt). */
    nr__hook_run run = {0};
    nr_hook_call call;
    int refused = 0;
    if (pass && NR__POOL_HOOKS(p, NR_HOOK_QUARANTINE_RELEASE))
        refused = nr__pool_hooks_before(p, NR_HOOK_QUARANTINE_RELEASE, inst->id, &run, &call,
                                        NULL) != NR_OK;
    /* the caller's clock: before the lock */
    int64_t now = pass && !refused ? 0 : nr__pool_clock(p);
    char text[NR_EVENT_TEXT_MAX * 2];
    uint64_t id = inst->id;
    nr__pool_lock(p);
    int why = 0;
    if (atomic_load_explicit(&p->closed, memory_order_relaxed))
        why = NR__DISCARD_CLOSED;
    else if ((why = nr__stale(p, inst)) != 0)
        ; /* an evict-all or a new credential while it was probed */
    else if (pass && atomic_load_explicit(&p->shrinking, memory_order_relaxed) &&
             p->total > (uint64_t)p->cfg.max_size)
        why = NR__DISCARD_RESIZE;
    else if (!pass && attempt >= (uint64_t)NR__CFG(p, instance_quarantine_max_attempts))
        why = NR__DISCARD_QUARANTINE;
    if (why) {
        nr__pool_unlock(p);
        if (run.active) { /* it passed but goes instead of coming back */
            nr_error e;
            nr_error_clear(&e);
            int rc = why == NR__DISCARD_CLOSED ? NR_ESHUTDOWN : NR_ESTATE;
            nr_error_set(&e, rc, p->id, "pool '%s': instance %llu is destroyed, not released (%s)",
                         p->id, (unsigned long long)id,
                         why == NR__DISCARD_CLOSED ? "the pool closed" : "retired meanwhile");
            nr__pool_hooks_after(p, &run, &call, rc, &e);
        }
        if (why == NR__DISCARD_QUARANTINE) {
            rep->probe_discarded++;
            snprintf(text, sizeof(text), "instance %llu: %u probes failed in quarantine: %s",
                     (unsigned long long)id, attempt, hr->reason);
            nr__trace_log(NR_TRACE_LEVEL_WARN, "quarantine", p->id, NR_EHEALTH, text);
            nr__pool_event(p, NR_EV_CLEANED_UP, id, 0, 1, NR_EHEALTH, text);
        }
        nr__discard(p, inst, &p->quarantined, (nr__discard_reason)why);
        return;
    }
    if (refused) {
        schedule_locked(p, inst, attempt, now, "a hook kept it in quarantine", text, sizeof(text));
        nr__pool_assert_locked_invariants(p);
        nr__pool_unlock(p);
        return;
    }
    if (!pass) {
        schedule_locked(p, inst, attempt + 1, now, hr->reason, text, sizeof(text));
        nr__pool_assert_locked_invariants(p);
        nr__pool_unlock(p);
        nr__pool_event(p, NR_EV_QUARANTINED, id, 0, attempt + 1, NR_EHEALTH, text);
        return;
    }
    p->quarantined--;
    p->quarantine_releases++;
    rep->released++;
    inst->q_attempt = 0;
    inst->health_fails = 0;
    inst->degraded = hr->state == NR_HEALTH_DEGRADED;
    nr__place_checked_unlock(p, inst);
    snprintf(text, sizeof(text), "instance %llu: probe %u passed; back in the pool%s",
             (unsigned long long)id, attempt, hr->state == NR_HEALTH_DEGRADED ? ", degraded" : "");
    nr__trace_log(NR_TRACE_LEVEL_INFO, "quarantine", p->id, NR_OK, text);
    nr__pool_event(p, NR_EV_QUARANTINE_RELEASED, id, 0, attempt, NR_OK, text);
    if (run.active)
        nr__pool_hooks_after(p, &run, &call, NR_OK, NULL);
}

/* A probe a health check hook refused: back on the list, due as it was (or
 * destroyed, when the pool closed or the instance's generation went
 * meanwhile). */
static void probe_refused(nr_pool *p, struct nr__instance *inst)
{
    nr__pool_lock(p);
    int why = atomic_load_explicit(&p->closed, memory_order_relaxed) ? NR__DISCARD_CLOSED
                                                                     : nr__stale(p, inst);
    if (why) {
        nr__pool_unlock(p);
        nr__discard(p, inst, &p->quarantined, (nr__discard_reason)why);
        return;
    }
    nr__q_push_tail(p, inst);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
}

void nr__q_probe_round(nr_pool *p, uint64_t round, int64_t check_timeout_ns,
                       nr_pool_health_report *rep)
{
    nr__pool_lock(p);
    uint32_t budget = p->quarantined; /* each at most once per round */
    nr__pool_unlock(p);
    while (budget--) {
        int64_t now = nr__pool_clock(p);
        nr__pool_lock(p);
        struct nr__instance *inst = next_due_locked(p, round, now);
        if (!inst) {
            nr__pool_unlock(p);
            return;
        }
        inst->health_round = round;
        uint32_t attempt = inst->q_attempt;
        nr__pool_unlock(p);

        nr_health_report hr;
        if (!nr__health_check_one(p, inst, check_timeout_ns, &hr)) {
            probe_refused(p, inst);
            continue;
        }
        rep->probed++;
        settle_probe(p, inst, attempt, &hr, rep);
    }
}
