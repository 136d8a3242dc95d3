/* kafka_mock.c - see kafka_mock.h. */
#define _POSIX_C_SOURCE 200809L
#include "kafka_mock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

int kmock_start(kmock *m, int nbrokers)
{
    memset(m, 0, sizeof(*m));
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!m->rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "mock: rd_kafka_new: %s\n", errstr);
        return -1;
    }
    m->mc = rd_kafka_mock_cluster_new(m->rk, nbrokers);
    if (!m->mc) {
        rd_kafka_destroy(m->rk);
        m->rk = NULL;
        return -1;
    }
    m->nbrokers = nbrokers;
    snprintf(m->bootstraps, sizeof(m->bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
    return 0;
}

void kmock_stop(kmock *m)
{
    if (m->mc)
        rd_kafka_mock_cluster_destroy(m->mc);
    if (m->rk)
        rd_kafka_destroy(m->rk);
    memset(m, 0, sizeof(*m));
}

int kmock_topic(kmock *m, const char *topic, int partitions)
{
    return rd_kafka_mock_topic_create(m->mc, topic, partitions, 1) == RD_KAFKA_RESP_ERR_NO_ERROR
               ? 0
               : -1;
}

void kmock_all_down(kmock *m)
{
    for (int b = 1; b <= m->nbrokers; b++)
        rd_kafka_mock_broker_set_down(m->mc, b);
}

void kmock_all_up(kmock *m)
{
    for (int b = 1; b <= m->nbrokers; b++)
        rd_kafka_mock_broker_set_up(m->mc, b);
}

int kmock_closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return 1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = 1;
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(s); /* bound, never listened: connects are refused */
    return port;
}

int kmock_slow(void)
{
    const char *s = getenv("NR_KAFKA_TEST_SLOW");
    return s && *s && strcmp(s, "0") != 0;
}
