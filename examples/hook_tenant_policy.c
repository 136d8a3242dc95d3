/*
 * hook_tenant_policy.c - a hook of your own: before every acquire, refuse a
 * caller whose tenant is not on an allow list. The refused acquire fails at
 * once with the hook's code and a message naming the hook, the operation
 * and the resource; nothing is leased.
 */
#include <stdio.h>
#include <string.h>

#include "nebula/hooks.h"
#include "nebula/manager.h"
#include "nebula/resource.h"
#include "nebula/sqlite.h"

typedef struct allow_list {
    const char *const *tenants;
    size_t n;
} allow_list;

static int tenant_policy(void *ud, const nr_hook_call *call, nr_error *err)
{
    const allow_list *allow = ud;
    const nr_scope *s = call->caller_scope ? call->caller_scope : call->scope;
    if (!s || s->level < NR_SCOPE_TENANT)
        return nr_error_set(err, NR_EPERM, call->resource_id, "no tenant given");
    const char *tenant = s->ids[NR_SCOPE_TENANT];
    for (size_t i = 0; i < allow->n; i++)
        if (strcmp(allow->tenants[i], tenant) == 0)
            return NR_OK;
    return nr_error_set(err, NR_EPERM, call->resource_id, "tenant %s is not allowed", tenant);
}

static int acquire_as(nr_manager *m, const char *tenant, nr_error *err)
{
    nr_scope s;
    nr_scope_make(&s, tenant, NULL, NULL, NULL, NULL);
    nr_ctx ctx = NR_CTX(.scope = &s, .deadline = nr_deadline_in_ms(5000), .caller = "example");
    nr_guard g = NR_GUARD_INIT;
    int rc = nr_manager_acquire(m, "orders-db", &ctx, &g, err);
    if (rc == NR_OK) {
        printf("%s: acquired\n", tenant);
        nr_guard_release(&g);
    } else {
        printf("%s: %s: %s\n", tenant, nr_err_name(rc), err->message);
    }
    return rc;
}

int main(void)
{
    nr_error err = {0};
    static const char *const tenants[] = {"acme", "initech"};
    allow_list allow = {tenants, 2};

    nr_hooks *hooks = NULL;
    if (nr_hooks_create(&hooks, NULL, &err) != NR_OK) {
        fprintf(stderr, "hooks: %s\n", err.message);
        return 1;
    }
    nr_hook_def def = NR_HOOK_DEF(.name = "tenant-policy", .ops = NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE),
                                  .before = tenant_policy, .ud = &allow);
    if (nr_hooks_add(hooks, &def, NULL, &err) != NR_OK) {
        fprintf(stderr, "add: %s\n", err.message);
        return 1;
    }

    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.hooks = hooks;
    nr_manager *m = NULL;
    nr_sqlite_config cfg;
    nr_config_init(&nr_sqlite_config_schema, &cfg, NULL);
    nr_free(cfg.path);
    cfg.path = nr_strdup("file:tenant_policy?mode=memory&cache=shared");
    nr_resource_spec spec =
        NR_RESOURCE_SPEC(.id = "orders-db", .type = &nr_sqlite_type, .config = &cfg);
    if (nr_manager_create(&m, &mo, &err) != NR_OK || nr_manager_register(m, &spec, &err) != NR_OK ||
        nr_manager_start(m, nr_deadline_in_ms(10000), &err) != NR_OK) {
        fprintf(stderr, "start: %s\n", err.message);
        return 1;
    }
    nr_config_free(&nr_sqlite_config_schema, &cfg);

    int status = 0;
    if (acquire_as(m, "acme", &err) != NR_OK)
        status = 1;
    if (acquire_as(m, "globex", &err) != NR_EPERM)
        status = 1; /* the policy must refuse it */
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    if (nr_manager_resource_info(m, "orders-db", &info, &err) == NR_OK) {
        printf("orders-db: %llu acquire(s)\n", (unsigned long long)info.stats.acquires);
        if (info.stats.acquires != 1)
            status = 1;
    }

    if (nr_manager_destroy(m, &err) != NR_OK) /* the manager borrows the registry */
        status = 1;
    nr_hooks_destroy(hooks, NULL);
    return status;
}
