/*
 * nebula/health_pipeline.h - a resource's health round as an ordered list of
 * stages (docs/health.md, "The pipeline").
 *
 * A pipeline belongs to one resource. Each round runs its stages in order;
 * each stage gives healthy, degraded or unhealthy with a reason and its
 * latency, or unknown when it had nothing to judge (no sample yet, nothing
 * checked). The first unhealthy stage stops the round: the stages after it
 * are kept in the result as not run. The round's state is the worst state a
 * stage gave (unknown < healthy < degraded < unhealthy), with the reason and
 * name of the first stage that gave it; a round in which no stage judged is
 * unknown. Every stage's result is kept, and the last round's results can be
 * read at any time (for /status).
 *
 * Built-in stages:
 *   connectivity  calls the check the round is given (nr_health_round.check):
 *                 the driver's health check on one instance.
 *   performance   the check's latency (connectivity's of this round, or a
 *                 check it makes and times itself when no connectivity stage
 *                 ran before it; that check failing makes it unhealthy)
 *                 against degraded_ms and unhealthy_ms, judged on a
 *                 percentile (nearest rank) of the samples in a window of the
 *                 last `window` samples (and, with window_ms, younger than
 *                 that), once the window holds min_samples. A check that
 *                 found nothing to check gives no sample.
 *   utilization   the pool statistics snapshot the round is given: the share
 *                 of max_size in use, the waiters, and the share of acquires
 *                 that had to wait (counter deltas between rounds), each over
 *                 a window, against a degraded and an unhealthy threshold.
 * A program adds its own stages (nr_health_stage_def) and names them in the
 * config's stage list like the built-in ones.
 *
 * Thresholds over rounds: the pipeline applies none. A round's state is that
 * round's verdict (the windows smooth the performance and utilization
 * stages); consecutive failures before Unhealthy and consecutive good rounds
 * before Healthy again are the manager's failure_threshold and
 * recovery_threshold (nr_manager_options), applied once, to the round
 * states: unhealthy is a bad round, degraded a degraded one, healthy a good
 * one, unknown no information.
 *
 * The manager runs one pipeline per resource, once per health round, with no
 * lock held (nr_resource_spec.health, docs/health.md).
 *
 * Thread safety: the config functions touch only their arguments (any
 * thread). A pipeline runs one round at a time: nr_health_pipeline_run must
 * not be called for one pipeline from two threads at once (a second call
 * while a round runs is refused with NR_EBUSY). nr_health_pipeline_last may
 * be called from any thread at any time, also while a round runs.
 * nr_health_pipeline_destroy may be called from any thread once no other call
 * on the pipeline can start; it refuses (NR_EBUSY) while a round runs. Stage
 * callbacks (the round's check, custom stages) and the clock run on the
 * thread that calls nr_health_pipeline_run, with no library lock held.
 */
#ifndef NEBULA_HEALTH_PIPELINE_H
#define NEBULA_HEALTH_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nebula/config.h"
#include "nebula/error.h"
#include "nebula/health.h"
#include "nebula/pool_stats.h"
#include "nebula/time.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- config ------------------------------------------------------------------------- */

#define NR_HEALTH_STAGES_MAX     8  /* stages in one pipeline */
#define NR_HEALTH_STAGE_NAME_MAX 32 /* a stage name: 1..31 bytes of [A-Za-z0-9_.-] */

#define NR_HEALTH_STAGE_CONNECTIVITY "connectivity"
#define NR_HEALTH_STAGE_PERFORMANCE  "performance"
#define NR_HEALTH_STAGE_UTILIZATION  "utilization"

#define NR_HEALTH_DAY_MS (24LL * 3600 * 1000)

/* The performance stage, as one list (nebula/config_fields.h): kind, member,
 * min, max, default, flags and what it means; docs/health.md's table is made
 * from it. Its schema is nr_health_performance_schema. */
#define NR_HEALTH_PERFORMANCE_FIELDS(X, T)                                                         \
    X(T, INT, degraded_ms, 0, NR_HEALTH_DAY_MS, 1000, 0,                                           \
      "percentile at or above this: degraded; 0 = never")                                          \
    X(T, INT, unhealthy_ms, 0, NR_HEALTH_DAY_MS, 5000, 0,                                          \
      "percentile at or above this: unhealthy; 0 = never")                                         \
    X(T, DOUBLE, percentile, 1.0, 100.0, 90.0, 0,                                                  \
      "which percentile of the window is judged (nearest rank)")                                   \
    X(T, INT, window, 1, 1000, 10, 0, "latency samples kept, one per round")                       \
    X(T, INT, window_ms, 0, 30 * NR_HEALTH_DAY_MS, 0, 0,                                           \
      "only samples younger than this count; 0 = any age")                                         \
    X(T, INT, min_samples, 1, 1000, 3, 0,                                                          \
      "samples needed before the stage judges; at most `window`")

NR_CONFIG_STRUCT(nr_health_performance_config, NR_HEALTH_PERFORMANCE_FIELDS)

/* The utilization stage, as one list (as above); its schema is
 * nr_health_utilization_schema. Each threshold is reached when the value is
 * >= it; 0 turns it off. */
#define NR_HEALTH_UTILIZATION_FIELDS(X, T)                                                         \
    X(T, DOUBLE, degraded_in_use, 0.0, 1.0, 0.9, 0,                                                \
      "share of `max_size` in use (over the window): degraded; 0 = never")                         \
    X(T, DOUBLE, unhealthy_in_use, 0.0, 1.0, 0.0, 0,                                               \
      "share of `max_size` in use: unhealthy; 0 = never")                                          \
    X(T, DOUBLE, degraded_waiters, 0.0, 1e8, 1.0, 0,                                               \
      "callers waiting, mean over the window: degraded; 0 = never")                                \
    X(T, DOUBLE, unhealthy_waiters, 0.0, 1e8, 0.0, 0,                                              \
      "callers waiting, mean over the window: unhealthy; 0 = never")                               \
    X(T, DOUBLE, degraded_wait_ratio, 0.0, 1.0, 0.25, 0,                                           \
      "share of acquires that waited (over the window): degraded; 0 = never")                      \
    X(T, DOUBLE, unhealthy_wait_ratio, 0.0, 1.0, 0.0, 0,                                           \
      "share of acquires that waited: unhealthy; 0 = never")                                       \
    X(T, INT, window, 1, 1000, 10, 0, "rounds kept, one snapshot per round")                       \
    X(T, INT, window_ms, 0, 30 * NR_HEALTH_DAY_MS, 0, 0,                                           \
      "only rounds younger than this count; 0 = any age")                                          \
    X(T, INT, min_samples, 1, 1000, 3, 0, "rounds needed before the stage judges; at most `window`")

NR_CONFIG_STRUCT(nr_health_utilization_config, NR_HEALTH_UTILIZATION_FIELDS)

/* A pipeline's config. Holds no pointers: copy it with =, nothing to free. */
typedef struct nr_health_config {
    size_t nstages; /* 1..NR_HEALTH_STAGES_MAX; default 1 (connectivity) */
    char stages[NR_HEALTH_STAGES_MAX][NR_HEALTH_STAGE_NAME_MAX]; /* run in this order */
    nr_health_performance_config performance;
    nr_health_utilization_config utilization;
} nr_health_config;

/* The two sections as config schemas (nebula/config.h): their defaults,
 * rules (with the cross-field ones: degraded below unhealthy, min_samples
 * at most window), JSON, printing. Named "health.performance" and
 * "health.utilization". */
NR_API extern const nr_config_schema nr_health_performance_schema;
NR_API extern const nr_config_schema nr_health_utilization_schema;

/* Every default: stages = ["connectivity"], both sections at their defaults. */
NR_API void nr_health_config_default(nr_health_config *cfg);

/*
 * Check cfg: the stage list (1..NR_HEALTH_STAGES_MAX names, each a built-in
 * stage or one of custom[0..ncustom), none twice) and both sections by their
 * schemas. Issue paths start with path_prefix ("$" when NULL), e.g.
 * "$.stages[1]" or "$.performance.window". NR_OK, NR_ECONFIG (err names the
 * first issue, report has them all; report may be NULL), NR_EINVAL (cfg NULL).
 */
NR_API int nr_health_config_validate(const nr_health_config *cfg, const char *path_prefix,
                                     const char *const *custom, size_t ncustom,
                                     nr_config_report *report, nr_error *err);

/*
 * Fill cfg from a resource's "health" object, a jansson object (json_t *):
 *   {"stages": ["connectivity", "performance"],
 *    "performance": {"degraded_ms": 200, "unhealthy_ms": 2000, "window": 10},
 *    "utilization": {"degraded_in_use": 0.8}}
 * Every key is optional (absent = default). Beyond nr_health_config_validate's
 * rules: an unknown key, a wrong JSON type, and a section present for a stage
 * the list does not name are issues. custom names the program's own stages
 * (may be NULL when ncustom is 0). Paths start with path_prefix (e.g.
 * "$.resources[2].health"). NR_OK; NR_ECONFIG with every issue in report
 * (may be NULL) and cfg back at its defaults; NR_EINVAL; NR_ENOMEM.
 */
NR_API int nr_health_config_from_json(const void *json_object, const char *path_prefix,
                                      const char *const *custom, size_t ncustom,
                                      nr_health_config *cfg, nr_config_report *report,
                                      nr_error *err);

/* The same from JSON text (len bytes); a syntax error is one issue at "$"
 * with its line and column. */
NR_API int nr_health_config_parse(const char *text, size_t len, const char *const *custom,
                                  size_t ncustom, nr_health_config *cfg, nr_config_report *report,
                                  nr_error *err);

/*
 * cfg as compact JSON text that nr_health_config_parse reads back: the stage
 * list, then the section of each listed built-in stage that has one (a
 * section of an unlisted stage is left out, as parse would refuse it).
 * Caller frees with nr_free(). NULL on failure: NR_EINVAL (cfg NULL, or a
 * stage list that cannot be written: err says which entry), NR_ENOMEM.
 */
NR_API char *nr_health_config_serialize(const nr_health_config *cfg, nr_error *err);

/* "health.stages = a, b" then "health.performance.x = v" lines for the
 * sections of the listed stages. */
NR_API void nr_health_config_print(const nr_health_config *cfg, FILE *out);

/* ---- stages and rounds ---------------------------------------------------------------- */

/* What one stage found in one round. */
typedef struct nr_health_stage_result {
    char name[NR_HEALTH_STAGE_NAME_MAX];
    bool ran;                          /* false: an earlier stage was unhealthy, or no round yet */
    nr_health_state state;             /* UNKNOWN when it did not run or had nothing to judge */
    char reason[NR_HEALTH_REASON_MAX]; /* what it saw; never holds secrets */
    int64_t latency_ns;                /* time the stage took (see nr_health_pipeline_run) */
} nr_health_stage_result;

/* One round, for the caller and for /status. */
typedef struct nr_health_round_result {
    uint64_t round;                       /* 1 for the first round; 0: no round has run */
    int64_t started_ns;                   /* on the pipeline's clock */
    int64_t latency_ns;                   /* the whole round */
    nr_health_state state;                /* worst state a stage gave; UNKNOWN when none judged */
    char reason[NR_HEALTH_REASON_MAX];    /* of the first stage that gave state; "" when
                                             the round is healthy or unknown */
    char stage[NR_HEALTH_STAGE_NAME_MAX]; /* that stage's name; "" likewise */
    size_t nstages;                       /* the pipeline's stages, in order */
    nr_health_stage_result stages[NR_HEALTH_STAGES_MAX];
} nr_health_round_result;

/*
 * The check the connectivity stage calls (and the performance stage, when no
 * connectivity stage ran before it): check one instance by deadline and fill
 * report->state and report->reason; report->latency_ns comes in as -1: set
 * it to how long the check took, or leave -1 and the stage's time on the
 * pipeline's clock is used. Return NR_OK when the check ran, whatever it
 * found (state UNKNOWN: there was nothing to check, e.g. every instance in
 * use); another code (with err filled) makes the stage unhealthy with
 * "health check failed: <message>". The reason must not hold secrets.
 */
typedef int (*nr_health_check_fn)(void *ud, nr_deadline deadline, nr_health_report *report,
                                  nr_error *err);

/* What a custom stage is given. Valid during the call only. */
typedef struct nr_health_stage_ctx {
    const char *resource_id;             /* the pipeline's ("" when none) */
    const char *stage;                   /* this stage's name */
    size_t index;                        /* its place in the pipeline */
    nr_deadline deadline;                /* the round's */
    const nr_pool_stats *stats;          /* the round's snapshot; NULL when none */
    const nr_health_round_result *round; /* this round so far: stages[0..index) */
} nr_health_stage_ctx;

/* A custom stage: as nr_health_check_fn (report->latency_ns, the state
 * UNKNOWN for no verdict), with the round's context; a code other than NR_OK
 * makes the stage unhealthy with "stage failed: <message>". */
typedef int (*nr_health_stage_fn)(void *ud, const nr_health_stage_ctx *ctx,
                                  nr_health_report *report, nr_error *err);

typedef struct nr_health_stage_def {
    size_t size;      /* sizeof(nr_health_stage_def) as the caller was built: the caller sets it
                         (NR_HEALTH_STAGE_DEF_INIT, docs/ABI.md) */
    const char *name; /* 1..31 bytes of [A-Za-z0-9_.-], not a built-in stage's; copied */
    nr_health_stage_fn fn;
    void *ud; /* borrowed: must outlive every pipeline that uses the stage */
} nr_health_stage_def;

/* Initialisers that set size: `nr_health_stage_def d = NR_HEALTH_STAGE_DEF_INIT;`, or with fields:
 * `nr_health_stage_def d = NR_HEALTH_STAGE_DEF(.field = value, ...);` (C only: C++ writes
 * nebula::sized<nr_health_stage_def>()). */
#define NR_HEALTH_STAGE_DEF(...)                                                                   \
    {                                                                                              \
        .size = sizeof(nr_health_stage_def), __VA_ARGS__                                           \
    }
#define NR_HEALTH_STAGE_DEF_INIT NR_HEALTH_STAGE_DEF()

/* One round's input. Valid during nr_health_pipeline_run only. */
typedef struct nr_health_round {
    nr_health_check_fn check; /* NULL: connectivity has nothing to call (unknown) */
    void *check_ud;
    nr_deadline deadline;       /* passed to the check and to custom stages */
    const nr_pool_stats *stats; /* for utilization (a resource's pools may be summed
                                   with nr_pool_stats_add); NULL = none this round */
} nr_health_round;

/* ---- the pipeline --------------------------------------------------------------------- */

typedef struct nr_health_pipeline nr_health_pipeline;

typedef struct nr_health_pipeline_options {
    size_t size; /* sizeof(nr_health_pipeline_options) as the caller was built: the caller sets it
                    (NR_HEALTH_PIPELINE_OPTIONS_INIT, docs/ABI.md) */
    const char *resource_id; /* names the pipeline in errors and for stages; copied; NULL = "" */
    const nr_health_stage_def *custom; /* the stages the config may name besides the built-in
                                          ones; the array is read during create only. Every
                                          element has the same size (NR_HEALTH_STAGE_DEF_INIT),
                                          which is the array's stride */
    size_t ncustom;
    int64_t (*clock)(void *ud); /* monotonic nanoseconds; NULL = nr_now_ns */
    void *clock_ud;
} nr_health_pipeline_options;

/* Initialisers that set size: `nr_health_pipeline_options o = NR_HEALTH_PIPELINE_OPTIONS_INIT;`, or
 * with fields: `nr_health_pipeline_options o = NR_HEALTH_PIPELINE_OPTIONS(.field = value, ...);` (C
 * only: C++ sets o.size). */
#define NR_HEALTH_PIPELINE_OPTIONS(...)                                                            \
    {                                                                                              \
        .size = sizeof(nr_health_pipeline_options), __VA_ARGS__                                    \
    }
#define NR_HEALTH_PIPELINE_OPTIONS_INIT NR_HEALTH_PIPELINE_OPTIONS()

NR_API void nr_health_pipeline_options_default(nr_health_pipeline_options *o);

/*
 * Make a pipeline from cfg (NULL = nr_health_config_default) and opts (NULL =
 * defaults). Each custom stage the config names is looked up in opts->custom.
 * NR_EINVAL (out NULL, opts' size refused, a custom stage whose size is
 * refused or differs from custom[0]'s, without fn, with a bad or built-in
 * name, or defined twice: err names it and its index), NR_ECONFIG (cfg
 * breaks a rule: err names the resource, the field and the rule),
 * NR_ENOMEM. *out is set on success only.
 */
NR_API int nr_health_pipeline_create(nr_health_pipeline **out, const nr_health_config *cfg,
                                     const nr_health_pipeline_options *opts, nr_error *err);

/*
 * Free p. NR_EBUSY while a round runs on another thread (nothing is freed:
 * call again after it ended). NULL is a no-op (NR_OK).
 */
NR_API int nr_health_pipeline_destroy(nr_health_pipeline *p, nr_error *err);

/*
 * Run one round now, on the calling thread: the stages in order as the top of
 * this file says, each stage's callbacks with no lock held. A stage's latency
 * is what its callback put in report->latency_ns, or the time the stage took
 * on the pipeline's clock. The result goes to out (may be NULL) and becomes
 * what nr_health_pipeline_last returns. NR_OK when the round ran (whatever it
 * found); NR_EINVAL (p or in NULL); NR_EBUSY (a round is running on p).
 */
NR_API int nr_health_pipeline_run(nr_health_pipeline *p, const nr_health_round *in,
                                  nr_health_round_result *out, nr_error *err);

/*
 * Copy the last round's result into out (a consistent copy, also while a
 * round runs). Before the first round: round 0, state UNKNOWN, the stage
 * names with ran false. NR_EINVAL (p or out NULL). Any thread.
 */
NR_API int nr_health_pipeline_last(nr_health_pipeline *p, nr_health_round_result *out,
                                   nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
