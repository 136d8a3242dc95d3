/*
 * test_manager_autoscale.c - autoscaling decisions under scripted load, on
 * a fake clock: watermarks held for the window, the cooldown between
 * decisions, the policy's bounds, the events and nr_resource_info; a bad
 * policy refused by name; a reload that changes the policy in place.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "testutil.h"

typedef struct fixture {
    nr_mock fake;
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_autoscale_policy as;
    nr_manager_options mo;
    nr_manager *m;
    nr_event_bus *bus;
    nr_event_sub *sub;
    int64_t now_ns;
    nr_guard held[8];
    int nheld;
} fixture;

static int64_t fake_clock(void *ud)
{
    return ((fixture *)ud)->now_ns;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    nr_mock_init(&f->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    nr_pool_config_default(&f->pcfg);
    f->pcfg.max_size = 2;
    f->pcfg.acquire_timeout_ms = 0; /* no waiting: the script holds what it gets */
    nr_autoscale_policy_default(&f->as);
    f->as.enabled = true;
    f->as.high_watermark = 0.8;
    f->as.low_watermark = 0.3;
    f->as.step_up = 2;
    f->as.step_down = 1;
    f->as.window_ms = 1000;
    f->as.cooldown_ms = 2000;
    f->as.min_size = 2;
    f->as.max_size = 6;
    nr_manager_options_default(&f->mo);
    f->mo.maintain_interval_ms = 0; /* rounds driven by nr_manager_tick */
    f->mo.health_interval_ms = 0;
    f->mo.workers = 2;
    f->mo.clock = fake_clock;
    f->mo.clock_ud = f;
    f->now_ns = NR_NS_PER_S;
    for (int i = 0; i < 8; i++)
        f->held[i] = (nr_guard)NR_GUARD_INIT;
    assert_int_equal(nr_event_bus_create(&f->bus, 1024, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(f->bus, &f->sub, NULL), NR_OK);
    f->mo.events = f->bus;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < f->nheld; i++)
        nr_guard_release(&f->held[i]);
    if (f->m) {
        nr_error err = {0};
        if (nr_manager_destroy(f->m, &err) != NR_OK)
            fail_msg("nr_manager_destroy: %s", err.message);
    }
    assert_int_equal(atomic_load(&f->fake.creates), atomic_load(&f->fake.destroys));
    nr_event_unsubscribe(f->sub);
    nr_event_bus_destroy(f->bus);
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    free(f);
    return 0;
}

static nr_resource_spec spec_of(fixture *f)
{
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                          .config = &f->cfg, .pool = &f->pcfg, .autoscale = &f->as);
    return s;
}

static void up(fixture *f)
{
    nr_error err = {0};
    assert_int_equal(nr_manager_create(&f->m, &f->mo, &err), NR_OK);
    nr_resource_spec s = spec_of(f);
    if (nr_manager_register(f->m, &s, &err) != NR_OK)
        fail_msg("register: %s", err.message);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
}

/* Hold n leases in all. */
static void hold(fixture *f, int n)
{
    nr_error err = {0};
    while (f->nheld < n) {
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
        if (nr_manager_acquire(f->m, "db", &ctx, &f->held[f->nheld], &err) != NR_OK)
            fail_msg("acquire %d: %s", f->nheld + 1, err.message);
        f->nheld++;
    }
    while (f->nheld > n)
        assert_int_equal(nr_guard_release(&f->held[--f->nheld]), NR_OK);
}

/* Move the clock to t_ms and run a round. */
static void at(fixture *f, int64_t t_ms)
{
    f->now_ns = t_ms * NR_NS_PER_MS;
    nr_manager_tick(f->m);
}

static int64_t max_size(fixture *f)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, "db", &i, NULL), NR_OK);
    return i.stats.max_size;
}

/* The decisions published since the last call, as "up 4 down 5 ...". */
static void decisions(fixture *f, char *out, size_t len)
{
    out[0] = '\0';
    size_t used = 0;
    nr_event ev;
    while (nr_event_next(f->sub, &ev, NULL, nr_deadline_in_ns(0)) == NR_OK) {
        if (ev.type != NR_EV_SCALED_UP && ev.type != NR_EV_SCALED_DOWN)
            continue;
        int w = snprintf(out + used, len - used, "%s%s %lld", used ? " " : "",
                         ev.type == NR_EV_SCALED_UP ? "up" : "down", (long long)ev.count);
        if (w > 0 && (size_t)w < len - used)
            used += (size_t)w;
    }
}

static void test_scripted_load_gives_the_decisions(void **state)
{
    fixture *f = *state;
    up(f);
    char got[256];
    /* busy: 2 of 2 in use (1.0 >= 0.8) */
    hold(f, 2);
    at(f, 1000); /* crossed now */
    at(f, 1500); /* held 500 ms: not yet */
    assert_int_equal(max_size(f), 2);
    at(f, 2000); /* held 1000 ms: up by 2 */
    assert_int_equal(max_size(f), 4);
    decisions(f, got, sizeof(got));
    assert_string_equal(got, "up 4");
    /* 2 of 4 (0.5): neither watermark */
    at(f, 2500);
    hold(f, 4); /* 4 of 4 */
    at(f, 3000);
    at(f, 3999); /* held 999 ms */
    assert_int_equal(max_size(f), 4);
    at(f, 4000); /* held 1000 ms, cooled 2000 ms: up by 2, to the bound */
    assert_int_equal(max_size(f), 6);
    hold(f, 6); /* 6 of 6: busy, but at the policy's max_size */
    at(f, 5000);
    at(f, 7000);
    assert_int_equal(max_size(f), 6);
    decisions(f, got, sizeof(got));
    assert_string_equal(got, "up 6");

    /* quiet: 0 in use (0 <= 0.3) */
    hold(f, 0);
    at(f, 8000);
    at(f, 9000); /* held 1000 ms: down by 1 */
    assert_int_equal(max_size(f), 5);
    at(f, 10000); /* the window starts again after a decision */
    at(f, 10500);
    assert_int_equal(max_size(f), 5);
    at(f, 11000); /* held 1000 ms, cooled 2000 ms */
    assert_int_equal(max_size(f), 4);
    /* the cooldown holds one back even when the window has passed */
    at(f, 11100);
    at(f, 12100);
    assert_int_equal(max_size(f), 4);
    at(f, 13000);
    assert_int_equal(max_size(f), 3);
    at(f, 14000);
    at(f, 15000);
    assert_int_equal(max_size(f), 2);
    at(f, 16000);
    at(f, 20000); /* at the policy's min_size: no lower */
    assert_int_equal(max_size(f), 2);
    decisions(f, got, sizeof(got));
    assert_string_equal(got, "down 5 down 4 down 3 down 2");

    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, "db", &i, NULL), NR_OK);
    assert_true(i.autoscale.enabled);
    assert_int_equal(i.autoscale.scale_ups, 2);
    assert_int_equal(i.autoscale.scale_downs, 4);
    assert_true(i.autoscale.last_decision_ms > 0);
    assert_string_equal(i.autoscale.last_decision,
                        "down: utilization 0.00 <= 0.30 for 1000 ms: max_size 3 -> 2");
}

typedef struct waiter {
    fixture *f;
    nr_guard g;
    int rc;
} waiter;

static void *wait_main(void *arg)
{
    waiter *w = arg;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000));
    w->rc = nr_manager_acquire(w->f->m, "db", &ctx, &w->g, NULL);
    return NULL;
}

/* Waiters count as demand: with 2 of 2 in use, a caller waiting makes the
 * utilization 1.5, past a high watermark of 1.2 that in use alone cannot
 * reach; the pool grows and the waiter is served. */
static void test_waiters_count(void **state)
{
    fixture *f = *state;
    f->pcfg.acquire_timeout_ms = 5000;
    f->as.high_watermark = 1.2;
    f->as.window_ms = 0;
    up(f);
    hold(f, 2);
    at(f, 1000);
    assert_int_equal(max_size(f), 2); /* 2 / 2 = 1.0 < 1.2 */
    waiter w = {.f = f, .g = NR_GUARD_INIT};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_main, &w), 0);
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    for (int k = 0; k < 10000; k++) {
        assert_int_equal(nr_manager_resource_info(f->m, "db", &i, NULL), NR_OK);
        if (i.stats.waiters == 1)
            break;
        nr_sleep_ns(NR_NS_PER_MS);
    }
    assert_int_equal(i.stats.waiters, 1);
    at(f, 2000);
    pthread_join(t, NULL);
    assert_int_equal(max_size(f), 4);
    assert_int_equal(w.rc, NR_OK);
    assert_int_equal(nr_guard_release(&w.g), NR_OK);
}

static void test_bad_policy_is_refused_by_name(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    assert_int_equal(nr_manager_create(&f->m, &f->mo, &err), NR_OK);
    f->as.low_watermark = 0.9;
    nr_resource_spec s = spec_of(f);
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "resource 'db': $.autoscale.low_watermark");
    NR_ASSERT_ERR(err, NR_ECONFIG, "below high_watermark");
    f->as.low_watermark = 0.3;
    f->as.min_size = 10;
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.autoscale.min_size");
    f->as.min_size = 2;
    f->as.step_up = 0;
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.autoscale.step_up");
}

/* A reload changes the policy in place: turned off, nothing moves. */
static void test_reload_changes_the_policy_in_place(void **state)
{
    fixture *f = *state;
    up(f);
    f->as.enabled = false;
    nr_resource_spec s = spec_of(f);
    nr_reload_report rep;
    nr_error err = {0};
    assert_int_equal(nr_manager_reload(f->m, &s, &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_IN_PLACE);
    assert_string_equal(rep.changes, "autoscale");
    hold(f, 2);
    at(f, 1000);
    at(f, 5000);
    assert_int_equal(max_size(f), 2);
    f->as.enabled = true;
    f->as.window_ms = 0;
    assert_int_equal(nr_manager_reload(f->m, &s, &rep, &err), NR_OK);
    at(f, 6000);
    assert_int_equal(max_size(f), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scripted_load_gives_the_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiters_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_policy_is_refused_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_changes_the_policy_in_place, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
