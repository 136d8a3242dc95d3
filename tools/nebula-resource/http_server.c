/*
 * http_server.c - the endpoints of `run` and `demo` over libmicrohttpd.
 * See http_server.h.
 */
#define _DEFAULT_SOURCE
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "nebula/alloc.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

struct cli_http {
    struct MHD_Daemon *d;
    cli_status *st;
    int port;
};

static mhd_result reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                        void (*freefn)(void *), const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, freefn);
    if (!r) {
        freefn(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    mhd_result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static mhd_result reply_text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    char *body = strdup(msg);
    if (!body)
        return MHD_NO;
    return reply(conn, status, body, strlen(body), free, "text/plain; charset=utf-8");
}

static void no_free(void *p)
{
    (void)p;
}

static mhd_result handle(void *cls, struct MHD_Connection *conn, const char *url,
                         const char *method, const char *version, const char *upload_data,
                         size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    cli_http *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return reply(conn, MHD_HTTP_OK, (char *)cli_status_page, strlen(cli_status_page), no_free,
                     "text/html; charset=utf-8");
    if (strcmp(url, "/healthz") == 0)
        return reply_text(conn, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        char why[300], body[320];
        bool ready = cli_status_ready(h->st, why, sizeof(why));
        snprintf(body, sizeof(body), "%s: %s\n", ready ? "ready" : "not ready", why);
        return reply_text(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
    }
    if (strcmp(url, "/status") == 0) {
        char *text = cli_status_json(h->st);
        if (!text)
            return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return reply(conn, MHD_HTTP_OK, text, strlen(text), free,
                     "application/json; charset=utf-8");
    }
    if (strcmp(url, "/metrics") == 0) {
        if (!h->st->metrics)
            return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no metrics registry\n");
        char *text = NULL;
        size_t len = 0;
        nr_error err = {0};
        if (nr_metrics_format(h->st->metrics, &text, &len, &err) != NR_OK) {
            char body[NR_ERROR_MESSAGE_MAX + 32];
            snprintf(body, sizeof(body), "metrics failed: %s\n", err.message);
            return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, body);
        }
        return reply(conn, MHD_HTTP_OK, text, len, nr_free, NR_METRICS_CONTENT_TYPE);
    }
    return reply_text(conn, MHD_HTTP_NOT_FOUND,
                      "not found; try / /status /metrics /healthz /readyz\n");
}

int cli_http_start(cli_http **out, const char *addr, int port, cli_status *st, nr_error *err)
{
    *out = NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    socklen_t slen;
    if (port < 0 || port > 65535)
        return nr_error_set(err, NR_EINVAL, NULL, "http: port must be between 0 and 65535 (got %d)",
                            port);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        slen = sizeof(*s4);
    } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        slen = sizeof(*s6);
        flags |= MHD_USE_IPv6;
    } else {
        return nr_error_set(err, NR_EINVAL, NULL,
                            "http: listen address '%s' is not an IPv4 or IPv6 address", addr);
    }
    (void)slen;
    cli_http *h = calloc(1, sizeof(*h));
    if (!h)
        return nr_error_set(err, NR_ENOMEM, NULL, "http: out of memory");
    h->st = st;
    errno = 0;
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                            MHD_OPTION_END);
    if (!h->d) {
        int e = errno;
        free(h);
        return nr_error_set(err, NR_EUNAVAIL, NULL, "http: cannot listen on %s port %d%s%s", addr,
                            port, e ? ": " : "", e ? strerror(e) : "");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    *out = h;
    return NR_OK;
}

int cli_http_port(const cli_http *h)
{
    return h ? h->port : 0;
}

void cli_http_stop(cli_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
