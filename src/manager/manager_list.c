/*
 * manager_list.c - enumerating the manager's resources and the tenant pools
 * of a tenant-partitioned one, for programs (an admin page) that show them
 * without being told what was registered.
 *
 * Both walks take a snapshot first and call back afterwards, so the
 * callback runs with no lock held and holds up nothing:
 *   resources  the descriptions are copied under m->lock (read), which keeps
 *              every listed entry alive; what a description points to (its
 *              dependency ids, its credential reference) is copied into one
 *              buffer owned by the walk. No entry reference is taken.
 *   tenants    the entry is found with a reference (so its pools stay alive),
 *              its tenant list is copied under e->mu, each pool's statistics
 *              are read with no manager lock held, and the reference is given
 *              back before the first callback: the callback may even
 *              unregister the resource.
 * And one resource's description (nr_manager_resource_info) and the count.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "base/strutil.h"
#include "base/abi.h"
#include "manager/manager_internal.h"
#include "pool/pool_budget.h"
#include "nebula/alloc.h"

/* ---- resources ---------------------------------------------------------------------------- */

typedef struct resource_snap {
    nr_resource_desc *descs;
    size_t n;
    const char **ptrs; /* every description's deps, one run after another */
    char *text;        /* the strings deps and credential_ref point into */
} resource_snap;

static void resource_snap_free(resource_snap *s)
{
    nr_free(s->descs);
    nr_free(s->ptrs);
    nr_free(s->text);
    memset(s, 0, sizeof(*s));
}

/* Copy str into the text buffer at *t and return the copy. */
static const char *put_text(char **t, const char *str)
{
    size_t len = strlen(str) + 1;
    char *copy = *t;
    memcpy(copy, str, len);
    *t += len;
    return copy;
}

/* Fill d from e; its strings go to *p and *t, which move past them. [lock] */
static void describe(const nr__entry *e, nr_resource_desc *d, const char ***p, char **t)
{
    nr__copy_marked(d->id, sizeof(d->id), e->id);
    nr__copy_marked(d->type, sizeof(d->type), e->type->name);
    d->scope = e->scope;
    nr_scope_format(&e->scope, d->scope_text, sizeof(d->scope_text)); /* always fits */
    d->partition = e->partition;
    d->ndeps = e->ndeps;
    d->deps = e->ndeps ? *p : NULL;
    for (size_t k = 0; k < e->ndeps; k++)
        (*p)[k] = put_text(t, e->deps[k]);
    *p += e->ndeps;
    d->has_credential = e->cred_ref != NULL;
    d->credential_ref = e->cred_ref ? put_text(t, e->cred_ref) : NULL;
}

/* Every registered entry's description, in registration order. NR_ENOMEM. */
static int resources_snapshot(nr_manager *m, resource_snap *s, nr_error *err)
{
    memset(s, 0, sizeof(*s));
    pthread_rwlock_rdlock(&m->lock);
    size_t nptrs = 0, nbytes = 0;
    for (size_t i = 0; i < m->count; i++) {
        const nr__entry *e = m->list[i];
        nptrs += e->ndeps;
        for (size_t k = 0; k < e->ndeps; k++)
            nbytes += strlen(e->deps[k]) + 1;
        if (e->cred_ref)
            nbytes += strlen(e->cred_ref) + 1;
    }
    s->n = m->count;
    s->descs = s->n ? nr_calloc(s->n, sizeof(*s->descs)) : NULL;
    s->ptrs = nptrs ? nr_calloc(nptrs, sizeof(*s->ptrs)) : NULL;
    s->text = nbytes ? nr_malloc(nbytes) : NULL;
    if ((s->n && !s->descs) || (nptrs && !s->ptrs) || (nbytes && !s->text)) {
        pthread_rwlock_unlock(&m->lock);
        resource_snap_free(s);
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_manager_each_resource: out of memory");
    }
    const char **p = s->ptrs;
    char *t = s->text;
    for (size_t i = 0; i < s->n; i++)
        describe(m->list[i], &s->descs[i], &p, &t);
    pthread_rwlock_unlock(&m->lock);
    return NR_OK;
}

int nr_manager_each_resource(nr_manager *m, int (*fn)(void *ud, const nr_resource_desc *d),
                             void *ud, nr_error *err)
{
    if (!m || !fn)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_each_resource: manager and fn must not be NULL");
    resource_snap s;
    int rc = resources_snapshot(m, &s, err);
    if (rc != NR_OK)
        return rc;
    for (size_t i = 0; i < s.n && rc == 0; i++)
        rc = fn(ud, &s.descs[i]);
    resource_snap_free(&s);
    return rc;
}

/* ---- tenants ------------------------------------------------------------------------------ */

typedef struct tenant_row {
    char tenant[NR_SCOPE_ID_MAX];
    nr_pool *pool; /* valid only while the entry's reference is held */
    nr_pool_stats st;
} tenant_row;

/* e's tenant pools, oldest first, with their statistics, as an nr_malloc'd
 * array of *n rows. NR_ENOMEM. [e->refs held, no lock held] */
static int tenants_snapshot(nr__entry *e, tenant_row **out, size_t *n, nr_error *err)
{
    pthread_mutex_lock(&e->mu);
    size_t count = 0;
    for (const nr__tenant_pool *t = e->tenants; t; t = t->next)
        count++;
    tenant_row *rows = count ? nr_calloc(count, sizeof(*rows)) : NULL;
    if (count && !rows) {
        pthread_mutex_unlock(&e->mu);
        return nr_error_set(err, NR_ENOMEM, e->id, "resource '%s': out of memory", e->id);
    }
    /* the list is newest first */
    size_t k = count;
    for (const nr__tenant_pool *t = e->tenants; t; t = t->next) {
        k--;
        memcpy(rows[k].tenant, t->tenant, sizeof(rows[k].tenant));
        rows[k].pool = t->pool;
    }
    pthread_mutex_unlock(&e->mu);
    /* Pools are destroyed only once nobody holds a reference on e. */
    for (size_t i = 0; i < count; i++) {
        rows[i].st.size = sizeof(rows[i].st);
        nr_pool_stats_get(rows[i].pool, &rows[i].st);
    }
    *out = rows;
    *n = count;
    return NR_OK;
}

int nr_manager_each_tenant(nr_manager *m, const char *id,
                           int (*fn)(void *ud, const char *tenant, const nr_pool_stats *st),
                           void *ud, nr_error *err)
{
    if (!m || !id || !fn)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_each_tenant: manager, id and fn must not be NULL");
    nr__entry *e = nr__entry_find_ref(m, id, err);
    if (!e)
        return NR_ENOTFOUND;
    if (e->partition != NR_PARTITION_TENANT) {
        int rc = nr_error_set(err, NR_EINVAL, e->id,
                              "resource '%s' is not tenant-partitioned: it has one pool for every "
                              "caller (see nr_manager_resource_info)",
                              e->id);
        nr__entry_put(e);
        return rc;
    }
    tenant_row *rows = NULL;
    size_t n = 0;
    int rc = tenants_snapshot(e, &rows, &n, err);
    nr__entry_put(e);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(ud, rows[i].tenant, &rows[i].st);
    nr_free(rows);
    return rc;
}

/* ---- describing ----------------------------------------------------------------------- */

static int resource_info(nr_manager *m, const char *id, nr_resource_info *out, nr_error *err);

int nr_manager_resource_info(nr_manager *m, const char *id, nr_resource_info *out, nr_error *err)
{
    if (!m || !id || !out)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_resource_info: arguments must not be NULL");
    int rc = NR__ABI_OUT_CHECK(out, nr_resource_info, NR_RESOURCE_INFO_INIT, err);
    if (rc != NR_OK)
        return rc;
    nr_resource_info full;
    rc = resource_info(m, id, &full, err);
    if (rc != NR_OK)
        return rc;
    /* stats comes last: say how much of it the caller's size holds */
    size_t n = out->size < sizeof(full) ? out->size : sizeof(full);
    size_t at = offsetof(nr_resource_info, stats);
    full.stats.size = n > at ? n - at : 0;
    nr__abi_out(out, &full, sizeof(full));
    return NR_OK;
}

static int resource_info(nr_manager *m, const char *id, nr_resource_info *out, nr_error *err)
{
    nr__entry *e = nr__entry_find_ref(m, id, err);
    if (!e)
        return NR_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    out->stats.size = sizeof(out->stats);
    snprintf(out->id, sizeof(out->id), "%s", e->id);
    snprintf(out->type, sizeof(out->type), "%s", e->type->name);
    pthread_mutex_lock(&e->mu);
    out->state = (nr_resource_state)atomic_load(&e->state);
    out->own_health = (nr_health_state)atomic_load(&e->health);
    out->health = nr__effective_health(e);
    memcpy(out->health_reason, e->health_reason, sizeof(out->health_reason));
    if (out->health != out->own_health) /* degraded by a cascade */
        memcpy(out->health_reason, e->dep_reason, sizeof(out->health_reason));
    memcpy(out->root_cause, e->dep_root, sizeof(out->root_cause));
    out->on_dependency_failure =
        (nr_dep_policy)atomic_load_explicit(&e->dep_policy, memory_order_relaxed);
    out->quarantine = (nr_quarantine_state)atomic_load(&e->q_state);
    if (out->quarantine != NR_QUARANTINE_NONE) {
        out->quarantine_attempt = e->q_attempt;
        out->quarantine_until_ms = out->quarantine == NR_QUARANTINE_ON ? e->q_due_wall_ms : 0;
    }
    out->consecutive_failures = e->fails;
    out->consecutive_successes = e->succs;
    out->last_error = e->last_error;
    out->autoscale = e->as_state;
    if (e->partition == NR_PARTITION_TENANT) {
        out->tenant_policy = e->tn_policy;
        out->tenants_evicted = e->tn_evicted;
        out->tenants_refused = e->tn_refused;
    }
    pthread_mutex_unlock(&e->mu);
    if (e->budget && out->tenant_policy.max_total > 0)
        nr__budget_counts(e->budget, &out->total_held, &out->total_waiting);
    size_t n;
    nr_pool **pools = nr__entry_pools(e, &n);
    out->pools = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        nr_pool_stats s = NR_POOL_STATS_INIT;
        nr_pool_stats_get(pools[i], &s);
        nr_pool_stats_add(&out->stats, &s);
    }
    nr_free(pools);
    nr__entry_put(e);
    return NR_OK;
}

size_t nr_manager_count(nr_manager *m)
{
    pthread_rwlock_rdlock(&m->lock);
    size_t n = m->count;
    pthread_rwlock_unlock(&m->lock);
    return n;
}
