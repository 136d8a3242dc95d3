/*
 * serve_metrics.c - serve a metrics registry's exposition over HTTP, for the
 * Prometheus integration test (prometheus_scrape.sh).
 *
 *     serve_metrics [--port N]
 *
 * Listens on 127.0.0.1 (port N, or one the kernel chooses), prints
 * "PORT=<port>" on stdout once it accepts connections, and answers
 * GET /metrics with the exposition (Content-Type NR_METRICS_CONTENT_TYPE);
 * other paths give 404, other methods 405. Runs until SIGTERM or SIGINT.
 *
 * Known values served:
 *     nr_test_scrape_total{resource="db"} 42
 *     nr_test_pool_in_use{resource="db",scope="global"} 3   (set by a collector)
 *     nr_test_acquire_seconds{resource="db"}                 5 observations
 *     nr_test_odd_total{resource="a\"b\\c\nd"} 1             (escaping)
 *     nr_test_scrapes_total                                  requests served
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "nebula/alloc.h"
#include "nebula/metrics.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

typedef struct server {
    nr_metrics *reg;
    nr_counter *scrapes;
} server;

static int pool_collector(nr_metrics *reg, void *ud, nr_error *err)
{
    (void)ud;
    /* what a pool's collector does: read its stats now, store them */
    static const char *const labels[] = {"db", "global"};
    nr_gauge *g = NULL;
    int rc = nr_metrics_gauge(reg, "nr_test_pool_in_use", labels, 2, &g, err);
    if (rc == NR_OK)
        nr_gauge_set(g, 3);
    return rc;
}

static mhd_result reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                        const char *type)
{
    /* the response takes body and frees it with nr_free */
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, nr_free);
    if (!r) {
        nr_free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    mhd_result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static mhd_result reply_text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    char *body = nr_strdup(msg);
    if (!body)
        return MHD_NO;
    return reply(conn, status, body, strlen(body), "text/plain; charset=utf-8");
}

static mhd_result handle(void *cls, struct MHD_Connection *conn, const char *url,
                         const char *method, const char *version, const char *upload_data,
                         size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    server *s = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    if (strcmp(url, "/metrics") != 0)
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
    nr_counter_add(s->scrapes, 1);
    char *text = NULL;
    size_t len = 0;
    nr_error err = {0};
    if (nr_metrics_format(s->reg, &text, &len, &err) != NR_OK) {
        fprintf(stderr, "serve_metrics: %s\n", err.message);
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "formatting failed\n");
    }
    return reply(conn, MHD_HTTP_OK, text, len, NR_METRICS_CONTENT_TYPE);
}

static int setup(server *s, nr_error *err)
{
    static const char *const res[] = {"resource"};
    static const char *const res_scope[] = {"resource", "scope"};
    static const double buckets[] = {0.001, 0.01, 0.1, 1};
    const nr_metric_desc families[] = {
        {"nr_test_scrape_total", "A counter with a known value.", NR_METRIC_COUNTER, res, 1, NULL,
         0},
        {"nr_test_pool_in_use", "Set by a collector at scrape time.", NR_METRIC_GAUGE, res_scope, 2,
         NULL, 0},
        {"nr_test_acquire_seconds", "A histogram with known observations.", NR_METRIC_HISTOGRAM,
         res, 1, buckets, 4},
        {"nr_test_odd_total", "A label value that needs escaping.", NR_METRIC_COUNTER, res, 1, NULL,
         0},
        {"nr_test_scrapes_total", "Requests for /metrics served.", NR_METRIC_COUNTER, NULL, 0, NULL,
         0},
    };
    int rc = nr_metrics_create(&s->reg, err);
    for (size_t i = 0; rc == NR_OK && i < sizeof(families) / sizeof(families[0]); i++)
        rc = nr_metrics_register(s->reg, &families[i], err);
    if (rc != NR_OK)
        return rc;
    const char *db[] = {"db"};
    const char *odd[] = {"a\"b\\c\nd"};
    nr_counter *c = NULL;
    nr_histogram *h = NULL;
    if ((rc = nr_metrics_counter(s->reg, "nr_test_scrape_total", db, 1, &c, err)) != NR_OK)
        return rc;
    nr_counter_add(c, 42);
    if ((rc = nr_metrics_counter(s->reg, "nr_test_odd_total", odd, 1, &c, err)) != NR_OK)
        return rc;
    nr_counter_add(c, 1);
    if ((rc = nr_metrics_histogram(s->reg, "nr_test_acquire_seconds", db, 1, &h, err)) != NR_OK)
        return rc;
    static const double obs[] = {0.0005, 0.002, 0.02, 0.2, 2};
    for (size_t i = 0; i < 5; i++)
        nr_histogram_observe(h, obs[i]);
    if ((rc = nr_metrics_counter(s->reg, "nr_test_scrapes_total", NULL, 0, &s->scrapes, err)) !=
        NR_OK)
        return rc;
    return nr_metrics_add_collector(s->reg, pool_collector, NULL, err);
}

int main(int argc, char **argv)
{
    unsigned port = 0;
    if (argc == 3 && strcmp(argv[1], "--port") == 0) {
        port = (unsigned)strtoul(argv[2], NULL, 10);
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
        return 2;
    }

    server s = {NULL, NULL};
    nr_error err = {0};
    if (setup(&s, &err) != NR_OK) {
        fprintf(stderr, "serve_metrics: %s\n", err.message);
        nr_metrics_destroy(s.reg);
        return 1;
    }

    /* Block the stop signals before the server thread starts, so that only
     * sigwait below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, handle, &s,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&addr, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "serve_metrics: cannot listen on 127.0.0.1:%u\n", port);
        nr_metrics_destroy(s.reg);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_in bound;
    socklen_t blen = sizeof(bound);
    if (!info || getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) != 0) {
        fprintf(stderr, "serve_metrics: cannot read the listening port\n");
        MHD_stop_daemon(d);
        nr_metrics_destroy(s.reg);
        return 1;
    }
    printf("PORT=%u\n", (unsigned)ntohs(bound.sin_port));
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    fprintf(stderr, "serve_metrics: stopped by signal %d after %llu scrapes\n", sig,
            (unsigned long long)nr_counter_value(s.scrapes));
    nr_metrics_destroy(s.reg);
    return 0;
}
