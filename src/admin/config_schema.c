/*
 * config_schema.c - the section schemas of a config file. See config_schema.h.
 */
#include "config_schema.h"
#include "nebula/manager.h"

#include <stddef.h>
#include <stdio.h>

#include "nebula/scope.h"

#define DAY_MS  86400000
#define HOUR_MS 3600000

static const nr_field mgr_fields[] = {
    {.name = "workers",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, workers),
     .min = 1,
     .max = 64,
     .def_int = 4,
     .doc = "background worker threads"},
    {.name = "maintain_interval_ms",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, maintain_interval_ms),
     .min = 0,
     .max = DAY_MS,
     .def_int = 1000,
     .doc = "pool maintenance period (0 = none)"},
    {.name = "health_interval_ms",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, health_interval_ms),
     .min = 0,
     .max = DAY_MS,
     .def_int = 10000,
     .doc = "health check period (0 = none)"},
    {.name = "health_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, health_timeout_ms),
     .min = 1,
     .max = HOUR_MS,
     .def_int = 5000,
     .doc = "deadline of one instance's health check"},
    {.name = "failure_threshold",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, failure_threshold),
     .min = 1,
     .max = 1000,
     .def_int = 3,
     .doc = "failed rounds in a row before unhealthy"},
    {.name = "recovery_threshold",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, recovery_threshold),
     .min = 1,
     .max = 1000,
     .def_int = 2,
     .doc = "good rounds in a row before healthy again"},
    {.name = "quarantine_after",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, quarantine_after),
     .min = 0,
     .max = 1000,
     .def_int = 0,
     .doc = "bad rounds in a row before a resource is quarantined (0 = never)"},
    {.name = "quarantine_base_ms",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, quarantine_base_ms),
     .min = 1,
     .max = DAY_MS,
     .def_int = 1000,
     .doc = "delay before the first recovery probe"},
    {.name = "quarantine_factor",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(mgr_cfg, quarantine_factor),
     .dmin = 1.0,
     .dmax = 10.0,
     .def_double = 2.0,
     .doc = "growth of the delay per failed probe"},
    {.name = "quarantine_max_ms",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, quarantine_max_ms),
     .min = 1,
     .max = DAY_MS,
     .def_int = 60000,
     .doc = "cap of the probe delay"},
    {.name = "quarantine_jitter",
     .type = NR_FT_DOUBLE,
     .offset = offsetof(mgr_cfg, quarantine_jitter),
     .dmin = 0.0,
     .dmax = 1.0,
     .def_double = 0.2,
     .doc = "share of each delay added or taken at random"},
    {.name = "quarantine_max_attempts",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, quarantine_max_attempts),
     .min = 1,
     .max = 1000,
     .def_int = 8,
     .doc = "failed probes before an operator must release it"},
    {.name = "quarantine_trials",
     .type = NR_FT_INT,
     .offset = offsetof(mgr_cfg, quarantine_trials),
     .min = 1,
     .max = 1000000,
     .def_int = 3,
     .doc = "acquires let through while half-open"},
};

const nr_config_schema cf_mgr_schema = {
    .name = "manager",
    .struct_size = sizeof(mgr_cfg),
    .fields = mgr_fields,
    .nfields = sizeof(mgr_fields) / sizeof(mgr_fields[0]),
};

static const nr_field http_fields[] = {
    {.name = "listen",
     .type = NR_FT_STRING,
     .offset = offsetof(http_cfg, listen),
     .min = 1,
     .max = 64,
     .def_str = "127.0.0.1",
     .doc = "IPv4 or IPv6 address to listen on"},
    {.name = "port",
     .type = NR_FT_INT,
     .offset = offsetof(http_cfg, port),
     .min = 0,
     .max = 65535,
     .def_int = 9464,
     .doc = "TCP port (0 = pick a free one)"},
    {.name = "admin_token",
     .type = NR_FT_STRING,
     .offset = offsetof(http_cfg, admin_token),
     .min = 1,
     .max = 127,
     .doc = "credential ref of the admin token (POST actions need it; none: actions are refused)"},
};

const nr_config_schema cf_http_schema = {
    .name = "http",
    .struct_size = sizeof(http_cfg),
    .fields = http_fields,
    .nfields = sizeof(http_fields) / sizeof(http_fields[0]),
};

static const nr_field shutdown_fields[] = {
    {.name = "grace_ms",
     .type = NR_FT_INT,
     .offset = offsetof(shutdown_cfg, grace_ms),
     .min = 0,
     .max = HOUR_MS,
     .def_int = 0,
     .doc = "time /readyz answers 503 before the drain starts"},
    {.name = "drain_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(shutdown_cfg, drain_timeout_ms),
     .min = 0,
     .max = HOUR_MS,
     .def_int = 30000,
     .doc = "how long the drain waits for leases"},
    {.name = "cleanup_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(shutdown_cfg, cleanup_timeout_ms),
     .min = 0,
     .max = HOUR_MS,
     .def_int = 10000,
     .doc = "how long the cleanup may take"},
};

const nr_config_schema cf_shutdown_schema = {
    .name = "shutdown",
    .struct_size = sizeof(shutdown_cfg),
    .fields = shutdown_fields,
    .nfields = sizeof(shutdown_fields) / sizeof(shutdown_fields[0]),
};

static const nr_field cred_fields[] = {
    {.name = "env",
     .type = NR_FT_STRING,
     .offset = offsetof(cred_cfg, env),
     .min = 1,
     .max = 255,
     .doc = "environment variable that holds the secret"},
    {.name = "file",
     .type = NR_FT_STRING,
     .offset = offsetof(cred_cfg, file),
     .min = 1,
     .max = 4096,
     .doc = "file that holds the secret (one trailing newline is dropped)"},
};

static void cred_check(const void *cfg, const char *path, nr_config_report *r)
{
    const cred_cfg *c = cfg;
    if (!c->env == !c->file)
        nr_config_report_add(r, path, NULL, 0, 0, "must have exactly one of \"env\" or \"file\"");
}

const nr_config_schema cf_cred_schema = {
    .name = "credential",
    .struct_size = sizeof(cred_cfg),
    .fields = cred_fields,
    .nfields = sizeof(cred_fields) / sizeof(cred_fields[0]),
    .check = cred_check,
};

/* The scalar keys of a resource; config, pool and depends_on are handled here. */

static const char *const partition_names[] = {"none", "tenant", NULL};
static const char *const dep_policy_names[] = {"serve", "fail", NULL};

static const nr_field res_fields[] = {
    {.name = "id",
     .type = NR_FT_STRING,
     .offset = offsetof(res_cfg, id),
     .required = true,
     .min = 1,
     .max = 63,
     .doc = "unique resource id"},
    {.name = "driver",
     .type = NR_FT_STRING,
     .offset = offsetof(res_cfg, driver),
     .required = true,
     .min = 1,
     .max = 63,
     .doc = "driver name"},
    {.name = "scope",
     .type = NR_FT_STRING,
     .offset = offsetof(res_cfg, scope),
     .min = 1,
     .max = NR_SCOPE_TEXT_MAX - 1,
     .doc = "\"global\" (default) or \"tenant:ID[/workflow:ID...]\""},
    {.name = "partition",
     .type = NR_FT_ENUM,
     .offset = offsetof(res_cfg, partition),
     .enum_names = partition_names,
     .def_int = 0,
     .doc = "\"tenant\": one pool per tenant"},
    {.name = "credential",
     .type = NR_FT_STRING,
     .offset = offsetof(res_cfg, credential),
     .min = 1,
     .max = 255,
     .doc = "credential ref (a key of \"credentials\")"},
    {.name = "on_dependency_failure",
     .type = NR_FT_ENUM,
     .offset = offsetof(res_cfg, on_dependency_failure),
     .enum_names = dep_policy_names,
     .def_int = 0,
     .doc = "while a dependency is unhealthy: \"serve\" (degraded) or \"fail\" (NR_EDEPFAIL)"},
};

const nr_config_schema cf_res_schema = {
    .name = "resource",
    .struct_size = sizeof(res_cfg),
    .fields = res_fields,
    .nfields = sizeof(res_fields) / sizeof(res_fields[0]),
};

static const nr_field group_fields[] = {
    {.name = "name",
     .type = NR_FT_STRING,
     .offset = offsetof(group_cfg, name),
     .required = true,
     .min = 1,
     .max = 63,
     .doc = "the group's name (not a resource id)"},
    {.name = "max_quarantine_percent",
     .type = NR_FT_INT,
     .offset = offsetof(group_cfg, max_quarantine_percent),
     .min = 0,
     .max = 100,
     .def_int = NR_GROUP_MAX_QUARANTINE_PERCENT_DEFAULT,
     .doc = "most members quarantined at once, in percent; 100 = no limit"},
};

const nr_config_schema cf_group_schema = {
    .name = "group",
    .struct_size = sizeof(group_cfg),
    .fields = group_fields,
    .nfields = sizeof(group_fields) / sizeof(group_fields[0]),
};
