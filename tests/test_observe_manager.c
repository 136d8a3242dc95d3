/*
 * test_observe_manager.c - what a manager shows through its event bus and
 * metrics registry: metric values match a scripted workload exactly, the
 * exposition passes promtool, events arrive with their fields in order, and
 * a known secret appears in no event, metric text or trace line.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "nebula/testing.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"
#include "nebula/trace.h"
#include "testutil.h"

#define SECRET "Tr0ub4dor&3-secret"

static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    (void)ref;
    return nr_secret_from_str(out, SECRET, err);
}

typedef struct world {
    nr_mock fake;
    nr_mock_config cfg;
    nr_metrics *reg;
    nr_event_bus *bus;
    nr_event_sub *sub;
    nr_manager *m;
} world;

static void world_up(world *w, int64_t max_size)
{
    memset(w, 0, sizeof(*w));
    nr_mock_init(&w->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &w->cfg, NULL), NR_OK);
    assert_int_equal(nr_secret_from_str(&w->cfg.token, SECRET, NULL), NR_OK);
    assert_int_equal(nr_metrics_create(&w->reg, NULL), NR_OK);
    assert_int_equal(nr_event_bus_create(&w->bus, 1024, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(w->bus, &w->sub, NULL), NR_OK);
    static nr_credential_provider cp = {.fetch = vault_fetch, .ud = NULL};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = mo.health_interval_ms = 0;
    mo.failure_threshold = 1;
    mo.credentials = &cp;
    mo.metrics = w->reg;
    mo.events = w->bus;
    assert_int_equal(nr_manager_create(&w->m, &mo, NULL), NR_OK);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = max_size;
    nr_resource_spec s =
        NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &w->fake, .config = &w->cfg,
                         .pool = &pc, .credential_ref = "db/pw");
    assert_int_equal(nr_manager_register(w->m, &s, NULL), NR_OK);
    assert_int_equal(nr_manager_start(w->m, nr_deadline_in_ms(5000), NULL), NR_OK);
}

static void world_down(world *w)
{
    assert_int_equal(nr_manager_destroy(w->m, NULL), NR_OK);
    nr_event_unsubscribe(w->sub);
    assert_int_equal(nr_event_bus_destroy(w->bus), NR_OK);
    nr_metrics_destroy(w->reg);
    nr_config_free(&nr_mock_config_schema, &w->cfg);
    assert_int_equal(atomic_load(&w->fake.creates), atomic_load(&w->fake.destroys));
}

static char *scrape(world *w)
{
    char *text = NULL;
    size_t len = 0;
    nr_error err = {0};
    if (nr_metrics_format(w->reg, &text, &len, &err) != NR_OK)
        fail_msg("format: %s", err.message);
    return text;
}

/* The value of the sample line that starts with `series ` (exact text). */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    fail_msg("no sample %s in:\n%s", series, text);
    return -1;
}

static void test_metrics_match_workload_exactly(void **state)
{
    (void)state;
    world w;
    world_up(&w, 2);
    nr_guard a = NR_GUARD_INIT, b = NR_GUARD_INIT, c = NR_GUARD_INIT;
    nr_error err = {0};
    /* 5 acquire/release pairs (the start's probe created 1 instance) */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(nr_manager_acquire(w.m, "db", NULL, &a, &err), NR_OK);
        assert_int_equal(nr_guard_release(&a), NR_OK);
    }
    /* fill the pool and time out once */
    assert_int_equal(nr_manager_acquire(w.m, "db", NULL, &a, &err), NR_OK);
    assert_int_equal(nr_manager_acquire(w.m, "db", NULL, &b, &err), NR_OK);
    nr_ctx quick = NR_CTX(.deadline = nr_deadline_in_ms(5));
    assert_int_equal(nr_manager_acquire(w.m, "db", &quick, &c, &err), NR_ETIMEDOUT);
    /* one tainted, and its replacement fails once */
    assert_int_equal(nr_guard_taint(&b), NR_OK);
    atomic_store(&w.fake.fail_create, 1);
    nr_ctx brief = NR_CTX(.deadline = nr_deadline_in_ms(40)); /* shorter than the first backoff */
    assert_int_equal(nr_manager_acquire(w.m, "db", &brief, &b, &err), NR_ETIMEDOUT);
    assert_int_equal(err.cause, NR_EUNAVAIL); /* the failed create is the cause */
    atomic_store(&w.fake.fail_create, 0);
    assert_int_equal(nr_guard_release(&a), NR_OK);

    char *text = scrape(&w);
    const char *l = "{resource=\"db\",scope=\"global\"}";
    char name[128];
#define VAL(fam) (snprintf(name, sizeof(name), "%s%s", fam, l), sample(text, name))
    assert_true(VAL("nr_pool_acquires_total") == 5 + 2);
    assert_true(VAL("nr_pool_releases_total") == 5 + 2);
    assert_true(VAL("nr_pool_timeouts_total") == 2);
    assert_true(VAL("nr_pool_creates_total") == 2);
    assert_true(VAL("nr_pool_create_failures_total") == 1);
    assert_true(VAL("nr_pool_destroys_total") == 1);
    assert_true(VAL("nr_pool_instances") == 1);
    assert_true(VAL("nr_pool_in_use") == 0);
    assert_true(VAL("nr_pool_idle") == 1);
    assert_true(VAL("nr_pool_waiters") == 0);
    assert_true(VAL("nr_pool_creating") == 0);
    assert_true(VAL("nr_pool_max_size") == 2);
    assert_true(VAL("nr_pool_breaker_open") == 0); /* one failure, below breaker_failures */
    assert_true(VAL("nr_pool_breaker_opens_total") == 0);
    assert_true(VAL("nr_pool_suspended") == 0);
    assert_true(VAL("nr_pool_leaks_total") == 0);
    /* the three that waited: b for its create, and the two that timed out */
    assert_true(VAL("nr_pool_acquire_wait_seconds_count") == 3);
    assert_true(sample(text, "nr_resource_health{resource=\"db\"}") == NR_HEALTH_HEALTHY);
#undef VAL
    assert_null(strstr(text, SECRET));

    /* the exposition is valid for Prometheus' own checker */
    const char *promtool = getenv("NR_PROMTOOL") ? getenv("NR_PROMTOOL") : "promtool";
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "%s check metrics >/dev/null 2>&1", promtool);
    FILE *pipe = popen(cmd, "w");
    assert_non_null(pipe);
    fputs(text, pipe);
    int status = pclose(pipe);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && getenv("NR_ALLOW_MISSING_PROMTOOL"))
        print_message("promtool not installed: check skipped\n");
    else
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    nr_free(text);
    world_down(&w);
}

static int next_event(world *w, nr_event *ev)
{
    uint64_t missed = 0;
    int rc = nr_event_next(w->sub, ev, &missed, nr_deadline_in_ns(0));
    assert_int_equal(missed, 0);
    return rc;
}

static void test_events_in_order_with_fields(void **state)
{
    (void)state;
    world w;
    world_up(&w, 2);
    nr_event ev;
    /* the registration, then the start: one instance created (the probe
     * leases nothing) */
    assert_int_equal(next_event(&w, &ev), NR_OK);
    assert_int_equal(ev.type, NR_EV_REGISTERED);
    assert_string_equal(ev.resource_id, "db");
    assert_string_equal(ev.scope, "global");
    assert_int_equal(next_event(&w, &ev), NR_OK);
    assert_int_equal(ev.type, NR_EV_CREATED);
    assert_string_equal(ev.resource_id, "db");
    assert_string_equal(ev.scope, "global");
    assert_true(ev.instance_id > 0);
    assert_int_equal(next_event(&w, &ev), NR_ETIMEDOUT); /* nothing more */

    /* the backend breaks: health changes are published with the reason */
    atomic_store(&w.fake.health, NR_HEALTH_UNHEALTHY);
    atomic_store(&w.fake.fail_create, 1);
    nr_manager_tick(w.m); /* the check finds it unhealthy: discarded, health changes */
    nr_manager_tick(w.m); /* nothing idle: the round probes, and the create fails */
    int saw_cleanup = 0, saw_health = 0, saw_error = 0;
    uint64_t last_seq = 0;
    while (next_event(&w, &ev) == NR_OK) {
        assert_true(ev.seq > last_seq); /* in publish order */
        last_seq = ev.seq;
        assert_null(strstr(ev.text, SECRET));
        if (ev.type == NR_EV_CLEANED_UP)
            saw_cleanup++;
        if (ev.type == NR_EV_ERROR) {
            saw_error++;
            assert_int_equal(ev.error_code, NR_EUNAVAIL);
        }
        if (ev.type == NR_EV_HEALTH_CHANGED) {
            saw_health++;
            assert_int_equal(ev.health_old, NR_HEALTH_HEALTHY);
            assert_int_equal(ev.health_new, NR_HEALTH_UNHEALTHY);
            assert_true(strlen(ev.text) > 0);
        }
    }
    assert_true(saw_cleanup >= 1); /* the unhealthy idle instance was discarded */
    assert_true(saw_error >= 1);   /* the replacement could not be created */
    assert_int_equal(saw_health, 1);
    atomic_store(&w.fake.health, NR_HEALTH_HEALTHY);
    atomic_store(&w.fake.fail_create, 0);
    world_down(&w);
}

static void test_secret_never_observable(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    nr_trace_jsonl *j = NULL;
    assert_int_equal(nr_trace_jsonl_create(&j, mem, 0, NULL), NR_OK);
    nr_trace_sink sink;
    nr_trace_jsonl_sink(j, &sink);
    assert_int_equal(nr_trace_set_sink(&sink, NR_TRACE_LEVEL_TRACE), NR_OK);

    world w;
    world_up(&w, 2);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    for (int i = 0; i < 20; i++) {
        assert_int_equal(nr_manager_acquire(w.m, "db", NULL, &g, &err), NR_OK);
        if (i % 5 == 0)
            nr_guard_taint(&g);
        else
            nr_guard_release(&g);
    }
    atomic_store(&w.fake.fail_create, 1);
    atomic_store(&w.fake.health, NR_HEALTH_UNHEALTHY);
    nr_manager_tick(w.m);
    nr_manager_acquire(w.m, "db", NULL, &g, &err);
    assert_null(strstr(err.message, SECRET));
    assert_int_equal(nr_manager_rotate_credential(w.m, "db/pw", &err), NR_OK);
    char *text = scrape(&w);
    assert_null(strstr(text, SECRET));
    nr_free(text);
    nr_event ev;
    uint64_t missed;
    int events = 0;
    while (nr_event_next(w.sub, &ev, &missed, nr_deadline_in_ns(0)) == NR_OK) {
        events++;
        assert_null(memmem(&ev, sizeof(ev), SECRET, strlen(SECRET)));
    }
    assert_true(events > 20);
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(w.m, "db", &info, NULL), NR_OK);
    assert_null(memmem(&info, sizeof(info), SECRET, strlen(SECRET)));
    atomic_store(&w.fake.fail_create, 0);
    atomic_store(&w.fake.health, NR_HEALTH_HEALTHY);
    world_down(&w);
    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_TRACE), NR_OK);
    assert_int_equal(nr_trace_jsonl_destroy(j), NR_OK);
    fclose(mem);
    assert_true(len > 0);
    assert_null(strstr(buf, SECRET));
    free(buf);
}

/* Degraded and replaced instances show in their series. */
static void test_instance_health_metrics(void **state)
{
    (void)state;
    world w;
    world_up(&w, 2); /* one idle instance after the start */
    const char *l = "{resource=\"db\",scope=\"global\"}";
    char name[128];
    atomic_store(&w.fake.health, NR_HEALTH_DEGRADED);
    nr_manager_tick(w.m); /* its check says degraded */
    char *text = scrape(&w);
#define VAL(fam) (snprintf(name, sizeof(name), "%s%s", fam, l), sample(text, name))
    assert_true(VAL("nr_pool_degraded_idle") == 1);
    assert_true(VAL("nr_pool_quarantined_instances") == 0);
    assert_true(VAL("nr_pool_degraded_replaced_total") == 0);
    nr_free(text);
    nr_manager_tick(w.m); /* maintenance replaces it, then the new one is checked */
    text = scrape(&w);
    assert_true(VAL("nr_pool_degraded_replaced_total") == 1);
    assert_true(VAL("nr_pool_instances") == 1);
    nr_free(text);
    atomic_store(&w.fake.health, NR_HEALTH_HEALTHY);
    nr_manager_tick(w.m);
    text = scrape(&w);
    assert_true(VAL("nr_pool_degraded_idle") == 0);
    assert_true(VAL("nr_pool_instance_quarantines_total") == 0);
#undef VAL
    nr_free(text);
    world_down(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_match_workload_exactly),
        cmocka_unit_test(test_instance_health_metrics),
        cmocka_unit_test(test_events_in_order_with_fields),
        cmocka_unit_test(test_secret_never_observable),
    };
    return cmocka_run_group_tests_name("observe_manager", tests, NULL, NULL);
}
