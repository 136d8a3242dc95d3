/*
 * manager_autoscale.c - a resource's autoscaling policy (nebula/autoscale.h)
 * evaluated after each maintenance round: utilization against the
 * watermarks, held for the window, spaced by the cooldown, bounded by the
 * policy's sizes; a decision resizes the resource and publishes an event.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "manager/manager_internal.h"
#include "nebula/alloc.h"

int64_t nr__manager_now(const nr_manager *m)
{
    return m->opts.clock ? m->opts.clock(m->opts.clock_ud) : nr_now_ns();
}

/* (in use + waiters) / max_size over e's pools; *max gets the max_size of
 * one pool (they share it). -1 when e has no pool. */
static double utilization(nr__entry *e, int64_t *max)
{
    size_t n;
    nr_pool **pools = nr__entry_pools(e, &n);
    uint64_t busy = 0, cap = 0;
    *max = 0;
    for (size_t i = 0; i < n; i++) {
        nr_pool_stats s = NR_POOL_STATS_INIT;
        nr_pool_stats_get(pools[i], &s);
        busy += (uint64_t)s.in_use + s.waiters;
        cap += s.max_size;
        *max = s.max_size;
    }
    nr_free(pools);
    return cap ? (double)busy / (double)cap : -1;
}

void nr__autoscale_round(nr_manager *m, nr__entry *e)
{
    pthread_mutex_lock(&e->mu);
    nr_autoscale_policy p = e->as_policy;
    pthread_mutex_unlock(&e->mu);
    if (!p.enabled || nr__manager_closing(m) ||
        atomic_load_explicit(&e->state, memory_order_relaxed) != NR_RS_RUNNING)
        return;
    int64_t cur = 0;
    double u = utilization(e, &cur);
    if (u < 0)
        return;
    int64_t now = nr__manager_now(m);
    int64_t target = cur;
    int up = 0;
    /* short enough for last_decision's "down: " prefix (the longest text,
     * with every number at its widest, is about 100 characters) */
    char why[NR_EVENT_TEXT_MAX - sizeof("down: ")] = "";
    pthread_mutex_lock(&e->mu);
    e->as_state.utilization = u;
    /* the time since a watermark was first crossed, reset when it is not */
    if (u >= p.high_watermark) {
        if (!e->as_above_ns)
            e->as_above_ns = now;
    } else {
        e->as_above_ns = 0;
    }
    if (u <= p.low_watermark) {
        if (!e->as_below_ns)
            e->as_below_ns = now;
    } else {
        e->as_below_ns = 0;
    }
    int64_t window = p.window_ms * NR_NS_PER_MS;
    bool cooled = !e->as_last_ns || now - e->as_last_ns >= p.cooldown_ms * NR_NS_PER_MS;
    if (cooled && e->as_above_ns && now - e->as_above_ns >= window && cur < p.max_size) {
        target = cur + p.step_up > p.max_size ? p.max_size : cur + p.step_up;
        up = 1;
        snprintf(why, sizeof(why), "utilization %.2f >= %.2f for %lld ms: max_size %lld -> %lld", u,
                 p.high_watermark, (long long)((now - e->as_above_ns) / NR_NS_PER_MS),
                 (long long)cur, (long long)target);
    } else if (cooled && e->as_below_ns && now - e->as_below_ns >= window && cur > p.min_size) {
        target = cur - p.step_down < p.min_size ? p.min_size : cur - p.step_down;
        snprintf(why, sizeof(why), "utilization %.2f <= %.2f for %lld ms: max_size %lld -> %lld", u,
                 p.low_watermark, (long long)((now - e->as_below_ns) / NR_NS_PER_MS),
                 (long long)cur, (long long)target);
    } else if (cur > p.max_size || cur < p.min_size) {
        /* outside the bounds (a resize or a reload put it there): back inside */
        target = cur > p.max_size ? p.max_size : p.min_size;
        up = target > cur;
        snprintf(why, sizeof(why), "max_size %lld is outside [%lld, %lld]: -> %lld", (long long)cur,
                 (long long)p.min_size, (long long)p.max_size, (long long)target);
    }
    int64_t min_idle = e->pool_cfg.min_idle < target ? e->pool_cfg.min_idle : target;
    pthread_mutex_unlock(&e->mu);
    if (target == cur)
        return;
    nr_error err;
    nr_error_clear(&err);
    if (nr_manager_resize(m, e->id, min_idle, target, &err) != NR_OK) {
        nr__manager_event(m, NR_EV_ERROR, e->id, &e->scope, 0, 0, err.message);
        return;
    }
    pthread_mutex_lock(&e->mu);
    e->as_last_ns = now;
    e->as_above_ns = e->as_below_ns = 0; /* the next decision needs a window of its own */
    if (up)
        e->as_state.scale_ups++;
    else
        e->as_state.scale_downs++;
    e->as_state.last_decision_ms = nr_wall_ms();
    snprintf(e->as_state.last_decision, sizeof(e->as_state.last_decision), "%s: %s",
             up ? "up" : "down", why);
    pthread_mutex_unlock(&e->mu);
    nr__manager_event(m, up ? NR_EV_SCALED_UP : NR_EV_SCALED_DOWN, e->id, &e->scope, target, 0,
                      why);
}
