/* autoscale_config.c - the schema and defaults of nr_autoscale_policy. */
#include <stddef.h>
#include <stdio.h>

#include "nebula/autoscale.h"

#define DAY_MS (24LL * 3600 * 1000)

static const nr_field autoscale_fields[] = {
    {.name = "enabled",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_autoscale_policy, enabled),
     .def_int = 0,
     .doc = "move max_size with the load"},
    {.name = "high_watermark",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(nr_autoscale_policy, high_watermark),
     .dmin = 0.01,
     .dmax = 10,
     .def_double = 0.8,
     .doc = "scale up at or above this utilization ((in use + waiters) / max_size)"},
    {.name = "low_watermark",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(nr_autoscale_policy, low_watermark),
     .dmin = 0,
     .dmax = 10,
     .def_double = 0.3,
     .doc = "scale down at or below this utilization"},
    {.name = "step_up",
     .type = NR_FT_INT,
     .offset = offsetof(nr_autoscale_policy, step_up),
     .min = 1,
     .max = 10000,
     .def_int = 2,
     .doc = "added to max_size per decision"},
    {.name = "step_down",
     .type = NR_FT_INT,
     .offset = offsetof(nr_autoscale_policy, step_down),
     .min = 1,
     .max = 10000,
     .def_int = 1,
     .doc = "taken off max_size per decision"},
    {.name = "window_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_autoscale_policy, window_ms),
     .min = 0,
     .max = DAY_MS,
     .def_int = 10000,
     .doc = "how long a watermark must be crossed before a decision"},
    {.name = "cooldown_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_autoscale_policy, cooldown_ms),
     .min = 0,
     .max = DAY_MS,
     .def_int = 30000,
     .doc = "no decision sooner than this after the last one"},
    {.name = "min_size",
     .type = NR_FT_INT,
     .offset = offsetof(nr_autoscale_policy, min_size),
     .min = 1,
     .max = 1000000,
     .def_int = 1,
     .doc = "the lowest max_size it sets"},
    {.name = "max_size",
     .type = NR_FT_INT,
     .offset = offsetof(nr_autoscale_policy, max_size),
     .min = 1,
     .max = 1000000,
     .def_int = 100,
     .doc = "the highest max_size it sets"},
};

static void autoscale_check(const void *cfg, const char *path, nr_config_report *report)
{
    const nr_autoscale_policy *p = cfg;
    const char *at = path && *path ? path : "$";
    char value[32], field[NR_CONFIG_PATH_MAX];
    if (p->low_watermark >= p->high_watermark) {
        snprintf(value, sizeof(value), "%g", p->low_watermark);
        snprintf(field, sizeof(field), "%s.low_watermark", at);
        nr_config_report_add(report, field, value, 0, 0,
                             "low_watermark must be below high_watermark (%g)", p->high_watermark);
    }
    if (p->min_size > p->max_size) {
        snprintf(value, sizeof(value), "%lld", (long long)p->min_size);
        snprintf(field, sizeof(field), "%s.min_size", at);
        nr_config_report_add(report, field, value, 0, 0, "min_size must not exceed max_size (%lld)",
                             (long long)p->max_size);
    }
}

const nr_config_schema nr_autoscale_schema = {
    .name = "autoscale",
    .struct_size = sizeof(nr_autoscale_policy),
    .fields = autoscale_fields,
    .nfields = sizeof(autoscale_fields) / sizeof(autoscale_fields[0]),
    .check = autoscale_check,
};

void nr_autoscale_policy_default(nr_autoscale_policy *p)
{
    p->enabled = false;
    p->high_watermark = 0.8;
    p->low_watermark = 0.3;
    p->step_up = 2;
    p->step_down = 1;
    p->window_ms = 10000;
    p->cooldown_ms = 30000;
    p->min_size = 1;
    p->max_size = 100;
}
