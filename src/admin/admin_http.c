/*
 * admin_http.c - the admin server's HTTP side over libmicrohttpd: one
 * internal polling thread serves every request, on the connections the
 * front (admin_front.c) accepted and let through. See nebula/admin.h.
 */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "admin_internal.h"
#include "nebula/alloc.h"

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

#define BODY_MAX 4096 /* an action's request body is not used; more than this is refused */

typedef struct admin_http {
    struct MHD_Daemon *d;
    admin_front *front;
} admin_http;

/* ---- replies ---------------------------------------------------------------------- */

static mhd_result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                        void (*freefn)(void *), const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, freefn);
    if (!r) {
        freefn(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    mhd_result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static mhd_result reply_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char *body = strdup(msg);
    if (!body)
        return MHD_NO;
    return reply(c, status, body, strlen(body), free, "text/plain; charset=utf-8");
}

static void no_free(void *p)
{
    (void)p;
}

static const char *query_arg(void *cls, const char *key)
{
    return MHD_lookup_connection_value(cls, MHD_GET_ARGUMENT_KIND, key);
}

static mhd_result serve_get(nr_admin *a, struct MHD_Connection *c, const char *url)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return reply(c, MHD_HTTP_OK, (char *)admin_page_html, admin_page_html_len, no_free,
                     "text/html; charset=utf-8");
    if (strcmp(url, "/healthz") == 0)
        return reply_text(c, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        char why[300], body[320];
        bool ready = admin_ready(a, why, sizeof(why));
        snprintf(body, sizeof(body), "%s: %s\n", ready ? "ready" : "not ready", why);
        return reply_text(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
    }
    if (strcmp(url, "/status") == 0) {
        /* ?history=N: the newest N samples of each history (0: none); default all */
        const char *hq = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "history");
        uint32_t history_max = a->o.history;
        if (hq) {
            char *end = NULL;
            unsigned long v = strtoul(hq, &end, 10);
            if (!*hq || *end || hq[0] == '-')
                return reply_text(c, MHD_HTTP_BAD_REQUEST,
                                  "history must be a whole number of samples (0: none)\n");
            if (v < history_max)
                history_max = (uint32_t)v;
        }
        char *text = admin_status_json(a, history_max);
        if (!text)
            return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return reply(c, MHD_HTTP_OK, text, strlen(text), free, "application/json; charset=utf-8");
    }
    if (strcmp(url, "/metrics") == 0) {
        if (!a->o.metrics)
            return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no metrics registry\n");
        char *text = NULL;
        size_t len = 0;
        nr_error err = {0};
        if (nr_metrics_format(a->o.metrics, &text, &len, &err) != NR_OK) {
            char body[NR_ERROR_MESSAGE_MAX + 32];
            snprintf(body, sizeof(body), "metrics failed: %s\n", err.message);
            return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, body);
        }
        return reply(c, MHD_HTTP_OK, text, len, nr_free, NR_METRICS_CONTENT_TYPE);
    }
    if (strncmp(url, "/actions/", 9) == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            27, (void *)"admin actions are POST only", MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        mhd_result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return ret;
    }
    return reply_text(c, MHD_HTTP_NOT_FOUND,
                      "not found; try / /status /metrics /healthz /readyz\n");
}

/* What a POST has received so far: its body is counted, not kept. */
typedef struct post_state {
    size_t body;
} post_state;

static mhd_result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                         const char *version, const char *upload_data, size_t *upload_data_size,
                         void **con_cls)
{
    (void)version;
    (void)upload_data;
    nr_admin *a = cls;
    if (!*con_cls) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (ci && ci->socket_context)
            front_request_begin(a->http->front, ci->socket_context);
    }
    bool get =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (get)
        return serve_get(a, c, url);
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0 || strncmp(url, "/actions/", 9) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "only GET and HEAD here; admin actions are POST /actions/...\n");
    post_state *ps = *con_cls;
    if (!ps) { /* the headers: the body, if any, comes in the next calls */
        if (!(ps = calloc(1, sizeof(*ps))))
            return MHD_NO;
        *con_cls = ps;
        return MHD_YES;
    }
    if (*upload_data_size) {
        ps->body += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ps->body > BODY_MAX)
        return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
                          "an admin action takes its arguments in the query string; the body "
                          "must be empty or under 4096 bytes\n");
    unsigned status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    char *body = NULL;
    admin_action(a, url, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                 query_arg, c, &status, &body);
    if (!body)
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return reply(c, status, body, strlen(body), free, "application/json; charset=utf-8");
}

/* ---- connections and their bounds ----------------------------------------------------- */

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    nr_admin *a = cls;
    free(*con_cls);
    *con_cls = NULL;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context)
        front_request_end(a->http->front, ci->socket_context);
}

static void connection_notice(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
    admin_front *f = ((nr_admin *)cls)->http->front;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? front_conn_started(f, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        front_conn_closed(f, *socket_context);
        *socket_context = NULL;
    }
}

/* ---- start and stop --------------------------------------------------------------------- */

int admin_http_start(nr_admin *a, nr_error *err)
{
    admin_http *h = calloc(1, sizeof(*h));
    if (!h)
        return nr_error_set(err, NR_ENOMEM, NULL, "admin: out of memory");
    a->http = h;
    int rc = front_open(a, &h->front, err);
    if (rc != NR_OK) {
        admin_http_stop(a);
        return rc;
    }
    /* MHD gets only the connections the front accepted and let through */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET;
    unsigned idle_s = (unsigned)((a->o.request_timeout_ms + 999) / 1000);
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, a, MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)a->o.max_connections,
                            MHD_OPTION_NOTIFY_COMPLETED, request_done, a,
                            MHD_OPTION_NOTIFY_CONNECTION, connection_notice, a, MHD_OPTION_END);
    if (!h->d) {
        admin_http_stop(a);
        return nr_error_set(err, NR_EINIT, NULL, "admin: the HTTP server did not start");
    }
    if ((rc = front_start(h->front, h->d, err)) != NR_OK) {
        admin_http_stop(a);
        return rc;
    }
    return NR_OK;
}

static unsigned open_connections(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

void admin_http_stop(nr_admin *a)
{
    admin_http *h = a->http;
    if (!h)
        return;
    if (h->front) {
        /* no new connections; idle ones close; requests in progress finish, each
           within request_timeout_ms */
        front_drain(h->front);
        int64_t until = nr_now_ns() + a->o.request_timeout_ms * NR_NS_PER_MS;
        while (h->d && open_connections(h->d) > 0 && nr_now_ns() < until)
            nr_sleep_ns(10 * NR_NS_PER_MS);
        front_stop(h->front); /* joins its thread: nothing is added to MHD after this */
    }
    if (h->d)
        MHD_stop_daemon(h->d);
    front_free(h->front);
    free(h);
    a->http = NULL;
}
