/*
 * test_mongo_pool.c - the MongoDB driver through the real pool, against
 * CongoDB (a MongoDB wire-protocol server) started by with-congodb.sh, which
 * exports NR_TEST_MONGO_PORT and NR_TEST_MONGO_CTL ("... ctl stop|start").
 */
#define _POSIX_C_SOURCE 200809L
#include "driver_pool.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nebula/mongo.h"

#define ID "orders-mongo"
#define PW "s3cr3t-Pa55word"

typedef struct fixture {
    char hosts[64];
    char db[64];
    nr_mongo_config cfg; /* owns its strings (nr_config_init) */
    nr_pool *pool;
} fixture;

static int seq;

static void set_str(char **field, const char *v)
{
    nr_free(*field);
    *field = v ? nr_strdup(v) : NULL;
}

static void assert_no_pw(const char *s)
{
    if (strstr(s, PW) || strstr(s, "s3cr3t"))
        fail_msg("the password leaked into \"%s\"", s);
}

static void server_ctl(const char *what)
{
    const char *ctl = getenv("NR_TEST_MONGO_CTL");
    assert_non_null(ctl);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s", ctl, what);
    if (system(cmd) != 0)
        fail_msg("'%s' failed", cmd);
}

static int setup(void **state)
{
    const char *port = getenv("NR_TEST_MONGO_PORT");
    if (!port) {
        fprintf(stderr, "NR_TEST_MONGO_PORT is not set: run through with-congodb.sh\n");
        return -1;
    }
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->hosts, sizeof(f->hosts), "127.0.0.1:%s", port);
    snprintf(f->db, sizeof(f->db), "nrtest_%d_%d", (int)getpid(), ++seq);
    nr_error err = {0};
    if (nr_config_init(&nr_mongo_config_schema, &f->cfg, &err) != NR_OK)
        return -1;
    set_str(&f->cfg.hosts, f->hosts);
    set_str(&f->cfg.database, f->db);
    f->cfg.server_selection_timeout_ms = 5000;
    f->cfg.connect_timeout_ms = 5000;
    f->cfg.socket_timeout_ms = 20000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    if (f->pool) {
        nr_error err = {0};
        if (nr_pool_destroy(f->pool, &err) != NR_OK) {
            fprintf(stderr, "teardown: %s\n", err.message);
            rc = -1;
        }
    }
    nr_config_free(&nr_mongo_config_schema, &f->cfg);
    free(f);
    return rc;
}

static void make_pool_with(fixture *f, const nr_pool_config *pc, const nr_secret *cred)
{
    f->pool = nr_dt_pool(ID, &nr_mongo_type, &f->cfg, pc, cred);
}

static void make_pool(fixture *f, int64_t max_size, int64_t min_idle, const nr_secret *cred)
{
    nr_pool_config pc;
    nr_dt_pool_config(&pc, max_size, min_idle);
    make_pool_with(f, &pc, cred);
}

/* Wait until the creates the creator still runs have ended (a failing one
 * may be in flight after an acquire gave up), so that teardown's destroy
 * finds nothing being created. Nothing may be leased. */
static void wait_creates(fixture *f)
{
    nr_error err = {0};
    int rc = nr_pool_wait_returned(f->pool, nr_deadline_in_ms(60000), &err);
    if (rc != NR_OK)
        fail_msg("wait for creates: %s: %s", nr_err_name(rc), err.message);
}

static mongoc_collection_t *coll_of(nr_guard *g, const char *name)
{
    void *h = nr_guard_handle(g);
    mongoc_client_t *c = nr_mongo_client(h);
    assert_non_null(c);
    assert_non_null(nr_mongo_database(h));
    return mongoc_client_get_collection(c, nr_mongo_database(h), name);
}

static int64_t count(mongoc_collection_t *coll, const bson_t *filter)
{
    bson_error_t be;
    int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &be);
    if (n < 0)
        fail_msg("count: %s", be.message);
    return n;
}

/* ---- tests ------------------------------------------------------------------------ */

/* insert, find, update, count and aggregate on leased clients; a client goes
 * back to the pool and is reused. */
static void test_crud(void **state)
{
    fixture *f = *state;
    make_pool(f, 3, 0, NULL);
    bson_error_t be;
    {
        NR_GUARD_SCOPED g = NR_GUARD_INIT;
        nr_dt_acquire_ok(f->pool, &g);
        mongoc_collection_t *coll = coll_of(&g, "items");
        for (int i = 0; i < 5; i++) {
            bson_t *doc = BCON_NEW("i", BCON_INT32(i), "qty", BCON_INT32(i * 2), "kind",
                                   BCON_UTF8(i % 2 ? "odd" : "even"));
            if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &be))
                fail_msg("insert: %s", be.message);
            bson_destroy(doc);
        }
        /* find qty > 3: i = 2, 3, 4 */
        bson_t *filter = BCON_NEW("qty", "{", "$gt", BCON_INT32(3), "}");
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
        const bson_t *doc;
        int found = 0;
        while (mongoc_cursor_next(cur, &doc))
            found++;
        if (mongoc_cursor_error(cur, &be))
            fail_msg("find: %s", be.message);
        mongoc_cursor_destroy(cur);
        assert_int_equal(found, 3);
        assert_int_equal(count(coll, filter), 3);
        bson_destroy(filter);
        /* update: i = 0 gets qty 100 */
        bson_t *sel = BCON_NEW("i", BCON_INT32(0));
        bson_t *upd = BCON_NEW("$inc", "{", "qty", BCON_INT32(100), "}");
        bson_t reply;
        if (!mongoc_collection_update_one(coll, sel, upd, NULL, &reply, &be))
            fail_msg("update: %s", be.message);
        bson_destroy(&reply);
        bson_destroy(upd);
        bson_destroy(sel);
        filter = BCON_NEW("qty", "{", "$gte", BCON_INT32(100), "}");
        assert_int_equal(count(coll, filter), 1);
        bson_destroy(filter);
        mongoc_collection_destroy(coll);
    }
    {
        /* the same client again: aggregate the sum of qty per kind */
        NR_GUARD_SCOPED g = NR_GUARD_INIT;
        nr_dt_acquire_ok(f->pool, &g);
        nr_instance_info info;
        assert_int_equal(nr_guard_info(&g, &info), NR_OK);
        assert_int_equal(info.use_count, 2);
        mongoc_collection_t *coll = coll_of(&g, "items");
        bson_t *pipeline = BCON_NEW("pipeline", "[", "{", "$group", "{", "_id", BCON_UTF8("$kind"),
                                    "total", "{", "$sum", BCON_UTF8("$qty"), "}", "}", "}", "{",
                                    "$sort", "{", "_id", BCON_INT32(1), "}", "}", "]");
        mongoc_cursor_t *cur =
            mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
        const bson_t *doc;
        int groups = 0;
        int64_t even = -1, odd = -1;
        while (mongoc_cursor_next(cur, &doc)) {
            bson_iter_t it;
            groups++;
            const char *kind = NULL;
            int64_t total = -1;
            if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
                kind = bson_iter_utf8(&it, NULL);
            if (bson_iter_init_find(&it, doc, "total") && BSON_ITER_HOLDS_NUMBER(&it))
                total = bson_iter_as_int64(&it);
            if (kind && strcmp(kind, "even") == 0)
                even = total;
            else if (kind && strcmp(kind, "odd") == 0)
                odd = total;
        }
        if (mongoc_cursor_error(cur, &be))
            fail_msg("aggregate: %s", be.message);
        mongoc_cursor_destroy(cur);
        bson_destroy(pipeline);
        assert_int_equal(groups, 2);
        assert_int_equal(even, 100 + 4 + 8); /* i = 0 (0 + 100), 2, 4 */
        assert_int_equal(odd, 2 + 6);        /* i = 1, 3 */
        mongoc_collection_destroy(coll);
    }
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.creates, 1);
    assert_int_equal(st.acquires, 2);
    assert_int_equal(st.releases, 2);
    assert_int_equal(st.validate_failures, 0);
    assert_int_equal(st.recycle_failures, 0);
}

/* The uri form (options kept, app name and timeouts from the fields). */
static void test_uri_form(void **state)
{
    fixture *f = *state;
    char uri[256];
    snprintf(uri, sizeof(uri), "mongodb://%s/?appname=from-uri&retryWrites=false", f->hosts);
    set_str(&f->cfg.hosts, NULL);
    set_str(&f->cfg.uri, uri);
    set_str(&f->cfg.app_name, "orders-service");
    make_pool(f, 1, 0, NULL);
    NR_GUARD_SCOPED g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    mongoc_client_t *c = nr_mongo_client(nr_guard_handle(&g));
    const mongoc_uri_t *u = mongoc_client_get_uri(c);
    assert_string_equal(mongoc_uri_get_appname(u), "orders-service");
    assert_false(mongoc_uri_get_option_as_bool(u, MONGOC_URI_RETRYWRITES, true));
    assert_int_equal(mongoc_uri_get_option_as_int32(u, MONGOC_URI_CONNECTTIMEOUTMS, 0), 5000);
    assert_null(mongoc_uri_get_password(u));
    mongoc_collection_t *coll = coll_of(&g, "via_uri");
    bson_t *doc = BCON_NEW("x", BCON_INT32(1));
    bson_error_t be;
    if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &be))
        fail_msg("insert: %s", be.message);
    bson_destroy(doc);
    bson_t all = BSON_INITIALIZER;
    assert_int_equal(count(coll, &all), 1);
    bson_destroy(&all);
    mongoc_collection_destroy(coll);
}

typedef struct worker {
    nr_pool *pool;
    int id, iterations, failures;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->iterations; i++) {
        nr_guard g = NR_GUARD_INIT;
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(60000));
        nr_error err = {0};
        if (nr_pool_acquire(w->pool, &ctx, &g, &err) != NR_OK) {
            w->failures++;
            continue;
        }
        void *h = nr_guard_handle(&g);
        mongoc_collection_t *coll =
            mongoc_client_get_collection(nr_mongo_client(h), nr_mongo_database(h), "par");
        bson_t *doc = BCON_NEW("w", BCON_INT32(w->id), "i", BCON_INT32(i));
        bson_error_t be;
        if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &be))
            w->failures++;
        bson_destroy(doc);
        mongoc_collection_destroy(coll);
        nr_guard_release(&g);
    }
    return NULL;
}

/* Four threads share a pool of two clients; every insert lands. */
static void test_threads(void **state)
{
    fixture *f = *state;
    make_pool(f, 2, 0, NULL);
    enum { N = 4, ITER = 15 };
    worker w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){.pool = f->pool, .id = i, .iterations = ITER};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_true(st.creates <= 2);
    assert_int_equal(st.acquires, N * ITER);
    NR_GUARD_SCOPED g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    mongoc_collection_t *coll = coll_of(&g, "par");
    bson_t all = BSON_INITIALIZER;
    assert_int_equal(count(coll, &all), N * ITER);
    bson_destroy(&all);
    mongoc_collection_destroy(coll);
}

/* Health checks of idle clients: all healthy; validate and recycle pass. */
static void test_health_validate_recycle(void **state)
{
    fixture *f = *state;
    make_pool(f, 3, 2, NULL);
    nr_error err = {0};
    int rc = nr_pool_fill(f->pool, nr_deadline_in_ms(30000), &err);
    if (rc != NR_OK)
        fail_msg("fill: %s", err.message);
    nr_pool_health_report hr;
    assert_int_equal(nr_pool_check_health(f->pool, 5000 * NR_NS_PER_MS, &hr, &err), NR_OK);
    assert_int_equal(hr.checked, 2);
    assert_int_equal(hr.healthy, 2);
    assert_int_equal(hr.worst, NR_HEALTH_HEALTHY);
    /* the callbacks directly, on a leased instance */
    NR_GUARD_SCOPED g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    void *h = nr_guard_handle(&g);
    assert_int_equal(nr_mongo_type.validate(h, NULL, &err), NR_OK);
    assert_int_equal(nr_mongo_type.recycle(h, NULL, &err), NR_OK);
    nr_health_report one = {0};
    assert_int_equal(nr_mongo_type.health_check(h, NULL, nr_deadline_in_ms(5000), &one, &err),
                     NR_OK);
    assert_int_equal(one.state, NR_HEALTH_HEALTHY);
    /* an expired deadline: NR_ETIMEDOUT naming the resource, nothing run */
    assert_int_equal(nr_mongo_type.health_check(h, NULL, nr_deadline_in_ms(-1), &one, &err),
                     NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, ID);
}

/* Wrong credentials. CongoDB implements no SCRAM: every login fails, so any
 * password is "wrong" here, and this is the only authentication path that
 * can be tested against it. The error must be NR_ECRED, name the resource
 * and the user, and never hold the password. */
static void test_wrong_credentials(void **state)
{
    fixture *f = *state;
    set_str(&f->cfg.username, "app");
    set_str(&f->cfg.auth_source, "admin");
    nr_secret *pw = NULL;
    nr_error err = {0};
    assert_int_equal(nr_secret_from_str(&pw, PW, &err), NR_OK);
    make_pool(f, 2, 0, pw);
    nr_secret_free(pw); /* the pool keeps its own copy */

    /* the create's own error, on this thread */
    int rc = nr_pool_prime(f->pool, 1, nr_deadline_in_ms(30000), &err);
    fprintf(stderr, "  wrong credentials: %s\n", err.message);
    assert_int_equal(rc, NR_ECRED);
    assert_int_equal(err.cause, NR_ECRED);
    assert_string_equal(err.resource_id, ID);
    assert_non_null(strstr(err.message, "create failed"));
    assert_non_null(strstr(err.message, ID));
    assert_non_null(strstr(err.message, "user 'app'"));
    assert_non_null(strstr(err.message, "auth source 'admin'"));
    assert_no_pw(err.message);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.create_failures, 1);
    assert_int_equal(st.total, 0);

    /* an acquire waits out its deadline, with the failed login as the cause */
    nr_guard g = NR_GUARD_INIT;
    nr_error_clear(&err);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(1500));
    rc = nr_pool_acquire(f->pool, &ctx, &g, &err);
    fprintf(stderr, "  acquire: %s\n", err.message);
    assert_int_equal(rc, NR_ETIMEDOUT);
    assert_false(nr_guard_held(&g));
    assert_int_equal(err.cause, NR_ECRED);
    assert_string_equal(err.resource_id, ID);
    assert_non_null(strstr(err.message, "the last create failed"));
    assert_non_null(strstr(err.message, "user 'app'"));
    assert_no_pw(err.message);
    wait_creates(f);
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.creates, 0);
    assert_int_equal(st.total, 0);
}

/* TLS asked of a server that speaks none: a clean NR_EUNAVAIL at create. */
static void test_tls_refused(void **state)
{
    fixture *f = *state;
    f->cfg.tls = true;
    f->cfg.connect_timeout_ms = 3000;
    make_pool(f, 1, 0, NULL);
    nr_error err = {0};
    int rc = nr_pool_prime(f->pool, 1, nr_deadline_in_ms(30000), &err);
    fprintf(stderr, "  tls: %s\n", err.message);
    if (rc != NR_EUNAVAIL)
        fail_msg("expected NR_EUNAVAIL, got %s: %s", nr_err_name(rc), err.message);
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_non_null(strstr(err.message, "create failed"));
    assert_non_null(strstr(err.message, ID));
    assert_non_null(strstr(err.message, "tls=true"));
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.creates, 0);
    assert_int_equal(st.create_failures, 1);
}

/* An acquire whose token is set never reaches create. One with a deadline
 * in the past returns at once, without waiting for a client: the create it
 * asked for runs on the creator, and the client lands in the pool, where a
 * later acquire (even one that cannot wait) finds it. */
static void test_acquire_cancel_deadline(void **state)
{
    fixture *f = *state;
    make_pool(f, 1, 0, NULL);
    nr_cancel *tok = NULL;
    nr_error err = {0};
    assert_int_equal(nr_cancel_create(&tok, NULL, &err), NR_OK);
    nr_cancel_trigger(tok);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(30000), .cancel = tok);
    assert_int_equal(nr_pool_acquire(f->pool, &ctx, &g, &err), NR_ECANCELED);
    nr_cancel_destroy(tok);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.creates, 0);
    assert_int_equal(st.create_failures, 0);
    assert_int_equal(st.total, 0);

    nr_ctx late = NR_CTX(.deadline = nr_deadline_in_ms(-1));
    int64_t t0 = nr_now_ns();
    int rc = nr_pool_acquire(f->pool, &late, &g, &err);
    int64_t took_ms = (nr_now_ns() - t0) / NR_NS_PER_MS;
    assert_int_equal(rc, NR_EEXHAUSTED);
    assert_false(nr_guard_held(&g));
    assert_true(took_ms < 1000); /* no connect on this thread */
    NR_ASSERT_ERR(err, NR_EEXHAUSTED, ID);

    wait_creates(f);
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.creates, 1);
    assert_int_equal(st.idle, 1);
    assert_int_equal(st.acquires, 0);
    assert_int_equal(nr_pool_acquire(f->pool, &late, &g, &err), NR_OK);
    assert_non_null(nr_mongo_client(nr_guard_handle(&g)));
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

/* The server dies under an idle client and comes back: the client that
 * noticed (its operation failed) no longer validates, so the next acquire
 * gets a fresh client instead of one stuck in libmongoc's reconnect
 * cool-down. */
static void test_server_restart_validate(void **state)
{
    fixture *f = *state;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 2;
    pc.validate_bypass_ms = 0; /* validate the client given back a moment ago */
    make_pool_with(f, &pc, NULL);
    nr_guard g = NR_GUARD_INIT;
    nr_dt_acquire_ok(f->pool, &g);
    server_ctl("stop");
    mongoc_collection_t *coll = coll_of(&g, "restart");
    bson_t *doc = BCON_NEW("x", BCON_INT32(1));
    bson_error_t be;
    assert_false(mongoc_collection_insert_one(coll, doc, NULL, NULL, &be));
    mongoc_collection_destroy(coll);
    nr_error err = {0};
    int vrc = nr_mongo_type.validate(nr_guard_handle(&g), NULL, &err);
    fprintf(stderr, "  validate: %s\n", err.message);
    assert_int_equal(vrc, NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, ID);
    assert_int_equal(nr_guard_release(&g), NR_OK);

    /* while it is down: the idle client fails validate and is dropped, and
     * a new client cannot be made; the acquire times out with the failed
     * create as the cause */
    nr_error_clear(&err);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(3000));
    int rc = nr_pool_acquire(f->pool, &ctx, &g, &err);
    fprintf(stderr, "  acquire while down: %s\n", err.message);
    assert_int_equal(rc, NR_ETIMEDOUT);
    assert_false(nr_guard_held(&g));
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, ID);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "the last create failed");
    assert_int_equal(err.cause, NR_EUNAVAIL);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_true(st.validate_failures >= 1);
    assert_int_equal(st.idle, 0);
    /* the create's own error */
    nr_error_clear(&err);
    rc = nr_pool_prime(f->pool, 1, nr_deadline_in_ms(30000), &err);
    assert_int_equal(rc, NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "create failed");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, ID);

    server_ctl("start");
    /* creates failed in a row while it was down, so the breaker may be
     * open: acquires fail at once until a trial create (one per backoff
     * step) succeeds */
    nr_deadline bound = nr_deadline_in_ms(60000);
    for (;;) {
        nr_error_clear(&err);
        ctx.deadline = nr_deadline_in_ms(30000);
        rc = nr_pool_acquire(f->pool, &ctx, &g, &err);
        if (rc == NR_OK)
            break;
        if (rc != NR_EUNAVAIL || nr_deadline_expired(bound))
            fail_msg("acquire after restart: %s: %s", nr_err_name(rc), err.message);
        NR_ASSERT_ERR(err, NR_EUNAVAIL, "breaker is open");
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    coll = coll_of(&g, "restart");
    if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &be))
        fail_msg("insert after restart: %s", be.message);
    mongoc_collection_destroy(coll);
    bson_destroy(doc);
    nr_guard_release(&g);
    nr_pool_stats_get(f->pool, &st);
    assert_true(st.validate_failures >= 1);
    assert_false(st.breaker_open);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uri_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_validate_recycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acquire_cancel_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_restart_validate, setup, teardown),
    };
    return cmocka_run_group_tests_name("mongo_pool", tests, NULL, NULL);
}
