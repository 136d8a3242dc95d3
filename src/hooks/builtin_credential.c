/*
 * builtin_credential.c - the credential refresh hook: before each create of
 * a resource whose secret expires within window_ms (or has expired), fetch
 * it again so that the create uses the new one. See nebula/hooks_builtin.h.
 *
 * What a before-create call does, with the secret the resource holds now
 * (its expiry as the provider said when it was fetched):
 *
 *   no credential, never expires, or expires after now + window   nothing
 *   due: refreshed                                                 create goes on, new secret
 *   due, refresh failed, old one still valid                       create goes on, old secret;
 *                                                                  NR_EV_ERROR (by the caller
 *                                                                  that fetched)
 *   due, refresh failed, old one expired                           create refused: NR_ECRED
 *
 * Concurrent creates of one resource refresh once: the manager serialises
 * refreshes per resource and a caller that waited gets the outcome of the
 * refresh that ran meanwhile (nr__credential_refresh). The provider is
 * called with no library lock held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/abi.h"
#include "manager/manager_credential.h"
#include "nebula/alloc.h"
#include "nebula/hooks_builtin.h"

struct nr_credential_refresh {
    nr_manager *m;     /* borrowed */
    int64_t window_ms; /* [const] */
};

#define WINDOW_MAX_MS 86400000LL

void nr_credential_refresh_options_default(nr_credential_refresh_options *o)
{
    if (!o)
        return;
    nr_credential_refresh_options d = NR_CREDENTIAL_REFRESH_OPTIONS(.window_ms = 60000);
    nr__abi_default(o, &d, sizeof(d));
}

int nr_credential_refresh_create(nr_credential_refresh **out, struct nr_manager *m,
                                 const nr_credential_refresh_options *opts, nr_error *err)
{
    if (!out || !m)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_credential_refresh_create: out and the manager must not be NULL");
    *out = NULL;
    nr_credential_refresh_options o = NR_CREDENTIAL_REFRESH_OPTIONS_INIT;
    nr_credential_refresh_options_default(&o);
    if (opts) {
        int rc = NR__ABI_IN(&o, opts, nr_credential_refresh_options,
                            NR_CREDENTIAL_REFRESH_OPTIONS_INIT, err);
        if (rc != NR_OK)
            return rc;
    }
    if (o.window_ms < 0 || o.window_ms > WINDOW_MAX_MS)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "credential refresh: window_ms must be 0..86400000 (got %lld)",
                            (long long)o.window_ms);
    nr_credential_refresh *c = nr_calloc(1, sizeof(*c));
    if (!c)
        return nr_error_set(err, NR_ENOMEM, NULL, "credential refresh: out of memory");
    c->m = m;
    c->window_ms = o.window_ms;
    *out = c;
    return NR_OK;
}

void nr_credential_refresh_destroy(nr_credential_refresh *c)
{
    nr_free(c);
}

/* The cause without the "resource 'ID': credential 'REF': " that the
 * manager puts first (the event names both already). */
static const char *cause_text(const char *id, const nr__cred_info *ci, const char *message)
{
    char prefix[NR_ERROR_ID_MAX + NR__CRED_REF_TEXT + 32];
    int n = snprintf(prefix, sizeof(prefix), "resource '%s': credential '%s': ", id, ci->ref);
    if (n > 0 && (size_t)n < sizeof(prefix) && strncmp(message, prefix, (size_t)n) == 0)
        return message + n;
    return message;
}

/* NR_EV_ERROR: the refresh of id's credential failed, the old one stays.
 * Names the resource and the ref; the cause is the provider's message,
 * which never holds the value. */
static void publish_failure(nr_credential_refresh *c, const char *id, const nr__cred_info *ci,
                            int64_t left_ms, const nr_error *cause)
{
    nr_event_bus *bus = nr__manager_events(c->m);
    if (!bus)
        return;
    nr_event ev;
    nr_event_init(&ev, NR_EV_ERROR, id);
    ev.error_code = cause->code;
    char text[512];
    snprintf(text, sizeof(text), "credential '%s': refresh failed, old one valid %lld s more: %s",
             ci->ref, (long long)(left_ms / 1000), cause_text(id, ci, cause->message));
    nr_event_set_text(&ev, text);
    nr_event_publish(bus, &ev);
}

static int before_create(void *ud, const nr_hook_call *call, nr_error *err)
{
    nr_credential_refresh *c = ud;
    if (!call->resource_id)
        return NR_OK;
    nr__cred_info ci;
    if (nr__credential_info(c->m, call->resource_id, &ci, NULL) != NR_OK)
        return NR_OK; /* not one of this manager's resources */
    if (!ci.has || ci.expires_ms == 0)
        return NR_OK;
    int64_t now = nr_wall_ms();
    if (now < ci.expires_ms - c->window_ms)
        return NR_OK; /* not due */
    bool fetched = false;
    nr_error fe;
    nr_error_clear(&fe);
    int rc = nr__credential_refresh(c->m, call->resource_id, ci.attempts, &fetched, &fe);
    if (rc == NR_OK)
        return NR_OK;
    now = nr_wall_ms();
    if (now < ci.expires_ms) {
        if (fetched)
            publish_failure(c, call->resource_id, &ci, ci.expires_ms - now, &fe);
        return NR_OK; /* the old one is still valid: the create goes on with it */
    }
    return nr_error_set_cause(err, NR_ECRED, rc, fe.driver_code, call->resource_id,
                              "resource '%s': credential '%s' expired %lld s ago and could not be "
                              "refreshed: %s",
                              call->resource_id, ci.ref, (long long)((now - ci.expires_ms) / 1000),
                              cause_text(call->resource_id, &ci, fe.message));
}

void nr_credential_refresh_hook(nr_credential_refresh *c, nr_hook_def *def)
{
    if (!def)
        return;
    nr_hook_def d = NR_HOOK_DEF(.name = "credential-refresh", .ops = NR_HOOK_OP_BIT(NR_HOOK_CREATE),
                                .before = before_create, .ud = c);
    nr__abi_default(def, &d, sizeof(d));
}
