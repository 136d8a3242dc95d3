/* pool_config.c - the schema and defaults of nr_pool_config (its fields: nebula/pool.h). */
#include "nebula/pool.h"

#include <inttypes.h>
#include <stddef.h>

static void pool_check(const void *cfg, const char *path, nr_config_report *report)
{
    const nr_pool_config *c = cfg;
    if (c->min_idle > c->max_size) {
        char value[32], field[NR_CONFIG_PATH_MAX];
        snprintf(value, sizeof(value), "%" PRId64, c->min_idle);
        snprintf(field, sizeof(field), "%s.min_idle", path && *path ? path : "$");
        nr_config_report_add(report, field, value, 0, 0,
                             "min_idle must not exceed max_size (%" PRId64 ")", c->max_size);
    }
    /* (the other quarantine fields keep their own ranges whether it is on or not) */
    if (c->instance_quarantine_after > 0 &&
        c->instance_quarantine_max_ms < c->instance_quarantine_base_ms) {
        char value[32], field[NR_CONFIG_PATH_MAX];
        snprintf(value, sizeof(value), "%" PRId64, c->instance_quarantine_max_ms);
        snprintf(field, sizeof(field), "%s.instance_quarantine_max_ms", path && *path ? path : "$");
        nr_config_report_add(report, field, value, 0, 0,
                             "instance_quarantine_max_ms must not be less than "
                             "instance_quarantine_base_ms (%" PRId64 ")",
                             c->instance_quarantine_base_ms);
    }
}

NR_CONFIG_SCHEMA(nr_pool_config_schema, "pool", nr_pool_config, NR_POOL_CONFIG_FIELDS, pool_check);

void nr_pool_config_default(nr_pool_config *c)
{
    /* no string or secret field: init allocates nothing and cannot fail */
    (void)nr_config_init(&nr_pool_config_schema, c, NULL);
}
