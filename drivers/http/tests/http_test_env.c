/* http_test_env.c - see http_test_env.h. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "http_test_env.h"

int http_env_port(const char *var)
{
    const char *v = getenv(var);
    if (!v || atoi(v) <= 0)
        fail_msg("%s is not set: run this test through drivers/http/tests/with-httpbin.sh", var);
    return atoi(v);
}

int http_httpbin_port(void)
{
    return http_env_port("HTTPBIN_PORT");
}

int http_nginx_port(void)
{
    return http_env_port("NGINX_PORT");
}

void http_cfg_set(char **field, const char *value)
{
    nr_free(*field);
    *field = value ? nr_strdup(value) : NULL;
    if (value && !*field)
        fail_msg("out of memory");
}

void http_cfg_init(nr_http_config *c, int port, bool allow)
{
    nr_error err = {0};
    if (nr_config_init(&nr_http_config_schema, c, &err) != NR_OK)
        fail_msg("config init: %s", err.message);
    char buf[128];
    snprintf(buf, sizeof(buf), "http://127.0.0.1:%d", port);
    http_cfg_set(&c->base_url, buf);
    if (allow) {
        snprintf(buf, sizeof(buf), "127.0.0.1/32:%d", port);
        http_cfg_set(&c->ssrf_allow, buf);
    }
}

void http_ctl(const char *what)
{
    const char *ctl = getenv("NR_TEST_HTTP_CTL");
    if (!ctl)
        fail_msg("NR_TEST_HTTP_CTL is not set");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s", ctl, what);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("'%s' failed: %d", cmd, rc);
}

void *http_client_new(const nr_http_config *c, const char *id, const nr_secret *cred)
{
    nr_error err = {0};
    nr_create_ctx ctx = {
        .resource_id = id, .deadline = nr_deadline_in_ms(30000), .credential = cred};
    void *h = NULL;
    int rc = nr_http_type.create(&h, c, &ctx, NULL, &err);
    if (rc != NR_OK)
        fail_msg("create: %s: %s", nr_err_name(rc), err.message);
    return h;
}

void http_do_ok(void *h, const char *method, const char *path, nr_http_response *rs)
{
    nr_error err = {0};
    nr_http_req rq = {.method = method, .path = path, .timeout_ms = 30000};
    int rc = nr_http_request(h, &rq, rs, &err);
    if (rc != NR_OK)
        fail_msg("%s %s: %s: %s", method ? method : "GET", path, nr_err_name(rc), err.message);
}
