/*
 * test_kafka_consumer.c - messages produced through a producer pool come
 * back through a consumer pool (a consumer group on librdkafka's mock
 * cluster); consumer health, bounded close, bad input.
 */
#define _POSIX_C_SOURCE 200809L
#include "driver_pool.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_mock.h"
#include "nebula/kafka.h"

#define TOPIC "payments"
#define N     6

static kmock mock;

static int group_setup(void **state)
{
    (void)state;
    if (kmock_start(&mock, 3) != 0)
        return -1;
    return kmock_topic(&mock, TOPIC, 2);
}

static int group_teardown(void **state)
{
    (void)state;
    kmock_stop(&mock);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kmock_all_up(&mock);
    return 0;
}

static void consumer_cfg(nr_kafka_consumer_config *cfg, const char *group)
{
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_kafka_consumer_config_schema, cfg, &err), NR_OK);
    cfg->bootstrap_servers = nr_strdup(mock.bootstraps);
    cfg->group_id = nr_strdup(group);
    cfg->topics = nr_strdup(" " TOPIC " ");
    cfg->auto_offset_reset = NR_KAFKA_OFFSET_EARLIEST;
    cfg->close_timeout_ms = 2000;
    cfg->health_timeout_ms = 3000;
    cfg->properties = nr_strdup("reconnect.backoff.max.ms=500;session.timeout.ms=6000");
    assert_non_null(cfg->topics);
    assert_int_equal(nr_config_validate(&nr_kafka_consumer_config_schema, cfg, "$", NULL, &err),
                     NR_OK);
}

static void test_produce_then_consume_through_pools(void **state)
{
    (void)state;
    nr_error err = {0};
    nr_kafka_producer_config pcfg;
    assert_int_equal(nr_config_init(&nr_kafka_producer_config_schema, &pcfg, &err), NR_OK);
    pcfg.bootstrap_servers = nr_strdup(mock.bootstraps);
    pcfg.message_timeout_ms = 20000;
    nr_pool *producers = nr_dt_pool("payments-out", &nr_kafka_producer_type, &pcfg, NULL, NULL);

    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(producers, &g);
    for (int i = 0; i < N; i++) {
        char key[16], value[32];
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(value, sizeof(value), "payment-%d", i);
        int rc = nr_kafka_produce(nr_guard_handle(&g), TOPIC, key, strlen(key), value,
                                  strlen(value), nr_deadline_in_ms(60000), &err);
        if (rc != NR_OK)
            fail_msg("produce: %s", err.message);
    }
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_kafka_consumer_config ccfg;
    consumer_cfg(&ccfg, "payments-readers");
    nr_pool *consumers = nr_dt_pool("payments-in", &nr_kafka_consumer_type, &ccfg, NULL, NULL);
    nr_dt_acquire_ok(consumers, &g);
    void *c = nr_guard_handle(&g);
    assert_non_null(nr_kafka_handle(c));

    int seen[N] = {0};
    int got = 0;
    /* joining the group takes a few seconds: a generous bound */
    nr_deadline until = nr_deadline_in_ms(kmock_slow() ? 240000 : 60000);
    while (got < N && !nr_deadline_expired(until)) {
        nr_kafka_message m;
        int rc = nr_kafka_poll(c, 500, &m, &err);
        if (rc == NR_ETIMEDOUT) {
            assert_null(m.native);
            continue;
        }
        if (rc != NR_OK)
            fail_msg("poll: %s: %s", nr_err_name(rc), err.message);
        assert_string_equal(m.topic, TOPIC);
        assert_true(m.offset >= 0);
        int i = -1;
        assert_int_equal(sscanf((const char *)m.value, "payment-%d", &i), 1);
        assert_true(i >= 0 && i < N);
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(m.keylen, strlen(key));
        assert_memory_equal(m.key, key, m.keylen);
        if (!seen[i]++)
            got++;
        nr_kafka_message_free(&m);
        assert_null(m.native);
    }
    assert_int_equal(got, N);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    /* the consumer is healthy; producers and consumers close */
    nr_pool_health_report hr;
    assert_int_equal(nr_pool_check_health(consumers, 10 * NR_NS_PER_S, &hr, &err), NR_OK);
    assert_int_equal(hr.healthy, 1);
    nr_dt_pool_done(consumers);
    nr_dt_pool_done(producers);
    nr_config_free(&nr_kafka_consumer_config_schema, &ccfg);
    nr_config_free(&nr_kafka_producer_config_schema, &pcfg);
}

/* Every broker down: the consumer is unhealthy and its destroy (the group
 * close) is bounded by close_timeout_ms. */
static void test_consumer_brokers_down(void **state)
{
    (void)state;
    nr_error err = {0};
    nr_kafka_consumer_config cfg;
    consumer_cfg(&cfg, "down-readers");
    void *h = NULL;
    nr_create_ctx ctx = {.resource_id = "down-in", .deadline = nr_deadline_in_ms(30000)};
    assert_int_equal(nr_kafka_consumer_type.create(&h, &cfg, &ctx, NULL, &err), NR_OK);
    nr_kafka_message m;
    (void)nr_kafka_poll(h, 1000, &m, &err); /* start joining */
    nr_kafka_message_free(&m);

    kmock_all_down(&mock);
    nr_health_report hr = {0};
    assert_int_equal(
        nr_kafka_consumer_type.health_check(h, NULL, nr_deadline_in_ms(10000), &hr, &err), NR_OK);
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_true(strstr(hr.reason, "metadata") != NULL);
    assert_int_equal(nr_kafka_consumer_type.validate(h, NULL, &err), NR_OK);
    assert_int_equal(nr_kafka_consumer_type.recycle(h, NULL, &err), NR_OK);

    int64_t t0 = nr_now_ns();
    nr_kafka_consumer_type.destroy(h, NULL);
    int64_t took_ms = (nr_now_ns() - t0) / NR_NS_PER_MS;
    assert_true(took_ms < cfg.close_timeout_ms + 20000); /* generous bound */

    /* and a new one cannot be made */
    h = NULL;
    ctx.deadline = nr_deadline_in_ms(3000);
    int rc = nr_kafka_consumer_type.create(&h, &cfg, &ctx, NULL, &err);
    assert_true(rc == NR_ETIMEDOUT || rc == NR_EUNAVAIL);
    NR_ASSERT_ERR(err, rc, "kafka-consumer 'down-in'");
    assert_null(h);
    nr_config_free(&nr_kafka_consumer_config_schema, &cfg);
}

static void test_consumer_bad_input(void **state)
{
    (void)state;
    nr_error err = {0};
    nr_kafka_consumer_config cfg;
    consumer_cfg(&cfg, "bad-input");
    void *h = NULL;
    nr_create_ctx ctx = {.resource_id = "bad-in", .deadline = nr_deadline_in_ms(30000)};
    assert_int_equal(nr_kafka_consumer_type.create(&h, NULL, &ctx, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_kafka_consumer_type.create(&h, &cfg, &ctx, NULL, &err), NR_OK);
    nr_kafka_message m;
    assert_int_equal(nr_kafka_poll(h, -1, &m, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "bad-in");
    assert_int_equal(nr_kafka_poll(h, 0, NULL, &err), NR_EINVAL);
    /* a consumer is not a producer */
    assert_int_equal(nr_kafka_produce(h, TOPIC, NULL, 0, "v", 1, nr_deadline_in_ms(100), &err),
                     NR_EINVAL);
    assert_int_equal(nr_kafka_flush(h, nr_deadline_in_ms(100), &err), NR_EINVAL);
    assert_int_equal(nr_kafka_producer_type.recycle(h, NULL, &err), NR_EINVAL);
    nr_kafka_producer_type.destroy(h, NULL); /* wrong type: ignored */
    assert_non_null(nr_kafka_handle(h));
    nr_kafka_consumer_type.destroy(h, NULL);
    nr_config_free(&nr_kafka_consumer_config_schema, &cfg);
}

int main(void)
{
    const char *filter = getenv("NR_KAFKA_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_produce_then_consume_through_pools, teardown),
        cmocka_unit_test_teardown(test_consumer_brokers_down, teardown),
        cmocka_unit_test_teardown(test_consumer_bad_input, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
