/*
 * health_utilization.c - the utilization stage: how saturated the pool is,
 * from the statistics snapshot each round is given.
 *
 * One sample per round with a snapshot. Over the window (the last `window`
 * samples, and with window_ms only those taken less than window_ms before
 * the round) the stage computes
 *   in use       sum(in_use) / sum(max_size) of the samples (0 when max_size is 0),
 *   waiters      the mean of the samples' waiters,
 *   wait ratio   sum of the waits deltas / sum of the acquires deltas (a wait
 *                that timed out has no acquire: the ratio is capped at 1, and
 *                is 1 when callers waited but none acquired, 0 with no deltas).
 * The deltas are the counters' growth since the previous snapshot; the first
 * snapshot only sets the baseline. A counter that went back (the pool was
 * made again) restarted from 0: its delta is its new value, as Prometheus's
 * rate() reads a reset. Each measure is judged against its two thresholds
 * (reached at >=, 0 = off); the stage gives the worst (unknown until the
 * window holds min_samples) with the reason of the first measure that gave it.
 */
#include <stdio.h>
#include <string.h>

#include "health/health_internal.h"
#include "nebula/alloc.h"

int nr__util_init(nr__util *s, const nr_health_utilization_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    size_t cap = (size_t)cfg->window;
    if (!(s->samples = nr_calloc(cap, sizeof(*s->samples))))
        return NR_ENOMEM;
    nr__ring_init(&s->ring, cap);
    return NR_OK;
}

void nr__util_free(nr__util *s)
{
    nr_free(s->samples);
    s->samples = NULL;
}

static void add_sample(nr__util *s, int64_t now, const nr_pool_stats *st)
{
    nr__util_sample x = {
        .at_ns = now, .in_use = st->in_use, .max_size = st->max_size, .waiters = st->waiters};
    if (s->has_prev) {
        x.has_delta = true;
        if (st->waits < s->prev_waits || st->acquires < s->prev_acquires) {
            x.waits = st->waits; /* reset: counted again from 0 */
            x.acquires = st->acquires;
        } else {
            x.waits = st->waits - s->prev_waits;
            x.acquires = st->acquires - s->prev_acquires;
        }
    }
    s->has_prev = true;
    s->prev_waits = st->waits;
    s->prev_acquires = st->acquires;
    s->samples[nr__ring_push(&s->ring)] = x;
}

typedef struct measure {
    double value;
    double degraded, unhealthy;
    nr_health_state state;
} measure;

static void judge_one(measure *m)
{
    if (m->unhealthy > 0 && m->value >= m->unhealthy)
        m->state = NR_HEALTH_UNHEALTHY;
    else if (m->degraded > 0 && m->value >= m->degraded)
        m->state = NR_HEALTH_DEGRADED;
    else
        m->state = NR_HEALTH_HEALTHY;
}

void nr__util_judge(nr__util *s, int64_t now, const nr_pool_stats *st, nr_health_report *out)
{
    if (st)
        add_sample(s, now, st);
    int64_t max_age = s->cfg.window_ms * NR_NS_PER_MS;
    while (max_age > 0 && s->ring.count > 0 &&
           now - s->samples[nr__ring_at(&s->ring, 0)].at_ns >= max_age)
        nr__ring_drop_oldest(&s->ring);

    size_t n = s->ring.count;
    if (n < (size_t)s->cfg.min_samples) {
        out->state = NR_HEALTH_UNKNOWN;
        nr__health_reason(out, "%zu of %lld rounds needed before judging", n,
                          (long long)s->cfg.min_samples);
        return;
    }
    double in_use = 0, max_size = 0, waiters = 0, waits = 0, acquires = 0;
    size_t ndelta = 0;
    for (size_t i = 0; i < n; i++) {
        const nr__util_sample *x = &s->samples[nr__ring_at(&s->ring, i)];
        in_use += x->in_use;
        max_size += x->max_size;
        waiters += x->waiters;
        if (x->has_delta) {
            ndelta++;
            waits += (double)x->waits;
            acquires += (double)x->acquires;
        }
    }
    double ratio = 0;
    if (ndelta > 0 && acquires > 0)
        ratio = waits >= acquires ? 1.0 : waits / acquires;
    else if (ndelta > 0 && waits > 0)
        ratio = 1.0;
    measure m[3] = {
        {max_size > 0 ? in_use / max_size : 0, s->cfg.degraded_in_use, s->cfg.unhealthy_in_use,
         NR_HEALTH_UNKNOWN},
        {waiters / (double)n, s->cfg.degraded_waiters, s->cfg.unhealthy_waiters, NR_HEALTH_UNKNOWN},
        {ratio, s->cfg.degraded_wait_ratio, s->cfg.unhealthy_wait_ratio, NR_HEALTH_UNKNOWN},
    };
    size_t worst = 0;
    for (size_t k = 0; k < 3; k++) {
        judge_one(&m[k]);
        if (m[k].state > m[worst].state)
            worst = k;
    }
    out->state = m[worst].state;
    char v[3][32];
    nr__health_pct_text(v[0], sizeof(v[0]), m[0].value);
    nr__health_num_text(v[1], sizeof(v[1]), m[1].value);
    nr__health_pct_text(v[2], sizeof(v[2]), m[2].value);
    if (out->state == NR_HEALTH_HEALTHY) {
        nr__health_reason(out, "in use %s, waiters %s, %s of acquires waited, over %zu round%s",
                          v[0], v[1], v[2], n, n == 1 ? "" : "s");
        return;
    }
    const measure *w = &m[worst];
    bool unhealthy = w->state == NR_HEALTH_UNHEALTHY;
    double limit = unhealthy ? w->unhealthy : w->degraded;
    char lim[32];
    if (worst == 1)
        nr__health_num_text(lim, sizeof(lim), limit);
    else
        nr__health_pct_text(lim, sizeof(lim), limit);
    char head[96];
    if (worst == 0)
        snprintf(head, sizeof(head), "in use %s of max_size", v[0]);
    else if (worst == 1)
        snprintf(head, sizeof(head), "%s waiters on average", v[1]);
    else
        snprintf(head, sizeof(head), "%s of acquires waited", v[2]);
    nr__health_reason(out, "%s over %zu round%s (%s at %s)", head, n, n == 1 ? "" : "s",
                      unhealthy ? "unhealthy" : "degraded", lim);
}
