/*
 * test_memcached_type.c - the memcached driver against a real memcached
 * (with-memcached.sh starts one on a free port): its config, a pool of it
 * under load, a closed port, a refused credential, and the server killed
 * and started again.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memcached_type.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !v[0])
        fail_msg("%s is not set: run the test through with-memcached.sh", name);
    return v;
}

/* cfg with the defaults and the test server's address. */
static void server_config(mc_config *cfg)
{
    nr_error err = {0};
    assert_int_equal(nr_config_init(&mc_config_schema, cfg, &err), NR_OK);
    assert_int_equal(
        nr_config_set_str(&mc_config_schema, cfg, "host", env("NR_TEST_MEMCACHED_HOST"), &err),
        NR_OK);
    assert_int_equal(nr_config_set_int(&mc_config_schema, cfg, "port",
                                       atol(env("NR_TEST_MEMCACHED_PORT")), &err),
                     NR_OK);
}

static void ctl(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s", env("NR_TEST_MEMCACHED_CTL"), what);
    if (system(cmd) != 0)
        fail_msg("'%s' failed", cmd);
}

static nr_pool *make_pool(const mc_config *cfg, int64_t min_idle, int64_t max_size)
{
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.min_idle = min_idle;
    pc.max_size = max_size;
    pc.acquire_timeout_ms = 10000;
    nr_pool_options po =
        NR_POOL_OPTIONS(.id = "sessions", .type = &mc_type, .config = cfg, .pool = &pc);
    nr_pool *p = NULL;
    nr_error err = {0};
    if (nr_pool_create(&p, &po, &err) != NR_OK)
        fail_msg("pool: %s", err.message);
    return p;
}

/* The schema: defaults, the JSON form, and a value out of range named. */
static void test_config(void **state)
{
    (void)state;
    mc_config cfg;
    nr_error err = {0};
    const char *json = "{\"host\":\"cache.internal\",\"port\":11311,\"key_prefix\":\"app:\"}";
    assert_int_equal(nr_config_parse(&mc_config_schema, json, strlen(json), &cfg, NULL, &err),
                     NR_OK);
    assert_string_equal(cfg.host, "cache.internal");
    assert_int_equal(cfg.port, 11311);
    assert_string_equal(cfg.key_prefix, "app:");
    assert_int_equal(cfg.connect_timeout_ms, 2000); /* defaults for what the text leaves out */
    assert_int_equal(cfg.io_timeout_ms, 1000);
    assert_false(cfg.binary_protocol);
    nr_config_free(&mc_config_schema, &cfg);

    const char *bad = "{\"port\":70000}";
    nr_config_report rep;
    nr_config_report_clear(&rep);
    assert_int_equal(nr_config_parse(&mc_config_schema, bad, strlen(bad), &cfg, &rep, &err),
                     NR_ECONFIG);
    assert_true(rep.count >= 1);
    assert_string_equal(rep.items[0].path, "$.port");
    assert_non_null(strstr(rep.items[0].rule, "65535"));
}

/* Four threads share a pool of two clients: every value set is read back
 * on whichever client the next lease gets, and the pool's books balance. */
#define THREADS 4
#define OPS     200

typedef struct worker {
    nr_pool *pool;
    int n;
    int failures;
    char last[NR_ERROR_MESSAGE_MAX];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < OPS; i++) {
        char key[64], val[64];
        snprintf(key, sizeof(key), "k-%d-%d", w->n, i);
        snprintf(val, sizeof(val), "v-%d-%d", w->n, i * 7);
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        if (nr_pool_acquire(w->pool, NULL, &g, &err) != NR_OK) {
            w->failures++;
            snprintf(w->last, sizeof(w->last), "%s", err.message);
            continue;
        }
        memcached_st *mc = mc_client(nr_guard_handle(&g));
        memcached_return_t rc = memcached_set(mc, key, strlen(key), val, strlen(val), 0, 0);
        nr_guard_release(&g);
        if (!memcached_success(rc)) {
            w->failures++;
            continue;
        }
        /* read back through another lease */
        if (nr_pool_acquire(w->pool, NULL, &g, &err) != NR_OK) {
            w->failures++;
            continue;
        }
        mc = mc_client(nr_guard_handle(&g));
        size_t len = 0;
        uint32_t flags = 0;
        char *got = memcached_get(mc, key, strlen(key), &len, &flags, &rc);
        nr_guard_release(&g);
        if (!got || len != strlen(val) || memcmp(got, val, len) != 0)
            w->failures++;
        free(got);
    }
    return NULL;
}

static void test_pool_under_load(void **state)
{
    (void)state;
    mc_config cfg;
    server_config(&cfg);
    nr_pool *p = make_pool(&cfg, 1, 2);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.pool = p, .n = i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].failures)
            fail_msg("worker %d: %d failures (last: %s)", i, w[i].failures, w[i].last);
    }
    nr_pool_stats st = NR_POOL_STATS_INIT;
    assert_int_equal(nr_pool_stats_get(p, &st), NR_OK);
    assert_true(st.creates >= 1 && st.creates <= 2); /* never more clients than max_size */
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.acquires, (uint64_t)THREADS * OPS * 2);
    nr_error err = {0};
    assert_int_equal(nr_pool_destroy(p, &err), NR_OK);
    nr_config_free(&mc_config_schema, &cfg);
}

/* Nothing listens: the create fails at once, naming the resource and the
 * address, and the pool's acquire says why. */
static void test_closed_port(void **state)
{
    (void)state;
    mc_config cfg;
    server_config(&cfg);
    cfg.port = atol(env("NR_TEST_MEMCACHED_CLOSED_PORT"));
    void *h = NULL;
    nr_error err = {0};
    nr_create_ctx ctx = {.resource_id = "sessions", .deadline = nr_deadline_in_ms(5000)};
    assert_int_equal(mc_type.create(&h, &cfg, &ctx, NULL, &err), NR_EUNAVAIL);
    assert_null(h);
    assert_non_null(strstr(err.message, "memcached 'sessions': no answer from 127.0.0.1:"));
    nr_config_free(&mc_config_schema, &cfg);
}

/* A credential is refused, not ignored. */
static void test_credential_refused(void **state)
{
    (void)state;
    mc_config cfg;
    server_config(&cfg);
    nr_secret *s = NULL;
    nr_error err = {0};
    assert_int_equal(nr_secret_from_str(&s, "Not-Used-77", &err), NR_OK);
    void *h = NULL;
    nr_create_ctx ctx = {
        .resource_id = "sessions", .deadline = nr_deadline_in_ms(5000), .credential = s};
    assert_int_equal(mc_type.create(&h, &cfg, &ctx, NULL, &err), NR_ECRED);
    assert_non_null(strstr(err.message, "no login"));
    assert_null(strstr(err.message, "Not-Used-77"));
    nr_secret_free(s);
    nr_config_free(&mc_config_schema, &cfg);
}

/* The server dies: the health check says so with libmemcached's reason;
 * it comes back: the same client serves again once retry_timeout_s passed. */
static void test_server_killed_and_back(void **state)
{
    (void)state;
    mc_config cfg;
    server_config(&cfg);
    cfg.retry_timeout_s = 1;
    void *h = NULL;
    nr_error err = {0};
    nr_create_ctx ctx = {.resource_id = "sessions", .deadline = nr_deadline_in_ms(5000)};
    assert_int_equal(mc_type.create(&h, &cfg, &ctx, NULL, &err), NR_OK);
    nr_health_report rep = {0};
    assert_int_equal(mc_type.health_check(h, NULL, nr_deadline_in_ms(2000), &rep, &err), NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_HEALTHY);

    ctl("stop");
    memset(&rep, 0, sizeof(rep));
    assert_int_equal(mc_type.health_check(h, NULL, nr_deadline_in_ms(2000), &rep, &err), NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_UNHEALTHY);
    assert_non_null(strstr(rep.reason, "no answer to a get: "));

    ctl("start");
    bool back = false;
    for (int i = 0; i < 100 && !back; i++) { /* retry_timeout_s = 1: within a few seconds */
        memset(&rep, 0, sizeof(rep));
        assert_int_equal(mc_type.health_check(h, NULL, nr_deadline_in_ms(2000), &rep, &err), NR_OK);
        back = rep.state == NR_HEALTH_HEALTHY;
        if (!back)
            nr_sleep_ns(100 * NR_NS_PER_MS);
    }
    assert_true(back);
    memcached_return_t rc = memcached_set(mc_client(h), "after", 5, "restart", 7, 0, 0);
    assert_true(memcached_success(rc));
    mc_type.destroy(h, NULL);
    nr_config_free(&mc_config_schema, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_pool_under_load),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_credential_refused),
        cmocka_unit_test(test_server_killed_and_back),
    };
    return cmocka_run_group_tests_name("memcached_driver", tests, NULL, NULL);
}
