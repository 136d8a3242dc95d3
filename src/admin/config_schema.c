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
