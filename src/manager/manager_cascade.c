/*
 * manager_cascade.c - health along the dependency graph.
 *
 * After each health round every resource is looked at with what it depends
 * on, directly or through others. When one of those is unhealthy, the
 * resource is degraded by it: its reason names the nearest unhealthy one
 * (the root), "depends on orders-db (unhealthy: connection refused)", and
 * its acquires keep working or fail with NR_EDEPFAIL as its policy says.
 * When the root recovers, so do the resources it degraded.
 *
 * Events: one CascadeDetected per root when it starts degrading others
 * (resource = the root, count and text = what it degrades), and a
 * HealthChanged for each resource whose health as acquires see it changed
 * because of a cascade.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "base/strutil.h"
#include "manager/manager_internal.h"
#include "nebula/alloc.h"

nr_health_state nr__effective_health(const nr__entry *e)
{
    nr_health_state own = (nr_health_state)atomic_load_explicit(&e->health, memory_order_relaxed);
    if (own == NR_HEALTH_UNHEALTHY || !atomic_load_explicit(&e->dep_degraded, memory_order_relaxed))
        return own;
    return NR_HEALTH_DEGRADED;
}

/* What one update learns about one resource. */
typedef struct node {
    nr__entry *e;
    nr_health_state own;
    char reason[NR_HEALTH_REASON_MAX]; /* its own */
    size_t *deps;                      /* indexes of what it depends on (registered ones) */
    size_t ndeps;
    long root; /* index of the nearest unhealthy dependency, or -1 */
} node;

/* The index in v of the registered resource id, found through the
 * registry's map and the index each entry was given. [m->lock, cascade_mu] */
static long index_of(nr_manager *m, const node *v, size_t n, const char *id)
{
    const nr__entry *d = nr__reg_find(m, id);
    return d && d->cascade_idx < n && v[d->cascade_idx].e == d ? (long)d->cascade_idx : -1;
}

/* The nearest unhealthy resource among what v[i] depends on (breadth
 * first, in dependency order), or -1. queue and seen have room for n. */
static long nearest_root(const node *v, size_t n, size_t i, size_t *queue, unsigned char *seen)
{
    memset(seen, 0, n);
    size_t head = 0, tail = 0;
    seen[i] = 1;
    queue[tail++] = i;
    while (head < tail) {
        const node *x = &v[queue[head++]];
        for (size_t k = 0; k < x->ndeps; k++) {
            size_t d = x->deps[k];
            if (seen[d])
                continue;
            seen[d] = 1;
            if (v[d].own == NR_HEALTH_UNHEALTHY)
                return (long)d;
            queue[tail++] = d;
        }
    }
    return -1;
}

static void publish_cascade(nr_manager *m, const node *v, size_t n, size_t r)
{
    if (!m->opts.events)
        return;
    char full[1024];
    int w = snprintf(full, sizeof(full), "degrades");
    uint32_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].root != (long)r)
            continue;
        count++;
        if (w > 0 && (size_t)w < sizeof(full))
            w += snprintf(full + w, sizeof(full) - (size_t)w, "%s %s", count > 1 ? "," : "",
                          v[i].e->id);
    }
    if (w > 0 && (size_t)w < sizeof(full))
        snprintf(full + w, sizeof(full) - (size_t)w, "; unhealthy: %s", v[r].reason);
    char text[NR_EVENT_TEXT_MAX];
    nr__copy_marked(text, sizeof(text), full); /* a cut text ends in ... */
    nr_event ev;
    nr_event_init(&ev, NR_EV_CASCADE_DETECTED, v[r].e->id);
    nr_event_set_scope(&ev, &v[r].e->scope);
    ev.count = count;
    nr_event_set_text(&ev, text);
    nr_event_publish(m->opts.events, &ev);
}

void nr__cascade_update(nr_manager *m)
{
    nr__entry **list;
    size_t n = nr__entries_snapshot(m, 0, &list, NULL);
    if (!n)
        return;
    node *v = nr_calloc(n, sizeof(*v));
    size_t *queue = nr_calloc(n, sizeof(*queue));
    unsigned char *seen = nr_calloc(n, 1);
    size_t *deps = NULL, ndeps = 0;
    for (size_t i = 0; i < n; i++)
        ndeps += list[i]->ndeps;
    if (ndeps)
        deps = nr_calloc(ndeps, sizeof(*deps));
    if (!v || !queue || !seen || (ndeps && !deps))
        goto out; /* out of memory: the next round tries again */

    pthread_mutex_lock(&m->cascade_mu);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        nr__entry *e = list[i];
        v[i].e = e;
        e->cascade_idx = i;
        v[i].own = (nr_health_state)atomic_load_explicit(&e->health, memory_order_relaxed);
        if (atomic_load_explicit(&e->state, memory_order_relaxed) != NR_RS_RUNNING)
            v[i].own = NR_HEALTH_UNKNOWN; /* not started, stopping: no cascade from it */
        pthread_mutex_lock(&e->mu);
        memcpy(v[i].reason, e->health_reason, sizeof(v[i].reason));
        pthread_mutex_unlock(&e->mu);
    }
    pthread_rwlock_rdlock(&m->lock);
    for (size_t i = 0; i < n; i++) {
        v[i].deps = deps + used;
        for (size_t k = 0; k < list[i]->ndeps; k++) {
            long d = index_of(m, v, n, list[i]->deps[k]);
            if (d >= 0)
                v[i].deps[v[i].ndeps++] = (size_t)d;
        }
        used += v[i].ndeps;
    }
    pthread_rwlock_unlock(&m->lock);
    for (size_t i = 0; i < n; i++)
        v[i].root = nearest_root(v, n, i, queue, seen);

    /* apply, then tell: HealthChanged per changed resource, CascadeDetected per new root */
    for (size_t i = 0; i < n; i++) {
        nr__entry *e = v[i].e;
        nr_health_state before = nr__effective_health(e);
        char why[NR_HEALTH_REASON_MAX] = "";
        pthread_mutex_lock(&e->mu);
        if (v[i].root >= 0) {
            const node *r = &v[v[i].root];
            snprintf(e->dep_root, sizeof(e->dep_root), "%s", r->e->id);
            char full[NR_ERROR_ID_MAX + NR_HEALTH_REASON_MAX + 32];
            snprintf(full, sizeof(full), "depends on %s (unhealthy: %s)", r->e->id, r->reason);
            nr__copy_marked(e->dep_reason, sizeof(e->dep_reason), full); /* cut ends in ... */
            atomic_store_explicit(&e->dep_degraded, 1, memory_order_relaxed);
            memcpy(why, e->dep_reason, sizeof(why));
        } else {
            e->dep_root[0] = '\0';
            e->dep_reason[0] = '\0';
            atomic_store_explicit(&e->dep_degraded, 0, memory_order_relaxed);
            memcpy(why, e->health_reason, sizeof(why));
        }
        pthread_mutex_unlock(&e->mu);
        nr_health_state after = nr__effective_health(e);
        if (after != before)
            nr__health_event(m, e, before, after, why);
    }
    for (size_t r = 0; r < n; r++) {
        uint32_t count = 0;
        for (size_t i = 0; i < n; i++)
            count += v[i].root == (long)r;
        if (count && !v[r].e->degrades)
            publish_cascade(m, v, n, r);
        v[r].e->degrades = count;
    }
    pthread_mutex_unlock(&m->cascade_mu);
out:
    nr_free(v);
    nr_free(queue);
    nr_free(seen);
    nr_free(deps);
    nr__entries_put(list, n);
}
