/*
 * http_request.c - one transfer on a client: the URL, method, headers and
 * body of a request, the limits (timeout, deadline, cancel, body size), the
 * response buffers, and the error that names what went wrong.
 *
 * Every transfer sets its per-request options and puts the configured ones
 * back afterwards, so the next request (or a lease holder using
 * nr_http_curl) starts from the configuration again.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nebula/alloc.h"
#include "nebula/cancel.h"

#include "http_internal.h"

/* Most bytes of response header lines kept for one response. */
#define HEADERS_MAX (256 * 1024)

typedef struct xstate {
    nr_http_client *c;
    nr_http_response *resp;
    size_t body_cap, head_cap;
    size_t max_body;
    bool discard;
    bool too_big, head_too_big, oom, canceled, deadline_hit;
    nr_deadline deadline;
    const nr_cancel *cancel;
} xstate;

/* ---- buffers ------------------------------------------------------------------------- */

static bool grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    char *b = nr_realloc(*buf, n);
    if (!b)
        return false;
    *buf = b;
    *cap = n;
    return true;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    xstate *s = ud;
    size_t n = size * nmemb;
    if (s->discard)
        return n;
    nr_http_response *r = s->resp;
    if (n > s->max_body - r->body_len) {
        s->too_big = true;
        return 0;
    }
    if (!grow(&r->body, &s->body_cap, r->body_len + n + 1)) {
        s->oom = true;
        return 0;
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    xstate *s = ud;
    size_t n = size * nmemb, len = n;
    if (s->discard)
        return n;
    nr_http_response *r = s->resp;
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* a new response (redirect, 100 Continue): keep only the last one's */
        r->headers_len = 0;
        if (r->headers)
            r->headers[0] = '\0';
        return n;
    }
    if (len == 0)
        return n;
    if (r->headers_len + len + 2 > HEADERS_MAX) {
        s->head_too_big = true;
        return 0;
    }
    if (!grow(&r->headers, &s->head_cap, r->headers_len + len + 2)) {
        s->oom = true;
        return 0;
    }
    memcpy(r->headers + r->headers_len, p, len);
    r->headers_len += len;
    r->headers[r->headers_len++] = '\n';
    r->headers[r->headers_len] = '\0';
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    xstate *s = ud;
    if (nr_cancel_is_set(s->cancel)) {
        s->canceled = true;
        return 1;
    }
    if (nr_deadline_expired(s->deadline)) {
        s->deadline_hit = true;
        return 1;
    }
    return 0;
}

void nr_http_response_free(nr_http_response *resp)
{
    if (!resp)
        return;
    nr_free(resp->body);
    nr_free(resp->headers);
    memset(resp, 0, sizeof(*resp));
}

long nr_http_response_header(const nr_http_response *resp, const char *name, char *buf, size_t n)
{
    if (buf && n)
        buf[0] = '\0';
    if (!resp || !resp->headers || !name || !*name)
        return -1;
    size_t nl = strlen(name);
    long found = -1;
    const char *p = resp->headers;
    while (*p) {
        const char *e = strchr(p, '\n');
        if (!e)
            e = p + strlen(p);
        if ((size_t)(e - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = e;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            found = (long)(ve - v);
            if (buf && n)
                snprintf(buf, n, "%.*s", (int)(ve - v), v);
        }
        p = *e ? e + 1 : e;
    }
    return found;
}

/* ---- errors ----------------------------------------------------------------------------- */

/* Replace every occurrence of val (vlen bytes) in msg with NR_SECRET_REDACTED. */
static void scrub(char *msg, size_t cap, const char *val, size_t vlen)
{
    if (vlen == 0)
        return;
    const size_t rl = strlen(NR_SECRET_REDACTED);
    char *hit;
    char *from = msg;
    while ((hit = strstr(from, val)) != NULL) {
        size_t tail = strlen(hit + vlen);
        size_t at = (size_t)(hit - msg);
        if (at + rl + tail + 1 > cap)
            tail = cap > at + rl + 1 ? cap - at - rl - 1 : 0;
        if (at + rl + 1 > cap) {
            hit[0] = '\0';
            return;
        }
        memmove(hit + rl, hit + vlen, tail);
        hit[rl + tail] = '\0';
        memcpy(hit, NR_SECRET_REDACTED, rl);
        from = hit + rl;
    }
}

/* Scrub the values of every secret header of c and of the request's lines. */
static void scrub_secrets(const nr_http_client *c, const char *const *extra, size_t nextra,
                          char *msg, size_t cap)
{
    for (const struct curl_slist *h = c->headers; h; h = h->next) {
        const char *colon = strchr(h->data, ':');
        if (colon && nr__http_name_in_list(c->secret_names, h->data, (size_t)(colon - h->data)))
            scrub(msg, cap, colon + 2, strlen(colon + 2));
    }
    if (c->credential)
        scrub(msg, cap, c->credential, strlen(c->credential));
    for (size_t i = 0; i < nextra; i++) {
        const char *colon = extra[i] ? strchr(extra[i], ':') : NULL;
        if (!colon || !nr__http_name_in_list(c->secret_names, extra[i], (size_t)(colon - extra[i])))
            continue;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        scrub(msg, cap, v, strlen(v));
    }
}

typedef struct where {
    const char *what, *method;
    char shown[NR__HTTP_SHOWN_MAX];
} where;

__attribute__((format(printf, 8, 9))) static int fail(nr_http_client *c, const nr__http_xfer *x,
                                                      const where *w, nr_error *err, int code,
                                                      long curl_code, bool with_curl_message,
                                                      const char *fmt, ...)
{
    char detail[NR_ERROR_MESSAGE_MAX];
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (with_curl_message) {
        const char *cm = c->errbuf[0] ? c->errbuf : curl_easy_strerror((CURLcode)curl_code);
        snprintf(msg, sizeof(msg), "http '%s': %s: curl %ld: %s (%s %s %s)", c->id, detail,
                 curl_code, cm, w->what, w->method, w->shown);
    } else {
        snprintf(msg, sizeof(msg), "http '%s': %s (%s %s %s)", c->id, detail, w->what, w->method,
                 w->shown);
    }
    size_t ml = strlen(msg);
    while (ml > 0 && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
        msg[--ml] = '\0';
    scrub_secrets(c, x->headers, x->nheaders, msg, sizeof(msg));
    return nr_error_set_cause(err, code, NR_OK, curl_code, c->id, "%s", msg);
}

/* ---- the transfer ------------------------------------------------------------------------ */

static bool method_ok(const char *m)
{
    if (!m || !*m || strlen(m) > 32)
        return false;
    for (const char *p = m; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return false;
    return true;
}

/* base_url and path joined; NULL on out of memory. */
static char *join_url(const char *base, const char *path)
{
    size_t bl = strlen(base);
    if (!path || !*path)
        return nr_strdup(base);
    if (path[0] != '?' && path[0] != '#')
        while (bl > 0 && base[bl - 1] == '/')
            bl--;
    bool slash = path[0] != '/' && path[0] != '?' && path[0] != '#';
    size_t pl = strlen(path);
    char *u = nr_malloc(bl + pl + 2);
    if (!u)
        return NULL;
    memcpy(u, base, bl);
    if (slash)
        u[bl++] = '/';
    memcpy(u + bl, path, pl + 1);
    return u;
}

static char *as_mutable(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s};
    return u.m;
}

/* The header list of one request: defaults not overridden, then the extra
 * lines. Nodes in one array, strings borrowed. */
static struct curl_slist *build_headers(const nr_http_client *c, const char *const *extra,
                                        size_t nextra, bool *oom)
{
    if (nextra == 0)
        return c->headers;
    struct curl_slist *nodes = nr_calloc(c->nheaders + nextra, sizeof(*nodes));
    if (!nodes) {
        *oom = true;
        return NULL;
    }
    size_t k = 0;
    for (const struct curl_slist *h = c->headers; h; h = h->next) {
        const char *colon = strchr(h->data, ':');
        size_t nl = colon ? (size_t)(colon - h->data) : strlen(h->data);
        bool replaced = false;
        for (size_t i = 0; i < nextra && !replaced; i++)
            replaced = strncasecmp(extra[i], h->data, nl) == 0 &&
                       (extra[i][nl] == ':' || extra[i][nl] == ';');
        if (!replaced)
            nodes[k++].data = h->data;
    }
    for (size_t i = 0; i < nextra; i++)
        nodes[k++].data = as_mutable(extra[i]);
    for (size_t i = 0; i + 1 < k; i++)
        nodes[i].next = &nodes[i + 1];
    return k ? nodes : NULL;
}

/* Put back what every transfer starts from. */
static void restore(nr_http_client *c)
{
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(h, CURLOPT_URL, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->request_timeout_ms);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, NULL);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, NULL);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
}

static int transfer_error(nr_http_client *c, const nr__http_xfer *x, const where *w,
                          const xstate *s, CURLcode rc, int64_t timeout_ms, bool deadline_bound,
                          nr_error *err)
{
    long cc = (long)rc;
    if (s->canceled)
        return fail(c, x, w, err, NR_ECANCELED, cc, false, "canceled");
    if (s->deadline_hit || (rc == CURLE_OPERATION_TIMEDOUT && deadline_bound))
        return fail(c, x, w, err, NR_ETIMEDOUT, cc, false, "deadline passed (after %lld ms)",
                    (long long)timeout_ms);
    if (s->oom || rc == CURLE_OUT_OF_MEMORY)
        return fail(c, x, w, err, NR_ENOMEM, cc, false, "out of memory for the response");
    if (s->too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return fail(c, x, w, err, NR_EINVAL, cc, false,
                    "response body exceeds max_response_bytes (%zu bytes); nothing was kept",
                    s->max_body);
    if (s->head_too_big)
        return fail(c, x, w, err, NR_EINVAL, cc, false, "response headers exceed %d bytes",
                    HEADERS_MAX);
    if (c->refused && rc == CURLE_COULDNT_CONNECT)
        return fail(c, x, w, err, NR_EINVAL, cc, false,
                    "address %s (port %d) is %s: refused by ssrf_protection, allowed by "
                    "ssrf_allow only",
                    c->refused_addr, c->refused_port, c->refused_class);
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return fail(c, x, w, err, NR_ETIMEDOUT, cc, true, "timed out after %lld ms",
                    (long long)timeout_ms);
    case CURLE_UNSUPPORTED_PROTOCOL:
        return fail(c, x, w, err, NR_EINVAL, cc, true, "scheme not allowed (http and https only)");
    case CURLE_TOO_MANY_REDIRECTS:
        return fail(c, x, w, err, NR_EINVAL, cc, true, "more than max_redirects redirects");
    case CURLE_URL_MALFORMAT:
        return fail(c, x, w, err, NR_EINVAL, cc, true, "bad URL");
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return fail(c, x, w, err, NR_EUNAVAIL, cc, true, "cannot connect");
    default:
        return fail(c, x, w, err, NR_EUNAVAIL, cc, true, "transfer failed");
    }
}

int nr__http_perform(nr_http_client *c, const nr__http_xfer *x, nr_http_response *resp,
                     nr_error *err)
{
    memset(resp, 0, sizeof(*resp));
    where w = {.what = x->what ? x->what : "request"};
    w.method = x->method ? x->method : x->body_len || x->body ? "POST" : "GET";
    nr__http_shown_url(x->path && *x->path ? x->path : c->base_url, w.shown, sizeof(w.shown));
    if (!method_ok(w.method))
        return fail(c, x, &w, err, NR_EINVAL, 0, false,
                    "method must be 1..32 letters, digits, '-' or '_'");
    bool bodyless = strcasecmp(w.method, "GET") == 0 || strcasecmp(w.method, "HEAD") == 0;
    if (bodyless && x->body_len > 0)
        return fail(c, x, &w, err, NR_EINVAL, 0, false, "a %s request cannot carry a body",
                    w.method);
    if (!x->body && x->body_len > 0)
        return fail(c, x, &w, err, NR_EINVAL, 0, false, "body is NULL but body_len is %zu",
                    x->body_len);
    char why[NR_CONFIG_RULE_MAX];
    for (size_t i = 0; i < x->nheaders; i++) {
        const char *name, *value;
        size_t nl, vl;
        if (!x->headers || !x->headers[i])
            return fail(c, x, &w, err, NR_EINVAL, 0, false, "header %zu is NULL", i);
        if (!nr__http_header_split(x->headers[i], strlen(x->headers[i]), &name, &nl, &value, &vl,
                                   why, sizeof(why)))
            return fail(c, x, &w, err, NR_EINVAL, 0, false, "header %zu: %s", i, why);
    }
    if (nr_cancel_is_set(x->cancel))
        return fail(c, x, &w, err, NR_ECANCELED, 0, false, "canceled before it was sent");

    int64_t timeout_ms = x->timeout_ms > 0 ? x->timeout_ms : c->request_timeout_ms;
    bool deadline_bound = false;
    if (nr_deadline_is_set(x->deadline)) {
        int64_t left = nr_deadline_remaining_ns(x->deadline);
        if (left <= 0)
            return fail(c, x, &w, err, NR_ETIMEDOUT, 0, false,
                        "deadline passed before it was sent");
        int64_t left_ms = left / NR_NS_PER_MS + 1;
        if (left != INT64_MAX && left_ms < timeout_ms) {
            timeout_ms = left_ms;
            deadline_bound = true;
        }
    }

    char *url;
    if (x->path && nr__http_has_scheme(x->path)) {
        if (!nr__http_url_check(x->path, why, sizeof(why)))
            return fail(c, x, &w, err, NR_EINVAL, 0, false, "URL %s", why);
        url = nr_strdup(x->path);
    } else {
        url = join_url(c->base_url, x->path);
    }
    bool oom = !url;
    struct curl_slist *hdrs = oom ? NULL : build_headers(c, x->headers, x->nheaders, &oom);
    if (oom) {
        nr_free(url);
        return fail(c, x, &w, err, NR_ENOMEM, 0, false, "out of memory for the request");
    }

    xstate s = {
        .c = c,
        .resp = resp,
        .max_body = (size_t)(x->max_body > 0 ? x->max_body : c->max_response_bytes),
        .discard = x->discard_body,
        .deadline = x->deadline,
        .cancel = x->cancel,
    };
    CURL *h = c->curl;
    c->errbuf[0] = '\0';
    c->refused = 0;
    CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, url);
    if (rc == CURLE_OK) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
        if (strcasecmp(w.method, "HEAD") == 0) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (strcasecmp(w.method, "GET") != 0) {
            bool post = strcasecmp(w.method, "POST") == 0;
            if (x->body || post || strcasecmp(w.method, "PUT") == 0 ||
                strcasecmp(w.method, "PATCH") == 0) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body ? x->body : "");
            }
            if (!post)
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, w.method);
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)(x->discard_body ? 0 : s.max_body));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &s);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        rc = curl_easy_perform(h);
    }
    int code = NR_OK;
    if (rc != CURLE_OK) {
        code = transfer_error(c, x, &w, &s, rc, timeout_ms, deadline_bound, err);
        nr_http_response_free(resp);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &resp->redirects);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &resp->num_connects);
        if (!resp->body) {
            resp->body = nr_calloc(1, 1);
            if (!resp->body) {
                nr_http_response_free(resp);
                code = fail(c, x, &w, err, NR_ENOMEM, 0, false, "out of memory for the response");
            }
        }
    }
    restore(c);
    if (hdrs != c->headers)
        nr_free(hdrs);
    nr_free(url);
    return code;
}

int nr_http_request(void *handle, const nr_http_req *req, nr_http_response *resp, nr_error *err)
{
    nr_http_client *c = handle;
    if (resp)
        memset(resp, 0, sizeof(*resp));
    if (!nr__http_client_ok(c))
        return nr_error_set(err, NR_EINVAL, NULL, "http: request: not an open http client");
    if (!req || !resp)
        return nr_error_set(err, NR_EINVAL, c->id, "http '%s': request: req and resp are required",
                            c->id);
    if (req->timeout_ms < 0 || req->max_response_bytes < 0)
        return nr_error_set(err, NR_EINVAL, c->id,
                            "http '%s': request: timeout_ms and max_response_bytes must not be "
                            "negative",
                            c->id);
    if (req->nheaders > 0 && !req->headers)
        return nr_error_set(err, NR_EINVAL, c->id,
                            "http '%s': request: headers is NULL but nheaders is %zu", c->id,
                            req->nheaders);
    nr__http_xfer x = {
        .method = req->method,
        .path = req->path,
        .headers = req->headers,
        .nheaders = req->nheaders,
        .body = req->body,
        .body_len = req->body_len,
        .timeout_ms = req->timeout_ms,
        .deadline = req->deadline,
        .cancel = req->cancel,
        .max_body = req->max_response_bytes,
        .what = "request",
    };
    return nr__http_perform(c, &x, resp, err);
}
