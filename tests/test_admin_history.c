/*
 * test_admin_history.c - the admin server's history ring (src/admin/
 * admin_history.c): rates and mean waits from counter deltas, the ring's
 * wrap, resources that come and go, the bound on tracked resources, a
 * counter reset, out of memory, and the sampler thread on a real manager.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "nebula/testing.h"
#include "nebula/manager.h"
#include "testutil.h"

#define S NR_NS_PER_S

static admin_obs obs_of(const char *id, uint32_t in_use, uint64_t acquires, uint64_t waits,
                        int64_t wait_ns_total)
{
    admin_obs o;
    memset(&o, 0, sizeof(o));
    snprintf(o.id, sizeof(o.id), "%s", id);
    o.in_use = in_use;
    o.waiters = in_use / 2;
    o.acquires = acquires;
    o.waits = waits;
    o.wait_ns_total = wait_ns_total;
    return o;
}

/* The history's JSON, checked for shape: every array as long as t_ms. */
static json_t *history(admin_history *h, uint32_t max)
{
    json_t *o = admin_history_json(h, max);
    assert_non_null(o);
    json_t *res = json_object_get(o, "resources");
    const char *id;
    json_t *r;
    json_object_foreach(res, id, r)
    {
        size_t n = json_array_size(json_object_get(r, "t_ms"));
        assert_int_equal(json_array_size(json_object_get(r, "in_use")), n);
        assert_int_equal(json_array_size(json_object_get(r, "waiters")), n);
        assert_int_equal(json_array_size(json_object_get(r, "acquire_rate")), n);
        assert_int_equal(json_array_size(json_object_get(r, "wait_ms")), n);
    }
    return o;
}

static json_t *series(json_t *hist, const char *id, const char *what)
{
    return json_object_get(json_object_get(json_object_get(hist, "resources"), id), what);
}

static double at(json_t *hist, const char *id, const char *what, size_t i)
{
    return json_number_value(json_array_get(series(hist, id, what), i));
}

static void test_rates_from_counter_deltas(void **state)
{
    (void)state;
    admin_history h;
    assert_int_equal(admin_history_init(&h, 10, 1000, NULL), NR_OK);
    admin_obs o = obs_of("db", 3, 100, 4, 8000000);
    admin_history_record(&h, 10 * S, 5000, &o, 1, 0);
    o = obs_of("db", 4, 150, 14, 28000000); /* 50 acquires, 10 waits of 20 ms in 1 s */
    admin_history_record(&h, 11 * S, 6000, &o, 1, 0);
    o = obs_of("db", 1, 250, 14, 28000000); /* 100 acquires in 2 s, none waited */
    admin_history_record(&h, 13 * S, 8000, &o, 1, 0);
    json_t *j = history(&h, 10);
    assert_int_equal(json_integer_value(json_object_get(j, "interval_ms")), 1000);
    assert_int_equal(json_integer_value(json_object_get(j, "samples")), 10);
    assert_int_equal(json_integer_value(json_object_get(j, "left_out")), 0);
    assert_int_equal(json_array_size(series(j, "db", "t_ms")), 3);
    assert_int_equal(at(j, "db", "t_ms", 0), 5000);
    assert_int_equal(at(j, "db", "t_ms", 2), 8000);
    assert_int_equal(at(j, "db", "in_use", 1), 4);
    assert_int_equal(at(j, "db", "waiters", 1), 2);
    /* the first sample has nothing to compare with */
    assert_true(at(j, "db", "acquire_rate", 0) == 0 && at(j, "db", "wait_ms", 0) == 0);
    assert_true(at(j, "db", "acquire_rate", 1) == 50);
    assert_true(at(j, "db", "wait_ms", 1) == 2);
    assert_true(at(j, "db", "acquire_rate", 2) == 50);
    assert_true(at(j, "db", "wait_ms", 2) == 0);
    json_decref(j);
    /* ?history=2: the newest two */
    j = history(&h, 2);
    assert_int_equal(json_array_size(series(j, "db", "t_ms")), 2);
    assert_int_equal(at(j, "db", "t_ms", 0), 6000);
    json_decref(j);
    admin_history_free(&h);
}

static void test_ring_wraps(void **state)
{
    (void)state;
    admin_history h;
    assert_int_equal(admin_history_init(&h, 4, 100, NULL), NR_OK);
    for (int k = 0; k < 11; k++) {
        admin_obs o = obs_of("db", (uint32_t)k, (uint64_t)k * 10, 0, 0);
        admin_history_record(&h, (int64_t)k * S / 10, 1000 + k * 100, &o, 1, 0);
    }
    json_t *j = history(&h, 100);
    assert_int_equal(json_array_size(series(j, "db", "t_ms")), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(at(j, "db", "t_ms", i), 1000 + (7 + (int)i) * 100);
        assert_int_equal(at(j, "db", "in_use", i), 7 + (int)i);
        assert_true(at(j, "db", "acquire_rate", i) == 100); /* 10 per 0.1 s */
    }
    json_decref(j);
    admin_history_free(&h);
}

static void test_resources_come_and_go(void **state)
{
    (void)state;
    admin_history h;
    assert_int_equal(admin_history_init(&h, 8, 1000, NULL), NR_OK);
    admin_obs v[2];
    v[0] = obs_of("a", 1, 10, 0, 0);
    admin_history_record(&h, 1 * S, 1000, v, 1, 0);
    v[0] = obs_of("a", 1, 20, 0, 0);
    admin_history_record(&h, 2 * S, 2000, v, 1, 0);
    v[1] = obs_of("b", 2, 500, 0, 0); /* b appears: its history starts now */
    admin_history_record(&h, 3 * S, 3000, v, 2, 0);
    v[1] = obs_of("b", 2, 530, 0, 0);
    admin_history_record(&h, 4 * S, 4000, v, 2, 0);
    json_t *j = history(&h, 8);
    assert_int_equal(json_array_size(series(j, "a", "t_ms")), 4);
    assert_int_equal(json_array_size(series(j, "b", "t_ms")), 2);
    assert_int_equal(at(j, "b", "t_ms", 0), 3000);
    assert_true(at(j, "b", "acquire_rate", 0) == 0); /* not 500 per second */
    assert_true(at(j, "b", "acquire_rate", 1) == 30);
    json_decref(j);
    /* a goes: dropped; then it comes back under the same id with new pools */
    admin_history_record(&h, 5 * S, 5000, &v[1], 1, 0);
    j = history(&h, 8);
    assert_null(series(j, "a", "t_ms"));
    assert_int_equal(json_array_size(series(j, "b", "t_ms")), 3);
    json_decref(j);
    v[0] = obs_of("a", 0, 3, 0, 0);
    admin_history_record(&h, 6 * S, 6000, v, 2, 0);
    j = history(&h, 8);
    assert_int_equal(json_array_size(series(j, "a", "t_ms")), 1);
    assert_int_equal(at(j, "a", "t_ms", 0), 6000);
    assert_true(at(j, "a", "acquire_rate", 0) == 0);
    json_decref(j);
    admin_history_free(&h);
}

/* Registered again under the same id between two samples: its counters
 * start from 0 again, and the rate is what the new pools counted. */
static void test_counter_reset(void **state)
{
    (void)state;
    admin_history h;
    assert_int_equal(admin_history_init(&h, 4, 1000, NULL), NR_OK);
    admin_obs o = obs_of("db", 0, 1000, 50, 50000000);
    admin_history_record(&h, 1 * S, 1000, &o, 1, 0);
    o = obs_of("db", 0, 40, 4, 12000000);
    admin_history_record(&h, 3 * S, 3000, &o, 1, 0);
    json_t *j = history(&h, 4);
    assert_true(at(j, "db", "acquire_rate", 1) == 20);
    assert_true(at(j, "db", "wait_ms", 1) == 3);
    json_decref(j);
    admin_history_free(&h);
}

static void test_bounded_resources(void **state)
{
    (void)state;
    enum { N = ADMIN_HISTORY_RESOURCES + 44 };
    static admin_obs v[N];
    for (int k = 0; k < N; k++) {
        char id[16];
        snprintf(id, sizeof(id), "r%d", k);
        v[k] = obs_of(id, 0, 0, 0, 0);
    }
    admin_history h;
    assert_int_equal(admin_history_init(&h, 2, 1000, NULL), NR_OK);
    admin_history_record(&h, 1 * S, 1000, v, N, 0);
    json_t *j = history(&h, 2);
    assert_int_equal(json_object_size(json_object_get(j, "resources")), ADMIN_HISTORY_RESOURCES);
    assert_int_equal(json_integer_value(json_object_get(j, "left_out")), 44);
    assert_non_null(series(j, "r0", "t_ms"));
    assert_null(series(j, "r256", "t_ms"));
    json_decref(j);
    /* the first ten go: ten of those left out get their slots; the sampler's
     * own count of resources it did not read is added */
    admin_history_record(&h, 2 * S, 2000, v + 10, N - 10, 5);
    j = history(&h, 2);
    assert_int_equal(json_object_size(json_object_get(j, "resources")), ADMIN_HISTORY_RESOURCES);
    assert_int_equal(json_integer_value(json_object_get(j, "left_out")), 34 + 5);
    assert_null(series(j, "r0", "t_ms"));
    assert_int_equal(json_array_size(series(j, "r11", "t_ms")), 2);
    assert_int_equal(json_array_size(series(j, "r265", "t_ms")), 1);
    assert_null(series(j, "r266", "t_ms"));
    json_decref(j);
    admin_history_free(&h);
}

/* A track whose points cannot be allocated is left out, and counted. */
static void test_out_of_memory(void **state)
{
    (void)state;
    admin_history h;
    assert_int_equal(admin_history_init(&h, 4, 1000, NULL), NR_OK);
    admin_obs v[2] = {obs_of("a", 0, 0, 0, 0), obs_of("b", 0, 0, 0, 0)};
    nr_test_alloc_install();
    nr_test_alloc_fail_after(1); /* a's points; b's fail */
    admin_history_record(&h, 1 * S, 1000, v, 2, 0);
    nr_test_alloc_reset();
    json_t *j = history(&h, 4);
    assert_non_null(series(j, "a", "t_ms"));
    assert_null(series(j, "b", "t_ms"));
    assert_int_equal(json_integer_value(json_object_get(j, "left_out")), 1);
    json_decref(j);
    admin_history_record(&h, 2 * S, 2000, v, 2, 0); /* b starts once memory is back */
    j = history(&h, 4);
    assert_int_equal(json_array_size(series(j, "a", "t_ms")), 2);
    assert_int_equal(json_array_size(series(j, "b", "t_ms")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "left_out")), 0);
    json_decref(j);
    admin_history_free(&h);
}

/* ---- the sampler thread --------------------------------------------------------- */

static uint64_t samples_of(nr_admin *a)
{
    pthread_mutex_lock(&a->history.mu);
    uint64_t n = a->history.samples;
    pthread_mutex_unlock(&a->history.mu);
    return n;
}

static void wait_samples(nr_admin *a, uint64_t n)
{
    int64_t until = nr_now_ns() + 10 * S;
    while (samples_of(a) < n && nr_now_ns() < until)
        nr_test_sleep_past_ms(20);
    assert_true(samples_of(a) >= n);
}

static void test_sampler_on_a_manager(void **state)
{
    (void)state;
    nr_mock fake;
    nr_mock_init(&fake);
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &mo, NULL), NR_OK);
    const char *ids[] = {"first", "second"};
    for (int i = 0; i < 2; i++) {
        nr_resource_spec s =
            NR_RESOURCE_SPEC(.id = ids[i], .type = &nr_mock_type, .type_ud = &fake, .config = &cfg);
        assert_int_equal(nr_manager_register(m, &s, NULL), NR_OK);
    }
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), NULL), NR_OK);
    nr_admin_options ao = NR_ADMIN_OPTIONS_INIT;
    nr_admin_options_default(&ao);
    ao.sample_interval_ms = 100;
    ao.history = 5;
    nr_admin *a = NULL;
    assert_int_equal(nr_admin_start(&a, m, &ao, NULL), NR_OK);

    nr_guard g = NR_GUARD_INIT;
    for (int k = 0; k < 20; k++) {
        assert_int_equal(nr_manager_acquire(m, "first", NULL, &g, NULL), NR_OK);
        assert_int_equal(nr_guard_release(&g), NR_OK);
    }
    assert_int_equal(nr_manager_acquire(m, "first", NULL, &g, NULL), NR_OK); /* held */
    wait_samples(a, 7);
    json_t *j = history(&a->history, 100);
    assert_int_equal(json_array_size(series(j, "first", "t_ms")), 5); /* the ring is full */
    assert_int_equal(json_array_size(series(j, "second", "t_ms")), 5);
    assert_int_equal(at(j, "first", "in_use", 4), 1);
    assert_int_equal(at(j, "second", "in_use", 4), 0);
    /* wall-clock times, oldest first (how far apart depends on the machine) */
    for (size_t i = 1; i < 5; i++)
        assert_true(at(j, "first", "t_ms", i) >= at(j, "first", "t_ms", i - 1));
    assert_true(at(j, "first", "t_ms", 4) > 1.6e12);
    json_decref(j);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    /* an unregistered resource is dropped at the next sample */
    assert_int_equal(nr_manager_unregister(m, "second", nr_deadline_in_ms(5000), NULL), NR_OK);
    wait_samples(a, samples_of(a) + 2);
    j = history(&a->history, 100);
    assert_null(series(j, "second", "t_ms"));
    assert_non_null(series(j, "first", "t_ms"));
    json_decref(j);

    /* /status carries it, cut by its argument */
    char *text = admin_status_json(a, 2);
    assert_non_null(text);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    json_t *hist = json_object_get(doc, "history");
    assert_int_equal(json_integer_value(json_object_get(hist, "interval_ms")), 100);
    assert_int_equal(json_array_size(series(hist, "first", "t_ms")), 2);
    json_decref(doc);
    text = admin_status_json(a, 0);
    assert_non_null(text);
    assert_null(strstr(text, "\"history\""));
    free(text);

    nr_admin_stop(a);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    assert_int_equal(atomic_load(&fake.creates), atomic_load(&fake.destroys));
    nr_config_free(&nr_mock_config_schema, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_from_counter_deltas), cmocka_unit_test(test_ring_wraps),
        cmocka_unit_test(test_resources_come_and_go),     cmocka_unit_test(test_counter_reset),
        cmocka_unit_test(test_bounded_resources),         cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_sampler_on_a_manager),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
