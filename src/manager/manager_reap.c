/*
 * manager_reap.c - freeing what waited for its leases.
 *
 * Two things outlive the call that stopped them while a caller still holds a
 * lease: the pools a failed start set aside (e->draining, closed) and the
 * entries an unregister gave up waiting for (m->retired). Each maintenance
 * round (background or nr_manager_tick) destroys those whose leases are
 * back; nr_manager_destroy takes the rest. Neither list grows without bound:
 * an entry stays only while one of its leases is out.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "manager/manager_internal.h"
#include "nebula/alloc.h"
#include "pool/pool_kept.h"

typedef struct nr__kept_pool {
    nr_pool *pool;
    int64_t since_ns;
    struct nr__kept_pool *next;
} nr__kept_pool;

/* Destroy p, keeping its memory on m->kept; a NULL node (no memory for
 * it) frees it at once, as nr_pool_destroy would. */
static int destroy_kept(nr_manager *m, nr_pool *p)
{
    nr__kept_pool *k = nr_malloc(sizeof(*k));
    if (!k)
        return nr_pool_destroy(p, NULL);
    if (nr__pool_destroy_keep(p, NULL) != NR_OK) {
        nr_free(k);
        return NR_EBUSY;
    }
    k->pool = p;
    k->since_ns = nr_now_ns();
    pthread_mutex_lock(&m->retired_mu);
    k->next = m->kept;
    m->kept = k;
    pthread_mutex_unlock(&m->retired_mu);
    return NR_OK;
}

/* Free the kept pools destroyed at least NR__POOL_KEEP_NS ago. */
static void free_kept(nr_manager *m, int all)
{
    int64_t now = nr_now_ns();
    nr__kept_pool *done = NULL;
    pthread_mutex_lock(&m->retired_mu);
    for (nr__kept_pool **at = &m->kept; *at;) {
        nr__kept_pool *k = *at;
        if (all || now - k->since_ns >= NR__POOL_KEEP_NS) {
            *at = k->next;
            k->next = done;
            done = k;
        } else {
            at = &k->next;
        }
    }
    pthread_mutex_unlock(&m->retired_mu);
    for (nr__kept_pool *k = done, *next; k; k = next) {
        next = k->next;
        nr__pool_free_kept(k->pool);
        nr_free(k);
    }
}

void nr__kept_free_all(nr_manager *m)
{
    free_kept(m, 1);
}

/* Destroy the pools of list that can be; returns the rest. An evicted
 * tenant's metric series go with its pool. [no lock held] */
static nr__tenant_pool *destroy_done(nr_manager *m, nr__entry *e, nr__tenant_pool *list)
{
    nr__tenant_pool *keep = NULL;
    for (nr__tenant_pool *t = list, *next; t; t = next) {
        next = t->next;
        if (destroy_kept(m, t->pool) == NR_OK) {
            if (t->evicted)
                nr__tenant_forget(m, e, t->tenant);
            nr_free(t);
            continue;
        }
        t->next = keep;
        keep = t;
    }
    return keep;
}

static void reap_draining(nr_manager *m)
{
    nr__entry **list;
    size_t n = nr__entries_snapshot(m, 0, &list, NULL);
    for (size_t i = 0; i < n; i++) {
        nr__entry *e = list[i];
        /* A draining pool is out of e's reach, but a call that found e
         * before it was set aside (an acquire, a round, a control) may still
         * hold it: only when this snapshot's reference is the only one has
         * every such call left (acquire: the reference was taken before the
         * pool was set aside, and is given back after its last use). */
        if (atomic_load_explicit(&e->refs, memory_order_acquire) != 1)
            continue;
        pthread_mutex_lock(&e->mu);
        nr__tenant_pool *d = e->draining;
        e->draining = NULL;
        pthread_mutex_unlock(&e->mu);
        if (d)
            d = destroy_done(m, e, d);
        nr__old_config *free_list = NULL;
        pthread_mutex_lock(&e->mu);
        if (d)
            nr__draining_add_locked(e, d);
        if (!e->draining) { /* no pool borrows an old config any more */
            free_list = e->old_configs;
            e->old_configs = NULL;
        }
        nr__entry_old_pipelines_free_locked(e); /* no round holds one: refs is 1 */
        pthread_mutex_unlock(&e->mu);
        for (nr__old_config *c = free_list, *next; c; c = next) {
            next = c->next;
            nr_config_free(e->type->config_schema, c->config);
            nr_free(c->config);
            nr_free(c);
        }
    }
    nr__entries_put(list, n);
}

static void reap_retired(nr_manager *m)
{
    pthread_mutex_lock(&m->retired_mu);
    nr__entry *list = m->retired;
    m->retired = NULL;
    pthread_mutex_unlock(&m->retired_mu);
    nr__entry *keep = NULL;
    for (nr__entry *e = list, *next; e; e = next) {
        next = e->retired_next;
        /* out of the registry, and nobody holds a reference any more */
        if (nr__entry_destroy_pools(e) != NR_OK) {
            e->retired_next = keep;
            keep = e;
            continue;
        }
        char id[NR_ERROR_ID_MAX];
        memcpy(id, e->id, sizeof(id));
        nr__entry_free(e);
        nr__metrics_forget(m, id);
    }
    if (!keep)
        return;
    pthread_mutex_lock(&m->retired_mu);
    nr__entry *last = keep;
    while (last->retired_next)
        last = last->retired_next;
    last->retired_next = m->retired;
    m->retired = keep;
    pthread_mutex_unlock(&m->retired_mu);
}

void nr__draining_add_locked(nr__entry *e, nr__tenant_pool *list)
{
    nr__tenant_pool *last = list;
    while (last->next)
        last = last->next;
    last->next = e->draining;
    e->draining = list;
}

void nr__reap(nr_manager *m)
{
    reap_draining(m);
    reap_retired(m);
    free_kept(m, 0);
}
