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

typedef struct nr_autoscale_policy {
    bool enabled;          /* default false: the other fields are not used */
    double high_watermark; /* scale up at or above; default 0.8; 0 < low < high <= 10 */
    double low_watermark;  /* scale down at or below; default 0.3 */
    int64_t step_up;       /* added to max_size per decision; default 2; 1..10000 */
    int64_t step_down;     /* taken off per decision; default 1; 1..10000 */
    int64_t window_ms;     /* how long the condition must hold; default 10000; 0..86400000 */
    int64_t cooldown_ms;   /* no decision sooner after the last; default 30000; 0..86400000 */
    int64_t min_size;      /* the lowest max_size it sets; default 1; 1..1000000 */
    int64_t max_size;      /* the highest; default 100; min_size..1000000 */
} nr_autoscale_policy;

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
