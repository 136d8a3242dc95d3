/*
 * hook_audit.c - the audit hook: one JSON line per operation of a manager's
 * resources, written by the audit's own thread. Here a sink prints each
 * line; with options.path the lines are appended to a file instead.
 */
#include <stdio.h>
#include <string.h>

#include "nebula/hooks.h"
#include "nebula/hooks_builtin.h"
#include "nebula/manager.h"
#include "nebula/resource.h"
#include "nebula/sqlite.h"

/* Runs on the audit thread, with no lock held. */
static void print_line(void *ud, const char *line, size_t len)
{
    int *lines = ud;
    (*lines)++;
    printf("%.*s\n", (int)len, line);
}

int main(void)
{
    nr_error err = {0};
    int lines = 0;
    nr_audit_options ao = NR_AUDIT_OPTIONS_INIT;
    nr_audit_options_default(&ao);
    ao.sink = print_line;
    ao.sink_ud = &lines;
    nr_audit *audit = NULL;
    nr_hooks *hooks = NULL;
    nr_hook_def def = NR_HOOK_DEF_INIT;
    if (nr_audit_create(&audit, &ao, &err) != NR_OK || nr_hooks_create(&hooks, NULL, &err) != NR_OK)
        goto fail;
    nr_audit_hook(audit, &def);
    if (nr_hooks_add(hooks, &def, NULL, &err) != NR_OK)
        goto fail;

    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.hooks = hooks;
    nr_manager *m = NULL;
    nr_sqlite_config cfg;
    nr_config_init(&nr_sqlite_config_schema, &cfg, NULL);
    nr_free(cfg.path);
    cfg.path = nr_strdup("file:hook_audit?mode=memory&cache=shared");
    nr_resource_spec spec =
        NR_RESOURCE_SPEC(.id = "orders-db", .type = &nr_sqlite_type, .config = &cfg);
    if (nr_manager_create(&m, &mo, &err) != NR_OK || nr_manager_register(m, &spec, &err) != NR_OK ||
        nr_manager_start(m, nr_deadline_in_ms(10000), &err) != NR_OK)
        goto fail;
    nr_config_free(&nr_sqlite_config_schema, &cfg);

    nr_scope acme;
    nr_scope_make(&acme, "acme", NULL, NULL, NULL, NULL);
    nr_ctx ctx = NR_CTX(.scope = &acme, .deadline = nr_deadline_in_ms(5000), .caller = "checkout");
    nr_guard g = NR_GUARD_INIT;
    if (nr_manager_acquire(m, "orders-db", &ctx, &g, &err) != NR_OK)
        goto fail;
    nr_guard_release(&g);
    if (nr_manager_destroy(m, &err) != NR_OK) /* destroys the instance: one more line */
        goto fail;
    nr_hooks_destroy(hooks, NULL);

    if (nr_audit_flush(audit, nr_deadline_in_ms(10000), &err) != NR_OK)
        goto fail;
    nr_audit_stats st = NR_AUDIT_STATS_INIT;
    nr_audit_stats_get(audit, &st);
    nr_audit_destroy(audit);
    printf("audit: %llu line(s) written, %llu dropped\n", (unsigned long long)st.written,
           (unsigned long long)st.dropped);
    /* create, acquire, release, destroy */
    return st.written == 4 && lines == 4 && st.dropped == 0 ? 0 : 1;
fail:
    fprintf(stderr, "hook_audit: %s\n", err.message);
    return 1;
}
