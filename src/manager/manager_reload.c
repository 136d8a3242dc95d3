/*
 * manager_reload.c - reloading one resource from a new spec.
 *
 * The new spec is checked as a register checks it and compared with the
 * entry: fields that cannot change are refused by name; a running resource
 * whose change is only min_idle, max_size or on_dependency_failure is
 * changed in place; any other change makes a new pool, warmed on this
 * thread with no manager lock held, then swapped in under e->mu. The old
 * pools are closed and set aside on e->draining with the config they borrow
 * (e->old_configs), and freed by a maintenance round once their leases are
 * back and no call that could still see them is inside the entry
 * (manager_reap.c).
 *
 * An acquire that took the old pool just before the swap finds it closed
 * (NR_ESHUTDOWN) and goes again to the entry's pool (manager.c), so a
 * reload fails no acquire.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/abi.h"
#include "manager/manager_internal.h"
#include "nebula/budget.h"
#include "pool/pool_budget.h"
#include "nebula/alloc.h"
#include "observe/span.h"

const char *nr_reload_kind_name(nr_reload_kind k)
{
    static const char *const names[] = {"unchanged", "recorded", "in place", "new pool"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "invalid";
}

/* ---- comparing ---- */

typedef struct diff {
    char text[NR_ERROR_MESSAGE_MAX];
    size_t len;
    int fresh;   /* a change that needs a new pool */
    int inplace; /* a change that can be applied to the running pools */
} diff;

static void diff_add(diff *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diff_add(diff *d, const char *fmt, ...)
{
    char item[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(item, sizeof(item), fmt, ap);
    va_end(ap);
    size_t cap = sizeof(d->text);
    if (d->len + 4 >= cap)
        return; /* already cut */
    int w = snprintf(d->text + d->len, cap - d->len, "%s%s", d->len ? ", " : "", item);
    if (w < 0)
        return;
    if ((size_t)w >= cap - d->len) { /* cut: say so */
        memcpy(d->text + cap - 4, "...", 4);
        d->len = cap - 1;
        return;
    }
    d->len += (size_t)w;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_health(const nr_health_config *a, const nr_health_config *b)
{
    if (a->nstages != b->nstages)
        return 0;
    for (size_t i = 0; i < a->nstages; i++)
        if (strcmp(a->stages[i], b->stages[i]) != 0)
            return 0;
    return nr_config_equal(&nr_health_performance_schema, &a->performance, &b->performance) &&
           nr_config_equal(&nr_health_utilization_schema, &a->utilization, &b->utilization);
}

/* What may not change: NR_EINVAL naming the field. [e's const fields] */
static int refuse_fixed(const nr__entry *e, const nr_resource_spec *s, nr_error *err)
{
    const char *what = NULL;
    nr_scope scope;
    if (s->scope)
        scope = *s->scope;
    else
        nr_scope_global(&scope);
    if (s->type != e->type)
        what = "type";
    else if (s->type_ud != e->type_ud)
        what = "type_ud";
    else if (!nr_scope_equal(&scope, &e->scope))
        what = "scope";
    else if (s->partition != e->partition)
        what = "partition";
    else if (s->budget != e->shared)
        what = "budget";
    else if (!same_str(s->credential_ref, e->cred_ref))
        what = "credential_ref";
    else if (s->ndepends != e->ndeps)
        what = "depends_on";
    for (size_t i = 0; !what && i < s->ndepends; i++)
        if (strcmp(s->depends_on[i], e->deps[i]) != 0)
            what = "depends_on";
    if (!what)
        return NR_OK;
    return nr_error_set(err, NR_EINVAL, e->id,
                        "resource '%s': %s cannot change by reload (unregister it and register "
                        "it again%s)",
                        e->id, what,
                        strcmp(what, "credential_ref") == 0 ? ", or rotate the credential" : "");
}

/* The pool config fields that differ, named; min_idle and max_size alone can
 * change in place. [e->mu] */
static void pool_diff(diff *d, const nr_pool_config *old, const nr_pool_config *now)
{
    if (old->min_idle != now->min_idle) {
        diff_add(d, "pool.min_idle %lld -> %lld", (long long)old->min_idle,
                 (long long)now->min_idle);
        d->inplace = 1;
    }
    if (old->max_size != now->max_size) {
        diff_add(d, "pool.max_size %lld -> %lld", (long long)old->max_size,
                 (long long)now->max_size);
        d->inplace = 1;
    }
    nr_pool_config a = *old, b = *now;
    a.min_idle = b.min_idle = 0;
    a.max_size = b.max_size = 1;
    if (!nr_config_equal(&nr_pool_config_schema, &a, &b)) {
        /* every other field applies in place (nr_pool_reconfigure), but
         * max_connecting, which sizes a pool's creator threads */
        const nr_config_schema *ps = &nr_pool_config_schema;
        for (size_t i = 0; i < ps->nfields; i++) {
            nr_config_schema one = *ps; /* that field alone */
            one.fields = &ps->fields[i];
            one.nfields = 1;
            if (nr_config_equal(&one, &a, &b))
                continue;
            diff_add(d, "pool.%s", ps->fields[i].name);
            if (strcmp(ps->fields[i].name, "max_connecting") == 0)
                d->fresh = 1;
            else
                d->inplace = 1;
        }
    }
}

/* ---- in place ---- */

/* Apply pc to e's pools, and to those made later. [no lock; e->refs held] */
static int reconfigure_pools(nr__entry *e, const nr_pool_config *pc, nr_error *err)
{
    pthread_mutex_lock(&e->mu);
    e->pool_cfg = *pc;
    pthread_mutex_unlock(&e->mu);
    size_t n;
    nr_pool **pools = nr__entry_pools(e, &n);
    int rc = NR_OK;
    for (size_t i = 0; i < n; i++) {
        nr_error one;
        int r = nr_pool_reconfigure(pools[i], pc, &one);
        if (r != NR_OK && rc == NR_OK) {
            rc = r;
            if (err)
                *err = one;
        }
    }
    nr_free(pools);
    return rc;
}

/* ---- the new pool ---- */

/* Make and warm a pool of e with config and pc, as a start does. [no lock;
 * e->refs held] */
static int make_pool(nr_manager *m, nr__entry *e, const void *config, const nr_pool_config *pc,
                     nr_pool **out, nr_error *err)
{
    *out = NULL;
    nr_pool *p = NULL;
    pthread_mutex_lock(&e->mu);
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = e->id, .type = e->type, .type_ud = e->type_ud, .config = config,
                        .pool = pc, .scope = &e->scope, .credential = e->cred,
                        .events = m->opts.events, .hooks = m->opts.hooks, .executor = &m->creators);
    nr__entry_histograms(m, e, &e->scope, &o.wait_histogram, &o.health_histogram);
    int rc = nr_pool_create(&p, &o, err);
    if (rc == NR_OK && e->shared && (rc = nr_budget_add_pool(e->shared, p, err)) != NR_OK) {
        nr_pool_destroy(p, NULL); /* new and unused: nothing is out */
        p = NULL;
    }
    if (rc == NR_OK && e->suspended)
        nr_pool_suspend(p);
    pthread_mutex_unlock(&e->mu);
    if (rc != NR_OK)
        return rc;
    uint32_t want = pc->min_idle > 0 ? (uint32_t)pc->min_idle : 1;
    nr_deadline dl = nr_deadline_in_ms(pc->create_timeout_ms ? pc->create_timeout_ms : 30000);
    for (uint32_t k = 1; k <= want && rc == NR_OK; k++) {
        if (nr__manager_closing(m))
            rc = nr_error_set(err, NR_ESHUTDOWN, e->id,
                              "resource '%s': reload stopped: the manager is shutting down", e->id);
        else
            rc = nr_pool_prime(p, k, dl, err);
    }
    if (rc != NR_OK) {
        nr_pool_close(p);
        nr_pool_drain(p, nr_deadline_never(), NULL);
        nr_pool_destroy(p, NULL);
        return rc;
    }
    *out = p;
    return NR_OK;
}

/* Swap p (NULL for a tenant resource) and config in; the old pools go to
 * e->draining (keep->pool_node holds the resource's own), the old config to
 * e->old_configs. Returns how many pools were set aside, or -1 when e is no
 * longer running (nothing swapped). [no lock held; takes e->mu] */
static long swap_in(nr__entry *e, nr_pool *p, void *config, nr__old_config *keep,
                    const nr_pool_config *pc, nr_dep_policy policy)
{
    pthread_mutex_lock(&e->mu);
    if (atomic_load_explicit(&e->state, memory_order_relaxed) != NR_RS_RUNNING) {
        pthread_mutex_unlock(&e->mu);
        return -1;
    }
    nr__tenant_pool *old = nr__tenants_take_all_locked(e);
    if (e->pool) {
        nr__tenant_pool *own = keep->pool_node;
        keep->pool_node = NULL;
        own->pool = e->pool;
        own->next = old;
        old = own;
    } else {
        nr_free(keep->pool_node); /* a tenant resource: not needed */
        keep->pool_node = NULL;
    }
    long n = 0;
    for (nr__tenant_pool *t = old; t; t = t->next)
        n++;
    nr_pool **closing = n ? nr_calloc((size_t)n, sizeof(*closing)) : NULL;
    long k = 0;
    for (nr__tenant_pool *t = old; t && closing; t = t->next)
        closing[k++] = t->pool;
    e->pool = p;
    if (old)
        nr__draining_add_locked(e, old);
    keep->config = e->config;
    keep->next = e->old_configs;
    e->old_configs = keep;
    e->config = config;
    e->pool_cfg = *pc;
    atomic_store_explicit(&e->dep_policy, (int)policy, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->generation, 1, memory_order_release);
    if (!closing) /* no memory for the list: close them here */
        for (nr__tenant_pool *t = old; t; t = t->next)
            nr_pool_quiesce(t->pool);
    pthread_mutex_unlock(&e->mu);
    /* Closed outside e->mu (that destroys their idle instances; leased ones
     * go when given back). The pools stay valid: this reload holds a
     * reference on e, so the reaper leaves them alone. */
    for (long i = 0; i < k; i++)
        nr_pool_close(closing[i]);
    nr_free(closing);
    return n;
}

/* ---- the reload ---- */

static int reload_impl(nr_manager *m, const nr_resource_spec *spec, nr_reload_report *rep,
                       nr_error *err);

int nr_manager_reload(nr_manager *m, const nr_resource_spec *spec, nr_reload_report *report,
                      nr_error *err)
{
    nr_resource_spec sized;
    if (spec) {
        int rc = NR__ABI_IN(&sized, spec, nr_resource_spec, NR_RESOURCE_SPEC_INIT, err);
        if (rc != NR_OK)
            return rc;
        spec = &sized;
    }
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_INFO, "reload", spec ? spec->id : NULL,
                   spec ? spec->scope : NULL, NULL);
    nr_reload_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = reload_impl(m, spec, &rep, err);
    if (report)
        *report = rep;
    if (rc == NR_OK && rep.kind != NR_RELOAD_UNCHANGED) {
        char text[NR_ERROR_MESSAGE_MAX + 16]; /* the event cuts it with "..." */
        snprintf(text, sizeof(text), "%s: %s", nr_reload_kind_name(rep.kind), rep.changes);
        nr__manager_event(m, NR_EV_RELOADED, spec->id, spec->scope, rep.kind, 0, text);
    }
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

/* The new config, checked and copied: NR_ECONFIG / NR_ENOMEM. */
static int new_config(const nr_resource_spec *spec, void **out, nr_pool_config *pc, nr_error *err)
{
    *out = NULL;
    nr__entry *probe = NULL;
    int rc = nr__entry_from_spec(spec, &probe, err); /* the checks of register */
    if (rc != NR_OK)
        return rc;
    *out = probe->config;
    *pc = probe->pool_cfg;
    probe->config = NULL; /* taken */
    nr__entry_free(probe);
    return NR_OK;
}

static void free_config(const nr__entry *e, void *config)
{
    if (!config)
        return;
    nr_config_free(e->type->config_schema, config);
    nr_free(config);
}

static int reload_impl(nr_manager *m, const nr_resource_spec *spec, nr_reload_report *rep,
                       nr_error *err)
{
    if (!m || !spec || !spec->id)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_reload: manager, spec and spec->id must not be NULL");
    if (atomic_load_explicit(&m->phase, memory_order_acquire) >= NR__PHASE_STOPPING)
        return nr_error_set(err, NR_ESHUTDOWN, spec->id,
                            "resource '%s': the manager is shutting down", spec->id);
    nr__entry *e = nr__entry_find_ref(m, spec->id, err);
    if (!e)
        return NR_ENOTFOUND;
    void *config = NULL;
    nr_pool_config pc;
    int rc = new_config(spec, &config, &pc, err); /* checks the stages' sizes too */
    /* the stages at this library's size (their stride is the caller's) */
    nr_health_stage_def stages[NR_RESOURCE_HEALTH_STAGES_MAX];
    nr_resource_spec sized_stages;
    if (rc == NR_OK && spec->health_stages && spec->nhealth_stages > 0 &&
        (rc = NR__ABI_ARRAY_IN(stages, spec->health_stages, spec->nhealth_stages, "health_stages",
                               nr_health_stage_def, NR_HEALTH_STAGE_DEF_INIT, err)) == NR_OK) {
        sized_stages = *spec;
        sized_stages.health_stages = stages;
        spec = &sized_stages;
    }
    if (rc == NR_OK)
        rc = refuse_fixed(e, spec, err);
    nr_tenant_policy tp;
    nr_config_report trep;
    if (rc == NR_OK)
        rc = nr__tenant_policy_check(spec, &tp, &trep, err);
    if (rc == NR_OK)
        rc = nr__health_spec_check(spec, &trep, err);
    if (rc != NR_OK) {
        free_config(e, config);
        nr__entry_put(e);
        return rc;
    }
    pthread_mutex_lock(&e->reload_mu); /* one reload of e at a time */
    /* Health settings change in place: a new pipeline (its windows start
     * empty), made before e->mu is taken (that calls nothing of the user). */
    nr_health_config hc;
    if (spec->health)
        hc = *spec->health;
    else
        nr_health_config_default(&hc);
    nr_health_pipeline *pl = NULL;
    int health_changed = !same_health(&hc, &e->health_cfg) || !nr__entry_stages_same(e, spec);
    if (health_changed && (rc = nr__pipeline_make(spec, e, &pl, err)) != NR_OK) {
        pthread_mutex_unlock(&e->reload_mu);
        free_config(e, config);
        nr__entry_put(e);
        return rc;
    }
    if (health_changed) {
        e->health_cfg = hc;
        nr__entry_stages_keep(e, spec);
    }
    diff d;
    memset(&d, 0, sizeof(d));
    pthread_mutex_lock(&e->mu);
    if (pl) {
        diff_add(&d, "health");
        d.inplace = 1;
        nr__entry_pipeline_swap_locked(e, pl);
    }
    if (!nr_config_equal(e->type->config_schema, e->config, config)) {
        diff_add(&d, "config");
        d.fresh = 1;
    }
    pool_diff(&d, &e->pool_cfg, &pc);
    if (atomic_load_explicit(&e->dep_policy, memory_order_relaxed) !=
        (int)spec->on_dependency_failure) {
        diff_add(&d, "on_dependency_failure");
        d.inplace = 1;
    }
    nr_autoscale_policy as;
    if (spec->autoscale)
        as = *spec->autoscale;
    else
        nr_autoscale_policy_default(&as);
    int as_changed = !nr_config_equal(&nr_autoscale_schema, &e->as_policy, &as);
    if (as_changed) {
        diff_add(&d, "autoscale");
        d.inplace = 1;
    }
    int tn_changed = !nr_config_equal(&nr_tenant_schema, &e->tn_policy, &tp);
    if (tn_changed) { /* in place too, whatever else changes */
        diff_add(&d, "tenants");
        d.inplace = 1;
        e->tn_policy = tp;
        if (e->budget)
            nr__budget_set_limit(e->budget, (uint32_t)tp.max_total);
    }
    int running = atomic_load_explicit(&e->state, memory_order_relaxed) == NR_RS_RUNNING;
    if (as_changed) { /* a policy applies in place whatever else changes */
        e->as_policy = as;
        e->as_state.enabled = as.enabled;
        e->as_above_ns = e->as_below_ns = 0;
    }
    nr_pool_config before = e->pool_cfg;
    if (!d.fresh && !d.inplace) {
        rep->kind = NR_RELOAD_UNCHANGED;
    } else if (!running) {
        /* nothing runs: the spec is recorded for the next start */
        void *old = e->config;
        e->config = config;
        config = old;
        e->pool_cfg = pc;
        atomic_store_explicit(&e->dep_policy, (int)spec->on_dependency_failure,
                              memory_order_relaxed);
        rep->kind = NR_RELOAD_RECORDED;
    } else if (!d.fresh) {
        atomic_store_explicit(&e->dep_policy, (int)spec->on_dependency_failure,
                              memory_order_relaxed);
        rep->kind = NR_RELOAD_IN_PLACE;
    } else {
        rep->kind = NR_RELOAD_NEW_POOL;
    }
    pthread_mutex_unlock(&e->mu);
    snprintf(rep->changes, sizeof(rep->changes), "%s", d.len ? d.text : "nothing");

    if (rep->kind == NR_RELOAD_IN_PLACE && !nr_config_equal(&nr_pool_config_schema, &before, &pc))
        rc = reconfigure_pools(e, &pc, err);
    if (rep->kind == NR_RELOAD_NEW_POOL) {
        nr__old_config *keep = nr_calloc(1, sizeof(*keep));
        nr__tenant_pool *node = nr_calloc(1, sizeof(*node));
        nr_pool *p = NULL;
        if (!keep || !node)
            rc = nr_error_set(err, NR_ENOMEM, e->id, "resource '%s': out of memory", e->id);
        if (rc == NR_OK && e->partition == NR_PARTITION_NONE)
            rc = make_pool(m, e, config, &pc, &p, err);
        if (rc != NR_OK) {
            nr_error_prefix(err, "resource '%s': reload failed, the old pool stays", e->id);
        } else {
            keep->pool_node = node;
            node = NULL;
            long had = swap_in(e, p, config, keep, &pc, spec->on_dependency_failure);
            if (had < 0) {
                rc = nr_error_set(err, NR_ESHUTDOWN, e->id,
                                  "resource '%s' stopped while it reloaded", e->id);
                nr_free(keep->pool_node);
                keep->pool_node = NULL;
                if (p) {
                    nr_pool_close(p);
                    nr_pool_destroy(p, NULL);
                }
            } else {
                config = NULL; /* e has it */
                keep = NULL;   /* on e->old_configs */
                rep->drained_pools = (uint32_t)had;
            }
        }
        if (keep) {
            nr_free(keep->pool_node);
            nr_free(keep);
        }
        nr_free(node);
    }
    pthread_mutex_unlock(&e->reload_mu);
    free_config(e, config);
    nr__entry_put(e);
    if (rc != NR_OK)
        rep->kind = NR_RELOAD_UNCHANGED;
    return rc;
}
