/*
 * metrics_internal.h - the registry's data, shared by metrics.c (registry,
 * look-ups, handles) and metrics_format.c (exposition).
 *
 * Locks: reg->lock guards the family and series tables and lists (their
 * structure, never the values, which are atomics). reg->collect_lock guards
 * the collector list and serializes collectors; it is never taken while
 * reg->lock is held, and reg->lock is never held while a collector runs.
 */
#ifndef NR_METRICS_INTERNAL_H
#define NR_METRICS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/metrics.h"

typedef struct nr__metric_family nr__metric_family;

/* The head of every node in a nr__metric_table (first member of families
 * and series). */
typedef struct nr__metric_node {
    struct nr__metric_node *hnext; /* hash chain */
    uint64_t hash;
} nr__metric_node;

struct nr_counter {
    _Atomic uint64_t value; /* relaxed: an independent count */
};

struct nr_gauge {
    _Atomic uint64_t bits; /* relaxed: the double's bit pattern, an independent value */
};

struct nr_histogram {
    const double *bounds;     /* the family's, immutable */
    size_t bucket_count;      /* finite bounds; counts has one more slot */
    _Atomic uint64_t *sum;    /* relaxed: the double sum's bit pattern (in the series block) */
    _Atomic uint64_t *counts; /* relaxed: per-bucket counts (in the series block) */
};

/* One series: allocated as one block holding this struct, then (for a
 * histogram) the sum and bucket_count + 1 counts, then the label values. */
typedef struct nr__metric_series {
    nr__metric_node node;           /* in reg->series */
    struct nr__metric_series *next; /* the family's creation order */
    nr__metric_family *family;
    const char *values[NR_METRICS_MAX_LABELS];
    union {
        struct nr_counter counter;
        struct nr_gauge gauge;
        struct nr_histogram histogram;
    } m;
} nr__metric_series;

/* One family: one block holding this struct, the bounds and the strings. */
struct nr__metric_family {
    nr__metric_node node;    /* in reg->families */
    nr__metric_family *next; /* registration order */
    const char *name;
    const char *help;
    nr_metric_type type;
    size_t label_count;
    const char *labels[NR_METRICS_MAX_LABELS];
    size_t bucket_count;
    const double *bounds;
    nr__metric_series *first, *last; /* creation order */
};

/* A chained hash table of intrusive nodes (families or series). */
typedef struct nr__metric_table {
    nr__metric_node **buckets;
    size_t cap; /* 0 or a power of two */
    size_t count;
} nr__metric_table;

typedef struct nr__metric_collector {
    struct nr__metric_collector *next;
    nr_metrics_collect_fn fn;
    void *ud;
} nr__metric_collector;

struct nr_metrics {
    pthread_mutex_t lock;
    nr__metric_table families;
    nr__metric_table series;
    nr__metric_family *first, *last; /* registration order */

    pthread_mutex_t collect_lock;
    nr__metric_collector *collectors; /* in the order added */
};

/* Run every collector (takes collect_lock, never lock). NR_OK or the first
 * failure, with err saying which collector. */
int nr__metrics_collect(nr_metrics *reg, nr_error *err);

/* Render the registry (takes lock). */
int nr__metrics_render(nr_metrics *reg, char **out, size_t *len, nr_error *err);

/* Read a histogram series into out (bounds, counts, count, sum). */
void nr__histogram_read(const struct nr_histogram *h, nr_histogram_values *out);

/* A double from / to its bit pattern. */
double nr__metrics_bits_to_double(uint64_t bits);
uint64_t nr__metrics_double_to_bits(double v);

#endif
