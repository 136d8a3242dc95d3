/*
 * nebula/metrics.h - a metrics registry kept with atomics, exposed in the
 * Prometheus text format (version 0.0.4).
 *
 * A registry holds families (a name, help text, a type and up to
 * NR_METRICS_MAX_LABELS label names). Each family holds series, one per
 * distinct list of label values. A series is reached through a handle
 * (nr_counter, nr_gauge, nr_histogram) that stays valid until the registry
 * is destroyed; updating a handle is lock-free and never allocates:
 *
 *     nr_counter_add      one relaxed atomic add
 *     nr_counter_set      one relaxed atomic store
 *     nr_gauge_set        one relaxed atomic store
 *     nr_gauge_add        a relaxed compare-and-swap loop on the value's bits
 *     nr_histogram_observe one relaxed atomic add on the bucket, then a relaxed
 *                         compare-and-swap loop adding to the sum
 *
 * Value types: counters are uint64_t; gauges, histogram observations and
 * histogram sums are double (stored as their IEEE-754 bit pattern in a
 * 64-bit atomic). Every update is applied exactly once, so a sum of values
 * that doubles represent exactly (integers below 2^53, for one) is exact.
 *
 * Consistency: each value is read with one atomic load. A histogram's count
 * is the sum of its bucket counts, so its buckets, its +Inf bucket and its
 * count always agree; its sum may include or miss an observation that is in
 * flight while it is read.
 *
 * Collectors: functions added with nr_metrics_add_collector run at the start
 * of every nr_metrics_format / nr_metrics_write, so values kept elsewhere
 * (pool statistics, say) can be read at scrape time and stored into series.
 * They run without the registry lock held, so they may register families,
 * look up series and update them. Collectors are serialized by a separate
 * collector lock: a collector must not call nr_metrics_add_collector,
 * nr_metrics_remove_collector, nr_metrics_format or nr_metrics_write.
 *
 * Label values and secrets: label values are copied into the exposition
 * as given (escaped). Nebula itself only ever uses resource ids and scope
 * text as label values, never configuration values; a caller that puts
 * other text into a label value is responsible for it not being secret.
 * Error messages name families and label names, never label values.
 *
 * Build switch: with the CMake option NR_WITH_METRICS=OFF every function
 * still exists; nr_metrics_create returns NR_EINVAL ("metrics were not
 * built"), the other calls that take a registry return NR_EINVAL, and the
 * handle operations are no-ops (no handle can exist).
 *
 * Ownership: nr_metrics_create gives the caller one registry, freed by
 * nr_metrics_destroy together with every family, series and collector entry;
 * handles are owned by the registry. Every string and array passed in is
 * copied. nr_metrics_format gives the caller a buffer to free with nr_free.
 *
 * Thread safety: every function may be called from any thread at any time
 * between nr_metrics_create and nr_metrics_destroy, except
 * nr_metrics_destroy, which must be the last call on the registry and its
 * handles; the limits on collectors are given above.
 */
#ifndef NEBULA_METRICS_H
#define NEBULA_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nebula/error.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The HTTP Content-Type of the exposition text. */
#define NR_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#define NR_METRICS_MAX_LABELS  4  /* label names per family */
#define NR_METRICS_MAX_BUCKETS 64 /* finite bucket bounds per histogram */

typedef struct nr_metrics nr_metrics;
typedef struct nr_counter nr_counter;
typedef struct nr_gauge nr_gauge;
typedef struct nr_histogram nr_histogram;

typedef enum nr_metric_type {
    NR_METRIC_COUNTER = 1,
    NR_METRIC_GAUGE = 2,
    NR_METRIC_HISTOGRAM = 3,
} nr_metric_type;

/* What a family is. Everything is copied by nr_metrics_register. */
typedef struct nr_metric_desc {
    const char *name;               /* [a-zA-Z_:][a-zA-Z0-9_:]*, not starting with "__" */
    const char *help;               /* required, UTF-8, may be empty */
    nr_metric_type type;            /* counter, gauge or histogram */
    const char *const *label_names; /* label_count names, [a-zA-Z_][a-zA-Z0-9_]*, not
                                       starting with "__", distinct; "le" is reserved in
                                       histograms */
    size_t label_count;             /* 0..NR_METRICS_MAX_LABELS */
    const double *buckets;          /* histograms only: finite upper bounds, strictly
                                       increasing; "+Inf" is always added */
    size_t bucket_count;            /* 0..NR_METRICS_MAX_BUCKETS; 0 for other types */
} nr_metric_desc;

/* ---- registry ------------------------------------------------------------- */

/* Create an empty registry. NR_EINVAL when out is NULL or metrics were not
 * built; NR_ENOMEM; NR_EINTERNAL when a mutex cannot be initialised.
 * On failure *out is NULL. */
NR_API int nr_metrics_create(nr_metrics **out, nr_error *err);

/* Free the registry, its families, series and collector entries; every
 * handle becomes invalid. NULL is a no-op. */
NR_API void nr_metrics_destroy(nr_metrics *reg);

/*
 * Register a family. Families are exposed in the order they were first
 * registered. Registering a family again with the same type, label names and
 * buckets is NR_OK and changes nothing (the first help text is kept).
 * Returns:
 *   NR_EINVAL  a NULL argument, an unknown type, a name, label name, help
 *              text or bucket list that breaks the rules above (err names it)
 *   NR_EEXIST  a family of that name exists with another type, label names
 *              or buckets, or the name collides with a histogram's _bucket,
 *              _sum or _count series (err names both)
 *   NR_ENOMEM
 */
NR_API int nr_metrics_register(nr_metrics *reg, const nr_metric_desc *desc, nr_error *err);

/*
 * Look up the series of family `family` with the given label values (one per
 * label name, in the family's order; label_count must equal the family's),
 * creating it (at zero) when it does not exist yet. The same values always
 * give the same handle. Series are exposed in creation order.
 * labels may be NULL when label_count is 0. Values are UTF-8, may be empty.
 * Returns:
 *   NR_EINVAL    a NULL argument, a label count that differs from the
 *                family's, a NULL or non-UTF-8 value, or a family of another
 *                type (err names the family)
 *   NR_ENOTFOUND no family of that name
 *   NR_ENOMEM
 * On failure *out is NULL.
 */
NR_API int nr_metrics_counter(nr_metrics *reg, const char *family, const char *const *labels,
                              size_t label_count, nr_counter **out, nr_error *err);
NR_API int nr_metrics_gauge(nr_metrics *reg, const char *family, const char *const *labels,
                            size_t label_count, nr_gauge **out, nr_error *err);
NR_API int nr_metrics_histogram(nr_metrics *reg, const char *family, const char *const *labels,
                                size_t label_count, nr_histogram **out, nr_error *err);

/* ---- hot path: handles (a NULL handle is a no-op and reads as zero) ------- */

/* Add n to the counter (wraps past UINT64_MAX). */
NR_API void nr_counter_add(nr_counter *c, uint64_t n);
/* Store v: for collectors that mirror a counter kept elsewhere (the caller
 * keeps it monotonic, as Prometheus expects of a counter). */
NR_API void nr_counter_set(nr_counter *c, uint64_t v);
NR_API uint64_t nr_counter_value(const nr_counter *c);

NR_API void nr_gauge_set(nr_gauge *g, double v);
NR_API void nr_gauge_add(nr_gauge *g, double d); /* d may be negative */
NR_API double nr_gauge_value(const nr_gauge *g);

/* Count value in the first bucket whose bound is >= value (the +Inf bucket
 * when none is) and add it to the sum. A NaN is ignored. */
NR_API void nr_histogram_observe(nr_histogram *h, double value);

/* A histogram read at one moment. counts[] are per bucket, not cumulative:
 * counts[i] holds observations v with bounds[i-1] < v <= bounds[i], and
 * counts[bucket_count] those above the last bound (the +Inf bucket).
 * count is the sum of counts[]. */
typedef struct nr_histogram_values {
    uint64_t count;
    double sum;
    size_t bucket_count; /* finite bounds */
    double bounds[NR_METRICS_MAX_BUCKETS];
    uint64_t counts[NR_METRICS_MAX_BUCKETS + 1];
} nr_histogram_values;

/* Fill out (all zero for a NULL h; nothing for a NULL out). */
NR_API void nr_histogram_snapshot(const nr_histogram *h, nr_histogram_values *out);

/*
 * Remove every series of family whose label `label` has the value `value`
 * (a resource that is gone, say); *removed (may be NULL) gets how many. The
 * handles of a removed series must not be used afterwards: remove a series
 * only once nothing holds its handle, and a later look-up with the same
 * labels makes a new one, starting at 0. NR_EINVAL (a NULL argument),
 * NR_ENOTFOUND (no such family, or it has no label of that name).
 */
NR_API int nr_metrics_remove_series(nr_metrics *reg, const char *family, const char *label,
                                    const char *value, size_t *removed, nr_error *err);
/* The same, for the series whose labels labels[i] all have the values
 * values[i] (n of them, at least 1): one tenant's pool of a resource, say
 * ("resource" = id and "scope" = the tenant). The same errors. */
NR_API int nr_metrics_remove_series_where(nr_metrics *reg, const char *family,
                                          const char *const *labels, const char *const *values,
                                          size_t n, size_t *removed, nr_error *err);

/* ---- collectors ------------------------------------------------------------ */

/* Called at exposition time (see the top of this file). Return NR_OK, or an
 * NR_E* code (with err filled) to make that exposition fail with it. */
typedef int (*nr_metrics_collect_fn)(nr_metrics *reg, void *ud, nr_error *err);

/* Add a collector; collectors run in the order they were added. The same
 * (fn, ud) may be added more than once and then runs that often.
 * NR_EINVAL (NULL reg or fn), NR_ENOMEM. */
NR_API int nr_metrics_add_collector(nr_metrics *reg, nr_metrics_collect_fn fn, void *ud,
                                    nr_error *err);

/* Remove the earliest-added collector equal to (fn, ud). When it returns, fn
 * is not running and will not be called again for that entry, so ud may be
 * freed. NR_EINVAL (NULL reg or fn), NR_ENOTFOUND. */
NR_API int nr_metrics_remove_collector(nr_metrics *reg, nr_metrics_collect_fn fn, void *ud,
                                       nr_error *err);

/* ---- exposition ------------------------------------------------------------ */

/*
 * Run the collectors, then render every family that has at least one series:
 *
 *     # HELP <name> <help, with \ and newline escaped>
 *     # TYPE <name> counter|gauge|histogram
 *     <name>{<label>="<value, with \ " and newline escaped>",...} <value>
 *
 * Families in registration order, series in creation order, no timestamps.
 * Histograms give <name>_bucket{...,le="<bound>"} (cumulative, ending with
 * le="+Inf"), <name>_sum and <name>_count. Doubles are written in the
 * shortest form that reads back to the same value, independent of the C
 * locale ("NaN", "+Inf" and "-Inf" for the special values).
 *
 * On success *out is a NUL-terminated buffer the caller frees with nr_free,
 * and *len its length without the NUL. Returns NR_EINVAL (a NULL argument),
 * NR_ENOMEM, or the code of the first collector that failed (err says which
 * one, counting from 1 in the order added; a collector that returns something
 * other than an NR_E* code gives NR_EINTERNAL). On failure *out is NULL and
 * *len 0.
 */
NR_API int nr_metrics_format(nr_metrics *reg, char **out, size_t *len, nr_error *err);

/* nr_metrics_format, then write the text to f and flush it. NR_EINVAL,
 * NR_ENOMEM, a collector's code, or NR_EUNAVAIL when writing fails. */
NR_API int nr_metrics_write(nr_metrics *reg, FILE *f, nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
