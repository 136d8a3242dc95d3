/*
 * health_config.c - the pipeline config: stage names, defaults, and the
 * schemas of the performance and utilization sections with their
 * cross-field rules.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/config_internal.h"
#include "health/health_internal.h"

#define DAY_MS (24LL * 3600 * 1000)

const char *const nr__health_builtin[] = {NR_HEALTH_STAGE_CONNECTIVITY, NR_HEALTH_STAGE_PERFORMANCE,
                                          NR_HEALTH_STAGE_UTILIZATION, NULL};

bool nr__health_is_builtin(const char *name)
{
    for (size_t i = 0; nr__health_builtin[i]; i++)
        if (strcmp(nr__health_builtin[i], name) == 0)
            return true;
    return false;
}

const char *nr__health_name_rule(const char *name, size_t len)
{
    if (len == 0)
        return "must not be empty";
    if (len >= NR_HEALTH_STAGE_NAME_MAX)
        return "must be at most 31 bytes";
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return "must hold only letters, digits and _.-";
    }
    return NULL;
}

/* ---- performance ------------------------------------------------------------------------ */

static const nr_field perf_fields[] = {
    {.name = "degraded_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_health_performance_config, degraded_ms),
     .min = 0,
     .max = DAY_MS,
     .def_int = 1000,
     .doc = "latency percentile at which the stage is degraded; 0 = never"},
    {.name = "unhealthy_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_health_performance_config, unhealthy_ms),
     .min = 0,
     .max = DAY_MS,
     .def_int = 5000,
     .doc = "latency percentile at which the stage is unhealthy; 0 = never"},
    {.name = "percentile",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(nr_health_performance_config, percentile),
     .dmin = 1.0,
     .dmax = 100.0,
     .def_double = 90.0,
     .doc = "which percentile of the window is judged (nearest rank)"},
    {.name = "window",
     .type = NR_FT_INT,
     .offset = offsetof(nr_health_performance_config, window),
     .min = 1,
     .max = 1000,
     .def_int = 10,
     .doc = "latency samples kept (one per round)"},
    {.name = "window_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_health_performance_config, window_ms),
     .min = 0,
     .max = 30 * DAY_MS,
     .def_int = 0,
     .doc = "only samples younger than this count; 0 = any age"},
    {.name = "min_samples",
     .type = NR_FT_INT,
     .offset = offsetof(nr_health_performance_config, min_samples),
     .min = 1,
     .max = 1000,
     .def_int = 3,
     .doc = "samples needed before the stage judges (<= window)"},
};

/* An issue at <path>.<field> with an integer value. */
static void int_issue(nr_config_report *report, const char *path, const char *field, int64_t v,
                      const char *rule_other, int64_t other)
{
    char at[NR_CONFIG_PATH_MAX], value[32];
    snprintf(at, sizeof(at), "%s.%s", path && *path ? path : "$", field);
    snprintf(value, sizeof(value), "%" PRId64, v);
    nr_config_report_add(report, at, value, 0, 0, "%s (%" PRId64 ")", rule_other, other);
}

static void perf_check(const void *cfg, const char *path, nr_config_report *report)
{
    const nr_health_performance_config *c = cfg;
    if (c->degraded_ms > 0 && c->unhealthy_ms > 0 && c->degraded_ms >= c->unhealthy_ms)
        int_issue(report, path, "degraded_ms", c->degraded_ms, "must be less than unhealthy_ms",
                  c->unhealthy_ms);
    if (c->min_samples > c->window)
        int_issue(report, path, "min_samples", c->min_samples, "must not exceed window", c->window);
}

const nr_config_schema nr_health_performance_schema = {
    .name = "health.performance",
    .struct_size = sizeof(nr_health_performance_config),
    .fields = perf_fields,
    .nfields = sizeof(perf_fields) / sizeof(perf_fields[0]),
    .check = perf_check,
};

/* ---- utilization ------------------------------------------------------------------------ */

#define SHARE_FIELD(fname, member, def, what)                                                      \
    {                                                                                              \
        .name = fname, .type = NR_FT_DOUBLE,                                                       \
        .offset = offsetof(nr_health_utilization_config, member), .dmin = 0.0, .dmax = 1.0,        \
        .def_double = def, .doc = what                                                             \
    }

static const nr_field util_fields[] = {
    SHARE_FIELD("degraded_in_use", degraded_in_use, 0.9,
                "share of max_size in use (over the window) at which the stage is degraded; "
                "0 = never"),
    SHARE_FIELD("unhealthy_in_use", unhealthy_in_use, 0.0,
                "share of max_size in use at which the stage is unhealthy; 0 = never"),
    {.name = "degraded_waiters",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(nr_health_utilization_config, degraded_waiters),
     .dmin = 0.0,
     .dmax = 1e8,
     .def_double = 1.0,
     .doc = "waiters (mean over the window) at which the stage is degraded; 0 = never"},
    {.name = "unhealthy_waiters",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(nr_health_utilization_config, unhealthy_waiters),
     .dmin = 0.0,
     .dmax = 1e8,
     .def_double = 0.0,
     .doc = "waiters (mean over the window) at which the stage is unhealthy; 0 = never"},
    SHARE_FIELD("degraded_wait_ratio", degraded_wait_ratio, 0.25,
                "share of acquires that waited (over the window) at which the stage is "
                "degraded; 0 = never"),
    SHARE_FIELD("unhealthy_wait_ratio", unhealthy_wait_ratio, 0.0,
                "share of acquires that waited at which the stage is unhealthy; 0 = never"),
    {.name = "window",
     .type = NR_FT_INT,
     .offset = offsetof(nr_health_utilization_config, window),
     .min = 1,
     .max = 1000,
     .def_int = 10,
     .doc = "rounds kept (one snapshot per round)"},
    {.name = "window_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_health_utilization_config, window_ms),
     .min = 0,
     .max = 30 * DAY_MS,
     .def_int = 0,
     .doc = "only rounds younger than this count; 0 = any age"},
    {.name = "min_samples",
     .type = NR_FT_INT,
     .offset = offsetof(nr_health_utilization_config, min_samples),
     .min = 1,
     .max = 1000,
     .def_int = 3,
     .doc = "rounds needed before the stage judges (<= window)"},
};

/* degraded must be below unhealthy when both are on. */
static void pair_check(const char *path, const char *dname, double d, const char *uname, double u,
                       nr_config_report *report)
{
    if (!(d > 0 && u > 0 && d >= u))
        return;
    char at[NR_CONFIG_PATH_MAX], value[40], other[40];
    snprintf(at, sizeof(at), "%s.%s", path && *path ? path : "$", dname);
    nr__config_double_text(value, sizeof(value), d);
    nr__config_double_text(other, sizeof(other), u);
    nr_config_report_add(report, at, value, 0, 0, "must be less than %s (%s)", uname, other);
}

static void util_check(const void *cfg, const char *path, nr_config_report *report)
{
    const nr_health_utilization_config *c = cfg;
    pair_check(path, "degraded_in_use", c->degraded_in_use, "unhealthy_in_use", c->unhealthy_in_use,
               report);
    pair_check(path, "degraded_waiters", c->degraded_waiters, "unhealthy_waiters",
               c->unhealthy_waiters, report);
    pair_check(path, "degraded_wait_ratio", c->degraded_wait_ratio, "unhealthy_wait_ratio",
               c->unhealthy_wait_ratio, report);
    if (c->min_samples > c->window)
        int_issue(report, path, "min_samples", c->min_samples, "must not exceed window", c->window);
}

const nr_config_schema nr_health_utilization_schema = {
    .name = "health.utilization",
    .struct_size = sizeof(nr_health_utilization_config),
    .fields = util_fields,
    .nfields = sizeof(util_fields) / sizeof(util_fields[0]),
    .check = util_check,
};

/* ---- the whole config ---------------------------------------------------------------------- */

void nr_health_config_default(nr_health_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->nstages = 1;
    snprintf(cfg->stages[0], sizeof(cfg->stages[0]), "%s", NR_HEALTH_STAGE_CONNECTIVITY);
    /* neither section owns memory: init cannot fail */
    (void)nr_config_init(&nr_health_performance_schema, &cfg->performance, NULL);
    (void)nr_config_init(&nr_health_utilization_schema, &cfg->utilization, NULL);
}
