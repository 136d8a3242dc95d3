/*
 * http_example.c - a pool of HTTP clients: create it, lease a client, send
 * requests on it (the connection stays open between them), give it back,
 * check health, destroy the pool.
 *
 *     http_example BASE_URL [SSRF_ALLOW]
 *
 * BASE_URL is the server, e.g. https://httpbin.org. SSRF protection refuses
 * loopback and private addresses: to reach a server on this machine, allow
 * its address and port, e.g.
 *     http_example http://127.0.0.1:8080 127.0.0.1/32:8080
 */
#include <stdio.h>
#include <string.h>

#include "nebula/http.h"
#include "nebula/resource.h"

static int fail(const char *what, const nr_error *err)
{
    fprintf(stderr, "%s: %s: %s\n", what, nr_err_name(err->code), err->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL [SSRF_ALLOW]\n", argv[0]);
        return 2;
    }
    nr_error err = {0};

    /* 1. The driver's config: defaults, then what differs. */
    nr_http_config cfg;
    if (nr_config_init(&nr_http_config_schema, &cfg, &err) != NR_OK)
        return fail("config", &err);
    cfg.base_url = nr_strdup(argv[1]);
    cfg.headers = nr_strdup("Accept: application/json\nX-Client: http-example");
    cfg.ssrf_allow = argc > 2 ? nr_strdup(argv[2]) : NULL;
    nr_free(cfg.health_path);
    cfg.health_path = nr_strdup("/status/200");
    cfg.request_timeout_ms = 10000;
    if (!cfg.base_url || !cfg.headers || !cfg.health_path || (argc > 2 && !cfg.ssrf_allow)) {
        fprintf(stderr, "config: out of memory\n");
        nr_config_free(&nr_http_config_schema, &cfg);
        return 1;
    }

    /* 2. The pool: at most 4 clients, 1 kept ready. The credential (here a
     * literal; usually from a credential provider) is sent as a bearer token. */
    nr_secret *token = NULL;
    if (nr_secret_from_str(&token, "example-token", &err) != NR_OK) {
        nr_config_free(&nr_http_config_schema, &cfg);
        return fail("secret", &err);
    }
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;
    pc.min_idle = 1;
    nr_pool_options opts = NR_POOL_OPTIONS(.id = "example-api", .type = &nr_http_type,
                                           .config = &cfg, .pool = &pc, .credential = token);
    nr_pool *pool = NULL;
    int rc = nr_pool_create(&pool, &opts, &err);
    nr_secret_free(token); /* the pool keeps its own copy */
    if (rc != NR_OK) {
        nr_config_free(&nr_http_config_schema, &cfg);
        return fail("pool", &err);
    }

    /* 3. Lease a client (waiting at most 1 s), send two requests, give it back. */
    int status = 0;
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(1000), .caller = "example");
    if (nr_pool_acquire(pool, &ctx, &g, &err) != NR_OK) {
        status = fail("acquire", &err);
    } else {
        void *client = nr_guard_handle(&g);
        nr_http_response resp;
        nr_http_req get = {.path = "/get"};
        if (nr_http_request(client, &get, &resp, &err) != NR_OK) {
            status = fail("GET /get", &err);
        } else {
            printf("GET /get -> %ld, %zu bytes\n", resp.status, resp.body_len);
            nr_http_response_free(&resp);
        }
        const char *json[] = {"Content-Type: application/json"};
        nr_http_req post = {.path = "/post",
                            .headers = json,
                            .nheaders = 1,
                            .body = "{\"order\": 42}",
                            .body_len = strlen("{\"order\": 42}"),
                            .timeout_ms = 5000};
        if (status == 0 && nr_http_request(client, &post, &resp, &err) != NR_OK) {
            status = fail("POST /post", &err);
        } else if (status == 0) {
            printf("POST /post -> %ld, new connections: %ld\n", resp.status, resp.num_connects);
            nr_http_response_free(&resp);
        }
        nr_guard_release(&g); /* recycle puts the configured options back */
    }

    /* 4. A health round over the idle clients (GET /status/200). */
    nr_pool_health_report hr;
    if (status == 0 && nr_pool_check_health(pool, 5000 * NR_NS_PER_MS, &hr, &err) == NR_OK)
        printf("health: %s %s\n", nr_health_name(hr.worst), hr.reason);

    if (nr_pool_destroy(pool, &err) != NR_OK)
        status = fail("destroy", &err);
    nr_config_free(&nr_http_config_schema, &cfg);
    return status;
}
