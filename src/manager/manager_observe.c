/*
 * manager_observe.c - the manager's metrics and events.
 *
 * Metric families (label "resource" = resource id, "scope" = the pool's
 * scope text, so every tenant pool of a partitioned resource has its own
 * series). Counters and gauges are read from the pools' statistics by a
 * collector at scrape time, so the acquire path pays nothing for them; the two
 * histograms are observed where the time is measured anyway (a wait, a check).
 *
 *   nr_pool_acquires_total         counter    leases handed out
 *   nr_pool_releases_total         counter    leases given back
 *   nr_pool_timeouts_total         counter    acquires that ran out of time
 *   nr_pool_creates_total          counter    instances created
 *   nr_pool_create_failures_total  counter    creates that failed
 *   nr_pool_destroys_total         counter    instances destroyed
 *   nr_pool_breaker_opens_total    counter    times the create breaker opened
 *   nr_pool_leaks_total            counter    leases reported held past leak_threshold_ms
 *   nr_pool_degraded_replaced_total counter   degraded idle instances replaced by maintenance
 *   nr_pool_instance_quarantines_total counter instances quarantined
 *   nr_pool_instance_quarantine_releases_total counter quarantined instances back in the pool
 *   nr_pool_instance_quarantine_discards_total counter quarantined instances destroyed
 *   nr_pool_instances              gauge      instances alive
 *   nr_pool_in_use                 gauge      instances leased
 *   nr_pool_idle                   gauge      instances idle
 *   nr_pool_waiters                gauge      callers waiting
 *   nr_pool_creating               gauge      creates running
 *   nr_pool_max_size               gauge      the pool's max_size (it changes on resize)
 *   nr_pool_breaker_open           gauge      1 while the create breaker is open
 *   nr_pool_suspended              gauge      1 while suspended
 *   nr_pool_leaks_open             gauge      reported leases still out
 *   nr_pool_degraded_idle          gauge      idle instances whose last check said degraded
 *   nr_pool_quarantined_instances  gauge      instances in quarantine
 *   nr_pool_acquire_wait_seconds   histogram  wait of each acquire that had to wait
 *   nr_health_check_seconds        histogram  duration of each instance health check
 *   nr_health_checks_failed_total  counter    instances a check found unhealthy
 *   nr_resource_health             gauge      0 unknown, 1 healthy, 2 degraded, 3 unhealthy
 *   nr_group_acquires_total        counter    group acquires served ("group", "member";
 *                                             manager_group.c)
 *   nr_quarantine_refused_total    counter    quarantines a group's limit refused ("resource")
 *
 * Label values are resource ids and scope text only: never a config value,
 * so never a secret.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "manager/manager_internal.h"
#include "nebula/alloc.h"

static const char *const res_labels[] = {"resource", "scope"};
static const char *const res_only[] = {"resource"};
static const double wait_buckets[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05,
                                      0.1,    0.5,    1,     5,     10,   30};
static const double check_buckets[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};

typedef struct family {
    const char *name, *help;
    nr_metric_type type;
} family;

static const family pool_counters[] = {
    {"nr_pool_acquires_total", "Leases handed out.", NR_METRIC_COUNTER},
    {"nr_pool_releases_total", "Leases given back.", NR_METRIC_COUNTER},
    {"nr_pool_timeouts_total", "Acquires that ran out of time.", NR_METRIC_COUNTER},
    {"nr_pool_creates_total", "Instances created.", NR_METRIC_COUNTER},
    {"nr_pool_create_failures_total", "Creates that failed.", NR_METRIC_COUNTER},
    {"nr_pool_destroys_total", "Instances destroyed.", NR_METRIC_COUNTER},
    {"nr_health_checks_failed_total", "Instances a health check found unhealthy.",
     NR_METRIC_COUNTER},
    {"nr_pool_breaker_opens_total", "Times the create breaker opened.", NR_METRIC_COUNTER},
    {"nr_pool_leaks_total", "Leases reported held past leak_threshold_ms.", NR_METRIC_COUNTER},
    {"nr_pool_degraded_replaced_total", "Degraded idle instances replaced by maintenance.",
     NR_METRIC_COUNTER},
    {"nr_pool_instance_quarantines_total", "Instances quarantined.", NR_METRIC_COUNTER},
    {"nr_pool_instance_quarantine_releases_total", "Quarantined instances back in the pool.",
     NR_METRIC_COUNTER},
    {"nr_pool_instance_quarantine_discards_total", "Quarantined instances destroyed.",
     NR_METRIC_COUNTER},
    {"nr_pool_instances", "Instances alive.", NR_METRIC_GAUGE},
    {"nr_pool_in_use", "Instances leased.", NR_METRIC_GAUGE},
    {"nr_pool_idle", "Instances idle.", NR_METRIC_GAUGE},
    {"nr_pool_waiters", "Callers waiting for an instance.", NR_METRIC_GAUGE},
    {"nr_pool_creating", "Creates running.", NR_METRIC_GAUGE},
    {"nr_pool_max_size", "The pool's max_size.", NR_METRIC_GAUGE},
    {"nr_pool_breaker_open", "1 while the create breaker is open.", NR_METRIC_GAUGE},
    {"nr_pool_suspended", "1 while the pool is suspended.", NR_METRIC_GAUGE},
    {"nr_pool_leaks_open", "Leases reported held too long and still out.", NR_METRIC_GAUGE},
    {"nr_pool_degraded_idle", "Idle instances whose last check said degraded.", NR_METRIC_GAUGE},
    {"nr_pool_quarantined_instances", "Instances in quarantine.", NR_METRIC_GAUGE},
};
#define NFAM    (sizeof(pool_counters) / sizeof(pool_counters[0]))
#define NCOUNTS 13 /* the counters come first in pool_counters */

static void scope_label(const nr_scope *s, char *buf, size_t len)
{
    if (nr_scope_format(s, buf, len) >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
}

/* Copy one pool's statistics into its series. */
static int collect_pool(nr_metrics *reg, const char *id, nr_pool *p, nr_error *err)
{
    char scope[NR_SCOPE_TEXT_MAX];
    scope_label(nr_pool_scope(p), scope, sizeof(scope));
    const char *labels[] = {id, scope};
    nr_pool_stats s = NR_POOL_STATS_INIT;
    nr_pool_stats_get(p, &s);
    const uint64_t counts[NCOUNTS] = {s.acquires,
                                      s.releases,
                                      s.timeouts,
                                      s.creates,
                                      s.create_failures,
                                      s.destroys,
                                      s.health_discards,
                                      s.breaker_opens,
                                      s.leaks,
                                      s.degraded_replaced,
                                      s.quarantines,
                                      s.quarantine_releases,
                                      s.quarantine_discards};
    const double gauges[NFAM - NCOUNTS] = {
        s.total,        s.in_use,    s.idle,       s.waiters,       s.creating,   s.max_size,
        s.breaker_open, s.suspended, s.leaks_open, s.degraded_idle, s.quarantined};
    _Static_assert(sizeof(counts) / sizeof(counts[0]) + sizeof(gauges) / sizeof(gauges[0]) == NFAM,
                   "one value per family");
    for (size_t i = 0; i < NFAM; i++) {
        int rc;
        if (pool_counters[i].type == NR_METRIC_COUNTER) {
            nr_counter *c;
            rc = nr_metrics_counter(reg, pool_counters[i].name, labels, 2, &c, err);
            if (rc == NR_OK)
                nr_counter_set(c, counts[i]);
        } else {
            nr_gauge *g;
            rc = nr_metrics_gauge(reg, pool_counters[i].name, labels, 2, &g, err);
            if (rc == NR_OK)
                nr_gauge_set(g, gauges[i - NCOUNTS]);
        }
        if (rc != NR_OK)
            return rc;
    }
    return NR_OK;
}

static int collect(nr_metrics *reg, void *ud, nr_error *err)
{
    nr__entry **list;
    size_t n = nr__entries_snapshot(ud, 0, &list, NULL);
    int rc = NR_OK;
    for (size_t i = 0; i < n; i++) {
        nr__entry *e = list[i];
        if (rc == NR_OK) {
            nr_gauge *g;
            const char *labels[] = {e->id};
            rc = nr_metrics_gauge(reg, "nr_resource_health", labels, 1, &g, err);
            if (rc == NR_OK)
                nr_gauge_set(g, atomic_load_explicit(&e->health, memory_order_relaxed));
        }
        size_t np;
        nr_pool **pools = nr__entry_pools(e, &np);
        for (size_t k = 0; k < np && rc == NR_OK; k++)
            rc = collect_pool(reg, e->id, pools[k], err);
        nr_free(pools);
    }
    nr__entries_put(list, n);
    return rc;
}

int nr__metrics_setup(nr_manager *m, nr_error *err)
{
    nr_metrics *reg = m->opts.metrics;
    if (!reg)
        return NR_OK;
    for (size_t i = 0; i < NFAM; i++) {
        nr_metric_desc d = {.name = pool_counters[i].name,
                            .help = pool_counters[i].help,
                            .type = pool_counters[i].type,
                            .label_names = res_labels,
                            .label_count = 2};
        int rc = nr_metrics_register(reg, &d, err);
        if (rc != NR_OK)
            return rc;
    }
    nr_metric_desc wait = {.name = "nr_pool_acquire_wait_seconds",
                           .help = "Time waited by each acquire that had to wait.",
                           .type = NR_METRIC_HISTOGRAM,
                           .label_names = res_labels,
                           .label_count = 2,
                           .buckets = wait_buckets,
                           .bucket_count = sizeof(wait_buckets) / sizeof(wait_buckets[0])};
    nr_metric_desc check = {.name = "nr_health_check_seconds",
                            .help = "Duration of each instance health check.",
                            .type = NR_METRIC_HISTOGRAM,
                            .label_names = res_labels,
                            .label_count = 2,
                            .buckets = check_buckets,
                            .bucket_count = sizeof(check_buckets) / sizeof(check_buckets[0])};
    nr_metric_desc health = {.name = "nr_resource_health",
                             .help = "Health of a resource: 0 unknown, 1 healthy, 2 degraded, "
                                     "3 unhealthy.",
                             .type = NR_METRIC_GAUGE,
                             .label_names = res_only,
                             .label_count = 1};
    int rc = nr_metrics_register(reg, &wait, err);
    if (rc == NR_OK)
        rc = nr_metrics_register(reg, &check, err);
    if (rc == NR_OK)
        rc = nr_metrics_register(reg, &health, err);
    if (rc == NR_OK)
        rc = nr_metrics_add_collector(reg, collect, m, err);
    if (rc == NR_OK)
        rc = nr__group_metrics_setup(m, err);
    return rc;
}

void nr__metrics_teardown(nr_manager *m)
{
    if (m->opts.metrics)
        nr_metrics_remove_collector(m->opts.metrics, collect, m, NULL);
    nr__group_metrics_teardown(m);
}

void nr__entry_histograms(nr_manager *m, nr__entry *e, const nr_scope *scope, nr_histogram **wait,
                          nr_histogram **health)
{
    *wait = *health = NULL;
    if (!m->opts.metrics)
        return;
    char text[NR_SCOPE_TEXT_MAX];
    scope_label(scope, text, sizeof(text));
    const char *labels[] = {e->id, text};
    if (nr_metrics_histogram(m->opts.metrics, "nr_pool_acquire_wait_seconds", labels, 2, wait,
                             NULL) != NR_OK)
        *wait = NULL;
    if (nr_metrics_histogram(m->opts.metrics, "nr_health_check_seconds", labels, 2, health, NULL) !=
        NR_OK)
        *health = NULL;
}

void nr__metrics_forget(nr_manager *m, const char *id)
{
    nr_metrics *reg = m->opts.metrics;
    if (!reg)
        return;
    static const char *const others[] = {"nr_pool_acquire_wait_seconds", "nr_health_check_seconds",
                                         "nr_resource_health"};
    /* Under the registry lock, so that no entry of that id registers (and
     * takes the histograms of those labels) between the look and the removal. */
    pthread_rwlock_rdlock(&m->lock);
    if (!nr__reg_find(m, id)) {
        for (size_t i = 0; i < NFAM; i++)
            nr_metrics_remove_series(reg, pool_counters[i].name, "resource", id, NULL, NULL);
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
            nr_metrics_remove_series(reg, others[i], "resource", id, NULL, NULL);
    }
    pthread_rwlock_unlock(&m->lock);
}

void nr__metrics_forget_scope(nr_manager *m, const char *id, const nr_scope *scope)
{
    nr_metrics *reg = m->opts.metrics;
    if (!reg)
        return;
    char text[NR_SCOPE_TEXT_MAX];
    scope_label(scope, text, sizeof(text));
    const char *names[] = {"resource", "scope"}, *values[] = {id, text};
    static const char *const hists[] = {"nr_pool_acquire_wait_seconds", "nr_health_check_seconds"};
    for (size_t i = 0; i < NFAM; i++)
        nr_metrics_remove_series_where(reg, pool_counters[i].name, names, values, 2, NULL, NULL);
    for (size_t i = 0; i < sizeof(hists) / sizeof(hists[0]); i++)
        nr_metrics_remove_series_where(reg, hists[i], names, values, 2, NULL, NULL);
}

void nr__manager_event(nr_manager *m, nr_event_type type, const char *id, const nr_scope *scope,
                       int64_t count, int64_t wait_ns, const char *text)
{
    if (!m->opts.events)
        return;
    nr_event ev;
    nr_event_init(&ev, type, id);
    if (scope)
        nr_event_set_scope(&ev, scope);
    ev.count = count;
    ev.wait_ns = wait_ns;
    if (text)
        nr_event_set_text(&ev, text);
    nr_event_publish(m->opts.events, &ev);
}

void nr__health_event(nr_manager *m, nr__entry *e, nr_health_state old, nr_health_state now,
                      const char *reason)
{
    if (!m->opts.events)
        return;
    nr_event ev;
    nr_event_init(&ev, NR_EV_HEALTH_CHANGED, e->id);
    nr_event_set_scope(&ev, &e->scope);
    ev.health_old = old;
    ev.health_new = now;
    nr_event_set_text(&ev, reason);
    nr_event_publish(m->opts.events, &ev);
}
