/*
 * manager_tenants.c - the tenant pools of a tenant-partitioned resource:
 * found by a hash index, made on a tenant's first acquire (within
 * max_tenants), removed when unused for idle_timeout_ms, and sharing
 * max_total's places (src/pool/pool_budget.c).
 *
 * A removed pool goes to e->draining, closed, marked evicted. The reaper
 * frees it like any other set-aside pool (once no call inside e can still
 * hold it) and then removes its metric series, unless the tenant has a pool
 * again by then (the new pool shares the series of the same labels).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "manager/manager_internal.h"
#include "nebula/alloc.h"
#include "pool/pool_budget.h"

static nr__tenant_pool *find_locked(nr__entry *e, const char *tenant, uint64_t h)
{
    if (!e->tnslots)
        return NULL;
    for (nr__tenant_pool *t = e->tslots[h & (e->tnslots - 1)]; t; t = t->hnext)
        if (t->hash == h && strcmp(t->tenant, tenant) == 0)
            return t;
    return NULL;
}

/* Make room in the index for one more tenant: double it when it would be
 * fuller than one per bucket. A failed allocation keeps the old one (longer
 * chains, still correct); 0 only when there is no index at all. */
static int grow_locked(nr__entry *e)
{
    if (e->tnslots && e->ntenants < e->tnslots)
        return 1;
    uint32_t n = e->tnslots ? e->tnslots * 2 : 16;
    nr__tenant_pool **slots = nr_calloc(n, sizeof(*slots));
    if (!slots)
        return e->tnslots != 0;
    for (nr__tenant_pool *t = e->tenants; t; t = t->next) {
        t->hnext = slots[t->hash & (n - 1)];
        slots[t->hash & (n - 1)] = t;
    }
    nr_free(e->tslots);
    e->tslots = slots;
    e->tnslots = n;
    return 1;
}

/* [e->mu, room made by grow_locked] */
static void link_locked(nr__entry *e, nr__tenant_pool *t)
{
    t->prev = NULL;
    t->next = e->tenants;
    if (e->tenants)
        e->tenants->prev = t;
    e->tenants = t;
    e->ntenants++;
    nr__tenant_pool **b = &e->tslots[t->hash & (e->tnslots - 1)];
    t->hnext = *b;
    *b = t;
}

void nr__tenant_unlink_locked(nr__entry *e, nr__tenant_pool *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        e->tenants = t->next;
    if (t->next)
        t->next->prev = t->prev;
    if (e->tnslots)
        for (nr__tenant_pool **at = &e->tslots[t->hash & (e->tnslots - 1)]; *at; at = &(*at)->hnext)
            if (*at == t) {
                *at = t->hnext;
                break;
            }
    t->next = t->prev = t->hnext = NULL;
    e->ntenants--;
}

nr__tenant_pool *nr__tenants_take_all_locked(nr__entry *e)
{
    nr__tenant_pool *list = e->tenants;
    for (nr__tenant_pool *t = list; t; t = t->next)
        t->prev = t->hnext = NULL;
    e->tenants = NULL;
    e->ntenants = 0;
    if (e->tnslots)
        memset(e->tslots, 0, e->tnslots * sizeof(*e->tslots));
    return list;
}

void nr__tenants_free_index(nr__entry *e)
{
    nr_free(e->tslots);
    e->tslots = NULL;
    e->tnslots = 0;
}

nr_pool *nr__tenant_pool_for(nr_manager *m, nr__entry *e, const char *tenant, int *rc,
                             nr_error *err)
{
    uint64_t h = nr__id_hash(tenant);
    pthread_mutex_lock(&e->mu);
    /* Shutdown and unregister change the state under e->mu before they list
     * the pools: a pool created after that would escape them. */
    if (atomic_load_explicit(&e->state, memory_order_relaxed) != NR_RS_RUNNING) {
        pthread_mutex_unlock(&e->mu);
        *rc = nr_error_set(err, NR_ESHUTDOWN, e->id, "resource '%s' is stopping", e->id);
        return NULL;
    }
    nr__tenant_pool *t = find_locked(e, tenant, h);
    if (t) {
        t->uses++;
        nr_pool *p = t->pool;
        pthread_mutex_unlock(&e->mu);
        return p;
    }
    if (e->tn_policy.max_tenants > 0 && e->ntenants >= (uint64_t)e->tn_policy.max_tenants) {
        e->tn_refused++;
        long long max = (long long)e->tn_policy.max_tenants,
                  idle = (long long)e->tn_policy.idle_timeout_ms;
        pthread_mutex_unlock(&e->mu);
        if (idle > 0)
            *rc = nr_error_set(err, NR_EEXHAUSTED, e->id,
                               "resource '%s': tenant '%s' would be one more than max_tenants "
                               "(%lld); a tenant pool unused for idle_timeout_ms (%lld) makes room",
                               e->id, tenant, max, idle);
        else
            *rc = nr_error_set(err, NR_EEXHAUSTED, e->id,
                               "resource '%s': tenant '%s' would be one more than max_tenants "
                               "(%lld)",
                               e->id, tenant, max);
        return NULL;
    }
    t = grow_locked(e) ? nr_calloc(1, sizeof(*t)) : NULL;
    nr_scope ts;
    nr_scope_make(&ts, tenant, NULL, NULL, NULL, NULL);
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = e->id, .type = e->type, .type_ud = e->type_ud, .config = e->config,
                        .pool = &e->pool_cfg, .scope = &ts, .credential = e->cred,
                        .events = m->opts.events, .hooks = m->opts.hooks, .executor = &m->creators);
    nr__entry_histograms(m, e, &ts, &o.wait_histogram, &o.health_histogram);
    nr_error pe;
    nr_error_clear(&pe);
    int prc = NR_ENOMEM;
    if (t && (prc = nr_pool_create(&t->pool, &o, &pe)) == NR_OK && e->budget &&
        (prc = nr__pool_budget_join(t->pool, e->budget, &pe)) != NR_OK) {
        nr_pool_destroy(t->pool, NULL); /* new, never used */
        t->pool = NULL;
    }
    if (prc != NR_OK) {
        pthread_mutex_unlock(&e->mu);
        nr_free(t);
        if (!pe.code)
            nr_error_set(&pe, NR_ENOMEM, e->id, "resource '%s': out of memory", e->id);
        if (err)
            *err = pe;
        *rc = pe.code;
        return NULL;
    }
    if (e->suspended)
        nr_pool_suspend(t->pool);
    snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
    t->hash = h;
    t->uses = 1;
    t->active_ns = nr__manager_now(m);
    link_locked(e, t);
    nr_pool *p = t->pool;
    pthread_mutex_unlock(&e->mu);
    return p;
}

int nr__tenant_policy_check(const nr_resource_spec *spec, nr_tenant_policy *out,
                            nr_config_report *rep, nr_error *err)
{
    if (spec->tenants)
        *out = *spec->tenants;
    else
        nr_tenant_policy_default(out);
    nr_config_report_clear(rep);
    if (nr_config_validate(&nr_tenant_schema, out, "$.tenants", rep, NULL) != NR_OK)
        return nr_error_set(err, NR_ECONFIG, spec->id, "resource '%s': %s: %s (got %s)", spec->id,
                            rep->items[0].path, rep->items[0].rule, rep->items[0].value);
    nr_tenant_policy def;
    nr_tenant_policy_default(&def);
    if (spec->partition != NR_PARTITION_TENANT && !nr_config_equal(&nr_tenant_schema, out, &def))
        return nr_error_set(err, NR_ECONFIG, spec->id,
                            "resource '%s': $.tenants: only a tenant-partitioned resource "
                            "(partition \"tenant\") has a tenant policy",
                            spec->id);
    return NR_OK;
}

/* ---- eviction ---- */

void nr__tenants_evict_round(nr_manager *m, nr__entry *e)
{
    if (e->partition != NR_PARTITION_TENANT || nr__manager_closing(m))
        return;
    int64_t now = nr__manager_now(m);
    nr__tenant_pool *gone = NULL;
    uint32_t ngone = 0, left = 0;
    pthread_mutex_lock(&e->mu);
    int64_t timeout = e->tn_policy.idle_timeout_ms * NR_NS_PER_MS;
    if (atomic_load_explicit(&e->state, memory_order_relaxed) == NR_RS_RUNNING && timeout > 0) {
        for (nr__tenant_pool *t = e->tenants, *next; t; t = next) {
            next = t->next;
            if (t->uses != t->seen_uses) {
                t->seen_uses = t->uses;
                t->active_ns = now;
                continue;
            }
            if (now - t->active_ns < timeout)
                continue;
            nr_pool_stats st = NR_POOL_STATS_INIT;
            nr_pool_stats_get(t->pool, &st);
            if (st.in_use || st.waiters) {
                t->active_ns = now; /* a lease still out: in use after all */
                continue;
            }
            nr__tenant_unlink_locked(e, t);
            t->evicted = true;
            t->next = gone;
            gone = t;
            ngone++;
        }
        if (ngone) {
            e->tn_evicted += ngone;
            /* an acquire that found one of them before this retries on the
             * tenant's new pool (see acquire_impl) */
            atomic_fetch_add_explicit(&e->generation, 1, memory_order_release);
        }
        left = e->ntenants;
    }
    pthread_mutex_unlock(&e->mu);
    if (!gone)
        return;
    /* closed outside e->mu (that destroys their idle instances); this round
     * holds a reference on e, so the reaper leaves them alone until then */
    char text[64];
    snprintf(text, sizeof(text), "unused for %lld ms", (long long)(timeout / NR_NS_PER_MS));
    for (nr__tenant_pool *t = gone; t; t = t->next) {
        nr_pool_close(t->pool);
        nr_scope ts;
        nr_scope_make(&ts, t->tenant, NULL, NULL, NULL, NULL);
        nr__manager_event(m, NR_EV_TENANT_EVICTED, e->id, &ts, left, 0, text);
    }
    pthread_mutex_lock(&e->mu);
    nr__draining_add_locked(e, gone);
    pthread_mutex_unlock(&e->mu);
}

void nr__tenant_forget(nr_manager *m, nr__entry *e, const char *tenant)
{
    nr_metrics *reg = m->opts.metrics;
    if (!reg)
        return;
    pthread_mutex_lock(&e->mu);
    if (!find_locked(e, tenant, nr__id_hash(tenant))) {
        nr_scope ts;
        nr_scope_make(&ts, tenant, NULL, NULL, NULL, NULL);
        nr__metrics_forget_scope(m, e->id, &ts);
    }
    pthread_mutex_unlock(&e->mu);
}
