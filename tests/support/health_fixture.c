/* health_fixture.c - see health_fixture.h. */
#define _POSIX_C_SOURCE 200809L
#include "health_fixture.h"

#include "testutil.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/alloc.h"

static atomic_long live_blocks;

static void *count_malloc(size_t n, void *ud)
{
    (void)ud;
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&live_blocks, 1);
    return p;
}

static void *count_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    void *q = realloc(p, n);
    if (q && !p)
        atomic_fetch_add(&live_blocks, 1);
    return q;
}

static void count_free(void *p, void *ud)
{
    (void)ud;
    if (p)
        atomic_fetch_sub(&live_blocks, 1);
    free(p);
}

int nr_hf_setup(void **state)
{
    (void)state;
    static const nr_allocator a = {count_malloc, count_realloc, count_free, NULL};
    atomic_store(&live_blocks, 0);
    nr_set_allocator(&a);
    return 0;
}

int nr_hf_teardown(void **state)
{
    (void)state;
    nr_set_allocator(NULL);
    long left = atomic_load(&live_blocks);
    if (left != 0) {
        fprintf(stderr, "%ld blocks still allocated\n", left);
        return -1;
    }
    return 0;
}

int64_t nr_hf_clock_fn(void *ud)
{
    return ((nr_hf_clock *)ud)->now;
}

int nr_hf_check(void *ud, nr_deadline deadline, nr_health_report *rep, nr_error *err)
{
    (void)deadline;
    nr_hf_checker *c = ud;
    c->calls++;
    assert_int_equal(rep->latency_ns, -1);
    c->clk->now += c->advance_ms * MS;
    if (c->rc != NR_OK)
        return nr_error_set(err, c->rc, NULL, "%s", c->reason ? c->reason : "");
    rep->state = c->state;
    if (c->latency_ms >= 0)
        rep->latency_ns = c->latency_ms * MS;
    snprintf(rep->reason, sizeof(rep->reason), "%s", c->reason ? c->reason : "");
    return NR_OK;
}

void nr_hf_init(nr_hf *f, const char *const *stages)
{
    memset(f, 0, sizeof(*f));
    f->clk.now = 1000 * NR_NS_PER_S;
    f->chk = (nr_hf_checker){.clk = &f->clk, .state = NR_HEALTH_HEALTHY, .latency_ms = 10};
    nr_health_config_default(&f->cfg);
    f->cfg.nstages = 0;
    for (size_t i = 0; stages[i]; i++)
        snprintf(f->cfg.stages[f->cfg.nstages++], NR_HEALTH_STAGE_NAME_MAX, "%s", stages[i]);
    nr_health_pipeline_options_default(&f->opts);
    f->opts.resource_id = "db";
    f->opts.clock = nr_hf_clock_fn;
    f->opts.clock_ud = &f->clk;
}

void nr_hf_create(nr_hf *f)
{
    nr_error err = {0};
    if (nr_health_pipeline_create(&f->p, &f->cfg, &f->opts, &err) != NR_OK)
        fail_msg("create: %s", err.message);
}

void nr_hf_destroy(nr_hf *f)
{
    assert_int_equal(nr_health_pipeline_destroy(f->p, NULL), NR_OK);
    f->p = NULL;
}

nr_health_round_result nr_hf_round(nr_hf *f, const nr_pool_stats *st, int64_t step_ms)
{
    nr_health_round in = {
        .check = nr_hf_check, .check_ud = &f->chk, .deadline = nr_deadline_never(), .stats = st};
    nr_health_round_result res;
    nr_error err = {0};
    assert_int_equal(nr_health_pipeline_run(f->p, &in, &res, &err), NR_OK);
    f->clk.now += step_ms * MS;
    return res;
}
