/*
 * hook_metrics.c - the metrics hook: each operation's duration and outcome
 * per resource and operation, in a metrics registry exposed as Prometheus
 * text.
 */
#include <stdio.h>
#include <string.h>

#include "nebula/hooks.h"
#include "nebula/hooks_builtin.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"
#include "nebula/resource.h"
#include "nebula/sqlite.h"

int main(void)
{
    nr_error err = {0};
    nr_metrics *reg = NULL;
    nr_hook_metrics *hm = NULL;
    nr_hooks *hooks = NULL;
    nr_hook_def def = NR_HOOK_DEF_INIT;
    if (nr_metrics_create(&reg, &err) != NR_OK || nr_hook_metrics_create(&hm, reg, &err) != NR_OK ||
        nr_hooks_create(&hooks, NULL, &err) != NR_OK)
        goto fail;
    nr_metrics_hook(hm, &def);
    def.ops = NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE) | NR_HOOK_OP_BIT(NR_HOOK_RELEASE); /* only these */
    if (nr_hooks_add(hooks, &def, NULL, &err) != NR_OK)
        goto fail;

    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.hooks = hooks;
    nr_manager *m = NULL;
    nr_sqlite_config cfg;
    nr_config_init(&nr_sqlite_config_schema, &cfg, NULL);
    nr_free(cfg.path);
    cfg.path = nr_strdup("file:hook_metrics?mode=memory&cache=shared");
    nr_resource_spec spec =
        NR_RESOURCE_SPEC(.id = "orders-db", .type = &nr_sqlite_type, .config = &cfg);
    if (nr_manager_create(&m, &mo, &err) != NR_OK || nr_manager_register(m, &spec, &err) != NR_OK ||
        nr_manager_start(m, nr_deadline_in_ms(10000), &err) != NR_OK)
        goto fail;
    nr_config_free(&nr_sqlite_config_schema, &cfg);

    for (int i = 0; i < 3; i++) {
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
        nr_guard g = NR_GUARD_INIT;
        if (nr_manager_acquire(m, "orders-db", &ctx, &g, &err) != NR_OK)
            goto fail;
        nr_sqlite_exec(nr_guard_handle(&g), "SELECT 1", NULL);
        nr_guard_release(&g);
    }

    char *text = NULL;
    size_t len = 0;
    if (nr_metrics_format(reg, &text, &len, &err) != NR_OK)
        goto fail;
    int status = 1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "nr_hook_ops_total{", 18) == 0 ||
            strncmp(line, "nr_hook_op_duration_seconds_count{", 34) == 0)
            printf("%s\n", line);
        if (strcmp(line,
                   "nr_hook_ops_total{resource=\"orders-db\",op=\"acquire\",outcome=\"ok\"} 3") ==
            0)
            status = 0;
    }
    nr_free(text);
    nr_manager_destroy(m, NULL);
    nr_hooks_destroy(hooks, NULL);
    nr_hook_metrics_destroy(hm);
    nr_metrics_destroy(reg);
    return status;
fail:
    fprintf(stderr, "hook_metrics: %s\n", err.message);
    return 1;
}
