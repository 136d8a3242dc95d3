/*
 * health_internal.h - the pipeline's parts, shared by src/health/health_*.c.
 *
 * Guards: [mu] p->mu; [round] only the thread running the round touches it
 * (p->running, set under mu, makes that one thread); [const] set at create.
 */
#ifndef NR_HEALTH_INTERNAL_H
#define NR_HEALTH_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "health/health_window.h"
#include "nebula/health_pipeline.h"

/* ---- names (health_config.c) ---- */

/* The built-in stages, in a NULL-terminated list. */
extern const char *const nr__health_builtin[];

/* true when name is one of the built-in stages. */
bool nr__health_is_builtin(const char *name);

/* NULL when name (len bytes) is a well-formed stage name, else the rule it
 * breaks. */
const char *nr__health_name_rule(const char *name, size_t len);

/* ---- text (health_text.c) ---- */

/* ns as milliseconds: "250 ms", "12.5 ms". */
void nr__health_ms_text(char *out, size_t cap, int64_t ns);

/* A share 0..1 as a percentage: "90%", "33.3%". */
void nr__health_pct_text(char *out, size_t cap, double share);

/* A number with up to 3 significant digits: "2.5", "0", "1e+03". */
void nr__health_num_text(char *out, size_t cap, double v);

/* printf into a report's reason; a reason that does not fit ends in "...". */
void nr__health_reason(nr_health_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the performance stage (health_performance.c) ---- */

typedef struct nr__perf {
    nr_health_performance_config cfg; /* [const] */
    nr__ring ring;                    /* [round] */
    int64_t *lat_ns;                  /* [round] ring.cap latencies */
    int64_t *at_ns;                   /* [round] when each was taken */
    int64_t *scratch;                 /* [round] ring.cap, for the percentile */
} nr__perf;

int nr__perf_init(nr__perf *s, const nr_health_performance_config *cfg);
void nr__perf_free(nr__perf *s);

/* Add a sample (when have_sample), drop the ones too old at now, judge. */
void nr__perf_judge(nr__perf *s, int64_t now, bool have_sample, int64_t latency_ns,
                    nr_health_report *out);

/* ---- the utilization stage (health_utilization.c) ---- */

typedef struct nr__util_sample {
    int64_t at_ns;
    uint32_t in_use, max_size, waiters;
    bool has_delta;           /* false for the first snapshot: it is the baseline */
    uint64_t waits, acquires; /* counter deltas since the previous snapshot */
} nr__util_sample;

typedef struct nr__util {
    nr_health_utilization_config cfg;   /* [const] */
    nr__ring ring;                      /* [round] */
    nr__util_sample *samples;           /* [round] ring.cap */
    bool has_prev;                      /* [round] */
    uint64_t prev_waits, prev_acquires; /* [round] the previous snapshot's counters */
} nr__util;

int nr__util_init(nr__util *s, const nr_health_utilization_config *cfg);
void nr__util_free(nr__util *s);

/* Add a sample of st (when not NULL), drop the ones too old at now, judge. */
void nr__util_judge(nr__util *s, int64_t now, const nr_pool_stats *st, nr_health_report *out);

#endif
