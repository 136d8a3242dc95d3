/*
 * test_manager_tenants.c - shutdown of tenant-partitioned resources: every
 * tenant's pool is drained, cleaned up and reported however many there are,
 * and a tenant pool cannot be created behind a running shutdown's back.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

/* A tenant-partitioned resource used by 300 tenants: shutdown must drain,
 * clean up and report every tenant's pool. The oldest tenant holds a lease. */
static void test_shutdown_many_tenant_pools(void **state)
{
    (void)state;
    nr_mock fake;
    nr_mock_init(&fake);
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    nr_manager_options o = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&o);
    o.maintain_interval_ms = 0;
    o.health_interval_ms = 0;
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &o, NULL), NR_OK);
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "per-tenant", .type = &nr_mock_type, .type_ud = &fake,
                         .config = &cfg, .partition = NR_PARTITION_TENANT);
    assert_int_equal(nr_manager_register(m, &s, NULL), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), NULL), NR_OK);

    enum { TENANTS = 257 };
    nr_guard kept = NR_GUARD_INIT;
    for (int t = 0; t < TENANTS; t++) {
        char id[16];
        snprintf(id, sizeof(id), "t%d", t);
        nr_scope sc;
        assert_int_equal(nr_scope_make(&sc, id, NULL, NULL, NULL, NULL), NR_OK);
        nr_ctx ctx = NR_CTX(.scope = &sc);
        nr_guard g = NR_GUARD_INIT;
        assert_int_equal(nr_manager_acquire(m, "per-tenant", &ctx, &g, NULL), NR_OK);
        if (t == 0)
            kept = g; /* the oldest tenant keeps its lease */
        else
            assert_int_equal(nr_guard_release(&g), NR_OK);
    }
    nr_shutdown_options so = NR_SHUTDOWN_OPTIONS_INIT;
    nr_shutdown_options_default(&so);
    so.drain_timeout_ms = 20;
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    nr_error err = {0};
    int rc = nr_manager_shutdown(m, &so, &rep, &err);
    long live_after_shutdown = atomic_load(&fake.live);
    assert_int_equal(nr_guard_release(&kept), NR_OK);
    long live_after_release = atomic_load(&fake.live);
    print_message("shutdown rc=%d drain_timed_out=%d destroyed=%u nleftovers=%zu; live after "
                  "shutdown %ld, after the late release %ld\n",
                  rc, rep.drain_timed_out, rep.destroyed, rep.nleftovers, live_after_shutdown,
                  live_after_release);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    assert_int_equal(atomic_load(&fake.creates), atomic_load(&fake.destroys));
    nr_config_free(&nr_mock_config_schema, &cfg);
    /* the contract: the lease is waited for and reported, every idle instance destroyed
     * during cleanup, and a lease given back after shutdown destroys its instance */
    assert_int_equal(rc, NR_ETIMEDOUT);
    assert_true(rep.drain_timed_out);
    assert_int_equal(rep.nleftovers, 1);
    assert_int_equal(rep.destroyed, TENANTS - 1);
    assert_int_equal(live_after_shutdown, 1);
    assert_int_equal(live_after_release, 0);
}

enum { TH = 8, PER = 30 };
typedef struct sh {
    nr_manager *m;
    pthread_barrier_t go;
    atomic_int done;
    atomic_long ok, late_ok, held_across, other;
    int cycle;
} sh;
typedef struct arg {
    sh *s;
    int i;
} arg;

static void *run(void *p)
{
    arg *a = p;
    sh *s = a->s;
    pthread_barrier_wait(&s->go);
    for (int k = 0; k < PER; k++) {
        char id[32];
        snprintf(id, sizeof(id), "t%dx%d", a->i, k);
        nr_scope sc;
        nr_scope_make(&sc, id, NULL, NULL, NULL, NULL);
        nr_ctx ctx = NR_CTX(.scope = &sc);
        nr_guard g = NR_GUARD_INIT;
        int before = atomic_load(&s->done);
        int rc = nr_manager_acquire(s->m, "pt", &ctx, &g, NULL);
        if (rc == NR_ESHUTDOWN)
            break;
        if (rc != NR_OK) {
            atomic_fetch_add(&s->other, 1);
            break;
        }
        atomic_fetch_add(&s->ok, 1);
        if (before)
            atomic_fetch_add(&s->late_ok, 1);
        if (atomic_load(&s->done))
            atomic_fetch_add(&s->held_across, 1);
        nr_guard_release(&g);
    }
    return NULL;
}

/* Threads acquire with brand-new tenants while shutdown runs: shutdown
 * returns OK only when nothing is left; no lease is granted after it. */
static void test_no_tenant_pool_escapes_shutdown(void **state)
{
    (void)state;
    int cycles = nr_test_iterations(200);
    nr_mock_config cfg;
    nr_config_init(&nr_mock_config_schema, &cfg, NULL);
    long viol = 0;
    for (int c = 0; c < cycles; c++) {
        nr_mock fake;
        nr_mock_init(&fake);
        nr_manager_options o = NR_MANAGER_OPTIONS_INIT;
        nr_manager_options_default(&o);
        o.maintain_interval_ms = 0;
        o.health_interval_ms = 0;
        o.workers = 2;
        sh s;
        memset(&s, 0, sizeof(s));
        assert_int_equal(nr_manager_create(&s.m, &o, NULL), NR_OK);
        nr_resource_spec sp = NR_RESOURCE_SPEC(.id = "pt", .type = &nr_mock_type, .type_ud = &fake,
                                               .config = &cfg, .partition = NR_PARTITION_TENANT);
        assert_int_equal(nr_manager_register(s.m, &sp, NULL), NR_OK);
        assert_int_equal(nr_manager_start(s.m, nr_deadline_in_ms(5000), NULL), NR_OK);
        pthread_barrier_init(&s.go, NULL, TH + 1);
        pthread_t th[TH];
        arg args[TH];
        for (int i = 0; i < TH; i++) {
            args[i] = (arg){&s, i};
            pthread_create(&th[i], NULL, run, &args[i]);
        }
        pthread_barrier_wait(&s.go);
        nr_sleep_ns((int64_t)(c % 20) * 5 * NR_NS_PER_US);
        nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
        nr_error err = {0};
        int rc = nr_manager_shutdown(s.m, NULL, &rep, &err);
        atomic_store(&s.done, 1);
        for (int i = 0; i < TH; i++)
            pthread_join(th[i], NULL);
        long live = atomic_load(&fake.live);
        if (rc != NR_OK || live || s.late_ok || s.held_across || s.other) {
            viol++;
            print_message("cycle %d: rc=%d drain_to=%d leftovers=%zu live_after_join=%ld "
                          "late_ok=%ld held_across=%ld other=%ld ok=%ld: %s\n",
                          c, rc, rep.drain_timed_out, rep.nleftovers, live, s.late_ok,
                          s.held_across, s.other, s.ok, err.message);
        }
        assert_int_equal(nr_manager_destroy(s.m, NULL), NR_OK);
        assert_int_equal(atomic_load(&fake.creates), atomic_load(&fake.destroys));
        pthread_barrier_destroy(&s.go);
    }
    nr_config_free(&nr_mock_config_schema, &cfg);
    print_message("%ld violations in %d cycles\n", viol, cycles);
    assert_int_equal(viol, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shutdown_many_tenant_pools),
        cmocka_unit_test(test_no_tenant_pool_escapes_shutdown),
    };
    return cmocka_run_group_tests_name("manager_tenants", tests, NULL, NULL);
}
