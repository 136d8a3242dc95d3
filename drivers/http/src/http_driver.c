/*
 * http_driver.c - nr_http_type: create, validate, recycle, health check and
 * destroy of one client (a CURL easy handle), the options every transfer
 * starts from, and the socket callback that enforces SSRF protection.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "nebula/alloc.h"
#include "nebula/cancel.h"

#include "http_internal.h"

/* ---- small helpers ---------------------------------------------------------------- */

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s || !*s)
        return NULL;
    char *d = nr_strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* Our own list node: the data is ours too, so it can be zeroed. */
static bool header_append(nr_http_client *c, struct curl_slist **tail, const char *name,
                          size_t nlen, const char *value, size_t vlen)
{
    struct curl_slist *node = nr_calloc(1, sizeof(*node));
    char *data = nr_malloc(nlen + vlen + 3);
    if (!node || !data) {
        nr_free(node);
        nr_free(data);
        return false;
    }
    memcpy(data, name, nlen);
    data[nlen] = ':';
    data[nlen + 1] = ' ';
    memcpy(data + nlen + 2, value, vlen);
    data[nlen + 2 + vlen] = '\0';
    node->data = data;
    if (*tail)
        (*tail)->next = node;
    else
        c->headers = node;
    *tail = node;
    c->nheaders++;
    return true;
}

static void headers_free(nr_http_client *c)
{
    struct curl_slist *n = c->headers;
    while (n) {
        struct curl_slist *next = n->next;
        wipe(n->data, strlen(n->data));
        nr_free(n->data);
        nr_free(n);
        n = next;
    }
    c->headers = NULL;
    c->nheaders = 0;
}

/* Append the "Name: value" lines of text; false on out of memory. Lines were
 * checked by the schema; one that does not split is skipped. */
static bool headers_add_lines(nr_http_client *c, struct curl_slist **tail, const char *text,
                              bool names_secret, bool *oom)
{
    const char *p = text, *line;
    size_t len;
    char why[8];
    while (nr__http_next_line(&p, &line, &len)) {
        const char *name, *value;
        size_t nl, vl;
        if (!nr__http_header_split(line, len, &name, &nl, &value, &vl, why, sizeof(why)))
            continue;
        if (!header_append(c, tail, name, nl, value, vl)) {
            *oom = true;
            return false;
        }
        if (names_secret && !nr__http_name_in_list(c->secret_names, name, nl)) {
            size_t old = strlen(c->secret_names);
            char *grown = nr_realloc(c->secret_names, old + nl + 2);
            if (!grown) {
                *oom = true;
                return false;
            }
            grown[old] = ',';
            memcpy(grown + old + 1, name, nl);
            grown[old + 1 + nl] = '\0';
            c->secret_names = grown;
        }
    }
    return true;
}

static void client_free(nr_http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    headers_free(c);
    curl_slist_free_all(c->resolve);
    nr_free(c->allow);
    nr_free(c->healthy);
    nr_free(c->secret_names);
    nr_free(c->base_url);
    nr_free(c->health_path);
    nr_free(c->ca_file);
    nr_free(c->client_cert);
    nr_free(c->client_key);
    nr_free(c->user_agent);
    c->magic = NR__HTTP_CLIENT_DEAD;
    nr_free(c);
}

bool nr__http_client_ok(const nr_http_client *c)
{
    return c && c->magic == NR__HTTP_CLIENT_MAGIC && c->curl;
}

/* ---- SSRF: the socket callback ---------------------------------------------------- */

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    nr_http_client *c = clientp;
    (void)purpose;
    if (c->ssrf) {
        nr__http_addr addr;
        int port = 0;
        memset(&addr, 0, sizeof(addr));
        if (a->family == AF_INET && a->addrlen >= sizeof(struct sockaddr_in)) {
            const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)&a->addr;
            addr.family = 4;
            memcpy(addr.b, &s4->sin_addr, 4);
            port = ntohs(s4->sin_port);
        } else if (a->family == AF_INET6 && a->addrlen >= sizeof(struct sockaddr_in6)) {
            const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)&a->addr;
            addr.family = 6;
            memcpy(addr.b, &s6->sin6_addr, 16);
            port = ntohs(s6->sin6_port);
        }
        nr__http_addr_class cls = nr__http_addr_classify(&addr);
        if (addr.family == 0 || (cls != NR__HTTP_ADDR_PUBLIC &&
                                 !nr__http_cidr_match(c->allow, c->nallow, &addr, port))) {
            if (c->refused++ == 0) {
                if (addr.family)
                    nr__http_addr_format(&addr, c->refused_addr, sizeof(c->refused_addr));
                else
                    snprintf(c->refused_addr, sizeof(c->refused_addr), "(family %d)", a->family);
                c->refused_port = port;
                c->refused_class =
                    addr.family ? nr__http_addr_class_name(cls) : "not an IP socket address";
            }
            return CURL_SOCKET_BAD;
        }
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* ---- options ------------------------------------------------------------------------ */

#define SET(opt, val)                                                                              \
    do {                                                                                           \
        CURLcode rc_ = curl_easy_setopt(c->curl, opt, val);                                        \
        if (rc_ != CURLE_OK)                                                                       \
            return nr_error_set_cause(err, NR_EINIT, NR_OK, (long)rc_, c->id,                      \
                                      "http '%s': setting %s failed: %s", c->id, #opt,             \
                                      curl_easy_strerror(rc_));                                    \
    } while (0)

int nr__http_apply_options(nr_http_client *c, nr_error *err)
{
    static const long tls[] = {CURL_SSLVERSION_DEFAULT, CURL_SSLVERSION_TLSv1_0,
                               CURL_SSLVERSION_TLSv1_1, CURL_SSLVERSION_TLSv1_2,
                               CURL_SSLVERSION_TLSv1_3};
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_PROXY, ""); /* never a proxy from the environment */
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_OPENSOCKETDATA, c);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, (long)c->request_timeout_ms);
    SET(CURLOPT_FOLLOWLOCATION, c->follow_redirects ? 1L : 0L);
    SET(CURLOPT_MAXREDIRS, (long)c->max_redirects);
    SET(CURLOPT_SSL_VERIFYPEER, c->verify_peer ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, c->verify_host ? 2L : 0L);
    if (c->ca_file)
        SET(CURLOPT_CAINFO, c->ca_file);
    if (c->client_cert)
        SET(CURLOPT_SSLCERT, c->client_cert);
    if (c->client_key)
        SET(CURLOPT_SSLKEY, c->client_key);
    if (c->tls_min_version >= 0 && c->tls_min_version < (int)(sizeof(tls) / sizeof(tls[0])))
        SET(CURLOPT_SSLVERSION, tls[c->tls_min_version]);
    if (c->user_agent)
        SET(CURLOPT_USERAGENT, c->user_agent);
    SET(CURLOPT_HTTPHEADER, c->headers);
    if (c->resolve)
        SET(CURLOPT_RESOLVE, c->resolve);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    return NR_OK;
}

#undef SET

/* ---- create / destroy ------------------------------------------------------------------ */

static int oom_fail(nr_error *err, nr_http_client *c, const char *id)
{
    client_free(c);
    return nr_error_set(err, NR_ENOMEM, id, "http '%s': out of memory building the client", id);
}

static int http_create(void **handle, const void *config, const nr_create_ctx *ctx, void *ud,
                       nr_error *err)
{
    (void)ud;
    const nr_http_config *cfg = config;
    const char *id = ctx && ctx->resource_id ? ctx->resource_id : "";
    nr_deadline deadline = ctx ? ctx->deadline : (nr_deadline){0};
    const nr_cancel *cancel = ctx ? ctx->cancel : NULL;
    char why[NR_CONFIG_RULE_MAX];

    if (!handle || !cfg)
        return nr_error_set(err, NR_EINVAL, id, "http '%s': handle and config are required", id);
    *handle = NULL;
    if (nr_cancel_is_set(cancel))
        return nr_error_set(err, NR_ECANCELED, id, "http '%s': create canceled before it ran", id);
    if (nr_deadline_expired(deadline))
        return nr_error_set(err, NR_ETIMEDOUT, id,
                            "http '%s': create deadline passed before it ran", id);
    if (!cfg->base_url || !nr__http_url_check(cfg->base_url, why, sizeof(why)))
        return nr_error_set(err, NR_ECONFIG, id, "http '%s': base_url %s", id,
                            cfg->base_url ? why : "is required");
    nr_config_report report;
    nr_config_report_clear(&report);
    if (nr_config_validate(&nr_http_config_schema, cfg, "$", &report, NULL) != NR_OK) {
        const nr_config_issue *is = &report.items[0];
        return nr_error_set(err, NR_ECONFIG, id, "http '%s': %s: %s", id, is->path, is->rule);
    }
    if (nr__http_global_init() != 0)
        return nr_error_set_cause(err, NR_EINIT, NR_OK, nr__http_global_init(), id,
                                  "http '%s': curl_global_init failed", id);

    nr_http_client *c = nr_calloc(1, sizeof(*c));
    if (!c)
        return oom_fail(err, NULL, id);
    c->magic = NR__HTTP_CLIENT_MAGIC;
    snprintf(c->id, sizeof(c->id), "%s", id);
    nr__http_shown_url(cfg->base_url, c->shown_base, sizeof(c->shown_base));
    bool oom = false;
    c->base_url = dup_or_null(cfg->base_url, &oom);
    c->health_path = dup_or_null(cfg->health_path ? cfg->health_path : "/", &oom);
    c->ca_file = dup_or_null(cfg->ca_file, &oom);
    c->client_cert = dup_or_null(cfg->client_cert, &oom);
    c->client_key = dup_or_null(cfg->client_key, &oom);
    c->user_agent = dup_or_null(cfg->user_agent, &oom);
    c->ssrf = cfg->ssrf_protection;
    c->follow_redirects = cfg->follow_redirects;
    c->verify_peer = cfg->verify_peer;
    c->verify_host = cfg->verify_host;
    c->health_method = cfg->health_method;
    c->tls_min_version = cfg->tls_min_version;
    c->connect_timeout_ms = cfg->connect_timeout_ms;
    c->request_timeout_ms = cfg->request_timeout_ms;
    c->health_timeout_ms = cfg->health_timeout_ms;
    c->max_response_bytes = cfg->max_response_bytes;
    c->max_redirects = cfg->max_redirects;
    if (oom)
        return oom_fail(err, c, id);

    /* secret names: the configured ones and the credential's header */
    const char *names = cfg->secret_headers ? cfg->secret_headers : "";
    const char *ch = cfg->credential_header ? cfg->credential_header : "";
    c->secret_names = nr_malloc(strlen(names) + strlen(ch) + 2);
    if (!c->secret_names)
        return oom_fail(err, c, id);
    snprintf(c->secret_names, strlen(names) + strlen(ch) + 2, "%s,%s", names, ch);

    struct curl_slist *tail = NULL;
    if (!headers_add_lines(c, &tail, cfg->headers, false, &oom) ||
        (cfg->secret_header_values &&
         !headers_add_lines(c, &tail, nr_secret_reveal(cfg->secret_header_values, NULL), true,
                            &oom)))
        return oom_fail(err, c, id);
    const nr_secret *cred = ctx ? ctx->credential : NULL;
    if (cred && ch[0]) {
        size_t len = 0;
        const char *v = nr_secret_reveal(cred, &len);
        if (!v || strlen(v) != len || strpbrk(v, "\r\n")) {
            client_free(c);
            return nr_error_set(err, NR_ECRED, id,
                                "http '%s': the credential holds a line break or NUL byte and "
                                "cannot be sent in header '%s'",
                                id, ch);
        }
        const char *prefix = cfg->credential_prefix ? cfg->credential_prefix : "";
        size_t pl = strlen(prefix);
        char *value = nr_malloc(pl + len + 1);
        if (!value)
            return oom_fail(err, c, id);
        memcpy(value, prefix, pl);
        memcpy(value + pl, v, len + 1);
        bool ok = header_append(c, &tail, ch, strlen(ch), value, pl + len);
        wipe(value, pl + len);
        nr_free(value);
        if (!ok)
            return oom_fail(err, c, id);
        c->credential = tail->data + strlen(ch) + 2 + pl;
    }

    int prc = nr__http_cidr_parse_list(cfg->ssrf_allow, &c->allow, &c->nallow, why, sizeof(why));
    if (prc == -2)
        return oom_fail(err, c, id);
    prc = nr__http_status_parse(cfg->healthy_status ? cfg->healthy_status : "200-399", &c->healthy,
                                &c->nhealthy, why, sizeof(why));
    if (prc == -2)
        return oom_fail(err, c, id);
    const char *p = cfg->resolve;
    while (p && *p) {
        while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        size_t l = strcspn(p, ", \t\r\n");
        if (l == 0)
            break;
        char entry[300];
        snprintf(entry, sizeof(entry), "%.*s", (int)(l < sizeof(entry) ? l : sizeof(entry) - 1), p);
        struct curl_slist *r = curl_slist_append(c->resolve, entry);
        if (!r)
            return oom_fail(err, c, id);
        c->resolve = r;
        p += l;
    }

    c->curl = curl_easy_init();
    if (!c->curl) {
        client_free(c);
        return nr_error_set(err, NR_EINIT, id, "http '%s': curl_easy_init failed", id);
    }
    int rc = nr__http_apply_options(c, err);
    if (rc != NR_OK) {
        client_free(c);
        return rc;
    }
    if (cfg->connect_on_create) {
        nr__http_xfer x = {
            .method = c->health_method == NR_HTTP_HEALTH_HEAD ? "HEAD" : "GET",
            .path = c->health_path,
            .timeout_ms = c->health_timeout_ms,
            .deadline = deadline,
            .cancel = cancel,
            .max_body = 1,
            .discard_body = true,
            .what = "create",
        };
        nr_http_response resp;
        rc = nr__http_perform(c, &x, &resp, err);
        if (rc != NR_OK) {
            client_free(c);
            return rc;
        }
        nr_http_response_free(&resp);
    }
    *handle = c;
    return NR_OK;
}

static void http_destroy(void *handle, void *ud)
{
    (void)ud;
    nr_http_client *c = handle;
    if (c && c->magic == NR__HTTP_CLIENT_MAGIC)
        client_free(c);
}

/* ---- validate / recycle / health ---------------------------------------------------------- */

static int bad_handle(nr_error *err, const char *what)
{
    return nr_error_set(err, NR_EINVAL, NULL, "http: %s: not an open http client", what);
}

static int http_validate(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    if (!nr__http_client_ok(handle))
        return bad_handle(err, "validate");
    return NR_OK;
}

static int http_recycle(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_http_client *c = handle;
    if (!nr__http_client_ok(c))
        return bad_handle(err, "recycle");
    /* keeps live connections, the DNS cache and cookies-free state */
    curl_easy_reset(c->curl);
    c->errbuf[0] = '\0';
    c->refused = 0;
    int rc = nr__http_apply_options(c, err);
    if (rc != NR_OK) {
        err->code = NR_ECLEANUP;
        return NR_ECLEANUP;
    }
    return NR_OK;
}

static int http_health(void *handle, void *ud, nr_deadline deadline, nr_health_report *report,
                       nr_error *err)
{
    (void)ud;
    nr_http_client *c = handle;
    if (!nr__http_client_ok(c) || !report)
        return bad_handle(err, "health check");
    const char *method = c->health_method == NR_HTTP_HEALTH_HEAD ? "HEAD" : "GET";
    nr__http_xfer x = {
        .method = method,
        .path = c->health_path,
        .timeout_ms = c->health_timeout_ms,
        .deadline = deadline,
        .max_body = 1,
        .discard_body = true,
        .what = "health check",
    };
    nr_http_response resp;
    nr_error e;
    nr_error_clear(&e);
    char shown[NR__HTTP_SHOWN_MAX];
    nr__http_shown_url(c->health_path, shown, sizeof(shown));
    int rc = nr__http_perform(c, &x, &resp, &e);
    if (rc != NR_OK) {
        report->state = NR_HEALTH_UNHEALTHY;
        /* the message begins with "http '<id>': "; the reason is what follows */
        const char *m = e.message;
        size_t skip = strlen(c->id) + 9;
        if (strncmp(m, "http '", 6) == 0 && strlen(m) > skip)
            m += skip;
        snprintf(report->reason, sizeof(report->reason), "%s", m);
        return NR_OK;
    }
    bool ok = nr__http_status_match(c->healthy, c->nhealthy, resp.status);
    report->state = ok ? NR_HEALTH_HEALTHY : NR_HEALTH_UNHEALTHY;
    if (ok)
        report->reason[0] = '\0';
    else
        snprintf(report->reason, sizeof(report->reason), "%s %s -> %ld", method, shown,
                 resp.status);
    nr_http_response_free(&resp);
    return NR_OK;
}

/* ---- public helpers ---------------------------------------------------------------------- */

CURL *nr_http_curl(void *handle)
{
    nr_http_client *c = handle;
    return nr__http_client_ok(c) ? c->curl : NULL;
}

size_t nr_http_describe(void *handle, char *buf, size_t n)
{
    nr_http_client *c = handle;
    char tmp[8];
    if (!buf || n == 0) {
        buf = tmp;
        n = sizeof(tmp);
    }
    if (!nr__http_client_ok(c))
        return (size_t)snprintf(buf, n, "http: not an open client");
    size_t need = 0;
    int w = snprintf(buf, n, "http '%s' %s", c->id, c->shown_base);
    need += w > 0 ? (size_t)w : 0;
    for (struct curl_slist *h = c->headers; h; h = h->next) {
        const char *colon = strchr(h->data, ':');
        size_t nl = colon ? (size_t)(colon - h->data) : strlen(h->data);
        bool secret = nr__http_name_in_list(c->secret_names, h->data, nl);
        size_t at = need < n ? need : n - 1;
        w = snprintf(buf + at, n - at, " [%.*s: %s]", (int)nl, h->data,
                     secret ? NR_SECRET_REDACTED : (colon ? colon + 2 : ""));
        need += w > 0 ? (size_t)w : 0;
    }
    return need;
}

const nr_resource_type nr_http_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "http",
    .config_schema = &nr_http_config_schema,
    .create = http_create,
    .destroy = http_destroy,
    .validate = http_validate,
    .recycle = http_recycle,
    .health_check = http_health,
};
