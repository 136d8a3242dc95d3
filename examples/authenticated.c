/*
 * authenticated.c - a resource that logs in with a secret from a credential
 * provider, and a rotation: the "server" starts accepting a new token, the
 * program rotates the credential, new sessions log in with the new token
 * and the sessions made with the old one are retired as they come back.
 * Secrets never show: only their generation is printed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/resource.h"

/* The server: which tokens it accepts for a new login. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int current = 1; /* the vault's current token generation */

static void token_of(int gen, char *buf, size_t len)
{
    snprintf(buf, len, "s3cret-token-%d", gen);
}

/* The credential provider: the vault's current token for "api-token". */
static int fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    if (strcmp(ref, "api-token") != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "no credential '%s'", ref);
    char tok[32];
    pthread_mutex_lock(&mu);
    token_of(current, tok, sizeof(tok));
    pthread_mutex_unlock(&mu);
    return nr_secret_from_str(out, tok, err);
}

/* A session: logs in with the credential create() is given. */
typedef struct session {
    int gen; /* which token it logged in with */
} session;

static int session_create(void **out, const void *cfg, const nr_create_ctx *ctx, void *ud,
                          nr_error *err)
{
    (void)cfg, (void)ud;
    size_t len = 0;
    const char *given = ctx->credential ? nr_secret_reveal(ctx->credential, &len) : NULL;
    char want[32];
    pthread_mutex_lock(&mu);
    int gen = current;
    pthread_mutex_unlock(&mu);
    token_of(gen, want, sizeof(want));
    if (!given || len != strlen(want) || memcmp(given, want, len) != 0)
        return nr_error_set(err, NR_ECRED, ctx->resource_id, "login refused (stale token)");
    session *s = malloc(sizeof(*s));
    if (!s)
        return nr_error_set(err, NR_ENOMEM, ctx->resource_id, "out of memory");
    s->gen = gen;
    *out = s;
    return NR_OK;
}

static void session_destroy(void *h, void *ud)
{
    (void)ud;
    free(h);
}

static const nr_config_schema empty_schema = {.name = "session", .struct_size = sizeof(int)};
static const nr_resource_type session_type = {.version = NR_RESOURCE_TYPE_VERSION,
                                              .name = "session",
                                              .config_schema = &empty_schema,
                                              .create = session_create,
                                              .destroy = session_destroy};

static int use(nr_manager *m, const char *when)
{
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    if (nr_manager_acquire(m, "api", NULL, &g, &err) != NR_OK) {
        printf("%s: %s\n", when, err.message);
        return -1;
    }
    int gen = ((session *)nr_guard_handle(&g))->gen;
    printf("%s: a session logged in with token generation %d\n", when, gen);
    nr_guard_release(&g);
    return gen;
}

int main(void)
{
    nr_error err = {0};
    nr_credential_provider creds = {.fetch = fetch};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.credentials = &creds;
    int cfg = 0;
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = "api", .type = &session_type, .config = &cfg,
                                             .credential_ref = "api-token");
    nr_manager *m = NULL;
    if (nr_manager_create(&m, &mo, &err) || nr_manager_register(m, &spec, &err) ||
        nr_manager_start(m, nr_deadline_in_ms(5000), &err)) {
        fprintf(stderr, "start: %s\n", err.message);
        return 1;
    }
    int before = use(m, "before");
    pthread_mutex_lock(&mu);
    current = 2; /* the vault rotates: new logins need token 2 */
    pthread_mutex_unlock(&mu);
    if (nr_manager_rotate_credential(m, "api-token", &err) != NR_OK) {
        fprintf(stderr, "rotate: %s\n", err.message);
        return 1;
    }
    int after = use(m, "after the rotation");
    nr_manager_destroy(m, &err);
    return before == 1 && after == 2 ? 0 : 1;
}
