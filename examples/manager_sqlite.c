/*
 * manager_sqlite.c - resources with a dependency under a manager: register,
 * start in dependency order, acquire by id from an execution's scope, shut
 * down in phases.
 */
#include <stdio.h>
#include <string.h>

#include "nebula/manager.h"
#include "nebula/resource.h"
#include "nebula/sqlite.h"

static int sqlite_config(nr_sqlite_config *cfg, const char *uri)
{
    if (nr_config_init(&nr_sqlite_config_schema, cfg, NULL) != NR_OK)
        return -1;
    /* copied into the struct, which frees it (never assign cfg->path yourself) */
    return nr_config_set_str(&nr_sqlite_config_schema, cfg, "path", uri, NULL) == NR_OK ? 0 : -1;
}

int main(void)
{
    nr_error err = {0};
    nr_sqlite_config orders_cfg, audit_cfg;
    if (sqlite_config(&orders_cfg, "file:orders?mode=memory&cache=shared") ||
        sqlite_config(&audit_cfg, "file:audit?mode=memory&cache=shared"))
        return 1;

    nr_manager *m = NULL;
    if (nr_manager_create(&m, NULL, &err) != NR_OK) {
        fprintf(stderr, "manager: %s\n", err.message);
        return 1;
    }
    const char *needs_orders[] = {"orders-db"};
    nr_resource_spec orders =
        NR_RESOURCE_SPEC(.id = "orders-db", .type = &nr_sqlite_type, .config = &orders_cfg);
    nr_resource_spec audit =
        NR_RESOURCE_SPEC(.id = "audit-db", .type = &nr_sqlite_type, .config = &audit_cfg,
                         .depends_on = needs_orders, .ndepends = 1);
    int status = 0;
    if (nr_manager_register(m, &audit, &err) != NR_OK || /* any order */
        nr_manager_register(m, &orders, &err) != NR_OK ||
        nr_manager_start(m, nr_deadline_in_ms(10000), &err) != NR_OK) {
        fprintf(stderr, "start: %s\n", err.message);
        status = 1;
    }
    /* the manager copied the configs: ours can go */
    nr_config_free(&nr_sqlite_config_schema, &orders_cfg);
    nr_config_free(&nr_sqlite_config_schema, &audit_cfg);

    nr_scope execution;
    nr_scope_make(&execution, "acme", "billing", "run-1", NULL, NULL);
    nr_ctx ctx = NR_CTX(.scope = &execution, .deadline = nr_deadline_in_ms(1000));
    nr_guard g = NR_GUARD_INIT;
    if (status == 0 && nr_manager_acquire(m, "audit-db", &ctx, &g, &err) == NR_OK) {
        if (nr_sqlite_exec(nr_guard_handle(&g), "CREATE TABLE IF NOT EXISTS log(x)", &err) != NR_OK)
            status = 1;
        nr_guard_release(&g);
    } else if (status == 0) {
        fprintf(stderr, "acquire: %s\n", err.message);
        status = 1;
    }

    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    if (nr_manager_resource_info(m, "audit-db", &info, &err) == NR_OK)
        printf("audit-db: %s, %s, %llu acquire(s)\n", nr_resource_state_name(info.state),
               nr_health_name(info.health), (unsigned long long)info.stats.acquires);

    nr_shutdown_options so =
        NR_SHUTDOWN_OPTIONS(.drain_timeout_ms = 5000, .cleanup_timeout_ms = 2000);
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    if (nr_manager_shutdown(m, &so, &rep, &err) != NR_OK) {
        fprintf(stderr, "shutdown: %s\n", err.message);
        status = 1;
    }
    printf("shutdown: %u instance(s) destroyed in %.1f ms, %zu resource(s) with leases left\n",
           rep.destroyed, (double)rep.total_ns / 1e6, rep.nleftovers);
    if (nr_manager_destroy(m, &err) != NR_OK)
        status = 1;
    return status;
}
