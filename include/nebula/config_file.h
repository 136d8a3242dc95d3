/*
 * nebula/config_file.h - a whole program's resources from one JSON file
 * (the format of docs/cli.md, "The config file": manager, http, shutdown, credentials,
 * resources, groups, hooks), loaded into a manager. Part of nebula-resource-admin.
 *
 * Loading checks every rule and keeps every problem with its JSON path,
 * line and column, the rule and the value as written (secrets redacted),
 * with a "did you mean" for a misspelt key, driver or id. A program names
 * the drivers it has built in; a file naming another known driver is told
 * it is not built in.
 *
 *     nr_config_load_options opts = NR_CONFIG_LOAD_OPTIONS_INIT;
 *     nr_config_load_options_default(&opts);
 *     opts.drivers = drivers;
 *     opts.ndrivers = ndrivers;
 *     nr_config_file *cf;
 *     if (nr_config_file_load(&cf, "app.json", &opts, &err) != NR_OK) {
 *         nr_config_file_write_problems(cf, stderr);   (cf may be NULL: see err)
 *         ...
 *     }
 *     nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
 *     nr_config_file_manager_options(cf, &mo);        (credentials from the file)
 *     nr_manager_create(&m, &mo, &err);
 *     nr_manager_load_config(m, cf, &err);            (registers every resource and group)
 *     nr_manager_start(m, deadline, &err);
 *
 * Ownership: a loaded file owns everything it hands out (specs, strings,
 * the credential provider); it must outlive the manager it was loaded into
 * (the manager borrows its credential provider). Free it with
 * nr_config_file_free.
 *
 * Thread safety: load and free from one thread; a loaded file is only read
 * afterwards, from any thread, and its credential provider may be called
 * from any thread.
 */
#ifndef NEBULA_CONFIG_FILE_H
#define NEBULA_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nebula/admin.h"
#include "nebula/credential.h"
#include "nebula/error.h"
#include "nebula/fleet.h"
#include "nebula/manager.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A name a file's "driver" may use. */
typedef struct nr_config_driver {
    const char *name;             /* e.g. "postgres" */
    const nr_resource_type *type; /* borrowed; NULL: a driver this program does not have */
    void *type_ud;                /* borrowed; the specs' type_ud */
} nr_config_driver;

typedef struct nr_config_load_options {
    size_t size; /* sizeof(nr_config_load_options) as the caller was built: the caller sets it
                    (NR_CONFIG_LOAD_OPTIONS_INIT, docs/ABI.md) */
    const nr_config_driver *drivers; /* borrowed, ndrivers entries */
    size_t ndrivers;
    bool check_credentials; /* also check that each credential's variable is set and its
                               file readable (never reading them); default true */
    /* The program's own health stages (nebula/health_pipeline.h) that a
     * resource's "health.stages" may name beside the built-in ones; at most
     * NR_RESOURCE_HEALTH_STAGES_MAX, each of the same size
     * (NR_HEALTH_STAGE_DEF_INIT, the array's stride). The array is copied
     * into the loaded file; each stage's ud is borrowed and must outlive
     * every manager the file's resources are registered into. NULL when nhealth_stages is 0;
     * default none, so a file naming another stage gets a problem naming the
     * resource, the stage and the stages it may use. */
    const nr_health_stage_def *health_stages;
    size_t nhealth_stages;
} nr_config_load_options;

/* Initialisers that set size: `nr_config_load_options o = NR_CONFIG_LOAD_OPTIONS_INIT;`, or with
 * fields: `nr_config_load_options o = NR_CONFIG_LOAD_OPTIONS(.field = value, ...);` (C only: C++
 * writes nebula::sized<nr_config_load_options>()). */
#define NR_CONFIG_LOAD_OPTIONS(...)                                                                \
    {                                                                                              \
        .size = sizeof(nr_config_load_options), __VA_ARGS__                                        \
    }
#define NR_CONFIG_LOAD_OPTIONS_INIT NR_CONFIG_LOAD_OPTIONS()

NR_API void nr_config_load_options_default(nr_config_load_options *o);

typedef struct nr_config_problem {
    const char *path;  /* "resources[2].pool.max_size"; "$" for the whole file */
    const char *rule;  /* the rule broken */
    const char *value; /* the value as written ("" when none; "<redacted>" for a secret) */
    int line, col;     /* 1-based; 0 when the position is unknown */
} nr_config_problem;

typedef struct nr_config_file nr_config_file;

/*
 * Read and check file. NR_OK: *out is complete. NR_ECONFIG: the file breaks
 * rules; *out holds every problem (nr_config_file_problems) and err names
 * the first and the count. NR_EINVAL (no drivers table, opts' size or a
 * health stage's size refused: err names it and its index), NR_ENOMEM: *out
 * is NULL. Free *out in every case it is set.
 */
NR_API int nr_config_file_load(nr_config_file **out, const char *file,
                               const nr_config_load_options *opts, nr_error *err);

NR_API void nr_config_file_free(nr_config_file *cf);

/* The problems found, sorted by position; valid while cf lives. */
NR_API size_t nr_config_file_problems(const nr_config_file *cf, const nr_config_problem **out);

/* Write each problem as FILE:LINE:COL: PATH: RULE (got VALUE). */
NR_API void nr_config_file_write_problems(const nr_config_file *cf, FILE *out);

/* The whole config as understood, defaults included, secrets redacted. */
NR_API void nr_config_file_print(const nr_config_file *cf, FILE *out);

/* The "manager" section, with credentials = the "credentials" section's
 * provider (valid while cf lives); events and metrics left NULL. */
NR_API void nr_config_file_manager_options(nr_config_file *cf, nr_manager_options *out);

/* The "credentials" section as a provider (valid while cf lives). */
NR_API nr_credential_provider nr_config_file_credentials(nr_config_file *cf);

/* The "http" section into an admin server's options: listen, port, and
 * when admin_token names a credential, token_ref and credentials. */
NR_API void nr_config_file_admin_options(nr_config_file *cf, nr_admin_options *out);

/* The "shutdown" section; *grace_ms (may be NULL) gets the lame-duck time. */
NR_API void nr_config_file_shutdown_options(const nr_config_file *cf, nr_shutdown_options *out,
                                            int64_t *grace_ms);

/* Resources in start order: by dependency level, then file order. */
NR_API size_t nr_config_file_resource_count(const nr_config_file *cf);

/* The i-th resource as a spec for nr_manager_register (its pointers valid
 * while cf lives); *driver (may be NULL) gets its driver name. NR_EINVAL
 * when i is out of range. */
NR_API int nr_config_file_resource(const nr_config_file *cf, size_t i, nr_resource_spec *spec,
                                   const char **driver);

/* The i-th resource's (start order) "fleet" section as nr_fleet_create's
 * options (nebula/fleet.h; its strings valid while cf lives): resource is
 * the resource's id, credentials the "credentials" section's provider when
 * credential_ref is set; events and metrics are left NULL. NR_ENOTFOUND
 * when the resource has no fleet section, NR_EINVAL when i is out of
 * range. The admin library fills the options only: creating the fleet
 * budget is the caller's (it links nebula-resource-fleet). */
NR_API int nr_config_file_fleet(nr_config_file *cf, size_t i, nr_fleet_options *out);

/* The file's "groups", in file order (0 when the file had problems). */
NR_API size_t nr_config_file_group_count(const nr_config_file *cf);

/* The i-th group as a spec for nr_manager_register_group (its pointers valid
 * while cf lives). NR_EINVAL when i is out of range. */
NR_API int nr_config_file_group(const nr_config_file *cf, size_t i, nr_group_spec *spec);

/* The kinds of hook a file's "hooks" may hold (nebula/hooks_builtin.h). */
typedef enum nr_config_hook_type {
    NR_CONFIG_HOOK_AUDIT = 1,              /* nr_audit_create */
    NR_CONFIG_HOOK_METRICS = 2,            /* nr_hook_metrics_create */
    NR_CONFIG_HOOK_SLOW_ACQUIRE = 3,       /* nr_slow_acquire_create */
    NR_CONFIG_HOOK_CREDENTIAL_REFRESH = 4, /* nr_credential_refresh_create */
} nr_config_hook_type;

/*
 * One entry of "hooks", checked: the loader only parses, the program builds
 * the hook (as `nebula-resource run` does) and applies the common keys to
 * its nr_hook_def (priority; ops when not 0; resource and type_name when
 * not NULL). The keys of the other types are 0 / NULL.
 */
typedef struct nr_config_hook {
    nr_config_hook_type type;
    const char *type_text; /* "audit", "metrics", "slow_acquire", "credential_refresh" */
    int32_t priority;      /* "priority", default 0 */
    uint32_t ops;          /* NR_HOOK_OP_BIT()s of "ops"; 0 = the built-in's own */
    const char *resource;  /* "resource" filter ("orders-db", "orders-*"), or NULL */
    const char *type_name; /* "type_name" filter (a driver's name), or NULL */
    const char *path;      /* audit: "path" (required) */
    size_t queue_lines;    /* audit: "queue_lines", default 4096 */
    int64_t threshold_ms;  /* slow_acquire: "threshold_ms", default 100 */
    int64_t window_ms;     /* credential_refresh: "window_ms", default 60000 */
} nr_config_hook;

/* The file's "hooks", in file order (0 when the file had problems). */
NR_API size_t nr_config_file_hook_count(const nr_config_file *cf);

/* The i-th hook (its strings valid while cf lives). NR_EINVAL when i is out
 * of range. */
NR_API int nr_config_file_hook(const nr_config_file *cf, size_t i, nr_config_hook *out);

/* Register every resource of cf into m, in start order, then every group.
 * NR_OK, or the first failure of nr_manager_register (err names the
 * resource) or nr_manager_register_group (err names the group). */
NR_API int nr_manager_load_config(nr_manager *m, const nr_config_file *cf, nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
