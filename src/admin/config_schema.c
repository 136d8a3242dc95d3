/*
 * config_schema.c - the section schemas of a config file (their fields:
 * config_schema.h).
 */
#include "config_schema.h"
#include "nebula/manager.h"

#include <stddef.h>
#include <stdio.h>

#include "nebula/scope.h"

/* The enum names the resource's list refers to. */
static const char *const cf_partition_names[] = {"none", "tenant", NULL};
static const char *const cf_dep_policy_names[] = {"serve", "fail", NULL};
static const char *const cf_fleet_mode_names[] = {"fail_closed", "fail_open", NULL};

NR_CONFIG_SCHEMA(cf_mgr_schema, "manager", mgr_cfg, CF_MGR_FIELDS, NULL);
NR_CONFIG_SCHEMA(cf_http_schema, "http", http_cfg, CF_HTTP_FIELDS, NULL);
NR_CONFIG_SCHEMA(cf_shutdown_schema, "shutdown", shutdown_cfg, CF_SHUTDOWN_FIELDS, NULL);

static void cred_check(const void *cfg, const char *path, nr_config_report *r)
{
    const cred_cfg *c = cfg;
    if (!c->env == !c->file)
        nr_config_report_add(r, path, NULL, 0, 0, "must have exactly one of \"env\" or \"file\"");
}

NR_CONFIG_SCHEMA(cf_cred_schema, "credential", cred_cfg, CF_CRED_FIELDS, cred_check);
NR_CONFIG_SCHEMA(cf_res_schema, "resource", res_cfg, CF_RES_FIELDS, NULL);
NR_CONFIG_SCHEMA(cf_group_schema, "group", group_cfg, CF_GROUP_FIELDS, NULL);

/* the rules across the fleet's fields, as nr_fleet_create has them */
static void fleet_check(const void *cfg, const char *path, nr_config_report *r)
{
    const fleet_cfg *f = cfg;
    char p[300], rule[120];
    if (f->renew_interval_ms && f->renew_interval_ms > f->lease_ttl_ms / 2) {
        snprintf(p, sizeof(p), "%s.renew_interval_ms", path);
        snprintf(rule, sizeof(rule), "must be at most lease_ttl_ms / 2 (%lld)",
                 (long long)(f->lease_ttl_ms / 2));
        nr_config_report_add(r, p, NULL, 0, 0, rule);
    }
    if (f->renew_interval_ms && f->renew_interval_ms < 10) {
        snprintf(p, sizeof(p), "%s.renew_interval_ms", path);
        nr_config_report_add(r, p, NULL, 0, 0, "must be 0 (the default) or at least 10");
    }
    int64_t renew = f->renew_interval_ms ? f->renew_interval_ms : f->lease_ttl_ms / 4;
    if (f->redis_timeout_ms >= renew) {
        snprintf(p, sizeof(p), "%s.redis_timeout_ms", path);
        snprintf(rule, sizeof(rule), "must be below renew_interval_ms (%lld)", (long long)renew);
        nr_config_report_add(r, p, NULL, 0, 0, rule);
    }
    if (f->budget && f->min_per_process > f->budget) {
        snprintf(p, sizeof(p), "%s.min_per_process", path);
        snprintf(rule, sizeof(rule), "must be at most budget (%lld)", (long long)f->budget);
        nr_config_report_add(r, p, NULL, 0, 0, rule);
    }
}

NR_CONFIG_SCHEMA(cf_fleet_schema, "fleet", fleet_cfg, CF_FLEET_FIELDS, fleet_check);
