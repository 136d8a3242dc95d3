/*
 * nebula/tenants.h - the policy of a tenant-partitioned resource
 * (NR_PARTITION_TENANT): how long an unused tenant pool is kept, how many
 * tenants may have one, and a cap on the instances of all of them together.
 *
 * A tenant-partitioned resource gets one pool per tenant, made on the
 * tenant's first acquire and found again by a hash look-up.
 *   idle_timeout_ms  a tenant pool no acquire reached for this long, with
 *                    no lease out, is removed by a maintenance round: it
 *                    is closed, destroyed (its idle instances with it) and
 *                    its metric series are removed; NR_EV_TENANT_EVICTED
 *                    says so. The tenant's next acquire makes a new pool.
 *                    The time is the manager's clock
 *                    (nr_manager_options.clock), seen at maintenance
 *                    rounds, so a pool goes between idle_timeout_ms and
 *                    idle_timeout_ms + one maintenance interval after its
 *                    last acquire.
 *   max_tenants      at most this many tenant pools at once: the acquire
 *                    of a tenant that would be one more fails with
 *                    NR_EEXHAUSTED naming the resource, the tenant and the
 *                    limit (existing tenants are served as before).
 *   max_total        at most this many instances across all tenant pools
 *                    (each pool also keeps its own max_size). When the cap
 *                    is reached, a pool that needs an instance queues for
 *                    the next free one, round-robin between tenants (FIFO
 *                    within one): an instance given back in a tenant that
 *                    holds more than its fair share (max_total divided by
 *                    the tenants holding or wanting instances) while
 *                    another tenant waits is destroyed, and its place goes
 *                    to the waiting tenant, so a busy tenant cannot starve
 *                    a quiet one. Idle instances of other tenants are
 *                    given up first.
 *
 * Ownership: copied by nr_manager_register / nr_manager_reload, which
 * change all three in place (no new pool).
 */
#ifndef NEBULA_TENANTS_H
#define NEBULA_TENANTS_H

#include <stdint.h>

#include "nebula/config.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The policy, as one list (nebula/config_fields.h): kind, member, min, max,
 * default, flags and what it means; docs/tenants.md's table is made from it.
 * The comment at the top of this file says how each limit acts. */
#define NR_TENANT_POLICY_FIELDS(X, T)                                                              \
    X(T, INT, idle_timeout_ms, 0, 7 * 24 * 3600 * 1000LL, 600000, 0,                               \
      "a tenant pool no acquire reached for this long (10 minutes by default), with no lease "     \
      "out, is removed; 0 = keep every tenant pool")                                               \
    X(T, INT, max_tenants, 0, 10000000, 0, 0,                                                      \
      "the acquire of a tenant that would be one more fails with `NR_EEXHAUSTED`; 0 = no limit")   \
    X(T, INT, max_total, 0, 10000000, 0, 0,                                                        \
      "at most this many instances across all the resource's tenant pools, shared fairly; 0 = "    \
      "no shared cap")

NR_CONFIG_STRUCT(nr_tenant_policy, NR_TENANT_POLICY_FIELDS)

/* The policy as a config schema ("tenants"): defaults, ranges, JSON. */
NR_API extern const nr_config_schema nr_tenant_schema;

/* Every default. */
NR_API void nr_tenant_policy_default(nr_tenant_policy *p);

#ifdef __cplusplus
}
#endif
#endif
