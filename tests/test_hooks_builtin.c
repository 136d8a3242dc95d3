/*
 * test_hooks_builtin.c - the audit, metrics and slow-acquire hooks, driven
 * by calling their callbacks with hand-made calls (no registry, no pool):
 * the exact audit lines through a sink and a file, the bounded queue's drops,
 * the metric series after a scripted sequence, and the slow-acquire report
 * above its threshold and silence below it.
 *
 * Timestamps are checked by shape (digits), never by value; nothing here
 * bounds how long anything takes.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nebula/alloc.h"
#include "nebula/events.h"
#include "nebula/hooks_builtin.h"
#include "nebula/metrics.h"
#include "nebula/trace.h"
#include "testutil.h"

/* ---- hand-made calls --------------------------------------------------------- */

static nr_scope tenant_acme;
static nr_scope tenant_globex;

static nr_hook_call call_of(nr_hook_op op, const char *resource, uint64_t instance)
{
    nr_hook_call c;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.resource_id = resource;
    c.type_name = "fake";
    c.scope = &tenant_acme;
    c.instance_id = instance;
    return c;
}

static nr_hook_call done(nr_hook_call c, int rc, const nr_error *e, int64_t dur, int64_t wait)
{
    c.rc = rc;
    c.error = e;
    c.duration_ns = dur;
    c.wait_ns = wait;
    return c;
}

/* Run the def's after callback on call; the built-ins never fail it. */
static void run_after(const nr_hook_def *def, const nr_hook_call *call)
{
    nr_error err = {0};
    assert_non_null(def->after);
    assert_int_equal(def->after(def->ud, call, &err), NR_OK);
}

/* ---- audit: a sink that keeps the lines, and can be held ---------------------- */

#define SINK_MAX 32

typedef struct sink_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *lines[SINK_MAX];
    int n;
    bool hold;    /* the sink blocks while set */
    bool entered; /* the sink was called while hold was set */
} sink_state;

static void sink_init(sink_state *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void sink_fini(sink_state *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->lines[i]);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

static void sink_fn(void *ud, const char *line, size_t len)
{
    sink_state *s = ud;
    pthread_mutex_lock(&s->mu);
    if (s->hold) {
        s->entered = true;
        pthread_cond_broadcast(&s->cv);
        while (s->hold)
            pthread_cond_wait(&s->cv, &s->mu);
    }
    /* no assert here: this is the audit thread. A line with a '\n' in it
     * or cut short fails the comparison on the test thread. */
    if (s->n < SINK_MAX)
        s->lines[s->n++] = strndup(line, strlen(line) == len ? len : 0);
    pthread_mutex_unlock(&s->mu);
}

/* line without its `{"ts_ms":DIGITS,` prefix, which must be there. */
static const char *after_ts(const char *line)
{
    const char *p = "{\"ts_ms\":";
    assert_memory_equal(line, p, strlen(p));
    const char *s = line + strlen(p);
    const char *d = s;
    while (*d >= '0' && *d <= '9')
        d++;
    assert_true(d - s >= 13); /* milliseconds since 1970: 13 digits until 2286 */
    assert_int_equal(*d, ',');
    return d + 1;
}

/* The scripted sequence, and the lines it must give (without ts_ms). */
static void script(const nr_hook_def *def)
{
    nr_error timeout = {0};
    nr_error_set(&timeout, NR_ETIMEDOUT, "orders-db", "acquire of 'orders-db' timed out");
    nr_hook_call c = call_of(NR_HOOK_CREATE, "orders-db", 7);
    run_after(def, (c = done(c, NR_OK, NULL, 5000, 0), &c));
    c = call_of(NR_HOOK_ACQUIRE, "orders-db", 7);
    c.caller = "checkout";
    c.caller_scope = &tenant_globex;
    run_after(def, (c = done(c, NR_OK, NULL, 81234, 1200), &c));
    c = call_of(NR_HOOK_RELEASE, "orders-db", 7);
    run_after(def, (c = done(c, NR_OK, NULL, 300, 0), &c));
    c = call_of(NR_HOOK_ACQUIRE, "orders-db", 0);
    c.scope = NULL;
    run_after(def, (c = done(c, NR_ETIMEDOUT, &timeout, 50000000, 50000000), &c));
    c = call_of(NR_HOOK_DESTROY, "orders-db", 7);
    run_after(def, (c = done(c, NR_OK, NULL, 900, 0), &c));
}

static const char *const script_lines[] = {
    "\"resource\":\"orders-db\",\"scope\":\"tenant:acme\",\"op\":\"create\",\"outcome\":\"ok\","
    "\"code\":0,\"error\":null,\"duration_ns\":5000,\"caller\":null,\"instance\":7}",
    "\"resource\":\"orders-db\",\"scope\":\"tenant:globex\",\"op\":\"acquire\",\"outcome\":\"ok\","
    "\"code\":0,\"error\":null,\"duration_ns\":81234,\"wait_ns\":1200,\"caller\":\"checkout\","
    "\"instance\":7}",
    "\"resource\":\"orders-db\",\"scope\":\"tenant:acme\",\"op\":\"release\",\"outcome\":\"ok\","
    "\"code\":0,\"error\":null,\"duration_ns\":300,\"caller\":null,\"instance\":7}",
    "\"resource\":\"orders-db\",\"scope\":null,\"op\":\"acquire\",\"outcome\":\"NR_ETIMEDOUT\","
    "\"code\":-7,\"error\":\"acquire of 'orders-db' timed out\",\"duration_ns\":50000000,"
    "\"wait_ns\":50000000,\"caller\":null,\"instance\":null}",
    "\"resource\":\"orders-db\",\"scope\":\"tenant:acme\",\"op\":\"destroy\",\"outcome\":\"ok\","
    "\"code\":0,\"error\":null,\"duration_ns\":900,\"caller\":null,\"instance\":7}",
};
#define SCRIPT_N ((int)(sizeof script_lines / sizeof script_lines[0]))

static void test_audit_sink_lines(void **state)
{
    (void)state;
    sink_state s;
    sink_init(&s);
    nr_audit_options o = NR_AUDIT_OPTIONS_INIT;
    nr_audit_options_default(&o);
    assert_int_equal(o.queue_lines, 4096);
    o.sink = sink_fn;
    o.sink_ud = &s;
    nr_audit *a = NULL;
    nr_error err = {0};
    assert_int_equal(nr_audit_create(&a, &o, &err), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_audit_hook(a, &def);
    assert_string_equal(def.name, "audit");
    assert_int_equal(def.ops, NR_HOOK_OPS_ALL);
    assert_null(def.before);
    assert_ptr_equal(def.ud, a);

    script(&def);
    assert_int_equal(nr_audit_flush(a, nr_deadline_never(), &err), NR_OK);
    pthread_mutex_lock(&s.mu);
    assert_int_equal(s.n, SCRIPT_N);
    for (int i = 0; i < SCRIPT_N; i++)
        assert_string_equal(after_ts(s.lines[i]), script_lines[i]);
    pthread_mutex_unlock(&s.mu);
    nr_audit_stats st = NR_AUDIT_STATS_INIT;
    nr_audit_stats_get(a, &st);
    assert_int_equal(st.queued, SCRIPT_N);
    assert_int_equal(st.written, SCRIPT_N);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.write_errors, 0);
    nr_audit_destroy(a);
    sink_fini(&s);
}

/* Quotes, control characters and bytes that are not UTF-8 in a message. */
static void test_audit_escapes(void **state)
{
    (void)state;
    sink_state s;
    sink_init(&s);
    nr_audit_options o = NR_AUDIT_OPTIONS_INIT;
    nr_audit_options_default(&o);
    o.sink = sink_fn;
    o.sink_ud = &s;
    nr_audit *a = NULL;
    assert_int_equal(nr_audit_create(&a, &o, NULL), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_audit_hook(a, &def);
    nr_error e = {0};
    nr_error_set(&e, NR_EINIT, NULL, "bad \"x\"\n\\ \xff end");
    nr_hook_call c = call_of(NR_HOOK_CREATE, "db", 0);
    c.scope = NULL;
    c = done(c, NR_EINIT, &e, 1, 0);
    run_after(&def, &c);
    c = done(c, NR_EUNAVAIL, NULL, 2, 0); /* a failure without detail: the code's text */
    run_after(&def, &c);
    nr_audit_destroy(a); /* drains */
    assert_int_equal(s.n, 2);
    assert_string_equal(after_ts(s.lines[0]),
                        "\"resource\":\"db\",\"scope\":null,\"op\":\"create\",\"outcome\":"
                        "\"NR_EINIT\",\"code\":-2,\"error\":\"bad \\\"x\\\"\\n\\\\ \\ufffd end\","
                        "\"duration_ns\":1,\"caller\":null,\"instance\":null}");
    assert_string_equal(after_ts(s.lines[1]),
                        "\"resource\":\"db\",\"scope\":null,\"op\":\"create\",\"outcome\":"
                        "\"NR_EUNAVAIL\",\"code\":-3,\"error\":\"resource unavailable\","
                        "\"duration_ns\":2,\"caller\":null,\"instance\":null}");
    sink_fini(&s);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_audit_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/nr_audit_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    nr_audit_options o = NR_AUDIT_OPTIONS_INIT;
    nr_audit_options_default(&o);
    o.path = path;
    for (int round = 1; round <= 2; round++) { /* the second appends */
        nr_audit *a = NULL;
        nr_error err = {0};
        assert_int_equal(nr_audit_create(&a, &o, &err), NR_OK);
        nr_hook_def def = NR_HOOK_DEF_INIT;
        nr_audit_hook(a, &def);
        script(&def);
        assert_int_equal(nr_audit_flush(a, nr_deadline_in_ms(60000), &err), NR_OK);
        nr_audit_destroy(a);
    }
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char *text = read_all(path);
    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        assert_true(n < 2 * SCRIPT_N);
        assert_string_equal(after_ts(line), script_lines[n % SCRIPT_N]);
        n++;
    }
    assert_int_equal(n, 2 * SCRIPT_N);
    assert_int_equal(text[strlen(text) - 1], '}'); /* strtok ate the last '\n' */
    nr_test_remove_dir(dir);
}

/* A sink held back: one line is in the sink, queue_lines wait, the rest drop. */
static void test_audit_queue_drops(void **state)
{
    (void)state;
    sink_state s;
    sink_init(&s);
    s.hold = true;
    nr_audit_options o = NR_AUDIT_OPTIONS_INIT;
    nr_audit_options_default(&o);
    o.sink = sink_fn;
    o.sink_ud = &s;
    o.queue_lines = 2;
    nr_audit *a = NULL;
    assert_int_equal(nr_audit_create(&a, &o, NULL), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_audit_hook(a, &def);
    nr_hook_call c = call_of(NR_HOOK_ACQUIRE, "db", 1);
    c = done(c, NR_OK, NULL, 1, 0);
    run_after(&def, &c);
    pthread_mutex_lock(&s.mu);
    while (!s.entered)
        pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    for (uint64_t i = 2; i <= 5; i++) { /* 2 and 3 are queued, 4 and 5 dropped */
        c.instance_id = i;
        run_after(&def, &c);
    }
    nr_audit_stats st = NR_AUDIT_STATS_INIT;
    nr_audit_stats_get(a, &st);
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.written, 0);
    nr_error err = {0};
    assert_int_equal(nr_audit_flush(a, nr_deadline_in_ms(0), &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "3 line(s) still queued");

    pthread_mutex_lock(&s.mu);
    s.hold = false;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    assert_int_equal(nr_audit_flush(a, nr_deadline_never(), &err), NR_OK);
    nr_audit_stats_get(a, &st);
    assert_int_equal(st.written, 3);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++) {
        char want[32];
        snprintf(want, sizeof want, "\"instance\":%d}", i + 1);
        assert_non_null(strstr(s.lines[i], want));
    }
    nr_audit_destroy(a);
    sink_fini(&s);
}

static void test_audit_create_errors(void **state)
{
    (void)state;
    sink_state s;
    sink_init(&s);
    nr_audit *a = NULL;
    nr_error err = {0};
    nr_audit_options o = NR_AUDIT_OPTIONS_INIT;
    nr_audit_options_default(&o);
    assert_int_equal(nr_audit_create(&a, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "neither given");
    o.path = "/tmp/x";
    o.sink = sink_fn;
    assert_int_equal(nr_audit_create(&a, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "both given");
    o.path = NULL;
    o.queue_lines = 0; /* the default */
    assert_int_equal(nr_audit_create(&a, &o, &err), NR_OK);
    nr_audit_destroy(a);
    a = NULL;
    o.queue_lines = 1048577;
    assert_int_equal(nr_audit_create(&a, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "got 1048577");
    nr_audit_options_default(&o);
    o.path = "/nonexistent-dir-nr/audit.jsonl";
    assert_int_equal(nr_audit_create(&a, &o, &err), NR_EINIT);
    NR_ASSERT_ERR(err, NR_EINIT, "cannot open '/nonexistent-dir-nr/audit.jsonl': No such file");
    assert_null(a);
    assert_int_equal(nr_audit_create(&a, NULL, &err), NR_EINVAL);
    nr_audit_destroy(NULL);
    sink_fini(&s);
}

/* ---- metrics ------------------------------------------------------------------ */

static char *scrape(nr_metrics *reg)
{
    char *text = NULL;
    size_t len = 0;
    nr_error err = {0};
    assert_int_equal(nr_metrics_format(reg, &text, &len, &err), NR_OK);
    return text;
}

static void assert_has(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("scrape lacks \"%s\":\n%s", line, text);
}

static void test_metrics_series(void **state)
{
    (void)state;
    nr_metrics *reg = NULL;
    assert_int_equal(nr_metrics_create(&reg, NULL), NR_OK);
    nr_hook_metrics *m = NULL;
    nr_error err = {0};
    assert_int_equal(nr_hook_metrics_create(&m, reg, &err), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_metrics_hook(m, &def);
    assert_string_equal(def.name, "metrics");
    assert_int_equal(def.ops, NR_HOOK_OPS_ALL);
    assert_ptr_equal(def.ud, m);

    nr_error timeout = {0};
    nr_error_set(&timeout, NR_ETIMEDOUT, "orders-db", "timed out");
    nr_hook_call c = call_of(NR_HOOK_ACQUIRE, "orders-db", 1);
    run_after(&def, (c = done(c, NR_OK, NULL, 500000000, 0), &c));             /* 0.5 s */
    run_after(&def, (c = done(c, NR_OK, NULL, 250000000, 0), &c));             /* 0.25 s */
    run_after(&def, (c = done(c, NR_ETIMEDOUT, &timeout, 2000000000, 0), &c)); /* 2 s */
    c = call_of(NR_HOOK_RELEASE, "orders-db", 1);
    run_after(&def, (c = done(c, NR_OK, NULL, 1000000, 0), &c));
    c = call_of(NR_HOOK_ACQUIRE, "users-db", 2);
    run_after(&def, (c = done(c, NR_OK, NULL, 1000000, 0), &c));
    c = done(c, -999, NULL, 1000000, 0); /* not an NR_E* code */
    run_after(&def, &c);

    char *text = scrape(reg);
    assert_has(text, "nr_hook_ops_total{resource=\"orders-db\",op=\"acquire\",outcome=\"ok\"} 2\n");
    assert_has(text, "nr_hook_ops_total{resource=\"orders-db\",op=\"acquire\","
                     "outcome=\"NR_ETIMEDOUT\"} 1\n");
    assert_has(text, "nr_hook_ops_total{resource=\"orders-db\",op=\"release\",outcome=\"ok\"} 1\n");
    assert_has(text, "nr_hook_ops_total{resource=\"users-db\",op=\"acquire\",outcome=\"ok\"} 1\n");
    assert_has(text,
               "nr_hook_ops_total{resource=\"users-db\",op=\"acquire\",outcome=\"NR_E?\"} 1\n");
    assert_has(text, "nr_hook_op_duration_seconds_bucket{resource=\"orders-db\",op=\"acquire\","
                     "le=\"0.1\"} 0\n");
    assert_has(text, "nr_hook_op_duration_seconds_bucket{resource=\"orders-db\",op=\"acquire\","
                     "le=\"0.5\"} 2\n");
    assert_has(text, "nr_hook_op_duration_seconds_bucket{resource=\"orders-db\",op=\"acquire\","
                     "le=\"+Inf\"} 3\n");
    assert_has(text,
               "nr_hook_op_duration_seconds_sum{resource=\"orders-db\",op=\"acquire\"} 2.75\n");
    assert_has(text,
               "nr_hook_op_duration_seconds_count{resource=\"orders-db\",op=\"acquire\"} 3\n");
    assert_has(text,
               "nr_hook_op_duration_seconds_count{resource=\"orders-db\",op=\"release\"} 1\n");
    assert_null(strstr(text, "op=\"create\""));
    nr_free(text);

    /* A second object over the same registry shares the families. */
    nr_hook_metrics *m2 = NULL;
    assert_int_equal(nr_hook_metrics_create(&m2, reg, &err), NR_OK);
    nr_hook_def def2 = NR_HOOK_DEF_INIT;
    nr_metrics_hook(m2, &def2);
    c = call_of(NR_HOOK_ACQUIRE, "orders-db", 1);
    run_after(&def2, (c = done(c, NR_OK, NULL, 1, 0), &c));
    text = scrape(reg);
    assert_has(text, "nr_hook_ops_total{resource=\"orders-db\",op=\"acquire\",outcome=\"ok\"} 3\n");
    nr_free(text);
    nr_hook_metrics_destroy(m2);
    nr_hook_metrics_destroy(m);
    nr_hook_metrics_destroy(NULL);
    nr_metrics_destroy(reg);
}

/* More (resource, op) pairs than the table holds: every one is still counted. */
static void test_metrics_table_full(void **state)
{
    (void)state;
    nr_metrics *reg = NULL;
    assert_int_equal(nr_metrics_create(&reg, NULL), NR_OK);
    nr_hook_metrics *m = NULL;
    assert_int_equal(nr_hook_metrics_create(&m, reg, NULL), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_metrics_hook(m, &def);
    enum { PAIRS = 1100 };
    char id[32];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < PAIRS; i++) {
            snprintf(id, sizeof id, "r%d", i);
            nr_hook_call c = call_of(NR_HOOK_CREATE, id, 1);
            c = done(c, NR_OK, NULL, 1000, 0);
            run_after(&def, &c);
        }
    for (int i = 0; i < PAIRS; i += PAIRS - 1) {
        const char *labels[3] = {id, "create", "ok"};
        snprintf(id, sizeof id, "r%d", i);
        nr_counter *ctr = NULL;
        assert_int_equal(nr_metrics_counter(reg, "nr_hook_ops_total", labels, 3, &ctr, NULL),
                         NR_OK);
        assert_int_equal(nr_counter_value(ctr), 2);
    }
    nr_hook_metrics_destroy(m);
    nr_metrics_destroy(reg);
}

static void test_metrics_create_errors(void **state)
{
    (void)state;
    nr_metrics *reg = NULL;
    assert_int_equal(nr_metrics_create(&reg, NULL), NR_OK);
    nr_hook_metrics *m = NULL;
    nr_error err = {0};
    assert_int_equal(nr_hook_metrics_create(&m, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_hook_metrics_create(NULL, reg, &err), NR_EINVAL);
    nr_metric_desc clash = {.name = "nr_hook_ops_total", .help = "", .type = NR_METRIC_GAUGE};
    assert_int_equal(nr_metrics_register(reg, &clash, NULL), NR_OK);
    assert_int_equal(nr_hook_metrics_create(&m, reg, &err), NR_EEXIST);
    NR_ASSERT_ERR(err, NR_EEXIST, "nr_hook_ops_total");
    assert_null(m);
    nr_metrics_destroy(reg);
}

/* ---- slow acquire ------------------------------------------------------------- */

typedef struct trace_cap {
    pthread_mutex_t mu;
    int n;
    nr_trace_level level;
    char op[32], message[256], resource[64], scope[128];
    int code;
    bool had_stats;
} trace_cap;

static trace_cap tcap = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void trace_fn(void *ud, const nr_trace_record *r)
{
    (void)ud;
    pthread_mutex_lock(&tcap.mu);
    tcap.n++;
    tcap.level = r->level;
    snprintf(tcap.op, sizeof tcap.op, "%s", r->op ? r->op : "");
    snprintf(tcap.message, sizeof tcap.message, "%s", r->message ? r->message : "");
    snprintf(tcap.resource, sizeof tcap.resource, "%s", r->resource_id ? r->resource_id : "");
    snprintf(tcap.scope, sizeof tcap.scope, "%s", r->scope ? r->scope : "");
    tcap.code = r->code;
    tcap.had_stats = r->stats != NULL;
    pthread_mutex_unlock(&tcap.mu);
}

static void test_slow_acquire_threshold(void **state)
{
    (void)state;
    nr_event_bus *bus = NULL;
    assert_int_equal(nr_event_bus_create(&bus, 64, NULL), NR_OK);
    nr_event_sub *sub = NULL;
    assert_int_equal(nr_event_subscribe(bus, &sub, NULL), NR_OK);
    nr_metrics *reg = NULL;
    assert_int_equal(nr_metrics_create(&reg, NULL), NR_OK);
    nr_trace_sink ts = {trace_fn, NULL};
    assert_int_equal(nr_trace_set_sink(&ts, NR_TRACE_LEVEL_WARN), NR_OK);

    nr_slow_acquire_options o = NR_SLOW_ACQUIRE_OPTIONS_INIT;
    nr_slow_acquire_options_default(&o);
    assert_int_equal(o.threshold_ms, 100);
    o.events = bus;
    o.metrics = reg;
    nr_slow_acquire *s = NULL;
    nr_error err = {0};
    assert_int_equal(nr_slow_acquire_create(&s, &o, &err), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_slow_acquire_hook(s, &def);
    assert_string_equal(def.name, "slow-acquire");
    assert_int_equal(def.ops, NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE));
    assert_ptr_equal(def.ud, s);

    /* at and below the threshold, and a slow operation that is no acquire: silent */
    nr_hook_call c = call_of(NR_HOOK_ACQUIRE, "orders-db", 3);
    run_after(&def, (c = done(c, NR_OK, NULL, 1, 99 * NR_NS_PER_MS), &c));
    run_after(&def, (c = done(c, NR_OK, NULL, 1, 100 * NR_NS_PER_MS), &c));
    nr_hook_call r = call_of(NR_HOOK_RELEASE, "orders-db", 3);
    run_after(&def, (r = done(r, NR_OK, NULL, 1, 900 * NR_NS_PER_MS), &r));
    assert_int_equal(nr_slow_acquire_count(s), 0);
    nr_event ev;
    assert_int_equal(nr_event_next(sub, &ev, NULL, nr_deadline_in_ns(0)), NR_ETIMEDOUT);
    assert_int_equal(tcap.n, 0);

    /* above: one event, one trace line, one count */
    c.caller_scope = &tenant_globex;
    c.site_file = "src/app/handler.c";
    c.site_line = 88;
    c.site_func = "serve";
    run_after(&def, (c = done(c, NR_OK, NULL, 1, 812 * NR_NS_PER_MS + 5), &c));
    assert_int_equal(nr_slow_acquire_count(s), 1);
    assert_int_equal(nr_event_next(sub, &ev, NULL, nr_deadline_in_ms(10000)), NR_OK);
    assert_int_equal(ev.type, NR_EV_SLOW_ACQUIRE);
    assert_string_equal(ev.resource_id, "orders-db");
    assert_string_equal(ev.scope, "tenant:globex");
    assert_int_equal(ev.instance_id, 3);
    assert_int_equal(ev.wait_ns, 812 * NR_NS_PER_MS + 5);
    assert_int_equal(ev.count, 0); /* no pool in a hand-made call: no waiters known */
    assert_int_equal(ev.error_code, NR_OK);
    assert_string_equal(ev.text, "waited 812 ms; at handler.c:88 (serve)");
    assert_int_equal(nr_event_next(sub, &ev, NULL, nr_deadline_in_ns(0)), NR_ETIMEDOUT);
    assert_int_equal(tcap.n, 1);
    assert_int_equal(tcap.level, NR_TRACE_LEVEL_WARN);
    assert_string_equal(tcap.op, "slow_acquire");
    assert_string_equal(tcap.message, "waited 812 ms; at handler.c:88 (serve)");
    assert_string_equal(tcap.resource, "orders-db");
    assert_string_equal(tcap.scope, "tenant:globex");
    assert_false(tcap.had_stats);

    /* a slow acquire that failed is reported too, with its code */
    c = call_of(NR_HOOK_ACQUIRE, "orders-db", 0);
    run_after(&def, (c = done(c, NR_ETIMEDOUT, NULL, 1, 150 * NR_NS_PER_MS), &c));
    assert_int_equal(nr_event_next(sub, &ev, NULL, nr_deadline_in_ms(10000)), NR_OK);
    assert_int_equal(ev.error_code, NR_ETIMEDOUT);
    assert_string_equal(ev.text, "waited 150 ms");
    assert_string_equal(ev.scope, "tenant:acme");
    assert_int_equal(nr_slow_acquire_count(s), 2);

    char *text = scrape(reg);
    assert_has(text, "nr_slow_acquires_total{resource=\"orders-db\"} 2\n");
    nr_free(text);

    assert_int_equal(nr_trace_set_sink(NULL, NR_TRACE_LEVEL_WARN), NR_OK);
    nr_slow_acquire_destroy(s);
    nr_slow_acquire_destroy(NULL);
    nr_event_unsubscribe(sub);
    assert_int_equal(nr_event_bus_destroy(bus), NR_OK);
    nr_metrics_destroy(reg);
}

static void test_slow_acquire_options(void **state)
{
    (void)state;
    nr_slow_acquire *s = NULL;
    nr_error err = {0};
    nr_slow_acquire_options o = NR_SLOW_ACQUIRE_OPTIONS_INIT;
    nr_slow_acquire_options_default(&o);
    o.threshold_ms = 0;
    assert_int_equal(nr_slow_acquire_create(&s, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "threshold_ms must be in 1..86400000 (got 0)");
    o.threshold_ms = 86400001;
    assert_int_equal(nr_slow_acquire_create(&s, &o, &err), NR_EINVAL);
    assert_null(s);
    /* no options: the defaults, no bus, no registry */
    assert_int_equal(nr_slow_acquire_create(&s, NULL, &err), NR_OK);
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_slow_acquire_hook(s, &def);
    nr_hook_call c = call_of(NR_HOOK_ACQUIRE, "db", 1);
    run_after(&def, (c = done(c, NR_OK, NULL, 1, 101 * NR_NS_PER_MS), &c));
    assert_int_equal(nr_slow_acquire_count(s), 1);
    nr_slow_acquire_destroy(s);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(nr_scope_make(&tenant_acme, "acme", NULL, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_scope_make(&tenant_globex, "globex", NULL, NULL, NULL, NULL), NR_OK);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_sink_lines),
        cmocka_unit_test(test_audit_escapes),
        cmocka_unit_test(test_audit_file),
        cmocka_unit_test(test_audit_queue_drops),
        cmocka_unit_test(test_audit_create_errors),
        cmocka_unit_test(test_metrics_series),
        cmocka_unit_test(test_metrics_table_full),
        cmocka_unit_test(test_metrics_create_errors),
        cmocka_unit_test(test_slow_acquire_threshold),
        cmocka_unit_test(test_slow_acquire_options),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
