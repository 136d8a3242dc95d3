/*
 * manager.c - creating the manager, registering resources, acquiring by id,
 * describing resources, the provider port.
 */
#define _POSIX_C_SOURCE 200809L
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "base/abi.h"
#include "manager/manager_internal.h"
#include "pool/pool_budget.h"
#include "nebula/budget.h"
#include "observe/span.h"
#include "nebula/alloc.h"
#include "nebula/id.h"

const char *nr_resource_state_name(nr_resource_state s)
{
    static const char *const names[] = {"registered",        "starting", "running", "failed",
                                        "dependency-failed", "stopping", "stopped"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "invalid";
}

static int runtime_submit(void *ud, void (*fn)(void *), void *arg)
{
    return nr__runtime_submit(ud, fn, arg, NULL) == NR_OK ? 0 : -1;
}

int nr_manager_create(nr_manager **out, const nr_manager_options *opts, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_manager_create: out must not be NULL");
    *out = NULL;
    nr_manager_options o = NR_MANAGER_OPTIONS_INIT;
    int rc = NR_OK;
    if (opts)
        rc = NR__ABI_IN(&o, opts, nr_manager_options, NR_MANAGER_OPTIONS_INIT, err);
    else
        nr_manager_options_default(&o);
    if (rc == NR_OK)
        rc = nr__manager_options_check(&o, err);
    if (rc != NR_OK)
        return rc;
    nr_manager *m = nr_calloc(1, sizeof(*m));
    if (!m)
        return nr_error_set(err, NR_ENOMEM, NULL, "manager: out of memory");
    m->opts = o;
    /* Jobs beyond the queue's capacity run on the submitting thread instead
     * (see nr__run_all and nr_pool_close_on), so the bound only limits memory. */
    rc = nr__runtime_create(&m->rt, o.workers, 4096, err);
    if (rc != NR_OK) {
        nr_free(m);
        return rc;
    }
    rc = nr__runtime_create(&m->crt, o.creators, 4096, err);
    if (rc != NR_OK) {
        nr__runtime_destroy(m->rt);
        nr_free(m);
        return rc;
    }
    rc = nr_cancel_create(&m->closing, NULL, err);
    if (rc != NR_OK) {
        nr__runtime_destroy(m->rt);
        nr__runtime_destroy(m->crt);
        nr_free(m);
        return rc;
    }
    m->executor.submit = runtime_submit;
    m->executor.ud = m->rt;
    m->creators.submit = runtime_submit;
    m->creators.ud = m->crt;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->retired_mu, NULL);
    pthread_cond_init(&m->start_cv, NULL);
    pthread_mutex_init(&m->cascade_mu, NULL);
    pthread_mutex_init(&m->group_q_mu, NULL);
    pthread_rwlock_init(&m->lock, NULL);
    atomic_init(&m->phase, NR__PHASE_CREATED);
    rc = nr__metrics_setup(m, err);
    if (rc != NR_OK) {
        nr__metrics_teardown(m);
        nr__runtime_destroy(m->rt);
        nr__runtime_destroy(m->crt);
        nr_cancel_destroy(m->closing);
        pthread_rwlock_destroy(&m->lock);
        pthread_mutex_destroy(&m->cascade_mu);
        pthread_mutex_destroy(&m->group_q_mu);
        pthread_cond_destroy(&m->start_cv);
        pthread_mutex_destroy(&m->retired_mu);
        pthread_mutex_destroy(&m->mu);
        nr_free(m);
        return rc;
    }
    *out = m;
    return NR_OK;
}

/* ---- entries ------------------------------------------------------------------------ */

nr__entry *nr__entry_find_ref(nr_manager *m, const char *id, nr_error *err)
{
    pthread_rwlock_rdlock(&m->lock);
    nr__entry *e = nr__reg_find(m, id);
    if (e)
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    pthread_rwlock_unlock(&m->lock);
    if (!e)
        nr_error_set(err, NR_ENOTFOUND, id, "resource '%s' is not registered", id);
    return e;
}

void nr__entry_put(nr__entry *e)
{
    atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel);
}

void nr__entry_free(nr__entry *e)
{
    if (!e)
        return;
    for (nr__tenant_pool *t = e->tenants, *next; t; t = next) {
        next = t->next;
        nr_free(t);
    }
    for (nr__tenant_pool *t = e->draining, *next; t; t = next) {
        next = t->next;
        nr_free(t);
    }
    nr__tenants_free_index(e);
    nr__budget_free(e->budget); /* its pools are gone */
    if (e->config) {
        nr_config_free(e->type->config_schema, e->config);
        nr_free(e->config);
    }
    for (size_t i = 0; i < e->ndeps; i++)
        nr_free(e->deps[i]);
    nr_free(e->deps);
    nr_free(e->cred_ref);
    nr_secret_free(e->cred);
    /* nobody holds e any more, so no round runs on its pipeline */
    (void)nr_health_pipeline_destroy(e->pipeline, NULL);
    nr__entry_old_pipelines_free_locked(e);
    for (nr__old_config *c = e->old_configs, *next; c; c = next) {
        next = c->next;
        nr_config_free(e->type->config_schema, c->config);
        nr_free(c->config);
        nr_free(c);
    }
    pthread_mutex_destroy(&e->reload_mu);
    pthread_mutex_destroy(&e->refresh_mu);
    pthread_mutex_destroy(&e->mu);
    nr_free(e);
}

size_t nr__entries_snapshot(nr_manager *m, int only_running, nr__entry ***out, uint32_t *max_level)
{
    pthread_rwlock_rdlock(&m->lock);
    size_t n = 0;
    uint32_t top = 0;
    nr__entry **list = m->count ? nr_calloc(m->count, sizeof(*list)) : NULL;
    for (size_t i = 0; list && i < m->count; i++) {
        nr__entry *e = m->list[i];
        if (only_running && atomic_load_explicit(&e->state, memory_order_relaxed) != NR_RS_RUNNING)
            continue;
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        if (e->level > top)
            top = e->level;
        list[n++] = e;
    }
    pthread_rwlock_unlock(&m->lock);
    if (max_level)
        *max_level = top;
    *out = list;
    return n;
}

void nr__entries_put(nr__entry **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        nr__entry_put(list[i]);
    nr_free(list);
}

void nr__entry_set_error(nr__entry *e, const nr_error *err)
{
    pthread_mutex_lock(&e->mu);
    e->last_error = *err;
    pthread_mutex_unlock(&e->mu);
}

nr_pool **nr__entry_pools(nr__entry *e, size_t *n)
{
    pthread_mutex_lock(&e->mu);
    size_t count = (e->pool ? 1 : 0) + e->ntenants, k = 0;
    nr_pool **pools = count ? nr_calloc(count, sizeof(*pools)) : NULL;
    if (pools) {
        if (e->pool)
            pools[k++] = e->pool;
        for (nr__tenant_pool *t = e->tenants; t; t = t->next)
            pools[k++] = t->pool;
    }
    pthread_mutex_unlock(&e->mu);
    *n = k;
    return pools;
}

int nr__check_id(const char *id, nr_error *err)
{
    return nr_id_check(id, "resource id", err);
}

static int entry_from_spec(const nr_resource_spec *spec, nr__entry **out, nr_error *err);

/* The checks of register, with spec's health stages first copied at this
 * library's size (their stride is the caller's: docs/ABI.md). */
int nr__entry_from_spec(const nr_resource_spec *spec, nr__entry **out, nr_error *err)
{
    int rc = nr__check_id(spec->id, err);
    if (rc)
        return rc;
    nr_health_stage_def stages[NR_RESOURCE_HEALTH_STAGES_MAX];
    nr_resource_spec s;
    if (spec->health_stages && spec->nhealth_stages > 0 &&
        spec->nhealth_stages <= NR_RESOURCE_HEALTH_STAGES_MAX) {
        rc = NR__ABI_ARRAY_IN(stages, spec->health_stages, spec->nhealth_stages, "health_stages",
                              nr_health_stage_def, NR_HEALTH_STAGE_DEF_INIT, err);
        if (rc) {
            if (err)
                snprintf(err->resource_id, sizeof(err->resource_id), "%s", spec->id);
            nr_error_prefix(err, "resource '%s'", spec->id);
            return rc;
        }
        s = *spec;
        s.health_stages = stages;
        spec = &s;
    }
    return entry_from_spec(spec, out, err);
}

static int entry_from_spec(const nr_resource_spec *spec, nr__entry **out, nr_error *err)
{
    const char *id = spec->id;
    int rc = nr_resource_type_check(spec->type, err);
    if (rc) {
        nr_error_prefix(err, "resource '%s'", id);
        err ? (void)snprintf(err->resource_id, sizeof(err->resource_id), "%s", id) : (void)0;
        return rc;
    }
    if (!spec->config)
        return nr_error_set(err, NR_EINVAL, id, "resource '%s': config is required", id);
    if (spec->on_dependency_failure != NR_DEP_SERVE && spec->on_dependency_failure != NR_DEP_FAIL)
        return nr_error_set(err, NR_EINVAL, id,
                            "resource '%s': on_dependency_failure %d is not known", id,
                            (int)spec->on_dependency_failure);
    if (spec->partition != NR_PARTITION_NONE && spec->partition != NR_PARTITION_TENANT)
        return nr_error_set(err, NR_EINVAL, id, "resource '%s': partition %d is not known", id,
                            (int)spec->partition);
    if (spec->partition == NR_PARTITION_TENANT && spec->scope &&
        spec->scope->level > NR_SCOPE_TENANT)
        return nr_error_set(err, NR_EINVAL, id,
                            "resource '%s': a tenant-partitioned resource must be registered at "
                            "Global or Tenant scope",
                            id);
    if (spec->ndepends && !spec->depends_on)
        return nr_error_set(err, NR_EINVAL, id, "resource '%s': depends_on is NULL", id);
    for (size_t i = 0; i < spec->ndepends; i++) {
        if (!spec->depends_on[i] || nr__check_id(spec->depends_on[i], NULL) != NR_OK)
            return nr_error_set(err, NR_EINVAL, id,
                                "resource '%s': depends_on[%zu] is not a valid resource id", id, i);
        if (strcmp(spec->depends_on[i], id) == 0)
            return nr_error_set(err, NR_ECYCLE, id, "circular dependency: %s -> %s", id, id);
    }
    nr_pool_config pc;
    if (spec->pool)
        pc = *spec->pool;
    else
        nr_pool_config_default(&pc);
    nr_config_report rep;
    nr_config_report_clear(&rep);
    if (nr_config_validate(&nr_pool_config_schema, &pc, "$.pool", &rep, NULL) != NR_OK)
        return nr_error_set(err, NR_ECONFIG, id, "resource '%s': %s: %s (got %s)", id,
                            rep.items[0].path, rep.items[0].rule, rep.items[0].value);
    nr_config_report_clear(&rep);
    if (nr_config_validate(spec->type->config_schema, spec->config, "$.config", &rep, NULL) !=
        NR_OK)
        return nr_error_set(err, NR_ECONFIG, id, "resource '%s': %s: %s (got %s)", id,
                            rep.items[0].path, rep.items[0].rule, rep.items[0].value);
    rc = nr__health_spec_check(spec, &rep, err);
    if (rc)
        return rc;
    nr_autoscale_policy as;
    if (spec->autoscale)
        as = *spec->autoscale;
    else
        nr_autoscale_policy_default(&as);
    nr_config_report_clear(&rep);
    if (nr_config_validate(&nr_autoscale_schema, &as, "$.autoscale", &rep, NULL) != NR_OK)
        return nr_error_set(err, NR_ECONFIG, id, "resource '%s': %s: %s (got %s)", id,
                            rep.items[0].path, rep.items[0].rule, rep.items[0].value);
    nr_tenant_policy tp;
    rc = nr__tenant_policy_check(spec, &tp, &rep, err);
    if (rc)
        return rc;
    if (spec->budget && spec->partition == NR_PARTITION_TENANT)
        return nr_error_set(err, NR_ECONFIG, id,
                            "resource '%s': budget: not for a tenant-partitioned resource "
                            "(tenants.max_total shares its places)",
                            id);
    if (spec->budget && !nr__budget_of(spec->budget))
        return nr_error_set(err, NR_EINVAL, id, "resource '%s': budget: not a live budget", id);

    nr__entry *e = nr_calloc(1, sizeof(*e));
    if (!e)
        return nr_error_set(err, NR_ENOMEM, id, "resource '%s': out of memory", id);
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->refresh_mu, NULL);
    pthread_mutex_init(&e->reload_mu, NULL);
    if (spec->health)
        e->health_cfg = *spec->health;
    else
        nr_health_config_default(&e->health_cfg);
    e->nhealth_stages = spec->nhealth_stages;
    nr__entry_stages_keep(e, spec);
    e->as_policy = as;
    e->as_state.enabled = as.enabled;
    e->tn_policy = tp;
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->type = spec->type;
    e->type_ud = spec->type_ud;
    e->pool_cfg = pc;
    if (spec->scope)
        e->scope = *spec->scope;
    else
        nr_scope_global(&e->scope);
    e->partition = spec->partition;
    e->shared = spec->budget;
    atomic_init(&e->dep_policy, (int)spec->on_dependency_failure);
    atomic_init(&e->state, NR_RS_REGISTERED);
    atomic_init(&e->health, NR_HEALTH_UNKNOWN);
    e->config = nr_calloc(1, spec->type->config_schema->struct_size);
    e->deps = spec->ndepends ? nr_calloc(spec->ndepends, sizeof(char *)) : NULL;
    if (!e->config || (spec->ndepends && !e->deps))
        goto oom;
    if (e->partition == NR_PARTITION_TENANT &&
        !(e->budget = nr__budget_new((uint32_t)tp.max_total)))
        goto oom;
    if (nr_config_copy(spec->type->config_schema, e->config, spec->config, NULL) != NR_OK) {
        nr_free(e->config);
        e->config = NULL;
        goto oom;
    }
    for (size_t i = 0; i < spec->ndepends; i++) {
        e->deps[i] = nr_strdup(spec->depends_on[i]);
        if (!e->deps[i])
            goto oom;
        e->ndeps = i + 1;
    }
    if (spec->credential_ref) {
        e->cred_ref = nr_strdup(spec->credential_ref);
        if (!e->cred_ref)
            goto oom;
    }
    rc = nr__entry_pipeline_make(spec, e, err);
    if (rc) {
        nr__entry_free(e);
        return rc;
    }
    *out = e;
    return NR_OK;
oom:
    nr__entry_free(e);
    return nr_error_set(err, NR_ENOMEM, id, "resource '%s': out of memory", id);
}

static int register_impl(nr_manager *m, const nr_resource_spec *spec, nr_error *err);

int nr_manager_register(nr_manager *m, const nr_resource_spec *spec, nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "register", spec ? spec->id : NULL,
                   spec ? spec->scope : NULL, NULL);
    int rc = register_impl(m, spec, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

static int register_impl(nr_manager *m, const nr_resource_spec *spec, nr_error *err)
{
    if (!m || !spec)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_register: arguments must not be NULL");
    nr_resource_spec sized;
    int rc = NR__ABI_IN(&sized, spec, nr_resource_spec, NR_RESOURCE_SPEC_INIT, err);
    if (rc)
        return rc;
    spec = &sized;
    nr__entry *e = NULL;
    rc = nr__entry_from_spec(spec, &e, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->mu);
    nr__wait_not_starting(m); /* the manager's start sees every entry or none */
    int phase = atomic_load_explicit(&m->phase, memory_order_acquire);
    if (phase >= NR__PHASE_STOPPING) {
        pthread_mutex_unlock(&m->mu);
        nr__entry_free(e);
        return nr_error_set(err, NR_ESHUTDOWN, spec->id,
                            "resource '%s': the manager is shutting down", spec->id);
    }
    pthread_rwlock_wrlock(&m->lock);
    if (nr__reg_find(m, e->id)) {
        pthread_rwlock_unlock(&m->lock);
        pthread_mutex_unlock(&m->mu);
        rc = nr_error_set(err, NR_EEXIST, e->id, "resource '%s' is already registered", e->id);
        nr__entry_free(e);
        return rc;
    }
    if (phase == NR__PHASE_STARTED) {
        /* Started managers start new resources at once: their dependencies
         * must be running. */
        uint32_t level = 0;
        for (size_t i = 0; i < e->ndeps; i++) {
            nr__entry *d = nr__reg_find(m, e->deps[i]);
            if (!d || atomic_load(&d->state) != NR_RS_RUNNING) {
                pthread_rwlock_unlock(&m->lock);
                pthread_mutex_unlock(&m->mu);
                rc = nr_error_set(err, d ? NR_EDEPFAIL : NR_EINVAL, e->id,
                                  "resource '%s' depends on '%s', which is %s", e->id, e->deps[i],
                                  d ? "not running" : "not registered");
                nr__entry_free(e);
                return rc;
            }
            if (d->level + 1 > level)
                level = d->level + 1;
        }
        e->level = level;
    }
    if (nr__reg_insert(m, e) != NR_OK) {
        pthread_rwlock_unlock(&m->lock);
        pthread_mutex_unlock(&m->mu);
        rc = nr_error_set(err, NR_ENOMEM, e->id, "resource '%s': out of memory", e->id);
        nr__entry_free(e);
        return rc;
    }
    if (phase == NR__PHASE_STARTED)
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    pthread_rwlock_unlock(&m->lock);
    char id[NR_ERROR_ID_MAX];
    memcpy(id, e->id, sizeof(id)); /* e may be unregistered and freed once put */
    nr_scope scope = e->scope;
    if (phase != NR__PHASE_STARTED) {
        pthread_mutex_unlock(&m->mu);
        nr__manager_event(m, NR_EV_REGISTERED, id, &scope, 0, 0, NULL);
        return NR_OK;
    }
    /* Started managers start new resources at once, without m->mu; a
     * shutdown waits for this start (m->starts) after it set m->closing. */
    m->starts++;
    pthread_mutex_unlock(&m->mu);
    nr__manager_event(m, NR_EV_REGISTERED, id, &scope, 0, 0, NULL);
    nr_deadline dl =
        nr_deadline_in_ms(e->pool_cfg.acquire_timeout_ms ? e->pool_cfg.acquire_timeout_ms : 30000);
    rc = nr__entry_start(m, e, dl, NULL, err); /* failed: stays registered; unregister removes it */
    nr__entry_put(e);
    pthread_mutex_lock(&m->mu);
    m->starts--;
    pthread_cond_broadcast(&m->start_cv);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* Names of registered resources that depend on e, into buf. [lock] */
static size_t dependents_of(nr_manager *m, const nr__entry *e, char *buf, size_t len)
{
    size_t n = 0, used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->count; i++) {
        const nr__entry *o = m->list[i];
        for (size_t k = 0; k < o->ndeps; k++) {
            if (strcmp(o->deps[k], e->id) == 0) {
                int w = snprintf(buf + used, used < len ? len - used : 0, "%s'%s'", n ? ", " : "",
                                 o->id);
                if (w > 0)
                    used += (size_t)w;
                n++;
                break;
            }
        }
    }
    if (used >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
    return n;
}

static int unregister_impl(nr_manager *m, const char *id, nr_deadline deadline, nr_error *err);

int nr_manager_unregister(nr_manager *m, const char *id, nr_deadline deadline, nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "unregister", id, NULL, NULL);
    int rc = unregister_impl(m, id, deadline, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

static int unregister_impl(nr_manager *m, const char *id, nr_deadline deadline, nr_error *err)
{
    if (!m || !id)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_unregister: arguments must not be NULL");
    pthread_mutex_lock(&m->mu);
    nr__wait_not_starting(m); /* the manager's start uses the entries it listed */
    pthread_rwlock_wrlock(&m->lock);
    nr__entry *e = nr__reg_find(m, id);
    if (!e) {
        pthread_rwlock_unlock(&m->lock);
        pthread_mutex_unlock(&m->mu);
        return nr_error_set(err, NR_ENOTFOUND, id, "resource '%s' is not registered", id);
    }
    char names[160];
    size_t n = dependents_of(m, e, names, sizeof(names));
    if (n) {
        pthread_rwlock_unlock(&m->lock);
        pthread_mutex_unlock(&m->mu);
        return nr_error_set(err, NR_EBUSY, id,
                            "resource '%s' cannot be unregistered: %zu resource(s) depend on it "
                            "(%s)",
                            id, n, names);
    }
    if (atomic_load_explicit(&e->ngroups, memory_order_relaxed)) {
        nr__groups_of(m, e, names, sizeof(names));
        pthread_rwlock_unlock(&m->lock);
        pthread_mutex_unlock(&m->mu);
        return nr_error_set(err, NR_EBUSY, id,
                            "resource '%s' cannot be unregistered: it is a member of group %s", id,
                            names);
    }
    nr__reg_remove(m, e);
    pthread_rwlock_unlock(&m->lock);
    pthread_mutex_unlock(&m->mu);

    pthread_mutex_lock(&e->mu);
    atomic_store_explicit(&e->state, NR_RS_STOPPING, memory_order_relaxed);
    pthread_mutex_unlock(&e->mu);
    size_t np;
    nr_pool **pools = nr__entry_pools(e, &np);
    for (size_t i = 0; i < np; i++)
        nr_pool_quiesce(pools[i]);
    nr_free(pools);
    /* Acquirers and background jobs that found the entry before it left the
     * registry finish quickly now; after that nobody else touches it. */
    while (atomic_load_explicit(&e->refs, memory_order_acquire) > 0)
        nr_sleep_ns(NR_NS_PER_MS);
    int rc = NR_OK;
    pools = nr__entry_pools(e, &np); /* nobody else changes them now */
    for (size_t i = 0; i < np; i++) {
        nr_pool_quiesce(pools[i]);
        if (rc == NR_OK && nr_pool_wait_returned(pools[i], deadline, err) != NR_OK)
            rc = NR_ETIMEDOUT;
    }
    uint32_t out = 0;
    for (size_t i = 0; rc != NR_OK && i < np; i++) {
        nr_pool_stats st = NR_POOL_STATS_INIT;
        nr_pool_stats_get(pools[i], &st);
        out += st.in_use;
    }
    nr_free(pools);
    atomic_store_explicit(&e->state, NR_RS_STOPPED, memory_order_relaxed);
    char text[NR_EVENT_TEXT_MAX];
    if (rc != NR_OK || nr__entry_destroy_pools(e) != NR_OK) {
        /* Leases still out: the next maintenance round (or nr_manager_destroy)
         * frees it once they are back. */
        pthread_mutex_lock(&m->retired_mu);
        e->retired_leases = out;
        e->retired_next = m->retired;
        m->retired = e;
        pthread_mutex_unlock(&m->retired_mu);
        snprintf(text, sizeof(text), "%u lease(s) still out: freed when they are back", out);
        nr__manager_event(m, NR_EV_UNREGISTERED, id, NULL, out, 0, text);
        return rc;
    }
    char eid[NR_ERROR_ID_MAX];
    memcpy(eid, e->id, sizeof(eid));
    nr__entry_free(e);
    nr__metrics_forget(m, eid);
    nr__manager_event(m, NR_EV_UNREGISTERED, eid, NULL, 0, 0, NULL);
    return NR_OK;
}

int nr__entry_destroy_pools(nr__entry *e)
{
    int rc = NR_OK;
    for (nr__tenant_pool **at = &e->draining; *at;) {
        nr__tenant_pool *t = *at;
        if (nr_pool_destroy(t->pool, NULL) != NR_OK) {
            rc = NR_EBUSY;
            at = &t->next;
            continue;
        }
        *at = t->next;
        nr_free(t);
    }
    while (rc == NR_OK && (e->pool || e->tenants)) {
        nr_pool *p;
        if (e->pool) {
            p = e->pool;
        } else {
            p = e->tenants->pool;
        }
        nr_pool_close(p);
        if (nr_pool_destroy(p, NULL) != NR_OK) {
            rc = NR_EBUSY;
            break;
        }
        if (e->pool) {
            e->pool = NULL;
        } else {
            nr__tenant_pool *t = e->tenants;
            nr__tenant_unlink_locked(e, t); /* (nobody else uses e: no lock needed) */
            nr_free(t);
        }
    }
    return rc;
}

/* ---- acquire ------------------------------------------------------------------------- */

/* The pool of e for a caller in scope s (creating a tenant pool on first
 * use). Returns NULL with err filled. [e->refs held] */
static nr_pool *pool_for(nr_manager *m, nr__entry *e, const nr_scope *s, int *rc, nr_error *err)
{
    if (e->partition == NR_PARTITION_NONE) {
        pthread_mutex_lock(&e->mu);
        nr_pool *p = e->pool;
        pthread_mutex_unlock(&e->mu);
        if (!p)
            *rc = nr_error_set(err, NR_EUNAVAIL, e->id, "resource '%s' is not started", e->id);
        return p;
    }
    if (s->level < NR_SCOPE_TENANT) {
        *rc = nr_error_set(err, NR_ESCOPE, e->id,
                           "resource '%s' has one pool per tenant; the caller's scope is not "
                           "inside any tenant",
                           e->id);
        return NULL;
    }
    return nr__tenant_pool_for(m, e, s->ids[NR_SCOPE_TENANT], rc, err);
}

static int acquire_impl(nr_manager *m, const char *id, const nr_ctx *ctx, nr_guard *out,
                        nr_error *err);

int nr_manager_acquire(nr_manager *m, const char *id, const nr_ctx *ctx, nr_guard *out,
                       nr_error *err)
{
    nr_ctx sized;
    if (nr__ctx_in(&ctx, &sized, err) != NR_OK) {
        if (out)
            *out = (nr_guard)NR_GUARD_INIT;
        return NR_EINVAL;
    }
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "manager_acquire", id, ctx ? ctx->scope : NULL,
                   ctx);
    if (!nr__span_active(&span))
        return acquire_impl(m, id, ctx, out, err);
    /* traced: the pool's acquire span is this one's child */
    nr_ctx child = ctx ? *ctx : (nr_ctx)NR_CTX_INIT;
    nr__span_child_ctx(&span, &child);
    int rc = acquire_impl(m, id, &child, out, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

int nr__manager_admit(nr_manager *m, const char *id, const nr_ctx *ctx, nr__entry **out_e,
                      const nr_scope **caller_out, nr_scope *global, nr_error *err)
{
    *out_e = NULL;
    if (atomic_load_explicit(&m->phase, memory_order_acquire) >= NR__PHASE_STOPPING)
        return nr_error_set(err, NR_ESHUTDOWN, id, "resource '%s': the manager is shutting down",
                            id);
    nr__entry *e = nr__entry_find_ref(m, id, err);
    if (!e)
        return NR_ENOTFOUND;

    int rc = NR_OK;
    const nr_scope *caller = ctx && ctx->scope ? ctx->scope : NULL;
    if (!caller) {
        nr_scope_global(global);
        caller = global;
    }
    *caller_out = caller;
    if (!nr_scope_contains(&e->scope, caller)) {
        char have[NR_SCOPE_TEXT_MAX], want[NR_SCOPE_TEXT_MAX];
        nr_scope_format(caller, have, sizeof(have));
        nr_scope_format(&e->scope, want, sizeof(want));
        rc = nr_error_set(err, NR_ESCOPE, id,
                          "resource '%s' belongs to scope %s; caller's scope %s is not inside it",
                          id, want, have);
        goto out;
    }
    int state = atomic_load_explicit(&e->state, memory_order_relaxed);
    if (state != NR_RS_RUNNING) {
        pthread_mutex_lock(&e->mu);
        nr_error last = e->last_error;
        pthread_mutex_unlock(&e->mu);
        if (state == NR_RS_DEPENDENCY_FAILED)
            rc = nr_error_set_cause(err, NR_EDEPFAIL, last.cause, 0, id, "%s", last.message);
        else if (state == NR_RS_FAILED)
            rc = nr_error_set_cause(err, NR_EUNAVAIL, last.code, last.driver_code, id,
                                    "resource '%s' failed to start: %s", id, last.message);
        else if (state >= NR_RS_STOPPING)
            rc = nr_error_set(err, NR_ESHUTDOWN, id, "resource '%s' is stopping", id);
        else
            rc = nr_error_set(err, NR_EUNAVAIL, id, "resource '%s' is %s, not running", id,
                              nr_resource_state_name((nr_resource_state)state));
        goto out;
    }
    int trial = 0;
    if ((rc = nr__quarantine_admit(m, e, &trial, err)) != NR_OK)
        goto out;
    if (!trial && atomic_load_explicit(&e->health, memory_order_relaxed) == NR_HEALTH_UNHEALTHY) {
        pthread_mutex_lock(&e->mu);
        char reason[NR_HEALTH_REASON_MAX];
        memcpy(reason, e->health_reason, sizeof(reason));
        pthread_mutex_unlock(&e->mu);
        rc = nr_error_set(err, NR_EUNAVAIL, id, "resource '%s' is unhealthy: %s", id, reason);
        goto out;
    }
    if (atomic_load_explicit(&e->dep_policy, memory_order_relaxed) == NR_DEP_FAIL &&
        atomic_load_explicit(&e->dep_degraded, memory_order_relaxed)) {
        pthread_mutex_lock(&e->mu);
        char reason[NR_HEALTH_REASON_MAX];
        memcpy(reason, e->dep_reason, sizeof(reason));
        pthread_mutex_unlock(&e->mu);
        rc = nr_error_set(err, NR_EDEPFAIL, id, "resource '%s' %s", id, reason);
        goto out;
    }
out:
    if (rc != NR_OK)
        nr__entry_put(e);
    else
        *out_e = e;
    return rc;
}

nr_pool *nr__manager_pool_for(nr_manager *m, nr__entry *e, const nr_scope *caller, int *rc,
                              nr_error *err)
{
    return pool_for(m, e, caller, rc, err);
}

static int acquire_impl(nr_manager *m, const char *id, const nr_ctx *ctx, nr_guard *out,
                        nr_error *err)
{
    if (out) {
        out->inst = NULL;
        out->lease = 0;
    }
    if (!m || !id || !out)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_manager_acquire: arguments must not be NULL");
    nr__entry *e;
    const nr_scope *caller;
    nr_scope global;
    int rc = nr__manager_admit(m, id, ctx, &e, &caller, &global, err);
    if (rc != NR_OK)
        return rc;
    for (int again = 0;; again++) {
        uint64_t gen = atomic_load_explicit(&e->generation, memory_order_acquire);
        nr_pool *p = pool_for(m, e, caller, &rc, err);
        if (!p)
            break;
        rc = nr_pool_acquire(p, ctx, out, err);
        /* A reload closed the pool this acquire had reached: the entry's
         * pool now is the new one (a reload bumps the generation before it
         * closes the old pool). */
        if (rc != NR_ESHUTDOWN || again >= 8 ||
            atomic_load_explicit(&e->generation, memory_order_acquire) == gen)
            break;
    }
    nr__entry_put(e);
    return rc;
}

static int provider_acquire(void *self, const char *id, const nr_ctx *ctx, nr_guard *out,
                            nr_error *err)
{
    return nr_manager_acquire(self, id, ctx, out, err);
}

nr_provider nr_manager_provider(nr_manager *m)
{
    nr_provider p = {provider_acquire, m};
    return p;
}
