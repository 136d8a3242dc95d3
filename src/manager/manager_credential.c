/*
 * manager_credential.c - a resource's credential: fetched with its expiry
 * (start, rotation, refresh), rotated into every resource that uses a ref
 * (retiring what the old one made), refreshed one resource at a time for
 * the credential refresh hook (keeping what the old one made).
 *
 * Locks: the provider is called with no lock held but a refreshed entry's
 * refresh_mu (see manager_internal.h); a new secret is handed to the pools
 * outside every manager lock.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "base/strutil.h"
#include "manager/manager_credential.h"
#include "manager/manager_internal.h"
#include "nebula/alloc.h"
#include "observe/span.h"
#include "pool/pool_credential.h"

int nr__credential_fetch(nr_manager *m, const char *id, const char *ref, nr_secret **out,
                         int64_t *expires_ms, nr_error *err)
{
    *out = NULL;
    *expires_ms = 0;
    const nr_credential_provider *cp = m->opts.credentials;
    if (!cp || !cp->fetch)
        return id ? nr_error_set(err, NR_ECRED, id,
                                 "resource '%s' needs credential '%s' but the manager has no "
                                 "credential provider",
                                 id, ref)
                  : nr_error_set(err, NR_ECRED, NULL,
                                 "credential '%s': the manager has no credential provider", ref);
    nr_secret *s = NULL;
    int64_t expires = 0;
    nr_error ce;
    nr_error_clear(&ce);
    int rc = cp->fetch(cp->ud, ref, &s, &ce);
    if (rc == NR_OK && !s)
        rc = nr_error_set(&ce, NR_ECRED, NULL, "the provider gave no secret");
    if (rc == NR_OK && cp->expiry && (rc = cp->expiry(cp->ud, ref, &expires, &ce)) != NR_OK &&
        !ce.message[0])
        nr_error_set(&ce, rc, NULL, "the provider cannot say when it expires");
    if (rc == NR_OK && expires != 0 && expires <= nr_wall_ms())
        rc = nr_error_set(&ce, NR_ECRED, NULL,
                          "the provider gave a secret that has already expired");
    if (rc != NR_OK) {
        nr_secret_free(s);
        const char *why = ce.message[0] ? ce.message : "the provider gave no secret";
        return id ? nr_error_set_cause(err, rc, rc, ce.driver_code, id,
                                       "resource '%s': credential '%s': %s", id, ref, why)
                  : nr_error_set_cause(err, rc, rc, ce.driver_code, NULL, "credential '%s': %s",
                                       ref, why);
    }
    *out = s;
    *expires_ms = expires;
    return NR_OK;
}

/* Give s (borrowed) to e and its pools: e keeps a copy with its expiry; each
 * pool copies it for its next creates, retiring the old one's instances when
 * asked. NR_ENOMEM (what was handed over stays). [no lock held] */
static int hand_over(nr__entry *e, const nr_secret *s, int64_t expires, bool retire,
                     const char *ref, nr_error *err)
{
    nr_secret *copy = NULL;
    if (nr_secret_dup(&copy, s, NULL) != NR_OK)
        return nr_error_set(err, NR_ENOMEM, e->id, "credential '%s': out of memory", ref);
    pthread_mutex_lock(&e->mu);
    nr_secret_free(e->cred);
    e->cred = copy; /* a pool made from now on starts with it */
    /* a refresh from a warm-up create's hook: that pool is not e->pool yet,
     * and it lives until the create that called here has returned */
    nr_pool *warming = e->warming;
    pthread_mutex_unlock(&e->mu);
    int rc = NR_OK;
    if (warming && nr__pool_replace_credential(warming, s, retire, NULL) != NR_OK)
        rc = nr_error_set(err, NR_ENOMEM, e->id, "credential '%s': out of memory", ref);
    size_t np;
    nr_pool **pools = nr__entry_pools(e, &np);
    for (size_t k = 0; k < np; k++)
        if (nr__pool_replace_credential(pools[k], s, retire, NULL) != NR_OK)
            rc = nr_error_set(err, NR_ENOMEM, e->id, "credential '%s': out of memory", ref);
    nr_free(pools);
    /* The new expiry only now that every pool creates with the new secret:
     * the refresh hook skips a refresh when the expiry is far, and a create
     * that saw the new expiry while its pool still held the old secret
     * would log in with the old one (nr__credential_info). */
    pthread_mutex_lock(&e->mu);
    e->cred_expires_ms = expires;
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- rotation ------------------------------------------------------------------------------ */

static int rotate_impl(nr_manager *m, const char *ref, bool only_changed, uint32_t *changed,
                       nr_error *err);

int nr_manager_rotate_credential(nr_manager *m, const char *ref, nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "rotate_credential", NULL, NULL, NULL);
    int rc = rotate_impl(m, ref, false, NULL, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

int nr_manager_reread_credential(nr_manager *m, const char *ref, uint32_t *changed, nr_error *err)
{
    if (changed)
        *changed = 0;
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "rotate_credential", NULL, NULL, NULL);
    int rc = rotate_impl(m, ref, true, changed, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

/* Whether e's secret is s already. */
static bool holds(nr__entry *e, const nr_secret *s)
{
    pthread_mutex_lock(&e->mu);
    bool same = e->cred && nr_secret_equal(e->cred, s);
    pthread_mutex_unlock(&e->mu);
    return same;
}

static int rotate_impl(nr_manager *m, const char *ref, bool only_changed, uint32_t *changed,
                       nr_error *err)
{
    if (!m || !ref)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_rotate_credential: arguments must not be NULL");
    nr_secret *s = NULL;
    int64_t expires = 0;
    int rc = nr__credential_fetch(m, NULL, ref, &s, &expires, err);
    if (rc != NR_OK)
        return rc;
    /* Hand the secret to the pools of its users outside every manager lock
     * (that destroys idle instances); each is held by a reference. */
    nr__entry **list;
    size_t n = nr__entries_snapshot(m, 0, &list, NULL), nusers = 0;
    rc = NR_OK;
    for (size_t i = 0; i < n; i++) {
        nr__entry *e = list[i];
        if (!e->cred_ref || strcmp(e->cred_ref, ref) != 0) /* [const] after register */
            continue;
        nusers++;
        if (rc != NR_OK || (only_changed && holds(e, s)))
            continue;
        rc = hand_over(e, s, expires, true, ref, err);
        if (rc == NR_OK && changed)
            (*changed)++;
    }
    nr__entries_put(list, n);
    nr_secret_free(s);
    if (rc == NR_OK && nusers == 0)
        rc = nr_error_set(err, NR_ENOTFOUND, NULL, "credential '%s' is used by no resource", ref);
    return rc;
}

/* ---- refresh, for the credential refresh hook ----------------------------------------------- */

int nr__credential_info(nr_manager *m, const char *id, nr__cred_info *out, nr_error *err)
{
    memset(out, 0, sizeof(*out));
    nr__entry *e = nr__entry_find_ref(m, id, err);
    if (!e)
        return NR_ENOTFOUND;
    if (e->cred_ref) { /* [const] after register */
        out->has = true;
        nr__copy_marked(out->ref, sizeof(out->ref), e->cred_ref);
        pthread_mutex_lock(&e->mu);
        out->expires_ms = e->cred_expires_ms;
        out->attempts = e->cred_attempts;
        pthread_mutex_unlock(&e->mu);
    }
    nr__entry_put(e);
    return NR_OK;
}

int nr__credential_refresh(nr_manager *m, const char *id, uint64_t attempts, bool *fetched,
                           nr_error *err)
{
    if (fetched)
        *fetched = false;
    nr__entry *e = nr__entry_find_ref(m, id, err);
    if (!e)
        return NR_ENOTFOUND;
    int rc;
    if (!e->cred_ref) {
        rc = nr_error_set(err, NR_ENOTFOUND, e->id, "resource '%s' has no credential", e->id);
        nr__entry_put(e);
        return rc;
    }
    pthread_mutex_lock(&e->refresh_mu);
    pthread_mutex_lock(&e->mu);
    bool tried = e->cred_attempts != attempts;
    nr_error last = e->cred_refresh_err;
    rc = e->cred_refresh_rc;
    pthread_mutex_unlock(&e->mu);
    if (tried) { /* another caller refreshed while this one waited: its outcome */
        if (rc != NR_OK && err)
            *err = last;
    } else {
        nr_secret *s = NULL;
        int64_t expires = 0;
        nr_error fe;
        nr_error_clear(&fe);
        rc = nr__credential_fetch(m, e->id, e->cred_ref, &s, &expires, &fe);
        if (rc == NR_OK)
            rc = hand_over(e, s, expires, false, e->cred_ref, &fe);
        nr_secret_free(s);
        pthread_mutex_lock(&e->mu);
        e->cred_attempts++;
        e->cred_refresh_rc = rc;
        e->cred_refresh_err = fe;
        pthread_mutex_unlock(&e->mu);
        if (fetched)
            *fetched = true;
        if (rc != NR_OK && err)
            *err = fe;
    }
    pthread_mutex_unlock(&e->refresh_mu);
    nr__entry_put(e);
    return rc;
}

nr_event_bus *nr__manager_events(const nr_manager *m)
{
    return m->opts.events;
}
