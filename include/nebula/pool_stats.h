/*
 * nebula/pool_stats.h - the statistics snapshot of one pool
 * (nr_pool_stats_get in nebula/pool.h fills it). Its own header so that the
 * observability headers can name it without the pool's.
 *
 * Thread safety: a value type; nr_pool_stats_add touches only its arguments.
 */
#ifndef NEBULA_POOL_STATS_H
#define NEBULA_POOL_STATS_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_pool_stats {
    size_t size; /* sizeof(nr_pool_stats) as the caller was built: the caller sets it; the library
                    writes up to it (NR_POOL_STATS_INIT, docs/ABI.md) */
    /* gauges, consistent with each other at the moment of the snapshot */
    uint32_t total; /* instances alive: idle + in_use + creating + quarantined + being
                       checked */
    uint32_t idle;
    uint32_t in_use;
    uint32_t creating;
    uint32_t waiters;
    uint32_t destroying; /* instances being destroyed (no longer in total) */
    uint32_t max_size;
    uint32_t min_idle;
    bool closed;
    /* counters since creation */
    uint64_t acquires; /* successful acquires */
    uint64_t releases; /* leases given back (released or tainted) */
    uint64_t timeouts;
    uint64_t cancels;
    uint64_t exhausted; /* NR_EEXHAUSTED returns */
    uint64_t creates;   /* successful creates */
    uint64_t create_failures;
    uint64_t destroys;
    uint64_t validate_failures;
    uint64_t recycle_failures;
    uint64_t taints;
    uint64_t evicted_idle;
    uint64_t evicted_lifetime;
    uint64_t health_discards;
    uint64_t handoffs;     /* instances passed straight to a waiter */
    uint64_t waits;        /* acquires that had to wait */
    int64_t wait_ns_total; /* time spent waiting, summed */
    int64_t wait_ns_max;
    int64_t oldest_lease_ns;     /* how long the longest-held current lease has been out
                                    (coarse clock); 0 when nothing is leased */
    uint64_t credential_retired; /* instances destroyed because the credential changed */
    /* creation, the breaker and the controls */
    uint32_t max_connecting;
    bool breaker_open;             /* acquires that find nothing idle fail at once */
    bool suspended;                /* nr_pool_suspend */
    uint32_t consecutive_failures; /* failed creates in a row */
    uint64_t breaker_opens;        /* times the breaker opened */
    uint64_t validate_skips;       /* validates skipped by validate_bypass_ms */
    uint64_t detached;             /* instances taken out by nr_guard_detach */
    uint64_t evicted_generation;   /* destroyed by nr_pool_evict_all (now or on return) */
    uint64_t evicted_resize;       /* destroyed because a resize shrank max_size */
    uint64_t leaks;                /* leases reported held past leak_threshold_ms */
    uint32_t leaks_open;           /* of those, still out */
    /* degraded and quarantined instances (nr_pool_check_health) */
    uint32_t degraded_idle;       /* of idle: instances whose last check said degraded (or
                                     unhealthy, below instance_quarantine_after) */
    uint32_t quarantined;         /* held out by instance quarantine: in total, not in idle */
    uint64_t degraded_replaced;   /* degraded idle instances destroyed after a replacement */
    uint64_t quarantines;         /* times an instance was quarantined */
    uint64_t quarantine_releases; /* quarantined instances released by a passing probe */
    uint64_t quarantine_discards; /* destroyed after their last allowed probe failed (also
                                     counted in health_discards) */
} nr_pool_stats;

/* Initialisers that set size: `nr_pool_stats o = NR_POOL_STATS_INIT;` (C; C++ sets o.size). */
#define NR_POOL_STATS(...)                                                                         \
    {                                                                                              \
        .size = sizeof(nr_pool_stats), __VA_ARGS__                                                 \
    }
#define NR_POOL_STATS_INIT NR_POOL_STATS()

/*
 * Add s into sum, as nr_manager_resource_info sums a resource's tenant pools:
 * gauges, limits and counters are added; wait_ns_max, oldest_lease_ns and
 * consecutive_failures take the larger value; closed, breaker_open and
 * suspended are true when either is. Start from sum = NR_POOL_STATS_INIT.
 * Each is read up to its own size and sum written up to its own (fields one
 * does not have count as 0); a sum or s whose size is 0 or larger than this
 * library's leaves sum unchanged.
 */
NR_API void nr_pool_stats_add(nr_pool_stats *sum, const nr_pool_stats *s);

#ifdef __cplusplus
}
#endif
#endif
