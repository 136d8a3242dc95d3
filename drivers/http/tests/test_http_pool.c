/*
 * test_http_pool.c - the HTTP driver through the real pool, against a real
 * httpbin (and nginx in front of it): leases, the credential, keep-alive
 * across leases, many threads, health checks, unreachable servers and the
 * acquire deadline.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "driver_pool.h"
#include "http_test_env.h"

#define ID    "api-pool"
#define TOKEN "p00l-t0ken-31337"

static nr_pool *make_pool_with(nr_http_config *c, const nr_pool_config *pc, const nr_secret *cred)
{
    return nr_dt_pool(ID, &nr_http_type, c, pc, cred);
}

static nr_pool *make_pool(nr_http_config *c, int64_t max_size, int64_t min_idle,
                          const nr_secret *cred)
{
    nr_pool_config pc;
    nr_dt_pool_config(&pc, max_size, min_idle);
    return make_pool_with(c, &pc, cred);
}

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

static void test_pool_requests_with_credential(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_nginx_port(), true);
    http_cfg_set(&c.headers, "X-Team: pool");
    nr_secret *tok = NULL;
    nr_error err = {0};
    assert_int_equal(nr_secret_from_str(&tok, TOKEN, &err), NR_OK);
    nr_pool *p = make_pool(&c, 1, 0, tok);

    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(p, &g);
    void *h = nr_guard_handle(&g);
    nr_http_response rs;
    http_do_ok(h, "GET", "/bearer", &rs);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "\"authenticated\":true"));
    nr_http_response_free(&rs);
    http_do_ok(h, "GET", "/headers", &rs);
    assert_non_null(strstr(rs.body, "\"X-Team\":\"pool\""));
    nr_http_response_free(&rs);
    /* the lease holder changes an option; the release's recycle undoes it */
    curl_easy_setopt(nr_http_curl(h), CURLOPT_USERAGENT, "lease-ua");
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_dt_acquire_ok(p, &g);
    assert_ptr_equal(nr_guard_handle(&g), h); /* max_size 1: the same client */
    const char *extra[] = {"Content-Type: application/json"};
    nr_http_req rq = {
        .path = "/post", .body = "{\"n\":1}", .body_len = 7, .headers = extra, .nheaders = 1};
    assert_int_equal(nr_http_request(h, &rq, &rs, &err), NR_OK);
    assert_int_equal(rs.status, 200);
    assert_non_null(strstr(rs.body, "\"json\":{\"n\":1}"));
    assert_non_null(strstr(rs.body, "nebula-resource-http"));
    assert_null(strstr(rs.body, "lease-ua"));
    /* nginx keeps the connection: no new connect on the next lease */
    assert_int_equal(rs.num_connects, 0);
    nr_http_response_free(&rs);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(p, &st);
    assert_int_equal(st.creates, 1);
    assert_int_equal(st.recycle_failures, 0);
    nr_dt_pool_done(p);
    nr_secret_free(tok);
    nr_config_free(&nr_http_config_schema, &c);
}

/* ---- many threads -------------------------------------------------------------------------- */

#define THREADS    4
#define ITERATIONS 15

typedef struct worker {
    nr_pool *pool;
    pthread_barrier_t *start;
    atomic_int *holders;
    int failures;
    char message[NR_ERROR_MESSAGE_MAX];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < ITERATIONS; i++) {
        nr_guard g = NR_GUARD_INIT;
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(60000));
        nr_error err = {0};
        if (nr_pool_acquire(w->pool, &ctx, &g, &err) != NR_OK) {
            w->failures++;
            snprintf(w->message, sizeof(w->message), "acquire: %.200s", err.message);
            continue;
        }
        nr_instance_info info;
        int stamp = -1;
        if (nr_guard_info(&g, &info) == NR_OK && info.id < 64) {
            stamp = (int)info.id;
            if (atomic_fetch_add(&w->holders[stamp], 1) != 0)
                w->failures++; /* a second holder: a double hand-out */
        }
        nr_http_response rs;
        nr_http_req rq = {.path = i % 2 ? "/get" : "/status/204", .timeout_ms = 30000};
        if (nr_http_request(nr_guard_handle(&g), &rq, &rs, &err) != NR_OK) {
            w->failures++;
            snprintf(w->message, sizeof(w->message), "request: %.200s", err.message);
        } else if (rs.status != (i % 2 ? 200 : 204)) {
            w->failures++;
            snprintf(w->message, sizeof(w->message), "status %ld", rs.status);
        }
        nr_http_response_free(&rs);
        if (stamp >= 0)
            atomic_fetch_sub(&w->holders[stamp], 1);
        if (nr_guard_release(&g) != NR_OK)
            w->failures++;
    }
    return NULL;
}

static void test_pool_threads(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_nginx_port(), true);
    nr_pool *p = make_pool(&c, 2, 0, NULL);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    atomic_int holders[64];
    for (int i = 0; i < 64; i++)
        atomic_init(&holders[i], 0);
    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.pool = p, .start = &start, .holders = holders};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++)
        if (w[i].failures)
            fail_msg("thread %d: %d failures, last: %s", i, w[i].failures, w[i].message);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(p, &st);
    assert_true(st.creates <= 2);
    assert_int_equal(st.acquires, THREADS * ITERATIONS);
    nr_dt_pool_done(p);
    nr_config_free(&nr_http_config_schema, &c);
}

/* ---- health, unreachable, deadline ---------------------------------------------------------- */

static void test_pool_health(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    http_cfg_set(&c.health_path, "/status/200");
    nr_pool *p = make_pool(&c, 2, 2, NULL);
    nr_error err = {0};
    assert_int_equal(nr_pool_fill(p, nr_deadline_in_ms(30000), &err), NR_OK);
    nr_pool_health_report rep;
    assert_int_equal(nr_pool_check_health(p, 20000 * NR_NS_PER_MS, &rep, &err), NR_OK);
    assert_int_equal(rep.checked, 2);
    assert_int_equal(rep.healthy, 2);
    assert_int_equal(rep.worst, NR_HEALTH_HEALTHY);
    nr_dt_pool_done(p);

    http_cfg_set(&c.health_path, "/status/503");
    p = make_pool(&c, 1, 1, NULL);
    assert_int_equal(nr_pool_fill(p, nr_deadline_in_ms(30000), &err), NR_OK);
    assert_int_equal(nr_pool_check_health(p, 20000 * NR_NS_PER_MS, &rep, &err), NR_OK);
    assert_int_equal(rep.worst, NR_HEALTH_UNHEALTHY);
    assert_int_equal(rep.discarded, 1);
    assert_string_equal(rep.reason, "GET /status/503 -> 503");
    nr_dt_pool_done(p);
    nr_config_free(&nr_http_config_schema, &c);
}

static void test_pool_unreachable(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, closed_port(), true);
    nr_secret *tok = NULL;
    nr_error err = {0};
    assert_int_equal(nr_secret_from_str(&tok, TOKEN, &err), NR_OK);
    /* a cheap create: the lease works, the request says why it failed */
    nr_pool *p = make_pool(&c, 1, 0, tok);
    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(p, &g);
    nr_http_response rs;
    nr_http_req rq = {.path = "/get"};
    assert_int_equal(nr_http_request(nr_guard_handle(&g), &rq, &rs, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "http 'api-pool': cannot connect");
    assert_null(strstr(err.message, TOKEN));
    assert_int_equal(nr_guard_taint(&g), NR_OK);
    nr_dt_pool_done(p);

    /* connect_on_create: every create fails. An acquire (nothing was created
     * before it, so the creator's create is the one failing) waits out its
     * deadline; its timeout carries the create's error as the cause. */
    c.connect_on_create = true;
    nr_pool_config pc;
    nr_dt_pool_config(&pc, 1, 0);
    pc.breaker_failures = 3;
    p = make_pool_with(&c, &pc, tok);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(2000));
    assert_int_equal(nr_pool_acquire(p, &ctx, &g, &err), NR_ETIMEDOUT);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "pool 'api-pool': no instance became free in time");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "the last create failed: http 'api-pool': cannot connect");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_int_equal(err.driver_code, CURLE_COULDNT_CONNECT);
    assert_string_equal(err.resource_id, ID);
    assert_null(strstr(err.message, TOKEN));
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(p, &st);
    assert_true(st.create_failures >= 1);
    assert_int_equal(st.creates, 0);

    /* The create's own error, on this thread: nr_pool_prime (once a create
     * the acquire left running is over, or it would count toward the
     * prime's one instance). Three in a row open the breaker. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(nr_pool_wait_returned(p, nr_deadline_in_ms(60000), &err), NR_OK);
        assert_int_equal(nr_pool_prime(p, 1, nr_deadline_in_ms(10000), &err), NR_EUNAVAIL);
        NR_ASSERT_ERR(err, NR_EUNAVAIL,
                      "pool 'api-pool': create failed: http 'api-pool': cannot connect");
        NR_ASSERT_ERR(err, NR_EUNAVAIL, "(create GET /)");
        assert_int_equal(err.cause, NR_EUNAVAIL);
        assert_int_equal(err.driver_code, CURLE_COULDNT_CONNECT);
        assert_string_equal(err.resource_id, ID);
        assert_null(strstr(err.message, TOKEN));
    }

    /* the breaker is open: an acquire fails at once (not at its deadline)
     * with the create's reason */
    ctx.deadline = nr_deadline_in_ms(60000);
    assert_int_equal(nr_pool_acquire(p, &ctx, &g, &err), NR_EUNAVAIL);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "pool 'api-pool': unavailable: ");
    NR_ASSERT_ERR(err, NR_EUNAVAIL,
                  "(the breaker is open); the last: http 'api-pool': cannot connect");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_int_equal(err.driver_code, CURLE_COULDNT_CONNECT);
    assert_string_equal(err.resource_id, ID);
    assert_null(strstr(err.message, TOKEN));
    nr_dt_pool_done(p);
    nr_secret_free(tok);
    nr_config_free(&nr_http_config_schema, &c);
}

static void test_pool_acquire_deadline(void **state)
{
    (void)state;
    nr_http_config c;
    http_cfg_init(&c, http_httpbin_port(), true);
    c.connect_on_create = true;
    http_cfg_set(&c.health_path, "/delay/10"); /* a server that does not answer in time */
    c.health_timeout_ms = 60000;
    nr_pool_config pc;
    nr_dt_pool_config(&pc, 1, 0);
    pc.create_timeout_ms = 2000; /* the create the acquire leaves behind gives up in 2 s */
    nr_pool *p = make_pool_with(&c, &pc, NULL);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(500));
    assert_int_equal(nr_pool_acquire(p, &ctx, &g, &err), NR_ETIMEDOUT);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "pool 'api-pool': no instance became free in time");
    /* the create is still running at the acquire's deadline: no create error yet */
    assert_null(strstr(err.message, "the last create failed"));
    assert_int_equal(err.cause, NR_OK);
    /* drain waits for that create, which runs out of time on its own */
    assert_int_equal(nr_pool_drain(p, nr_deadline_in_ms(60000), &err), NR_OK);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(p, &st);
    assert_int_equal(st.create_failures, 1);
    assert_int_equal(st.creates, 0);
    nr_dt_pool_done(p);
    nr_config_free(&nr_http_config_schema, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_requests_with_credential),
        cmocka_unit_test(test_pool_threads),
        cmocka_unit_test(test_pool_health),
        cmocka_unit_test(test_pool_unreachable),
        cmocka_unit_test(test_pool_acquire_deadline),
    };
    return cmocka_run_group_tests_name("http_pool", tests, NULL, NULL);
}
