/*
 * pool_stats.c - statistics of several pools as one (nebula/pool_stats.h).
 */
#include "nebula/pool_stats.h"

#include "base/abi.h"

static void add(nr_pool_stats *sum, const nr_pool_stats *s);

void nr_pool_stats_add(nr_pool_stats *sum, const nr_pool_stats *s)
{
    if (sum->size == sizeof(*sum) && s->size == sizeof(*s)) {
        add(sum, s);
        return;
    }
    nr_pool_stats a, b;
    if (NR__ABI_IN(&a, sum, nr_pool_stats, NR_POOL_STATS_INIT, NULL) != NR_OK ||
        NR__ABI_IN(&b, s, nr_pool_stats, NR_POOL_STATS_INIT, NULL) != NR_OK)
        return;
    add(&a, &b);
    nr__abi_out(sum, &a, sizeof(a));
}

static void add(nr_pool_stats *sum, const nr_pool_stats *s)
{
    sum->total += s->total;
    sum->idle += s->idle;
    sum->in_use += s->in_use;
    sum->creating += s->creating;
    sum->waiters += s->waiters;
    sum->max_size += s->max_size;
    sum->min_idle += s->min_idle;
    sum->closed = sum->closed || s->closed;
    sum->acquires += s->acquires;
    sum->releases += s->releases;
    sum->timeouts += s->timeouts;
    sum->cancels += s->cancels;
    sum->exhausted += s->exhausted;
    sum->creates += s->creates;
    sum->create_failures += s->create_failures;
    sum->destroys += s->destroys;
    sum->validate_failures += s->validate_failures;
    sum->recycle_failures += s->recycle_failures;
    sum->taints += s->taints;
    sum->evicted_idle += s->evicted_idle;
    sum->evicted_lifetime += s->evicted_lifetime;
    sum->health_discards += s->health_discards;
    sum->handoffs += s->handoffs;
    sum->waits += s->waits;
    sum->wait_ns_total += s->wait_ns_total;
    if (s->wait_ns_max > sum->wait_ns_max)
        sum->wait_ns_max = s->wait_ns_max;
    if (s->oldest_lease_ns > sum->oldest_lease_ns)
        sum->oldest_lease_ns = s->oldest_lease_ns;
    sum->credential_retired += s->credential_retired;
    sum->max_connecting += s->max_connecting;
    sum->breaker_open = sum->breaker_open || s->breaker_open;
    sum->suspended = sum->suspended || s->suspended;
    if (s->consecutive_failures > sum->consecutive_failures)
        sum->consecutive_failures = s->consecutive_failures;
    sum->breaker_opens += s->breaker_opens;
    sum->detached += s->detached;
    sum->evicted_generation += s->evicted_generation;
    sum->evicted_resize += s->evicted_resize;
    sum->leaks += s->leaks;
    sum->leaks_open += s->leaks_open;
    sum->degraded_idle += s->degraded_idle;
    sum->quarantined += s->quarantined;
    sum->degraded_replaced += s->degraded_replaced;
    sum->quarantines += s->quarantines;
    sum->quarantine_releases += s->quarantine_releases;
    sum->quarantine_discards += s->quarantine_discards;
}
