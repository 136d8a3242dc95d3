/* pool_config.c - the schema and defaults of nr_pool_config. */
#include "nebula/pool.h"

#include <inttypes.h>
#include <stddef.h>

#define DAY_MS (24LL * 3600 * 1000)

static const nr_field pool_fields[] = {
    {.name = "min_idle",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, min_idle),
     .min = 0,
     .max = 1000000,
     .def_int = 0,
     .doc = "instances kept ready (<= max_size)"},
    {.name = "max_size",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, max_size),
     .min = 1,
     .max = 1000000,
     .def_int = 10,
     .doc = "most instances at once"},
    {.name = "acquire_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, acquire_timeout_ms),
     .min = 0,
     .max = DAY_MS,
     .def_int = 30000,
     .doc = "longest wait for an instance; 0 = never wait"},
    {.name = "max_lifetime_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, max_lifetime_ms),
     .min = 0,
     .max = 30 * DAY_MS,
     .def_int = 1800000,
     .doc = "retire instances older than this; 0 = never"},
    {.name = "idle_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, idle_timeout_ms),
     .min = 0,
     .max = 30 * DAY_MS,
     .def_int = 600000,
     .doc = "evict instances idle this long beyond min_idle; 0 = never"},
    {.name = "validate_on_acquire",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_pool_config, validate_on_acquire),
     .def_int = 1,
     .doc = "validate an instance before handing it out"},
    {.name = "recycle_on_release",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_pool_config, recycle_on_release),
     .def_int = 1,
     .doc = "reset an instance when it is given back"},
};

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
}

const nr_config_schema nr_pool_config_schema = {
    .name = "pool",
    .struct_size = sizeof(nr_pool_config),
    .fields = pool_fields,
    .nfields = sizeof(pool_fields) / sizeof(pool_fields[0]),
    .check = pool_check,
};

void nr_pool_config_default(nr_pool_config *c)
{
    c->min_idle = 0;
    c->max_size = 10;
    c->acquire_timeout_ms = 30000;
    c->max_lifetime_ms = 1800000;
    c->idle_timeout_ms = 600000;
    c->validate_on_acquire = true;
    c->recycle_on_release = true;
}
