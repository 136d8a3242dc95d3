/*
 * test_manager_tenant_policy.c - the tenant pools of a tenant-partitioned
 * resource: an unused one removed after idle_timeout_ms (on a fake clock),
 * with its event and its metric series; one with a lease out kept;
 * max_tenants refusing a new tenant by name; a bad policy refused by field;
 * max_total as a hard cap shared fairly (a busy tenant does not starve a
 * quiet one, idle instances of one tenant make room for another); a reload
 * changing the policy in place; and a stress of acquires across tenants
 * while rounds remove them (nothing fails, creates == destroys).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"
#include "testutil.h"

typedef struct fixture {
    nr_mock fake;
    nr_mock_config cfg;
    nr_pool_config pcfg;
    nr_tenant_policy tp;
    nr_manager_options mo;
    nr_manager *m;
    nr_metrics *reg;
    nr_event_bus *bus;
    nr_event_sub *sub;
    _Atomic int64_t now_ns;
} fixture;

static int64_t fake_clock(void *ud)
{
    return atomic_load(&((fixture *)ud)->now_ns);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    nr_mock_init(&f->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    nr_pool_config_default(&f->pcfg);
    f->pcfg.max_size = 4;
    f->pcfg.min_idle = 0;
    f->pcfg.acquire_timeout_ms = 5000;
    nr_tenant_policy_default(&f->tp);
    nr_manager_options_default(&f->mo);
    f->mo.maintain_interval_ms = 0; /* rounds driven by nr_manager_tick */
    f->mo.health_interval_ms = 0;
    f->mo.workers = 2;
    f->mo.clock = fake_clock;
    f->mo.clock_ud = f;
    atomic_init(&f->now_ns, NR_NS_PER_S);
    assert_int_equal(nr_event_bus_create(&f->bus, 4096, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(f->bus, &f->sub, NULL), NR_OK);
    f->mo.events = f->bus;
    assert_int_equal(nr_metrics_create(&f->reg, NULL), NR_OK);
    f->mo.metrics = f->reg;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->m) {
        nr_error err = {0};
        if (nr_manager_destroy(f->m, &err) != NR_OK)
            fail_msg("nr_manager_destroy: %s", err.message);
    }
    assert_int_equal(atomic_load(&f->fake.creates), atomic_load(&f->fake.destroys));
    nr_event_unsubscribe(f->sub);
    nr_event_bus_destroy(f->bus);
    nr_metrics_destroy(f->reg);
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    free(f);
    return 0;
}

static nr_resource_spec spec_of(fixture *f)
{
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "cache", .type = &nr_mock_type, .type_ud = &f->fake,
                                          .config = &f->cfg, .pool = &f->pcfg,
                                          .partition = NR_PARTITION_TENANT, .tenants = &f->tp);
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

static int acquire_for(fixture *f, const char *tenant, int64_t timeout_ms, nr_guard *g,
                       nr_error *err)
{
    nr_scope s;
    assert_int_equal(nr_scope_make(&s, tenant, NULL, NULL, NULL, NULL), NR_OK);
    nr_ctx ctx = NR_CTX(.scope = &s, .deadline = nr_deadline_in_ms(timeout_ms));
    return nr_manager_acquire(f->m, "cache", &ctx, g, err);
}

/* Acquire for tenant and give it back at once. */
static void touch(fixture *f, const char *tenant)
{
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    if (acquire_for(f, tenant, 5000, &g, &err) != NR_OK)
        fail_msg("acquire for %s: %s", tenant, err.message);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void at(fixture *f, int64_t t_ms)
{
    atomic_store(&f->now_ns, t_ms * NR_NS_PER_MS);
    nr_manager_tick(f->m);
}

static nr_resource_info info_of(fixture *f)
{
    nr_resource_info i = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, "cache", &i, NULL), NR_OK);
    return i;
}

/* The tenants of the TENANT_EVICTED events since the last call, sorted
 * as published ("a c"). */
static void evicted(fixture *f, char *out, size_t len)
{
    out[0] = '\0';
    size_t used = 0;
    nr_event ev;
    while (nr_event_next(f->sub, &ev, NULL, nr_deadline_in_ns(0)) == NR_OK) {
        if (ev.type != NR_EV_TENANT_EVICTED)
            continue;
        assert_string_equal(ev.resource_id, "cache");
        assert_non_null(strstr(ev.text, "unused for 1000 ms"));
        int w = snprintf(out + used, len - used, "%s%s", used ? " " : "", ev.scope);
        if (w > 0 && (size_t)w < len - used)
            used += (size_t)w;
    }
}

/* Whether the metrics text has a series of the tenant's pool. */
static int has_series(fixture *f, const char *tenant)
{
    nr_scope s;
    nr_scope_make(&s, tenant, NULL, NULL, NULL, NULL);
    char scope[NR_SCOPE_TEXT_MAX], label[NR_SCOPE_TEXT_MAX + 16];
    nr_scope_format(&s, scope, sizeof(scope));
    snprintf(label, sizeof(label), "scope=\"%s\"", scope);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(nr_metrics_format(f->reg, &text, &len, NULL), NR_OK);
    int yes = strstr(text, label) != NULL;
    nr_free(text);
    return yes;
}

static void test_unused_tenant_pools_are_removed(void **state)
{
    fixture *f = *state;
    f->tp.idle_timeout_ms = 1000;
    up(f);
    touch(f, "a");
    touch(f, "b");
    touch(f, "c");
    at(f, 1000);
    assert_true(has_series(f, "a"));
    assert_int_equal(info_of(f).pools, 3);
    at(f, 1500);
    touch(f, "b"); /* b stays in use */
    at(f, 1600);
    at(f, 1999); /* a and c unused for 999 ms: kept */
    assert_int_equal(info_of(f).pools, 3);
    char got[128];
    evicted(f, got, sizeof(got));
    assert_string_equal(got, "");
    at(f, 2000); /* unused for 1000 ms: removed, their instances destroyed */
    evicted(f, got, sizeof(got));
    assert_non_null(strstr(got, "tenant:a"));
    assert_non_null(strstr(got, "tenant:c"));
    assert_null(strstr(got, "tenant:b"));
    nr_resource_info i = info_of(f);
    assert_int_equal(i.pools, 1);
    assert_int_equal(i.tenants_evicted, 2);
    assert_int_equal(atomic_load(&f->fake.live), 1); /* b's */
    at(f, 2001); /* the reaper frees them, and their series go */
    assert_false(has_series(f, "a"));
    assert_false(has_series(f, "c"));
    assert_true(has_series(f, "b"));
    /* a comes back: a new pool */
    touch(f, "a");
    assert_int_equal(info_of(f).pools, 2);
    assert_true(has_series(f, "a"));
}

static void test_a_lease_out_keeps_the_tenant(void **state)
{
    fixture *f = *state;
    f->tp.idle_timeout_ms = 1000;
    up(f);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(acquire_for(f, "a", 5000, &g, &err), NR_OK);
    at(f, 1000);
    at(f, 60000);
    assert_int_equal(info_of(f).pools, 1);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    at(f, 60001); /* back now: unused from here */
    at(f, 61002);
    assert_int_equal(info_of(f).pools, 0);
    assert_int_equal(info_of(f).tenants_evicted, 1);
}

static void test_zero_timeout_keeps_every_tenant(void **state)
{
    fixture *f = *state;
    f->tp.idle_timeout_ms = 0;
    up(f);
    touch(f, "a");
    at(f, 1000);
    at(f, 100000000);
    assert_int_equal(info_of(f).pools, 1);
}

static void test_max_tenants_refuses_a_new_tenant(void **state)
{
    fixture *f = *state;
    f->tp.idle_timeout_ms = 1000;
    f->tp.max_tenants = 2;
    up(f);
    touch(f, "a");
    touch(f, "b");
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(acquire_for(f, "c", 5000, &g, &err), NR_EEXHAUSTED);
    assert_string_equal(err.resource_id, "cache");
    assert_non_null(strstr(err.message, "tenant 'c'"));
    assert_non_null(strstr(err.message, "max_tenants (2)"));
    assert_int_equal(info_of(f).tenants_refused, 1);
    touch(f, "a"); /* the existing ones are served */
    at(f, 1000);
    at(f, 2000);
    touch(f, "b");
    at(f, 2500); /* a went unused: room for c */
    at(f, 3000);
    assert_int_equal(info_of(f).pools, 1);
    touch(f, "c");
    assert_int_equal(info_of(f).pools, 2);
}

static void test_bad_policies_are_refused_by_field(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    assert_int_equal(nr_manager_create(&f->m, &f->mo, &err), NR_OK);
    f->tp.max_tenants = -1;
    nr_resource_spec s = spec_of(f);
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_ECONFIG);
    assert_non_null(strstr(err.message, "$.tenants.max_tenants"));
    assert_non_null(strstr(err.message, "resource 'cache'"));
    nr_tenant_policy_default(&f->tp);
    f->tp.max_total = 3;
    s = spec_of(f);
    s.partition = NR_PARTITION_NONE;
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_ECONFIG);
    assert_non_null(strstr(err.message, "only a tenant-partitioned resource"));
    /* the manager is still usable */
    s.tenants = NULL;
    assert_int_equal(nr_manager_register(f->m, &s, &err), NR_OK);
}

/* ---- max_total ---- */

typedef struct busy_arg {
    fixture *f;
    atomic_bool *stop;
    atomic_long ok, failed;
} busy_arg;

static void *busy_main(void *arg)
{
    busy_arg *b = arg;
    while (!atomic_load(b->stop)) {
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        if (acquire_for(b->f, "busy", 5000, &g, &err) != NR_OK) {
            atomic_fetch_add(&b->failed, 1);
            continue;
        }
        nr_sleep_ns(2 * NR_NS_PER_MS);
        nr_guard_release(&g);
        atomic_fetch_add(&b->ok, 1);
    }
    return NULL;
}

typedef struct sampler_arg {
    fixture *f;
    atomic_bool *stop;
    long max_live;
} sampler_arg;

static void *sampler_main(void *arg)
{
    sampler_arg *s = arg;
    while (!atomic_load(s->stop)) {
        long live = atomic_load(&s->f->fake.live);
        if (live > s->max_live)
            s->max_live = live;
        nr_sleep_ns(100 * NR_NS_PER_US);
    }
    return NULL;
}

static void test_max_total_is_shared_fairly(void **state)
{
    fixture *f = *state;
    f->tp.max_total = 4;
    f->pcfg.max_size = 4;
    atomic_store(&f->fake.create_delay_ns, NR_NS_PER_MS);
    up(f);
    atomic_bool stop = false;
    enum { NBUSY = 6 };
    busy_arg b = {.f = f, .stop = &stop};
    sampler_arg sa = {.f = f, .stop = &stop};
    pthread_t th[NBUSY], st;
    pthread_create(&st, NULL, sampler_main, &sa);
    for (int i = 0; i < NBUSY; i++)
        pthread_create(&th[i], NULL, busy_main, &b);
    /* the busy tenant holds every place, and more of its callers wait */
    for (int i = 0; i < 5000 && info_of(f).total_held < 4; i++)
        nr_sleep_ns(NR_NS_PER_MS);
    assert_int_equal(info_of(f).total_held, 4);
    /* a quiet tenant is served anyway, every time, within its deadline */
    for (int k = 0; k < 20; k++) {
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        if (acquire_for(f, "quiet", 3000, &g, &err) != NR_OK)
            fail_msg("quiet acquire %d: %s", k, err.message);
        nr_sleep_ns(NR_NS_PER_MS);
        nr_guard_release(&g);
        nr_sleep_ns(5 * NR_NS_PER_MS); /* and is quiet again */
    }
    atomic_store(&stop, true);
    for (int i = 0; i < NBUSY; i++)
        pthread_join(th[i], NULL);
    pthread_join(st, NULL);
    assert_int_equal(atomic_load(&b.failed), 0);
    assert_true(atomic_load(&b.ok) > 0);
    /* never more instances than the cap (destroying ones included) */
    assert_true(sa.max_live <= 4);
    nr_resource_info i = info_of(f);
    assert_true(i.total_held <= 4);
    assert_true(i.stats.total <= 4);
}

static void test_idle_instances_of_one_tenant_make_room(void **state)
{
    fixture *f = *state;
    f->tp.max_total = 3;
    f->pcfg.max_size = 3;
    up(f);
    nr_guard g[3];
    nr_error err = {0};
    for (int i = 0; i < 3; i++) {
        g[i] = (nr_guard)NR_GUARD_INIT;
        assert_int_equal(acquire_for(f, "a", 5000, &g[i], &err), NR_OK);
    }
    for (int i = 0; i < 3; i++)
        nr_guard_release(&g[i]);
    assert_int_equal(atomic_load(&f->fake.live), 3); /* all idle in a's pool */
    nr_guard h = NR_GUARD_INIT;
    if (acquire_for(f, "b", 3000, &h, &err) != NR_OK)
        fail_msg("b: %s", err.message);
    assert_true(atomic_load(&f->fake.live) <= 3);
    nr_guard_release(&h);
    nr_resource_info i = info_of(f);
    assert_true(i.total_held <= 3);
    assert_int_equal(i.total_waiting, 0);
}

static void test_a_full_cap_times_out_with_the_reason(void **state)
{
    fixture *f = *state;
    f->tp.max_total = 2;
    f->pcfg.max_size = 2;
    up(f);
    nr_guard g[2] = {NR_GUARD_INIT, NR_GUARD_INIT};
    nr_error err = {0};
    /* each tenant holds its fair share (1 of 2): nobody gives one up */
    assert_int_equal(acquire_for(f, "a", 5000, &g[0], &err), NR_OK);
    assert_int_equal(acquire_for(f, "b", 5000, &g[1], &err), NR_OK);
    nr_guard h = NR_GUARD_INIT;
    assert_int_equal(acquire_for(f, "a", 100, &h, &err), NR_ETIMEDOUT);
    assert_non_null(strstr(err.message, "no instance became free in time"));
    assert_int_equal(atomic_load(&f->fake.live), 2);
    nr_guard_release(&g[0]);
    nr_guard_release(&g[1]);
    /* raised by a reload, in place: a third place */
    f->tp.max_total = 3;
    nr_resource_spec s = spec_of(f);
    nr_reload_report rep;
    assert_int_equal(nr_manager_reload(f->m, &s, &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_IN_PLACE);
    assert_non_null(strstr(rep.changes, "tenants"));
    assert_int_equal(info_of(f).tenant_policy.max_total, 3);
}

/* ---- stress ---- */

typedef struct churn_arg {
    fixture *f;
    atomic_bool *stop;
    unsigned seed;
    atomic_long ok, failed;
    nr_error first;
} churn_arg;

static void *churn_main(void *arg)
{
    churn_arg *c = arg;
    while (!atomic_load(c->stop)) {
        char tenant[16];
        snprintf(tenant, sizeof(tenant), "t%u", (unsigned)(rand_r(&c->seed) % 40));
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        if (acquire_for(c->f, tenant, 5000, &g, &err) != NR_OK) {
            if (atomic_fetch_add(&c->failed, 1) == 0)
                c->first = err;
            continue;
        }
        nr_mock_handle *h = nr_guard_handle(&g);
        assert_int_equal(h->magic, NR_MOCK_MAGIC);
        assert_int_equal(atomic_fetch_add(&h->holders, 1), 0); /* never handed out twice */
        atomic_fetch_sub(&h->holders, 1);
        nr_guard_release(&g);
        atomic_fetch_add(&c->ok, 1);
    }
    return NULL;
}

static void test_stress_acquires_while_tenants_come_and_go(void **state)
{
    fixture *f = *state;
    f->tp.idle_timeout_ms = 1;
    f->tp.max_total = 16;
    f->pcfg.max_size = 2;
    up(f);
    atomic_bool stop = false;
    enum { N = 4 };
    churn_arg c[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        c[i] = (churn_arg){.f = f, .stop = &stop, .seed = 1234u + (unsigned)i};
        pthread_create(&th[i], NULL, churn_main, &c[i]);
    }
    int64_t t = 1000;
    for (int round = 0; round < 300; round++) {
        t += 5; /* every tenant unused since the last round goes */
        at(f, t);
        nr_sleep_ns(NR_NS_PER_MS);
    }
    atomic_store(&stop, true);
    long ok = 0, failed = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += atomic_load(&c[i].ok);
        failed += atomic_load(&c[i].failed);
        if (atomic_load(&c[i].failed))
            fail_msg("%ld failed; the first: %s", atomic_load(&c[i].failed), c[i].first.message);
    }
    assert_int_equal(failed, 0);
    assert_true(ok > 0);
    assert_true(info_of(f).tenants_evicted > 0);
    assert_true(atomic_load(&f->fake.live) <= 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unused_tenant_pools_are_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_lease_out_keeps_the_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_timeout_keeps_every_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_tenants_refuses_a_new_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_policies_are_refused_by_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_total_is_shared_fairly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_instances_of_one_tenant_make_room, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_full_cap_times_out_with_the_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stress_acquires_while_tenants_come_and_go, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
