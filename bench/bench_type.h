/*
 * bench_type.h - the in-memory resource type the benchmarks pool: each
 * instance is a zeroed 64-byte block; destroy may be told to take a while.
 */
#ifndef NR_BENCH_TYPE_H
#define NR_BENCH_TYPE_H

#include <stdint.h>

#include "nebula/resource.h"

#define NR_BENCH_OBJ_SIZE 64

/* The (empty) config every benchmark pool is given. */
typedef struct nr_bench_config {
    int unused;
} nr_bench_config;

/* Pass as type_ud (or NULL for instant destroys). */
typedef struct nr_bench_opts {
    int64_t destroy_ns; /* how long each destroy sleeps */
} nr_bench_opts;

extern const nr_resource_type nr_bench_type;

#endif
