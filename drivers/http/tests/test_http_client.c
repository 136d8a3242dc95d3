/*
 * test_http_client.c - one client (created through nr_http_type) against a
 * real httpbin: requests, headers, the credential, secrets, keep-alive,
 * limits, health, SSRF protection and redirects, create's deadline and
 * cancel token.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_test_env.h"

#define ID         "api"
#define SECRET_KEY "k3y-7a1b2c3d4e5f"
#define TOKEN      "t0ken-9z8y7x6w5v"

static nr_secret *secret_of(const char *s)
{
    nr_secret *x = NULL;
    nr_error err = {0};
    assert_int_equal(nr_secret_from_str(&x, s, &err), NR_OK);
    return x;
}

static void destroy(void *h)
{
    nr_http_type.destroy(h, NULL);
}

/* A loopback port nobody listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- requests and headers ----------------------------------------------------------- */

static void test_get_post_with_default_headers(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    http_cfg_set(&c.headers, "X-Team: core\nX-Trace: abc-123");
    nr_error err = {0};
    assert_int_equal(nr_secret_from_str(&c.secret_header_values, "X-Api-Key: " SECRET_KEY, &err),
                     NR_OK);
    void *h = http_client_new(&c, ID, NULL);
    assert_int_equal(nr_http_type.validate(h, NULL, &err), NR_OK);

    nr_http_response rs;
    http_do_ok(h, "GET", "/headers", &rs);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "\"X-Team\":\"core\""));
    assert_non_null(strstr(rs.body, "\"X-Trace\":\"abc-123\""));
    assert_non_null(strstr(rs.body, "\"X-Api-Key\":\"" SECRET_KEY "\""));
    assert_non_null(strstr(rs.body, "\"User-Agent\":\"nebula-resource-http\""));
    char ct[64];
    assert_true(nr_http_response_header(&rs, "content-type", ct, sizeof(ct)) > 0);
    assert_string_equal(ct, "application/json");
    assert_int_equal(nr_http_response_header(&rs, "X-Nope", ct, sizeof(ct)), -1);
    nr_http_response_free(&rs);

    /* POST with a body and a header of this request that replaces a default */
    const char *extra[] = {"Content-Type: text/plain", "X-Trace: override"};
    nr_http_req rq = {
        .path = "/post", .headers = extra, .nheaders = 2, .body = "hello body", .body_len = 10};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_OK);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "\"data\":\"hello body\""));
    assert_non_null(strstr(rs.body, "\"X-Trace\":\"override\""));
    assert_null(strstr(rs.body, "abc-123"));
    assert_non_null(strstr(rs.body, "\"Content-Type\":\"text/plain\""));
    nr_http_response_free(&rs);

    /* other methods; the defaults are back for the next request */
    rq = (nr_http_req){.method = "PUT", .path = "put", .body = "{}", .body_len = 2};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_OK);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "abc-123"));
    nr_http_response_free(&rs);
    http_do_ok(h, "DELETE", "/delete", &rs);
    assert_int_equal(rs.status, 200);
    nr_http_response_free(&rs);
    http_do_ok(h, "HEAD", "/get", &rs);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.body_len, 0);
    assert_non_null(rs.body);
    nr_http_response_free(&rs);
    http_do_ok(h, "GET", "/status/418", &rs);
    assert_int_equal(rs.status, 418); /* any status is a completed request */
    nr_http_response_free(&rs);
    destroy(h);
    nr_config_free(&nr_http_config_schema, &c);
}

static void test_credential_as_bearer(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    nr_secret *tok = secret_of(TOKEN);
    void *h = http_client_new(&c, ID, tok);
    nr_http_response rs;
    http_do_ok(h, "GET", "/bearer", &rs);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "\"authenticated\":true"));
    nr_http_response_free(&rs);
    http_do_ok(h, "GET", "/headers", &rs);
    assert_non_null(strstr(rs.body, "\"Authorization\":\"Bearer " TOKEN "\""));
    nr_http_response_free(&rs);
    destroy(h);

    /* without a credential: 401, a completed request */
    h = http_client_new(&c, ID, NULL);
    http_do_ok(h, "GET", "/bearer", &rs);
    assert_int_equal(rs.status, 401);
    nr_http_response_free(&rs);
    destroy(h);

    /* the credential in a header and with a prefix of the config's choosing */
    http_cfg_set(&c.credential_header, "X-Api-Key");
    http_cfg_set(&c.credential_prefix, "");
    h = http_client_new(&c, ID, tok);
    http_do_ok(h, "GET", "/headers", &rs);
    assert_non_null(strstr(rs.body, "\"X-Api-Key\":\"" TOKEN "\""));
    assert_null(strstr(rs.body, "Bearer"));
    nr_http_response_free(&rs);
    destroy(h);

    /* a credential that cannot be a header value */
    nr_secret *bad = secret_of("abc\r\nX-Evil: 1");
    nr_error err = {0};
    nr_create_ctx ctx = {.resource_id = ID, .credential = bad};
    h = NULL;
    assert_int_equal(nr_http_type.create(&h, &c, &ctx, NULL, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "http 'api'");
    assert_null(strstr(err.message, "abc"));
    assert_null(h);
    nr_secret_free(bad);
    nr_secret_free(tok);
    nr_config_free(&nr_http_config_schema, &c);
}

/* ---- secrets never show --------------------------------------------------------------- */

static void assert_no_secret(const char *text)
{
    if (strstr(text, SECRET_KEY) || strstr(text, TOKEN) || strstr(text, "extra-s3cret"))
        fail_msg("a secret shows in: %s", text);
}

static void test_secrets_never_shown(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    http_cfg_set(&c.headers, "X-Team: core");
    nr_error err = {0};
    assert_int_equal(nr_secret_from_str(&c.secret_header_values, "X-Api-Key: " SECRET_KEY, &err),
                     NR_OK);
    nr_secret *tok = secret_of(TOKEN);
    void *h = http_client_new(&c, ID, tok);

    /* the description and the printed / serialized config */
    char desc[512];
    nr_http_describe(h, desc, sizeof(desc));
    assert_no_secret(desc);
    assert_non_null(strstr(desc, "[X-Team: core]"));
    assert_non_null(strstr(desc, "[X-Api-Key: <redacted>]"));
    assert_non_null(strstr(desc, "[Authorization: <redacted>]"));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    nr_config_print(&nr_http_config_schema, &c, f);
    fclose(f);
    assert_no_secret(buf);
    free(buf);
    char *json = nr_config_serialize(&nr_http_config_schema, &c, NR_CONFIG_SECRETS_REDACT, &err);
    assert_non_null(json);
    assert_no_secret(json);
    nr_free(json);

    /* errors: a timeout, a refused address, bad header lines of a request, a
     * secret echoed in a URL that curl reports */
    const char *extra[] = {"Authorization: Bearer extra-s3cret"};
    nr_http_req rq = {.path = "/delay/3", .timeout_ms = 300, .headers = extra, .nheaders = 1};
    nr_http_response rs;
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_ETIMEDOUT);
    assert_no_secret(err.message);
    rq = (nr_http_req){.path = "http://169.254.169.254/" SECRET_KEY};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    assert_no_secret(err.message);
    const char *badline[] = {"X-Api-Key " SECRET_KEY};
    rq = (nr_http_req){.path = "/get", .headers = badline, .nheaders = 1};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    assert_no_secret(err.message);
    rq = (nr_http_req){.path = "http://" TOKEN ".invalid/"};
    assert_int_not_equal(nr_http_request(h, &rq, &rs, &err), NR_OK);
    assert_no_secret(err.message);
    destroy(h);

    /* the health reason of a failing check */
    int dead = closed_port();
    char url[64], allow[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", dead);
    snprintf(allow, sizeof(allow), "127.0.0.1/32:%d", dead);
    http_cfg_set(&c.base_url, url);
    http_cfg_set(&c.ssrf_allow, allow);
    h = http_client_new(&c, ID, tok);
    nr_health_report hr;
    memset(&hr, 0, sizeof(hr));
    assert_int_equal(nr_http_type.health_check(h, NULL, nr_deadline_in_ms(10000), &hr, &err),
                     NR_OK);
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_no_secret(hr.reason);
    destroy(h);
    nr_secret_free(tok);
    nr_config_free(&nr_http_config_schema, &c);
}

/* ---- keep-alive --------------------------------------------------------------------- */

static void test_connection_reuse(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_nginx_port(), true); /* nginx keeps client connections alive */
    void *h = http_client_new(&c, ID, NULL);
    nr_http_response rs;
    http_do_ok(h, "GET", "/get", &rs);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.num_connects, 1);
    nr_http_response_free(&rs);
    http_do_ok(h, "GET", "/get", &rs);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.num_connects, 0);
    long n = -1;
    assert_int_equal(curl_easy_getinfo(nr_http_curl(h), CURLINFO_NUM_CONNECTS, &n), CURLE_OK);
    assert_int_equal(n, 0);
    nr_http_response_free(&rs);
    /* recycle keeps the connection too */
    nr_error err = {0};
    assert_int_equal(nr_http_type.recycle(h, NULL, &err), NR_OK);
    http_do_ok(h, "POST", "/post", &rs);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.num_connects, 0);
    nr_http_response_free(&rs);
    destroy(h);
    nr_config_free(&nr_http_config_schema, &c);
}

/* ---- limits ----------------------------------------------------------------------------- */

typedef struct canceler {
    nr_cancel *token;
    int delay_ms;
} canceler;

static void *cancel_later(void *arg)
{
    canceler *k = arg;
    nr_sleep_ns((int64_t)k->delay_ms * NR_NS_PER_MS);
    nr_cancel_trigger(k->token);
    return NULL;
}

static void test_timeouts_deadline_cancel(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    void *h = http_client_new(&c, ID, NULL);
    nr_error err = {0};
    nr_http_response rs;

    nr_http_req rq = {.path = "/delay/3", .timeout_ms = 500};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "http 'api': timed out after 500 ms");
    assert_non_null(strstr(err.message, "/delay/3"));
    assert_string_equal(err.resource_id, ID);
    assert_int_equal(err.driver_code, CURLE_OPERATION_TIMEDOUT);
    assert_null(rs.body);

    /* the config's request_timeout_ms applies when the request gives none */
    nr_http_config c2;
    http_cfg_init(&c2, http_httpbin_port(), true);
    c2.request_timeout_ms = 400;
    void *h2 = http_client_new(&c2, ID, NULL);
    rq = (nr_http_req){.path = "/delay/3"};
    assert_int_equal(nr_http_request(h2, &rq, &rs, &err), NR_ETIMEDOUT);
    destroy(h2);
    nr_config_free(&nr_http_config_schema, &c2);

    /* a deadline earlier than the timeout */
    rq = (nr_http_req){.path = "/delay/3", .deadline = nr_deadline_in_ms(400)};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "deadline");
    rq = (nr_http_req){.path = "/get", .deadline = nr_deadline_in_ms(-1)};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "deadline passed before it was sent");

    /* cancel: before, and while waiting for the response */
    nr_cancel *tok = NULL;
    assert_int_equal(nr_cancel_create(&tok, NULL, &err), NR_OK);
    nr_cancel_trigger(tok);
    rq = (nr_http_req){.path = "/get", .cancel = tok};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_ECANCELED);
    nr_cancel_destroy(tok);
    assert_int_equal(nr_cancel_create(&tok, NULL, &err), NR_OK);
    canceler k = {.token = tok, .delay_ms = 200};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
    rq = (nr_http_req){.path = "/delay/10", .cancel = tok, .timeout_ms = 60000};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, "canceled");
    pthread_join(t, NULL);
    nr_cancel_destroy(tok);

    /* the client still works afterwards */
    http_do_ok(h, "GET", "/get", &rs);
    assert_int_equal(rs.status, 200);
    nr_http_response_free(&rs);
    destroy(h);
    nr_config_free(&nr_http_config_schema, &c);
}

static void test_max_response_bytes(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    c.max_response_bytes = 1000;
    void *h = http_client_new(&c, ID, NULL);
    nr_error err = {0};
    nr_http_response rs;
    http_do_ok(h, "GET", "/bytes/1000", &rs);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.body_len, 1000);
    nr_http_response_free(&rs);

    nr_http_req rq = {.path = "/bytes/1001"};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "exceeds max_response_bytes (1000 bytes)");
    assert_null(rs.body);
    assert_int_equal(rs.body_len, 0);
    /* no Content-Length (chunked): caught while receiving */
    rq = (nr_http_req){.path = "/stream-bytes/5000?chunk_size=100"};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "exceeds max_response_bytes");
    assert_null(rs.body);
    /* a request may allow more */
    rq = (nr_http_req){.path = "/stream-bytes/5000?chunk_size=100", .max_response_bytes = 5000};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_OK);
    assert_int_equal(rs.body_len, 5000);
    nr_http_response_free(&rs);
    destroy(h);
    nr_config_free(&nr_http_config_schema, &c);
}

/* ---- health ------------------------------------------------------------------------------ */

static nr_health_report health_of(nr_http_config *c, const char *path, const char *healthy)
{
    http_cfg_set(&c->health_path, path);
    if (healthy)
        http_cfg_set(&c->healthy_status, healthy);
    void *h = http_client_new(c, ID, NULL);
    nr_health_report hr;
    memset(&hr, 0, sizeof(hr));
    nr_error err = {0};
    int rc = nr_http_type.health_check(h, NULL, nr_deadline_in_ms(20000), &hr, &err);
    if (rc != NR_OK)
        fail_msg("health check: %s", err.message);
    destroy(h);
    return hr;
}

static void test_health(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    nr_health_report hr = health_of(&c, "/status/200", NULL);
    assert_int_equal(hr.state, NR_HEALTH_HEALTHY);
    hr = health_of(&c, "/status/503", NULL);
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_string_equal(hr.reason, "GET /status/503 -> 503");
    hr = health_of(&c, "/status/503", "200, 503");
    assert_int_equal(hr.state, NR_HEALTH_HEALTHY);
    hr = health_of(&c, "/status/204", "200");
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_string_equal(hr.reason, "GET /status/204 -> 204");
    c.health_method = NR_HTTP_HEALTH_HEAD;
    hr = health_of(&c, "/status/404", "200-399");
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_string_equal(hr.reason, "HEAD /status/404 -> 404");
    c.health_method = NR_HTTP_HEALTH_GET;
    /* the check's own timeout */
    c.health_timeout_ms = 300;
    hr = health_of(&c, "/delay/3", NULL);
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_non_null(strstr(hr.reason, "timed out after 300 ms"));
    nr_config_free(&nr_http_config_schema, &c);
}

/* ---- unreachable ------------------------------------------------------------------------- */

static void test_refused_port(void **state)
{
    (void)state;
    int dead = closed_port();
    nr_http_config c;
    http_cfg_init(&c, dead, true);
    void *h = http_client_new(&c, ID, NULL); /* cheap create: no network */
    nr_error err = {0};
    nr_http_response rs;
    nr_http_req rq = {.path = "/get"};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "http 'api': cannot connect");
    assert_int_equal(err.driver_code, CURLE_COULDNT_CONNECT);
    destroy(h);

    c.connect_on_create = true;
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(10000)};
    h = NULL;
    assert_int_equal(nr_http_type.create(&h, &c, &ctx, NULL, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "http 'api': cannot connect");
    assert_non_null(strstr(err.message, "create GET /"));
    assert_null(h);
    nr_config_free(&nr_http_config_schema, &c);
}

static void test_create_deadline_and_cancel(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    c.connect_on_create = true;
    http_cfg_set(&c.health_path, "/delay/10");
    c.health_timeout_ms = 60000;
    nr_error err = {0};
    void *h = NULL;
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(500)};
    assert_int_equal(nr_http_type.create(&h, &c, &ctx, NULL, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "http 'api': deadline");
    assert_null(h);

    nr_cancel *tok = NULL;
    assert_int_equal(nr_cancel_create(&tok, NULL, &err), NR_OK);
    nr_cancel_trigger(tok);
    ctx = (nr_create_ctx){.resource_id = ID, .cancel = tok};
    assert_int_equal(nr_http_type.create(&h, &c, &ctx, NULL, &err), NR_ECANCELED);
    nr_cancel_destroy(tok);
    assert_int_equal(nr_cancel_create(&tok, NULL, &err), NR_OK);
    canceler k = {.token = tok, .delay_ms = 200};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
    ctx = (nr_create_ctx){.resource_id = ID, .cancel = tok, .deadline = nr_deadline_in_ms(60000)};
    assert_int_equal(nr_http_type.create(&h, &c, &ctx, NULL, &err), NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, "http 'api': canceled");
    pthread_join(t, NULL);
    nr_cancel_destroy(tok);
    assert_null(h);

    /* and a create that reaches the server */
    http_cfg_set(&c.health_path, "/status/503"); /* reached: any status will do */
    ctx = (nr_create_ctx){.resource_id = ID, .deadline = nr_deadline_in_ms(30000)};
    assert_int_equal(nr_http_type.create(&h, &c, &ctx, NULL, &err), NR_OK);
    destroy(h);
    nr_config_free(&nr_http_config_schema, &c);
}

/* ---- SSRF ------------------------------------------------------------------------------------ */

typedef struct ssrf_case {
    const char *url; /* %d = httpbin's port */
    int code;
    const char *needle1, *needle2;
} ssrf_case;

static const ssrf_case refused[] = {
    {"http://127.0.0.1:%d/get", NR_EINVAL, "address 127.0.0.1 (port %d) is loopback",
     "allowed by ssrf_allow only"},
    {"http://localhost:%d/get", NR_EINVAL, "is loopback", NULL},
    {"http://[::1]:%d/get", NR_EINVAL, "address ::1", "loopback"},
    {"http://169.254.169.254/latest/meta-data", NR_EINVAL,
     "address 169.254.169.254 (port 80) is link-local/cloud-metadata", NULL},
    {"http://100.100.100.200/latest/meta-data", NR_EINVAL, "cloud-metadata", NULL},
    {"http://[fd00:ec2::254]/latest/meta-data", NR_EINVAL, "fd00:ec2::254", "cloud-metadata"},
    {"http://10.0.0.1/", NR_EINVAL, "address 10.0.0.1 (port 80) is private", NULL},
    {"http://192.168.1.1:8080/", NR_EINVAL, "is private", NULL},
    {"http://100.64.0.1/", NR_EINVAL, "carrier-grade NAT", NULL},
    {"http://0.0.0.0:%d/", NR_EINVAL, "address 0.0.0.0", "unspecified"},
    {"http://[::]:%d/", NR_EINVAL, "unspecified", NULL},
    {"http://[::ffff:127.0.0.1]:%d/get", NR_EINVAL, "127.0.0.1", "loopback"},
    {"http://[::ffff:169.254.169.254]/", NR_EINVAL, "cloud-metadata", NULL},
    {"http://2130706433:%d/get", NR_EINVAL, "127.0.0.1", "loopback"},
    {"http://0x7f.1:%d/get", NR_EINVAL, "127.0.0.1", "loopback"},
    {"http://224.0.0.1/", NR_EINVAL, "multicast", NULL},
    {"http://255.255.255.255/", NR_EINVAL, "broadcast", NULL},
    {"http://metadata.test/latest/meta-data", NR_EINVAL, "169.254.169.254", "cloud-metadata"},
    {"http://loop.test:%d/get", NR_EINVAL, "127.0.0.1", "loopback"},
    {"file:///etc/passwd", NR_EINVAL, "scheme 'file' is not allowed", NULL},
    {"gopher://127.0.0.1:%d/_GET", NR_EINVAL, "scheme 'gopher' is not allowed", NULL},
    {"dict://127.0.0.1:%d/", NR_EINVAL, "scheme 'dict'", NULL},
    {"ftp://127.0.0.1:%d/", NR_EINVAL, "scheme 'ftp'", NULL},
};

static void check_refused(void *h, const ssrf_case *k, int port)
{
    char url[256], n1[160], n2[160];
    snprintf(url, sizeof(url), k->url, port);
    snprintf(n1, sizeof(n1), k->needle1, port);
    snprintf(n2, sizeof(n2), k->needle2 ? k->needle2 : "", port);
    nr_error err = {0};
    nr_http_response rs;
    nr_http_req rq = {.path = url, .timeout_ms = 20000};
    int rc = nr_http_request(h, &rq, &rs, &err);
    if (rc != k->code || !strstr(err.message, n1) || !strstr(err.message, n2))
        fail_msg("%s: got %s \"%s\", want %s with \"%s\" \"%s\"", url, nr_err_name(rc), err.message,
                 nr_err_name(k->code), n1, n2);
    if (!strstr(err.message, "http 'api'"))
        fail_msg("%s: message does not name the resource: %s", url, err.message);
    assert_null(rs.body);
}

static void test_ssrf_table(void **state)
{
    (void)state;
    int port = http_httpbin_port();
    char resolve[160];
    snprintf(resolve, sizeof(resolve), "metadata.test:80:169.254.169.254 loop.test:%d:127.0.0.1",
             port);
    /* protection on, nothing allowed */
    nr_http_config c;
    http_cfg_init(&c, port, false);
    http_cfg_set(&c.resolve, resolve);
    void *h = http_client_new(&c, ID, NULL);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        check_refused(h, &refused[i], port);
    /* relative paths go to base_url, which is loopback: refused too */
    nr_error err = {0};
    nr_http_response rs;
    nr_http_req rq = {.path = "/get"};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "is loopback");
    /* the health check says why */
    nr_health_report hr;
    memset(&hr, 0, sizeof(hr));
    assert_int_equal(nr_http_type.health_check(h, NULL, nr_deadline_in_ms(10000), &hr, &err),
                     NR_OK);
    assert_int_equal(hr.state, NR_HEALTH_UNHEALTHY);
    assert_non_null(strstr(hr.reason, "refused by ssrf_protection"));
    destroy(h);

    /* allow-listed: only 127.0.0.1 on this port */
    char allow[64];
    snprintf(allow, sizeof(allow), "127.0.0.1/32:%d", port);
    http_cfg_set(&c.ssrf_allow, allow);
    h = http_client_new(&c, ID, NULL);
    const char *pass[] = {"/get", "http://127.0.0.1:%d/get", "http://loop.test:%d/get",
                          "http://2130706433:%d/get", "http://localhost:%d/get"};
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        char url[128];
        snprintf(url, sizeof(url), pass[i], port);
        rq = (nr_http_req){.path = url, .timeout_ms = 20000};
        int rc = nr_http_request(h, &rq, &rs, &err);
        /* localhost may resolve to ::1 first; 127.0.0.1 is then used */
        if (rc != NR_OK)
            fail_msg("%s: %s", url, err.message);
        assert_int_equal(rs.status, 200);
        nr_http_response_free(&rs);
    }
    const ssrf_case still[] = {
        {"http://127.0.0.2:%d/get", NR_EINVAL, "address 127.0.0.2", "loopback"},
        {"http://[::1]:%d/get", NR_EINVAL, "address ::1", NULL},
        {"http://169.254.169.254/", NR_EINVAL, "cloud-metadata", NULL},
        {"http://metadata.test/", NR_EINVAL, "169.254.169.254", NULL},
    };
    for (size_t i = 0; i < sizeof(still) / sizeof(still[0]); i++)
        check_refused(h, &still[i], port);
    char other[64];
    snprintf(other, sizeof(other), "http://127.0.0.1:%d/", port == 65535 ? 1 : port + 1);
    rq = (nr_http_req){.path = other};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL); /* another port */
    NR_ASSERT_ERR(err, NR_EINVAL, "is loopback");
    destroy(h);

    /* protection off: loopback is reachable without an allow-list */
    http_cfg_set(&c.ssrf_allow, NULL);
    c.ssrf_protection = false;
    h = http_client_new(&c, ID, NULL);
    http_do_ok(h, "GET", "/get", &rs);
    assert_int_equal(rs.status, 200);
    nr_http_response_free(&rs);
    /* but never another scheme */
    rq = (nr_http_req){.path = "file:///etc/passwd"};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    destroy(h);
    nr_config_free(&nr_http_config_schema, &c);
}

static void test_redirects(void **state)
{
    (void)state;
    int port = http_httpbin_port();
    nr_http_config c;
    http_cfg_init(&c, port, true);
    c.follow_redirects = true;
    c.max_redirects = 3;
    void *h = http_client_new(&c, ID, NULL);
    nr_error err = {0};
    nr_http_response rs;
    char path[256];

    nr_http_req rq = {.path = "/redirect-to?url=http://169.254.169.254/latest/meta-data"};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "address 169.254.169.254 (port 80) is link-local/cloud-metadata");
    snprintf(path, sizeof(path), "/redirect-to?url=http://127.0.0.2:%d/get", port);
    rq = (nr_http_req){.path = path};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "address 127.0.0.2");
    snprintf(path, sizeof(path), "/redirect-to?url=http://localhost:%d/get", port + 0);
    rq = (nr_http_req){.path = "/redirect-to?url=file:///etc/passwd"};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "scheme not allowed");

    http_do_ok(h, "GET", "/redirect/2", &rs);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.redirects, 2);
    nr_http_response_free(&rs);
    snprintf(path, sizeof(path), "/redirect-to?url=http://127.0.0.1:%d/get", port);
    http_do_ok(h, "GET", path, &rs);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.redirects, 1);
    nr_http_response_free(&rs);

    rq = (nr_http_req){.path = "/redirect/5"};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "max_redirects");
    destroy(h);

    /* not followed by default: the 302 is the answer */
    c.follow_redirects = false;
    h = http_client_new(&c, ID, NULL);
    http_do_ok(h, "GET", "/redirect-to?url=http://169.254.169.254/", &rs);
    assert_int_equal(rs.status, 302);
    char loc[128];
    assert_true(nr_http_response_header(&rs, "Location", loc, sizeof(loc)) > 0);
    assert_string_equal(loc, "http://169.254.169.254/");
    nr_http_response_free(&rs);
    destroy(h);
    nr_config_free(&nr_http_config_schema, &c);
}

/* ---- recycle and bad arguments --------------------------------------------------------------- */

static void test_recycle_resets_options(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    void *h = http_client_new(&c, ID, NULL);
    nr_error err = {0};
    nr_http_response rs;
    assert_int_equal(curl_easy_setopt(nr_http_curl(h), CURLOPT_USERAGENT, "changed-by-user"),
                     CURLE_OK);
    http_do_ok(h, "GET", "/user-agent", &rs);
    assert_non_null(strstr(rs.body, "changed-by-user"));
    nr_http_response_free(&rs);
    assert_int_equal(nr_http_type.recycle(h, NULL, &err), NR_OK);
    assert_int_equal(nr_http_type.validate(h, NULL, &err), NR_OK);
    http_do_ok(h, "GET", "/user-agent", &rs);
    assert_non_null(strstr(rs.body, "nebula-resource-http"));
    nr_http_response_free(&rs);
    destroy(h);
    nr_config_free(&nr_http_config_schema, &c);
}

static void test_bad_requests(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    void *h = http_client_new(&c, ID, NULL);
    nr_error err = {0};
    nr_http_response rs;
    nr_http_req rq = {.method = "GE T", .path = "/get"};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "http 'api': method");
    rq = (nr_http_req){.method = "GET", .path = "/get", .body = "x", .body_len = 1};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "cannot carry a body");
    rq = (nr_http_req){.path = "/post", .body_len = 3};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    rq = (nr_http_req){.path = "/get", .nheaders = 1};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    const char *nul[] = {NULL};
    rq = (nr_http_req){.path = "/get", .headers = nul, .nheaders = 1};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    const char *crlf[] = {"X-A: 1\r\nX-Injected: 2"};
    rq = (nr_http_req){.path = "/get", .headers = crlf, .nheaders = 1};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "control character");
    rq = (nr_http_req){.path = "/get", .timeout_ms = -1};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_EINVAL);
    assert_int_equal(nr_http_request(h, NULL, &rs, &err), NR_EINVAL);
    assert_int_equal(nr_http_request(h, &rq, NULL, &err), NR_EINVAL);
    /* still usable */
    http_do_ok(h, "GET", "/get", &rs);
    nr_http_response_free(&rs);
    destroy(h);
    nr_config_free(&nr_http_config_schema, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_post_with_default_headers),
        cmocka_unit_test(test_credential_as_bearer),
        cmocka_unit_test(test_secrets_never_shown),
        cmocka_unit_test(test_connection_reuse),
        cmocka_unit_test(test_timeouts_deadline_cancel),
        cmocka_unit_test(test_max_response_bytes),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_refused_port),
        cmocka_unit_test(test_create_deadline_and_cancel),
        cmocka_unit_test(test_ssrf_table),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_recycle_resets_options),
        cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests_name("http_client", tests, NULL, NULL);
}
