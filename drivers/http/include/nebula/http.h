/*
 * nebula/http.h - the HTTP client driver: pooled libcurl easy handles.
 *
 * nr_http_type is an nr_resource_type whose instances are HTTP clients: one
 * CURL easy handle each, set up from an nr_http_config and reused for every
 * request of every lease, so that its connections stay alive between
 * requests. Give it to a pool together with an nr_http_config:
 *
 *     nr_http_config cfg;
 *     nr_config_init(&nr_http_config_schema, &cfg, &err);   // defaults
 *     cfg.base_url = nr_strdup("https://api.example.com/v1");
 *     nr_pool_options o = NR_POOL_OPTIONS(.id = "api", .type = &nr_http_type, .config = &cfg);
 *     nr_pool_create(&pool, &o, &err);
 *     ... nr_pool_acquire(pool, NULL, &g, &err);
 *         nr_http_req rq = {.method = "GET", .path = "/users/7"};
 *         nr_http_response rs;
 *         nr_http_request(nr_guard_handle(&g), &rq, &rs, &err);
 *         ... rs.status, rs.body, rs.body_len ...
 *         nr_http_response_free(&rs);
 *     nr_pool_destroy(pool, &err);
 *     nr_config_free(&nr_http_config_schema, &cfg);
 *
 * What each callback does:
 *   create        curl_easy_init and every configured option (no network),
 *                 after checking that base_url parses. With connect_on_create
 *                 it also sends the health request and fails with
 *                 NR_EUNAVAIL when the server cannot be reached (any status
 *                 counts as reached), giving up with NR_ETIMEDOUT at the
 *                 context's deadline and NR_ECANCELED when its cancel token
 *                 is set. The credential (ctx->credential), when there is
 *                 one, becomes the header credential_header with the value
 *                 credential_prefix + credential.
 *   validate      checks that the handle is an open client (no network).
 *   recycle       curl_easy_reset (which keeps the live connections and the
 *                 DNS cache) and applies the configured options again, so
 *                 nothing a lease holder changed through nr_http_curl()
 *                 survives the lease.
 *   health_check  sends health_method health_path within health_timeout_ms
 *                 (and the check's deadline); a status in healthy_status is
 *                 healthy, anything else unhealthy with the reason
 *                 "GET /health -> 503", a transport failure unhealthy with
 *                 curl's message. Returns NR_OK when the check ran.
 *   destroy       curl_easy_cleanup and frees the header lists (the one that
 *                 holds the credential is zeroed first).
 *
 * SSRF protection (ssrf_protection, on by default): every socket the handle
 * opens goes through CURLOPT_OPENSOCKETFUNCTION, which looks at the address
 * actually being connected to, after name resolution, for the first request
 * and for every redirect. Loopback, private, link-local, cloud metadata,
 * unspecified, carrier-grade NAT, multicast, broadcast and reserved
 * addresses, in IPv4, IPv6 and IPv4-mapped / embedded IPv6 forms, are refused
 * unless an ssrf_allow entry (CIDR with an optional port) covers them.
 * Only http and https are allowed (CURLOPT_PROTOCOLS_STR and
 * CURLOPT_REDIR_PROTOCOLS_STR), and proxies from the environment are not used
 * (CURLOPT_PROXY ""). A refused request is NR_EINVAL whose message names the
 * resource, the address, its class and the rule.
 *
 * Errors: every failure names the resource id (err->resource_id and the
 * message); curl's CURLcode goes into err->driver_code. URLs in messages are
 * shown without user info, query and fragment. The values of secret headers
 * and of the credential never appear in any message, print or report.
 *   NR_EUNAVAIL   cannot connect, resolve, TLS failure, connection dropped
 *   NR_ETIMEDOUT  request timeout, or the request's deadline
 *   NR_ECANCELED  the request's cancel token was set
 *   NR_EINVAL     bad argument, scheme other than http/https, address
 *                 refused by SSRF protection, body over max_response_bytes,
 *                 too many redirects
 *   NR_ECRED      the credential cannot be sent as a header value
 *   NR_ENOMEM     out of memory
 *
 * Ownership: an instance (the handle the pool gives out, an
 * nr_http_client *) owns its CURL handle and header lists. An
 * nr_http_response owns its buffers until nr_http_response_free.
 *
 * Thread safety: nr_http_type and nr_http_config_schema are immutable.
 * One instance is used by one thread at a time (the pool guarantees it for
 * its callbacks; a lease holder must not share it while holding the lease).
 * Different instances may be used from different threads at once.
 * curl_global_init runs once, on first use, under pthread_once.
 */
#ifndef NEBULA_HTTP_H
#define NEBULA_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "nebula/cancel.h"
#include "nebula/config.h"
#include "nebula/error.h"
#include "nebula/resource_type.h"
#include "nebula/secret.h"
#include "nebula/time.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The driver's config. Schema: nr_http_config_schema (JSON keys as the member
 * names). Strings and the secret are owned by the struct (see nebula/config.h).
 * Lists are strings: header lists hold one "Name: value" per line (separated
 * by "\n"); the other lists are separated by commas or spaces. Each entry:
 * kind, member, min, max (bytes for strings), default, flags and what it
 * means (nebula/config_fields.h); the README's table is made from it.
 * health_method holds an nr_http_health_method, tls_min_version an
 * nr_http_tls_version.
 */
#define NR_HTTP_CONFIG_FIELDS(X, T)                                                                \
    X(T, STRING, base_url, 1, NR_HTTP_URL_MAX, NULL, NR_CF_REQUIRED,                               \
      "`http://` or `https://` URL with a host. Relative request paths are appended to its path.") \
    X(T, STRING, headers, 0, NR_HTTP_LIST_MAX, NULL, 0,                                            \
      "default headers, `\"Name: value\"` lines. A name in `secret_headers` (or "                  \
      "`credential_header`) is refused here: put it in `secret_header_values`.")                   \
    X(T, SECRET, secret_header_values, 0, NR_HTTP_LIST_MAX, NULL, 0,                               \
      "default headers whose values are secret (`\"X-Api-Key: ...\"` lines); never printed, "      \
      "serialized as `<redacted>`. Their names count as secret names.")                            \
    X(T, STRING, secret_headers, 0, NR_HTTP_LIST_MAX,                                              \
      "Authorization,Proxy-Authorization,Cookie,X-Api-Key", 0,                                     \
      "names whose values are redacted in every description and error message.")                   \
    X(T, STRING, credential_header, 1, 256, "Authorization", 0,                                    \
      "header that carries the credential from the provider; always a secret name.")               \
    X(T, STRING, credential_prefix, 0, 256, "Bearer ", 0, "put before the credential.")            \
    X(T, INT, connect_timeout_ms, 1, 3600000, 10000, 0, "TCP and TLS setup.")                      \
    X(T, INT, request_timeout_ms, 1, 86400000, 30000, 0,                                           \
      "a whole request, unless it gives its own.")                                                 \
    X(T, STRING, health_path, 1, NR_HTTP_URL_MAX, "/", 0,                                          \
      "path the health check requests; starts with `/`.")                                          \
    X(T, ENUM, health_method, nr__http_health_methods, 0, NR_HTTP_HEALTH_GET, 0,                   \
      "method of the health check.")                                                               \
    X(T, STRING, healthy_status, 1, 1024, "200-399", 0,                                            \
      "status codes and ranges 100..599 that count as healthy, e.g. `\"200,204\"`, "               \
      "`\"200-299 304\"`.")                                                                        \
    X(T, INT, health_timeout_ms, 1, 3600000, 5000, 0, "limit of one health check request.")        \
    X(T, BOOL, connect_on_create, 0, 1, 0, 0,                                                      \
      "create sends the health request and fails when the server is unreachable. Use it under a "  \
      "manager, so that a replacement instance made while the server is down fails and the "       \
      "resource stays unhealthy.")                                                                 \
    X(T, INT, max_response_bytes, 1, NR_HTTP_MAX_RESPONSE_BYTES, 16LL * 1024 * 1024, 0,            \
      "largest body accepted (16 MiB by default); a larger one is an error.")                      \
    X(T, BOOL, follow_redirects, 0, 1, 0, 0,                                                       \
      "follow 3xx redirects (every target is checked again by SSRF protection).")                  \
    X(T, INT, max_redirects, 0, 100, 5, 0, "most redirects one request follows.")                  \
    X(T, BOOL, verify_peer, 0, 1, 1, 0, "verify the server's TLS certificate chain.")              \
    X(T, BOOL, verify_host, 0, 1, 1, 0, "verify that the certificate names the host.")             \
    X(T, STRING, ca_file, 0, 4096, NULL, 0, "PEM file of trusted CAs (unset: the system's).")      \
    X(T, STRING, client_cert, 0, 4096, NULL, 0, "PEM client certificate.")                         \
    X(T, STRING, client_key, 0, 4096, NULL, 0,                                                     \
      "PEM private key of `client_cert`, unencrypted; needs `client_cert`.")                       \
    X(T, ENUM, tls_min_version, nr__http_tls_versions, 0, NR_HTTP_TLS_1_2, 0,                      \
      "lowest TLS version accepted.")                                                              \
    X(T, STRING, user_agent, 0, 1024, "nebula-resource-http", 0, "`User-Agent` header.")           \
    X(T, STRING, resolve, 0, NR_HTTP_LIST_MAX, NULL, 0,                                            \
      "`host:port:address` entries that pin a name to an address (`CURLOPT_RESOLVE`); SSRF "       \
      "protection checks the address.")                                                            \
    X(T, BOOL, ssrf_protection, 0, 1, 1, 0,                                                        \
      "refuse loopback, private, link-local and cloud metadata addresses (see above). `false` "    \
      "lets requests reach them: DANGEROUS when any part of a URL comes from outside the "         \
      "program.")                                                                                  \
    X(T, STRING, ssrf_allow, 0, NR_HTTP_LIST_MAX, NULL, 0,                                         \
      "`CIDR` or `CIDR:port` entries (IPv6 in brackets with a port: `[::1]/128:8080`) allowed "    \
      "although their class is refused.")

NR_CONFIG_STRUCT(nr_http_config, NR_HTTP_CONFIG_FIELDS)

typedef enum nr_http_health_method {
    NR_HTTP_HEALTH_GET = 0,
    NR_HTTP_HEALTH_HEAD,
} nr_http_health_method;

typedef enum nr_http_tls_version {
    NR_HTTP_TLS_DEFAULT = 0,
    NR_HTTP_TLS_1_0,
    NR_HTTP_TLS_1_1,
    NR_HTTP_TLS_1_2,
    NR_HTTP_TLS_1_3,
} nr_http_tls_version;

#define NR_HTTP_URL_MAX            8192
#define NR_HTTP_LIST_MAX           65536
#define NR_HTTP_MAX_RESPONSE_BYTES (1LL << 40)

/* The schema of nr_http_config (name "http"). Its check parses base_url and
 * every list, and refuses a secret header given in plain headers. */
NR_API extern const nr_config_schema nr_http_config_schema;

/* The resource type (name "http"); instances are nr_http_client *. */
NR_API extern const nr_resource_type nr_http_type;

/* One client: the handle nr_guard_handle() returns. Opaque. */
typedef struct nr_http_client nr_http_client;

/* One request (the function that sends it is nr_http_request). Every field
 * is optional: a zeroed struct is "GET base_url". */
typedef struct nr_http_req {
    const char *method;         /* NULL = "GET", or "POST" when there is a body */
    const char *path;           /* relative to base_url, or an absolute http(s) URL */
    const char *const *headers; /* extra "Name: value" lines for this request */
    size_t nheaders;            /* a name also in the defaults replaces the default */
    const void *body;           /* sent as is; may be NULL with body_len 0 */
    size_t body_len;            /* a body with GET/HEAD is refused */
    int64_t timeout_ms;         /* 0 = request_timeout_ms */
    nr_deadline deadline;       /* unset = none; the earlier of the two applies */
    const nr_cancel *cancel;    /* NR_ECANCELED once set; may be NULL */
    int64_t max_response_bytes; /* 0 = the config's */
} nr_http_req;

/* What came back. Zero-initialise it or let nr_http_request fill it. */
typedef struct nr_http_response {
    long status; /* HTTP status of the last response (after redirects) */
    char *body;  /* body_len bytes and a NUL after them; never NULL on NR_OK */
    size_t body_len;
    char *headers; /* the last response's header lines, "Name: value\n" each */
    size_t headers_len;
    long redirects;    /* redirects followed */
    long num_connects; /* new connections this request made (0 = reused one) */
} nr_http_response;

/*
 * Send req on the client handle (what nr_guard_handle() returns) and fill
 * resp, which is overwritten (free it first when reusing it). Any HTTP status
 * is NR_OK: look at resp->status. A body larger than max_response_bytes is an
 * error (NR_EINVAL), never cut. On failure resp is left empty (nothing to
 * free). Codes: see the top of this file.
 */
NR_API int nr_http_request(void *handle, const nr_http_req *req, nr_http_response *resp,
                           nr_error *err);

/* Free what resp holds and zero it. NULL is a no-op. */
NR_API void nr_http_response_free(nr_http_response *resp);

/*
 * Copy the value of response header name (case-insensitive; the last one when
 * repeated) into buf (n bytes, cut to fit). Returns its full length, or -1
 * when absent.
 */
NR_API long nr_http_response_header(const nr_http_response *resp, const char *name, char *buf,
                                    size_t n);

/*
 * The CURL easy handle of a client, for options this API lacks; NULL for a
 * NULL or closed handle. It stays owned by the client: never clean it up.
 * Options changed on it last until the lease ends (recycle resets them); do
 * not change the socket, protocol or proxy options, which SSRF protection
 * relies on.
 */
NR_API CURL *nr_http_curl(void *handle);

/*
 * Write a one-line description of the client into buf (n bytes): its base
 * URL (without user info or query) and its default header lines, each secret
 * header's value written as "<redacted>". Returns the length it needed.
 */
NR_API size_t nr_http_describe(void *handle, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
