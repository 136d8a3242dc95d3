/*
 * pool_control.c - what an operator changes on a running pool: its size,
 * suspend and resume, a new generation (evict all), taking an instance out
 * for good, and the report of leases held too long.
 *
 * Every control takes mu for its bookkeeping only; instances it retires are
 * destroyed after mu is released, and creates it makes room for are started
 * by the creator.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "nebula/trace.h"
#include "observe/span.h"

int nr_pool_reconfigure(nr_pool *p, const nr_pool_config *cfg, nr_error *err)
{
    if (!p || !cfg)
        return nr_error_set(err, NR_EINVAL, p ? p->id : NULL,
                            "nr_pool_reconfigure: pool and cfg must not be NULL");
    nr_config_report rep;
    nr_config_report_clear(&rep);
    if (nr_config_validate(&nr_pool_config_schema, cfg, "$.pool", &rep, NULL) != NR_OK)
        return nr_error_set(err, NR_ECONFIG, p->id, "pool '%s': %s: %s (got %s)", p->id,
                            rep.items[0].path, rep.items[0].rule, rep.items[0].value);
    if (cfg->max_connecting != p->cfg.max_connecting) /* constant: no race */
        return nr_error_set(err, NR_EINVAL, p->id,
                            "pool '%s': max_connecting cannot change while the pool runs (it is "
                            "%" PRId64 ", asked %" PRId64 "); make a new pool",
                            p->id, p->cfg.max_connecting, cfg->max_connecting);
    nr__pool_lock(p);
    if (NR__CFG(p, leak_threshold_ms) <= 0 && cfg->leak_threshold_ms > 0)
        p->leak_on_ns = nr_now_coarse_ns();
    NR__CFG_SET(p, acquire_timeout_ms, cfg->acquire_timeout_ms);
    NR__CFG_SET(p, max_lifetime_ms, cfg->max_lifetime_ms);
    NR__CFG_SET(p, idle_timeout_ms, cfg->idle_timeout_ms);
    NR__CFG_SET(p, validate_on_acquire, cfg->validate_on_acquire);
    NR__CFG_SET(p, recycle_on_release, cfg->recycle_on_release);
    NR__CFG_SET(p, create_timeout_ms, cfg->create_timeout_ms);
    NR__CFG_SET(p, create_backoff_ms, cfg->create_backoff_ms);
    NR__CFG_SET_D(p, create_backoff_factor, cfg->create_backoff_factor);
    NR__CFG_SET(p, create_backoff_max_ms, cfg->create_backoff_max_ms);
    NR__CFG_SET(p, breaker_failures, cfg->breaker_failures);
    NR__CFG_SET_D(p, max_lifetime_jitter, cfg->max_lifetime_jitter);
    NR__CFG_SET(p, validate_bypass_ms, cfg->validate_bypass_ms);
    NR__CFG_SET(p, validate_timeout_ms, cfg->validate_timeout_ms);
    NR__CFG_SET(p, max_waiters, cfg->max_waiters);
    NR__CFG_SET(p, leak_threshold_ms, cfg->leak_threshold_ms);
    NR__CFG_SET(p, replace_degraded, cfg->replace_degraded);
    NR__CFG_SET(p, instance_quarantine_after, cfg->instance_quarantine_after);
    NR__CFG_SET(p, instance_quarantine_base_ms, cfg->instance_quarantine_base_ms);
    NR__CFG_SET_D(p, instance_quarantine_factor, cfg->instance_quarantine_factor);
    NR__CFG_SET(p, instance_quarantine_max_ms, cfg->instance_quarantine_max_ms);
    NR__CFG_SET_D(p, instance_quarantine_jitter, cfg->instance_quarantine_jitter);
    NR__CFG_SET(p, instance_quarantine_max_attempts, cfg->instance_quarantine_max_attempts);
    int64_t min_idle = p->cfg.min_idle, max_size = p->cfg.max_size;
    nr__pool_unlock(p);
    if (min_idle == cfg->min_idle && max_size == cfg->max_size)
        return NR_OK;
    return nr_pool_resize(p, cfg->min_idle, cfg->max_size, err);
}

int nr_pool_resize(nr_pool *p, int64_t min_idle, int64_t max_size, nr_error *err)
{
    if (!p)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_resize: pool must not be NULL");
    if (max_size < 1 || max_size > 1000000)
        return nr_error_set(err, NR_ECONFIG, p->id,
                            "pool '%s': max_size: must be between 1 and 1000000 (got %" PRId64 ")",
                            p->id, max_size);
    if (min_idle < 0 || min_idle > max_size)
        return nr_error_set(err, NR_ECONFIG, p->id,
                            "pool '%s': min_idle: must be between 0 and max_size (%" PRId64
                            ") (got %" PRId64 ")",
                            p->id, max_size, min_idle);
    nr__pool_lock(p);
    p->cfg.min_idle = min_idle;
    p->cfg.max_size = max_size;
    /* Instances beyond the new max go now: quarantined ones first, then
     * degraded idle ones, then the longest idle. */
    nr__bag_flush_locked(p);
    struct nr__instance *list = NULL, *inst;
    uint32_t n = 0;
    while (p->total > (uint64_t)max_size && (inst = nr__retire_one_locked(p)) != NULL) {
        inst->next = list;
        list = inst;
        n++;
    }
    if (p->total > (uint64_t)max_size)
        atomic_store_explicit(&p->shrinking, 1, memory_order_relaxed);
    uint32_t more = nr__creator_plan_locked(p, 0);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    if (n) {
        nr__destroy_list(p, list, n);
        nr__pool_event(p, NR_EV_CLEANED_UP, 0, 0, n, NR_OK, "resize");
    }
    if (more)
        nr__creator_start(p, more);
    return NR_OK;
}

void nr_pool_suspend(nr_pool *p)
{
    if (!p)
        return;
    nr__pool_lock(p);
    p->suspended = 1;
    nr__gate_update_locked(p); /* the fast path hands nothing out either */
    nr__pool_unlock(p);
}

void nr_pool_resume(nr_pool *p)
{
    if (!p)
        return;
    nr__pool_lock(p);
    p->suspended = 0;
    nr__gate_update_locked(p);
    nr__settle_locked(p);
    uint32_t more = nr__creator_plan_locked(p, 0);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    if (more)
        nr__creator_start(p, more);
}

uint32_t nr_pool_evict_all(nr_pool *p)
{
    if (!p)
        return 0;
    nr__pool_lock(p);
    uint32_t n = nr__new_generation_unlock(p, NR__GEN_EVICT_ONE, &p->evicted_generation);
    nr__pool_event(p, NR_EV_CLEANED_UP, 0, 0, n, NR_OK, "evict all: new generation");
    return n;
}

int nr_guard_detach(nr_guard *g, void **handle)
{
    if (!handle || !g || !g->inst)
        return NR_EINVAL;
    int in_bag;
    struct nr__instance *inst = nr__lease_end(g, &in_bag);
    if (!inst)
        return NR_ESTATE;
    nr_pool *p = inst->pool;
    *handle = inst->handle;
    uint64_t id = inst->id;
    nr__pool_lock(p);
    if (in_bag)
        nr__bag_remove_locked(p, inst);
    else
        nr__lease_off_locked(p, inst);
    p->total--;
    p->detached++;
    nr__inst_transition(inst, NR_LC_CLEANUP);
    nr__inst_transition(inst, NR_LC_TERMINATED);
    nr__record_put_locked(p, inst);
    uint32_t more = nr__creator_plan_locked(p, 0);
    nr__slot_released_locked(p);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    nr__pool_event(p, NR_EV_DESTROYED, id, 0, 0, NR_OK, "detached");
    if (more)
        nr__creator_start(p, more);
    return NR_OK;
}

/* ---- leases held too long ------------------------------------------------------------ */

typedef struct leak_note {
    uint64_t id;
    int64_t held_ns;
    const char *file, *func;
    int line;
    unsigned long thread;
} leak_note;

static void leak_tell(nr_pool *p, const leak_note *n, int closed)
{
    char text[256];
    if (closed)
        snprintf(text, sizeof(text), "lease given back after %lld ms (acquired at %s:%d in %s)",
                 (long long)(n->held_ns / NR_NS_PER_MS), n->file ? n->file : "?", n->line,
                 n->func ? n->func : "?");
    else
        snprintf(text, sizeof(text),
                 "lease held %lld ms, over leak_threshold_ms %lld (acquired at %s:%d in %s, "
                 "thread %#lx)",
                 (long long)(n->held_ns / NR_NS_PER_MS), (long long)NR__CFG(p, leak_threshold_ms),
                 n->file ? n->file : "?", n->line, n->func ? n->func : "?", n->thread);
    nr__trace_log(closed ? NR_TRACE_LEVEL_INFO : NR_TRACE_LEVEL_WARN, "leak", p->id, NR_OK, text);
    nr__pool_event(p, closed ? NR_EV_LEAK_CLOSED : NR_EV_LEAK_SUSPECTED, n->id, n->held_ns, 0,
                   NR_OK, text);
}

static void site_of(const struct nr__instance *inst, leak_note *n)
{
    n->file = atomic_load_explicit(&inst->site_file, memory_order_relaxed);
    n->func = atomic_load_explicit(&inst->site_func, memory_order_relaxed);
    n->line = atomic_load_explicit(&inst->site_line, memory_order_relaxed);
    n->thread = atomic_load_explicit(&inst->site_thread, memory_order_relaxed);
}

uint32_t nr__leak_scan_unlock(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    if (NR__CFG(p, leak_threshold_ms) <= 0 || (p->in_use == 0 && p->bagged == 0)) {
        nr__pool_unlock(p);
        return 0;
    }
    enum { MAX_NOTES = 16 };
    leak_note notes[MAX_NOTES];
    uint32_t n = 0, found = 0;
    int64_t now = nr_now_coarse_ns(), limit = NR__CFG(p, leak_threshold_ms) * NR_NS_PER_MS;
    for (struct nr__instance *r = p->all_records; r; r = r->all_next) {
        uint64_t lease = atomic_load_explicit(&r->lease, memory_order_acquire);
        if (!lease || atomic_load_explicit(&r->leak_reported, memory_order_relaxed))
            continue;
        int64_t since;
        if (r->leased)
            since = r->acquired_ns;
        else if (nr__bag_state(r) == NR__BAG_USED)
            since = atomic_load_explicit(&r->lease_start_ns, memory_order_relaxed);
        else
            continue;
        if (now - since < limit || since < p->leak_on_ns)
            continue;
        leak_note note = {.id = r->id, .held_ns = now - since};
        site_of(r, &note);
        /* The same lease still? Otherwise the site may be another lease's. */
        if (atomic_load_explicit(&r->lease, memory_order_acquire) != lease)
            continue;
        atomic_store_explicit(&r->leak_reported, 1, memory_order_relaxed);
        p->leaks++;
        p->leaks_open++;
        found++;
        if (n < MAX_NOTES)
            notes[n++] = note;
    }
    nr__pool_unlock(p);
    for (uint32_t i = 0; i < n; i++)
        leak_tell(p, &notes[i], 0);
    return found;
}

void nr__leak_close(nr_pool *p, struct nr__instance *inst)
{
    leak_note note = {.id = inst->id};
    site_of(inst, &note);
    nr__pool_lock(p);
    int64_t since = inst->leased
                        ? inst->acquired_ns
                        : atomic_load_explicit(&inst->lease_start_ns, memory_order_relaxed);
    note.held_ns = nr_now_coarse_ns() - since;
    atomic_store_explicit(&inst->leak_reported, 0, memory_order_relaxed);
    if (p->leaks_open)
        p->leaks_open--;
    nr__pool_unlock(p);
    leak_tell(p, &note, 1);
}
