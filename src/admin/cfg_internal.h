/*
 * cfg_internal.h - the config file's loader behind nebula/config_file.h:
 * load, check every rule, report every problem with its JSON path, line
 * and column, print with secrets redacted. The format is described in
 * docs/cli.md ("The config file").
 *
 *   config_file.c    loading and the rules across sections
 *   config_groups.c  the "groups" key (config_loader.h: what they share)
 *   config_hooks.c   the "hooks" key
 *   config_read.c    reading the file's bytes (regular file, size limit)
 *   config_names.c   paths, id and ref rules, did-you-mean hints
 *   config_schema.c  the sections' schemas (the library's nr_field tables)
 *   config_output.c  printing, issues, freeing
 *   json_pos.c       where each JSON value sits in the text
 *   config_api.c     the public API over all of these
 *
 * Ownership: cf_config_load fills a cf_config that cf_config_free
 * releases (also after a failed load); the issue list likewise.
 *
 * Thread safety: one thread per cf_config while it is loaded or freed;
 * afterwards it is only read, from any thread.
 */
#ifndef NR_CFG_INTERNAL_H
#define NR_CFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config_schema.h"
#include "nebula/config_file.h"
#include "nebula/manager.h"

/* One problem found in a config file. */
typedef struct cf_issue {
    char *path;  /* display path: "resources[2].pool.max_size", "$" for the whole file */
    char *rule;  /* the rule broken */
    char *value; /* the offending value as JSON text ("" when none, "<redacted>" for secrets) */
    int line, col;
} cf_issue;

typedef struct cf_issues {
    cf_issue *v;
    size_t n, cap;
} cf_issues;

typedef struct cf_credential {
    char *ref;
    char *env;  /* environment variable holding the secret, or NULL */
    char *file; /* file holding the secret, or NULL */
} cf_credential;

typedef struct cf_resource {
    char *id;
    char *driver_name;
    const nr_config_driver *driver; /* NULL when not built in */
    void *config;                   /* the driver's config struct, owned; NULL when not parsed */
    nr_pool_config pool;
    nr_scope scope;
    char scope_text[NR_SCOPE_TEXT_MAX];
    nr_partition partition;
    nr_dep_policy dep_policy; /* on_dependency_failure */
    char **deps;              /* ids this one depends on */
    size_t ndeps;
    char *credential;              /* credential ref, or NULL */
    nr_health_config health;       /* "health"; the default when absent */
    bool has_health;               /* the file gave a "health" section */
    nr_autoscale_policy autoscale; /* "autoscale"; disabled when absent */
    nr_tenant_policy tenants;      /* "tenants"; the defaults when absent */
    fleet_cfg fleet;               /* "fleet"; parsed (owned) only when has_fleet */
    bool has_fleet;                /* the file gave a valid "fleet" section */
    int level; /* 0 without dependencies, else 1 + the highest level of its dependencies */
} cf_resource;

typedef struct cf_group {
    char *name;
    char **members; /* resource ids, each once */
    size_t nmembers;
    uint32_t max_quarantine_percent;
} cf_group;

typedef struct cf_hook {
    int type;             /* nr_config_hook_type; 0 when it was not understood */
    int32_t priority;     /* "priority" */
    uint32_t ops;         /* NR_HOOK_OP_BIT()s of "ops"; 0 = the built-in's own */
    char *resource;       /* "resource" filter, or NULL */
    char *type_name;      /* "type_name" filter, or NULL */
    char *path;           /* audit: "path" */
    size_t queue_lines;   /* audit */
    int64_t threshold_ms; /* slow_acquire */
    int64_t window_ms;    /* credential_refresh */
} cf_hook;

typedef struct cf_config {
    nr_manager_options manager; /* credentials, events, metrics left NULL */
    char *listen;               /* http.listen */
    char *admin_token;          /* http.admin_token: a credential ref, or NULL */
    int port;                   /* http.port; 0 = pick a free one */
    int64_t grace_ms, drain_timeout_ms, cleanup_timeout_ms; /* shutdown.* */
    cf_credential *creds;
    size_t ncreds;
    cf_resource *res;
    size_t nres;
    size_t *order;    /* start order: indexes into res, by level, then file order */
    cf_group *groups; /* "groups", in file order */
    size_t ngroups;
    cf_hook *hooks; /* "hooks", in file order */
    size_t nhooks;
    const nr_health_stage_def *stages; /* the program's own health stages (borrowed) */
    size_t nstages;
} cf_config;

/* Read and check the file. Returns 0 when it is valid (cfg is complete), 1
 * when it is not (every problem is in issues; cfg is partial). Either way
 * free cfg and issues afterwards. check_secrets: also check that each
 * credential's environment variable is set and its file readable (their
 * contents are never read here). */
int cf_config_load(const char *file, const nr_config_load_options *opts, cf_config *cfg,
                   cf_issues *issues);

void cf_config_free(cf_config *cfg);

/* The resource called id, or NULL. */
const cf_resource *cf_config_resource(const cf_config *cfg, const char *id);

/* The credential ref, or NULL. */
const cf_credential *cf_config_credential(const cf_config *cfg, const char *ref);

/* Print the whole config as the program understood it, defaults included,
 * secrets redacted (the library's redacting printer for each section). */
void cf_config_print(const cf_config *cfg, FILE *out);

/* Sort by position (stable). */
void cf_issues_sort(cf_issues *issues);

/* Each issue, in its order, as FILE:LINE:COL: PATH: RULE (got VALUE). */
void cf_issues_print(const cf_issues *issues, const char *file, FILE *out);

void cf_issues_free(cf_issues *issues);

#endif
