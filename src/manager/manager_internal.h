/*
 * manager_internal.h - the manager's data structures, shared by src/manager/manager*.c.
 *
 * Locking:
 *   m->lock (rwlock)   the registry: the id map, the entry list, entry->level.
 *                      Look-ups take it for reading; register/unregister for writing.
 *   m->mu              the phase, the count of starts running and the
 *                      background tasks. Held only for those
 *                      fields: never across a driver callback or a wait for a
 *                      lease. A start (the manager's, or a resource's
 *                      registered after it) counts itself in m->starts under
 *                      it, runs with it released, and signals m->start_cv
 *                      when done; register and unregister wait out the
 *                      manager's start (phase STARTING) on that condition,
 *                      and shutdown waits for every start to end after it has
 *                      set m->closing, which the starts look at before each
 *                      create.
 *   e->mu              an entry's pools, tenant list, credential, health
 *                      fields and last error.
 *   m->cascade_mu      one cascade update (manager_cascade.c) at a time.
 *   m->group_q_mu      a grouped resource's move into quarantine; group register.
 *   e->refresh_mu      one credential refresh of e at a time (manager_credential.c):
 *                      held across the provider's fetch (a user callback: the one
 *                      exception below) and the hand-over of the new secret to e
 *                      and its pools; never taken with m->lock or e->mu held.
 * Order: m->mu before e->refresh_mu before m->cascade_mu before m->group_q_mu
 * before m->lock before e->mu before any pool lock. No driver callback runs
 * under any of them, and no user callback but the provider's fetch under
 * e->refresh_mu (which serialises nothing but refreshes of e): pools are
 * created under e->mu (that calls no callback) but filled, probed, checked,
 * closed and destroyed outside it.
 *
 * Entry lifetime: an entry is freed by unregister (after `refs` fell to 0)
 * or by nr_manager_destroy. Whoever uses an entry outside m->lock holds a
 * reference (refs, acq_rel on the decrement, relaxed increments under the
 * read lock).
 */
#ifndef NR_MANAGER_INTERNAL_H
#define NR_MANAGER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "manager/runtime.h"
#include "nebula/manager.h"

/* FNV-1a of an id: the hash of the manager's registry and of a resource's
 * tenant index. */
static inline uint64_t nr__id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* A tenant's pool (on e->tenants and in e's tenant index), or a pool set
 * aside (on e->draining: only tenant, pool, next and evicted are used). */
typedef struct nr__tenant_pool {
    char tenant[NR_SCOPE_ID_MAX];
    nr_pool *pool;
    struct nr__tenant_pool *next;  /* e->tenants (newest first) or e->draining */
    struct nr__tenant_pool *prev;  /* e->tenants */
    struct nr__tenant_pool *hnext; /* the index bucket's chain */
    uint64_t hash;
    uint64_t uses;      /* [e->mu] acquires that found it */
    uint64_t seen_uses; /* [e->mu] uses at the last eviction round */
    int64_t active_ns;  /* [e->mu] manager clock when a round last saw uses change */
    bool evicted;       /* on e->draining: removed for being unused; its metric
                           series go when it is freed (unless the tenant has a
                           pool again by then) */
} nr__tenant_pool;

/* A config a reload replaced, kept while the pools made with it drain. */
typedef struct nr__old_config {
    void *config;               /* owned: freed with the type's schema */
    nr__tenant_pool *pool_node; /* scratch for the reload that makes it */
    struct nr__old_config *next;
} nr__old_config;

typedef struct nr__entry {
    char id[NR_ERROR_ID_MAX];
    const nr_resource_type *type;
    void *type_ud;
    void *config; /* owned copy (nr_config_copy) */
    nr_pool_config pool_cfg;
    nr_scope scope;
    nr_partition partition;
    char **deps;
    size_t ndeps;
    char *cred_ref;
    uint32_t level;               /* [lock] start batch; shutdown goes from the highest down */
    nr_health_pipeline *pipeline; /* [mu] made at register, replaced by a reload of the
                                     health settings (nr__entry_pipeline); its rounds run
                                     with no manager lock held, one at a time (a second
                                     one at once is skipped) */
    struct nr__old_pipeline *old_pipelines; /* [mu] replaced ones: freed by nr__reap once
                                               no call inside e can hold them, or with e */
    nr_health_config health_cfg; /* [reload_mu] the pipeline's config, for reload to compare */
    size_t nhealth_stages;       /* [reload_mu] the program's own stages it was given */
    struct {
        char name[NR_HEALTH_STAGE_NAME_MAX];
        nr_health_stage_fn fn;
        void *ud;
    } health_stages[NR_RESOURCE_HEALTH_STAGES_MAX]; /* [reload_mu] them, to compare */
    pthread_mutex_t reload_mu;                      /* one nr_manager_reload of e at a time */
    _Atomic uint64_t generation; /* bumped (under mu) when a reload swaps its pools */
    nr__old_config *old_configs; /* [mu] configs the draining pools still borrow */
    /* autoscaling (manager_autoscale.c), all [mu] */
    nr_autoscale_policy as_policy;
    int64_t as_above_ns, as_below_ns; /* since when past a watermark; 0: not */
    int64_t as_last_ns;               /* the last decision (manager clock); 0: none */
    nr_autoscale_state as_state;

    _Atomic long refs;  /* users outside m->lock */
    _Atomic int state;  /* nr_resource_state; written under e->mu, read anywhere (relaxed) */
    _Atomic int health; /* nr_health_state; same */

    pthread_mutex_t mu;
    nr_secret *cred;                 /* [mu] current credential */
    int64_t cred_expires_ms;         /* [mu] when cred stops being valid (wall ms); 0: never */
    uint64_t cred_attempts;          /* [mu] refreshes tried (manager_credential.c) */
    int cred_refresh_rc;             /* [mu] the last refresh's outcome */
    nr_error cred_refresh_err;       /* [mu] its error, when it failed */
    pthread_mutex_t refresh_mu;      /* one refresh of this entry at a time (see the top) */
    nr_pool *pool;                   /* [mu] NR_PARTITION_NONE: the pool, NULL until started */
    nr_pool *warming;                /* [mu] the pool a start is warming up (not yet `pool`):
                                        a credential refresh during the warm-up reaches it */
    nr__tenant_pool *tenants;        /* [mu] NR_PARTITION_TENANT (manager_tenants.c) */
    nr__tenant_pool **tslots;        /* [mu] the tenant index: chained buckets by hash */
    uint32_t tnslots;                /* [mu] a power of two, or 0 before the first tenant */
    nr_tenant_policy tn_policy;      /* [mu] */
    uint64_t tn_evicted, tn_refused; /* [mu] */
    struct nr__budget *budget;       /* [const after register] max_total's shared places
                                        (src/pool/pool_budget.c); NULL when not partitioned */
    struct nr_budget *shared;        /* [const after register] spec->budget: the pool's
                                        places shared with others (nebula/budget.h); NULL
                                        = none */
    nr__tenant_pool *draining;       /* [mu] closed pools with leases still out (a start
                                        that failed stopped them, a reload replaced
                                        them): destroyed once those are back and no
                                        call that could see them is inside e (nr__reap,
                                        nr_manager_destroy) */
    uint32_t ntenants;               /* [mu] */
    char health_reason[NR_HEALTH_REASON_MAX]; /* [mu] */
    uint32_t fails, succs;                    /* [mu] consecutive rounds */
    int maint_failed;                         /* [mu] last maintenance could not create */
    char maint_reason[NR_HEALTH_REASON_MAX];  /* [mu] */
    nr_error last_error;                      /* [mu] */
    int suspended;                            /* [mu] nr_manager_suspend: new tenant
                                                 pools start suspended too */
    _Atomic int dep_policy;                   /* nr_dep_policy: what acquires do in a cascade;
                                                 written under mu (reload), read anywhere
                                                 (relaxed) */
    _Atomic int dep_degraded;                 /* degraded by an unhealthy dependency; written
                                                 under mu, read anywhere (relaxed) */
    char dep_root[NR_ERROR_ID_MAX];           /* [mu] that dependency */
    char dep_reason[NR_HEALTH_REASON_MAX];    /* [mu] "depends on ROOT (unhealthy: ...)" */
    uint32_t degrades;                        /* [m->cascade_mu] dependents it degrades */
    size_t cascade_idx;                       /* [m->cascade_mu] its place in an update */
    /* quarantine (manager_quarantine.c) */
    _Atomic int q_state;                 /* nr_quarantine_state; written under mu */
    _Atomic long q_trials;               /* half-open acquires left */
    uint32_t q_attempt;                  /* [mu] the probe it waits for, 1-based */
    int64_t q_due_ns;                    /* [mu] when that probe is due (monotonic) */
    int64_t q_due_wall_ms;               /* [mu] the same on the wall clock */
    char q_reason[NR_HEALTH_REASON_MAX]; /* [mu] why it was quarantined */
    uint64_t q_rng;                      /* [mu] the jitter's state */
    struct nr__entry *retired_next;      /* [m->retired_mu] on m->retired */
    uint32_t retired_leases;             /* [m->retired_mu] leases out when it was retired */
    /* groups (manager_group.c) */
    _Atomic uint32_t ngroups;   /* groups it is in; written under m->lock (write) and
                                   m->group_q_mu, read anywhere (relaxed) */
    _Atomic uint64_t q_refused; /* quarantines a group's limit refused (relaxed counter) */
} nr__entry;

/* A resource group: immutable once registered, freed with the manager. */
typedef struct nr__group {
    char name[NR_ERROR_ID_MAX];
    uint32_t pct;             /* max_quarantine_percent */
    size_t n;                 /* members */
    nr__entry **members;      /* [const] registered entries; none can be unregistered
                                 while it is a member (ngroups > 0) */
    _Atomic uint64_t *served; /* per member: group acquires it served (relaxed counters) */
} nr__group;

/* In this order: "phase >= NR__PHASE_STOPPING" means shutting down. */
enum {
    NR__PHASE_CREATED,  /* not started (or a start failed) */
    NR__PHASE_STARTING, /* nr_manager_start runs (without m->mu) */
    NR__PHASE_STARTED,
    NR__PHASE_STOPPING,
    NR__PHASE_STOPPED
};

struct nr_manager {
    nr_manager_options opts;
    nr__runtime *rt;
    nr_executor executor; /* the runtime, as pools see it */
    nr__runtime *crt;     /* the creators: runs every pool's creates, and nothing else */
    nr_executor creators; /* crt, as pools see it */
    pthread_mutex_t mu;
    pthread_cond_t start_cv; /* [mu] signalled when a start ends */
    uint32_t starts;         /* [mu] starts running without mu (see the top) */
    pthread_rwlock_t lock;
    _Atomic int phase;  /* NR__PHASE_*; written under mu, read anywhere (acquire) */
    nr_cancel *closing; /* constant; set by shutdown just before phase becomes STOPPING, so
                           whoever reads phase >= STOPPING (acquire) sees it set.
                           Background rounds look at it between steps; their probe
                           acquires carry it */

    /* [lock] id -> entry, open addressing with linear probing */
    nr__entry **slots;
    size_t nslots; /* power of two */
    /* [lock] entries in registration order */
    nr__entry **list;
    size_t count, cap;

    nr__task *maint_task, *health_task; /* [mu] */
    nr__entry *retired;                 /* [retired_mu] unregistered with leases still
                                           out: freed by nr__reap once they are back */
    struct nr__kept_pool *kept;         /* [retired_mu] pools the reaper destroyed whose memory
                                           it keeps for NR__POOL_KEEP_NS (pool_kept.h) */
    pthread_mutex_t retired_mu;         /* m->retired and m->kept; taken with no other lock held
                                           (a maintenance round takes it, and shutdown
                                           waits for a round while it holds mu) */
    pthread_mutex_t cascade_mu;         /* one cascade update at a time; taken with no other
                                           lock held, then m->lock and e->mu inside it */
    /* [lock] groups in registration order */
    nr__group **groups;
    size_t ngroups, gcap;
    pthread_mutex_t group_q_mu; /* a grouped resource's move into quarantine and a group's
                                   registration, one at a time, so that no two members
                                   pass a group's limit together; then m->lock, e->mu */
};

/* ---- options (manager_options.c) ---- */
/* Check o against the rules (NR_EINVAL naming the option), filling what an
 * older caller left 0. */
int nr__manager_options_check(nr_manager_options *o, nr_error *err);

/* ---- registry (registry.c), all [lock] ---- */
nr__entry *nr__reg_find(const nr_manager *m, const char *id);
/* Find id under the registry lock and take a reference (nr__entry_put), or
 * NULL with NR_ENOTFOUND in err. */
nr__entry *nr__entry_find_ref(nr_manager *m, const char *id, nr_error *err);
int nr__reg_insert(nr_manager *m, nr__entry *e); /* NR_ENOMEM */
void nr__reg_remove(nr_manager *m, nr__entry *e);
void nr__reg_free(nr_manager *m);

/* ---- entries (manager.c) ---- */
/* Check a spec as register does and build its entry (not registered). */
int nr__entry_from_spec(const nr_resource_spec *spec, nr__entry **out, nr_error *err);
/* The rule of a resource id (also a group's name): NR_EINVAL saying which. */
int nr__check_id(const char *id, nr_error *err);
void nr__entry_put(nr__entry *e);

/* nr_manager_acquire's checks before it reaches a pool (the manager's
 * phase, the id, scope, state, quarantine, health, dependencies): NR_OK
 * with *e referenced (nr__entry_put) and *caller the caller's scope (ctx's,
 * or *global filled with the Global scope), or an error with err. */
int nr__manager_admit(nr_manager *m, const char *id, const nr_ctx *ctx, nr__entry **e,
                      const nr_scope **caller, nr_scope *global, nr_error *err);
/* The pool of e that serves caller (its tenant's, for a partitioned one). */
nr_pool *nr__manager_pool_for(nr_manager *m, nr__entry *e, const nr_scope *caller, int *rc,
                              nr_error *err);
void nr__entry_free(nr__entry *e);
void nr__entry_set_error(nr__entry *e, const nr_error *err);
/* The registered entries (only the running ones when asked), each with a
 * reference, as an nr_malloc'd array; *max_level (may be NULL) gets the
 * highest start level among them. Returns how many (0 also when memory ran
 * out). Give them back with nr__entries_put. */
size_t nr__entries_snapshot(nr_manager *m, int only_running, nr__entry ***out, uint32_t *max_level);
void nr__entries_put(nr__entry **list, size_t n);
/* Close and destroy e's pools, the draining ones too; NR_EBUSY (and e keeps
 * the rest) when one still has leases out. Only when nobody else uses e. */
int nr__entry_destroy_pools(nr__entry *e);
/* Destroy what waited for its leases and has them back: the draining pools
 * of registered entries, and the entries unregister gave up waiting for
 * (their metric series go with them). Run by every maintenance round.
 * [no lock held; takes m->retired_mu and m->lock briefly] */
void nr__reap(nr_manager *m);
/* Free every kept pool (nr_manager_destroy: nobody gives anything back any
 * more). */
void nr__kept_free_all(nr_manager *m);
/* Put a list of closed pools on e->draining. [e->mu] */
void nr__draining_add_locked(nr__entry *e, nr__tenant_pool *list);
/* Wait until no manager start runs (phase not STARTING). [m->mu held] */
void nr__wait_not_starting(nr_manager *m);
/* Every pool of e, taken under e->mu, as an nr_malloc'd array (free it with
 * nr_free) with *n entries; NULL with *n = 0 when e has no pool, or when
 * memory ran out (then *n is 0 too and the caller does without). Pools stay
 * valid while the caller holds a reference on e. */
nr_pool **nr__entry_pools(nr__entry *e, size_t *n);

/* ---- credentials (manager_credential.c) ---- */
/* Fetch ref from the manager's provider and ask when it expires: *out (the
 * caller frees it) and *expires_ms (0: never). NR_ECRED (no provider, no
 * secret, an expired one, the provider's expiry failed) or the provider's
 * code, with a message naming id (may be NULL) and ref, never the value.
 * [no lock held: calls the provider] */
int nr__credential_fetch(nr_manager *m, const char *id, const char *ref, nr_secret **out,
                         int64_t *expires_ms, nr_error *err);

/* ---- health pipelines (manager_pipeline.c) ---- */
/* Check spec->health (NULL: the default) against the built-in stages and the
 * spec's own: NR_ECONFIG naming the resource, the field and the rule;
 * NR_EINVAL for a NULL or too long health_stages. rep is scratch. */
int nr__health_spec_check(const nr_resource_spec *spec, nr_config_report *rep, nr_error *err);
/* Make e->pipeline from spec->health (copied) and spec's own stages. */
int nr__entry_pipeline_make(const nr_resource_spec *spec, nr__entry *e, nr_error *err);
/* Keep spec's own stages (names copied) in e, for a reload to compare. */
void nr__entry_stages_keep(nr__entry *e, const nr_resource_spec *spec);
/* Whether spec's own stages are those e keeps. */
bool nr__entry_stages_same(const nr__entry *e, const nr_resource_spec *spec);
/* A pipeline for e from spec, not yet e's. */
int nr__pipeline_make(const nr_resource_spec *spec, const nr__entry *e, nr_health_pipeline **out,
                      nr_error *err);
/* e's pipeline now; valid while the caller holds a reference on e. [no lock held] */
nr_health_pipeline *nr__entry_pipeline(nr__entry *e);
/* Make pl e's pipeline; the old one waits for nr__reap. [e->mu] */
void nr__entry_pipeline_swap_locked(nr__entry *e, nr_health_pipeline *pl);
/* Free the replaced pipelines. [e->mu, or nobody else uses e] */
void nr__entry_old_pipelines_free_locked(nr__entry *e);

/* ---- start (manager_start.c) ---- */
/* Bring one entry up: credential, pool(s), verification. cancel (may be
 * NULL) and m->closing are looked at before it begins and before each
 * create; when one cuts the start short, NR_ECANCELED (the token) or
 * NR_ESHUTDOWN (shutdown) comes back, nothing of e is left and e is
 * registered again (not failed). When e was unregistered meanwhile (its
 * state is stopping), its pool is left on it for the unregister and
 * NR_ESHUTDOWN comes back. [no locks held] */
int nr__entry_start(nr_manager *m, nr__entry *e, nr_deadline deadline, const nr_cancel *cancel,
                    nr_error *err);
/* Stop e again after a start that failed or was canceled: close its pools
 * (new acquires fail, idle instances go), wait for the callers inside an
 * acquire of e, destroy the pools. A pool with leases out is not waited for:
 * it moves to e->draining, its instances are destroyed as they come back and
 * nr__reap frees it. e is stopped, with no pool in use (a later start begins
 * afresh). [no lock held] */
void nr__entry_stop_now(nr_manager *m, nr__entry *e);

/* ---- tenants (manager_tenants.c) ---- */
/* The pool of tenant in e (a tenant-partitioned resource), made on the
 * tenant's first acquire; NULL with *rc and err filled (NR_ESHUTDOWN when
 * e is stopping, NR_EEXHAUSTED past max_tenants, the pool's error).
 * [e->refs held, no lock held] */
nr_pool *nr__tenant_pool_for(nr_manager *m, nr__entry *e, const char *tenant, int *rc,
                             nr_error *err);
/* Take every tenant pool out of e's list and index, oldest last, for the
 * caller to close or destroy. [e->mu] */
nr__tenant_pool *nr__tenants_take_all_locked(nr__entry *e);
/* Take t out of e's list and index. [e->mu] */
void nr__tenant_unlink_locked(nr__entry *e, nr__tenant_pool *t);
/* After a maintenance round: close the tenant pools unused for the idle
 * timeout (no lease out) and set them aside for nr__reap. [no lock held] */
void nr__tenants_evict_round(nr_manager *m, nr__entry *e);
/* nr__reap freed an evicted pool of tenant: remove its metric series unless
 * the tenant has a pool again. [no lock held] */
void nr__tenant_forget(nr_manager *m, nr__entry *e, const char *tenant);
/* spec's tenant policy (NULL: the defaults) into *out, checked against
 * nr_tenant_schema; a resource not partitioned by tenant may only have the
 * defaults. NR_ECONFIG naming the resource, "$.tenants.FIELD" and the rule.
 * rep is scratch. */
int nr__tenant_policy_check(const nr_resource_spec *spec, nr_tenant_policy *out,
                            nr_config_report *rep, nr_error *err);
/* Free e's tenant index. [nobody else uses e] */
void nr__tenants_free_index(nr__entry *e);

/* ---- autoscaling (manager_autoscale.c) ---- */
/* One evaluation of e's policy, after its maintenance. [no lock held] */
void nr__autoscale_round(nr_manager *m, nr__entry *e);
/* The manager's clock (nr_manager_options.clock, or nr_now_ns). */
int64_t nr__manager_now(const nr_manager *m);

/* ---- background (manager_health.c) ---- */
/* Whether shutdown has begun: rounds stop at the next step. [any thread] */
static inline bool nr__manager_closing(const nr_manager *m)
{
    return nr_cancel_is_set(m->closing); /* acquire: see nr_cancel_is_set */
}

int nr__manager_schedule(nr_manager *m, nr_error *err);
void nr__manager_unschedule(nr_manager *m);
void nr__entry_maintain(nr_manager *m, nr__entry *e);
void nr__entry_health_round(nr_manager *m, nr__entry *e);

/* ---- health along the graph (manager_cascade.c) ---- */
/* After a health round: every resource that depends, directly or through
 * others, on an unhealthy one is degraded by it, and recovers with it.
 * Publishes CascadeDetected and the dependents' HealthChanged. [takes
 * m->cascade_mu; no other lock held] */
void nr__cascade_update(nr_manager *m);
/* What acquires see of e: its own health, made degraded by a cascade.
 * [any thread, no lock] */
nr_health_state nr__effective_health(const nr__entry *e);

/* ---- quarantine (manager_quarantine.c) ---- */
/* Whether e's health round is to be skipped now: quarantined with its probe
 * not due, or held for an operator. [no lock held] */
int nr__quarantine_skip(nr_manager *m, nr__entry *e);
/* After a judged round (bad: it failed; else it passed): quarantine, back off,
 * half-open, back in service; publishes the events. [no lock held] */
void nr__quarantine_after_round(nr_manager *m, nr__entry *e, int bad, const char *reason);
/* For an acquire: NR_OK (in service, or a half-open trial: *trial = 1) or
 * NR_EUNAVAIL naming until when, the attempt and why. [no lock held] */
int nr__quarantine_admit(nr_manager *m, nr__entry *e, int *trial, nr_error *err);

/* What an acquire of e would meet in quarantine, without taking a trial:
 * 1 when it would be let in (in service, or half-open with a trial left);
 * else 0 with the text ("quarantined until 12:00:03 (attempt 2 of 8): ...").
 * [no lock held] */
int nr__quarantine_peek(nr_manager *m, nr__entry *e, char *text, size_t len);

/* ---- groups (manager_group.c) ---- */
/* Whether e may be quarantined now under the limit of every group it is in;
 * when not, *count and why get the first group whose limit holds it back.
 * [m->group_q_mu held; takes m->lock for reading] */
int nr__groups_allow_quarantine(nr_manager *m, nr__entry *e, uint32_t *count, char *why,
                                size_t len);
/* "'a', 'b'" of the groups e is in, into buf. [lock] */
void nr__groups_of(const nr_manager *m, const nr__entry *e, char *buf, size_t len);
/* Free every group. [destroy: nobody else inside the manager] */
void nr__groups_free(nr_manager *m);
int nr__group_metrics_setup(nr_manager *m, nr_error *err);
void nr__group_metrics_teardown(nr_manager *m);

/* ---- observability (manager_observe.c) ---- */
/* Register the manager's metric families and collector. [create] */
int nr__metrics_setup(nr_manager *m, nr_error *err);
void nr__metrics_teardown(nr_manager *m);
/* The histogram series of e for a pool in scope (both NULL when metrics are off). */
void nr__entry_histograms(nr_manager *m, nr__entry *e, const nr_scope *scope, nr_histogram **wait,
                          nr_histogram **health);
/* Remove the series of every family of the manager labelled resource=id,
 * when no registered entry has that id (a new one would share them).
 * [no pool of a former id still holds its histograms; takes m->lock] */
void nr__metrics_forget(nr_manager *m, const char *id);
/* Remove the series labelled resource=id and scope=scope's text (a tenant
 * pool that is gone). [no pool of that tenant holds its histograms] */
void nr__metrics_forget_scope(nr_manager *m, const char *id, const nr_scope *scope);
/* Publish one of the manager's own events (REGISTERED, UNREGISTERED,
 * SHUTDOWN_PHASE): id may be NULL, text may be NULL. [no locks] */
void nr__manager_event(nr_manager *m, nr_event_type type, const char *id, const nr_scope *scope,
                       int64_t count, int64_t wait_ns, const char *text);
/* Publish a HealthChanged event for e. [no locks] */
void nr__health_event(nr_manager *m, nr__entry *e, nr_health_state old, nr_health_state now,
                      const char *reason);

/* Run fn(arg) for every argument in parallel on the runtime (inline when it
 * refuses) and wait for all of them. */
void nr__run_all(nr_manager *m, void (*fn)(void *), void **args, size_t n);

#endif
