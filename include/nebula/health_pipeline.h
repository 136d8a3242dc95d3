/*
 * nebula/health_pipeline.h - a resource's health round as an ordered list of
 * stages (docs/health.md, "The pipeline"): the pipeline's config.
 *
 * The config names the stages in the order they run (the built-in
 * connectivity, performance and utilization, or a program's own) and holds
 * the thresholds and windows of the performance and utilization stages.
 *
 * Thread safety: the config functions touch only their arguments (any
 * thread).
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

#ifdef __cplusplus
extern "C" {
#endif

/* ---- config ------------------------------------------------------------------------- */

#define NR_HEALTH_STAGES_MAX     8  /* stages in one pipeline */
#define NR_HEALTH_STAGE_NAME_MAX 32 /* a stage name: 1..31 bytes of [A-Za-z0-9_.-] */

#define NR_HEALTH_STAGE_CONNECTIVITY "connectivity"
#define NR_HEALTH_STAGE_PERFORMANCE  "performance"
#define NR_HEALTH_STAGE_UTILIZATION  "utilization"

/* The performance stage; its schema is nr_health_performance_schema. */
typedef struct nr_health_performance_config {
    int64_t degraded_ms;  /* percentile >= this: degraded; 0 = never; default 1000 */
    int64_t unhealthy_ms; /* percentile >= this: unhealthy; 0 = never; default 5000 */
    double percentile;    /* 1..100, nearest rank over the window; default 90 */
    int64_t window;       /* latency samples kept, 1..1000; default 10 */
    int64_t window_ms;    /* only samples younger than this count; 0 = any age; default 0 */
    int64_t min_samples;  /* samples needed before judging, 1..window; default 3 */
} nr_health_performance_config;

/* The utilization stage; its schema is nr_health_utilization_schema. Each
 * threshold is reached when the value is >= it; 0 turns it off. */
typedef struct nr_health_utilization_config {
    double degraded_in_use;      /* share of max_size in use, 0..1; default 0.9 */
    double unhealthy_in_use;     /* default 0 (off) */
    double degraded_waiters;     /* callers waiting, mean over the window; default 1 */
    double unhealthy_waiters;    /* default 0 (off) */
    double degraded_wait_ratio;  /* share of acquires that waited, 0..1; default 0.25 */
    double unhealthy_wait_ratio; /* default 0 (off) */
    int64_t window;              /* rounds kept, 1..1000; default 10 */
    int64_t window_ms;           /* only rounds younger than this count; 0 = any age */
    int64_t min_samples;         /* rounds needed before judging, 1..window; default 3 */
} nr_health_utilization_config;

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
extern const nr_config_schema nr_health_performance_schema;
extern const nr_config_schema nr_health_utilization_schema;

/* Every default: stages = ["connectivity"], both sections at their defaults. */
void nr_health_config_default(nr_health_config *cfg);

/*
 * Check cfg: the stage list (1..NR_HEALTH_STAGES_MAX names, each a built-in
 * stage or one of custom[0..ncustom), none twice) and both sections by their
 * schemas. Issue paths start with path_prefix ("$" when NULL), e.g.
 * "$.stages[1]" or "$.performance.window". NR_OK, NR_ECONFIG (err names the
 * first issue, report has them all; report may be NULL), NR_EINVAL (cfg NULL).
 */
int nr_health_config_validate(const nr_health_config *cfg, const char *path_prefix,
                              const char *const *custom, size_t ncustom, nr_config_report *report,
                              nr_error *err);

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
int nr_health_config_from_json(const void *json_object, const char *path_prefix,
                               const char *const *custom, size_t ncustom, nr_health_config *cfg,
                               nr_config_report *report, nr_error *err);

/* The same from JSON text (len bytes); a syntax error is one issue at "$"
 * with its line and column. */
int nr_health_config_parse(const char *text, size_t len, const char *const *custom, size_t ncustom,
                           nr_health_config *cfg, nr_config_report *report, nr_error *err);

/*
 * cfg as compact JSON text that nr_health_config_parse reads back: the stage
 * list, then the section of each listed built-in stage that has one (a
 * section of an unlisted stage is left out, as parse would refuse it).
 * Caller frees with nr_free(). NULL on failure: NR_EINVAL (cfg NULL, or a
 * stage list that cannot be written: err says which entry), NR_ENOMEM.
 */
char *nr_health_config_serialize(const nr_health_config *cfg, nr_error *err);

/* "health.stages = a, b" then "health.performance.x = v" lines for the
 * sections of the listed stages. */
void nr_health_config_print(const nr_health_config *cfg, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
