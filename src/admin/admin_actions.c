/*
 * admin_actions.c - the admin server's POST actions: the token check and
 * the controls by resource id. See nebula/admin.h for the protocol.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "admin_internal.h"
#include "nebula/secret.h"

static char *dump(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return text;
}

static char *failure(const char *action, int code, const char *message)
{
    return dump(json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "action", action, "error",
                          nr_err_name(code), "message", message));
}

static unsigned http_status_of(int code)
{
    switch (code) {
    case NR_ENOTFOUND:
        return 404;
    case NR_EINVAL:
    case NR_ECONFIG:
        return 400;
    case NR_ESTATE:
        return 409;
    case NR_ESHUTDOWN:
    case NR_EUNAVAIL:
        return 503;
    default:
        return 409;
    }
}

/* Equal contents in a time that depends only on the lengths. */
static bool same_bytes(const char *x, size_t nx, const char *y, size_t ny)
{
    volatile unsigned char diff = (unsigned char)(nx != ny);
    size_t n = nx < ny ? nx : ny;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

/* NR_OK when authorization carries the admin token; else *status and the
 * message say why (never the token, given or expected). */
static int check_token(nr_admin *a, const char *authorization, unsigned *status, char *msg,
                       size_t len)
{
    if (!a->token_ref) {
        *status = 403;
        snprintf(msg, len, "admin actions are disabled: the server has no admin token");
        return NR_EPERM;
    }
    if (!authorization || strncmp(authorization, "Bearer ", 7) != 0 || !authorization[7]) {
        *status = 401;
        snprintf(msg, len, "an admin action needs the header 'Authorization: Bearer TOKEN'");
        return NR_EPERM;
    }
    nr_secret *want = NULL;
    nr_error err = {0};
    int rc = a->o.credentials->fetch(a->o.credentials->ud, a->token_ref, &want, &err);
    if (rc != NR_OK) {
        *status = 503;
        snprintf(msg, len, "the admin token '%s' cannot be fetched: %s", a->token_ref, err.message);
        return rc;
    }
    size_t wlen = 0;
    const char *w = nr_secret_reveal(want, &wlen);
    const char *given = authorization + 7;
    bool ok = wlen > 0 && same_bytes(given, strlen(given), w, wlen);
    nr_secret_free(want);
    if (!ok) {
        *status = 403;
        snprintf(msg, len, "the admin token is wrong");
        return NR_EPERM;
    }
    return NR_OK;
}

/* A whole decimal integer in [lo, hi], or false. */
static bool parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    if (!text || !*text)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

void admin_action(nr_admin *a, const char *path, const char *authorization,
                  const char *(*arg)(void *cls, const char *key), void *cls, unsigned *status,
                  char **body)
{
    const char *action = path + strlen("/actions/");
    char msg[NR_ERROR_MESSAGE_MAX + 64];
    bool reload = !strcmp(action, "reload") && a->o.reload;
    bool known = !strcmp(action, "resize") || !strcmp(action, "suspend") ||
                 !strcmp(action, "resume") || !strcmp(action, "evict") ||
                 !strcmp(action, "release") || reload;
    if (!known) {
        *status = 404;
        snprintf(msg, sizeof(msg),
                 "no admin action '%.40s'; there are resize, suspend, resume, evict, "
                 "release%s",
                 action, a->o.reload ? " and reload" : " (and reload, when the program offers it)");
        *body = failure(action, NR_ENOTFOUND, msg);
        return;
    }
    int rc = check_token(a, authorization, status, msg, sizeof(msg));
    if (rc != NR_OK) {
        *body = failure(action, rc, msg);
        return;
    }
    if (reload) {
        char *summary = calloc(1, 4096);
        nr_error err = {0};
        rc = summary ? a->o.reload(a->o.reload_ud, summary, 4096, &err)
                     : nr_error_set(&err, NR_ENOMEM, NULL, "reload: out of memory");
        json_t *o = rc == NR_OK ? json_pack("{s:b,s:s}", "ok", 1, "action", action)
                                : json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "action", action, "error",
                                            nr_err_name(rc), "message", err.message);
        if (o && summary)
            json_object_set_new(o, "summary", json_string(summary));
        free(summary);
        *status = rc == NR_OK ? 200 : http_status_of(rc);
        *body = dump(o);
        return;
    }
    const char *id = arg(cls, "id");
    if (!id || !*id) {
        *status = 400;
        *body = failure(action, NR_EINVAL, "the query argument 'id' (a resource id) is missing");
        return;
    }
    nr_error err = {0};
    json_t *extra = NULL;
    if (!strcmp(action, "resize")) {
        int64_t max_size = 0, min_idle = -1;
        const char *mt = arg(cls, "max_size"), *nt = arg(cls, "min_idle");
        if (!parse_int(mt, 1, 1000000, &max_size)) {
            *status = 400;
            snprintf(msg, sizeof(msg),
                     "resize '%s': max_size must be an integer 1..1000000 (got '%.40s')", id,
                     mt ? mt : "");
            *body = failure(action, NR_EINVAL, msg);
            return;
        }
        if (nt && !parse_int(nt, 0, 1000000, &min_idle)) {
            *status = 400;
            snprintf(msg, sizeof(msg),
                     "resize '%s': min_idle must be an integer 0..1000000 (got '%.40s')", id, nt);
            *body = failure(action, NR_EINVAL, msg);
            return;
        }
        if (min_idle < 0) { /* keep it, as far as the new max_size allows */
            nr_resource_info ri = NR_RESOURCE_INFO_INIT;
            rc = nr_manager_resource_info(a->m, id, &ri, &err);
            min_idle = rc == NR_OK ? ri.stats.min_idle : 0;
            if (min_idle > max_size)
                min_idle = max_size;
        }
        if (rc == NR_OK)
            rc = nr_manager_resize(a->m, id, min_idle, max_size, &err);
        extra = json_pack("{s:I,s:I}", "min_idle", (json_int_t)min_idle, "max_size",
                          (json_int_t)max_size);
    } else if (!strcmp(action, "suspend")) {
        rc = nr_manager_suspend(a->m, id, &err);
    } else if (!strcmp(action, "resume")) {
        rc = nr_manager_resume(a->m, id, &err);
    } else if (!strcmp(action, "release")) {
        rc = nr_manager_release_quarantine(a->m, id, &err);
    } else {
        uint32_t evicted = 0;
        rc = nr_manager_evict_all(a->m, id, &evicted, &err);
        extra = json_pack("{s:I}", "evicted", (json_int_t)evicted);
    }
    if (rc != NR_OK) {
        json_decref(extra);
        *status = http_status_of(rc);
        *body = failure(action, rc, err.message);
        return;
    }
    json_t *o = json_pack("{s:b,s:s,s:s}", "ok", 1, "action", action, "id", id);
    if (o && extra)
        json_object_update(o, extra);
    json_decref(extra);
    *status = 200;
    *body = dump(o);
}
