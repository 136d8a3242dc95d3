/*
 * config_schema.h - the schemas of the sections of a nebula-resource config
 * file that the library does not define: manager, http, shutdown, one
 * credential, and the plain keys of a resource and of a group. See docs/cli.md.
 *
 * Thread safety: immutable tables, any thread.
 */
#ifndef NR_CF_CONFIG_SCHEMA_H
#define NR_CF_CONFIG_SCHEMA_H

#include <stdint.h>

#include "nebula/config.h"

typedef struct mgr_cfg {
    int64_t workers, maintain_interval_ms, health_interval_ms, health_timeout_ms;
    int64_t failure_threshold, recovery_threshold;
    int64_t quarantine_after, quarantine_base_ms, quarantine_max_ms, quarantine_max_attempts;
    int64_t quarantine_trials;
    double quarantine_factor, quarantine_jitter;
} mgr_cfg;

typedef struct http_cfg {
    char *listen;
    int64_t port;
    char *admin_token;
} http_cfg;

typedef struct shutdown_cfg {
    int64_t grace_ms, drain_timeout_ms, cleanup_timeout_ms;
} shutdown_cfg;

typedef struct cred_cfg {
    char *env;
    char *file;
} cred_cfg;

typedef struct res_cfg {
    char *id;
    char *driver;
    char *scope;
    int partition;
    char *credential;
    int on_dependency_failure;
} res_cfg;

typedef struct group_cfg {
    char *name;
    int64_t max_quarantine_percent;
} group_cfg;

extern const nr_config_schema cf_group_schema;    /* group_cfg, a group's plain keys */
extern const nr_config_schema cf_mgr_schema;      /* mgr_cfg, "manager" */
extern const nr_config_schema cf_http_schema;     /* http_cfg, "http" */
extern const nr_config_schema cf_shutdown_schema; /* shutdown_cfg, "shutdown" */
extern const nr_config_schema cf_cred_schema;     /* cred_cfg, one credential */
extern const nr_config_schema cf_res_schema;      /* res_cfg, a resource's plain keys */

#endif
