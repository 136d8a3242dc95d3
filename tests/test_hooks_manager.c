/*
 * test_hooks_manager.c - hooks under a manager: a resource's quarantine and
 * its release from quarantine (by a probe or an operator) refused and let
 * through, told with no pool and no instance; the manager's registry reaches
 * every pool it makes, tenant pools too, where a scope filter picks one
 * tenant. Counts and order are checked, never how long anything took.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "hook_probe.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "testutil.h"

typedef struct fixture {
    nr_mock fake;
    nr_mock_config cfg;
    nr_event_bus *bus;
    nr_event_sub *sub;
    nr_hooks *h;
    nr_manager *m;
} fixture;

static fixture *make(nr_partition partition)
{
    fixture *f = calloc(1, sizeof(*f));
    nr_mock_init(&f->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    assert_int_equal(nr_event_bus_create(&f->bus, 256, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(f->bus, &f->sub, NULL), NR_OK);
    nr_hooks_options ho = NR_HOOKS_OPTIONS_INIT;
    nr_hooks_options_default(&ho);
    ho.events = f->bus;
    assert_int_equal(nr_hooks_create(&f->h, &ho, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.health_timeout_ms = 200; /* a round's probe of a failing backend gives up soon */
    mo.failure_threshold = 1;
    mo.recovery_threshold = 1;
    mo.events = f->bus;
    mo.hooks = f->h;
    mo.quarantine_after = 2;
    mo.quarantine_base_ms = 2;
    mo.quarantine_factor = 2;
    mo.quarantine_max_ms = 8;
    mo.quarantine_jitter = 0;
    mo.quarantine_max_attempts = 3;
    mo.quarantine_trials = 2;
    nr_error err = {0};
    if (nr_manager_create(&f->m, &mo, &err) != NR_OK)
        fail_msg("create: %s", err.message);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.min_idle = partition == NR_PARTITION_NONE ? 1 : 0;
    pc.create_backoff_ms = 1;
    pc.create_backoff_max_ms = 1;
    pc.breaker_failures = 0;
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                          .config = &f->cfg, .pool = &pc, .partition = partition);
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    assert_int_equal(nr_manager_start(f->m, nr_deadline_in_ms(5000), &err), NR_OK);
    return f;
}

static void destroy(fixture *f)
{
    nr_error err = {0};
    if (nr_manager_destroy(f->m, &err) != NR_OK)
        fail_msg("nr_manager_destroy: %s", err.message);
    assert_int_equal(nr_hooks_destroy(f->h, NULL), NR_OK);
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

static nr_quarantine_state quarantine(fixture *f)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, "db", &i, NULL), NR_OK);
    return i.quarantine;
}

static int refusals(fixture *f, nr_event *last)
{
    int n = 0;
    nr_event ev;
    while (nr_event_next(f->sub, &ev, NULL, nr_deadline_in_ns(0)) == NR_OK)
        if (ev.type == NR_EV_HOOK_REFUSED) {
            n++;
            if (last)
                *last = ev;
        }
    return n;
}

/* Wait longer than the probe delay, then run a round. */
static void later_tick(fixture *f, int64_t ms)
{
    nr_sleep_ns((ms + 1) * NR_NS_PER_MS);
    nr_manager_tick(f->m);
}

static void test_quarantine_refused_then_let_through(void **state)
{
    (void)state;
    fixture *f = make(NR_PARTITION_NONE);
    nr_hook_probe keep = {.refuse = NR_EPERM};
    uint32_t q = NR_HOOK_OP_BIT(NR_HOOK_QUARANTINE);
    uint64_t id = nr_hook_probe_add(f->h, &keep, "keep-serving", q, 0);
    nr_manager_tick(f->m);
    refusals(f, NULL);
    backend(f, false);
    nr_manager_tick(f->m);
    nr_manager_tick(f->m); /* two bad rounds: it would go out */
    assert_int_equal(quarantine(f), NR_QUARANTINE_NONE);
    assert_int_equal(atomic_load(&keep.befores[NR_HOOK_QUARANTINE]), 1);
    assert_int_equal(atomic_load(&keep.afters[NR_HOOK_QUARANTINE]), 0);
    const nr_hook_seen *b = &keep.last_before;
    assert_string_equal(b->resource_id, "db");
    assert_string_equal(b->type_name, "mock");
    assert_false(b->pool_set);
    assert_int_equal(b->instance_id, 0);
    nr_event ev;
    assert_int_equal(refusals(f, &ev), 1);
    assert_string_equal(ev.resource_id, "db");
    assert_int_equal(ev.instance_id, 0);
    assert_string_equal(ev.text,
                        "hook 'keep-serving' refused quarantine of 'db': refused by keep-serving");

    /* asked again at the next bad round; without the refusal it goes out */
    assert_int_equal(nr_hooks_remove(f->h, id, NULL), NR_OK);
    nr_hook_probe seen = {0};
    nr_hook_probe_add(f->h, &seen, "seen", q, 0);
    nr_manager_tick(f->m);
    assert_int_equal(quarantine(f), NR_QUARANTINE_ON);
    assert_int_equal(atomic_load(&seen.afters[NR_HOOK_QUARANTINE]), 1);
    assert_int_equal(seen.last_after.rc, NR_OK);
    backend(f, true);
    destroy(f);
}

static void test_release_refused_by_probe_and_operator(void **state)
{
    (void)state;
    fixture *f = make(NR_PARTITION_NONE);
    nr_manager_tick(f->m);
    backend(f, false);
    nr_manager_tick(f->m);
    nr_manager_tick(f->m);
    assert_int_equal(quarantine(f), NR_QUARANTINE_ON);
    nr_hook_probe hold = {.refuse = NR_EPERM};
    uint32_t r = NR_HOOK_OP_BIT(NR_HOOK_QUARANTINE_RELEASE);
    uint64_t id = nr_hook_probe_add(f->h, &hold, "hold", r, 0);
    refusals(f, NULL);

    /* a probe passes, but the hook keeps it quarantined until the next one */
    backend(f, true);
    later_tick(f, 2);
    assert_int_equal(quarantine(f), NR_QUARANTINE_ON);
    assert_int_equal(atomic_load(&hold.befores[NR_HOOK_QUARANTINE_RELEASE]), 1);
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, "db", &i, NULL), NR_OK);
    assert_int_equal(i.quarantine_attempt, 1); /* a refusal is not a failed probe */
    /* an operator is refused too, with the hook's code */
    nr_error err = {0};
    assert_int_equal(nr_manager_release_quarantine(f->m, "db", &err), NR_EPERM);
    NR_ASSERT_ERR(err, NR_EPERM, "hook 'hold' refused quarantine_release of 'db': refused by hold");
    assert_int_equal(quarantine(f), NR_QUARANTINE_ON);
    assert_int_equal(atomic_load(&hold.afters[NR_HOOK_QUARANTINE_RELEASE]), 0);
    assert_int_equal(refusals(f, NULL), 2);

    /* let through: the operator's release half-opens it, and the after sees it */
    assert_int_equal(nr_hooks_remove(f->h, id, NULL), NR_OK);
    nr_hook_probe seen = {0};
    nr_hook_probe_add(f->h, &seen, "seen", r, 0);
    assert_int_equal(nr_manager_release_quarantine(f->m, "db", &err), NR_OK);
    assert_int_equal(quarantine(f), NR_QUARANTINE_HALF_OPEN);
    assert_int_equal(atomic_load(&seen.afters[NR_HOOK_QUARANTINE_RELEASE]), 1);
    assert_int_equal(seen.last_after.rc, NR_OK);
    /* a release of what is not quarantined: no hook runs */
    assert_int_equal(nr_manager_release_quarantine(f->m, "db", &err), NR_ESTATE);
    assert_int_equal(atomic_load(&seen.befores[NR_HOOK_QUARANTINE_RELEASE]), 1);
    destroy(f);
}

static void test_probe_release_let_through(void **state)
{
    (void)state;
    fixture *f = make(NR_PARTITION_NONE);
    nr_manager_tick(f->m);
    backend(f, false);
    nr_manager_tick(f->m);
    nr_manager_tick(f->m);
    assert_int_equal(quarantine(f), NR_QUARANTINE_ON);
    nr_hook_probe seen = {0};
    nr_hook_probe_add(f->h, &seen, "seen", NR_HOOK_OP_BIT(NR_HOOK_QUARANTINE_RELEASE), 0);
    backend(f, true);
    later_tick(f, 2);
    assert_int_equal(quarantine(f), NR_QUARANTINE_HALF_OPEN);
    assert_int_equal(atomic_load(&seen.befores[NR_HOOK_QUARANTINE_RELEASE]), 1);
    assert_int_equal(atomic_load(&seen.afters[NR_HOOK_QUARANTINE_RELEASE]), 1);
    destroy(f);
}

static void test_tenant_pools_run_hooks_with_their_scope(void **state)
{
    (void)state;
    fixture *f = make(NR_PARTITION_TENANT);
    nr_scope acme, globex;
    assert_int_equal(nr_scope_make(&acme, "acme", NULL, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_scope_make(&globex, "globex", NULL, NULL, NULL, NULL), NR_OK);
    nr_hook_probe only_acme = {0}, every = {0};
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_hook_probe_def(&only_acme, "acme", &def);
    def.ops = NR_HOOK_OP_BIT(NR_HOOK_CREATE) | NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE);
    def.scope = &acme;
    assert_int_equal(nr_hooks_add(f->h, &def, NULL, NULL), NR_OK);
    nr_hook_probe_add(f->h, &every, "every", NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE), 0);
    long creates0 = atomic_load(&f->fake.create_calls);

    nr_ctx ctx = NR_CTX(.scope = &acme);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "db", &ctx, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    ctx.scope = &globex;
    assert_int_equal(nr_manager_acquire(f->m, "db", &ctx, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(atomic_load(&every.befores[NR_HOOK_ACQUIRE]), 2);
    assert_int_equal(atomic_load(&only_acme.befores[NR_HOOK_ACQUIRE]), 1);
    /* each tenant pool made one instance; acme's create is acme's */
    assert_int_equal(atomic_load(&f->fake.create_calls) - creates0, 2);
    assert_int_equal(atomic_load(&only_acme.afters[NR_HOOK_CREATE]), 1);
    assert_string_equal(only_acme.last_after_of[NR_HOOK_CREATE].resource_id, "db");
    destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quarantine_refused_then_let_through),
        cmocka_unit_test(test_release_refused_by_probe_and_operator),
        cmocka_unit_test(test_probe_release_let_through),
        cmocka_unit_test(test_tenant_pools_run_hooks_with_their_scope),
    };
    return cmocka_run_group_tests_name("hooks_manager", tests, NULL, NULL);
}
