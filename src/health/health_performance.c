/*
 * health_performance.c - the performance stage: a latency percentile over a
 * window of samples against two thresholds.
 *
 * One sample per round (the check's latency). The window holds the last
 * `window` samples, and with window_ms only those taken less than window_ms
 * before the round. Once it holds min_samples, the stage takes the
 * percentile by nearest rank (the smallest sample with at least percentile%
 * of the samples at or below it: sorted[ceil(p * n / 100) - 1]) and gives
 *   unhealthy  when it is >= unhealthy_ms (unless 0),
 *   degraded   when it is >= degraded_ms (unless 0),
 *   healthy    otherwise;
 * before that, unknown. Each round judges the window afresh, so the stage
 * goes back to healthy as soon as slow samples leave it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "health/health_internal.h"
#include "nebula/alloc.h"

int nr__perf_init(nr__perf *s, const nr_health_performance_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    size_t cap = (size_t)cfg->window;
    s->lat_ns = nr_calloc(cap, sizeof(*s->lat_ns));
    s->at_ns = nr_calloc(cap, sizeof(*s->at_ns));
    s->scratch = nr_calloc(cap, sizeof(*s->scratch));
    if (!s->lat_ns || !s->at_ns || !s->scratch) {
        nr__perf_free(s);
        return NR_ENOMEM;
    }
    nr__ring_init(&s->ring, cap);
    return NR_OK;
}

void nr__perf_free(nr__perf *s)
{
    nr_free(s->lat_ns);
    nr_free(s->at_ns);
    nr_free(s->scratch);
    s->lat_ns = s->at_ns = s->scratch = NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile of the window's samples (count > 0). */
static int64_t percentile(nr__perf *s)
{
    size_t n = s->ring.count;
    for (size_t i = 0; i < n; i++)
        s->scratch[i] = s->lat_ns[nr__ring_at(&s->ring, i)];
    qsort(s->scratch, n, sizeof(*s->scratch), cmp_i64);
    /* p * n first: exact for whole percentiles, so 90 of 10 is rank 9 */
    double rank = ceil(s->cfg.percentile * (double)n / 100.0 - 1e-9);
    size_t r = rank < 1 ? 1 : (size_t)rank;
    return s->scratch[(r > n ? n : r) - 1];
}

void nr__perf_judge(nr__perf *s, int64_t now, bool have_sample, int64_t latency_ns,
                    nr_health_report *out)
{
    if (have_sample) {
        size_t slot = nr__ring_push(&s->ring);
        s->lat_ns[slot] = latency_ns;
        s->at_ns[slot] = now;
    }
    int64_t max_age = s->cfg.window_ms * NR_NS_PER_MS;
    while (max_age > 0 && s->ring.count > 0 && now - s->at_ns[nr__ring_at(&s->ring, 0)] >= max_age)
        nr__ring_drop_oldest(&s->ring);

    size_t n = s->ring.count;
    if (n < (size_t)s->cfg.min_samples) {
        out->state = NR_HEALTH_UNKNOWN;
        nr__health_reason(out, "%zu of %lld samples needed before judging", n,
                          (long long)s->cfg.min_samples);
        return;
    }
    int64_t v = percentile(s);
    char p[32], lat[48], lim[48];
    nr__health_num_text(p, sizeof(p), s->cfg.percentile);
    nr__health_ms_text(lat, sizeof(lat), v);
    const char *level = NULL;
    int64_t limit = 0;
    if (s->cfg.unhealthy_ms > 0 && v >= s->cfg.unhealthy_ms * NR_NS_PER_MS) {
        out->state = NR_HEALTH_UNHEALTHY;
        level = "unhealthy";
        limit = s->cfg.unhealthy_ms;
    } else if (s->cfg.degraded_ms > 0 && v >= s->cfg.degraded_ms * NR_NS_PER_MS) {
        out->state = NR_HEALTH_DEGRADED;
        level = "degraded";
        limit = s->cfg.degraded_ms;
    } else {
        out->state = NR_HEALTH_HEALTHY;
    }
    if (!level) {
        nr__health_reason(out, "p%s latency %s over %zu sample%s", p, lat, n, n == 1 ? "" : "s");
        return;
    }
    nr__health_ms_text(lim, sizeof(lim), limit * NR_NS_PER_MS);
    nr__health_reason(out, "p%s latency %s over %zu sample%s (%s at %s)", p, lat, n,
                      n == 1 ? "" : "s", level, lim);
}
