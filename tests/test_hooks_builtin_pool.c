/*
 * test_hooks_builtin_pool.c - the built-in hooks through a real registry,
 * pools and a manager of the mock type: the audit file's exact content for
 * a scripted workload (timestamps, durations, waits and instance ids checked
 * by shape), no secret of the resource's config in it; the metrics hook's
 * series after a workload; slow acquire firing for a pool of one whose only
 * lease is held while a second acquire waits past the threshold, and silent
 * for acquires that do not wait.
 *
 * Counts and order are asserted, never how long anything took: the one
 * wait that must exceed the threshold is made so by sleeping longer than it
 * while the waiter is known to be queued.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nebula/testing.h"
#include "nebula/events.h"
#include "nebula/hooks.h"
#include "nebula/hooks_builtin.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"
#include "testutil.h"

#define SECRET "s3cr3t-hook-token"

/* ---- audit through a manager -------------------------------------------------- */

/* Replace the digits after each of the keys whose values vary by run with
 * one letter: "ts_ms":T, "duration_ns":D, "wait_ns":W, "instance":I. Each
 * must hold at least one digit. */
static void normalize(const char *line, char *out, size_t cap)
{
    static const struct {
        const char *key;
        char letter;
    } vary[] = {{"\"ts_ms\":", 'T'},
                {"\"duration_ns\":", 'D'},
                {"\"wait_ns\":", 'W'},
                {"\"instance\":", 'I'}};
    size_t o = 0;
    for (const char *p = line; *p && o + 1 < cap;) {
        bool done = false;
        for (size_t k = 0; k < sizeof vary / sizeof vary[0] && !done; k++) {
            size_t n = strlen(vary[k].key);
            if (strncmp(p, vary[k].key, n) != 0 || p[n] < '0' || p[n] > '9')
                continue;
            if (o + n + 2 >= cap)
                break;
            memcpy(out + o, p, n);
            o += n;
            out[o++] = vary[k].letter;
            for (p += n; *p >= '0' && *p <= '9'; p++) {
            }
            done = true;
        }
        if (!done)
            out[o++] = *p++;
    }
    out[o] = '\0';
}

static void test_audit_through_manager(void **state)
{
    (void)state;
    char dir[] = "/tmp/nr_audit_mgr_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);

    nr_error err = {0};
    nr_audit_options ao = NR_AUDIT_OPTIONS_INIT;
    nr_audit_options_default(&ao);
    ao.path = path;
    nr_audit *audit = NULL;
    assert_int_equal(nr_audit_create(&audit, &ao, &err), NR_OK);
    nr_hooks *hooks = NULL;
    assert_int_equal(nr_hooks_create(&hooks, NULL, &err), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_audit_hook(audit, &def);
    assert_int_equal(nr_hooks_add(hooks, &def, NULL, &err), NR_OK);

    nr_mock fake;
    nr_mock_init(&fake);
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    assert_int_equal(nr_secret_from_str(&cfg.token, SECRET, NULL), NR_OK);
    nr_pool_config pcfg;
    nr_pool_config_default(&pcfg);
    pcfg.max_size = 1;
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.hooks = hooks;
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_OK);
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = "orders-db", .type = &nr_mock_type,
                                             .type_ud = &fake, .config = &cfg, .pool = &pcfg);
    assert_int_equal(nr_manager_register(m, &spec, &err), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(10000), &err), NR_OK);

    nr_scope acme;
    assert_int_equal(nr_scope_make(&acme, "acme", NULL, NULL, NULL, NULL), NR_OK);
    for (int i = 0; i < 2; i++) {
        nr_ctx ctx =
            NR_CTX(.scope = &acme, .deadline = nr_deadline_in_ms(10000), .caller = "checkout");
        nr_guard g = NR_GUARD_INIT;
        assert_int_equal(nr_manager_acquire(m, "orders-db", &ctx, &g, &err), NR_OK);
        nr_guard_release(&g);
    }
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK); /* destroys the instance */
    assert_int_equal(nr_hooks_destroy(hooks, &err), NR_OK);
    assert_int_equal(nr_audit_flush(audit, nr_deadline_in_ms(60000), &err), NR_OK);
    nr_audit_stats st = NR_AUDIT_STATS_INIT;
    nr_audit_stats_get(audit, &st);
    nr_audit_destroy(audit);
    nr_config_free(&nr_mock_config_schema, &cfg);

    static const char *const want[] = {
        "{\"ts_ms\":T,\"resource\":\"orders-db\",\"scope\":\"global\",\"op\":\"create\","
        "\"outcome\":\"ok\",\"code\":0,\"error\":null,\"duration_ns\":D,\"caller\":null,"
        "\"instance\":I}",
        "{\"ts_ms\":T,\"resource\":\"orders-db\",\"scope\":\"tenant:acme\",\"op\":\"acquire\","
        "\"outcome\":\"ok\",\"code\":0,\"error\":null,\"duration_ns\":D,\"wait_ns\":W,"
        "\"caller\":\"checkout\",\"instance\":I}",
        "{\"ts_ms\":T,\"resource\":\"orders-db\",\"scope\":\"global\",\"op\":\"release\","
        "\"outcome\":\"ok\",\"code\":0,\"error\":null,\"duration_ns\":D,\"caller\":null,"
        "\"instance\":I}",
        "{\"ts_ms\":T,\"resource\":\"orders-db\",\"scope\":\"tenant:acme\",\"op\":\"acquire\","
        "\"outcome\":\"ok\",\"code\":0,\"error\":null,\"duration_ns\":D,\"wait_ns\":W,"
        "\"caller\":\"checkout\",\"instance\":I}",
        "{\"ts_ms\":T,\"resource\":\"orders-db\",\"scope\":\"global\",\"op\":\"release\","
        "\"outcome\":\"ok\",\"code\":0,\"error\":null,\"duration_ns\":D,\"caller\":null,"
        "\"instance\":I}",
        "{\"ts_ms\":T,\"resource\":\"orders-db\",\"scope\":\"global\",\"op\":\"destroy\","
        "\"outcome\":\"ok\",\"code\":0,\"error\":null,\"duration_ns\":D,\"caller\":null,"
        "\"instance\":I}",
    };
    size_t nwant = sizeof want / sizeof want[0];
    assert_int_equal(st.written, nwant);
    assert_int_equal(st.dropped, 0);

    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[2048], norm[2048];
    size_t n = 0;
    while (fgets(line, sizeof line, fp)) {
        assert_non_null(strstr(line, "\n")); /* every line ends in '\n' */
        assert_null(strstr(line, SECRET));
        line[strcspn(line, "\n")] = '\0';
        assert_true(n < nwant);
        normalize(line, norm, sizeof norm);
        assert_string_equal(norm, want[n]);
        n++;
    }
    fclose(fp);
    assert_int_equal(n, nwant);
    assert_int_equal(atomic_load(&fake.creates), 1);
    nr_test_remove_dir(dir);
}

/* ---- pools ---------------------------------------------------------------------- */

typedef struct world {
    nr_mock fake;
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_hooks *hooks;
    nr_pool *pool;
} world;

static void world_make(world *w, size_t max_size)
{
    memset(w, 0, sizeof *w);
    nr_mock_init(&w->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &w->cfg, NULL), NR_OK);
    nr_pool_config_default(&w->pcfg);
    w->pcfg.max_size = (uint32_t)max_size;
    assert_int_equal(nr_hooks_create(&w->hooks, NULL, NULL), NR_OK);
}

static void world_pool(world *w)
{
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = "orders-db", .type = &nr_mock_type, .type_ud = &w->fake,
                        .config = &w->cfg, .pool = &w->pcfg, .hooks = w->hooks);
    nr_error err = {0};
    if (nr_pool_create(&w->pool, &o, &err) != NR_OK)
        fail_msg("nr_pool_create: %s", err.message);
}

static void world_free(world *w)
{
    assert_int_equal(nr_pool_destroy(w->pool, NULL), NR_OK);
    assert_int_equal(nr_hooks_destroy(w->hooks, NULL), NR_OK);
    assert_int_equal(atomic_load(&w->fake.creates), atomic_load(&w->fake.destroys));
    nr_config_free(&nr_mock_config_schema, &w->cfg);
}

static void acquire_release(nr_pool *p, int times)
{
    for (int i = 0; i < times; i++) {
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        if (nr_pool_acquire(p, &ctx, &g, &err) != NR_OK)
            fail_msg("acquire: %s", err.message);
        nr_guard_release(&g);
    }
}

static void assert_has(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("scrape lacks \"%s\":\n%s", line, text);
}

static void test_metrics_through_pool(void **state)
{
    (void)state;
    world w;
    world_make(&w, 2);
    nr_metrics *reg = NULL;
    assert_int_equal(nr_metrics_create(&reg, NULL), NR_OK);
    nr_hook_metrics *hm = NULL;
    assert_int_equal(nr_hook_metrics_create(&hm, reg, NULL), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_metrics_hook(hm, &def);
    assert_int_equal(nr_hooks_add(w.hooks, &def, NULL, NULL), NR_OK);
    world_pool(&w);
    acquire_release(w.pool, 3);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(nr_metrics_format(reg, &text, &len, NULL), NR_OK);
    assert_has(text, "nr_hook_ops_total{resource=\"orders-db\",op=\"create\",outcome=\"ok\"} 1\n");
    assert_has(text, "nr_hook_ops_total{resource=\"orders-db\",op=\"acquire\",outcome=\"ok\"} 3\n");
    assert_has(text, "nr_hook_ops_total{resource=\"orders-db\",op=\"release\",outcome=\"ok\"} 3\n");
    assert_has(text,
               "nr_hook_op_duration_seconds_count{resource=\"orders-db\",op=\"acquire\"} 3\n");
    nr_free(text);
    world_free(&w);
    nr_hook_metrics_destroy(hm);
    nr_metrics_destroy(reg);
}

/* ---- slow acquire for a held pool ------------------------------------------------ */

#define THRESHOLD_MS 20

static void *waiter(void *arg)
{
    nr_pool *p = arg;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(60000));
    nr_guard g = NR_GUARD_INIT;
    int rc = NR_POOL_ACQUIRE(p, &ctx, &g, NULL); /* the site: this file, this function */
    if (rc == NR_OK)
        nr_guard_release(&g);
    return (void *)(intptr_t)rc;
}

static void test_slow_acquire_held_pool(void **state)
{
    (void)state;
    world w;
    world_make(&w, 1);
    nr_event_bus *bus = NULL;
    assert_int_equal(nr_event_bus_create(&bus, 256, NULL), NR_OK);
    nr_event_sub *sub = NULL;
    assert_int_equal(nr_event_subscribe(bus, &sub, NULL), NR_OK);
    nr_metrics *reg = NULL;
    assert_int_equal(nr_metrics_create(&reg, NULL), NR_OK);
    nr_slow_acquire_options so = NR_SLOW_ACQUIRE_OPTIONS_INIT;
    nr_slow_acquire_options_default(&so);
    so.threshold_ms = THRESHOLD_MS;
    so.events = bus;
    so.metrics = reg;
    nr_slow_acquire *slow = NULL;
    assert_int_equal(nr_slow_acquire_create(&slow, &so, NULL), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_slow_acquire_hook(slow, &def);
    assert_int_equal(nr_hooks_add(w.hooks, &def, NULL, NULL), NR_OK);
    world_pool(&w);

    /* nobody waits: silent */
    acquire_release(w.pool, 5);
    assert_int_equal(nr_slow_acquire_count(slow), 0);

    /* hold the only instance while another acquire waits */
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
    nr_guard held = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(w.pool, &ctx, &held, NULL), NR_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, waiter, w.pool), 0);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    do {
        nr_sleep_ns(NR_NS_PER_MS);
        nr_pool_stats_get(w.pool, &st);
    } while (st.waiters < 1);
    /* queued now: it waits at least this long */
    nr_sleep_ns(2 * THRESHOLD_MS * NR_NS_PER_MS);
    nr_guard_release(&held);
    void *rc = NULL;
    pthread_join(t, &rc);
    assert_int_equal((int)(intptr_t)rc, NR_OK);
    assert_int_equal(nr_slow_acquire_count(slow), 1);

    nr_event ev;
    int slow_events = 0;
    while (nr_event_next(sub, &ev, NULL, nr_deadline_in_ns(0)) == NR_OK) {
        if (ev.type != NR_EV_SLOW_ACQUIRE)
            continue;
        slow_events++;
        assert_string_equal(ev.resource_id, "orders-db");
        assert_true(ev.wait_ns > THRESHOLD_MS * NR_NS_PER_MS);
        assert_int_equal(ev.error_code, NR_OK);
        assert_int_equal(ev.count, 0); /* it was the only waiter, served now */
        assert_true(ev.instance_id != 0);
        assert_memory_equal(ev.text, "waited ", 7);
        if (!strstr(ev.text, " ms; 1 of 1 in use, 0 waiting; at test_hooks_builtin_pool.c:"))
            fail_msg("text: %s", ev.text);
        if (!strstr(ev.text, " (waiter)"))
            fail_msg("text lacks the function: %s", ev.text);
    }
    assert_int_equal(slow_events, 1);

    /* free again: still one */
    acquire_release(w.pool, 3);
    assert_int_equal(nr_slow_acquire_count(slow), 1);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(nr_metrics_format(reg, &text, &len, NULL), NR_OK);
    assert_has(text, "nr_slow_acquires_total{resource=\"orders-db\"} 1\n");
    nr_free(text);

    world_free(&w);
    nr_slow_acquire_destroy(slow);
    nr_event_unsubscribe(sub);
    assert_int_equal(nr_event_bus_destroy(bus), NR_OK);
    nr_metrics_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_through_manager),
        cmocka_unit_test(test_metrics_through_pool),
        cmocka_unit_test(test_slow_acquire_held_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
