/*
 * health_pipeline.c - a resource's health round: its stages in order, the
 * first unhealthy one stopping the round, the worst state kept with the
 * reason of the stage that gave it, and the last round published for
 * readers on other threads.
 *
 * Locking: p->mu guards `running`, `rounds` and `last` only. A round takes
 * it twice, to claim the pipeline (running = true: from then on the round's
 * thread alone touches the windows) and to publish its result; no callback
 * (the check, a custom stage, the clock) runs under it. Readers copy `last`
 * under it, so they never see half a round.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "base/abi.h"
#include "base/strutil.h"
#include "health/health_internal.h"
#include "nebula/alloc.h"

#define HEALTH_PIPELINE_MAGIC 0x6e72687069706531ULL /* "nrhpipe1" */

typedef enum stage_kind {
    STAGE_CONNECTIVITY,
    STAGE_PERFORMANCE,
    STAGE_UTILIZATION,
    STAGE_CUSTOM,
} stage_kind;

typedef struct stage {
    stage_kind kind;
    char name[NR_HEALTH_STAGE_NAME_MAX];
    nr_health_stage_fn fn; /* STAGE_CUSTOM */
    void *ud;
} stage;

struct nr_health_pipeline {
    uint64_t magic;
    char resource_id[NR_ERROR_ID_MAX]; /* [const] */
    int64_t (*clock)(void *ud);        /* [const] */
    void *clock_ud;                    /* [const] */
    size_t nstages;                    /* [const] */
    stage stages[NR_HEALTH_STAGES_MAX];
    bool has_perf, has_util; /* [const] whether perf and util below are set up */
    nr__perf perf;           /* [round] */
    nr__util util;           /* [round] */

    pthread_mutex_t mu;
    bool running;                /* [mu] a round holds the pipeline */
    uint64_t rounds;             /* [mu] rounds finished */
    nr_health_round_result last; /* [mu] the last one's result */
};

static int64_t default_clock(void *ud)
{
    (void)ud;
    return nr_now_ns();
}

void nr_health_pipeline_options_default(nr_health_pipeline_options *o)
{
    if (!o)
        return;
    nr_health_pipeline_options d = NR_HEALTH_PIPELINE_OPTIONS_INIT;
    nr__abi_default(o, &d, sizeof(d));
}

/* ---- create and destroy ----------------------------------------------------------------- */

static int check_custom(const nr_health_pipeline_options *o, const char *id, nr_error *err)
{
    if (o->ncustom > 0 && !o->custom)
        return nr_error_set(err, NR_EINVAL, id,
                            "health pipeline: ncustom is %zu but custom is NULL", o->ncustom);
    for (size_t i = 0; i < o->ncustom; i++) {
        const nr_health_stage_def *d = &o->custom[i];
        if (!d->name)
            return nr_error_set(err, NR_EINVAL, id, "health pipeline: custom[%zu] has no name", i);
        const char *rule = nr__health_name_rule(d->name, strlen(d->name));
        if (rule)
            return nr_error_set(err, NR_EINVAL, id, "health stage \"%s\": the name %s", d->name,
                                rule);
        if (nr__health_is_builtin(d->name))
            return nr_error_set(err, NR_EINVAL, id,
                                "health stage \"%s\": the name is a built-in stage's", d->name);
        if (!d->fn)
            return nr_error_set(err, NR_EINVAL, id, "health stage \"%s\": fn must not be NULL",
                                d->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->custom[j].name, d->name) == 0)
                return nr_error_set(err, NR_EINVAL, id,
                                    "health stage \"%s\": defined twice (custom[%zu] and [%zu])",
                                    d->name, j, i);
    }
    return NR_OK;
}

/* Validate cfg against the built-in and the custom stages. */
static int check_config(const nr_health_config *cfg, const nr_health_pipeline_options *o,
                        const char *id, nr_error *err)
{
    const char **names = NULL;
    if (o->ncustom > 0 && !(names = nr_calloc(o->ncustom, sizeof(*names))))
        return nr_error_set(err, NR_ENOMEM, id, "health pipeline: out of memory");
    for (size_t i = 0; i < o->ncustom; i++)
        names[i] = o->custom[i].name;
    nr_error ce;
    nr_error_clear(&ce);
    int rc = nr_health_config_validate(cfg, "$", names, o->ncustom, NULL, &ce);
    nr_free(names);
    return rc == NR_OK ? NR_OK : nr_error_set(err, rc, id, "%s", ce.message);
}

static void set_stages(nr_health_pipeline *p, const nr_health_config *cfg,
                       const nr_health_pipeline_options *o)
{
    p->nstages = cfg->nstages;
    for (size_t i = 0; i < cfg->nstages; i++) {
        stage *s = &p->stages[i];
        memcpy(s->name, cfg->stages[i], sizeof(s->name));
        if (strcmp(s->name, NR_HEALTH_STAGE_CONNECTIVITY) == 0) {
            s->kind = STAGE_CONNECTIVITY;
        } else if (strcmp(s->name, NR_HEALTH_STAGE_PERFORMANCE) == 0) {
            s->kind = STAGE_PERFORMANCE;
            p->has_perf = true;
        } else if (strcmp(s->name, NR_HEALTH_STAGE_UTILIZATION) == 0) {
            s->kind = STAGE_UTILIZATION;
            p->has_util = true;
        } else {
            s->kind = STAGE_CUSTOM;
            for (size_t k = 0; k < o->ncustom; k++)
                if (strcmp(o->custom[k].name, s->name) == 0) {
                    s->fn = o->custom[k].fn;
                    s->ud = o->custom[k].ud;
                }
            assert(s->fn); /* check_config made sure it is defined */
        }
    }
    /* before the first round: the names, nothing run */
    p->last.nstages = p->nstages;
    for (size_t i = 0; i < p->nstages; i++)
        memcpy(p->last.stages[i].name, p->stages[i].name, NR_HEALTH_STAGE_NAME_MAX);
}

static void free_windows(nr_health_pipeline *p)
{
    nr__perf_free(&p->perf);
    nr__util_free(&p->util);
}

static int create(nr_health_pipeline **out, const nr_health_config *cfg,
                  const nr_health_pipeline_options *opts, const char *id, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, id, "nr_health_pipeline_create: out must not be NULL");
    int rc = check_custom(opts, id, err);
    if (rc == NR_OK)
        rc = check_config(cfg, opts, id, err);
    if (rc != NR_OK)
        return rc;

    nr_health_pipeline *p = nr_calloc(1, sizeof(*p));
    if (!p)
        return nr_error_set(err, NR_ENOMEM, id, "health pipeline: out of memory");
    memcpy(p->resource_id, id, sizeof(p->resource_id));
    p->clock = opts->clock ? opts->clock : default_clock;
    p->clock_ud = opts->clock ? opts->clock_ud : NULL;
    set_stages(p, cfg, opts);
    if ((p->has_perf && nr__perf_init(&p->perf, &cfg->performance) != NR_OK) ||
        (p->has_util && nr__util_init(&p->util, &cfg->utilization) != NR_OK) ||
        pthread_mutex_init(&p->mu, NULL) != 0) {
        free_windows(p);
        nr_free(p);
        return nr_error_set(err, NR_ENOMEM, id, "health pipeline: out of memory");
    }
    p->magic = HEALTH_PIPELINE_MAGIC;
    *out = p;
    return NR_OK;
}

int nr_health_pipeline_create(nr_health_pipeline **out, const nr_health_config *cfg,
                              const nr_health_pipeline_options *opts, nr_error *err)
{
    nr_health_pipeline_options dflt = NR_HEALTH_PIPELINE_OPTIONS_INIT;
    nr_health_config dcfg;
    if (!opts) {
        nr_health_pipeline_options_default(&dflt);
    } else {
        int rc = NR__ABI_IN(&dflt, opts, nr_health_pipeline_options,
                            NR_HEALTH_PIPELINE_OPTIONS_INIT, err);
        if (rc != NR_OK)
            return rc;
    }
    opts = &dflt;
    if (!cfg) {
        nr_health_config_default(&dcfg);
        cfg = &dcfg;
    }
    char id[NR_ERROR_ID_MAX];
    nr__copy_marked(id, sizeof(id), opts->resource_id ? opts->resource_id : "");
    /* the custom stages at this library's size (the caller's is their stride) */
    nr_health_stage_def *custom = NULL;
    int rc = NR_OK;
    if (dflt.custom && dflt.ncustom > 0) {
        custom = nr_calloc(dflt.ncustom, sizeof(*custom));
        if (!custom)
            rc = nr_error_set(err, NR_ENOMEM, id, "health pipeline: out of memory");
        else
            rc = NR__ABI_ARRAY_IN(custom, dflt.custom, dflt.ncustom, "custom", nr_health_stage_def,
                                  NR_HEALTH_STAGE_DEF_INIT, err);
        dflt.custom = custom;
    }
    if (rc == NR_OK)
        rc = create(out, cfg, opts, id, err);
    nr_free(custom);
    if (rc != NR_OK && id[0])
        nr_error_prefix(err, "resource '%s'", id); /* every message names the resource */
    return rc;
}

int nr_health_pipeline_destroy(nr_health_pipeline *p, nr_error *err)
{
    if (!p)
        return NR_OK;
    assert(p->magic == HEALTH_PIPELINE_MAGIC);
    pthread_mutex_lock(&p->mu);
    bool running = p->running;
    pthread_mutex_unlock(&p->mu);
    if (running)
        return nr_error_set(err, NR_EBUSY, p->resource_id,
                            "health pipeline: a round is running; destroy it after the round");
    p->magic = 0;
    free_windows(p);
    pthread_mutex_destroy(&p->mu);
    nr_free(p);
    return NR_OK;
}

/* ---- one round ---------------------------------------------------------------------------- */

/* The report of a callback, made safe to keep: a terminated reason, a known state. */
static void settle(nr_health_report *rep, const char *what)
{
    rep->reason[sizeof(rep->reason) - 1] = '\0';
    if ((int)rep->state < NR_HEALTH_UNKNOWN || (int)rep->state > NR_HEALTH_UNHEALTHY) {
        int bad = (int)rep->state;
        rep->state = NR_HEALTH_UNHEALTHY;
        nr__health_reason(rep, "%s gave an invalid state (%d)", what, bad);
    }
}

/* A failed call: the stage is unhealthy, saying why. */
static void failed(nr_health_report *rep, const char *what, int rc, const nr_error *e)
{
    rep->state = NR_HEALTH_UNHEALTHY;
    nr__health_reason(rep, "%s failed: %s", what, e->message[0] ? e->message : nr_strerror(rc));
}

/* Call the round's check into rep (latency_ns -1 when the check set none). */
static void run_check(const nr_health_round *in, nr_health_report *rep)
{
    if (!in->check) {
        rep->state = NR_HEALTH_UNKNOWN;
        nr__health_reason(rep, "no health check was given");
        return;
    }
    nr_error e;
    nr_error_clear(&e);
    int rc = in->check(in->check_ud, in->deadline, rep, &e);
    if (rc != NR_OK) {
        failed(rep, "health check", rc, &e);
        return;
    }
    settle(rep, "health check");
    if (rep->reason[0] || rep->state == NR_HEALTH_HEALTHY)
        return;
    if (rep->state == NR_HEALTH_UNKNOWN)
        nr__health_reason(rep, "nothing was checked");
    else
        nr__health_reason(rep, "health check says %s", nr_health_name(rep->state));
}

static void run_performance(nr_health_pipeline *p, const nr_health_round *in,
                            const nr_health_round_result *res, size_t i, nr_health_report *rep)
{
    bool have = false;
    int64_t lat = 0;
    size_t j = 0;
    while (j < i && p->stages[j].kind != STAGE_CONNECTIVITY)
        j++;
    if (j < i) {
        /* connectivity ran before: its latency, when it checked something */
        const nr_health_stage_result *c = &res->stages[j];
        have = c->state == NR_HEALTH_HEALTHY || c->state == NR_HEALTH_DEGRADED;
        lat = c->latency_ns;
    } else {
        /* no connectivity before: a check of its own, timed */
        int64_t c0 = p->clock(p->clock_ud);
        run_check(in, rep);
        int64_t c1 = p->clock(p->clock_ud);
        lat = rep->latency_ns >= 0 ? rep->latency_ns : c1 - c0;
        rep->latency_ns = lat;
        if (rep->state == NR_HEALTH_UNHEALTHY)
            return; /* a failed check has no latency to judge */
        have = rep->state != NR_HEALTH_UNKNOWN;
    }
    nr__perf_judge(&p->perf, res->started_ns, have, lat, rep);
}

static void run_custom(nr_health_pipeline *p, const nr_health_round *in,
                       const nr_health_round_result *res, size_t i, nr_health_report *rep)
{
    const stage *s = &p->stages[i];
    nr_health_stage_ctx ctx = {.resource_id = p->resource_id,
                               .stage = s->name,
                               .index = i,
                               .deadline = in->deadline,
                               .stats = in->stats,
                               .round = res};
    nr_error e;
    nr_error_clear(&e);
    int rc = s->fn(s->ud, &ctx, rep, &e);
    if (rc != NR_OK) {
        failed(rep, "stage", rc, &e);
        return;
    }
    settle(rep, "stage");
}

/* Run stage i into res->stages[i]. */
static void run_stage(nr_health_pipeline *p, const nr_health_round *in, nr_health_round_result *res,
                      size_t i)
{
    nr_health_report rep = {.state = NR_HEALTH_UNKNOWN, .latency_ns = -1};
    int64_t t0 = p->clock(p->clock_ud);
    switch (p->stages[i].kind) {
    case STAGE_CONNECTIVITY:
        run_check(in, &rep);
        break;
    case STAGE_PERFORMANCE:
        run_performance(p, in, res, i, &rep);
        break;
    case STAGE_UTILIZATION:
        nr__util_judge(&p->util, res->started_ns, in->stats, &rep);
        break;
    case STAGE_CUSTOM:
        run_custom(p, in, res, i, &rep);
        break;
    }
    int64_t t1 = p->clock(p->clock_ud);
    if (!rep.reason[0] && (rep.state == NR_HEALTH_DEGRADED || rep.state == NR_HEALTH_UNHEALTHY))
        nr__health_reason(&rep, "%s says %s", p->stages[i].name, nr_health_name(rep.state));
    nr_health_stage_result *sr = &res->stages[i];
    sr->ran = true;
    sr->state = rep.state;
    sr->latency_ns = rep.latency_ns >= 0 ? rep.latency_ns : t1 - t0;
    nr__copy_marked(sr->reason, sizeof(sr->reason), rep.reason);
}

int nr_health_pipeline_run(nr_health_pipeline *p, const nr_health_round *in,
                           nr_health_round_result *out, nr_error *err)
{
    if (!p || !in)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_health_pipeline_run: p and in must be set");
    assert(p->magic == HEALTH_PIPELINE_MAGIC);
    pthread_mutex_lock(&p->mu);
    bool busy = p->running;
    p->running = true;
    uint64_t round = p->rounds + 1;
    pthread_mutex_unlock(&p->mu);
    if (busy)
        return nr_error_set(err, NR_EBUSY, p->resource_id,
                            "health pipeline: a round is already running");

    /* [round] from here to the publication below */
    nr_health_round_result res;
    memset(&res, 0, sizeof(res));
    res.round = round;
    res.nstages = p->nstages;
    res.started_ns = p->clock(p->clock_ud);
    size_t stopped_by = p->nstages; /* none */
    for (size_t i = 0; i < p->nstages; i++) {
        nr_health_stage_result *sr = &res.stages[i];
        memcpy(sr->name, p->stages[i].name, sizeof(sr->name));
        if (stopped_by < p->nstages) {
            snprintf(sr->reason, sizeof(sr->reason), "not run: %s was unhealthy",
                     p->stages[stopped_by].name);
            continue;
        }
        run_stage(p, in, &res, i);
        if (sr->state > res.state) {
            res.state = sr->state;
            if (sr->state != NR_HEALTH_HEALTHY) {
                memcpy(res.reason, sr->reason, sizeof(res.reason));
                memcpy(res.stage, sr->name, sizeof(res.stage));
            }
        }
        if (sr->state == NR_HEALTH_UNHEALTHY)
            stopped_by = i;
    }
    res.latency_ns = p->clock(p->clock_ud) - res.started_ns;

    pthread_mutex_lock(&p->mu);
    assert(p->running && p->rounds + 1 == round);
    p->last = res;
    p->rounds = round;
    p->running = false;
    pthread_mutex_unlock(&p->mu);
    if (out)
        *out = res;
    return NR_OK;
}

int nr_health_pipeline_last(nr_health_pipeline *p, nr_health_round_result *out, nr_error *err)
{
    if (!p || !out)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_health_pipeline_last: p and out must be set");
    assert(p->magic == HEALTH_PIPELINE_MAGIC);
    pthread_mutex_lock(&p->mu);
    *out = p->last;
    pthread_mutex_unlock(&p->mu);
    return NR_OK;
}
