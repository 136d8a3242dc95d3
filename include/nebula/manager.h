/*
 * nebula/manager.h - register resources once; the manager runs their life.
 *
 * A program registers each resource (id, type, config, pool config, scope,
 * dependencies, credential reference), then starts the manager. The manager
 *   - validates the dependency graph (a cycle is an error that spells it out:
 *     "circular dependency: a -> b -> c -> a"),
 *   - starts resources in dependency order, independent ones in parallel; if
 *     one fails, everything that depends on it fails with NR_EDEPFAIL naming
 *     the root cause, and everything already started is stopped again, so
 *     nothing is left half-started,
 *   - runs background work on its own runtime (a timer thread plus a bounded
 *     worker pool): keeps pools at min_idle, replaces lost instances, evicts
 *     idle and old ones, checks health,
 *   - keeps a health state per resource (healthy, degraded, unhealthy,
 *     unknown) with failure and recovery thresholds; acquires of an unhealthy
 *     resource fail fast with NR_EUNAVAIL (docs/manager.md, "Health", has the
 *     rules; a check that reports NR_HEALTH_UNKNOWN is no verdict: it counts
 *     neither as a good round nor as a failed one),
 *   - isolates scopes: a resource registered at a scope is visible only to
 *     callers inside it; a tenant-partitioned resource gives every tenant
 *     its own pool with the resource's limits,
 *   - fetches credentials by reference and rotates them,
 *   - shuts down in phases: drain (new acquires fail with NR_ESHUTDOWN,
 *     leases are waited for), cleanup (idle instances destroyed, dependents
 *     before their dependencies, in parallel), terminate (what is still out
 *     is reported with its resource id and how long it has been held),
 *     publishing NR_EV_SHUTDOWN_PHASE as it enters each.
 *
 * Ownership: the manager copies every spec field it keeps (ids, config via
 * the type's schema, pool config, scope, dependency ids, credential ref).
 * Types, type_ud and the credential provider are borrowed and must outlive
 * the manager.
 *
 * Thread safety: every function may be called from any thread between
 * nr_manager_create and nr_manager_destroy; nr_manager_destroy must be the
 * last call. Driver callbacks run on the manager's workers or on callers'
 * threads, never under a manager or pool lock: a slow create, destroy or
 * check holds up only the call it runs in (a start, a register, a rotation,
 * a round), never another manager function.
 */
#ifndef NEBULA_MANAGER_H
#define NEBULA_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/autoscale.h"
#include "nebula/tenants.h"
#include "nebula/credential.h"
#include "nebula/ctx.h"
#include "nebula/error.h"
#include "nebula/health.h"
#include "nebula/health_pipeline.h"
#include "nebula/pool.h"
#include "nebula/provider.h"
#include "nebula/resource_type.h"
#include "nebula/scope.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_manager nr_manager;

typedef struct nr_manager_options {
    size_t size;      /* sizeof(nr_manager_options) as the caller was built: the caller sets it
                         (NR_MANAGER_OPTIONS_INIT, docs/ABI.md) */
    uint32_t workers; /* background worker threads; default 4; 1..64 */
    int64_t maintain_interval_ms; /* pool maintenance period; default 1000; 0 = none */
    int64_t health_interval_ms;   /* health check period; default 10000; 0 = none */
    int64_t health_timeout_ms;    /* per instance check; default 5000 */
    uint32_t failure_threshold;   /* consecutive failed rounds to unhealthy; default 3 */
    uint32_t recovery_threshold;  /* consecutive good rounds to healthy again; default 2.
                                     Rounds with no information (nothing checked, or
                                     every check said Unknown) are skipped: they neither
                                     count nor break a run */
    const nr_credential_provider *credentials; /* borrowed; NULL = none */
    nr_event_bus *events; /* borrowed; NULL = none: every pool publishes into it, and the
                             manager adds HealthChanged events */
    nr_metrics *metrics;  /* borrowed; NULL = none: the manager registers its families
                             (docs/observability.md) and a collector that reads every
                             pool at scrape time; remove nothing from it while the
                             manager lives */
    /* quarantine: after quarantine_after bad rounds in a row (0 = never) a resource is
     * taken out of service; acquires fail at once; its recovery probes back off
     * exponentially; a passing probe lets it half-open (a few trial acquires); after
     * quarantine_max_attempts failed probes it stays out until
     * nr_manager_release_quarantine. See docs/health.md. */
    uint32_t quarantine_after;        /* default 0 (off); 1..1000 */
    int64_t quarantine_base_ms;       /* first probe delay; default 1000; 1..86400000 */
    double quarantine_factor;         /* delay growth per failed probe; default 2; 1..10 */
    int64_t quarantine_max_ms;        /* cap of the delay; default 60000; >= base */
    double quarantine_jitter;         /* +- this share of each delay; default 0.2; 0..1 */
    uint32_t quarantine_max_attempts; /* failed probes before an operator must release it;
                                         default 8; 1..1000 */
    uint32_t quarantine_trials;       /* acquires let through while half-open; default 3;
                                         1..1000000 */
    uint32_t creators; /* threads that run the creates of every pool (each pool runs at
                          most its max_connecting at once); default 4; 1..64. They are
                          apart from the workers, so a background job waiting on an
                          acquire never waits on itself. */
    nr_hooks *hooks;   /* borrowed, may be NULL: given to every pool the manager makes (tenant
                          pools too), and run around a resource's quarantine and its release
                          from quarantine (nebula/hooks.h); must outlive the manager */
    int64_t (*clock)(void *ud); /* may be NULL (= nr_now_ns): monotonic nanoseconds by which
                                   autoscaling windows and cooldowns are measured (tests give
                                   a fake one); called on the maintenance round's thread */
    void *clock_ud;
} nr_manager_options;

/* Initialisers that set size: `nr_manager_options o = NR_MANAGER_OPTIONS_INIT;`, or with fields:
 * `nr_manager_options o = NR_MANAGER_OPTIONS(.field = value, ...);` (C only: C++ sets o.size). */
#define NR_MANAGER_OPTIONS(...)                                                                    \
    {                                                                                              \
        .size = sizeof(nr_manager_options), __VA_ARGS__                                            \
    }
#define NR_MANAGER_OPTIONS_INIT NR_MANAGER_OPTIONS()

NR_API void nr_manager_options_default(nr_manager_options *o);

/* NR_EINVAL naming the bad option, NR_ENOMEM, NR_EINIT (threads). */
NR_API int nr_manager_create(nr_manager **out, const nr_manager_options *opts, nr_error *err);

/*
 * Shut down (with default phase timeouts) if that was not done, then free.
 * NR_EBUSY when leases are still out: nothing is freed; give them back and
 * call again. NULL is a no-op.
 */
NR_API int nr_manager_destroy(nr_manager *m, nr_error *err);

typedef enum nr_partition {
    NR_PARTITION_NONE = 0, /* one pool for every caller inside the scope */
    NR_PARTITION_TENANT,   /* one pool per tenant, each with the full pool limits */
} nr_partition;

/* What a resource's acquires do while something it depends on, directly or
 * through others, is unhealthy (the resource is then degraded, with the
 * root named in its reason). */
typedef enum nr_dep_policy {
    NR_DEP_SERVE = 0, /* keep serving (the default) */
    NR_DEP_FAIL,      /* fail with NR_EDEPFAIL naming the root */
} nr_dep_policy;

#define NR_RESOURCE_HEALTH_STAGES_MAX 32 /* custom stages one resource may define */

typedef struct nr_resource_spec {
    size_t size;    /* sizeof(nr_resource_spec) as the caller was built: the caller sets it
                       (NR_RESOURCE_SPEC_INIT, docs/ABI.md) */
    const char *id; /* 1..63 bytes of [A-Za-z0-9_.:@-]; unique */
    const nr_resource_type *type; /* borrowed */
    void *type_ud;                /* borrowed */
    const void *config;           /* the driver's config; copied with type->config_schema */
    const nr_pool_config *pool;   /* copied; NULL = defaults */
    const nr_scope *scope;        /* copied; NULL = Global */
    nr_partition partition;
    const char *const *depends_on; /* ids of resources this one needs; copied */
    size_t ndepends;
    const char *credential_ref;          /* fetched from the provider; NULL = none */
    nr_dep_policy on_dependency_failure; /* default NR_DEP_SERVE */
    /* The resource's health pipeline (docs/health.md); copied. NULL = the
     * default, connectivity only: each round checks the idle instances and
     * probes when nothing is idle or creates fail. Checked with
     * nr_health_config_validate against the built-in stages and health_stages. */
    const nr_health_config *health;
    /* The program's own stages the health config may name, at most
     * NR_RESOURCE_HEALTH_STAGES_MAX (nr_health_stage_def: a name, fn, ud). The
     * array is read during register only; each stage's ud is borrowed and
     * must outlive the resource. NULL when nhealth_stages is 0. Each element
     * has the same size (NR_HEALTH_STAGE_DEF_INIT, the array's stride); a
     * refused or differing size (err names the index), a stage without fn,
     * or with a bad or built-in name, is NR_EINVAL. */
    const nr_health_stage_def *health_stages;
    size_t nhealth_stages;
    /* Autoscaling (nebula/autoscale.h); copied. NULL = off. Checked against
     * nr_autoscale_schema (NR_ECONFIG naming "$.autoscale.FIELD"). */
    const nr_autoscale_policy *autoscale;
    /* A tenant-partitioned resource's policy (nebula/tenants.h): idle
     * eviction, max_tenants, max_total; copied. NULL = the defaults. Checked
     * against nr_tenant_schema (NR_ECONFIG naming "$.tenants.FIELD"); for a
     * resource that is not partitioned by tenant it must be NULL or the
     * defaults (NR_ECONFIG otherwise). */
    const nr_tenant_policy *tenants;
    /* Places shared with other pools (nebula/budget.h), e.g. this process's
     * share of a fleet-wide budget (nebula/fleet.h); borrowed, must outlive
     * the resource (unregister it, or destroy the manager, before
     * nr_budget_destroy). NULL = none. The resource's pool is put in it when
     * it starts (and a reload's new pool too; the budget itself cannot
     * change on reload). Not for a tenant-partitioned resource (its
     * max_total is its budget): NR_ECONFIG. */
    struct nr_budget *budget;
} nr_resource_spec;

/* Initialisers that set size: `nr_resource_spec o = NR_RESOURCE_SPEC_INIT;`, or with fields:
 * `nr_resource_spec o = NR_RESOURCE_SPEC(.field = value, ...);` (C only: C++ sets o.size). */
#define NR_RESOURCE_SPEC(...)                                                                      \
    {                                                                                              \
        .size = sizeof(nr_resource_spec), __VA_ARGS__                                              \
    }
#define NR_RESOURCE_SPEC_INIT NR_RESOURCE_SPEC()

/*
 * Register a resource. Before nr_manager_start it is only recorded;
 * afterwards it is started at once (its dependencies must be running), on
 * the calling thread, with no manager lock held: other registers,
 * unregisters, acquires and a shutdown go on meanwhile. A shutdown that
 * begins meanwhile stops it before its next create (NR_ESHUTDOWN; the
 * resource stays registered, not started). While nr_manager_start runs, a
 * register waits for it to end. Publishes NR_EV_REGISTERED.
 * NR_EEXIST (duplicate id), NR_EINVAL (bad id, type, missing dependency
 * id, partition without scope room), NR_ECONFIG (the config or pool config
 * breaks a rule: err names the resource, the field and the rule),
 * NR_ESHUTDOWN, NR_ENOMEM. Missing dependencies are reported at start when
 * registered before it (they may be registered in any order).
 */
NR_API int nr_manager_register(nr_manager *m, const nr_resource_spec *spec, nr_error *err);

/*
 * Unregister: refuse new acquires, wait for its leases until deadline, then
 * destroy its pools and remove its metric series. NR_ENOTFOUND; NR_EBUSY
 * (other resources depend on it, named in err); NR_ETIMEDOUT (leases still
 * out: it stays unregistered, each instance is destroyed as it comes back,
 * and the first maintenance round after the last one is back (or
 * nr_manager_destroy) frees the rest, series included). While
 * nr_manager_start runs, an unregister waits for it to end. Publishes
 * NR_EV_UNREGISTERED (count = leases still out).
 */
NR_API int nr_manager_unregister(nr_manager *m, const char *id, nr_deadline deadline,
                                 nr_error *err);

/* What nr_manager_reload did. */
typedef enum nr_reload_kind {
    NR_RELOAD_UNCHANGED = 0, /* the spec is the one the resource has: nothing done */
    NR_RELOAD_RECORDED,      /* not running: the spec replaces the one recorded, for its start */
    NR_RELOAD_IN_PLACE,      /* running: applied to its pools and itself (pool fields but
                                max_connecting, on_dependency_failure, health, autoscale,
                                tenants), no instance made or lost */
    NR_RELOAD_NEW_POOL,      /* running: a new pool with the new config took over; the old
                                one drains (its leases finish on the old instances, each
                                destroyed as it comes back) and is then freed */
} nr_reload_kind;

NR_API const char *nr_reload_kind_name(nr_reload_kind k); /* "unchanged", "recorded", ... */

typedef struct nr_reload_report {
    nr_reload_kind kind;
    /* what changed, e.g. "pool.max_size 4 -> 8" or "config, pool.idle_timeout_ms": the
       names of the fields, never their values for the config (it may hold secrets);
       cut with "..." when longer */
    char changes[NR_ERROR_MESSAGE_MAX];
    uint32_t drained_pools; /* NR_RELOAD_NEW_POOL: old pools set aside to drain */
} nr_reload_report;

/*
 * Reload one registered resource from spec (same id). What may change: the
 * driver config, the pool config, on_dependency_failure, the health
 * settings (health, health_stages), the autoscale and tenant policies. What
 * may not (an NR_EINVAL naming the field: unregister and register again
 * instead): the type, type_ud, the scope, the partition, the dependencies,
 * the credential reference (rotate the credential instead).
 *
 * A running resource whose change touches only pool fields other than
 * max_connecting, on_dependency_failure, the health settings or the
 * policies is changed in place (NR_RELOAD_IN_PLACE: nr_pool_reconfigure on
 * each pool; the health settings get a new pipeline, whose windows start
 * empty). A change of the driver config or max_connecting builds a new pool with the new
 * config and warms it as a start does (min_idle instances, at least one) on
 * the calling thread, with no manager lock held; when that fails, the old
 * pool stays, nothing changed, and the error says why (the create's own
 * error). Otherwise new acquires go to the new pool at once: an acquire
 * that had reached the old one is served by the new one, so none fails for
 * the reload; the old pool is closed (idle instances destroyed now, leased
 * ones when given back) and the first maintenance round that finds no
 * other call inside the resource frees it. For a tenant-partitioned
 * resource every tenant pool drains and new ones are made on first use. A
 * resource that is not running (registered, failed, stopped) only has its
 * recorded spec replaced (NR_RELOAD_RECORDED).
 *
 * Validation is that of nr_manager_register (NR_ECONFIG naming the
 * resource, the field and the rule). Also NR_ENOTFOUND, NR_ESHUTDOWN,
 * NR_ENOMEM. report may be NULL. Publishes NR_EV_RELOADED with the kind and
 * the changes. Reloads of one resource run one at a time.
 */
NR_API int nr_manager_reload(nr_manager *m, const nr_resource_spec *spec, nr_reload_report *report,
                             nr_error *err);

/*
 * Validate the graph and start every registered resource, dependencies
 * first, independent ones in parallel, each verified by creating an
 * instance (or min_idle of them). On failure nothing stays started: the
 * error names the first resource that failed and why (NR_ECYCLE,
 * NR_EINVAL for a missing dependency, NR_EDEPFAIL, or the driver's code),
 * and nr_manager_resource_info tells each resource's outcome. Stopping what
 * had started does not wait for callers: an instance a caller leased
 * meanwhile stays the caller's and is destroyed when given back. A failed
 * start may be called again. Also NR_ESTATE (already started, or starting),
 * NR_ESHUTDOWN (shut down, or a shutdown began while it ran: it stops at
 * its next step), NR_ENOMEM. The same as nr_manager_start_ctx with
 * ctx = {.deadline = deadline}.
 *
 * It runs with no manager lock held: acquires of the resources already up,
 * rotation and shutdown go on meanwhile; register and unregister wait for it.
 */
NR_API int nr_manager_start(nr_manager *m, nr_deadline deadline, nr_error *err);

/*
 * nr_manager_start with a context: ctx->deadline is the start's deadline
 * (unset: none; each create is given it) and ctx->cancel, when not NULL,
 * cancels it; the other fields are not used. ctx NULL: no deadline, no token.
 *
 * The token is looked at before and after each level of the graph, before
 * each resource's start and before each create that brings a resource to
 * min_idle. Once it is seen set, the start stops as a failed one does:
 * every resource that had started is stopped again (NR_RS_STOPPED) and each
 * idle instance is destroyed before this returns (a leased one when it is
 * given back); the resources whose
 * start was cut short, and those never reached, stay NR_RS_REGISTERED (the
 * former with last_error NR_ECANCELED); and NR_ECANCELED comes back, unless
 * a resource failed meanwhile (then its error, as above). A create that is
 * running when the token is set is not interrupted (the pool gives the
 * creates of a start the deadline but no token): it is waited for, and its
 * instance destroyed. A token set after this returned NR_OK changes nothing.
 *
 * Thread safety: as every manager function; the token may be set from any
 * thread while this runs, and must outlive the call.
 */
NR_API int nr_manager_start_ctx(nr_manager *m, const nr_ctx *ctx, nr_error *err);

/*
 * Lease an instance of resource id for a caller in ctx (NULL = Global
 * caller, defaults). Look-up is O(1). Besides nr_pool_acquire's codes:
 * NR_ENOTFOUND (unknown id), NR_ESCOPE (the caller is not inside the
 * resource's scope, or a tenant-partitioned resource is asked from outside
 * any tenant), NR_EUNAVAIL (not started, failed, or unhealthy: err says
 * which and why), NR_EDEPFAIL, NR_ESHUTDOWN.
 */
NR_API int nr_manager_acquire(nr_manager *m, const char *id, const nr_ctx *ctx, nr_guard *out,
                              nr_error *err);

/* The provider port backed by this manager (valid while m lives). */
NR_API nr_provider nr_manager_provider(nr_manager *m);

typedef enum nr_resource_state {
    NR_RS_REGISTERED = 0, /* not started yet */
    NR_RS_STARTING,
    NR_RS_RUNNING,
    NR_RS_FAILED,            /* its own start failed */
    NR_RS_DEPENDENCY_FAILED, /* something it depends on failed */
    NR_RS_STOPPING,
    NR_RS_STOPPED,
} nr_resource_state;

NR_API const char *nr_resource_state_name(nr_resource_state s);

typedef enum nr_quarantine_state {
    NR_QUARANTINE_NONE = 0,  /* in service */
    NR_QUARANTINE_ON,        /* out of service until its next probe */
    NR_QUARANTINE_HALF_OPEN, /* a probe passed: a few trial acquires, the next round decides */
    NR_QUARANTINE_HELD,      /* every probe failed: out until an operator releases it */
} nr_quarantine_state;

NR_API const char *nr_quarantine_state_name(nr_quarantine_state q);

typedef struct nr_resource_info {
    size_t size; /* sizeof(nr_resource_info) as the caller was built: the caller sets it; the
                    library writes up to it (NR_RESOURCE_INFO_INIT, docs/ABI.md) */
    char id[NR_ERROR_ID_MAX];
    char type[32];
    nr_resource_state state;
    nr_health_state health; /* what acquires see: its own health, made degraded (when it
                               is not worse) while a dependency is unhealthy */
    char health_reason[NR_HEALTH_REASON_MAX]; /* for a cascade: "depends on ROOT (unhealthy:
                                                 REASON)" */
    nr_health_state own_health;               /* its own checks' verdict */
    char root_cause[NR_ERROR_ID_MAX];         /* the unhealthy dependency it is degraded by; "" */
    nr_dep_policy on_dependency_failure;
    nr_quarantine_state quarantine;
    uint32_t quarantine_attempt; /* the probe it waits for (1-based); 0 when in service */
    int64_t quarantine_until_ms; /* wall-clock ms of that probe; 0 when none is due */
    uint32_t consecutive_failures, consecutive_successes;
    nr_error last_error;          /* why it failed to start (code NR_OK otherwise) */
    uint32_t pools;               /* 1, or the number of tenant pools */
    nr_autoscale_state autoscale; /* its policy's last decision (enabled false: none) */
    /* tenant-partitioned only (all 0 otherwise) */
    nr_tenant_policy tenant_policy;
    uint64_t tenants_evicted; /* tenant pools removed for being unused */
    uint64_t tenants_refused; /* acquires of a new tenant refused by max_tenants */
    uint32_t total_held;      /* instances counted against max_total (0 without a cap) */
    uint32_t total_waiting;   /* tenant pools queued for a place under max_total */
    /* Last, so that fields nr_pool_stats gains grow this struct at its end: stats.size
     * says how much of it the library wrote. */
    nr_pool_stats stats; /* summed over its pools */
} nr_resource_info;

/* Initialisers that set size: `nr_resource_info o = NR_RESOURCE_INFO_INIT;` (C; C++ sets o.size).
 */
#define NR_RESOURCE_INFO(...)                                                                      \
    {                                                                                              \
        .size = sizeof(nr_resource_info), __VA_ARGS__                                              \
    }
#define NR_RESOURCE_INFO_INIT NR_RESOURCE_INFO()

/* Describe one resource. NR_ENOTFOUND. */
NR_API int nr_manager_resource_info(nr_manager *m, const char *id, nr_resource_info *out,
                                    nr_error *err);

/*
 * The stage results of the resource's last health round (its pipeline's,
 * nr_health_pipeline_last): each stage's name, whether it ran, its state,
 * reason and latency, and the round's state. Before the first round: round
 * 0, state UNKNOWN, the stage names with ran false. A round cut short by
 * shutdown may show here but changed nothing of the resource's health.
 * NR_EINVAL (an argument NULL), NR_ENOTFOUND.
 * Thread safety: any thread, also while a round runs (a consistent copy).
 */
NR_API int nr_manager_health_stages(nr_manager *m, const char *id, nr_health_round_result *out,
                                    nr_error *err);

/* Number of registered resources. */
NR_API size_t nr_manager_count(nr_manager *m);

/*
 * What a resource was registered with, as nr_manager_each_resource shows
 * it. The strings behind deps and credential_ref belong to the manager and
 * are valid only during the callback that receives the description: copy
 * what you keep. No secret value is in it: credential_ref is the name the
 * provider knows the secret by, never the secret.
 */
typedef struct nr_resource_desc {
    char id[NR_ERROR_ID_MAX];
    char type[32];           /* the type's name; a longer one is cut and ends in "..." */
    const char *const *deps; /* the ids it depends on, as registered; NULL when ndeps is 0 */
    size_t ndeps;
    nr_scope scope;                     /* where it is registered */
    char scope_text[NR_SCOPE_TEXT_MAX]; /* the same, as nr_scope_format writes it */
    nr_partition partition;
    bool has_credential;        /* registered with a credential reference */
    const char *credential_ref; /* that reference; NULL when there is none */
} nr_resource_desc;

/*
 * Call fn once per registered resource, in registration order, until fn
 * returns non-zero: that value is then returned as it is (return positive
 * values to tell them from the library's negative codes). NR_OK when the
 * walk ends; NR_EINVAL (m or fn NULL) and NR_ENOMEM, and then fn is never
 * called.
 *
 * The walk goes over a snapshot taken at the call: resources registered or
 * unregistered while it runs are not seen or still seen, so one named in a
 * description may be gone by the time fn sees it (nr_manager_resource_info
 * then says NR_ENOTFOUND). For state, health and statistics call
 * nr_manager_resource_info(m, d->id, ...) from fn.
 *
 * Thread safety: any thread, between nr_manager_create and
 * nr_manager_destroy. fn runs on the calling thread with no manager lock
 * held; it may call any manager function but nr_manager_destroy.
 */
NR_API int nr_manager_each_resource(nr_manager *m, int (*fn)(void *ud, const nr_resource_desc *d),
                                    void *ud, nr_error *err);

/*
 * Call fn once per tenant pool of the tenant-partitioned resource id, in the
 * order the tenants first acquired, with the tenant id and that pool's
 * statistics, until fn returns non-zero (returned as it is, as above). A
 * resource no tenant has used yet calls fn never and returns NR_OK.
 * NR_EINVAL (m, id or fn NULL; or the resource is not tenant-partitioned,
 * which err says naming it), NR_ENOTFOUND (id is not registered),
 * NR_ENOMEM; on any error fn is never called.
 *
 * The rows are a snapshot taken at the call (tenant ids and statistics are
 * copied; tenant and st are valid during the callback only): tenants that
 * first acquire while the walk runs are not in it.
 *
 * Thread safety: as nr_manager_each_resource; fn runs on the calling thread
 * with no manager or pool lock held and may call any manager function but
 * nr_manager_destroy, nr_manager_unregister of id included.
 */
NR_API int nr_manager_each_tenant(nr_manager *m, const char *id,
                                  int (*fn)(void *ud, const char *tenant, const nr_pool_stats *st),
                                  void *ud, nr_error *err);

/* ---- resource groups ------------------------------------------------------------------
 *
 * A group names 1..NR_GROUP_MEMBERS_MAX registered resources that can stand in
 * for each other (a primary and its read replicas, one cache per region). A
 * group acquire goes to the healthiest member (docs/health.md, "Groups"):
 *
 *   1. members that cannot serve now are skipped: not running (not started,
 *      failed, stopping), quarantined or held, half-open with no trial
 *      acquire left, unhealthy, or degraded by a dependency with
 *      on_dependency_failure = NR_DEP_FAIL;
 *   2. the others by health as nr_resource_info.health says it: healthy, then
 *      unknown (no round judged it yet), then degraded (its own or by a
 *      cascade);
 *   3. ties by fewest instances in use (its pools' statistics, summed),
 *   4. then by the order the group lists them.
 *
 * The first candidate is acquired as nr_manager_acquire acquires it (the
 * caller's ctx, its scope included, passed through). When that fails at once
 * (any code but NR_ETIMEDOUT, NR_ECANCELED, NR_ESHUTDOWN), the next candidate
 * is tried, within the same ctx deadline. No manager lock is held across an
 * acquire; the choice reads atomics and takes each member's lock only
 * briefly, so it never waits for a health round.
 *
 * max_quarantine_percent: a member is never quarantined when that would make
 * more than this share of the group's members quarantined (ON, HELD or
 * HALF_OPEN) at once; with a resource in several groups every group's limit
 * holds. A member kept out of quarantine stays unhealthy (its acquires fail
 * as an unhealthy resource's do); its quarantine is tried again at its next
 * bad round. Each refusal publishes NR_EV_QUARANTINE_REFUSED and counts in
 * nr_quarantine_refused_total.
 *
 * Lifetime: groups can be registered at any time between nr_manager_create
 * and shutdown, also after start (members in any state, also quarantined
 * ones: the limit applies to quarantines after that). A group lives as long
 * as the manager (there is no unregister of a group yet), and a resource that
 * is a member of a group cannot be unregistered (NR_EBUSY names the group).
 */

#define NR_GROUP_MEMBERS_MAX                    32
#define NR_GROUP_MAX_QUARANTINE_PERCENT_DEFAULT 50 /* at most half of a group out */

typedef struct nr_group_spec {
    size_t size;                /* sizeof(nr_group_spec) as the caller was built: the caller sets it
                                   (NR_GROUP_SPEC_INIT, docs/ABI.md) */
    const char *name;           /* a resource id's rules; must not be a resource's id */
    const char *const *members; /* ids of registered resources, each once; read during
                                   the call only */
    size_t nmembers;            /* 1..NR_GROUP_MEMBERS_MAX */
    uint32_t max_quarantine_percent; /* 0..100; 100 = no limit, 0 = none quarantined;
                                        nr_group_spec_default sets 50 */
} nr_group_spec;

/* Initialisers that set size: `nr_group_spec o = NR_GROUP_SPEC_INIT;`, or with fields:
 * `nr_group_spec o = NR_GROUP_SPEC(.field = value, ...);` (C only: C++ sets o.size). */
#define NR_GROUP_SPEC(...)                                                                         \
    {                                                                                              \
        .size = sizeof(nr_group_spec), __VA_ARGS__                                                 \
    }
#define NR_GROUP_SPEC_INIT NR_GROUP_SPEC()

/* name and members NULL, max_quarantine_percent = 10. */
NR_API void nr_group_spec_default(nr_group_spec *s);

/*
 * Register a group (everything copied). NR_EINVAL (bad name, no or too many
 * members, a member listed twice, percent over 100, a member that is not
 * registered: err names the group, the field and the rule), NR_EEXIST (a
 * group or a resource already has the name), NR_ESHUTDOWN, NR_ENOMEM.
 * Thread safety: any thread, any time before shutdown.
 */
NR_API int nr_manager_register_group(nr_manager *m, const nr_group_spec *spec, nr_error *err);

/* Which member served a group acquire. */
typedef struct nr_group_choice {
    char member[NR_ERROR_ID_MAX]; /* its id */
    uint32_t index;               /* its place in the group's member list */
    nr_health_state health;       /* its health when it was chosen */
    uint32_t tried;               /* candidates before it whose acquire failed at once */
} nr_group_choice;

/*
 * Lease an instance of the healthiest member of group `group` (above) for a
 * caller in ctx (NULL = Global caller, defaults). choice may be NULL. Release
 * the guard as any other. NR_ENOTFOUND (no such group); NR_EUNAVAIL when no
 * member can serve, err saying why for each member in order:
 *   "group replicas: no member can serve: replica-a quarantined until
 *    12:00:03 (attempt 2 of 8): connection refused; replica-b unhealthy: ..."
 * (cut with "..." and err->truncated when it does not fit; nr_manager_group_info
 * has every reason in full); NR_ETIMEDOUT / NR_ECANCELED when a member's
 * acquire ran to the deadline or was canceled (no other member is tried then,
 * err names the group and the member); NR_ESHUTDOWN.
 * Thread safety: any thread.
 */
NR_API int nr_manager_acquire_group(nr_manager *m, const char *group, const nr_ctx *ctx,
                                    nr_guard *out, nr_group_choice *choice, nr_error *err);

typedef struct nr_group_member_info {
    char id[NR_ERROR_ID_MAX];
    nr_health_state health;            /* as nr_resource_info.health */
    nr_quarantine_state quarantine;    /* as nr_resource_info.quarantine */
    uint32_t in_use;                   /* instances leased, over its pools */
    bool can_serve;                    /* a candidate of a group acquire now */
    char reason[NR_ERROR_MESSAGE_MAX]; /* why it cannot serve; "" when it can */
    uint64_t served;                   /* group acquires of this group it served */
} nr_group_member_info;

typedef struct nr_group_info {
    char name[NR_ERROR_ID_MAX];
    uint32_t max_quarantine_percent;
    uint32_t quarantined; /* members in quarantine (ON, HELD, HALF_OPEN) now */
    int pick;             /* the member a group acquire would try first now; -1: none */
    uint32_t nmembers;
    nr_group_member_info members[NR_GROUP_MEMBERS_MAX]; /* in the group's order */
} nr_group_info;

/* Describe group `name` now (a snapshot). NR_EINVAL (an argument NULL),
 * NR_ENOTFOUND. Thread safety: any thread. */
NR_API int nr_manager_group_info(nr_manager *m, const char *name, nr_group_info *out,
                                 nr_error *err);

/* Number of registered groups. */
NR_API size_t nr_manager_group_count(nr_manager *m);

/*
 * Call fn once per group, in registration order, with its description (as
 * nr_manager_group_info gives it; valid during the call only), until fn
 * returns non-zero (returned as it is). NR_OK; NR_EINVAL (m or fn NULL).
 * Thread safety: any thread; fn runs with no manager lock held and may call
 * any manager function but nr_manager_destroy.
 */
NR_API int nr_manager_each_group(nr_manager *m, int (*fn)(void *ud, const nr_group_info *g),
                                 void *ud, nr_error *err);

/*
 * Run one maintenance round and one health round now, on the calling thread
 * (what the background tasks do periodically). For tests and for programs
 * that want control over timing.
 *
 * Once nr_manager_shutdown has begun, a round (this one or a background one)
 * stops at its next step: it looks at the manager's closing token, which
 * shutdown sets first, before each resource, before each pool's maintenance
 * or check and before a probe, and the probe acquire carries it as its
 * ctx->cancel. A round cut short changes no health state. A driver callback
 * already running is not interrupted (a health check is given only its
 * deadline, health_timeout_ms), so shutdown waits for a running round at most
 * as long as that one callback takes.
 */
NR_API void nr_manager_tick(nr_manager *m);

/*
 * Fetch credential ref again and give it to every resource that uses it:
 * their new instances use the new secret and instances built with the old
 * one are retired once given back. NR_ENOTFOUND when no resource uses ref;
 * the provider's code when the fetch fails (nothing changes then).
 */
NR_API int nr_manager_rotate_credential(nr_manager *m, const char *ref, nr_error *err);

/*
 * Fetch credential ref again and rotate it only into the resources whose
 * secret differs from the one fetched (as nr_manager_rotate_credential
 * does for them); the others keep their instances. *changed (may be NULL)
 * gets how many resources got the new secret. Codes as
 * nr_manager_rotate_credential. For a program that re-reads its
 * credentials (nebula-resource run, on reload) without churning the
 * connections of those that did not change.
 */
NR_API int nr_manager_reread_credential(nr_manager *m, const char *ref, uint32_t *changed,
                                        nr_error *err);

/*
 * Operator controls by resource id, applied to the resource's pool, or to
 * every tenant pool of a partitioned one (and, for resize and suspend, to
 * tenant pools made later). See nebula/pool.h for what each does.
 * NR_ENOTFOUND for an unknown id; resize: NR_ECONFIG naming the field.
 * Thread safety: any thread, any time between start and shutdown.
 */
NR_API int nr_manager_resize(nr_manager *m, const char *id, int64_t min_idle, int64_t max_size,
                             nr_error *err);
NR_API int nr_manager_suspend(nr_manager *m, const char *id, nr_error *err);
/* Release a quarantined resource into half-open (its trial acquires; the next
 * health round decides). NR_ENOTFOUND; NR_ESTATE when it is not quarantined. */
NR_API int nr_manager_release_quarantine(nr_manager *m, const char *id, nr_error *err);
NR_API int nr_manager_resume(nr_manager *m, const char *id, nr_error *err);
/* *evicted (may be NULL) gets how many idle instances went at once. */
NR_API int nr_manager_evict_all(nr_manager *m, const char *id, uint32_t *evicted, nr_error *err);

typedef struct nr_shutdown_options {
    size_t size; /* sizeof(nr_shutdown_options) as the caller was built: the caller sets it
                    (NR_SHUTDOWN_OPTIONS_INIT, docs/ABI.md) */
    int64_t drain_timeout_ms;   /* wait for leases; default 30000 */
    int64_t cleanup_timeout_ms; /* destroy idle instances; default 10000 */
} nr_shutdown_options;

/* Initialisers that set size: `nr_shutdown_options o = NR_SHUTDOWN_OPTIONS_INIT;`, or with fields:
 * `nr_shutdown_options o = NR_SHUTDOWN_OPTIONS(.field = value, ...);` (C only: C++ sets o.size). */
#define NR_SHUTDOWN_OPTIONS(...)                                                                   \
    {                                                                                              \
        .size = sizeof(nr_shutdown_options), __VA_ARGS__                                           \
    }
#define NR_SHUTDOWN_OPTIONS_INIT NR_SHUTDOWN_OPTIONS()

NR_API void nr_shutdown_options_default(nr_shutdown_options *o);

#define NR_SHUTDOWN_LEFTOVERS_MAX 32

typedef struct nr_shutdown_leftover {
    char id[NR_ERROR_ID_MAX];
    uint32_t leases;         /* still out at terminate */
    int64_t oldest_lease_ns; /* how long the oldest has been held */
} nr_shutdown_leftover;

typedef struct nr_shutdown_report {
    size_t size; /* sizeof(nr_shutdown_report) as the caller was built: the caller sets it
                    (NR_SHUTDOWN_REPORT_INIT, docs/ABI.md) */
    int64_t drain_ns, cleanup_ns, total_ns;
    bool drain_timed_out, cleanup_timed_out;
    uint32_t destroyed; /* instances destroyed during cleanup */
    size_t nleftovers;  /* resources with leases still out */
    nr_shutdown_leftover leftovers[NR_SHUTDOWN_LEFTOVERS_MAX];
} nr_shutdown_report;

/* Initialisers that set size: `nr_shutdown_report r = NR_SHUTDOWN_REPORT_INIT;`, or with fields:
 * `nr_shutdown_report r = NR_SHUTDOWN_REPORT(.field = value, ...);` (C only: C++ writes
 * nebula::sized<nr_shutdown_report>()). */
#define NR_SHUTDOWN_REPORT(...)                                                                    \
    {                                                                                              \
        .size = sizeof(nr_shutdown_report), __VA_ARGS__                                            \
    }
#define NR_SHUTDOWN_REPORT_INIT NR_SHUTDOWN_REPORT()

/*
 * Phased graceful shutdown; see the top of this file. opts and report may
 * be NULL. report is written up to report->size (NR_SHUTDOWN_REPORT_INIT,
 * docs/ABI.md); a report size of 0 or one larger than this library's is
 * NR_EINVAL before anything is shut down, and nothing is written. Returns NR_OK when everything was
 * given back and destroyed, NR_ETIMEDOUT when a phase ran out of time (err and the report name what
 * is still out). A second call returns NR_OK at once. Leases given back after shutdown destroy
 * their instance. Called while a start (nr_manager_start, or a register after it) runs, it makes
 * that start stop before its next create and waits for it to put back what it started (at most the
 * create running then), then shuts down as usual.
 */
NR_API int nr_manager_shutdown(nr_manager *m, const nr_shutdown_options *opts,
                               nr_shutdown_report *report, nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
