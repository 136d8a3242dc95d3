/*
 * test_admin.c - the admin server over real sockets: the endpoints, the
 * token-protected actions (refused without the token, acting with it),
 * bad requests (bytes that are not HTTP, a trickling client), bad options,
 * and a graceful stop with a connection still open; reloads and scaling
 * decisions among the status page's events.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nebula/testing.h"
#include "http_client.h"
#include "nebula/admin.h"
#include "nebula/manager.h"
#include "nebula/secret.h"
#include "testutil.h"

typedef struct fixture {
    nr_mock fake;
    nr_mock_config cfg;
    nr_manager *m;
    nr_metrics *metrics;
    nr_event_bus *bus;
    nr_admin *admin;
    pthread_mutex_t mu;
    char token[64]; /* [mu] what the provider hands out */
    nr_credential_provider creds;
} fixture;

static int fetch_token(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    fixture *f = ud;
    if (strcmp(ref, "admin-token") != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "no credential '%s'", ref);
    pthread_mutex_lock(&f->mu);
    int rc = nr_secret_from_str(out, f->token, err);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static void add(fixture *f, const char *id, const char *dep, nr_partition part)
{
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;
    pc.min_idle = 1;
    const char *deps[] = {dep};
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = id, .type = &nr_mock_type, .type_ud = &f->fake,
                                          .config = &f->cfg, .pool = &pc, .partition = part,
                                          .depends_on = dep ? deps : NULL, .ndepends = dep ? 1 : 0);
    if (part == NR_PARTITION_TENANT) {
        static nr_scope tenant_room;
        nr_scope_global(&tenant_room);
        s.scope = &tenant_room;
    }
    nr_error err = {0};
    if (nr_manager_register(f->m, &s, &err) != NR_OK)
        fail_msg("register %s: %s", id, err.message);
}

static void extra(void *ud, void *obj)
{
    json_object_set_new(obj, "extra_field", json_string((const char *)ud));
}

static fixture *make(bool with_token, int64_t request_timeout_ms)
{
    fixture *f = calloc(1, sizeof(*f));
    nr_mock_init(&f->fake);
    pthread_mutex_init(&f->mu, NULL);
    snprintf(f->token, sizeof(f->token), "s3cret-token");
    f->creds = (nr_credential_provider){.fetch = fetch_token, .ud = f};
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    assert_int_equal(nr_metrics_create(&f->metrics, NULL), NR_OK);
    assert_int_equal(nr_event_bus_create(&f->bus, 256, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.metrics = f->metrics;
    mo.events = f->bus;
    assert_int_equal(nr_manager_create(&f->m, &mo, NULL), NR_OK);
    add(f, "app", "db", NR_PARTITION_NONE); /* registered before what it needs */
    add(f, "db", NULL, NR_PARTITION_NONE);
    nr_group_spec gs = NR_GROUP_SPEC_INIT;
    nr_group_spec_default(&gs);
    const char *const members[] = {"app", "db"};
    gs.name = "both";
    gs.members = members;
    gs.nmembers = 2;
    assert_int_equal(nr_manager_register_group(f->m, &gs, NULL), NR_OK);
    nr_admin_options ao = NR_ADMIN_OPTIONS_INIT;
    nr_admin_options_default(&ao);
    ao.metrics = f->metrics;
    ao.events = f->bus;
    ao.credentials = &f->creds;
    ao.token_ref = with_token ? "admin-token" : NULL;
    ao.request_timeout_ms = request_timeout_ms;
    ao.status_extra = extra;
    ao.status_extra_ud = "from the program";
    nr_error err = {0};
    if (nr_admin_start(&f->admin, f->m, &ao, &err) != NR_OK)
        fail_msg("nr_admin_start: %s", err.message);
    assert_true(nr_admin_port(f->admin) > 0);
    return f;
}

static void destroy(fixture *f)
{
    nr_admin_stop(f->admin);
    nr_error err = {0};
    if (nr_manager_destroy(f->m, &err) != NR_OK)
        fail_msg("nr_manager_destroy: %s", err.message);
    assert_int_equal(atomic_load(&f->fake.creates), atomic_load(&f->fake.destroys));
    nr_metrics_destroy(f->metrics);
    nr_event_bus_destroy(f->bus);
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static void start_resources(fixture *f)
{
    nr_error err = {0};
    if (nr_manager_start(f->m, nr_deadline_in_ms(5000), &err) != NR_OK)
        fail_msg("start: %s", err.message);
}

static int get(fixture *f, const char *path, http_reply *r)
{
    assert_int_equal(http_req(nr_admin_port(f->admin), "GET", path, NULL, r), 0);
    return r->status;
}

static int post(fixture *f, const char *path, const char *auth, http_reply *r)
{
    assert_int_equal(http_req(nr_admin_port(f->admin), "POST", path, auth, r), 0);
    return r->status;
}

static json_t *body_json(const http_reply *r)
{
    json_error_t je;
    json_t *j = json_loads(r->body, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): %s", je.text, r->body);
    return j;
}

static void test_endpoints(void **state)
{
    (void)state;
    fixture *f = make(false, 10000);
    http_reply r;
    assert_int_equal(get(f, "/healthz", &r), 200);
    assert_string_equal(r.body, "ok\n");
    http_reply_free(&r);
    /* registered, not started: not ready, and the reason names the resource */
    assert_int_equal(get(f, "/readyz", &r), 503);
    assert_non_null(strstr(r.body, "is registered"));
    http_reply_free(&r);
    start_resources(f);
    assert_int_equal(get(f, "/readyz", &r), 200);
    assert_string_equal(r.body, "ready: all 2 resources running and healthy\n");
    http_reply_free(&r);

    assert_int_equal(get(f, "/status", &r), 200);
    json_t *s = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(s, "mode")), "embedded");
    assert_string_equal(json_string_value(json_object_get(s, "phase")), "running");
    assert_string_equal(json_string_value(json_object_get(s, "extra_field")), "from the program");
    assert_false(json_is_true(json_object_get(s, "actions")));
    json_t *res = json_object_get(s, "resources");
    assert_int_equal(json_array_size(res), 2);
    /* start order: db (level 0) before app (level 1), though app was registered first */
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "id")), "db");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 0), "level")), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 1), "id")), "app");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 1), "level")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 1), "driver")),
                        "mock");
    /* the default pipeline: one stage, connectivity, from the last round (or none yet) */
    json_t *hs = json_object_get(json_array_get(res, 0), "health_stages");
    assert_int_equal(json_array_size(hs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hs, 0), "name")),
                        "connectivity");
    assert_true(json_is_string(json_object_get(json_array_get(hs, 0), "state")));
    assert_true(json_is_string(json_object_get(json_array_get(hs, 0), "reason")));
    assert_true(json_is_number(json_object_get(json_array_get(hs, 0), "latency_ms")));
    json_t *edge = json_array_get(json_object_get(s, "edges"), 0);
    assert_string_equal(json_string_value(json_object_get(edge, "from")), "app");
    assert_string_equal(json_string_value(json_object_get(edge, "to")), "db");
    /* the group: its limit, both members able to serve, and the pick while one is
     * leased: the member with fewer in use */
    json_t *g = json_array_get(json_object_get(s, "groups"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "name")), "both");
    assert_int_equal(json_integer_value(json_object_get(g, "max_quarantine_percent")), 50);
    json_t *gm = json_object_get(g, "members");
    assert_int_equal(json_array_size(gm), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(gm, 0), "id")), "app");
    assert_true(json_is_true(json_object_get(json_array_get(gm, 1), "can_serve")));
    json_decref(s);
    http_reply_free(&r);
    nr_guard lease = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(f->m, "app", NULL, &lease, NULL), NR_OK);
    assert_int_equal(get(f, "/status", &r), 200);
    s = body_json(&r);
    g = json_array_get(json_object_get(s, "groups"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "pick")), "db");
    gm = json_object_get(g, "members");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(gm, 0), "in_use")), 1);
    json_decref(s);
    http_reply_free(&r);
    nr_guard_release(&lease);

    assert_int_equal(get(f, "/metrics", &r), 200);
    assert_non_null(strstr(r.body, "nr_pool_in_use{resource=\"db\",scope=\"global\"}"));
    http_reply_free(&r);
    assert_int_equal(get(f, "/", &r), 200);
    assert_non_null(strstr(r.body, "<!DOCTYPE html>"));
    http_reply_free(&r);
    assert_int_equal(get(f, "/nothing", &r), 404);
    http_reply_free(&r);
    assert_int_equal(http_req(nr_admin_port(f->admin), "DELETE", "/status", NULL, &r), 0);
    assert_int_equal(r.status, 405);
    http_reply_free(&r);

    /* phase and note */
    nr_admin_set_phase(f->admin, NR_ADMIN_SHUTTING_DOWN);
    assert_int_equal(get(f, "/readyz", &r), 503);
    assert_string_equal(r.body, "not ready: shutting down\n");
    http_reply_free(&r);
    char note[300];
    memset(note, 'x', sizeof(note));
    memcpy(note + 157, "\xc3\xa9\xc3\xa9", 4); /* a 2-byte character across the cut */
    note[sizeof(note) - 1] = '\0';
    nr_admin_set_note(f->admin, note);
    assert_int_equal(get(f, "/status", &r), 200);
    s = body_json(&r); /* jansson refuses invalid UTF-8: the cut kept it valid */
    assert_int_equal(strlen(json_string_value(json_object_get(s, "note"))), 159);
    json_decref(s);
    http_reply_free(&r);
    destroy(f);
}

static void sleep_ms(long ms);

/* The types of the recent events /status shows for resource id, as
 * "scaled_up reloaded" (newest first, as /status lists them). */
static void recent_types(fixture *f, const char *id, char *out, size_t len)
{
    out[0] = '\0';
    http_reply r;
    assert_int_equal(get(f, "/status", &r), 200);
    json_t *s = body_json(&r);
    json_t *recent = json_object_get(json_object_get(s, "events"), "recent");
    size_t used = 0, i;
    json_t *e;
    json_array_foreach(recent, i, e)
    {
        const char *res = json_string_value(json_object_get(e, "resource"));
        const char *type = json_string_value(json_object_get(e, "type"));
        if (!res || !type || strcmp(res, id) != 0 ||
            (strcmp(type, "reloaded") != 0 && strcmp(type, "scaled_up") != 0))
            continue;
        int w = snprintf(out + used, len - used, "%s%s", used ? " " : "", type);
        if (w > 0 && (size_t)w < len - used)
            used += (size_t)w;
    }
    json_decref(s);
    http_reply_free(&r);
}

/* A reload and an autoscaling decision show among the status page's events. */
static void test_status_shows_reloads_and_scaling(void **state)
{
    (void)state;
    fixture *f = make(false, 5000);
    start_resources(f);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;
    pc.min_idle = 1;
    nr_autoscale_policy as;
    nr_autoscale_policy_default(&as);
    as.enabled = true;
    as.high_watermark = 0.5;
    as.window_ms = 0;
    as.cooldown_ms = 0;
    as.min_size = 1;
    as.max_size = 8;
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &f->fake,
                                          .config = &f->cfg, .pool = &pc, .autoscale = &as);
    nr_reload_report rep;
    nr_error err = {0};
    assert_int_equal(nr_manager_reload(f->m, &s, &rep, &err), NR_OK);
    assert_int_equal(rep.kind, NR_RELOAD_IN_PLACE);
    nr_guard g[3] = {NR_GUARD_INIT, NR_GUARD_INIT, NR_GUARD_INIT};
    for (int i = 0; i < 3; i++)
        assert_int_equal(nr_manager_acquire(f->m, "db", NULL, &g[i], &err), NR_OK);
    nr_manager_tick(f->m); /* 3 of 4 in use: 0.75 >= 0.5, window 0: up */
    char got[128] = "";
    for (int k = 0; k < 500 && strcmp(got, "scaled_up reloaded") != 0; k++) {
        recent_types(f, "db", got, sizeof(got));
        sleep_ms(10);
    }
    assert_string_equal(got, "scaled_up reloaded");
    for (int i = 0; i < 3; i++)
        nr_guard_release(&g[i]);
    destroy(f);
}

static void test_actions_need_the_token(void **state)
{
    (void)state;
    fixture *f = make(true, 10000);
    start_resources(f);
    http_reply r;
    char buf[64];
    /* GET never acts */
    assert_int_equal(get(f, "/actions/suspend?id=db", &r), 405);
    assert_string_equal(http_header(&r, "Allow", buf, sizeof(buf)), "POST");
    http_reply_free(&r);
    /* no token, a wrong one, a malformed header */
    assert_int_equal(post(f, "/actions/suspend?id=db", NULL, &r), 401);
    json_t *j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "NR_EPERM");
    json_decref(j);
    http_reply_free(&r);
    assert_int_equal(post(f, "/actions/suspend?id=db", "Authorization: Bearer wrong", &r), 403);
    assert_null(strstr(r.body, "s3cret")); /* the expected token is never shown */
    http_reply_free(&r);
    assert_int_equal(post(f, "/actions/suspend?id=db", "Authorization: s3cret-token", &r), 401);
    http_reply_free(&r);
    nr_resource_info ri = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(f->m, "db", &ri, NULL), NR_OK);
    assert_false(ri.stats.suspended);

    const char *auth = "Authorization: Bearer s3cret-token";
    assert_int_equal(post(f, "/actions/suspend?id=db", auth, &r), 200);
    assert_string_equal(r.body, "{\"ok\":true,\"action\":\"suspend\",\"id\":\"db\"}");
    http_reply_free(&r);
    assert_int_equal(nr_manager_resource_info(f->m, "db", &ri, NULL), NR_OK);
    assert_true(ri.stats.suspended);
    assert_int_equal(post(f, "/actions/resume?id=db", auth, &r), 200);
    http_reply_free(&r);
    assert_int_equal(nr_manager_resource_info(f->m, "db", &ri, NULL), NR_OK);
    assert_false(ri.stats.suspended);

    assert_int_equal(post(f, "/actions/resize?id=db&max_size=7", auth, &r), 200);
    assert_string_equal(
        r.body, "{\"ok\":true,\"action\":\"resize\",\"id\":\"db\",\"min_idle\":1,\"max_size\":7}");
    http_reply_free(&r);
    assert_int_equal(nr_manager_resource_info(f->m, "db", &ri, NULL), NR_OK);
    assert_int_equal(ri.stats.max_size, 7);
    assert_int_equal(post(f, "/actions/resize?id=db&max_size=3&min_idle=0", auth, &r), 200);
    http_reply_free(&r);
    assert_int_equal(nr_manager_resource_info(f->m, "db", &ri, NULL), NR_OK);
    assert_int_equal(ri.stats.max_size, 3);
    assert_int_equal(ri.stats.min_idle, 0);

    assert_int_equal(post(f, "/actions/evict?id=db", auth, &r), 200);
    j = body_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "evicted")), ri.stats.idle);
    json_decref(j);
    http_reply_free(&r);

    /* errors name what is wrong */
    assert_int_equal(post(f, "/actions/suspend?id=nope", auth, &r), 404);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "NR_ENOTFOUND");
    json_decref(j);
    http_reply_free(&r);
    assert_int_equal(post(f, "/actions/suspend", auth, &r), 400);
    assert_non_null(strstr(r.body, "the query argument 'id'"));
    http_reply_free(&r);
    assert_int_equal(post(f, "/actions/resize?id=db&max_size=1.5", auth, &r), 400);
    assert_non_null(strstr(r.body, "max_size must be an integer 1..1000000 (got '1.5')"));
    http_reply_free(&r);
    assert_int_equal(post(f, "/actions/resize?id=db&max_size=2&min_idle=3", auth, &r), 400);
    assert_non_null(strstr(r.body, "NR_ECONFIG"));
    http_reply_free(&r);
    assert_int_equal(post(f, "/actions/explode?id=db", auth, &r), 404);
    http_reply_free(&r);
    assert_int_equal(post(f, "/actions/release?id=db", auth, &r), 409); /* not quarantined */
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "NR_ESTATE");
    json_decref(j);
    http_reply_free(&r);

    /* the token is fetched at each action: a rotated one takes effect at once */
    pthread_mutex_lock(&f->mu);
    snprintf(f->token, sizeof(f->token), "new-token");
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(post(f, "/actions/suspend?id=db", auth, &r), 403);
    http_reply_free(&r);
    assert_int_equal(post(f, "/actions/suspend?id=db", "Authorization: Bearer new-token", &r), 200);
    http_reply_free(&r);
    destroy(f);
}

static void test_actions_disabled_without_a_token_ref(void **state)
{
    (void)state;
    fixture *f = make(false, 10000);
    start_resources(f);
    http_reply r;
    assert_int_equal(post(f, "/actions/suspend?id=db", "Authorization: Bearer s3cret-token", &r),
                     403);
    assert_non_null(strstr(r.body, "admin actions are disabled"));
    http_reply_free(&r);
    destroy(f);
}

static void test_bytes_that_are_not_http(void **state)
{
    (void)state;
    fixture *f = make(false, 10000);
    int port = nr_admin_port(f->admin);
    const char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    const char *cases[] = {tls_hello, "\x01\x02\x03", "GET\x01/ HTTP/1.1", " GET / HTTP/1.1"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_reply r;
        /* no line end: without the front, nothing would ever answer */
        assert_int_equal(http_raw(port, cases[i], strlen(cases[i]), 5000, &r), 0);
        assert_int_equal(r.status, 400);
        assert_true(r.closed);
        assert_string_equal(r.body, "bad request: this is not HTTP/1.x\n");
        http_reply_free(&r);
    }
    /* a malformed line that ends: libmicrohttpd's own 400 */
    http_reply r;
    const char *line = "GARBAGE GARBAGE\r\n\r\n";
    assert_int_equal(http_raw(port, line, strlen(line), 5000, &r), 0);
    assert_int_equal(r.status, 400);
    http_reply_free(&r);
    /* empty lines before a request line are allowed */
    const char *ok = "\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(http_raw(port, ok, strlen(ok), 5000, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    /* still serving */
    assert_int_equal(get(f, "/healthz", &r), 200);
    http_reply_free(&r);
    destroy(f);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

static void test_trickling_client_is_cut_off(void **state)
{
    (void)state;
    fixture *f = make(false, 400);
    int fd = connect_to(nr_admin_port(f->admin));
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa";
    /* one byte every 100 ms: never idle for long, never done; the whole request is
       bounded by request_timeout_ms (400 ms), so the server cuts it off */
    bool cut = false;
    for (size_t i = 0; req[i] && !cut; i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
            cut = true;
        char c;
        if (recv(fd, &c, 1, MSG_DONTWAIT) == 0)
            cut = true;
        sleep_ms(100);
    }
    assert_true(cut);
    close(fd);
    http_reply r;
    assert_int_equal(get(f, "/healthz", &r), 200); /* the server is fine */
    http_reply_free(&r);
    destroy(f);
}

static void test_bad_options(void **state)
{
    (void)state;
    nr_mock fake;
    nr_mock_init(&fake);
    nr_manager *m;
    assert_int_equal(nr_manager_create(&m, NULL, NULL), NR_OK);
    nr_admin *a = (nr_admin *)1;
    nr_admin_options o = NR_ADMIN_OPTIONS_INIT;
    nr_error err = {0};
    nr_admin_options_default(&o);
    o.port = 70000;
    assert_int_equal(nr_admin_start(&a, m, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "admin: port must be 0..65535 (got 70000)");
    assert_null(a);
    nr_admin_options_default(&o);
    o.listen = "localhost";
    assert_int_equal(nr_admin_start(&a, m, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL,
                  "admin: listen address 'localhost' is not an IPv4 or IPv6 address");
    nr_admin_options_default(&o);
    o.token_ref = "admin-token";
    assert_int_equal(nr_admin_start(&a, m, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL,
                  "admin: token_ref 'admin-token' needs a credential provider (credentials)");
    nr_admin_options_default(&o);
    o.request_timeout_ms = 5;
    assert_int_equal(nr_admin_start(&a, m, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "admin: request_timeout_ms must be 100..600000 (got 5)");
    /* a port that is taken */
    nr_admin_options_default(&o);
    nr_admin *first;
    assert_int_equal(nr_admin_start(&first, m, &o, &err), NR_OK);
    o.port = nr_admin_port(first);
    assert_int_equal(nr_admin_start(&a, m, &o, &err), NR_EUNAVAIL);
    char want[128];
    snprintf(want, sizeof(want),
             "admin: cannot listen on 127.0.0.1 port %d: Address already in use", o.port);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, want);
    nr_admin_stop(first);
    nr_admin_stop(NULL);
    /* IPv6 */
    nr_admin_options_default(&o);
    o.listen = "::1";
    if (nr_admin_start(&a, m, &o, &err) == NR_OK) /* a machine without IPv6 says EUNAVAIL */
        nr_admin_stop(a);
    else
        assert_int_equal(err.code, NR_EUNAVAIL);
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
}

static void test_stop_with_an_idle_connection_open(void **state)
{
    (void)state;
    fixture *f = make(false, 60000);
    int fd = connect_to(nr_admin_port(f->admin));
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"; /* keep-alive */
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    char buf[512];
    assert_true(recv(fd, buf, sizeof(buf), 0) > 0);
    /* the connection stays open and idle; stop closes it instead of waiting out the
       60 s bound */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nr_admin_stop(f->admin);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    f->admin = NULL;
    assert_true(t1.tv_sec - t0.tv_sec < 30);
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
        ;
    assert_int_equal(n, 0); /* closed by the server */
    close(fd);
    destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_actions_need_the_token),
        cmocka_unit_test(test_status_shows_reloads_and_scaling),
        cmocka_unit_test(test_actions_disabled_without_a_token_ref),
        cmocka_unit_test(test_bytes_that_are_not_http),
        cmocka_unit_test(test_trickling_client_is_cut_off),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_stop_with_an_idle_connection_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
