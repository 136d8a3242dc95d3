/*
 * kafka_mock.h - librdkafka's mock cluster, started inside the test process.
 *
 * The mock brokers listen on real 127.0.0.1 TCP ports and speak the Kafka
 * protocol, so the driver under test talks to them like to a real cluster.
 * "Server killed" is every broker set down; "back" is every broker set up.
 */
#ifndef NR_KAFKA_MOCK_H
#define NR_KAFKA_MOCK_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

typedef struct kmock {
    rd_kafka_t *rk; /* the handle that owns the cluster */
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[512];
    int nbrokers;
} kmock;

/* Start a cluster of n brokers; 0 on success. */
int kmock_start(kmock *m, int nbrokers);
void kmock_stop(kmock *m);
/* Create a topic with partitions (replication 1); 0 on success. */
int kmock_topic(kmock *m, const char *topic, int partitions);
void kmock_all_down(kmock *m);
void kmock_all_up(kmock *m);
/* A 127.0.0.1 port nothing listens on (connects are refused). */
int kmock_closed_port(void);
/* Whether the tests run slowly (under valgrind): NR_KAFKA_TEST_SLOW set. */
int kmock_slow(void);

#endif
