/*
 * hook_slow_acquire.c - the slow-acquire hook: a pool of one connection, one
 * lease held while a second acquire waits past the threshold; the wait is
 * reported as an NR_EV_SLOW_ACQUIRE event (and a warn trace line and a
 * counter when those are set up), with the pool's state.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "nebula/events.h"
#include "nebula/hooks.h"
#include "nebula/hooks_builtin.h"
#include "nebula/manager.h"
#include "nebula/resource.h"
#include "nebula/sqlite.h"

#define THRESHOLD_MS 50

static nr_pool_stats stats_of(nr_manager *m)
{
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    nr_manager_resource_info(m, "orders-db", &info, NULL);
    return info.stats;
}

/* Hold the only connection until the other acquire has waited twice the
 * threshold. */
static void *holder(void *arg)
{
    nr_manager *m = arg;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
    nr_guard g = NR_GUARD_INIT;
    if (nr_manager_acquire(m, "orders-db", &ctx, &g, NULL) != NR_OK)
        return NULL;
    printf("holder: holding the only connection\n");
    fflush(stdout);
    while (stats_of(m).waiters < 1)
        nr_sleep_ns(1000000);
    nr_sleep_ns(2 * THRESHOLD_MS * NR_NS_PER_MS);
    nr_guard_release(&g);
    return NULL;
}

int main(void)
{
    nr_error err = {0};
    nr_event_bus *bus = NULL;
    nr_event_sub *sub = NULL;
    nr_slow_acquire *slow = NULL;
    nr_hooks *hooks = NULL;
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_slow_acquire_options so = NR_SLOW_ACQUIRE_OPTIONS_INIT;
    nr_slow_acquire_options_default(&so);
    so.threshold_ms = THRESHOLD_MS;
    if (nr_event_bus_create(&bus, 64, &err) != NR_OK ||
        nr_event_subscribe(bus, &sub, &err) != NR_OK)
        goto fail;
    so.events = bus;
    if (nr_slow_acquire_create(&slow, &so, &err) != NR_OK ||
        nr_hooks_create(&hooks, NULL, &err) != NR_OK)
        goto fail;
    nr_slow_acquire_hook(slow, &def);
    if (nr_hooks_add(hooks, &def, NULL, &err) != NR_OK)
        goto fail;

    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.hooks = hooks;
    nr_manager *m = NULL;
    nr_sqlite_config cfg;
    nr_config_init(&nr_sqlite_config_schema, &cfg, NULL);
    nr_free(cfg.path);
    cfg.path = nr_strdup("file:hook_slow?mode=memory&cache=shared");
    nr_pool_config pool;
    nr_pool_config_default(&pool);
    pool.max_size = 1;
    pool.min_idle = 0;
    nr_resource_spec spec =
        NR_RESOURCE_SPEC(.id = "orders-db", .type = &nr_sqlite_type, .config = &cfg, .pool = &pool);
    if (nr_manager_create(&m, &mo, &err) != NR_OK || nr_manager_register(m, &spec, &err) != NR_OK ||
        nr_manager_start(m, nr_deadline_in_ms(10000), &err) != NR_OK)
        goto fail;
    nr_config_free(&nr_sqlite_config_schema, &cfg);

    /* a fast acquire: below the threshold, nothing reported */
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
    nr_guard g = NR_GUARD_INIT;
    if (nr_manager_acquire(m, "orders-db", &ctx, &g, &err) != NR_OK)
        goto fail;
    nr_guard_release(&g);
    printf("fast acquire: %llu slow acquire(s) reported\n",
           (unsigned long long)nr_slow_acquire_count(slow));

    pthread_t t;
    pthread_create(&t, NULL, holder, m);
    while (stats_of(m).in_use < 1) /* the holder has the connection */
        nr_sleep_ns(1000000);
    ctx.deadline = nr_deadline_in_ms(5000);
    if (nr_manager_acquire(m, "orders-db", &ctx, &g, &err) != NR_OK)
        goto fail;
    nr_guard_release(&g);
    pthread_join(t, NULL);

    nr_event ev;
    int status = 1;
    while (nr_event_next(sub, &ev, NULL, nr_deadline_in_ms(0)) == NR_OK) {
        if (ev.type != NR_EV_SLOW_ACQUIRE)
            continue;
        printf("slow acquire of %s: %s\n", ev.resource_id, ev.text);
        status = ev.wait_ns > THRESHOLD_MS * NR_NS_PER_MS ? 0 : 1;
    }
    printf("%llu slow acquire(s) reported\n", (unsigned long long)nr_slow_acquire_count(slow));
    if (nr_slow_acquire_count(slow) != 1)
        status = 1;
    nr_manager_destroy(m, NULL);
    nr_hooks_destroy(hooks, NULL);
    nr_slow_acquire_destroy(slow);
    nr_event_unsubscribe(sub);
    nr_event_bus_destroy(bus);
    return status;
fail:
    fprintf(stderr, "hook_slow_acquire: %s\n", err.message);
    return 1;
}
