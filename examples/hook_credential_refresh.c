/*
 * hook_credential_refresh.c - the credential refresh hook with short-lived
 * tokens, as cloud databases hand out (IAM tokens that live 15 minutes).
 *
 * The example plays both sides: a token service (the credential provider,
 * whose tokens expire) and a client type that authenticates with a token at
 * each create and is refused by the "server" once its token has expired.
 * The first token the manager fetches at start is about to expire; the hook
 * sees that before the first create and fetches a fresh one, so the create
 * uses it. A later create finds the fresh token far from expiry and fetches
 * nothing. Tokens are never printed: only their generation is.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/hooks.h"
#include "nebula/hooks_builtin.h"
#include "nebula/manager.h"
#include "nebula/resource.h"

/* ---- the token service: generation 1 lives 200 ms, the next ones an hour ---- */

typedef struct token_service {
    pthread_mutex_t mu;
    int generation;        /* of the token handed out last */
    int64_t expires_ms[8]; /* by generation */
    char value[8][32];     /* by generation */
} token_service;

static int svc_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    token_service *t = ud;
    if (strcmp(ref, "api-token") != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "no credential '%s'", ref);
    pthread_mutex_lock(&t->mu);
    int g = t->generation < 7 ? ++t->generation : t->generation;
    t->expires_ms[g] = nr_wall_ms() + (g == 1 ? 200 : 3600 * 1000);
    snprintf(t->value[g], sizeof(t->value[g]), "tok-%d-%08x", g, (unsigned)rand());
    int rc = nr_secret_from_str(out, t->value[g], err);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

static int svc_expiry(void *ud, const char *ref, int64_t *expires_ms, nr_error *err)
{
    (void)ref;
    (void)err;
    token_service *t = ud;
    pthread_mutex_lock(&t->mu);
    *expires_ms = t->expires_ms[t->generation];
    pthread_mutex_unlock(&t->mu);
    return NR_OK;
}

/* The server side: which generation a token is, if it is still valid; 0 if not. */
static int svc_check(token_service *t, const char *token)
{
    pthread_mutex_lock(&t->mu);
    int g = 0;
    for (int k = 1; k <= t->generation; k++)
        if (strcmp(t->value[k], token) == 0 && nr_wall_ms() < t->expires_ms[k])
            g = k;
    pthread_mutex_unlock(&t->mu);
    return g;
}

/* ---- the client type: authenticates with its token at create ---- */

typedef struct api_config {
    char *endpoint;
} api_config;

static const nr_field api_fields[] = {{.name = "endpoint",
                                       .type = NR_FT_STRING,
                                       .offset = offsetof(api_config, endpoint),
                                       .def_str = "https://api.example",
                                       .doc = "where the client connects"}};
static const nr_config_schema api_schema = {
    .name = "api", .struct_size = sizeof(api_config), .fields = api_fields, .nfields = 1};

typedef struct api_client {
    int generation; /* of the token it logged in with */
} api_client;

static int created_with[8]; /* creates by token generation */

static int api_create(void **out, const void *cfg, const nr_create_ctx *ctx, void *ud,
                      nr_error *err)
{
    (void)cfg;
    const char *token = ctx->credential ? nr_secret_reveal(ctx->credential, NULL) : "";
    int g = svc_check(ud, token);
    if (g == 0)
        return nr_error_set(err, NR_ECRED, ctx->resource_id, "login refused: token expired");
    api_client *c = malloc(sizeof(*c));
    if (!c)
        return nr_error_set(err, NR_ENOMEM, ctx->resource_id, "out of memory");
    c->generation = g;
    created_with[g]++;
    *out = c;
    return NR_OK;
}

static void api_destroy(void *handle, void *ud)
{
    (void)ud;
    free(handle);
}

static const nr_resource_type api_type = {.version = NR_RESOURCE_TYPE_VERSION,
                                          .name = "api",
                                          .config_schema = &api_schema,
                                          .create = api_create,
                                          .destroy = api_destroy};

int main(void)
{
    static token_service svc = {.mu = PTHREAD_MUTEX_INITIALIZER};
    nr_credential_provider provider = {.fetch = svc_fetch, .ud = &svc, .expiry = svc_expiry};
    nr_error err = {0};
    nr_hooks *hooks = NULL;
    nr_manager *m = NULL;
    nr_credential_refresh *refresh = NULL;
    api_config cfg;
    if (nr_hooks_create(&hooks, NULL, &err) != NR_OK ||
        nr_config_init(&api_schema, &cfg, &err) != NR_OK)
        goto fail;
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.credentials = &provider;
    mo.hooks = hooks;
    if (nr_manager_create(&m, &mo, &err) != NR_OK)
        goto fail;

    /* refresh a token that expires within the next minute, before the create */
    nr_credential_refresh_options ro = NR_CREDENTIAL_REFRESH_OPTIONS_INIT;
    nr_credential_refresh_options_default(&ro);
    ro.window_ms = 60000;
    nr_hook_def def = NR_HOOK_DEF_INIT;
    uint64_t hook_id = 0;
    if (nr_credential_refresh_create(&refresh, m, &ro, &err) != NR_OK)
        goto fail;
    nr_credential_refresh_hook(refresh, &def);
    if (nr_hooks_add(hooks, &def, &hook_id, &err) != NR_OK)
        goto fail;

    nr_pool_config pool;
    nr_pool_config_default(&pool);
    pool.min_idle = 1;
    nr_resource_spec spec =
        NR_RESOURCE_SPEC(.id = "billing-api", .type = &api_type, .type_ud = &svc, .config = &cfg,
                         .pool = &pool, .credential_ref = "api-token");
    if (nr_manager_register(m, &spec, &err) != NR_OK ||
        nr_manager_start(m, nr_deadline_in_ms(10000), &err) != NR_OK)
        goto fail;
    /* the start fetched generation 1, about to expire; the warm-up create's
     * hook fetched generation 2 and the create logged in with it */
    printf("after start: token generation %d fetched, %d client(s) logged in with it\n",
           svc.generation, created_with[svc.generation]);

    /* a new client later: the token is an hour from expiry, nothing fetched */
    uint32_t evicted = 0;
    nr_guard g = NR_GUARD_INIT;
    if (nr_manager_evict_all(m, "billing-api", &evicted, &err) != NR_OK ||
        nr_manager_acquire(m, "billing-api", NULL, &g, &err) != NR_OK)
        goto fail;
    int gen = ((api_client *)nr_guard_handle(&g))->generation;
    nr_guard_release(&g);
    printf("after evicting %u: the new client logged in with generation %d; %d token(s) "
           "fetched in all\n",
           evicted, gen, svc.generation);
    int ok = svc.generation == 2 && created_with[1] == 0 && created_with[2] == 2 && gen == 2;

    /* the hook goes first (its object borrows the manager), then the manager
     * (it borrows the registry), then the registry */
    nr_hooks_remove(hooks, hook_id, NULL);
    nr_credential_refresh_destroy(refresh);
    nr_manager_destroy(m, NULL);
    nr_hooks_destroy(hooks, NULL);
    nr_config_free(&api_schema, &cfg);
    printf("%s\n", ok ? "ok: no create used a token about to expire" : "unexpected");
    return ok ? 0 : 1;
fail:
    fprintf(stderr, "hook_credential_refresh: %s\n", err.message);
    return 1;
}
