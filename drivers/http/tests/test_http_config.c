/*
 * test_http_config.c - nr_http_config_schema: defaults, JSON parse, the
 * rules of the schema's check, and that secrets never print (no network).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/http.h"

#define SECRET "s3cr3t-API-key-9f8e7d"

static void test_defaults(void **state)
{
    (void)state;
    nr_http_config c;
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_http_config_schema, &c, &err), NR_OK);
    assert_null(c.base_url);
    assert_string_equal(c.health_path, "/");
    assert_string_equal(c.healthy_status, "200-399");
    assert_string_equal(c.credential_header, "Authorization");
    assert_string_equal(c.credential_prefix, "Bearer ");
    assert_true(c.ssrf_protection);
    assert_true(c.verify_peer);
    assert_true(c.verify_host);
    assert_false(c.follow_redirects);
    assert_int_equal(c.max_redirects, 5);
    assert_int_equal(c.tls_min_version, NR_HTTP_TLS_1_2);
    assert_int_equal(c.health_method, NR_HTTP_HEALTH_GET);
    assert_int_equal(c.max_response_bytes, 16 * 1024 * 1024);
    /* base_url is required */
    nr_config_report rep;
    assert_int_equal(nr_config_validate(&nr_http_config_schema, &c, "$", &rep, &err), NR_ECONFIG);
    assert_true(rep.count >= 1);
    assert_string_equal(rep.items[0].path, "$.base_url");
    nr_config_free(&nr_http_config_schema, &c);
}

static int parse(const char *json, nr_http_config *c, nr_config_report *rep)
{
    nr_error err = {0};
    return nr_config_parse(&nr_http_config_schema, json, strlen(json), c, rep, &err);
}

static void test_parse_full(void **state)
{
    (void)state;
    const char *json = "{\"base_url\": \"https://api.example.com/v1\","
                       " \"headers\": \"X-Team: core\\nAccept: application/json\","
                       " \"secret_header_values\": \"X-Api-Key: " SECRET "\","
                       " \"healthy_status\": \"200,204 300-302\","
                       " \"health_method\": \"HEAD\", \"tls_min_version\": \"1.3\","
                       " \"ssrf_allow\": \"10.0.0.0/8:443, [fd00::]/8\","
                       " \"resolve\": \"api.example.com:443:10.1.2.3\","
                       " \"follow_redirects\": true, \"max_redirects\": 2}";
    nr_http_config c;
    nr_config_report rep;
    int rc = parse(json, &c, &rep);
    if (rc != NR_OK)
        nr_config_report_print(&rep, stderr);
    assert_int_equal(rc, NR_OK);
    assert_string_equal(c.base_url, "https://api.example.com/v1");
    assert_int_equal(c.health_method, NR_HTTP_HEALTH_HEAD);
    assert_int_equal(c.tls_min_version, NR_HTTP_TLS_1_3);

    /* the printer and the serializer never show the secret */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    nr_config_print(&nr_http_config_schema, &c, f);
    fclose(f);
    assert_null(strstr(buf, SECRET));
    assert_non_null(strstr(buf, NR_SECRET_REDACTED));
    assert_non_null(strstr(buf, "X-Team: core"));
    free(buf);
    nr_error err = {0};
    char *text = nr_config_serialize(&nr_http_config_schema, &c, NR_CONFIG_SECRETS_REDACT, &err);
    assert_non_null(text);
    assert_null(strstr(text, SECRET));
    nr_free(text);
    /* without the secret, the text parses back (round trip of everything else) */
    text = nr_config_serialize(&nr_http_config_schema, &c, NR_CONFIG_SECRETS_OMIT, &err);
    assert_non_null(text);
    assert_null(strstr(text, SECRET));
    nr_http_config back;
    nr_config_report rep2;
    assert_int_equal(parse(text, &back, &rep2), NR_OK);
    assert_string_equal(back.headers, c.headers);
    assert_string_equal(back.ssrf_allow, c.ssrf_allow);
    nr_config_free(&nr_http_config_schema, &back);
    nr_free(text);
    nr_config_free(&nr_http_config_schema, &c);
}

typedef struct bad_case {
    const char *json;
    const char *path, *needle;
} bad_case;

static const bad_case bad_cases[] = {
    {"{\"base_url\": \"ftp://example.com/\"}", "$.base_url", "scheme 'ftp' is not allowed"},
    {"{\"base_url\": \"file:///etc/passwd\"}", "$.base_url", "scheme 'file'"},
    {"{\"base_url\": \"example.com\"}", "$.base_url", "absolute http"},
    {"{\"base_url\": \"http://\"}", "$.base_url", "URL"},
    {"{\"base_url\": \"http://h/\", \"headers\": \"Authorization: Bearer " SECRET "\"}",
     "$.headers", "header 'Authorization' is secret"},
    {"{\"base_url\": \"http://h/\", \"headers\": \"x-api-key: " SECRET "\"}", "$.headers",
     "is secret"},
    {"{\"base_url\": \"http://h/\", \"headers\": \"NoColon " SECRET "\"}", "$.headers", "no ':'"},
    {"{\"base_url\": \"http://h/\", \"headers\": \"Bad Name: 1\"}", "$.headers",
     "not an HTTP token"},
    {"{\"base_url\": \"http://h/\", \"secret_header_values\": \"Token " SECRET "\"}",
     "$.secret_header_values", "no ':'"},
    {"{\"base_url\": \"http://h/\", \"healthy_status\": \"2xx\"}", "$.healthy_status",
     "status code or range"},
    {"{\"base_url\": \"http://h/\", \"health_path\": \"health\"}", "$.health_path",
     "must start with '/'"},
    {"{\"base_url\": \"http://h/\", \"ssrf_allow\": \"127.0.0.1/40\"}", "$.ssrf_allow",
     "prefix length"},
    {"{\"base_url\": \"http://h/\", \"resolve\": \"a:b\"}", "$.resolve", "host:port:address"},
    {"{\"base_url\": \"http://h/\", \"client_key\": \"/k.pem\"}", "$.client_key",
     "needs client_cert"},
    {"{\"base_url\": \"http://h/\", \"max_redirects\": 101}", "$.max_redirects", NULL},
    {"{\"base_url\": \"http://h/\", \"tls_min_version\": \"0.9\"}", "$.tls_min_version", NULL},
    {"{\"base_url\": \"http://h/\", \"bogus\": 1}", "$.bogus", NULL},
};

static void test_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        nr_http_config c;
        nr_config_report rep;
        int rc = parse(bad_cases[i].json, &c, &rep);
        if (rc != NR_ECONFIG)
            fail_msg("case %zu accepted: %s", i, bad_cases[i].json);
        bool found = false;
        for (size_t k = 0; k < rep.count; k++) {
            const nr_config_issue *is = &rep.items[k];
            assert_null(strstr(is->rule, SECRET));
            assert_null(strstr(is->value, SECRET));
            if (strcmp(is->path, bad_cases[i].path) == 0 &&
                (!bad_cases[i].needle || strstr(is->rule, bad_cases[i].needle)))
                found = true;
        }
        if (!found) {
            nr_config_report_print(&rep, stderr);
            fail_msg("case %zu: no issue at %s with '%s'", i, bad_cases[i].path,
                     bad_cases[i].needle ? bad_cases[i].needle : "");
        }
        nr_config_free(&nr_http_config_schema, &c);
    }
}

/* create() refuses a config that breaks a rule, naming the resource and field. */
static void test_create_refuses_bad_config(void **state)
{
    (void)state;
    nr_http_config c;
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_http_config_schema, &c, &err), NR_OK);
    nr_create_ctx ctx = {.resource_id = "cfg-api"};
    void *h = NULL;
    assert_int_equal(nr_http_type.create(&h, &c, &ctx, NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "http 'cfg-api': base_url is required");
    assert_string_equal(err.resource_id, "cfg-api");
    c.base_url = nr_strdup("gopher://127.0.0.1:70/");
    assert_int_equal(nr_http_type.create(&h, &c, &ctx, NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "scheme 'gopher' is not allowed");
    nr_free(c.base_url);
    c.base_url = nr_strdup("http://127.0.0.1:1/");
    nr_free(c.healthy_status);
    c.healthy_status = nr_strdup("600");
    assert_int_equal(nr_http_type.create(&h, &c, &ctx, NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.healthy_status");
    assert_null(h);
    /* NULL arguments: clear errors, no crash */
    assert_int_equal(nr_http_type.create(NULL, &c, &ctx, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_http_type.create(&h, NULL, &ctx, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_http_type.validate(NULL, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_http_type.recycle(NULL, NULL, &err), NR_EINVAL);
    nr_health_report hr;
    assert_int_equal(nr_http_type.health_check(NULL, NULL, nr_deadline_in_ms(100), &hr, &err),
                     NR_EINVAL);
    nr_http_type.destroy(NULL, NULL);
    nr_http_req rq = {.path = "/"};
    nr_http_response rs;
    assert_int_equal(nr_http_request(NULL, &rq, &rs, &err), NR_EINVAL);
    assert_null(rs.body);
    assert_null(nr_http_curl(NULL));
    nr_http_response_free(NULL);
    char buf[64];
    assert_int_equal(nr_http_response_header(NULL, "x", buf, sizeof(buf)), -1);
    nr_http_describe(NULL, buf, sizeof(buf));
    assert_non_null(strstr(buf, "not an open client"));
    assert_int_equal(nr_resource_type_check(&nr_http_type, &err), NR_OK);
    nr_config_free(&nr_http_config_schema, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_create_refuses_bad_config),
    };
    return cmocka_run_group_tests_name("http_config", tests, NULL, NULL);
}
