/* test_health_pipeline.c - health pipelines: the round (stage order, the
 * first unhealthy stage stops it, the worst state with the reason of the
 * stage that gave it, every stage's result kept), the connectivity stage,
 * custom stages, creation errors with their messages, out of memory, a round
 * already running, and readers of the last round while rounds run (for
 * TSan). The judging stages are in test_health_stages.c. Time is a fake
 * clock: nothing here depends on how fast the machine is. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "health_fixture.h"
#include "nebula/alloc.h"

static const char *const conn_only[] = {"connectivity", NULL};

/* ---- the round ----------------------------------------------------------------------------- */

static void test_before_first_round(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "performance", NULL};
    nr_hf f;
    nr_hf_init(&f, stages);
    nr_hf_create(&f);
    nr_health_round_result last;
    assert_int_equal(nr_health_pipeline_last(f.p, &last, NULL), NR_OK);
    assert_int_equal(last.round, 0);
    assert_int_equal(last.state, NR_HEALTH_UNKNOWN);
    assert_int_equal(last.nstages, 2);
    assert_string_equal(last.stages[0].name, "connectivity");
    assert_string_equal(last.stages[1].name, "performance");
    assert_false(last.stages[0].ran);
    assert_false(last.stages[1].ran);
    assert_int_equal(nr_health_pipeline_last(f.p, NULL, NULL), NR_EINVAL);
    assert_int_equal(nr_health_pipeline_run(f.p, NULL, NULL, NULL), NR_EINVAL);
    nr_hf_destroy(&f);
    assert_int_equal(nr_health_pipeline_destroy(NULL, NULL), NR_OK);
}

static void test_default_config_is_connectivity(void **state)
{
    (void)state;
    nr_hf_clock clk = {.now = 5 * NR_NS_PER_S};
    nr_hf_checker chk = {.clk = &clk, .state = NR_HEALTH_HEALTHY, .latency_ms = 12};
    nr_health_pipeline_options o = NR_HEALTH_PIPELINE_OPTIONS_INIT;
    nr_health_pipeline_options_default(&o);
    o.clock = nr_hf_clock_fn;
    o.clock_ud = &clk;
    nr_health_pipeline *p = NULL;
    assert_int_equal(nr_health_pipeline_create(&p, NULL, &o, NULL), NR_OK);
    nr_health_round in = {.check = nr_hf_check, .check_ud = &chk};
    nr_health_round_result res;
    assert_int_equal(nr_health_pipeline_run(p, &in, &res, NULL), NR_OK);
    assert_int_equal(res.round, 1);
    assert_int_equal(res.started_ns, 5 * NR_NS_PER_S);
    assert_int_equal(res.nstages, 1);
    assert_int_equal(res.state, NR_HEALTH_HEALTHY);
    assert_string_equal(res.reason, "");
    assert_string_equal(res.stage, "");
    assert_true(res.stages[0].ran);
    assert_int_equal(res.stages[0].state, NR_HEALTH_HEALTHY);
    assert_int_equal(res.stages[0].latency_ns, 12 * MS);
    assert_int_equal(chk.calls, 1);
    /* what last returns is the same round */
    nr_health_round_result last;
    assert_int_equal(nr_health_pipeline_last(p, &last, NULL), NR_OK);
    assert_memory_equal(&last, &res, sizeof(res));
    assert_int_equal(nr_health_pipeline_destroy(p, NULL), NR_OK);

    /* no options at all: the real clock, still one round */
    assert_int_equal(nr_health_pipeline_create(&p, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_health_pipeline_run(p, &in, &res, NULL), NR_OK);
    assert_int_equal(res.state, NR_HEALTH_HEALTHY);
    assert_int_equal(nr_health_pipeline_destroy(p, NULL), NR_OK);
}

static void test_connectivity_outcomes(void **state)
{
    (void)state;
    nr_hf f;
    nr_hf_init(&f, conn_only);
    nr_hf_create(&f);

    f.chk.state = NR_HEALTH_DEGRADED;
    f.chk.reason = "replica lagging";
    nr_health_round_result r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_DEGRADED);
    assert_string_equal(r.reason, "replica lagging");
    assert_string_equal(r.stage, "connectivity");

    /* a check that did not run: unhealthy with its message */
    f.chk.rc = NR_ETIMEDOUT;
    f.chk.reason = "no answer within 5000 ms";
    r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_UNHEALTHY);
    assert_string_equal(r.reason, "health check failed: no answer within 5000 ms");
    f.chk.reason = NULL; /* no message: the code's text */
    r = nr_hf_round(&f, NULL, 1000);
    assert_string_equal(r.reason, "health check failed: timed out");

    /* nothing to check: no verdict */
    f.chk.rc = NR_OK;
    f.chk.state = NR_HEALTH_UNKNOWN;
    r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_UNKNOWN);
    assert_string_equal(r.reason, "");
    assert_string_equal(r.stages[0].reason, "nothing was checked");

    /* unhealthy without a reason gets one; an invalid state is unhealthy */
    f.chk.state = NR_HEALTH_UNHEALTHY;
    r = nr_hf_round(&f, NULL, 1000);
    assert_string_equal(r.reason, "health check says unhealthy");
    f.chk.state = (nr_health_state)9;
    r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_UNHEALTHY);
    assert_string_equal(r.reason, "health check gave an invalid state (9)");

    /* the latency: the check's own, else the stage's time on the clock */
    f.chk.state = NR_HEALTH_HEALTHY;
    f.chk.latency_ms = -1;
    f.chk.advance_ms = 7;
    r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.stages[0].latency_ns, 7 * MS);
    assert_int_equal(r.latency_ns, 7 * MS);

    /* no check given */
    nr_health_round in = {.deadline = nr_deadline_never()};
    assert_int_equal(nr_health_pipeline_run(f.p, &in, &r, NULL), NR_OK);
    assert_int_equal(r.state, NR_HEALTH_UNKNOWN);
    assert_string_equal(r.stages[0].reason, "no health check was given");
    assert_int_equal(r.round, 8);
    nr_hf_destroy(&f);
}

/* ---- custom stages ------------------------------------------------------------------------- */

typedef struct custom {
    int rc;
    nr_health_state state;
    const char *reason;
    int64_t latency_ms; /* -1: leave it */
    int calls;
    nr_health_stage_ctx seen;      /* the last context */
    nr_health_stage_result before; /* round->stages[0] as this stage saw it */
} custom;

static int custom_fn(void *ud, const nr_health_stage_ctx *ctx, nr_health_report *rep, nr_error *err)
{
    custom *c = ud;
    c->calls++;
    c->seen = *ctx;
    if (ctx->index > 0)
        c->before = ctx->round->stages[0];
    if (c->rc != NR_OK)
        return nr_error_set(err, c->rc, NULL, "%s", c->reason);
    rep->state = c->state;
    if (c->latency_ms >= 0)
        rep->latency_ns = c->latency_ms * MS;
    snprintf(rep->reason, sizeof(rep->reason), "%s", c->reason ? c->reason : "");
    return NR_OK;
}

static void test_stop_at_first_unhealthy(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "lag", "disk", NULL};
    custom lag = {.state = NR_HEALTH_UNHEALTHY, .reason = "lag 40 s", .latency_ms = -1};
    custom disk = {.state = NR_HEALTH_HEALTHY, .latency_ms = -1};
    nr_health_stage_def defs[] = {
        NR_HEALTH_STAGE_DEF(.name = "lag", .fn = custom_fn, .ud = &lag),
        NR_HEALTH_STAGE_DEF(.name = "disk", .fn = custom_fn, .ud = &disk)};
    nr_hf f;
    nr_hf_init(&f, stages);
    f.opts.custom = defs;
    f.opts.ncustom = 2;
    nr_hf_create(&f);

    nr_health_round_result r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_UNHEALTHY);
    assert_string_equal(r.stage, "lag");
    assert_string_equal(r.reason, "lag 40 s");
    assert_true(r.stages[0].ran);
    assert_true(r.stages[1].ran);
    assert_false(r.stages[2].ran);
    assert_int_equal(r.stages[2].state, NR_HEALTH_UNKNOWN);
    assert_string_equal(r.stages[2].reason, "not run: lag was unhealthy");
    assert_int_equal(disk.calls, 0);

    /* connectivity unhealthy: neither custom stage runs */
    f.chk.state = NR_HEALTH_UNHEALTHY;
    f.chk.reason = "connection refused";
    r = nr_hf_round(&f, NULL, 1000);
    assert_string_equal(r.stage, "connectivity");
    assert_string_equal(r.stages[1].reason, "not run: connectivity was unhealthy");
    assert_int_equal(lag.calls, 1);
    assert_int_equal(disk.calls, 0);

    /* degraded does not stop; the first of equal states gives the reason */
    f.chk.state = NR_HEALTH_DEGRADED;
    f.chk.reason = "slow handshake";
    lag.state = NR_HEALTH_DEGRADED;
    disk.state = NR_HEALTH_HEALTHY;
    r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_DEGRADED);
    assert_string_equal(r.stage, "connectivity");
    assert_string_equal(r.reason, "slow handshake");
    assert_int_equal(disk.calls, 1);

    /* the worst wins, later in the list too, and still stops what follows */
    f.chk.state = NR_HEALTH_HEALTHY;
    lag.state = NR_HEALTH_DEGRADED;
    lag.reason = "lag 5 s";
    disk.state = NR_HEALTH_UNHEALTHY;
    disk.reason = "disk full";
    r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_UNHEALTHY);
    assert_string_equal(r.stage, "disk");
    assert_string_equal(r.reason, "disk full");
    assert_int_equal(r.stages[1].state, NR_HEALTH_DEGRADED);
    assert_string_equal(r.stages[1].reason, "lag 5 s");
    nr_hf_destroy(&f);
}

static void test_custom_stage_context(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "probe", NULL};
    custom probe = {.state = NR_HEALTH_HEALTHY, .reason = "fine", .latency_ms = 3};
    nr_health_stage_def defs[] = {
        NR_HEALTH_STAGE_DEF(.name = "probe", .fn = custom_fn, .ud = &probe)};
    nr_hf f;
    nr_hf_init(&f, stages);
    f.opts.custom = defs;
    f.opts.ncustom = 1;
    nr_hf_create(&f);

    nr_pool_stats st = NR_POOL_STATS(.in_use = 1, .max_size = 4);
    f.chk.state = NR_HEALTH_DEGRADED;
    f.chk.reason = "slow";
    nr_health_round_result r = nr_hf_round(&f, &st, 1000);
    assert_int_equal(probe.calls, 1);
    assert_string_equal(probe.seen.resource_id, "db");
    assert_string_equal(probe.seen.stage, "probe");
    assert_int_equal(probe.seen.index, 1);
    assert_ptr_equal(probe.seen.stats, &st);
    assert_int_equal(probe.seen.deadline.at_ns, NR_DEADLINE_NEVER);
    /* the stages before it, as they ended */
    assert_string_equal(probe.before.name, "connectivity");
    assert_int_equal(probe.before.state, NR_HEALTH_DEGRADED);
    assert_string_equal(probe.before.reason, "slow");
    assert_int_equal(r.stages[1].latency_ns, 3 * MS);
    assert_string_equal(r.stages[1].reason, "fine");

    /* a stage that fails is unhealthy with its message */
    probe.rc = NR_EINTERNAL;
    probe.reason = "query failed";
    f.chk.state = NR_HEALTH_HEALTHY;
    r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_UNHEALTHY);
    assert_string_equal(r.reason, "stage failed: query failed");
    assert_string_equal(r.stage, "probe");
    probe.rc = NR_OK;
    probe.state = NR_HEALTH_DEGRADED;
    probe.reason = NULL; /* a verdict without a reason gets one */
    r = nr_hf_round(&f, NULL, 1000);
    assert_string_equal(r.reason, "probe says degraded");
    probe.state = (nr_health_state)-3;
    r = nr_hf_round(&f, NULL, 1000);
    assert_string_equal(r.reason, "stage gave an invalid state (-3)");
    nr_hf_destroy(&f);
}

/* ---- creation --------------------------------------------------------------------------- */

static int create_err(nr_hf *f, nr_error *err)
{
    nr_health_pipeline *sentinel = (nr_health_pipeline *)&f->clk;
    f->p = sentinel;
    int rc = nr_health_pipeline_create(&f->p, &f->cfg, &f->opts, err);
    if (rc != NR_OK)
        assert_ptr_equal(f->p, sentinel); /* out is set on success only */
    return rc;
}

static void test_create_errors(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "probe", NULL};
    custom c = {.state = NR_HEALTH_HEALTHY};
    nr_health_stage_def defs[2] = {NR_HEALTH_STAGE_DEF(.name = "probe", .fn = custom_fn, .ud = &c),
                                   NR_HEALTH_STAGE_DEF(.name = "other", .fn = custom_fn, .ud = &c)};
    nr_hf f;
    nr_error err = {0};
    nr_hf_init(&f, stages);
    f.opts.custom = defs;
    f.opts.ncustom = 2;

    assert_int_equal(nr_health_pipeline_create(NULL, &f.cfg, &f.opts, &err), NR_EINVAL);
    assert_string_equal(err.message,
                        "resource 'db': nr_health_pipeline_create: out must not be NULL");

    f.opts.size = 0;
    assert_int_equal(create_err(&f, &err), NR_EINVAL);
    assert_non_null(strstr(err.message, "nr_health_pipeline_options: size 0 is not a size this "
                                        "library knows"));
    f.opts.size = sizeof(f.opts);

    defs[1].name = "performance";
    assert_int_equal(create_err(&f, &err), NR_EINVAL);
    assert_string_equal(
        err.message, "resource 'db': health stage \"performance\": the name is a built-in stage's");
    assert_string_equal(err.resource_id, "db");
    defs[1].name = "my stage";
    assert_int_equal(create_err(&f, &err), NR_EINVAL);
    assert_string_equal(
        err.message,
        "resource 'db': health stage \"my stage\": the name must hold only letters, digits "
        "and _.-");
    defs[1].name = "probe";
    assert_int_equal(create_err(&f, &err), NR_EINVAL);
    assert_string_equal(err.message,
                        "resource 'db': health stage \"probe\": defined twice (custom[0] and [1])");
    defs[1].name = NULL;
    assert_int_equal(create_err(&f, &err), NR_EINVAL);
    assert_string_equal(err.message, "resource 'db': health pipeline: custom[1] has no name");
    defs[1] = (nr_health_stage_def)NR_HEALTH_STAGE_DEF(.name = "other", .fn = NULL, .ud = NULL);
    assert_int_equal(create_err(&f, &err), NR_EINVAL);
    assert_string_equal(err.message, "resource 'db': health stage \"other\": fn must not be NULL");
    defs[1].fn = custom_fn;
    f.opts.custom = NULL;
    assert_int_equal(create_err(&f, &err), NR_EINVAL);
    assert_string_equal(err.message,
                        "resource 'db': health pipeline: ncustom is 2 but custom is NULL");
    f.opts.custom = defs;

    /* the config names a stage nobody defined */
    snprintf(f.cfg.stages[1], sizeof(f.cfg.stages[1]), "probee");
    assert_int_equal(create_err(&f, &err), NR_ECONFIG);
    assert_string_equal(err.resource_id, "db");
    assert_string_equal(err.message,
                        "resource 'db': health config: 1 problem; first: $.stages[1]: unknown "
                        "stage; did you mean \"probe\"? (known: connectivity, performance, "
                        "utilization, probe, other) (got \"probee\")");
    f.opts.resource_id = NULL;
    f.cfg.performance.window = 0;
    assert_int_equal(create_err(&f, &err), NR_ECONFIG);
    assert_true(strncmp(err.message, "health config: 2 problems; first: $.stages[1]", 45) == 0);

    /* and right: it is made */
    nr_hf_init(&f, stages);
    f.opts.custom = defs;
    f.opts.ncustom = 2;
    assert_int_equal(create_err(&f, &err), NR_OK);
    nr_hf_destroy(&f);
}

static void test_create_out_of_memory(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "performance", "utilization", "probe",
                                         NULL};
    custom c = {.state = NR_HEALTH_HEALTHY};
    nr_health_stage_def defs[] = {NR_HEALTH_STAGE_DEF(.name = "probe", .fn = custom_fn, .ud = &c)};
    nr_hf f;
    nr_hf_init(&f, stages);
    f.opts.custom = defs;
    f.opts.ncustom = 1;
    nr_test_alloc_install();
    int failures = 0;
    for (long k = 0;; k++) {
        nr_error err = {0};
        nr_test_alloc_fail_after(k);
        int rc = create_err(&f, &err);
        nr_test_alloc_reset();
        if (rc == NR_OK)
            break;
        NR_ASSERT_ERR(err, NR_ENOMEM, "health pipeline: out of memory");
        failures++;
    }
    /* the custom stages' copy at the library's size, the custom names, the pipeline, three
     * windows of performance, one of utilization */
    assert_int_equal(failures, 7);
    nr_health_round_result r = nr_hf_round(&f, NULL, 1000);
    assert_int_equal(r.state, NR_HEALTH_HEALTHY);
    nr_hf_destroy(&f);
}

/* ---- one round at a time ----------------------------------------------------------------------
 */

typedef struct latch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, release;
} latch;

static int blocking_fn(void *ud, const nr_health_stage_ctx *ctx, nr_health_report *rep,
                       nr_error *err)
{
    (void)ctx;
    (void)err;
    latch *l = ud;
    pthread_mutex_lock(&l->mu);
    l->entered = true;
    pthread_cond_broadcast(&l->cv);
    while (!l->release)
        pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
    rep->state = NR_HEALTH_HEALTHY;
    return NR_OK;
}

typedef struct runner {
    nr_hf *f;
    nr_health_round_result res;
    int rc;
} runner;

static void *run_thread(void *arg)
{
    runner *r = arg;
    nr_health_round in = {.check = nr_hf_check, .check_ud = &r->f->chk};
    r->rc = nr_health_pipeline_run(r->f->p, &in, &r->res, NULL);
    return NULL;
}

static void test_one_round_at_a_time(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "block", NULL};
    latch l = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    nr_health_stage_def defs[] = {
        NR_HEALTH_STAGE_DEF(.name = "block", .fn = blocking_fn, .ud = &l)};
    nr_hf f;
    nr_hf_init(&f, stages);
    f.opts.custom = defs;
    f.opts.ncustom = 1;
    nr_hf_create(&f);
    runner r = {.f = &f};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_thread, &r), 0);
    pthread_mutex_lock(&l.mu);
    while (!l.entered)
        pthread_cond_wait(&l.cv, &l.mu);
    pthread_mutex_unlock(&l.mu);

    /* while it runs: a second round and destroy are refused, last is the previous one */
    nr_health_round in = {.check = nr_hf_check, .check_ud = &f.chk};
    nr_error err = {0};
    assert_int_equal(nr_health_pipeline_run(f.p, &in, NULL, &err), NR_EBUSY);
    assert_string_equal(err.message, "health pipeline: a round is already running");
    assert_int_equal(nr_health_pipeline_destroy(f.p, &err), NR_EBUSY);
    assert_string_equal(err.message,
                        "health pipeline: a round is running; destroy it after the round");
    nr_health_round_result last;
    assert_int_equal(nr_health_pipeline_last(f.p, &last, NULL), NR_OK);
    assert_int_equal(last.round, 0);

    pthread_mutex_lock(&l.mu);
    l.release = true;
    pthread_cond_broadcast(&l.cv);
    pthread_mutex_unlock(&l.mu);
    pthread_join(t, NULL);
    assert_int_equal(r.rc, NR_OK);
    assert_int_equal(r.res.round, 1);
    assert_int_equal(r.res.state, NR_HEALTH_HEALTHY);
    assert_int_equal(nr_health_pipeline_last(f.p, &last, NULL), NR_OK);
    assert_int_equal(last.round, 1);
    assert_int_equal(f.chk.calls, 1); /* the refused round ran nothing */
    /* the next round is number 2: the refused one did not count */
    assert_int_equal(nr_hf_round(&f, NULL, 1000).round, 2);
    nr_hf_destroy(&f);
}

/* ---- readers of the last round while rounds run ------------------------------------------------
 */

#define ROUNDS  3000
#define READERS 3

/* Stamps its reason with the round number and gives a state that follows it. */
static nr_health_state state_of(uint64_t round)
{
    static const nr_health_state cycle[3] = {NR_HEALTH_HEALTHY, NR_HEALTH_DEGRADED,
                                             NR_HEALTH_UNHEALTHY};
    return cycle[round % 3];
}

static int stamp_fn(void *ud, const nr_health_stage_ctx *ctx, nr_health_report *rep, nr_error *err)
{
    (void)ud;
    (void)err;
    rep->state = state_of(ctx->round->round);
    snprintf(rep->reason, sizeof(rep->reason), "round %llu", (unsigned long long)ctx->round->round);
    rep->latency_ns = (int64_t)ctx->round->round;
    return NR_OK;
}

typedef struct shared {
    nr_health_pipeline *p;
    pthread_barrier_t go;
    atomic_bool done;
    atomic_long reads, bad;
} shared;

/* A result is whole: every field belongs to the same round. */
static bool consistent(const nr_health_round_result *r)
{
    if (r->nstages != 3 || strcmp(r->stages[1].name, "stamp") != 0)
        return false;
    if (r->round == 0)
        return !r->stages[1].ran;
    char want[64];
    snprintf(want, sizeof(want), "round %llu", (unsigned long long)r->round);
    nr_health_state s = state_of(r->round);
    if (strcmp(r->stages[1].reason, want) != 0 || r->stages[1].latency_ns != (int64_t)r->round ||
        r->state != s)
        return false;
    if (s == NR_HEALTH_HEALTHY)
        return r->reason[0] == '\0' && r->stages[2].ran;
    if (strcmp(r->reason, want) != 0 || strcmp(r->stage, "stamp") != 0)
        return false;
    return r->stages[2].ran == (s != NR_HEALTH_UNHEALTHY);
}

static void *reader(void *arg)
{
    shared *s = arg;
    pthread_barrier_wait(&s->go);
    uint64_t prev = 0;
    bool last_pass = false;
    while (!last_pass) {
        last_pass = atomic_load(&s->done); /* one more read after the writer ended */
        nr_health_round_result r;
        if (nr_health_pipeline_last(s->p, &r, NULL) != NR_OK || r.round < prev || !consistent(&r))
            atomic_fetch_add(&s->bad, 1);
        prev = r.round;
        atomic_fetch_add(&s->reads, 1);
    }
    return prev == ROUNDS ? NULL : (void *)1;
}

static void test_readers_while_rounds_run(void **state)
{
    (void)state;
    static const char *const stages[] = {"connectivity", "stamp", "tail", NULL};
    custom tail = {.state = NR_HEALTH_HEALTHY, .latency_ms = -1};
    nr_health_stage_def defs[] = {
        NR_HEALTH_STAGE_DEF(.name = "stamp", .fn = stamp_fn, .ud = NULL),
        NR_HEALTH_STAGE_DEF(.name = "tail", .fn = custom_fn, .ud = &tail)};
    nr_hf f;
    nr_hf_init(&f, stages);
    f.opts.custom = defs;
    f.opts.ncustom = 2;
    nr_hf_create(&f);
    shared s = {.p = f.p};
    pthread_barrier_init(&s.go, NULL, READERS + 1);
    pthread_t t[READERS];
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, &s), 0);
    pthread_barrier_wait(&s.go);
    for (int i = 0; i < ROUNDS; i++)
        assert_int_equal(nr_hf_round(&f, NULL, 1000).round, (uint64_t)i + 1);
    atomic_store(&s.done, true);
    for (int i = 0; i < READERS; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        assert_null(rv); /* each reader saw the last round in the end */
    }
    pthread_barrier_destroy(&s.go);
    assert_int_equal(atomic_load(&s.bad), 0);
    assert_true(atomic_load(&s.reads) >= READERS);
    /* the tail ran in the rounds that were not unhealthy: two of every three */
    assert_int_equal(tail.calls, ROUNDS - ROUNDS / 3);
    nr_hf_destroy(&f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, nr_hf_setup, nr_hf_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_before_first_round),       T(test_default_config_is_connectivity),
        T(test_connectivity_outcomes),    T(test_stop_at_first_unhealthy),
        T(test_custom_stage_context),     T(test_create_errors),
        T(test_create_out_of_memory),     T(test_one_round_at_a_time),
        T(test_readers_while_rounds_run),
    };
    return cmocka_run_group_tests_name("health_pipeline", tests, NULL, NULL);
}
