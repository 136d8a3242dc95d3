/*
 * health_config.c - the pipeline config: stage names, defaults, and the
 * schemas of the performance and utilization sections (their fields:
 * nebula/health_pipeline.h) with their cross-field rules.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/config_internal.h"
#include "health/health_internal.h"

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

NR_CONFIG_SCHEMA(nr_health_performance_schema, "health.performance", nr_health_performance_config,
                 NR_HEALTH_PERFORMANCE_FIELDS, perf_check);

/* ---- utilization ------------------------------------------------------------------------ */

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

NR_CONFIG_SCHEMA(nr_health_utilization_schema, "health.utilization", nr_health_utilization_config,
                 NR_HEALTH_UTILIZATION_FIELDS, util_check);

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
