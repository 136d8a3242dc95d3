/*
 * health_checked.c - a resource with a health pipeline of its own: the
 * built-in connectivity stage, then a stage of the program's ("replica-lag")
 * that says whether the data is fresh enough. Two bad rounds make it
 * unhealthy and quarantined: acquires fail at once instead of waiting; a
 * probe after the back-off lets it half-open, and the next round finds it
 * healthy and back in service. The events say each step.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "nebula/events.h"
#include "nebula/resource.h"
#include "nebula/sqlite.h"

static atomic_int lag_s; /* what the replica's lag would be, in seconds */

static int replica_lag(void *ud, const nr_health_stage_ctx *ctx, nr_health_report *r, nr_error *err)
{
    (void)ud, (void)ctx, (void)err;
    int lag = atomic_load(&lag_s);
    r->state = lag > 5 ? NR_HEALTH_UNHEALTHY : NR_HEALTH_HEALTHY;
    snprintf(r->reason, sizeof(r->reason), "replica %d s behind", lag);
    return NR_OK;
}

static void events_so_far(nr_event_sub *sub)
{
    nr_event ev;
    while (nr_event_next(sub, &ev, NULL, nr_deadline_in_ns(0)) == NR_OK)
        if (ev.type == NR_EV_HEALTH_CHANGED)
            printf("  event health_changed: %s -> %s %s\n", nr_health_name(ev.health_old),
                   nr_health_name(ev.health_new), ev.text);
        else if (ev.type == NR_EV_QUARANTINED || ev.type == NR_EV_QUARANTINE_RELEASED)
            printf("  event %s: %s\n", nr_event_type_name(ev.type), ev.text);
}

static void round_and_try(nr_manager *m, nr_event_sub *sub, const char *when)
{
    nr_manager_tick(m); /* one maintenance and health round (the background does it too) */
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    int rc = nr_manager_acquire(m, "reports", NULL, &g, &err);
    printf("%s: acquire %s%s%s\n", when, nr_err_name(rc), rc ? ": " : "", rc ? err.message : "");
    nr_guard_release(&g);
    events_so_far(sub);
}

int main(void)
{
    nr_error err = {0};
    nr_event_bus *bus = NULL;
    nr_event_sub *sub = NULL;
    nr_sqlite_config cfg;
    if (nr_event_bus_create(&bus, 256, &err) || nr_event_subscribe(bus, &sub, &err) ||
        nr_config_init(&nr_sqlite_config_schema, &cfg, &err) ||
        nr_config_set_str(&nr_sqlite_config_schema, &cfg, "path", ":memory:", &err))
        return 1;
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = mo.health_interval_ms = 0; /* rounds by nr_manager_tick */
    mo.failure_threshold = 2;
    mo.quarantine_after = 2;
    mo.quarantine_base_ms = 100;
    mo.quarantine_jitter = 0;
    mo.events = bus;
    nr_health_config hc;
    nr_health_config_default(&hc);
    hc.nstages = 2;
    snprintf(hc.stages[1], sizeof(hc.stages[1]), "replica-lag");
    nr_health_stage_def lag = NR_HEALTH_STAGE_DEF(.name = "replica-lag", .fn = replica_lag);
    nr_resource_spec spec =
        NR_RESOURCE_SPEC(.id = "reports", .type = &nr_sqlite_type, .config = &cfg, .health = &hc,
                         .health_stages = &lag, .nhealth_stages = 1);
    nr_manager *m = NULL;
    if (nr_manager_create(&m, &mo, &err) || nr_manager_register(m, &spec, &err) ||
        nr_manager_start(m, nr_deadline_in_ms(5000), &err)) {
        fprintf(stderr, "start: %s\n", err.message);
        return 1;
    }
    nr_config_free(&nr_sqlite_config_schema, &cfg);
    round_and_try(m, sub, "fresh");
    atomic_store(&lag_s, 30); /* the replica falls behind */
    round_and_try(m, sub, "lagging, round 1");
    round_and_try(m, sub, "lagging, round 2");
    atomic_store(&lag_s, 1);         /* it catches up */
    nr_sleep_ns(150 * NR_NS_PER_MS); /* past the first probe's delay */
    round_and_try(m, sub, "caught up, probe");
    round_and_try(m, sub, "caught up, next round");
    nr_resource_info ri = NR_RESOURCE_INFO_INIT;
    nr_manager_resource_info(m, "reports", &ri, &err);
    printf("now: %s, %s\n", nr_health_name(ri.health), nr_quarantine_state_name(ri.quarantine));
    int ok = ri.health == NR_HEALTH_HEALTHY && ri.quarantine == NR_QUARANTINE_NONE;
    nr_manager_destroy(m, &err);
    nr_event_unsubscribe(sub);
    nr_event_bus_destroy(bus);
    return ok ? 0 : 1;
}
