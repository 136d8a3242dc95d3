/*
 * secret_cache.c - a provider over a secret store whose secrets expire:
 * each ref's secret is kept until its expiry, and refreshed (and rotated
 * into a manager) shortly before. See nebula/credential_sources.h.
 *
 * The store and the manager are always called with c->mu released.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nebula/credential_sources.h"

typedef struct cached {
    char *ref;
    nr_secret *value;
    int64_t expires_ms; /* 0: never */
    struct cached *next;
} cached;

struct nr_secret_cache {
    nr_secret_store store;
    int64_t refresh_before_ms;
    pthread_mutex_t mu;
    cached *list; /* [mu] */
};

int nr_secret_cache_create(nr_secret_cache **out, const nr_secret_store *store,
                           int64_t refresh_before_ms, nr_error *err)
{
    *out = NULL;
    if (!store || !store->fetch)
        return nr_error_set(err, NR_EINVAL, NULL, "secret cache: the store has no fetch");
    if (refresh_before_ms < 0 || refresh_before_ms > 86400000)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "secret cache: refresh_before_ms must be 0..86400000 (got %lld)",
                            (long long)refresh_before_ms);
    nr_secret_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return nr_error_set(err, NR_ENOMEM, NULL, "secret cache: out of memory");
    c->store = *store;
    c->refresh_before_ms = refresh_before_ms;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return NR_OK;
}

void nr_secret_cache_destroy(nr_secret_cache *c)
{
    if (!c)
        return;
    for (cached *e = c->list, *next; e; e = next) {
        next = e->next;
        free(e->ref);
        nr_secret_free(e->value);
        free(e);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static cached *find_locked(nr_secret_cache *c, const char *ref)
{
    for (cached *e = c->list; e; e = e->next)
        if (strcmp(e->ref, ref) == 0)
            return e;
    return NULL;
}

/* Fetch ref from the store and keep it (a copy goes to *out when out is not
 * NULL). */
static int fetch_and_keep(nr_secret_cache *c, const char *ref, nr_secret **out, nr_error *err)
{
    nr_secret *v = NULL;
    int64_t expires = 0;
    int rc = c->store.fetch(c->store.ud, ref, &v, &expires, err);
    if (rc != NR_OK)
        return rc;
    if (!v)
        return nr_error_set(err, NR_ECRED, NULL, "credential '%s': the store returned no secret",
                            ref);
    if (expires != 0 && expires <= nr_wall_ms()) {
        nr_secret_free(v);
        return nr_error_set(err, NR_ECRED, NULL,
                            "credential '%s': the store returned a secret that has already expired",
                            ref);
    }
    nr_secret *copy = NULL;
    if (out && (rc = nr_secret_dup(&copy, v, err)) != NR_OK) {
        nr_secret_free(v);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    cached *e = find_locked(c, ref);
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (e && !(e->ref = strdup(ref))) {
            free(e);
            e = NULL;
        }
        if (e) {
            e->next = c->list;
            c->list = e;
        }
    }
    if (e) {
        nr_secret_free(e->value);
        e->value = v;
        e->expires_ms = expires;
        v = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    nr_secret_free(v); /* not kept when the cache ran out of memory: still handed out */
    if (out)
        *out = copy;
    return NR_OK;
}

/* [mu] Whether e's secret is due for a refresh at wall time now. */
static bool due_locked(const nr_secret_cache *c, const cached *e, int64_t now)
{
    return e->expires_ms && now >= e->expires_ms - c->refresh_before_ms;
}

/*
 * The cached secret while it is not due; once due (within refresh_before_ms
 * of its expiry) a fetch from the store, or the cached one again when the
 * store fails and it has not expired; once expired only a fetch from the
 * store.
 */
static int fetch_cached(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    nr_secret_cache *c = ud;
    int64_t now = nr_wall_ms();
    pthread_mutex_lock(&c->mu);
    cached *e = find_locked(c, ref);
    bool valid = e && e->value && (e->expires_ms == 0 || now < e->expires_ms);
    bool due = !valid || due_locked(c, e, now);
    int rc = valid && !due ? nr_secret_dup(out, e->value, err) : NR_OK;
    pthread_mutex_unlock(&c->mu);
    if (!due)
        return rc;
    nr_error fe;
    nr_error_clear(&fe);
    rc = fetch_and_keep(c, ref, out, &fe);
    if (rc == NR_OK || !valid) {
        if (rc != NR_OK && err)
            *err = fe;
        return rc;
    }
    /* the store failed while the cached secret is still valid: that one */
    pthread_mutex_lock(&c->mu);
    e = find_locked(c, ref);
    rc = NR_ENOTFOUND;
    if (e && e->value && (e->expires_ms == 0 || nr_wall_ms() < e->expires_ms))
        rc = nr_secret_dup(out, e->value, err);
    pthread_mutex_unlock(&c->mu);
    if (rc == NR_ENOTFOUND && err)
        *err = fe;
    return rc == NR_ENOTFOUND ? fe.code : rc;
}

/* When ref's cached secret expires; a ref not cached yet is fetched first. */
static int expiry_cached(void *ud, const char *ref, int64_t *expires_ms, nr_error *err)
{
    nr_secret_cache *c = ud;
    for (int round = 0; round < 2; round++) {
        pthread_mutex_lock(&c->mu);
        cached *e = find_locked(c, ref);
        bool found = e && e->value;
        if (found)
            *expires_ms = e->expires_ms;
        pthread_mutex_unlock(&c->mu);
        if (found)
            return NR_OK;
        int rc = round == 0 ? fetch_and_keep(c, ref, NULL, err) : NR_OK;
        if (rc != NR_OK)
            return rc;
    }
    return nr_error_set(err, NR_ENOMEM, NULL, "credential '%s': out of memory for the cache", ref);
}

nr_credential_provider nr_secret_cache_provider(nr_secret_cache *c)
{
    return (nr_credential_provider){.fetch = fetch_cached, .ud = c, .expiry = expiry_cached};
}

int64_t nr_secret_cache_next_refresh_ms(nr_secret_cache *c)
{
    int64_t next = 0;
    pthread_mutex_lock(&c->mu);
    for (cached *e = c->list; e; e = e->next)
        if (e->expires_ms && (!next || e->expires_ms - c->refresh_before_ms < next))
            next = e->expires_ms - c->refresh_before_ms;
    pthread_mutex_unlock(&c->mu);
    return next;
}

int nr_secret_cache_refresh(nr_secret_cache *c, nr_manager *m, uint32_t *rotated, nr_error *err)
{
    if (rotated)
        *rotated = 0;
    /* the due refs, copied: the store and the manager are called unlocked */
    size_t n = 0, cap = 0;
    char **due = NULL;
    int rc = NR_OK;
    int64_t now = nr_wall_ms();
    pthread_mutex_lock(&c->mu);
    for (cached *e = c->list; e; e = e->next) {
        if (!due_locked(c, e, now))
            continue;
        if (n == cap) {
            char **v = realloc(due, (cap = cap ? cap * 2 : 4) * sizeof(*v));
            if (!v) {
                rc = NR_ENOMEM;
                break;
            }
            due = v;
        }
        if (!(due[n] = strdup(e->ref))) {
            rc = NR_ENOMEM;
            break;
        }
        n++;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == NR_ENOMEM)
        rc = nr_error_set(err, NR_ENOMEM, NULL, "secret cache: out of memory");
    for (size_t i = 0; i < n; i++) {
        nr_error e1 = {0};
        int r = fetch_and_keep(c, due[i], NULL, &e1);
        if (r == NR_OK) {
            if (rotated)
                (*rotated)++;
            if (m) {
                r = nr_manager_rotate_credential(m, due[i], &e1);
                if (r == NR_ENOTFOUND)
                    r = NR_OK; /* no resource uses it */
            }
        }
        if (r != NR_OK && rc == NR_OK) {
            rc = r;
            if (err)
                *err = e1;
        }
        free(due[i]);
    }
    free(due);
    return rc;
}
