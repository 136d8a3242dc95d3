/*
 * test_manager_group.c - resource groups: a group acquire goes to the
 * healthiest member (healthy before degraded, unhealthy and quarantined
 * skipped, ties by fewest in use, then the group's order), falls back to the
 * next candidate when an acquire fails at once, says for every member why
 * none could serve, passes the caller's scope through, and a group's
 * max_quarantine_percent keeps members out of quarantine. Each member has a
 * fake type of its own, so each backend fails on its own. Order and counts
 * are checked, never how long anything took.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "testutil.h"

#define NMEM 3

typedef struct fixture {
    nr_mock fake[NMEM];
    nr_mock_config cfg;
    nr_event_bus *bus;
    nr_event_sub *sub;
    nr_manager *m;
} fixture;

static const char *const ids[NMEM] = {"a", "b", "c"};

/* Members a, b, c (min_idle 1; the create breaker opens after `breaker` failed
 * creates, 0 = never), not started. */
static fixture *make(uint32_t quarantine_after, int64_t breaker)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    assert_int_equal(nr_event_bus_create(&f->bus, 1024, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(f->bus, &f->sub, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.failure_threshold = 1;
    mo.recovery_threshold = 1;
    mo.events = f->bus;
    mo.quarantine_after = quarantine_after;
    mo.quarantine_base_ms = 600000; /* no probe comes due during a test */
    mo.quarantine_max_ms = 600000;
    mo.quarantine_jitter = 0;
    mo.quarantine_max_attempts = 3;
    nr_error err = {0};
    if (nr_manager_create(&f->m, &mo, &err) != NR_OK)
        fail_msg("create: %s", err.message);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.min_idle = 1;
    pc.max_size = 4;
    pc.acquire_timeout_ms = 5000;
    pc.create_backoff_ms = 1;
    pc.create_backoff_max_ms = 1;
    pc.breaker_failures = breaker;
    pc.validate_bypass_ms = 0;
    for (int i = 0; i < NMEM; i++) {
        nr_mock_init(&f->fake[i]);
        nr_resource_spec s =
            NR_RESOURCE_SPEC(.id = ids[i], .type = &nr_mock_type, .type_ud = &f->fake[i],
                             .config = &f->cfg, .pool = &pc);
        assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    }
    return f;
}

static void start(fixture *f)
{
    nr_error err = {0};
    if (nr_manager_start(f->m, nr_deadline_in_ms(5000), &err) != NR_OK)
        fail_msg("start: %s", err.message);
}

static void group(fixture *f, const char *name, uint32_t pct, const char *const *members, size_t n)
{
    nr_group_spec gs = NR_GROUP_SPEC_INIT;
    nr_group_spec_default(&gs);
    gs.name = name;
    gs.members = members;
    gs.nmembers = n;
    gs.max_quarantine_percent = pct;
    nr_error err = {0};
    if (nr_manager_register_group(f->m, &gs, &err) != NR_OK)
        fail_msg("register_group: %s", err.message);
}

static void destroy(fixture *f)
{
    nr_error err = {0};
    if (nr_manager_destroy(f->m, &err) != NR_OK)
        fail_msg("nr_manager_destroy: %s", err.message);
    for (int i = 0; i < NMEM; i++)
        assert_int_equal(atomic_load(&f->fake[i].creates), atomic_load(&f->fake[i].destroys));
    nr_event_unsubscribe(f->sub);
    nr_event_bus_destroy(f->bus);
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    free(f);
}

static void backend(fixture *f, int i, nr_health_state h)
{
    atomic_store(&f->fake[i].health, h);
    atomic_store(&f->fake[i].fail_create, h == NR_HEALTH_UNHEALTHY);
    atomic_store(&f->fake[i].fail_validate, h == NR_HEALTH_UNHEALTHY);
}

static nr_resource_info info(fixture *f, const char *id)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, id, &i, NULL), NR_OK);
    return i;
}

/* A group acquire that must succeed: the member's id, the guard kept in *g. */
static const char *take(fixture *f, const char *name, nr_guard *g, nr_group_choice *c)
{
    nr_error err = {0};
    *g = (nr_guard)NR_GUARD_INIT;
    if (nr_manager_acquire_group(f->m, name, NULL, g, c, &err) != NR_OK)
        fail_msg("acquire_group: %s", err.message);
    return c->member;
}

static void give(nr_guard *g)
{
    assert_int_equal(nr_guard_release(g), NR_OK);
}

static void test_choice_order(void **state)
{
    (void)state;
    fixture *f = make(0, 1);
    start(f);
    const char *const all[] = {"a", "b", "c"};
    group(f, "g", 100, all, 3);
    nr_manager_tick(f->m); /* every member judged healthy */
    nr_guard g1, g2, g3, g4;
    nr_group_choice c1, c2, c3, c4;
    /* all healthy, none in use: the group's order */
    assert_string_equal(take(f, "g", &g1, &c1), "a");
    assert_int_equal(c1.index, 0);
    assert_int_equal(c1.health, NR_HEALTH_HEALTHY);
    assert_int_equal(c1.tried, 0);
    /* ties by fewest in use */
    assert_string_equal(take(f, "g", &g2, &c2), "b");
    assert_string_equal(take(f, "g", &g3, &c3), "c");
    assert_string_equal(take(f, "g", &g4, &c4), "a"); /* 1, 1, 1: the order again */
    give(&g1);
    give(&g2);
    give(&g3);
    give(&g4);

    /* a degraded, b unhealthy: c (healthy) first, then a (degraded); b never */
    backend(f, 0, NR_HEALTH_DEGRADED);
    backend(f, 1, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(f->m);
    assert_int_equal(info(f, "a").health, NR_HEALTH_DEGRADED);
    assert_int_equal(info(f, "b").health, NR_HEALTH_UNHEALTHY);
    assert_string_equal(take(f, "g", &g1, &c1), "c");
    assert_string_equal(take(f, "g", &g2, &c2), "c"); /* healthy beats degraded, in use or not */
    nr_group_info gi;
    assert_int_equal(nr_manager_group_info(f->m, "g", &gi, NULL), NR_OK);
    assert_int_equal(gi.pick, 2);
    assert_false(gi.members[1].can_serve);
    assert_true(strncmp(gi.members[1].reason, "unhealthy: ", 11) == 0);
    assert_int_equal(gi.members[2].in_use, 2);
    backend(f, 2, NR_HEALTH_UNHEALTHY);
    give(&g1);
    give(&g2);
    nr_manager_tick(f->m); /* only a, degraded, can serve */
    assert_string_equal(take(f, "g", &g1, &c1), "a");
    assert_int_equal(c1.health, NR_HEALTH_DEGRADED);
    give(&g1);
    assert_int_equal(nr_manager_group_info(f->m, "g", &gi, NULL), NR_OK);
    assert_int_equal(gi.pick, 0);
    assert_int_equal(gi.members[0].served, 3);
    assert_int_equal(gi.members[2].served, 3);
    destroy(f);
}

/* A member whose acquire fails at once (its create breaker is open) although
 * its health has not noticed yet: the next candidate serves, same call. */
static void test_fallback_on_immediate_failure(void **state)
{
    (void)state;
    fixture *f = make(0, 1);
    start(f);
    const char *const ab[] = {"a", "b"};
    group(f, "g", 100, ab, 2);
    nr_manager_tick(f->m);
    backend(f, 0, NR_HEALTH_UNHEALTHY); /* no health round sees it */
    /* open a's breaker: its idle instance evicted, the next create fails */
    assert_int_equal(nr_manager_evict_all(f->m, "a", NULL, NULL), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(100));
    assert_int_not_equal(nr_manager_acquire(f->m, "a", &ctx, &g, NULL), NR_OK);
    for (int i = 0; i < 5000 && !info(f, "a").stats.breaker_open; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_true(info(f, "a").stats.breaker_open);
    assert_int_equal(info(f, "a").health, NR_HEALTH_HEALTHY);
    nr_group_choice c;
    assert_string_equal(take(f, "g", &g, &c), "b");
    assert_int_equal(c.tried, 1);
    assert_int_equal(c.index, 1);
    give(&g);
    destroy(f);
}

static void test_error_when_none_can_serve(void **state)
{
    (void)state;
    fixture *f = make(2, 1);
    start(f);
    const char *const ab[] = {"a", "b"};
    group(f, "replicas", 100, ab, 2);
    backend(f, 0, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(f->m);
    nr_manager_tick(f->m); /* a: two bad rounds, quarantined */
    assert_int_equal(info(f, "a").quarantine, NR_QUARANTINE_ON);
    backend(f, 1, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(f->m); /* b: unhealthy, not yet quarantined */
    assert_int_equal(info(f, "b").quarantine, NR_QUARANTINE_NONE);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_group_choice c;
    assert_int_equal(nr_manager_acquire_group(f->m, "replicas", NULL, &g, &c, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "group replicas: no member can serve: a quarantined until ");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, " (attempt 1 of 3): ");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "; b unhealthy: ");
    assert_string_equal(c.member, "");
    assert_null(g.inst);
    assert_int_equal(nr_manager_acquire_group(f->m, "nope", NULL, &g, &c, &err), NR_ENOTFOUND);
    NR_ASSERT_ERR(err, NR_ENOTFOUND, "group 'nope' is not registered");
    destroy(f);
}

/* A tenant-partitioned member serves callers inside a tenant (its tenant
 * pool); a Global caller is refused by it at once, and the next serves. */
static void test_tenant_scoped_members(void **state)
{
    (void)state;
    fixture *f = make(0, 1);
    nr_mock tf;
    nr_mock_init(&tf);
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "per-tenant", .type = &nr_mock_type, .type_ud = &tf,
                                          .config = &f->cfg, .partition = NR_PARTITION_TENANT);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
    start(f);
    const char *const members[] = {"per-tenant", "a"};
    group(f, "g", 100, members, 2);
    nr_scope acme;
    assert_int_equal(nr_scope_make(&acme, "acme", NULL, NULL, NULL, NULL), NR_OK);
    nr_ctx ctx = NR_CTX(.scope = &acme);
    nr_guard g = NR_GUARD_INIT;
    nr_group_choice c;
    assert_int_equal(nr_manager_acquire_group(f->m, "g", &ctx, &g, &c, &err), NR_OK);
    assert_string_equal(c.member, "per-tenant");
    nr_resource_info i = info(f, "per-tenant");
    assert_int_equal(i.pools, 1);
    assert_int_equal(i.stats.in_use, 1);
    give(&g);
    assert_string_equal(take(f, "g", &g, &c), "a"); /* a Global caller: not inside a tenant */
    assert_int_equal(c.tried, 1);
    give(&g);
    assert_int_equal(nr_manager_destroy(f->m, &err), NR_OK);
    f->m = NULL;
    assert_int_equal(atomic_load(&tf.creates), atomic_load(&tf.destroys));
    destroy(f);
}

/* The next QUARANTINE_REFUSED event, or type 0. */
static nr_event next_refused(fixture *f)
{
    nr_event ev;
    uint64_t missed = 0;
    while (nr_event_next(f->sub, &ev, &missed, nr_deadline_in_ns(0)) == NR_OK)
        if (ev.type == NR_EV_QUARANTINE_REFUSED)
            return ev;
    memset(&ev, 0, sizeof(ev));
    return ev;
}

static int quarantined(fixture *f, int *which)
{
    int n = 0;
    for (int i = 0; i < NMEM; i++) {
        if (info(f, ids[i]).quarantine != NR_QUARANTINE_NONE) {
            n++;
            *which = i;
        }
    }
    return n;
}

static void test_max_quarantine_percent(void **state)
{
    (void)state;
    fixture *f = make(2, 0);
    start(f);
    const char *const all[] = {"a", "b", "c"};
    group(f, "g", 34, all, 3);
    for (int i = 0; i < NMEM; i++)
        backend(f, i, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(f->m);
    nr_manager_tick(f->m); /* all three would go out: only one of 3 may (34 %) */
    int first = -1;
    assert_int_equal(quarantined(f, &first), 1);
    nr_event ev = next_refused(f);
    assert_int_equal(ev.type, NR_EV_QUARANTINE_REFUSED);
    assert_int_equal(ev.count, 1);
    assert_string_equal(
        ev.text, "not quarantined: group g has 1 of 3 members quarantined (max_quarantine_percent "
                 "34)");
    assert_true(strcmp(ev.resource_id, ids[first]) != 0);
    assert_int_equal(next_refused(f).type, NR_EV_QUARANTINE_REFUSED); /* the other one */
    assert_int_equal(next_refused(f).type, 0);
    /* the others stay unhealthy: their acquires fail as an unhealthy one's */
    int other = (first + 1) % NMEM;
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_manager_acquire(f->m, ids[other], NULL, &g, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "is unhealthy: ");
    nr_manager_tick(f->m); /* tried again at each bad round, refused again */
    assert_int_equal(quarantined(f, &first), 1);
    assert_int_equal(next_refused(f).type, NR_EV_QUARANTINE_REFUSED);
    assert_int_equal(next_refused(f).type, NR_EV_QUARANTINE_REFUSED);
    nr_group_info gi;
    assert_int_equal(nr_manager_group_info(f->m, "g", &gi, NULL), NR_OK);
    assert_int_equal(gi.quarantined, 1);
    assert_int_equal(gi.max_quarantine_percent, 34);
    assert_int_equal(gi.pick, -1);

    /* the first is released and back in service: another one can go out */
    backend(f, first, NR_HEALTH_HEALTHY);
    assert_int_equal(nr_manager_release_quarantine(f->m, ids[first], &err), NR_OK);
    nr_manager_tick(f->m); /* the first's good round: back in service */
    assert_int_equal(info(f, ids[first]).quarantine, NR_QUARANTINE_NONE);
    nr_manager_tick(f->m);
    int now = -1;
    assert_int_equal(quarantined(f, &now), 1);
    assert_true(now != first);
    nr_group_choice c;
    assert_string_equal(take(f, "g", &g, &c), ids[first]);
    give(&g);
    destroy(f);
}

/* 100 % = no limit; a resource in two groups obeys both limits. */
static void test_limits_of_every_group(void **state)
{
    (void)state;
    fixture *f = make(1, 1);
    start(f);
    const char *const ab[] = {"a", "b"}, *const bc[] = {"b", "c"};
    group(f, "free", 100, ab, 2);
    group(f, "strict", 50, bc, 2);
    backend(f, 2, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(f->m); /* c: 1 of 2 in "strict" */
    assert_int_equal(info(f, "c").quarantine, NR_QUARANTINE_ON);
    backend(f, 0, NR_HEALTH_UNHEALTHY);
    backend(f, 1, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(f->m); /* a goes ("free" has no limit); b is held back by "strict" */
    assert_int_equal(info(f, "a").quarantine, NR_QUARANTINE_ON);
    assert_int_equal(info(f, "b").quarantine, NR_QUARANTINE_NONE);
    assert_int_equal(info(f, "b").health, NR_HEALTH_UNHEALTHY);
    nr_event ev = next_refused(f);
    assert_string_equal(ev.resource_id, "b");
    assert_non_null(strstr(ev.text, "group strict has 1 of 2"));
    destroy(f);
}

static void test_register_rules(void **state)
{
    (void)state;
    fixture *f = make(0, 1);
    nr_error err = {0};
    nr_group_spec gs = NR_GROUP_SPEC_INIT;
    nr_group_spec_default(&gs);
    assert_int_equal(gs.max_quarantine_percent, 50);
    const char *const good[] = {"a", "b"};
    const char *const dup[] = {"a", "a"};
    const char *const unknown[] = {"a", "zz"};
    gs.name = "g";
    gs.members = unknown;
    gs.nmembers = 2;
    assert_int_equal(nr_manager_register_group(f->m, &gs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "group 'g': members[1] 'zz' is not a registered resource");
    gs.members = dup;
    assert_int_equal(nr_manager_register_group(f->m, &gs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "members[1] 'a' is listed twice (also members[0])");
    gs.members = good;
    gs.nmembers = 0;
    assert_int_equal(nr_manager_register_group(f->m, &gs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "members must name 1 to 32 resources (got 0)");
    gs.nmembers = 2;
    gs.max_quarantine_percent = 101;
    assert_int_equal(nr_manager_register_group(f->m, &gs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "max_quarantine_percent must be between 0 and 100 (got 101)");
    gs.max_quarantine_percent = 50;
    gs.name = "a";
    assert_int_equal(nr_manager_register_group(f->m, &gs, &err), NR_EEXIST);
    NR_ASSERT_ERR(err, NR_EEXIST, "group 'a': the name is a resource's id");
    gs.name = "bad name";
    assert_int_equal(nr_manager_register_group(f->m, &gs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "name must be 1 to 63 letters");
    gs.name = "g";
    assert_int_equal(nr_manager_register_group(f->m, &gs, &err), NR_OK);
    assert_int_equal(nr_manager_register_group(f->m, &gs, &err), NR_EEXIST);
    NR_ASSERT_ERR(err, NR_EEXIST, "group 'g' is already registered");
    assert_int_equal(nr_manager_group_count(f->m), 1);
    /* a member cannot leave; a resource outside every group can */
    assert_int_equal(nr_manager_unregister(f->m, "a", nr_deadline_in_ms(1000), &err), NR_EBUSY);
    NR_ASSERT_ERR(err, NR_EBUSY,
                  "resource 'a' cannot be unregistered: it is a member of group 'g'");
    assert_int_equal(nr_manager_unregister(f->m, "c", nr_deadline_in_ms(1000), &err), NR_OK);
    /* a group registered after start: acquirable at once */
    start(f);
    const char *const one[] = {"b"};
    group(f, "late", 10, one, 1);
    nr_guard g;
    nr_group_choice c;
    assert_string_equal(take(f, "late", &g, &c), "b");
    give(&g);
    destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice_order),
        cmocka_unit_test(test_fallback_on_immediate_failure),
        cmocka_unit_test(test_error_when_none_can_serve),
        cmocka_unit_test(test_tenant_scoped_members),
        cmocka_unit_test(test_max_quarantine_percent),
        cmocka_unit_test(test_limits_of_every_group),
        cmocka_unit_test(test_register_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
