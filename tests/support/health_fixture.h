/*
 * health_fixture.h - what the health pipeline tests share: an allocator that
 * counts live blocks (every test ends with none), a fake clock, a scripted
 * health check and a pipeline built from a stage list.
 */
#ifndef NR_HEALTH_FIXTURE_H
#define NR_HEALTH_FIXTURE_H

#include <stdint.h>

#include "nebula/health_pipeline.h"

#define MS NR_NS_PER_MS

/* cmocka setup and teardown: install the counting allocator; restore the
 * default one and fail when a block is still live. */
int nr_hf_setup(void **state);
int nr_hf_teardown(void **state);

typedef struct nr_hf_clock {
    int64_t now; /* ns */
} nr_hf_clock;

int64_t nr_hf_clock_fn(void *ud);

/* The check: counts its calls, moves the clock by advance_ms, then returns
 * rc (with reason as the message) or reports state, latency_ms (-1: leaves
 * the latency to the pipeline) and reason. */
typedef struct nr_hf_checker {
    nr_hf_clock *clk;
    int rc;
    nr_health_state state;
    int64_t latency_ms;
    int64_t advance_ms;
    const char *reason;
    int calls;
} nr_hf_checker;

int nr_hf_check(void *ud, nr_deadline deadline, nr_health_report *rep, nr_error *err);

typedef struct nr_hf {
    nr_hf_clock clk;
    nr_hf_checker chk; /* healthy, 10 ms */
    nr_health_config cfg;
    nr_health_pipeline_options opts; /* resource "db", the fake clock */
    nr_health_pipeline *p;
} nr_hf;

/* cfg with the stages of the NULL-terminated list, sections at their defaults. */
void nr_hf_init(nr_hf *f, const char *const *stages);
void nr_hf_create(nr_hf *f);  /* fails the test when create fails */
void nr_hf_destroy(nr_hf *f); /* asserts NR_OK */

/* One round with the checker and st (may be NULL); then the clock moves on
 * by step_ms, as the manager's interval would. */
nr_health_round_result nr_hf_round(nr_hf *f, const nr_pool_stats *st, int64_t step_ms);

#endif
