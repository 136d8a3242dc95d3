/*
 * nebula/autoscale.h - a resource's autoscaling policy: the manager moves
 * its max_size between bounds, following how busy it is.
 *
 * At each maintenance round the manager reads the resource's utilization,
 * (in use + waiters) / max_size, summed over its pools. When it has stayed
 * at or above high_watermark for window_ms, max_size grows by step_up; when
 * it has stayed at or below low_watermark for window_ms, it shrinks by
 * step_down; never past [min_size, max_size], and never sooner than
 * cooldown_ms after the previous decision. A decision acts through
 * nr_manager_resize (min_idle is kept, lowered to the new max_size when it
 * would exceed it), publishes NR_EV_SCALED_UP or NR_EV_SCALED_DOWN with the
 * reason and the numbers, and shows in nr_resource_info and /status.
 *
 * Ownership: copied by nr_manager_register / nr_manager_reload.
 * Thread safety: the decisions run on the maintenance round's thread.
 */
#ifndef NEBULA_AUTOSCALE_H
#define NEBULA_AUTOSCALE_H

#include <stdbool.h>
#include <stdint.h>

#include "nebula/config.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The policy, as one list (nebula/config_fields.h): kind, member, min, max,
 * default, flags and what it means; docs/autoscale.md's table is made from
 * it. The schema's check adds low_watermark < high_watermark and
 * min_size <= max_size. */
#define NR_AUTOSCALE_POLICY_FIELDS(X, T)                                                           \
    X(T, BOOL, enabled, 0, 1, 0, 0,                                                                \
      "the policy runs (when `false`, the other fields are not used)")                             \
    X(T, DOUBLE, high_watermark, 0.01, 10, 0.8, 0,                                                 \
      "scale up at or above this utilization ((in use + waiters) / `max_size`); above "            \
      "`low_watermark`")                                                                           \
    X(T, DOUBLE, low_watermark, 0, 10, 0.3, 0, "scale down at or below this utilization")          \
    X(T, INT, step_up, 1, 10000, 2, 0, "added to `max_size` per decision")                         \
    X(T, INT, step_down, 1, 10000, 1, 0, "taken off `max_size` per decision")                      \
    X(T, INT, window_ms, 0, 24 * 3600 * 1000LL, 10000, 0,                                          \
      "how long a watermark must stay crossed before a decision")                                  \
    X(T, INT, cooldown_ms, 0, 24 * 3600 * 1000LL, 30000, 0,                                        \
      "no decision sooner than this after the previous one")                                       \
    X(T, INT, min_size, 1, 1000000, 1, 0, "the lowest `max_size` it sets; at most `max_size`")     \
    X(T, INT, max_size, 1, 1000000, 100, 0, "the highest `max_size` it sets")

NR_CONFIG_STRUCT(nr_autoscale_policy, NR_AUTOSCALE_POLICY_FIELDS)

/* The policy as a config schema ("autoscale"): defaults, ranges, the rule
 * low_watermark < high_watermark and min_size <= max_size, JSON. */
NR_API extern const nr_config_schema nr_autoscale_schema;

/* Every default (disabled). */
NR_API void nr_autoscale_policy_default(nr_autoscale_policy *p);

/* The last decision of a resource's policy. */
typedef struct nr_autoscale_state {
    bool enabled;
    uint64_t scale_ups, scale_downs;
    int64_t last_decision_ms; /* wall-clock ms of the last decision; 0: none */
    double utilization;       /* at the last round */
    char last_decision[128];  /* "up: utilization 0.95 >= 0.80 for 10000 ms: max_size 4 -> 6" */
} nr_autoscale_state;

#ifdef __cplusplus
}
#endif
#endif
