/*
 * test_mongo_manager.c - the MongoDB driver under a manager, against
 * CongoDB started by with-congodb.sh (NR_TEST_MONGO_PORT, NR_TEST_MONGO_CTL):
 * background health checks notice a killed server, acquires fail fast while
 * it is down, and everything heals once it is back, without restarting
 * anything in the program. Credentials come from a provider and never show
 * up in errors, resource info or events.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nebula/manager.h"
#include "nebula/mongo.h"

#define ID  "orders-mongo"
#define REF "orders-mongo/password"
#define PW  "s3cr3t-Pa55word"

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

static void make_cfg(nr_mongo_config *c)
{
    const char *port = getenv("NR_TEST_MONGO_PORT");
    assert_non_null(port);
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_mongo_config_schema, c, &err), NR_OK);
    char hosts[64], db[64];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%s", port);
    snprintf(db, sizeof(db), "nrtest_mgr_%d", (int)getpid());
    set_str(&c->hosts, hosts);
    set_str(&c->database, db);
    c->server_selection_timeout_ms = 3000;
    c->connect_timeout_ms = 3000;
    c->socket_timeout_ms = 10000;
    c->health_timeout_ms = 3000;
}

static void make_manager(nr_manager **m, const nr_credential_provider *cp, nr_event_bus *bus)
{
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.workers = 2;
    mo.health_interval_ms = 100;
    mo.maintain_interval_ms = 100;
    mo.health_timeout_ms = 3000;
    mo.failure_threshold = 1;
    mo.recovery_threshold = 1;
    mo.credentials = cp;
    mo.events = bus;
    nr_error err = {0};
    int rc = nr_manager_create(m, &mo, &err);
    if (rc != NR_OK)
        fail_msg("manager create: %s", err.message);
}

/* Poll the resource's health until it is want, for at most bound_ms. */
static bool wait_health(nr_manager *m, nr_health_state want, int bound_ms, nr_resource_info *info)
{
    for (int waited = 0; waited < bound_ms; waited += 50) {
        nr_error err = {0};
        assert_int_equal(nr_manager_resource_info(m, ID, info, &err), NR_OK);
        if (info->health == want)
            return true;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    return false;
}

static int insert_one(nr_manager *m, nr_error *err)
{
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(20000));
    int rc = nr_manager_acquire(m, ID, &ctx, &g, err);
    if (rc != NR_OK)
        return rc;
    void *h = nr_guard_handle(&g);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(nr_mongo_client(h), nr_mongo_database(h), "events");
    bson_t *doc = BCON_NEW("at", BCON_INT64(nr_now_ns()));
    bson_error_t be;
    bool ok = mongoc_collection_insert_one(coll, doc, NULL, NULL, &be);
    bson_destroy(doc);
    mongoc_collection_destroy(coll);
    if (!ok) {
        nr_guard_taint(&g);
        return nr_error_set(err, NR_EUNAVAIL, ID, "insert: %s", be.message);
    }
    nr_guard_release(&g);
    return NR_OK;
}

/* Kill the server mid-run: unhealthy, fast NR_EUNAVAIL; start it again:
 * healthy, acquires work. */
static void test_kill_and_heal(void **state)
{
    (void)state;
    nr_mongo_config cfg;
    make_cfg(&cfg);
    nr_manager *m = NULL;
    make_manager(&m, NULL, NULL);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 2;
    pc.min_idle = 1;
    nr_resource_spec spec =
        NR_RESOURCE_SPEC(.id = ID, .type = &nr_mongo_type, .config = &cfg, .pool = &pc);
    nr_error err = {0};
    assert_int_equal(nr_manager_register(m, &spec, &err), NR_OK);
    int rc = nr_manager_start(m, nr_deadline_in_ms(30000), &err);
    if (rc != NR_OK)
        fail_msg("start: %s", err.message);
    rc = insert_one(m, &err);
    if (rc != NR_OK)
        fail_msg("insert: %s", err.message);
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_true(wait_health(m, NR_HEALTH_HEALTHY, 30000, &info));

    server_ctl("stop");
    if (!wait_health(m, NR_HEALTH_UNHEALTHY, 30000, &info))
        fail_msg("never unhealthy: health %s", nr_health_name(info.health));
    fprintf(stderr, "  unhealthy: %s\n", info.health_reason);
    assert_true(info.health_reason[0] != '\0');

    /* fails fast: the manager refuses before any create is tried */
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(20000));
    nr_error_clear(&err);
    rc = nr_manager_acquire(m, ID, &ctx, &g, &err);
    fprintf(stderr, "  acquire while down: %s\n", err.message);
    assert_int_equal(rc, NR_EUNAVAIL);
    assert_non_null(strstr(err.message, ID));
    assert_false(nr_guard_held(&g));

    server_ctl("start");
    if (!wait_health(m, NR_HEALTH_HEALTHY, 60000, &info))
        fail_msg("never healthy again: %s: %s", nr_health_name(info.health), info.health_reason);
    /* healthy again means the probe or maintenance made a client; acquires
     * work (a round may still be running: allow a few tries) */
    for (int i = 0; i < 100; i++) {
        rc = insert_one(m, &err);
        if (rc == NR_OK)
            break;
        nr_sleep_ns(100 * NR_NS_PER_MS);
    }
    if (rc != NR_OK)
        fail_msg("insert after restart: %s", err.message);

    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    assert_int_equal(nr_manager_shutdown(m, NULL, &rep, &err), NR_OK);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    nr_config_free(&nr_mongo_config_schema, &cfg);
}

/* ---- credentials from a provider ----------------------------------------------------- */

static int fetch_pw(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    if (strcmp(ref, REF) != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "no credential '%s'", ref);
    return nr_secret_from_str(out, PW, err);
}

/* The manager fetches the password and hands it to create; CongoDB refuses
 * every SCRAM login, so start fails with NR_ECRED naming the resource and
 * the user; the password is in no error, resource info or event. */
static void test_credential_from_provider(void **state)
{
    (void)state;
    nr_mongo_config cfg;
    make_cfg(&cfg);
    set_str(&cfg.username, "app");
    nr_credential_provider cp = {.fetch = fetch_pw};
    nr_event_bus *bus = NULL;
    nr_error err = {0};
    assert_int_equal(nr_event_bus_create(&bus, 256, &err), NR_OK);
    nr_event_sub *sub = NULL;
    assert_int_equal(nr_event_subscribe(bus, &sub, &err), NR_OK);
    nr_manager *m = NULL;
    make_manager(&m, &cp, bus);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.min_idle = 1;
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = ID, .type = &nr_mongo_type, .config = &cfg,
                                             .pool = &pc, .credential_ref = REF);
    assert_int_equal(nr_manager_register(m, &spec, &err), NR_OK);
    int rc = nr_manager_start(m, nr_deadline_in_ms(30000), &err);
    fprintf(stderr, "  start: %s\n", err.message);
    assert_int_equal(rc, NR_ECRED);
    assert_non_null(strstr(err.message, ID));
    assert_non_null(strstr(err.message, "user 'app'"));
    assert_no_pw(err.message);
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(m, ID, &info, &err), NR_OK);
    assert_int_equal(info.state, NR_RS_FAILED);
    assert_int_equal(info.last_error.code, NR_ECRED);
    assert_no_pw(info.last_error.message);
    assert_no_pw(info.health_reason);
    nr_event ev;
    uint64_t lost = 0;
    int seen = 0;
    while (nr_event_next(sub, &ev, &lost, nr_deadline_in_ms(-1)) == NR_OK) {
        seen++;
        assert_no_pw(ev.resource_id);
        assert_no_pw(ev.text);
    }
    assert_true(seen > 0);
    assert_int_equal(nr_manager_destroy(m, &err), NR_OK);
    nr_event_unsubscribe(sub);
    nr_event_bus_destroy(bus);
    nr_config_free(&nr_mongo_config_schema, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_and_heal),
        cmocka_unit_test(test_credential_from_provider),
    };
    return cmocka_run_group_tests_name("mongo_manager", tests, NULL, NULL);
}
