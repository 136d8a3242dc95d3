/*
 * test_memcached_type.c - the memcached driver against a real memcached
 * (with-memcached.sh starts one on a free port): its config, a pool of it
 * under the testing library's harness, a closed port, a refused
 * credential, and the server killed and started again.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memcached_type.h"
#include "nebula/testing_harness.h"

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
    nr_config_free(&mc_config_schema, &cfg); /* a failed parse leaves the defaults it set */
}

/* The pool under the testing library's harness: eight threads, 300
 * leases each holding its client up to 0.3 ms more, over a pool of three
 * clients, with cancels, taints, resizes,
 * evict-alls and suspends from its control thread. Each lease writes a key
 * and reads it back on the same client; the harness checks that no lease
 * was lost, none handed out twice, none returned past its deadline and none
 * left at the end (the type is real, so there is no mock: see
 * nebula/testing_harness.h for what is checked then). */
typedef struct load {
    atomic_long ops, wrong;
    char last[NR_ERROR_MESSAGE_MAX]; /* a wrong answer (written once) */
    atomic_flag noted;
} load;

static nr_harness_verdict set_get(void *ud, nr_guard *g, uint32_t thread, uint32_t op)
{
    load *l = ud;
    memcached_st *mc = mc_client(nr_guard_handle(g));
    char key[64], val[64];
    snprintf(key, sizeof(key), "k-%u-%u", thread, op);
    snprintf(val, sizeof(val), "v-%u-%u", thread, op * 7);
    memcached_return_t rc = memcached_set(mc, key, strlen(key), val, strlen(val), 0, 0);
    size_t len = 0;
    uint32_t flags = 0;
    char *got =
        memcached_success(rc) ? memcached_get(mc, key, strlen(key), &len, &flags, &rc) : NULL;
    bool right = got && len == strlen(val) && memcmp(got, val, len) == 0;
    free(got);
    atomic_fetch_add(&l->ops, 1);
    if (right)
        return NR_HARNESS_RELEASE;
    atomic_fetch_add(&l->wrong, 1);
    if (!atomic_flag_test_and_set(&l->noted))
        snprintf(l->last, sizeof(l->last), "%s: %s", key, memcached_strerror(mc, rc));
    return NR_HARNESS_TAINT; /* a client that answered wrong is not given out again */
}

static void test_pool_under_the_harness(void **state)
{
    (void)state;
    mc_config cfg;
    server_config(&cfg);
    nr_pool_config pc;
    nr_test_pool_config(&pc, 1, 3);
    nr_pool *p = NULL;
    nr_error err = {0};
    if (nr_test_pool_of(&p, "sessions", &mc_type, NULL, &cfg, &pc, NULL, &err) != NR_OK)
        fail_msg("pool: %s", err.message);
    load l = {.noted = ATOMIC_FLAG_INIT};
    nr_harness_options o =
        NR_HARNESS_OPTIONS(.pool = p, .threads = 8, .ops = 300, .deadline_ms = 5000,
                           .cancel_permille = 20, .taint_permille = 20, .resize = true,
                           .evict_all = true, .suspend = true, .hold_max_us = 300, .body = set_get,
                           .body_ud = &l, .destroy = true);
    nr_harness_report r = NR_HARNESS_REPORT_INIT;
    int rc = nr_harness_run(&o, &r, &err);
    char line[512];
    nr_harness_report_format(&r, line, sizeof(line));
    print_message("%s\n", line); /* the seed, to replay a failure with NR_TEST_SEED */
    if (rc != NR_OK)
        fail_msg("%s", err.message);
    if (atomic_load(&l.wrong))
        fail_msg("%ld of %ld leases read back a wrong value; first: %s", atomic_load(&l.wrong),
                 atomic_load(&l.ops), l.last);
    assert_int_equal(r.acquires, 8 * 300);
    assert_true(r.acquired > 0);
    assert_int_equal(atomic_load(&l.ops), (long)r.acquired); /* every lease ran the body */
    assert_true(r.destroyed);
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
        cmocka_unit_test(test_pool_under_the_harness),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_credential_refused),
        cmocka_unit_test(test_server_killed_and_back),
    };
    return cmocka_run_group_tests_name("memcached_driver", tests, NULL, NULL);
}
