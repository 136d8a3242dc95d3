/*
 * test_pool_quarantine.c - instance quarantine: the threshold of failed
 * checks in a row, a quarantined instance never handed out but counted in
 * total, its probes on the pool's (fake) clock with growing delays, earliest
 * due first, release when a probe passes, destruction after the last
 * allowed probe, and evict-all, resize, lifetime, close and destroy with
 * quarantined instances. The events it publishes are read back from a bus.
 * Time is the fixture's fake clock; the tests count probes, never time.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "pool_fixture.h"
#include "testutil.h"

typedef nr_pool_fixture fixture;

static nr_pool_stats stats(fixture *f)
{
    return nr_pool_fixture_stats(f);
}

static uint64_t serial_of(const nr_guard *g)
{
    const nr_mock_handle *h = nr_guard_handle(g);
    return h->serial;
}

/* Quarantine after `after` failed checks, probes at 100, 200, 400, ... ms
 * (capped at 1000), no jitter, `attempts` probes; the fake clock at 0. */
static void quarantine_config(fixture *f, int after, int attempts)
{
    f->pcfg.instance_quarantine_after = after;
    f->pcfg.instance_quarantine_base_ms = 100;
    f->pcfg.instance_quarantine_factor = 2.0;
    f->pcfg.instance_quarantine_max_ms = 1000;
    f->pcfg.instance_quarantine_jitter = 0;
    f->pcfg.instance_quarantine_max_attempts = attempts;
    f->pcfg.replace_degraded = false;
    f->fake_clock = 1;
}

static void at_ms(fixture *f, int64_t ms)
{
    atomic_store(&f->clock_ns, ms * NR_NS_PER_MS);
}

static void prime(fixture *f, uint32_t n)
{
    nr_error err = {0};
    assert_int_equal(nr_pool_prime(f->pool, n, nr_deadline_in_ms(5000), &err), NR_OK);
}

static nr_pool_health_report round_(fixture *f)
{
    nr_pool_health_report rep;
    nr_error err = {0};
    assert_int_equal(nr_pool_check_health(f->pool, NR_NS_PER_S, &rep, &err), NR_OK);
    assert_int_equal(rep.unhealthy, rep.discarded + rep.quarantined + rep.kept);
    assert_true(rep.released + rep.probe_discarded <= rep.probed);
    return rep;
}

/* ---- events ---- */

typedef struct bus {
    nr_event_bus *bus;
    nr_event_sub *sub;
} bus;

static void bus_open(bus *b, fixture *f)
{
    assert_int_equal(nr_event_bus_create(&b->bus, 256, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(b->bus, &b->sub, NULL), NR_OK);
    f->events = b->bus;
}

static void bus_close(bus *b)
{
    nr_event_unsubscribe(b->sub);
    assert_int_equal(nr_event_bus_destroy(b->bus), NR_OK);
}

/* The next event of one of the quarantine kinds (or CLEANED_UP / DESTROYED
 * when want_other); 0 when none is left. */
static int next_of(bus *b, nr_event *ev, int want_other)
{
    for (;;) {
        uint64_t missed = 0;
        if (nr_event_next(b->sub, ev, &missed, nr_deadline_in_ns(0)) != NR_OK)
            return 0;
        assert_int_equal(missed, 0);
        if (ev->type == NR_EV_QUARANTINED || ev->type == NR_EV_QUARANTINE_RELEASED ||
            (want_other && (ev->type == NR_EV_CLEANED_UP || ev->type == NR_EV_DESTROYED)))
            return 1;
    }
}

/* ---- tests ---- */

static void test_threshold_of_failures_in_a_row(void **state)
{
    fixture *f = *state;
    quarantine_config(f, 3, 8);
    nr_pool_fixture_make(f, "q");
    prime(f, 1);
    nr_mock_script(&f->fake, 1, NR_HEALTH_UNHEALTHY);
    /* below the threshold: kept, as degraded */
    for (int i = 0; i < 2; i++) {
        nr_pool_health_report rep = round_(f);
        assert_int_equal(rep.unhealthy, 1);
        assert_int_equal(rep.kept, 1);
        assert_int_equal(rep.discarded, 0);
        assert_int_equal(rep.quarantined, 0);
        nr_pool_stats s = stats(f);
        assert_int_equal(s.degraded_idle, 1);
        assert_int_equal(s.quarantined, 0);
    }
    /* a healthy check resets the count */
    nr_mock_script(&f->fake, 1, NR_HEALTH_HEALTHY);
    assert_int_equal(round_(f).healthy, 1);
    assert_int_equal(stats(f).degraded_idle, 0);
    nr_mock_script(&f->fake, 1, NR_HEALTH_UNHEALTHY);
    assert_int_equal(round_(f).kept, 1);
    assert_int_equal(round_(f).kept, 1);
    /* the third in a row quarantines it */
    nr_pool_health_report rep = round_(f);
    assert_int_equal(rep.quarantined, 1);
    assert_int_equal(rep.kept, 0);
    assert_int_equal(rep.discarded, 0);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.quarantined, 1);
    assert_int_equal(s.quarantines, 1);
    assert_int_equal(s.total, 1);
    assert_int_equal(s.idle, 0);
    assert_int_equal(s.degraded_idle, 0);
    assert_int_equal(s.health_discards, 0);
    assert_int_equal(atomic_load(&f->fake.destroys), 0);
    /* a round before its probe is due checks nothing */
    long checks = atomic_load(&f->fake.health_checks);
    rep = round_(f);
    assert_int_equal(rep.checked, 0);
    assert_int_equal(rep.probed, 0);
    assert_int_equal(atomic_load(&f->fake.health_checks), checks);
}

static void test_quarantined_never_handed_out(void **state)
{
    fixture *f = *state;
    f->pcfg.max_size = 2;
    quarantine_config(f, 1, 8);
    nr_pool_fixture_make(f, "q");
    prime(f, 1);
    nr_mock_script(&f->fake, 1, NR_HEALTH_UNHEALTHY);
    assert_int_equal(round_(f).quarantined, 1);

    /* an acquire gets a new instance, not the quarantined one */
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_OK);
    assert_int_equal(serial_of(&g), 2);
    /* the quarantined one counts in total: the pool is full */
    nr_guard g2 = NR_GUARD_INIT;
    nr_ctx none = NR_CTX(.deadline = nr_deadline_in_ns(0));
    assert_int_equal(nr_pool_acquire(f->pool, &none, &g2, &err), NR_EEXHAUSTED);
    NR_ASSERT_ERR(err, NR_EEXHAUSTED, "all 2 instance(s) taken");
    nr_ctx brief = NR_CTX(.deadline = nr_deadline_in_ms(20));
    assert_int_equal(nr_pool_acquire(f->pool, &brief, &g2, &err), NR_ETIMEDOUT);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.total, 2);
    assert_int_equal(s.quarantined, 1);
    assert_int_equal(s.in_use, 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_OK);
        assert_int_equal(serial_of(&g), 2);
        assert_int_equal(nr_guard_release(&g), NR_OK);
    }
}

static void test_probe_backoff_then_destroyed(void **state)
{
    fixture *f = *state;
    quarantine_config(f, 1, 5);
    bus b;
    bus_open(&b, f);
    nr_pool_fixture_make(f, "q");
    prime(f, 1);
    nr_mock_script(&f->fake, 1, NR_HEALTH_UNHEALTHY);
    at_ms(f, 0);
    assert_int_equal(round_(f).quarantined, 1);
    nr_event ev;
    assert_true(next_of(&b, &ev, 0));
    assert_int_equal(ev.type, NR_EV_QUARANTINED);
    assert_int_equal(ev.instance_id, 1);
    assert_int_equal(ev.count, 1);
    assert_string_equal(ev.resource_id, "q");
    assert_string_equal(ev.text, "instance 1 quarantined (probe 1 of 5 in 100 ms): mock says so");

    /* probe k is due base x 2^(k-1) ms after the one before, capped at 1000:
     * at 100, 300, 700, 1500, 2500 */
    const int64_t due[] = {100, 300, 700, 1500, 2500};
    for (int k = 0; k < 5; k++) {
        at_ms(f, due[k] - 1);
        long checks = atomic_load(&f->fake.health_checks);
        nr_pool_health_report rep = round_(f);
        assert_int_equal(rep.probed, 0);
        assert_int_equal(atomic_load(&f->fake.health_checks), checks);
        at_ms(f, due[k]);
        rep = round_(f);
        assert_int_equal(rep.probed, 1);
        assert_int_equal(rep.released, 0);
        assert_int_equal(atomic_load(&f->fake.health_checks), checks + 1);
        if (k < 4) {
            assert_int_equal(rep.probe_discarded, 0);
            assert_int_equal(stats(f).quarantined, 1);
            assert_true(next_of(&b, &ev, 0));
            assert_int_equal(ev.type, NR_EV_QUARANTINED);
            assert_int_equal(ev.count, k + 2);
            assert_int_equal(ev.instance_id, 1);
        } else {
            assert_int_equal(rep.probe_discarded, 1);
        }
    }
    /* the fifth probe failed: destroyed, told as a cleanup and a destroy */
    assert_true(next_of(&b, &ev, 1));
    assert_int_equal(ev.type, NR_EV_CLEANED_UP);
    assert_int_equal(ev.instance_id, 1);
    assert_int_equal(ev.error_code, NR_EHEALTH);
    assert_string_equal(ev.text, "instance 1: 5 probes failed in quarantine: mock says so");
    assert_true(next_of(&b, &ev, 1));
    assert_int_equal(ev.type, NR_EV_DESTROYED);
    assert_int_equal(ev.instance_id, 1);
    assert_false(next_of(&b, &ev, 1));
    nr_pool_stats s = stats(f);
    assert_int_equal(s.quarantined, 0);
    assert_int_equal(s.total, 0);
    assert_int_equal(s.quarantine_discards, 1);
    assert_int_equal(s.health_discards, 1);
    assert_int_equal(s.quarantine_releases, 0);
    assert_int_equal(atomic_load(&f->fake.destroys), 1);
    /* nothing left to probe */
    at_ms(f, 100000);
    assert_int_equal(round_(f).probed, 0);
    assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    f->pool = NULL;
    bus_close(&b);
}

static void test_probe_delay_jitter_bounds(void **state)
{
    fixture *f = *state;
    quarantine_config(f, 1, 8);
    f->pcfg.instance_quarantine_base_ms = 1000;
    f->pcfg.instance_quarantine_max_ms = 1000;
    f->pcfg.instance_quarantine_jitter = 0.5; /* the first probe between 500 and 1500 ms */
    nr_pool_fixture_make(f, "q");
    prime(f, 1);
    nr_mock_script(&f->fake, 1, NR_HEALTH_UNHEALTHY);
    assert_int_equal(round_(f).quarantined, 1);
    at_ms(f, 499);
    assert_int_equal(round_(f).probed, 0);
    at_ms(f, 1500);
    assert_int_equal(round_(f).probed, 1);
    /* the second between 1500 + 500 and 1500 + 1500 */
    at_ms(f, 1999);
    assert_int_equal(round_(f).probed, 0);
    at_ms(f, 3000);
    assert_int_equal(round_(f).probed, 1);
}

static void test_release_when_a_probe_passes(void **state)
{
    fixture *f = *state;
    quarantine_config(f, 1, 8);
    bus b;
    bus_open(&b, f);
    nr_pool_fixture_make(f, "q");
    prime(f, 2);
    nr_mock_script(&f->fake, 1, NR_HEALTH_UNHEALTHY);
    nr_pool_health_report rep = round_(f);
    assert_int_equal(rep.checked, 2);
    assert_int_equal(rep.quarantined, 1);

    /* healthy again: released to the healthy idle instances */
    nr_mock_script(&f->fake, 1, NR_HEALTH_HEALTHY);
    at_ms(f, 100);
    rep = round_(f);
    assert_int_equal(rep.checked, 1); /* serial 2, idle */
    assert_int_equal(rep.probed, 1);
    assert_int_equal(rep.released, 1);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.quarantined, 0);
    assert_int_equal(s.idle, 2);
    assert_int_equal(s.degraded_idle, 0);
    assert_int_equal(s.quarantine_releases, 1);
    nr_event ev;
    assert_true(next_of(&b, &ev, 0));
    assert_int_equal(ev.type, NR_EV_QUARANTINED);
    assert_true(next_of(&b, &ev, 0));
    assert_int_equal(ev.type, NR_EV_QUARANTINE_RELEASED);
    assert_int_equal(ev.instance_id, 1);
    assert_int_equal(ev.count, 1);
    assert_string_equal(ev.text, "instance 1: probe 1 passed; back in the pool");
    /* it is handed out again */
    nr_guard g1 = NR_GUARD_INIT, g2 = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g1, NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g2, NULL), NR_OK);
    assert_int_equal(serial_of(&g1) + serial_of(&g2), 3);
    assert_int_equal(atomic_load(&f->fake.creates), 2);
    assert_int_equal(nr_guard_release(&g1), NR_OK);
    assert_int_equal(nr_guard_release(&g2), NR_OK);

    /* a probe that says degraded releases it to the degraded list */
    nr_mock_script(&f->fake, 2, NR_HEALTH_UNHEALTHY);
    at_ms(f, 1000);
    assert_int_equal(round_(f).quarantined, 1);
    nr_mock_script(&f->fake, 2, NR_HEALTH_DEGRADED);
    at_ms(f, 1100);
    rep = round_(f);
    assert_int_equal(rep.released, 1);
    s = stats(f);
    assert_int_equal(s.quarantined, 0);
    assert_int_equal(s.degraded_idle, 1);
    assert_true(next_of(&b, &ev, 0));
    assert_int_equal(ev.type, NR_EV_QUARANTINED);
    assert_true(next_of(&b, &ev, 0));
    assert_int_equal(ev.type, NR_EV_QUARANTINE_RELEASED);
    assert_string_equal(ev.text, "instance 2: probe 1 passed; back in the pool, degraded");
    assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    f->pool = NULL;
    bus_close(&b);
}

static void test_probes_earliest_due_first(void **state)
{
    fixture *f = *state;
    quarantine_config(f, 1, 8);
    nr_pool_fixture_make(f, "q");
    prime(f, 2);
    /* 1 is quarantined at 0 (due 100) and fails its probe at 100 (due 300);
     * 2 is quarantined at 150 (due 250): the list holds 1 before 2 */
    nr_mock_script(&f->fake, 1, NR_HEALTH_UNHEALTHY);
    at_ms(f, 0);
    assert_int_equal(round_(f).quarantined, 1);
    at_ms(f, 100);
    assert_int_equal(round_(f).probed, 1);
    nr_mock_script(&f->fake, 2, NR_HEALTH_UNHEALTHY);
    at_ms(f, 150);
    assert_int_equal(round_(f).quarantined, 1);
    assert_int_equal(stats(f).quarantined, 2);
    int from = atomic_load(&f->fake.check_log_n);
    at_ms(f, 400);
    nr_pool_health_report rep = round_(f);
    assert_int_equal(rep.probed, 2);
    assert_int_equal(atomic_load(&f->fake.check_log_n), from + 2);
    assert_int_equal(atomic_load(&f->fake.check_log[from]), 2);
    assert_int_equal(atomic_load(&f->fake.check_log[from + 1]), 1);
    /* each once per round, however long the round takes */
    assert_int_equal(round_(f).probed, 0);
}

static void test_evict_all_and_close_destroy_quarantined(void **state)
{
    fixture *f = *state;
    quarantine_config(f, 1, 8);
    nr_pool_fixture_make(f, "q");
    prime(f, 3);
    atomic_store(&f->fake.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(round_(f).quarantined, 3);
    assert_int_equal(stats(f).quarantined, 3);
    assert_int_equal(nr_pool_evict_all(f->pool), 3);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.quarantined, 0);
    assert_int_equal(s.total, 0);
    assert_int_equal(s.evicted_generation, 3);
    assert_int_equal(atomic_load(&f->fake.destroys), 3);

    prime(f, 2);
    assert_int_equal(round_(f).quarantined, 2);
    nr_pool_close(f->pool);
    s = stats(f);
    assert_int_equal(s.quarantined, 0);
    assert_int_equal(s.total, 0);
    assert_int_equal(atomic_load(&f->fake.live), 0);
}

static void test_destroy_with_quarantined(void **state)
{
    fixture *f = *state;
    quarantine_config(f, 1, 8);
    nr_pool_fixture_make(f, "q");
    prime(f, 2);
    nr_mock_script(&f->fake, 2, NR_HEALTH_UNHEALTHY);
    assert_int_equal(round_(f).quarantined, 1);
    assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    f->pool = NULL;
    assert_int_equal(atomic_load(&f->fake.live), 0); /* (and the teardown: creates == destroys) */
}

static void test_shrink_retires_quarantined_first(void **state)
{
    fixture *f = *state;
    quarantine_config(f, 1, 8);
    nr_pool_fixture_make(f, "q");
    prime(f, 3);
    nr_mock_script(&f->fake, 3, NR_HEALTH_UNHEALTHY); /* the most recently used */
    assert_int_equal(round_(f).quarantined, 1);
    assert_int_equal(nr_pool_resize(f->pool, 0, 2, NULL), NR_OK);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.quarantined, 0);
    assert_int_equal(s.total, 2);
    assert_int_equal(s.idle, 2);
    assert_int_equal(s.evicted_resize, 1);
    nr_guard g1 = NR_GUARD_INIT, g2 = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g1, NULL), NR_OK);
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g2, NULL), NR_OK);
    assert_int_equal(serial_of(&g1) + serial_of(&g2), 3); /* 1 and 2 */
    assert_int_equal(nr_guard_release(&g1), NR_OK);
    assert_int_equal(nr_guard_release(&g2), NR_OK);
}

static void test_lifetime_retires_quarantined(void **state)
{
    fixture *f = *state;
    quarantine_config(f, 1, 8);
    f->pcfg.max_lifetime_ms = 5;
    f->pcfg.max_lifetime_jitter = 0;
    nr_pool_fixture_make(f, "q");
    prime(f, 1);
    nr_mock_script(&f->fake, 1, NR_HEALTH_UNHEALTHY);
    assert_int_equal(round_(f).quarantined, 1);
    nr_test_sleep_past_ms(5);
    nr_pool_maintain_report rep;
    assert_int_equal(nr_pool_maintain(f->pool, &rep, NULL), NR_OK);
    assert_int_equal(rep.evicted_lifetime, 1);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.quarantined, 0);
    assert_int_equal(s.total, 0);
    assert_int_equal(atomic_load(&f->fake.destroys), 1);
}

typedef struct evict_hook {
    fixture *f;
    int armed;
    uint32_t evicted;
} evict_hook;

static void evict_during_probe(const char *what, void *arg)
{
    evict_hook *h = arg;
    if (strcmp(what, "health") == 0 && h->armed) {
        h->armed = 0;
        h->evicted = nr_pool_evict_all(h->f->pool); /* no lock is held: this must not hang */
    }
}

static void test_evict_all_while_probing(void **state)
{
    fixture *f = *state;
    quarantine_config(f, 1, 8);
    nr_pool_fixture_make(f, "q");
    prime(f, 1);
    nr_mock_script(&f->fake, 1, NR_HEALTH_UNHEALTHY);
    assert_int_equal(round_(f).quarantined, 1);
    nr_mock_script(&f->fake, 1, NR_HEALTH_HEALTHY);
    evict_hook h = {.f = f, .armed = 1};
    f->fake.on_call_arg = &h;
    f->fake.on_call = evict_during_probe;
    at_ms(f, 100);
    nr_pool_health_report rep = round_(f);
    f->fake.on_call = NULL;
    assert_int_equal(h.armed, 0);
    assert_int_equal(h.evicted, 0); /* it was off the list, held by the probe */
    assert_int_equal(rep.probed, 1);
    assert_int_equal(rep.released, 0); /* passed, but of the old generation: destroyed */
    nr_pool_stats s = stats(f);
    assert_int_equal(s.quarantined, 0);
    assert_int_equal(s.total, 0);
    assert_int_equal(s.evicted_generation, 1);
    assert_int_equal(atomic_load(&f->fake.destroys), 1);
}

static void test_quarantine_config_rules(void **state)
{
    fixture *f = *state;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "q", .type = &nr_mock_type, .type_ud = &f->fake,
                                        .config = &f->cfg, .pool = &f->pcfg);
    nr_pool *p = NULL;
    nr_error err = {0};
    nr_pool_config good = f->pcfg;

    f->pcfg.instance_quarantine_after = 1001;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG,
                  "pool 'q': $.pool.instance_quarantine_after: must be between 0 and 1000 "
                  "(got 1001)");
    f->pcfg = good;
    f->pcfg.instance_quarantine_jitter = 1.5;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.pool.instance_quarantine_jitter: must be between 0 and 1");
    f->pcfg = good;
    f->pcfg.instance_quarantine_max_attempts = 0;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.pool.instance_quarantine_max_attempts: must be between 1");
    f->pcfg = good;
    f->pcfg.instance_quarantine_factor = 0.5;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.pool.instance_quarantine_factor: must be between 1 and 10");
    f->pcfg = good;
    f->pcfg.instance_quarantine_after = 2;
    f->pcfg.instance_quarantine_base_ms = 5000;
    f->pcfg.instance_quarantine_max_ms = 1000;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG,
                  "pool 'q': $.pool.instance_quarantine_max_ms: instance_quarantine_max_ms must "
                  "not be less than instance_quarantine_base_ms (5000) (got 1000)");
    /* with quarantine off, the order of base and max does not matter */
    f->pcfg.instance_quarantine_after = 0;
    assert_int_equal(nr_pool_create(&p, &o, &err), NR_OK);
    assert_int_equal(nr_pool_destroy(p, NULL), NR_OK);

    nr_pool_config d;
    nr_pool_config_default(&d);
    assert_true(d.replace_degraded);
    assert_int_equal(d.instance_quarantine_after, 0);
    assert_int_equal(d.instance_quarantine_base_ms, 1000);
    assert_int_equal(d.instance_quarantine_max_ms, 60000);
    assert_int_equal(d.instance_quarantine_max_attempts, 8);
}

static void test_off_destroys_at_once(void **state)
{
    fixture *f = *state;
    f->fake_clock = 1;
    nr_pool_fixture_make(f, "q");
    prime(f, 2);
    nr_mock_script(&f->fake, 1, NR_HEALTH_UNHEALTHY);
    nr_pool_health_report rep = round_(f);
    assert_int_equal(rep.unhealthy, 1);
    assert_int_equal(rep.discarded, 1);
    assert_int_equal(rep.quarantined, 0);
    assert_int_equal(rep.kept, 0);
    nr_pool_stats s = stats(f);
    assert_int_equal(s.quarantined, 0);
    assert_int_equal(s.health_discards, 1);
    assert_int_equal(s.total, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, nr_pool_fixture_setup, nr_pool_fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_threshold_of_failures_in_a_row),
        T(test_quarantined_never_handed_out),
        T(test_probe_backoff_then_destroyed),
        T(test_probe_delay_jitter_bounds),
        T(test_release_when_a_probe_passes),
        T(test_probes_earliest_due_first),
        T(test_evict_all_and_close_destroy_quarantined),
        T(test_destroy_with_quarantined),
        T(test_shrink_retires_quarantined_first),
        T(test_lifetime_retires_quarantined),
        T(test_evict_all_while_probing),
        T(test_quarantine_config_rules),
        T(test_off_destroys_at_once),
    };
#undef T
    return cmocka_run_group_tests_name("pool_quarantine", tests, NULL, NULL);
}
