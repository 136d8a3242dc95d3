/*
 * mongo_driver.c - nr_mongo_type: create, validate, recycle, health check and
 * destroy of one single-threaded mongoc_client_t.
 *
 * The URI is built with libmongoc's own parser and setters; the password
 * (from ctx->credential) goes in through mongoc_uri_set_password only and is
 * never formatted into a string of ours. Messages show nr_mongo_describe()'s
 * form of the target, and every libmongoc message put into an error during
 * create is scrubbed of the password.
 */
#define _POSIX_C_SOURCE 200809L
#include "nebula/mongo.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mongo_internal.h"
#include "nebula/alloc.h"
#include "nebula/cancel.h"
#include "nebula/time.h"

#define MONGO_CONN_MAGIC 0x4E524D4F4E474F31ULL /* "NRMONGO1" */
#define MONGO_CONN_DEAD  0xDEADDEADDEADDEADULL

/* Room for the printable target in messages (cut with "..." beyond). */
#define TARGET_MAX 160
/* Room for a user name in messages. */
#define USER_MAX 64

/* MongoDB's AuthenticationFailed server error code. */
#define SERVER_AUTH_FAILED 18

struct nr_mongo_conn {
    uint64_t magic; /* MONGO_CONN_MAGIC while open */
    mongoc_client_t *client;
    mongoc_read_prefs_t *prefs; /* primaryPreferred, for the ping */
    int64_t health_timeout_ms;
    char *database; /* config.database copy, or NULL */
    char id[NR_ERROR_ID_MAX];
    char target[TARGET_MAX];
};

/* ---- library initialisation --------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_mongoc(void)
{
    /* Never undone here: see "Library initialisation" in nebula/mongo.h. */
    mongoc_init();
}

/* ---- helpers ---------------------------------------------------------------------- */

static const char *show(const char *s)
{
    return s ? s : "";
}

/* The library's code for a libmongoc error. */
static int map_error(const bson_error_t *e)
{
    switch (e->domain) {
    case MONGOC_ERROR_CLIENT:
        if (e->code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
            return NR_ECRED;
        return NR_EUNAVAIL;
    case MONGOC_ERROR_SASL:
    case MONGOC_ERROR_SCRAM:
        return NR_ECRED;
    case MONGOC_ERROR_SERVER:
        return e->code == SERVER_AUTH_FAILED ? NR_ECRED : NR_EUNAVAIL;
    case MONGOC_ERROR_STREAM:
    case MONGOC_ERROR_SERVER_SELECTION:
    case MONGOC_ERROR_PROTOCOL:
        return NR_EUNAVAIL;
    default:
        return NR_EUNAVAIL;
    }
}

/* Milliseconds left before d, rounded up, capped at cap; cap when d is unset. */
static int32_t capped_ms(nr_deadline d, int64_t cap)
{
    if (!nr_deadline_is_set(d) || d.at_ns == NR_DEADLINE_NEVER)
        return (int32_t)cap;
    int64_t ns = nr_deadline_remaining_ns(d);
    int64_t ms = (ns + NR_NS_PER_MS - 1) / NR_NS_PER_MS;
    if (ms < 1)
        ms = 1;
    return (int32_t)(ms < cap ? ms : cap);
}

static void conn_free(nr_mongo_conn *c)
{
    if (!c)
        return;
    if (c->client)
        mongoc_client_destroy(c->client);
    if (c->prefs)
        mongoc_read_prefs_destroy(c->prefs);
    nr_free(c->database);
    c->client = NULL;
    c->prefs = NULL;
    c->magic = MONGO_CONN_DEAD;
    nr_free(c);
}

/* What create reports when its cancel token is set or its deadline passed;
 * NR_OK when neither. */
static int check_stop(nr_error *err, const nr_mongo_conn *c, nr_deadline deadline,
                      const nr_cancel *cancel, const char *when)
{
    if (nr_cancel_is_set(cancel))
        return nr_error_set(err, NR_ECANCELED, c->id, "mongo '%s': canceled %s %s", c->id, when,
                            c->target);
    if (nr_deadline_expired(deadline))
        return nr_error_set(err, NR_ETIMEDOUT, c->id, "mongo '%s': deadline passed %s %s", c->id,
                            when, c->target);
    return NR_OK;
}

/* Copy libmongoc's message, without the password. */
static void mongo_message(char *dst, size_t n, const bson_error_t *e, const char *pw, size_t pwlen)
{
    snprintf(dst, n, "%s", e->message[0] ? e->message : "(no message)");
    nr__mongo_scrub(dst, n, pw, pwlen);
}

/* ---- create / destroy ---------------------------------------------------------------- */

/* Everything create needs besides the config; the password is borrowed from
 * ctx->credential for the duration of the call. */
typedef struct create_args {
    const nr_mongo_config *cfg;
    const char *id;
    nr_deadline deadline;
    const nr_cancel *cancel;
    const char *pw;
    size_t pwlen;
    char user[USER_MAX];
} create_args;

static int build_uri(mongoc_uri_t **out, nr_mongo_conn *c, const create_args *a, nr_error *err)
{
    const nr_mongo_config *cfg = a->cfg;
    bson_error_t be;
    memset(&be, 0, sizeof(be));
    mongoc_uri_t *uri = NULL;
    char msg[sizeof(be.message)];

    if (cfg->uri) {
        uri = mongoc_uri_new_with_error(cfg->uri, &be);
    } else {
        /* hosts carries no credential (its syntax rule allows none) */
        size_t len = strlen(cfg->hosts) + sizeof("mongodb:///");
        char *s = nr_malloc(len);
        if (!s)
            return nr_error_set(err, NR_ENOMEM, c->id, "mongo '%s': out of memory for the URI",
                                c->id);
        snprintf(s, len, "mongodb://%s/", cfg->hosts);
        uri = mongoc_uri_new_with_error(s, &be);
        nr_free(s);
    }
    if (!uri) {
        mongo_message(msg, sizeof(msg), &be, a->pw, a->pwlen);
        return nr_error_set_cause(err, NR_ECONFIG, NR_OK, (long)be.code, c->id,
                                  "mongo '%s': %s is not accepted by libmongoc: %s", c->id,
                                  cfg->uri ? "uri" : "hosts", msg);
    }
    if (mongoc_uri_get_password(uri) || mongoc_uri_get_username(uri)) {
        mongoc_uri_destroy(uri);
        return nr_error_set(err, NR_ECONFIG, c->id,
                            "mongo '%s': uri must not contain credentials (set username; the "
                            "password comes from the credential provider)",
                            c->id);
    }

    const char *field = NULL;
    bool ok = true;
    if (ok && cfg->database && !(ok = mongoc_uri_set_database(uri, cfg->database)))
        field = "database";
    if (ok && cfg->auth_source && !(ok = mongoc_uri_set_auth_source(uri, cfg->auth_source)))
        field = "auth_source";
    if (ok && cfg->username && !(ok = mongoc_uri_set_username(uri, cfg->username)))
        field = "username";
    /* on the URI, not the client: it overrides an appname option of uri */
    if (ok && !(ok = mongoc_uri_set_appname(uri, cfg->app_name ? cfg->app_name
                                                               : NR_MONGO_DEFAULT_APPNAME)))
        field = "app_name";
    if (!ok) {
        mongoc_uri_destroy(uri);
        return nr_error_set(err, NR_ECONFIG, c->id,
                            "mongo '%s': %s is refused by libmongoc (it must be valid UTF-8; "
                            "app_name at most 128 bytes)",
                            c->id, field);
    }
    if (a->pw && !mongoc_uri_set_password(uri, a->pw)) {
        mongoc_uri_destroy(uri);
        return nr_error_set(err, NR_ECRED, c->id,
                            "mongo '%s': the credential of user '%s' is refused by libmongoc "
                            "(a password must be valid UTF-8)",
                            c->id, a->user);
    }

    /* Timeouts: the configured values, capped by the time left (see
     * "Deadlines" in nebula/mongo.h). */
    struct {
        const char *opt;
        int32_t v;
    } t[] = {
        {MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
         capped_ms(a->deadline, cfg->server_selection_timeout_ms)},
        {MONGOC_URI_CONNECTTIMEOUTMS, capped_ms(a->deadline, cfg->connect_timeout_ms)},
        {MONGOC_URI_SOCKETTIMEOUTMS, (int32_t)cfg->socket_timeout_ms},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (!mongoc_uri_set_option_as_int32(uri, t[i].opt, t[i].v)) {
            mongoc_uri_destroy(uri);
            return nr_error_set(err, NR_ECONFIG, c->id,
                                "mongo '%s': libmongoc refused %s=%d (the uri may set it in a "
                                "form that conflicts)",
                                c->id, t[i].opt, (int)t[i].v);
        }
    }
    if (cfg->tls) {
        if (!mongoc_uri_set_option_as_bool(uri, MONGOC_URI_TLS, true) ||
            (cfg->tls_ca_file &&
             !mongoc_uri_set_option_as_utf8(uri, MONGOC_URI_TLSCAFILE, cfg->tls_ca_file))) {
            mongoc_uri_destroy(uri);
            return nr_error_set(err, NR_ECONFIG, c->id,
                                "mongo '%s': libmongoc refused the TLS options (tls, tls_ca_file)",
                                c->id);
        }
    }
    *out = uri;
    return NR_OK;
}

/* The error of a failed ping during create. */
static int connect_fail(nr_error *err, const nr_mongo_conn *c, const create_args *a,
                        const bson_error_t *be)
{
    char msg[sizeof(be->message)];
    mongo_message(msg, sizeof(msg), be, a->pw, a->pwlen);
    int code = map_error(be);
    if (nr_cancel_is_set(a->cancel))
        return nr_error_set_cause(err, NR_ECANCELED, code, (long)be->code, c->id,
                                  "mongo '%s': canceled while connecting to %s: %s", c->id,
                                  c->target, msg);
    if (code == NR_ECRED)
        return nr_error_set_cause(err, NR_ECRED, NR_OK, (long)be->code, c->id,
                                  "mongo '%s': authentication of user '%s' (auth source '%s') "
                                  "failed on %s: %s (domain %u, code %u)",
                                  c->id, a->user,
                                  a->cfg->auth_source ? a->cfg->auth_source
                                  : a->cfg->database  ? a->cfg->database
                                                      : "admin",
                                  c->target, msg, be->domain, be->code);
    if (nr_deadline_expired(a->deadline))
        return nr_error_set_cause(err, NR_ETIMEDOUT, code, (long)be->code, c->id,
                                  "mongo '%s': deadline passed while connecting to %s: %s "
                                  "(domain %u, code %u)",
                                  c->id, c->target, msg, be->domain, be->code);
    return nr_error_set_cause(err, code, NR_OK, (long)be->code, c->id,
                              "mongo '%s': connecting to %s failed: %s (domain %u, code %u)", c->id,
                              c->target, msg, be->domain, be->code);
}

static int mongo_create(void **handle, const void *config, const nr_create_ctx *ctx, void *ud,
                        nr_error *err)
{
    (void)ud;
    const nr_mongo_config *cfg = config;
    create_args a = {.cfg = cfg};
    a.id = ctx && ctx->resource_id ? ctx->resource_id : "";
    a.deadline = ctx ? ctx->deadline : (nr_deadline){0};
    a.cancel = ctx ? ctx->cancel : NULL;
    const nr_secret *cred = ctx ? ctx->credential : NULL;

    if (!handle || !cfg)
        return nr_error_set(err, NR_EINVAL, a.id, "mongo '%s': handle and config are required",
                            a.id);
    *handle = NULL;

    nr_config_report rep;
    nr_config_report_clear(&rep);
    if (nr_config_validate(&nr_mongo_config_schema, cfg, "$", &rep, NULL) != NR_OK) {
        /* the value is already redacted by the schema's check */
        return nr_error_set(err, NR_ECONFIG, a.id, "mongo '%s': config: %s: %s", a.id,
                            rep.count ? rep.items[0].path : "$",
                            rep.count ? rep.items[0].rule : "invalid");
    }
    snprintf(a.user, sizeof(a.user), "%s", show(cfg->username));
    if (cred) {
        a.pw = nr_secret_reveal(cred, &a.pwlen);
        if (!cfg->username)
            return nr_error_set(err, NR_ECRED, a.id,
                                "mongo '%s': a credential was given but username is not set", a.id);
        if (a.pw && strlen(a.pw) != a.pwlen)
            return nr_error_set(err, NR_ECRED, a.id,
                                "mongo '%s': the credential of user '%s' contains a NUL byte, "
                                "which a MongoDB password cannot hold",
                                a.id, a.user);
    } else if (cfg->username) {
        return nr_error_set(err, NR_ECRED, a.id,
                            "mongo '%s': username '%s' is set but no credential was given (the "
                            "password comes from the credential provider)",
                            a.id, a.user);
    }

    nr_mongo_conn *c = nr_calloc(1, sizeof(*c));
    if (!c)
        return nr_error_set(err, NR_ENOMEM, a.id, "mongo '%s': out of memory for the client", a.id);
    c->magic = MONGO_CONN_MAGIC;
    c->health_timeout_ms = cfg->health_timeout_ms;
    snprintf(c->id, sizeof(c->id), "%s", a.id);
    nr_mongo_describe(cfg, c->target, sizeof(c->target));
    if (cfg->database && !(c->database = nr_strdup(cfg->database))) {
        conn_free(c);
        return nr_error_set(err, NR_ENOMEM, a.id, "mongo '%s': out of memory for the client", a.id);
    }

    int rc = check_stop(err, c, a.deadline, a.cancel, "before connecting to");
    if (rc != NR_OK) {
        conn_free(c);
        return rc;
    }
    pthread_once(&init_once, init_mongoc);

    mongoc_uri_t *uri = NULL;
    if ((rc = build_uri(&uri, c, &a, err)) != NR_OK) {
        conn_free(c);
        return rc;
    }
    bson_error_t be;
    memset(&be, 0, sizeof(be));
    c->client = mongoc_client_new_from_uri_with_error(uri, &be);
    mongoc_uri_destroy(uri);
    if (!c->client) {
        char msg[sizeof(be.message)];
        mongo_message(msg, sizeof(msg), &be, a.pw, a.pwlen);
        rc = nr_error_set_cause(err, NR_EINIT, NR_OK, (long)be.code, c->id,
                                "mongo '%s': making the client for %s failed: %s", c->id, c->target,
                                msg);
        conn_free(c);
        return rc;
    }
    mongoc_client_set_error_api(c->client, MONGOC_ERROR_API_VERSION_2);
    c->prefs = mongoc_read_prefs_new(MONGOC_READ_PRIMARY_PREFERRED);
    if (!c->prefs) {
        conn_free(c);
        return nr_error_set(err, NR_ENOMEM, a.id, "mongo '%s': out of memory for the client", a.id);
    }

    /* Connect, log in and ping now, so that create fails and not the
     * caller's first operation. */
    bson_t cmd = BSON_INITIALIZER, reply;
    BSON_APPEND_INT32(&cmd, "ping", 1);
    bool ok = mongoc_client_command_simple(c->client, "admin", &cmd, c->prefs, &reply, &be);
    bson_destroy(&cmd);
    bson_destroy(&reply);
    if (!ok) {
        rc = connect_fail(err, c, &a, &be);
        conn_free(c);
        return rc;
    }
    /* The caller asked for the instance by the deadline, or not at all. */
    if ((rc = check_stop(err, c, a.deadline, a.cancel, "after connecting to")) != NR_OK) {
        conn_free(c);
        return rc;
    }
    *handle = c;
    return NR_OK;
}

static void mongo_destroy(void *handle, void *ud)
{
    (void)ud;
    conn_free(handle);
}

/* ---- validate / recycle ------------------------------------------------------------------- */

static bool conn_ok(const nr_mongo_conn *c)
{
    return c && c->magic == MONGO_CONN_MAGIC && c->client && c->prefs;
}

static int bad_handle(nr_error *err, const char *what)
{
    return nr_error_set(err, NR_EINVAL, NULL, "mongo: %s: not a mongo client instance", what);
}

static int mongo_validate(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_mongo_conn *c = handle;
    if (!conn_ok(c))
        return bad_handle(err, "validate");
    /* No I/O: what the client learnt from its last operation. A server the
     * client lost (network error) is "Unknown" until it reconnects. */
    size_t n = 0;
    mongoc_server_description_t **sds = mongoc_client_get_server_descriptions(c->client, &n);
    bool usable = false;
    for (size_t i = 0; i < n && !usable; i++) {
        const char *t = mongoc_server_description_type(sds[i]);
        usable = t && strcmp(t, "Unknown") != 0 && strcmp(t, "PossiblePrimary") != 0;
    }
    mongoc_server_descriptions_destroy_all(sds, n);
    if (!usable)
        return nr_error_set(err, NR_EUNAVAIL, c->id,
                            "mongo '%s': validate: the client lost its connection to %s (no "
                            "server in a known state)",
                            c->id, c->target);
    return NR_OK;
}

static int mongo_recycle(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_mongo_conn *c = handle;
    if (!conn_ok(c))
        return bad_handle(err, "recycle");
    /* Nothing to reset: see "recycle" in nebula/mongo.h. */
    return NR_OK;
}

/* ---- health check -------------------------------------------------------------------------- */

static void set_reason(nr_health_report *report, const char *prefix, const char *msg)
{
    size_t n = sizeof(report->reason), plen = strlen(prefix), mlen = strlen(msg);
    if (plen >= n)
        plen = n - 1;
    memcpy(report->reason, prefix, plen);
    if (mlen > n - 1 - plen)
        mlen = n - 1 - plen;
    memcpy(report->reason + plen, msg, mlen);
    report->reason[plen + mlen] = '\0';
}

static int mongo_health(void *handle, void *ud, nr_deadline deadline, nr_health_report *report,
                        nr_error *err)
{
    (void)ud;
    nr_mongo_conn *c = handle;
    if (!conn_ok(c) || !report)
        return bad_handle(err, "health check");
    nr_deadline d = nr_deadline_min(deadline, nr_deadline_in_ms(c->health_timeout_ms));
    if (nr_deadline_expired(d))
        return nr_error_set(err, NR_ETIMEDOUT, c->id,
                            "mongo '%s': health check of %s: deadline passed before it ran", c->id,
                            c->target);
    int64_t left_ms = nr_deadline_remaining_ns(d) / NR_NS_PER_MS;
    if (left_ms < 1)
        left_ms = 1;
    bson_t cmd = BSON_INITIALIZER, reply;
    BSON_APPEND_INT32(&cmd, "ping", 1);
    BSON_APPEND_INT64(&cmd, "maxTimeMS", left_ms);
    bson_error_t be;
    memset(&be, 0, sizeof(be));
    bool ok = mongoc_client_command_simple(c->client, "admin", &cmd, c->prefs, &reply, &be);
    bson_destroy(&cmd);
    bson_destroy(&reply);
    if (nr_deadline_expired(d))
        return nr_error_set_cause(err, NR_ETIMEDOUT, ok ? NR_OK : map_error(&be), (long)be.code,
                                  c->id, "mongo '%s': health check of %s ran out of time%s%s",
                                  c->id, c->target, ok ? "" : ": ", ok ? "" : be.message);
    if (ok) {
        report->state = NR_HEALTH_HEALTHY;
        report->reason[0] = '\0';
    } else {
        report->state = NR_HEALTH_UNHEALTHY;
        set_reason(report, "ping: ", be.message);
    }
    return NR_OK;
}

/* ---- public helpers -----------------------------------------------------------------------------
 */

mongoc_client_t *nr_mongo_client(void *handle)
{
    nr_mongo_conn *c = handle;
    return c && c->magic == MONGO_CONN_MAGIC ? c->client : NULL;
}

const char *nr_mongo_database(void *handle)
{
    nr_mongo_conn *c = handle;
    return c && c->magic == MONGO_CONN_MAGIC ? c->database : NULL;
}

const nr_resource_type nr_mongo_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "mongo",
    .config_schema = &nr_mongo_config_schema,
    .create = mongo_create,
    .destroy = mongo_destroy,
    .validate = mongo_validate,
    .recycle = mongo_recycle,
    .health_check = mongo_health,
};
