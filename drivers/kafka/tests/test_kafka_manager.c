/*
 * test_kafka_manager.c - a Kafka producer and consumer under a manager:
 * start, acquire and produce; every broker of the mock cluster goes down,
 * the resource turns unhealthy and acquires fail fast with NR_EUNAVAIL; the
 * brokers come back and, with nothing restarted, it is healthy again and
 * acquires and produces work. A refused bootstrap fails the start.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_mock.h"
#include "nebula/kafka.h"
#include "nebula/manager.h"

#define TOPIC "audit"
#define PID   "audit-out"
#define CID   "audit-in"

static kmock mock;

static int group_setup(void **state)
{
    (void)state;
    if (kmock_start(&mock, 3) != 0)
        return -1;
    return kmock_topic(&mock, TOPIC, 1);
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

static void producer_cfg(nr_kafka_producer_config *cfg, const char *bootstraps)
{
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_kafka_producer_config_schema, cfg, &err), NR_OK);
    cfg->bootstrap_servers = nr_strdup(bootstraps);
    cfg->message_timeout_ms = 10000;
    cfg->health_timeout_ms = kmock_slow() ? 20000 : 3000;
    cfg->flush_timeout_ms = 1000;
    cfg->properties = nr_strdup("reconnect.backoff.ms=100;reconnect.backoff.max.ms=500");
}

static nr_manager *make_manager(void)
{
    nr_manager_options o = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&o);
    o.workers = 2;
    o.health_interval_ms = 100;
    o.maintain_interval_ms = 100;
    o.health_timeout_ms = kmock_slow() ? 20000 : 3000;
    o.failure_threshold = 1;
    o.recovery_threshold = 1;
    nr_manager *m = NULL;
    nr_error err = {0};
    int rc = nr_manager_create(&m, &o, &err);
    if (rc != NR_OK)
        fail_msg("manager create: %s", err.message);
    return m;
}

static nr_health_state wait_health(nr_manager *m, const char *id, nr_health_state want,
                                   int64_t bound_ms, nr_resource_info *info)
{
    nr_error err = {0};
    nr_deadline until = nr_deadline_in_ms(bound_ms);
    do {
        assert_int_equal(nr_manager_resource_info(m, id, info, &err), NR_OK);
        if (info->health == want)
            return want;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    } while (!nr_deadline_expired(until));
    return info->health;
}

static void produce_via_manager(nr_manager *m, const char *value)
{
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(30000));
    nr_error err = {0};
    int rc = nr_manager_acquire(m, PID, &ctx, &g, &err);
    if (rc != NR_OK)
        fail_msg("acquire: %s: %s", nr_err_name(rc), err.message);
    rc = nr_kafka_produce(nr_guard_handle(&g), TOPIC, NULL, 0, value, strlen(value),
                          nr_deadline_in_ms(30000), &err);
    if (rc != NR_OK)
        fail_msg("produce: %s: %s", nr_err_name(rc), err.message);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void test_unhealthy_then_healthy_again(void **state)
{
    (void)state;
    int64_t bound = kmock_slow() ? 240000 : 60000;
    nr_kafka_producer_config pcfg;
    producer_cfg(&pcfg, mock.bootstraps);
    nr_kafka_consumer_config ccfg;
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_kafka_consumer_config_schema, &ccfg, &err), NR_OK);
    ccfg.bootstrap_servers = nr_strdup(mock.bootstraps);
    ccfg.group_id = nr_strdup("audit-readers");
    ccfg.topics = nr_strdup(TOPIC);
    ccfg.health_timeout_ms = kmock_slow() ? 20000 : 3000;
    ccfg.close_timeout_ms = 1000;
    ccfg.properties = nr_strdup("reconnect.backoff.max.ms=500");

    nr_manager *m = make_manager();
    nr_resource_spec ps =
        NR_RESOURCE_SPEC(.id = PID, .type = &nr_kafka_producer_type, .config = &pcfg);
    nr_resource_spec cs =
        NR_RESOURCE_SPEC(.id = CID, .type = &nr_kafka_consumer_type, .config = &ccfg);
    assert_int_equal(nr_manager_register(m, &ps, &err), NR_OK);
    assert_int_equal(nr_manager_register(m, &cs, &err), NR_OK);
    int rc = nr_manager_start(m, nr_deadline_in_ms(60000), &err);
    if (rc != NR_OK)
        fail_msg("start: %s: %s", nr_err_name(rc), err.message);

    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_int_equal(wait_health(m, PID, NR_HEALTH_HEALTHY, bound, &info), NR_HEALTH_HEALTHY);
    assert_string_equal(info.type, "kafka-producer");
    produce_via_manager(m, "first");

    /* the cluster goes away */
    kmock_all_down(&mock);
    assert_int_equal(wait_health(m, PID, NR_HEALTH_UNHEALTHY, bound, &info), NR_HEALTH_UNHEALTHY);
    assert_true(info.health_reason[0] != '\0');
    assert_int_equal(wait_health(m, CID, NR_HEALTH_UNHEALTHY, bound, &info), NR_HEALTH_UNHEALTHY);

    /* acquires fail fast, naming the resource */
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(30000));
    rc = nr_manager_acquire(m, PID, &ctx, &g, &err);
    assert_int_equal(rc, NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, PID);
    assert_false(nr_guard_held(&g));
    rc = nr_manager_acquire(m, CID, &ctx, &g, &err);
    assert_int_equal(rc, NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, CID);

    /* it comes back: nothing restarted here */
    kmock_all_up(&mock);
    assert_int_equal(wait_health(m, PID, NR_HEALTH_HEALTHY, bound, &info), NR_HEALTH_HEALTHY);
    produce_via_manager(m, "second");
    assert_int_equal(wait_health(m, CID, NR_HEALTH_HEALTHY, bound, &info), NR_HEALTH_HEALTHY);
    rc = nr_manager_acquire(m, CID, &ctx, &g, &err);
    if (rc != NR_OK)
        fail_msg("acquire consumer: %s: %s", nr_err_name(rc), err.message);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    assert_int_equal(nr_manager_shutdown(m, NULL, &rep, &err), NR_OK);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    nr_config_free(&nr_kafka_producer_config_schema, &pcfg);
    nr_config_free(&nr_kafka_consumer_config_schema, &ccfg);
}

static void test_start_fails_on_refused_bootstrap(void **state)
{
    (void)state;
    char bs[64];
    snprintf(bs, sizeof(bs), "127.0.0.1:%d", kmock_closed_port());
    nr_kafka_producer_config pcfg;
    producer_cfg(&pcfg, bs);
    pcfg.health_timeout_ms = 20000;
    nr_manager *m = make_manager();
    nr_resource_spec ps =
        NR_RESOURCE_SPEC(.id = PID, .type = &nr_kafka_producer_type, .config = &pcfg);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(m, &ps, &err), NR_OK);
    int rc = nr_manager_start(m, nr_deadline_in_ms(30000), &err);
    assert_int_equal(rc, NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, PID);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, bs);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    nr_config_free(&nr_kafka_producer_config_schema, &pcfg);
}

/* A config with a property librdkafka refuses is refused at register. */
static void test_register_refuses_bad_property(void **state)
{
    (void)state;
    nr_kafka_producer_config pcfg;
    producer_cfg(&pcfg, mock.bootstraps);
    nr_free(pcfg.properties);
    pcfg.properties = nr_strdup("queue.buffering.max.messages=-5");
    nr_manager *m = make_manager();
    nr_resource_spec ps =
        NR_RESOURCE_SPEC(.id = PID, .type = &nr_kafka_producer_type, .config = &pcfg);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(m, &ps, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "queue.buffering.max.messages");
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    nr_config_free(&nr_kafka_producer_config_schema, &pcfg);
}

int main(void)
{
    const char *filter = getenv("NR_KAFKA_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unhealthy_then_healthy_again, teardown),
        cmocka_unit_test_teardown(test_start_fails_on_refused_bootstrap, teardown),
        cmocka_unit_test_teardown(test_register_refuses_bad_property, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
