/*
 * fleet_observe.c - what a fleet budget shows: its metric families (label
 * "resource") and its events.
 *
 *   nr_fleet_in_use                gauge    leases of every process, as last read
 *   nr_fleet_budget                gauge    the fleet's budget, as last read
 *   nr_fleet_leases                gauge    this process's leases
 *   nr_fleet_local_limit           gauge    the local budget's limit
 *   nr_fleet_local_held            gauge    places its pools hold
 *   nr_fleet_redis_up              gauge    1 when the last script succeeded
 *   nr_fleet_fallback              gauge    1 while the mode's limit is in force
 *   nr_fleet_syncs_total           counter  scripts that succeeded
 *   nr_fleet_renew_failures_total  counter  scripts that failed
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "fleet_internal.h"

static const char *const LABELS[] = {"resource"};

typedef struct family {
    const char *name, *help;
    nr_metric_type type;
    size_t offset; /* of the handle in nr__fleet_metrics */
} family;

#define G(field) offsetof(nr__fleet_metrics, field)
static const family FAMILIES[] = {
    {"nr_fleet_in_use", "Leases of every process of the fleet, as last read.", NR_METRIC_GAUGE,
     G(in_use)},
    {"nr_fleet_budget", "The fleet's budget, as last read.", NR_METRIC_GAUGE, G(budget)},
    {"nr_fleet_leases", "Leases this process holds.", NR_METRIC_GAUGE, G(leases)},
    {"nr_fleet_local_limit", "The local budget's limit.", NR_METRIC_GAUGE, G(limit)},
    {"nr_fleet_local_held", "Places this process's pools hold.", NR_METRIC_GAUGE, G(held)},
    {"nr_fleet_redis_up", "1 when the last script reached Redis and succeeded.", NR_METRIC_GAUGE,
     G(redis_up)},
    {"nr_fleet_fallback", "1 while Redis is down and the mode's limit is in force.",
     NR_METRIC_GAUGE, G(fallback)},
    {"nr_fleet_syncs_total", "Scripts that succeeded.", NR_METRIC_COUNTER, G(syncs)},
    {"nr_fleet_renew_failures_total", "Scripts (asks, renewals, give-backs) that failed.",
     NR_METRIC_COUNTER, G(renew_failures)},
};
#undef G

int nr__fleet_metrics_init(nr_fleet *f, nr_metrics *reg, nr_error *err)
{
    memset(&f->m, 0, sizeof(f->m));
    if (!reg)
        return NR_OK;
    const char *vals[] = {f->cfg.resource};
    for (size_t i = 0; i < sizeof(FAMILIES) / sizeof(FAMILIES[0]); i++) {
        const family *fam = &FAMILIES[i];
        nr_metric_desc d = {.name = fam->name,
                            .help = fam->help,
                            .type = fam->type,
                            .label_names = LABELS,
                            .label_count = 1};
        int rc = nr_metrics_register(reg, &d, err);
        void **slot = (void **)((char *)&f->m + fam->offset);
        if (rc == NR_OK)
            rc = fam->type == NR_METRIC_GAUGE
                     ? nr_metrics_gauge(reg, fam->name, vals, 1, (nr_gauge **)slot, err)
                     : nr_metrics_counter(reg, fam->name, vals, 1, (nr_counter **)slot, err);
        if (rc != NR_OK)
            return rc;
    }
    return NR_OK;
}

void nr__fleet_publish(nr_fleet *f, const char *error_text, int error_code)
{
    nr_budget_counts c = NR_BUDGET_COUNTS_INIT;
    nr_budget_get_counts(f->local, &c);
    double limit = c.limit == NR_BUDGET_UNLIMITED ? -1 : (double)c.limit;
    nr_gauge_set(f->m.in_use, f->last.total);
    nr_gauge_set(f->m.budget, f->last.budget);
    nr_gauge_set(f->m.leases, f->leases);
    nr_gauge_set(f->m.limit, limit);
    nr_gauge_set(f->m.held, c.held);
    nr_gauge_set(f->m.redis_up, f->up ? 1 : 0);
    nr_gauge_set(f->m.fallback, f->fallback ? 1 : 0);
    if (error_code != NR_OK)
        nr_counter_add(f->m.renew_failures, 1);
    else
        nr_counter_add(f->m.syncs, 1);
    pthread_mutex_lock(&f->mu);
    f->st.budget = f->last.budget;
    f->st.fleet_leases = f->last.total;
    f->st.processes = f->last.processes;
    f->st.leases = f->leases;
    f->st.redis_up = f->up != 0;
    f->st.fallback = f->fallback != 0;
    if (error_code != NR_OK) {
        f->st.renew_failures++;
        snprintf(f->st.last_error, sizeof(f->st.last_error), "%s", error_text ? error_text : "");
    } else {
        f->st.syncs++;
    }
    pthread_mutex_unlock(&f->mu);
}

void nr__fleet_event(nr_fleet *f, nr_event_type type, int64_t count, int code, const char *text)
{
    if (!f->events)
        return;
    nr_event ev;
    nr_event_init(&ev, type, f->cfg.resource);
    ev.count = count;
    ev.error_code = code;
    nr_event_set_text(&ev, text);
    nr_event_publish(f->events, &ev);
}
