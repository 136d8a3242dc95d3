/*
 * test_manager_quarantine.c - a resource that keeps failing is taken out of
 * service: acquires fail at once naming until when, the attempt and why;
 * its probes back off and are skipped until due; after the last attempt it
 * waits for an operator; a passing probe (or a release) half-opens it with
 * a few trial acquires, and the next good round puts it back. Order and
 * counts are checked, never how long anything took.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "testutil.h"

typedef struct fixture {
    nr_mock fake;
    nr_mock_config cfg;
    nr_event_bus *bus;
    nr_event_sub *sub;
    nr_manager *m;
} fixture;

static fixture *make(int64_t base_ms)
{
    fixture *f = calloc(1, sizeof(*f));
    nr_mock_init(&f->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    assert_int_equal(nr_event_bus_create(&f->bus, 256, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(f->bus, &f->sub, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.failure_threshold = 1;
    mo.recovery_threshold = 1;
    mo.events = f->bus;
    mo.quarantine_after = 2;
    mo.quarantine_base_ms = base_ms;
    mo.quarantine_factor = 2;
    mo.quarantine_max_ms = base_ms * 4;
    mo.quarantine_jitter = 0;
    mo.quarantine_max_attempts = 3;
    mo.quarantine_trials = 2;
    nr_error err = {0};
    if (nr_manager_create(&f->m, &mo, &err) != NR_OK)
        fail_msg("create: %s", err.message);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.min_idle = 1;
    pc.create_backoff_ms = 1;
    pc.create_backoff_max_ms = 1;
    pc.breaker_failures = 0;
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                          .config = &f->cfg, .pool = &pc);
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_manager_tick(f->m);
    return f;
}

static void destroy(fixture *f)
{
    nr_error err = {0};
    if (nr_manager_destroy(f->m, &err) != NR_OK)
        fail_msg("nr_manager_destroy: %s", err.message);
    assert_int_equal(atomic_load(&f->fake.creates), atomic_load(&f->fake.destroys));
    nr_event_unsubscribe(f->sub);
    nr_event_bus_destroy(f->bus);
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    free(f);
}

static void backend(fixture *f, bool up)
{
    atomic_store(&f->fake.health, up ? NR_HEALTH_HEALTHY : NR_HEALTH_UNHEALTHY);
    atomic_store(&f->fake.fail_create, up ? 0 : 1);
}

static nr_resource_info info(fixture *f)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, "db", &i, NULL), NR_OK);
    return i;
}

/* The next quarantine event (QUARANTINED or QUARANTINE_RELEASED), or type 0. */
static nr_event next_q(fixture *f)
{
    nr_event ev;
    uint64_t missed = 0;
    while (nr_event_next(f->sub, &ev, &missed, nr_deadline_in_ns(0)) == NR_OK)
        if (ev.type == NR_EV_QUARANTINED || ev.type == NR_EV_QUARANTINE_RELEASED)
            return ev;
    memset(&ev, 0, sizeof(ev));
    return ev;
}

static int acquire(fixture *f, nr_error *err)
{
    nr_guard g = NR_GUARD_INIT;
    int rc = nr_manager_acquire(f->m, "db", NULL, &g, err);
    if (rc == NR_OK)
        assert_int_equal(nr_guard_release(&g), NR_OK);
    return rc;
}

/* Wait longer than the probe delay, then run a round. */
static void later_tick(fixture *f, int64_t ms)
{
    nr_sleep_ns((ms + 1) * NR_NS_PER_MS);
    nr_manager_tick(f->m);
}

static void test_quarantine_backoff_held_and_release(void **state)
{
    (void)state;
    fixture *f = make(2);
    nr_error err = {0};
    backend(f, false);
    nr_manager_tick(f->m); /* unhealthy, one bad round: not yet */
    assert_int_equal(info(f).quarantine, NR_QUARANTINE_NONE);
    assert_int_equal(next_q(f).type, 0);
    nr_manager_tick(f->m); /* two in a row: out */
    nr_resource_info i = info(f);
    assert_int_equal(i.quarantine, NR_QUARANTINE_ON);
    assert_int_equal(i.quarantine_attempt, 1);
    assert_true(i.quarantine_until_ms > 0);
    nr_event ev = next_q(f);
    assert_int_equal(ev.type, NR_EV_QUARANTINED);
    assert_int_equal(ev.count, 1);
    assert_true(strncmp(ev.text, "quarantined until ", 18) == 0);
    assert_non_null(strstr(ev.text, "(attempt 1 of 3): "));
    long creates = atomic_load(&f->fake.create_calls);
    assert_int_equal(acquire(f, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "resource 'db' quarantined until ");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "(attempt 1 of 3): ");
    assert_int_equal(atomic_load(&f->fake.create_calls), creates); /* failed at once */

    /* each failed probe: the next attempt, after a longer delay (2, 4, then capped 8) */
    later_tick(f, 2);
    assert_int_equal(info(f).quarantine_attempt, 2);
    assert_int_equal(next_q(f).count, 2);
    later_tick(f, 4);
    assert_int_equal(info(f).quarantine_attempt, 3);
    assert_int_equal(next_q(f).count, 3);
    later_tick(f, 8); /* the last attempt failed: held for an operator */
    i = info(f);
    assert_int_equal(i.quarantine, NR_QUARANTINE_HELD);
    assert_int_equal(i.quarantine_until_ms, 0);
    ev = next_q(f);
    assert_int_equal(ev.type, NR_EV_QUARANTINED);
    assert_true(
        strncmp(ev.text, "quarantined until an operator releases it (3 probes failed): ", 61) == 0);
    /* held: rounds do not probe it at all. The last probe's create may still
     * be finishing on the creator (an acquire that gave up leaves it to land):
     * count from when none is in flight */
    for (int k = 0; k < 500 && info(f).stats.creating > 0; k++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(info(f).stats.creating, 0);
    long checks = atomic_load(&f->fake.health_checks), calls = atomic_load(&f->fake.create_calls);
    later_tick(f, 8);
    later_tick(f, 8);
    assert_int_equal(atomic_load(&f->fake.health_checks), checks);
    assert_int_equal(atomic_load(&f->fake.create_calls), calls);
    assert_int_equal(acquire(f, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "quarantined until an operator releases it");

    /* an operator releases it: half-open, two trials, then the round decides */
    backend(f, true);
    assert_int_equal(nr_manager_release_quarantine(f->m, "db", &err), NR_OK);
    ev = next_q(f);
    assert_int_equal(ev.type, NR_EV_QUARANTINE_RELEASED);
    assert_string_equal(ev.text, "half-open: released by an operator; 2 trial acquires");
    assert_int_equal(info(f).quarantine, NR_QUARANTINE_HALF_OPEN);
    assert_int_equal(info(f).health, NR_HEALTH_UNHEALTHY); /* own health: not judged yet */
    assert_int_equal(acquire(f, &err), NR_OK);             /* trials go through anyway */
    assert_int_equal(acquire(f, &err), NR_OK);
    assert_int_equal(acquire(f, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "is half-open and its trial acquires are taken");
    assert_int_equal(nr_manager_release_quarantine(f->m, "db", &err), NR_ESTATE);
    NR_ASSERT_ERR(err, NR_ESTATE, "resource 'db' is not quarantined (it is half-open)");
    nr_manager_tick(f->m); /* a good round: back in service */
    i = info(f);
    assert_int_equal(i.quarantine, NR_QUARANTINE_NONE);
    assert_int_equal(i.health, NR_HEALTH_HEALTHY);
    ev = next_q(f);
    assert_int_equal(ev.type, NR_EV_QUARANTINE_RELEASED);
    assert_string_equal(ev.text, "back in service");
    assert_int_equal(acquire(f, &err), NR_OK);
    destroy(f);
}

static void test_probe_passes_half_open_then_fails_again(void **state)
{
    (void)state;
    fixture *f = make(2);
    nr_error err = {0};
    backend(f, false);
    nr_manager_tick(f->m);
    nr_manager_tick(f->m);
    assert_int_equal(next_q(f).type, NR_EV_QUARANTINED);
    backend(f, true);
    later_tick(f, 2); /* the probe passes */
    nr_resource_info i = info(f);
    assert_int_equal(i.quarantine, NR_QUARANTINE_HALF_OPEN);
    nr_event ev = next_q(f);
    assert_int_equal(ev.type, NR_EV_QUARANTINE_RELEASED);
    assert_string_equal(ev.text, "half-open: probe 1 passed; 2 trial acquires");
    /* the trial round fails: back out, the next attempt */
    assert_int_equal(acquire(f, &err), NR_OK); /* a trial */
    backend(f, false);
    nr_manager_tick(f->m);
    i = info(f);
    assert_int_equal(i.quarantine, NR_QUARANTINE_ON);
    assert_int_equal(i.quarantine_attempt, 2);
    assert_int_equal(next_q(f).type, NR_EV_QUARANTINED);
    destroy(f);
}

static void test_probe_not_due_is_skipped(void **state)
{
    (void)state;
    fixture *f = make(600000); /* the first probe is ten minutes away */
    backend(f, false);
    nr_manager_tick(f->m);
    nr_manager_tick(f->m);
    assert_int_equal(info(f).quarantine, NR_QUARANTINE_ON);
    long checks = atomic_load(&f->fake.health_checks), calls = atomic_load(&f->fake.create_calls);
    nr_manager_tick(f->m);
    nr_manager_tick(f->m);
    assert_int_equal(atomic_load(&f->fake.health_checks), checks);
    assert_int_equal(atomic_load(&f->fake.create_calls), calls);
    assert_int_equal(info(f).quarantine_attempt, 1);
    /* an operator need not wait for it */
    backend(f, true);
    assert_int_equal(nr_manager_release_quarantine(f->m, "db", NULL), NR_OK);
    nr_manager_tick(f->m);
    assert_int_equal(info(f).quarantine, NR_QUARANTINE_NONE);
    destroy(f);
}

static void test_bad_options(void **state)
{
    (void)state;
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager *m = NULL;
    nr_error err = {0};
    nr_manager_options_default(&mo);
    mo.quarantine_after = 1;
    mo.quarantine_max_ms = 10;
    mo.quarantine_base_ms = 100;
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_EINVAL);
    NR_ASSERT_ERR(
        err, NR_EINVAL,
        "manager options: quarantine_max_ms must be quarantine_base_ms..86400000 (got 10)");
    nr_manager_options_default(&mo);
    mo.quarantine_after = 1;
    mo.quarantine_factor = 0.5;
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "manager options: quarantine_factor must be 1..10 (got 0.5)");
    nr_manager_options_default(&mo);
    mo.quarantine_factor = 0.5; /* quarantine off: the rest is not looked at */
    assert_int_equal(nr_manager_create(&m, &mo, &err), NR_OK);
    assert_int_equal(nr_manager_release_quarantine(m, "nope", &err), NR_ENOTFOUND);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quarantine_backoff_held_and_release),
        cmocka_unit_test(test_probe_passes_half_open_then_fails_again),
        cmocka_unit_test(test_probe_not_due_is_skipped),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
