/* autoscale_config.c - the schema and defaults of nr_autoscale_policy (its fields:
 * nebula/autoscale.h). */
#include <stddef.h>
#include <stdio.h>

#include "nebula/autoscale.h"

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

NR_CONFIG_SCHEMA(nr_autoscale_schema, "autoscale", nr_autoscale_policy, NR_AUTOSCALE_POLICY_FIELDS,
                 autoscale_check);

void nr_autoscale_policy_default(nr_autoscale_policy *p)
{
    /* no string or secret field: init allocates nothing and cannot fail */
    (void)nr_config_init(&nr_autoscale_schema, p, NULL);
}
