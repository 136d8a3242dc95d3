/*
 * test_kafka_producer.c - the producer type against librdkafka's mock
 * cluster (real Kafka protocol over 127.0.0.1 TCP), through a pool and
 * through its callbacks.
 */
#define _POSIX_C_SOURCE 200809L
#include "driver_pool.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka_mock.h"
#include "nebula/kafka.h"
#include "nebula/trace.h"

#define ID       "events-out"
#define TOPIC    "orders"
#define PASSWORD "Kafka-S3cret-Pw-731"

/* Kafka protocol ApiKey of Produce requests. */
#define KAFKA_API_PRODUCE 0

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

/* Brokers back up after every test, whatever it did. */
static int teardown(void **state)
{
    (void)state;
    kmock_all_up(&mock);
    rd_kafka_mock_clear_request_errors(mock.mc, KAFKA_API_PRODUCE);
    return 0;
}

static void producer_cfg(nr_kafka_producer_config *cfg, const char *bootstraps,
                         int64_t message_timeout_ms)
{
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_kafka_producer_config_schema, cfg, &err), NR_OK);
    cfg->bootstrap_servers = nr_strdup(bootstraps);
    cfg->message_timeout_ms = message_timeout_ms;
    cfg->flush_timeout_ms = 1000;
    cfg->health_timeout_ms = 3000;
    cfg->properties = nr_strdup("reconnect.backoff.ms=100;reconnect.backoff.max.ms=500");
    assert_non_null(cfg->bootstrap_servers);
    assert_non_null(cfg->properties);
}

static nr_pool *make_pool(nr_kafka_producer_config *cfg, int64_t max_size)
{
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = max_size;
    return nr_dt_pool(ID, &nr_kafka_producer_type, cfg, &pc, NULL);
}

static void produce_ok(void *h, const char *value)
{
    nr_error err = {0};
    int rc =
        nr_kafka_produce(h, TOPIC, "k", 1, value, strlen(value), nr_deadline_in_ms(60000), &err);
    if (rc != NR_OK)
        fail_msg("produce: %s: %s", nr_err_name(rc), err.message);
}

/* An acquire while the cluster has just come back: the breaker may still be
 * open (creates failed in a row while it was away), and then the acquire
 * fails at once until the next trial create, one per backoff step, closes
 * it. Retried within bound_ms; any other failure fails the test. */
static void acquire_after_recovery(nr_pool *pool, nr_guard *g, int64_t bound_ms)
{
    nr_deadline bound = nr_deadline_in_ms(bound_ms);
    for (;;) {
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(60000));
        nr_error err = {0};
        int rc = nr_pool_acquire(pool, &ctx, g, &err);
        if (rc == NR_OK)
            return;
        if (rc != NR_EUNAVAIL || nr_deadline_expired(bound))
            fail_msg("acquire after recovery: %s: %s", nr_err_name(rc), err.message);
        NR_ASSERT_ERR(err, NR_EUNAVAIL, "breaker is open");
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* ---- through a pool ----------------------------------------------------------------- */

static void test_pool_produce_sync_and_async(void **state)
{
    (void)state;
    nr_kafka_producer_config cfg;
    producer_cfg(&cfg, mock.bootstraps, 10000);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 2;
    pc.validate_bypass_ms = 0; /* validate on every reuse, however recent */
    nr_pool *pool = nr_dt_pool(ID, &nr_kafka_producer_type, &cfg, &pc, NULL);

    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(pool, &g);
    void *h = nr_guard_handle(&g);
    assert_non_null(nr_kafka_handle(h));
    produce_ok(h, "one");
    produce_ok(h, "two");

    nr_error err = {0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(
            nr_kafka_produce_async(h, TOPIC, NULL, 0, "async", 5, nr_deadline_in_ms(10000), &err),
            NR_OK);
    /* produced directly on the handle, with an opaque of the caller's own:
     * counted as asynchronous, the opaque left alone */
    int mine = 7;
    assert_int_equal(rd_kafka_producev(nr_kafka_handle(h), RD_KAFKA_V_TOPIC(TOPIC),
                                       RD_KAFKA_V_VALUE("direct", 6),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_OPAQUE(&mine), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(nr_kafka_flush(h, nr_deadline_in_ms(60000), &err), NR_OK);
    assert_int_equal(mine, 7);
    nr_kafka_delivery_stats st;
    assert_int_equal(nr_kafka_delivery_stats_get(h, &st, &err), NR_OK);
    assert_int_equal(st.produced, 7); /* through the driver */
    assert_int_equal(st.delivered, 8);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    /* the same instance comes back, validated, and the cluster is healthy */
    nr_dt_acquire_ok(pool, &g);
    produce_ok(nr_guard_handle(&g), "three");
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_pool_health_report hr;
    assert_int_equal(nr_pool_check_health(pool, 10 * NR_NS_PER_S, &hr, &err), NR_OK);
    assert_int_equal(hr.checked, 1);
    assert_int_equal(hr.healthy, 1);

    nr_pool_stats ps = NR_POOL_STATS_INIT;
    nr_pool_stats_get(pool, &ps);
    assert_int_equal(ps.creates, 1);
    assert_int_equal(ps.recycle_failures, 0);
    assert_int_equal(ps.validate_failures, 0);
    assert_int_equal(ps.validate_skips, 0);
    nr_dt_pool_done(pool);
    nr_config_free(&nr_kafka_producer_config_schema, &cfg);
}

/* A non-retriable error from the broker (message too large) reaches the caller of a sync produce,
 * and the caller of flush after an async one; one nobody collected makes the
 * pool discard the instance. */
static void test_delivery_errors_surface(void **state)
{
    (void)state;
    nr_kafka_producer_config cfg;
    producer_cfg(&cfg, mock.bootstraps, 10000);
    nr_pool *pool = make_pool(&cfg, 1);
    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(pool, &g);
    void *h = nr_guard_handle(&g);
    produce_ok(h, "warm"); /* metadata and connections are ready */

    nr_error err = {0};
    rd_kafka_mock_push_request_errors(mock.mc, KAFKA_API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    int rc = nr_kafka_produce(h, TOPIC, "k", 1, "v", 1, nr_deadline_in_ms(60000), &err);
    assert_int_equal(rc, NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, ID);
    NR_ASSERT_ERR(err, NR_EINVAL, "topic '" TOPIC "'");
    assert_int_equal(err.driver_code, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_string_equal(err.resource_id, ID);

    /* asynchronous: the failure waits for flush */
    rd_kafka_mock_push_request_errors(mock.mc, KAFKA_API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_int_equal(
        nr_kafka_produce_async(h, TOPIC, NULL, 0, "a", 1, nr_deadline_in_ms(10000), &err), NR_OK);
    nr_error_clear(&err);
    rc = nr_kafka_flush(h, nr_deadline_in_ms(60000), &err);
    assert_int_equal(rc, NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "1 delivery failure(s)");
    NR_ASSERT_ERR(err, NR_EINVAL, "topic '" TOPIC "'");
    NR_ASSERT_ERR(err, NR_EINVAL, ID);
    /* reported once */
    assert_int_equal(nr_kafka_flush(h, nr_deadline_in_ms(60000), &err), NR_OK);
    nr_kafka_delivery_stats st;
    assert_int_equal(nr_kafka_delivery_stats_get(h, &st, &err), NR_OK);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.unreported, 0);

    /* a failure nobody collected: recycle refuses the instance */
    rd_kafka_mock_push_request_errors(mock.mc, KAFKA_API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_int_equal(
        nr_kafka_produce_async(h, TOPIC, NULL, 0, "b", 1, nr_deadline_in_ms(10000), &err), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_pool_stats ps = NR_POOL_STATS_INIT;
    nr_pool_stats_get(pool, &ps);
    assert_int_equal(ps.recycle_failures, 1);
    assert_int_equal(ps.destroys, 1);
    assert_int_equal(ps.idle, 0);

    /* the recycle itself, called directly, says why */
    void *raw = NULL;
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(30000)};
    assert_int_equal(nr_kafka_producer_type.create(&raw, &cfg, &ctx, NULL, &err), NR_OK);
    rd_kafka_mock_push_request_errors(mock.mc, KAFKA_API_PRODUCE, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_int_equal(
        nr_kafka_produce_async(raw, TOPIC, NULL, 0, "c", 1, nr_deadline_in_ms(10000), &err), NR_OK);
    nr_error_clear(&err);
    assert_int_equal(nr_kafka_producer_type.recycle(raw, NULL, &err), NR_ECLEANUP);
    NR_ASSERT_ERR(err, NR_ECLEANUP, "never reported");
    NR_ASSERT_ERR(err, NR_ECLEANUP, "topic '" TOPIC "'");
    nr_kafka_producer_type.destroy(raw, NULL);

    nr_dt_pool_done(pool);
    nr_config_free(&nr_kafka_producer_config_schema, &cfg);
}

/* Every broker down: the produce call returns an error naming the resource
 * and the topic; health is unhealthy; a new instance cannot be created (the
 * create's own error, and an acquire that times out with it as the cause);
 * destroy is bounded; once the brokers are up everything works again. */
static void test_brokers_down_and_back(void **state)
{
    (void)state;
    int64_t msg_timeout = kmock_slow() ? 4000 : 1500;
    nr_kafka_producer_config cfg;
    producer_cfg(&cfg, mock.bootstraps, msg_timeout);
    nr_pool *pool = make_pool(&cfg, 2);
    nr_guard g = NR_GUARD_INIT, g2 = NR_GUARD_INIT;
    nr_dt_acquire_ok(pool, &g);
    nr_dt_acquire_ok(pool, &g2);
    produce_ok(nr_guard_handle(&g), "before");
    assert_int_equal(nr_guard_release(&g2), NR_OK); /* one idle instance to check */

    kmock_all_down(&mock);

    nr_error err = {0};
    int rc = nr_kafka_produce(nr_guard_handle(&g), TOPIC, "k", 1, "lost", 4,
                              nr_deadline_in_ms(120000), &err);
    assert_int_not_equal(rc, NR_OK);
    assert_true(rc == NR_ETIMEDOUT || rc == NR_EUNAVAIL);
    NR_ASSERT_ERR(err, rc, ID);
    NR_ASSERT_ERR(err, rc, "topic '" TOPIC "'");
    assert_true(err.driver_code != 0);

    /* messages left in flight: the release flushes for flush_timeout_ms,
     * then the instance is discarded and destroyed, all bounded */
    for (int i = 0; i < 3; i++)
        assert_int_equal(nr_kafka_produce_async(nr_guard_handle(&g), TOPIC, NULL, 0, "x", 1,
                                                nr_deadline_in_ms(10000), &err),
                         NR_OK);
    int64_t t0 = nr_now_ns();
    assert_int_equal(nr_guard_release(&g), NR_OK);
    int64_t took_ms = (nr_now_ns() - t0) / NR_NS_PER_MS;
    /* generous bound: recycle's flush + destroy's flush + purge */
    assert_true(took_ms < 2 * cfg.flush_timeout_ms + 20000);
    nr_pool_stats ps = NR_POOL_STATS_INIT;
    nr_pool_stats_get(pool, &ps);
    assert_int_equal(ps.recycle_failures, 1);

    /* the idle instance is unhealthy and discarded */
    nr_pool_health_report hr;
    assert_int_equal(nr_pool_check_health(pool, 10 * NR_NS_PER_S, &hr, &err), NR_OK);
    assert_int_equal(hr.checked, 1);
    assert_int_equal(hr.unhealthy, 1);
    assert_true(strstr(hr.reason, "metadata") != NULL);

    /* a new instance cannot be made while the cluster is away: the create's
     * own error (no broker reachable, or no metadata by the deadline) */
    rc = nr_pool_prime(pool, 1, nr_deadline_in_ms(4000), &err);
    assert_true(rc == NR_ETIMEDOUT || rc == NR_EUNAVAIL);
    NR_ASSERT_ERR(err, rc, "create failed");
    NR_ASSERT_ERR(err, rc, ID);
    NR_ASSERT_ERR(err, rc, mock.bootstraps);
    assert_true(err.driver_code != 0);

    /* an acquire waits for the creator until its deadline, and says why
     * nothing came: the last create's failure */
    nr_error_clear(&err);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(2000));
    rc = nr_pool_acquire(pool, &ctx, &g, &err);
    assert_int_equal(rc, NR_ETIMEDOUT);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "no instance became free in time");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "the last create failed");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, mock.bootstraps);
    assert_true(err.cause == NR_ETIMEDOUT || err.cause == NR_EUNAVAIL);
    assert_true(err.driver_code != 0);

    kmock_all_up(&mock);
    acquire_after_recovery(pool, &g, kmock_slow() ? 120000 : 30000);
    nr_pool_stats_get(pool, &ps);
    assert_false(ps.breaker_open);
    assert_int_equal(ps.consecutive_failures, 0);
    produce_ok(nr_guard_handle(&g), "after");
    assert_int_equal(nr_guard_release(&g), NR_OK);
    assert_int_equal(nr_pool_check_health(pool, 10 * NR_NS_PER_S, &hr, &err), NR_OK);
    assert_int_equal(hr.healthy, 1);

    nr_dt_pool_done(pool);
    nr_config_free(&nr_kafka_producer_config_schema, &cfg);
}

/* destroy with brokers down and messages queued returns within its bound. */
static void test_destroy_bounded_when_down(void **state)
{
    (void)state;
    nr_kafka_producer_config cfg;
    producer_cfg(&cfg, mock.bootstraps, 60000); /* librdkafka alone would wait a minute */
    cfg.flush_timeout_ms = 500;
    nr_error err = {0};
    void *h = NULL;
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(30000)};
    assert_int_equal(nr_kafka_producer_type.create(&h, &cfg, &ctx, NULL, &err), NR_OK);
    produce_ok(h, "warm");
    kmock_all_down(&mock);
    for (int i = 0; i < 10; i++)
        assert_int_equal(
            nr_kafka_produce_async(h, TOPIC, NULL, 0, "q", 1, nr_deadline_in_ms(10000), &err),
            NR_OK);
    int64_t t0 = nr_now_ns();
    nr_kafka_producer_type.destroy(h, NULL);
    int64_t took_ms = (nr_now_ns() - t0) / NR_NS_PER_MS;
    assert_true(took_ms < cfg.flush_timeout_ms + 20000); /* generous: never a minute */
    nr_config_free(&nr_kafka_producer_config_schema, &cfg);
}

/* ---- unreachable clusters, deadlines, cancel ------------------------------------------ */

/* Connects refused: the create fails at once naming the bootstrap; acquires
 * time out with it as the cause, and after breaker_failures failures in a
 * row fail at once with NR_EUNAVAIL. */
static void test_refused_bootstrap(void **state)
{
    (void)state;
    char bs[64];
    snprintf(bs, sizeof(bs), "127.0.0.1:%d", kmock_closed_port());
    nr_kafka_producer_config cfg;
    producer_cfg(&cfg, bs, 5000);
    cfg.health_timeout_ms = 20000;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 1;
    pc.breaker_failures = 3;
    pc.create_backoff_ms = 50;
    pc.create_backoff_max_ms = 200;
    nr_pool *pool = nr_dt_pool(ID, &nr_kafka_producer_type, &cfg, &pc, NULL);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};

    /* the create's own error, on this thread */
    int rc = nr_pool_prime(pool, 1, nr_deadline_in_ms(20000), &err);
    assert_int_equal(rc, NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "create failed");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, ID);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, bs);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "no broker");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_int_equal(err.driver_code, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN);
    assert_string_equal(err.resource_id, ID);

    /* an acquire waits out its deadline: the cause is the create's */
    nr_error_clear(&err);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(1000));
    rc = nr_pool_acquire(pool, &ctx, &g, &err);
    assert_int_equal(rc, NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "the last create failed");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, bs);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "no broker");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_int_equal(err.driver_code, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN);
    assert_string_equal(err.resource_id, ID);

    /* failures in a row open the breaker: then an acquire fails at once */
    nr_deadline bound = nr_deadline_in_ms(kmock_slow() ? 120000 : 30000);
    for (;;) {
        nr_pool_stats ps = NR_POOL_STATS_INIT;
        nr_pool_stats_get(pool, &ps);
        if (ps.breaker_open)
            break;
        if (nr_deadline_expired(bound))
            fail_msg("the breaker did not open: %u failures in a row", ps.consecutive_failures);
        ctx.deadline = nr_deadline_in_ms(500);
        rc = nr_pool_acquire(pool, &ctx, &g, &err);
        assert_true(rc == NR_ETIMEDOUT || rc == NR_EUNAVAIL);
    }
    nr_error_clear(&err);
    ctx.deadline = nr_deadline_in_ms(20000);
    int64_t t0 = nr_now_ns();
    rc = nr_pool_acquire(pool, &ctx, &g, &err);
    int64_t took_ms = (nr_now_ns() - t0) / NR_NS_PER_MS;
    assert_int_equal(rc, NR_EUNAVAIL);
    assert_true(took_ms < 10000); /* at once, not at the deadline */
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "breaker is open");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, ID);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, bs);
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_int_equal(err.driver_code, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN);
    assert_string_equal(err.resource_id, ID);
    assert_false(nr_guard_held(&g));
    nr_dt_pool_done(pool);
    nr_config_free(&nr_kafka_producer_config_schema, &cfg);
}

/* A bootstrap that drops every packet: the create gives up at its deadline
 * (not librdkafka's 30 s connect timeout), on the caller's thread and on the
 * creator (create_timeout_ms), and an acquire returns at its own deadline. */
static void test_blackholed_bootstrap_honours_deadline(void **state)
{
    (void)state;
    nr_kafka_producer_config cfg;
    producer_cfg(&cfg, "10.255.255.1:9092", 5000);
    cfg.health_timeout_ms = 600000;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 1;
    pc.create_timeout_ms = 1500;
    nr_pool *pool = nr_dt_pool(ID, &nr_kafka_producer_type, &cfg, &pc, NULL);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};

    /* the create itself, under the caller's deadline */
    int64_t t0 = nr_now_ns();
    int rc = nr_pool_prime(pool, 1, nr_deadline_in_ms(1500), &err);
    int64_t took_ms = (nr_now_ns() - t0) / NR_NS_PER_MS;
    /* no route at all on some machines (refused at once); a timeout otherwise */
    assert_true(rc == NR_ETIMEDOUT || rc == NR_EUNAVAIL);
    NR_ASSERT_ERR(err, rc, ID);
    NR_ASSERT_ERR(err, rc, "create failed");
    NR_ASSERT_ERR(err, rc, "10.255.255.1:9092");
    assert_true(took_ms < 30000); /* the deadline, not librdkafka's 30 s connect timeout */

    /* an acquire: the creator's create ends at create_timeout_ms, well
     * before this deadline, so the timeout names its failure */
    nr_error_clear(&err);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(kmock_slow() ? 8000 : 4000));
    t0 = nr_now_ns();
    rc = nr_pool_acquire(pool, &ctx, &g, &err);
    took_ms = (nr_now_ns() - t0) / NR_NS_PER_MS;
    assert_true(rc == NR_ETIMEDOUT || rc == NR_EUNAVAIL);
    NR_ASSERT_ERR(err, rc, ID);
    NR_ASSERT_ERR(err, rc, "10.255.255.1:9092");
    assert_true(err.cause == NR_ETIMEDOUT || err.cause == NR_EUNAVAIL);
    assert_true(took_ms < 30000);
    nr_pool_stats ps = NR_POOL_STATS_INIT;
    nr_pool_stats_get(pool, &ps);
    assert_true(ps.create_failures >= 2); /* the prime's, and the creator's for the acquire */
    assert_int_equal(ps.creates, 0);

    /* a create the acquire left behind still runs: wait for it */
    nr_dt_pool_done(pool);
    nr_config_free(&nr_kafka_producer_config_schema, &cfg);
}

static void test_create_canceled(void **state)
{
    (void)state;
    nr_kafka_producer_config cfg;
    producer_cfg(&cfg, "10.255.255.1:9092", 5000);
    nr_cancel *tok = NULL;
    nr_error err = {0};
    assert_int_equal(nr_cancel_create(&tok, NULL, &err), NR_OK);
    nr_cancel_trigger(tok);
    void *h = NULL;
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(30000), .cancel = tok};
    assert_int_equal(nr_kafka_producer_type.create(&h, &cfg, &ctx, NULL, &err), NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, ID);
    assert_null(h);

    /* an expired deadline */
    ctx.cancel = NULL;
    ctx.deadline = nr_deadline_in_ms(-1);
    assert_int_equal(nr_kafka_producer_type.create(&h, &cfg, &ctx, NULL, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, ID);
    assert_null(h);
    nr_cancel_destroy(tok);
    nr_config_free(&nr_kafka_producer_config_schema, &cfg);
}

/* ---- SASL: the mock has none, so only the failure path and the secrecy ------------------- */

/* Log records arrive on librdkafka's threads. */
typedef struct capture {
    pthread_mutex_t mu;
    int records;
    int leaked;
} capture;

static void capture_emit(void *ud, const nr_trace_record *r)
{
    capture *c = ud;
    int leak = r->message && strstr(r->message, PASSWORD);
    pthread_mutex_lock(&c->mu);
    c->records++;
    c->leaked += leak;
    pthread_mutex_unlock(&c->mu);
}

static void test_sasl_secret_never_shown(void **state)
{
    (void)state;
    nr_kafka_producer_config cfg;
    producer_cfg(&cfg, mock.bootstraps, 3000);
    cfg.security_protocol = NR_KAFKA_SASL_PLAINTEXT;
    cfg.sasl_username = nr_strdup("app");
    nr_free(cfg.properties);
    cfg.properties = nr_strdup("debug=security,broker,conf;reconnect.backoff.max.ms=500");
    cfg.health_timeout_ms = 3000;
    nr_error err = {0};

    /* no credential */
    void *h = NULL;
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(30000)};
    assert_int_equal(nr_kafka_producer_type.create(&h, &cfg, &ctx, NULL, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, ID);
    NR_ASSERT_ERR(err, NR_ECRED, "credential");

    /* with the credential: the mock speaks no SASL, so create fails, and
     * neither the error nor any librdkafka log line holds the password */
    capture cap = {.mu = PTHREAD_MUTEX_INITIALIZER};
    nr_trace_sink sink = {.emit = capture_emit, .ud = &cap};
    assert_int_equal(nr_trace_set_sink(&sink, NR_TRACE_LEVEL_TRACE), NR_OK);
    nr_secret *pw = NULL;
    assert_int_equal(nr_secret_from_str(&pw, PASSWORD, &err), NR_OK);
    ctx.credential = pw;
    int rc = nr_kafka_producer_type.create(&h, &cfg, &ctx, NULL, &err);
    if (rc == NR_OK) /* should the mock ever accept it: still no leak below */
        nr_kafka_producer_type.destroy(h, NULL);
    else
        NR_ASSERT_ERR(err, rc, ID);
    assert_null(strstr(err.message, PASSWORD));
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    pthread_mutex_lock(&cap.mu);  /* the sink is gone: no emit runs any more */
    assert_true(cap.records > 0); /* debug logging did reach the sink */
    assert_int_equal(cap.leaked, 0);
    pthread_mutex_unlock(&cap.mu);

    /* the printed config has no password field at all */
    char *json =
        nr_config_serialize(&nr_kafka_producer_config_schema, &cfg, NR_CONFIG_SECRETS_REVEAL, &err);
    assert_non_null(json);
    assert_null(strstr(json, PASSWORD));
    nr_free(json);
    nr_secret_free(pw);
    nr_config_free(&nr_kafka_producer_config_schema, &cfg);
}

/* ---- bad input ------------------------------------------------------------------------- */

static void test_bad_input(void **state)
{
    (void)state;
    nr_error err = {0};
    assert_null(nr_kafka_handle(NULL));
    uint64_t junk[16] = {42}; /* not an instance (and big enough to read its magic) */
    assert_null(nr_kafka_handle(junk));
    assert_int_equal(nr_kafka_produce(NULL, TOPIC, NULL, 0, "v", 1, nr_deadline_in_ms(10), &err),
                     NR_EINVAL);
    assert_int_equal(
        nr_kafka_produce_async(junk, TOPIC, NULL, 0, "v", 1, nr_deadline_in_ms(10), &err),
        NR_EINVAL);
    assert_int_equal(nr_kafka_flush(NULL, nr_deadline_in_ms(10), &err), NR_EINVAL);
    assert_int_equal(nr_kafka_delivery_stats_get(NULL, NULL, &err), NR_EINVAL);
    nr_kafka_message m;
    assert_int_equal(nr_kafka_poll(NULL, 0, &m, &err), NR_EINVAL);
    nr_kafka_message_free(NULL);
    nr_kafka_message_free(&m);

    nr_kafka_producer_config cfg;
    producer_cfg(&cfg, mock.bootstraps, 5000);
    void *h = NULL;
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(30000)};
    assert_int_equal(nr_kafka_producer_type.create(NULL, &cfg, &ctx, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_kafka_producer_type.create(&h, NULL, &ctx, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_kafka_producer_type.create(&h, &cfg, &ctx, NULL, &err), NR_OK);
    assert_int_equal(nr_kafka_produce(h, NULL, NULL, 0, "v", 1, nr_deadline_in_ms(10), &err),
                     NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "topic is required");
    assert_int_equal(nr_kafka_produce(h, TOPIC, NULL, 3, "v", 1, nr_deadline_in_ms(10), &err),
                     NR_EINVAL);
    /* a producer is not a consumer */
    assert_int_equal(nr_kafka_poll(h, 0, &m, &err), NR_EINVAL);
    assert_int_equal(nr_kafka_consumer_type.recycle(h, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_kafka_producer_type.validate(h, NULL, &err), NR_OK);
    assert_int_equal(nr_kafka_producer_type.validate(NULL, NULL, &err), NR_EINVAL);
    nr_health_report hr;
    assert_int_equal(nr_kafka_producer_type.health_check(h, NULL, nr_deadline_in_ms(-1), &hr, &err),
                     NR_ETIMEDOUT);
    assert_int_equal(
        nr_kafka_producer_type.health_check(h, NULL, nr_deadline_in_ms(5000), NULL, &err),
        NR_EINVAL);
    nr_kafka_producer_type.destroy(h, NULL);
    nr_kafka_producer_type.destroy(NULL, NULL);

    /* a property librdkafka refuses, handed to create directly */
    nr_free(cfg.properties);
    cfg.properties = nr_strdup("compression.type=bogus");
    assert_int_equal(nr_kafka_producer_type.create(&h, &cfg, &ctx, NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, ID);
    NR_ASSERT_ERR(err, NR_ECONFIG, "compression.type");
    nr_config_free(&nr_kafka_producer_config_schema, &cfg);
}

int main(void)
{
    const char *filter = getenv("NR_KAFKA_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pool_produce_sync_and_async, teardown),
        cmocka_unit_test_teardown(test_delivery_errors_surface, teardown),
        cmocka_unit_test_teardown(test_brokers_down_and_back, teardown),
        cmocka_unit_test_teardown(test_destroy_bounded_when_down, teardown),
        cmocka_unit_test_teardown(test_refused_bootstrap, teardown),
        cmocka_unit_test_teardown(test_blackholed_bootstrap_honours_deadline, teardown),
        cmocka_unit_test_teardown(test_create_canceled, teardown),
        cmocka_unit_test_teardown(test_sasl_secret_never_shown, teardown),
        cmocka_unit_test_teardown(test_bad_input, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
