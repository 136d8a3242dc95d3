/*
 * http_internal.h - what the HTTP driver's files share (internal).
 */
#ifndef NR_HTTP_INTERNAL_H
#define NR_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

#include "nebula/http.h"

#include "http_ssrf.h"

/* curl_global_init, once per process (pthread_once). 0 or the CURLcode. */
int nr__http_global_init(void);

/* ---- text lists ------------------------------------------------------------------ */

/* The next line of text at *p ("\n"-separated, a trailing "\r" and surrounding
 * blanks dropped); false at the end. Empty lines are skipped. */
bool nr__http_next_line(const char **p, const char **line, size_t *len);

/* Split "Name: value" (blanks around the value dropped). false with why
 * filled when the name is not an HTTP token or the line has no ':' or holds
 * a control character. */
bool nr__http_header_split(const char *line, size_t len, const char **name, size_t *nlen,
                           const char **value, size_t *vlen, char *why, size_t whyn);

/* Whether name (nlen bytes) is in list (names separated by commas or blanks),
 * ignoring case. */
bool nr__http_name_in_list(const char *list, const char *name, size_t nlen);

/* Whether every entry of a name list is an HTTP token; why names the bad one. */
bool nr__http_name_list_check(const char *list, char *why, size_t whyn);

typedef struct nr__http_status_range {
    int lo, hi;
} nr__http_status_range;

/* "200-399", "200,204 301": 0 and a list (nr_free it), -1 with why, -2 (memory). */
int nr__http_status_parse(const char *text, nr__http_status_range **out, size_t *n, char *why,
                          size_t whyn);
bool nr__http_status_match(const nr__http_status_range *r, size_t n, long status);

/* Check an absolute URL: parses, scheme http or https, has a host. */
bool nr__http_url_check(const char *url, char *why, size_t whyn);

/* Whether url starts with a scheme ("x:" before any '/', '?' or '#'). */
bool nr__http_has_scheme(const char *url);

/* url as messages show it: no user info, query or fragment; cut to fit. */
void nr__http_shown_url(const char *url, char *buf, size_t n);

/* "host:port:address" entries for CURLOPT_RESOLVE; why names a bad one. */
bool nr__http_resolve_check(const char *list, char *why, size_t whyn);

/* ---- the client ------------------------------------------------------------------- */

#define NR__HTTP_CLIENT_MAGIC 0x4854545043C11E47ULL
#define NR__HTTP_CLIENT_DEAD  0xDEADDEADDEADDEADULL
#define NR__HTTP_SHOWN_MAX    96

struct nr_http_client {
    uint64_t magic; /* NR__HTTP_CLIENT_MAGIC while open */
    CURL *curl;
    char id[NR_ERROR_ID_MAX];
    char *base_url;
    char shown_base[NR__HTTP_SHOWN_MAX];
    /* default headers: nodes and strings owned here (zeroed when freed), the
     * credential's among them */
    struct curl_slist *headers;
    size_t nheaders;
    const char *credential; /* inside the credential's header line, after the prefix; or NULL */
    char *secret_names;     /* secret_headers + secret_header_values' names + credential_header */
    struct curl_slist *resolve;
    nr__http_cidr *allow;
    size_t nallow;
    nr__http_status_range *healthy;
    size_t nhealthy;
    bool ssrf;
    bool follow_redirects, verify_peer, verify_host;
    int health_method, tls_min_version;
    int64_t connect_timeout_ms, request_timeout_ms, health_timeout_ms, max_response_bytes,
        max_redirects;
    char *health_path, *ca_file, *client_cert, *client_key, *user_agent;
    char errbuf[CURL_ERROR_SIZE];
    /* what the socket callback refused during the current transfer */
    int refused;
    int refused_port;
    char refused_addr[64];
    const char *refused_class;
};

/* Set every configured option on c->curl (after create or curl_easy_reset).
 * NR_OK or NR_EINIT naming the option. */
int nr__http_apply_options(nr_http_client *c, nr_error *err);

/* Whether handle is an open client. */
bool nr__http_client_ok(const nr_http_client *c);

/* One transfer (nr_http_request and the health check share it). */
typedef struct nr__http_xfer {
    const char *method; /* NULL = GET, or POST with a body */
    const char *path;
    const char *const *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    int64_t timeout_ms; /* > 0 */
    nr_deadline deadline;
    const nr_cancel *cancel;
    int64_t max_body;  /* > 0 */
    bool discard_body; /* the health check: count nothing, keep nothing */
    const char *what;  /* "request", "health check", "create" */
} nr__http_xfer;

int nr__http_perform(nr_http_client *c, const nr__http_xfer *x, nr_http_response *resp,
                     nr_error *err);

#endif
