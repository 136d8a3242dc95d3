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
    {.name = "max_connecting",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, max_connecting),
     .min = 1,
     .max = 1000,
     .def_int = 2,
     .doc = "creates running at once"},
    {.name = "create_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, create_timeout_ms),
     .min = 1,
     .max = DAY_MS,
     .def_int = 30000,
     .doc = "deadline of each create"},
    {.name = "create_backoff_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, create_backoff_ms),
     .min = 1,
     .max = DAY_MS,
     .def_int = 100,
     .doc = "first retry delay after a failed create"},
    {.name = "create_backoff_factor",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(nr_pool_config, create_backoff_factor),
     .dmin = 1.0,
     .dmax = 10.0,
     .def_double = 2.0,
     .doc = "growth of the retry delay per failure"},
    {.name = "create_backoff_max_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, create_backoff_max_ms),
     .min = 1,
     .max = DAY_MS,
     .def_int = 10000,
     .doc = "longest retry delay"},
    {.name = "breaker_failures",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, breaker_failures),
     .min = 0,
     .max = 1000000,
     .def_int = 5,
     .doc = "consecutive failed creates that open the breaker; 0 = never"},
    {.name = "max_lifetime_jitter",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(nr_pool_config, max_lifetime_jitter),
     .dmin = 0.0,
     .dmax = 0.5,
     .def_double = 0.025,
     .doc = "fraction by which a lifetime may be shorter, at random"},
    {.name = "validate_bypass_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, validate_bypass_ms),
     .min = 0,
     .max = DAY_MS,
     .def_int = 500,
     .doc = "skip validate when given back less than this ago; 0 = always"},
    {.name = "validate_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, validate_timeout_ms),
     .min = 1,
     .max = DAY_MS,
     .def_int = 5000,
     .doc = "a validate that takes longer counts as failed"},
    {.name = "max_waiters",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, max_waiters),
     .min = 0,
     .max = 100000000,
     .def_int = 0,
     .doc = "callers allowed to wait at once; 0 = no bound"},
    {.name = "leak_threshold_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, leak_threshold_ms),
     .min = 0,
     .max = 30 * DAY_MS,
     .def_int = 0,
     .doc = "report a lease held longer than this; 0 = off"},
    {.name = "replace_degraded",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_pool_config, replace_degraded),
     .def_int = 1,
     .doc = "maintenance replaces a degraded idle instance by a new one"},
    {.name = "instance_quarantine_after",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, instance_quarantine_after),
     .min = 0,
     .max = 1000,
     .def_int = 0,
     .doc = "checks failed in a row that quarantine an instance; 0 = destroy at once"},
    {.name = "instance_quarantine_base_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, instance_quarantine_base_ms),
     .min = 1,
     .max = DAY_MS,
     .def_int = 1000,
     .doc = "delay before a quarantined instance's first probe"},
    {.name = "instance_quarantine_factor",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(nr_pool_config, instance_quarantine_factor),
     .dmin = 1.0,
     .dmax = 10.0,
     .def_double = 2.0,
     .doc = "growth of the probe delay per failed probe"},
    {.name = "instance_quarantine_max_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, instance_quarantine_max_ms),
     .min = 1,
     .max = DAY_MS,
     .def_int = 60000,
     .doc = "longest probe delay (>= instance_quarantine_base_ms)"},
    {.name = "instance_quarantine_jitter",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(nr_pool_config, instance_quarantine_jitter),
     .dmin = 0.0,
     .dmax = 1.0,
     .def_double = 0.2,
     .doc = "each probe delay is up to this share longer or shorter, at random"},
    {.name = "instance_quarantine_max_attempts",
     .type = NR_FT_INT,
     .offset = offsetof(nr_pool_config, instance_quarantine_max_attempts),
     .min = 1,
     .max = 1000,
     .def_int = 8,
     .doc = "failed probes before a quarantined instance is destroyed"},
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
    c->max_connecting = 2;
    c->create_timeout_ms = 30000;
    c->create_backoff_ms = 100;
    c->create_backoff_factor = 2.0;
    c->create_backoff_max_ms = 10000;
    c->breaker_failures = 5;
    c->max_lifetime_jitter = 0.025;
    c->validate_bypass_ms = 500;
    c->validate_timeout_ms = 5000;
    c->max_waiters = 0;
    c->leak_threshold_ms = 0;
    c->replace_degraded = true;
    c->instance_quarantine_after = 0;
    c->instance_quarantine_base_ms = 1000;
    c->instance_quarantine_factor = 2.0;
    c->instance_quarantine_max_ms = 60000;
    c->instance_quarantine_jitter = 0.2;
    c->instance_quarantine_max_attempts = 8;
}
