/*
 * kafka_example.c - a pool of Kafka producers and a pool of consumers:
 * produce three messages (each waits for its delivery report), then read
 * them back through a consumer group.
 *
 *     kafka_example BOOTSTRAP_SERVERS [TOPIC]
 *     kafka_example --mock            (starts librdkafka's mock cluster first)
 */
#include <stdio.h>
#include <string.h>

#include "nebula/kafka.h" /* includes <librdkafka/rdkafka.h> */
#include "nebula/resource.h"

#include <librdkafka/rdkafka_mock.h> /* only for --mock */

static int fail(const char *what, const nr_error *err)
{
    fprintf(stderr, "%s: %s: %s\n", what, nr_err_name(err->code), err->message);
    return 1;
}

static int run(const char *bootstrap, const char *topic)
{
    nr_error err = {0};
    int status = 0;

    /* 1. The configs: defaults, then what differs. */
    nr_kafka_producer_config pcfg;
    nr_kafka_consumer_config ccfg;
    if (nr_config_init(&nr_kafka_producer_config_schema, &pcfg, &err) != NR_OK ||
        nr_config_init(&nr_kafka_consumer_config_schema, &ccfg, &err) != NR_OK)
        return fail("config", &err);
    pcfg.bootstrap_servers = nr_strdup(bootstrap);
    pcfg.message_timeout_ms = 10000;
    pcfg.properties = nr_strdup("compression.type=lz4");
    ccfg.bootstrap_servers = nr_strdup(bootstrap);
    ccfg.group_id = nr_strdup("example-group");
    ccfg.topics = nr_strdup(topic);
    ccfg.auto_offset_reset = NR_KAFKA_OFFSET_EARLIEST;

    /* 2. The pools (the configs are validated here: a property librdkafka
     * refuses is an NR_ECONFIG naming it). */
    nr_pool *producers = NULL, *consumers = NULL;
    nr_pool_options po =
        NR_POOL_OPTIONS(.id = "example-out", .type = &nr_kafka_producer_type, .config = &pcfg);
    nr_pool_options co =
        NR_POOL_OPTIONS(.id = "example-in", .type = &nr_kafka_consumer_type, .config = &ccfg);
    if (nr_pool_create(&producers, &po, &err) != NR_OK) {
        status = fail("producer pool", &err);
        goto out;
    }
    if (nr_pool_create(&consumers, &co, &err) != NR_OK) {
        status = fail("consumer pool", &err);
        goto out;
    }

    /* 3. Produce: each call returns once the cluster acknowledged it. */
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(15000), .caller = "example");
    if (nr_pool_acquire(producers, &ctx, &g, &err) != NR_OK) {
        status = fail("acquire producer", &err);
        goto out;
    }
    const char *values[] = {"first", "second", "third"};
    for (int i = 0; i < 3 && status == 0; i++)
        if (nr_kafka_produce(nr_guard_handle(&g), topic, "key", 3, values[i], strlen(values[i]),
                             nr_deadline_in_ms(15000), &err) != NR_OK)
            status = fail("produce", &err);
    (void)nr_guard_release(&g);

    /* 4. Consume them back (joining the group takes a few seconds). */
    if (status == 0 && nr_pool_acquire(consumers, &ctx, &g, &err) != NR_OK)
        status = fail("acquire consumer", &err);
    if (status == 0) {
        int got = 0;
        nr_deadline until = nr_deadline_in_ms(60000);
        while (got < 3 && !nr_deadline_expired(until)) {
            nr_kafka_message m;
            int rc = nr_kafka_poll(nr_guard_handle(&g), 500, &m, &err);
            if (rc == NR_OK) {
                printf("consumed %.*s from %s [%d] at offset %lld\n", (int)m.len,
                       (const char *)m.value, m.topic, (int)m.partition, (long long)m.offset);
                got++;
                nr_kafka_message_free(&m);
            } else if (rc != NR_ETIMEDOUT) {
                fprintf(stderr, "poll: %s\n", err.message); /* e.g. topic not there yet */
            }
        }
        if (got < 3) {
            fprintf(stderr, "consumed %d of 3 messages\n", got);
            status = 1;
        }
        (void)nr_guard_release(&g);
    }

out:
    /* 5. Every lease is back: destroy flushes producers and closes consumers,
     * each within its bound. */
    if (consumers && nr_pool_destroy(consumers, &err) != NR_OK)
        status = fail("destroy consumers", &err);
    if (producers && nr_pool_destroy(producers, &err) != NR_OK)
        status = fail("destroy producers", &err);
    nr_config_free(&nr_kafka_consumer_config_schema, &ccfg);
    nr_config_free(&nr_kafka_producer_config_schema, &pcfg);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BOOTSTRAP_SERVERS [TOPIC] | --mock\n", argv[0]);
        return 2;
    }
    const char *topic = argc > 2 ? argv[2] : "example";
    if (strcmp(argv[1], "--mock") != 0)
        return run(argv[1], topic);

    /* librdkafka's mock cluster: real Kafka protocol on 127.0.0.1 ports */
    char errstr[256];
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    rd_kafka_conf_set(mconf, "log_level", "3", errstr, sizeof(errstr)); /* errors only */
    rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, errstr, sizeof(errstr));
    if (!mrk) {
        fprintf(stderr, "mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 1);
    int status = 1;
    if (mc && rd_kafka_mock_topic_create(mc, topic, 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR)
        status = run(rd_kafka_mock_cluster_bootstraps(mc), topic);
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mrk);
    return status;
}
