/*
 * pool_fixture.h - one pool of the mock resource type, for the pool's unit
 * tests (cmocka setup/teardown functions). The teardown destroys the pool
 * and checks that every create was matched by exactly one destroy.
 */
#ifndef NR_POOL_FIXTURE_H
#define NR_POOL_FIXTURE_H

#include "nebula/testing.h"

typedef struct nr_pool_fixture {
    nr_mock fake;
    nr_mock_config cfg;
    nr_pool_config pcfg; /* defaults with max_size 4; change before make */
    nr_pool *pool;
    /* set before make: */
    int fake_clock;        /* the pool's clock is clock_ns below (nr_pool_options.clock) */
    nr_event_bus *events;  /* borrowed; the pool publishes into it */
    nr_hooks *hooks;       /* borrowed; the pool's hook registry (nr_pool_options.hooks) */
    const nr_scope *scope; /* the pool's scope (NULL: Global) */
    atomic_llong clock_ns; /* the fake clock: tests move it */
} nr_pool_fixture;

int nr_pool_fixture_setup(void **state);
int nr_pool_fixture_teardown(void **state);
/* Create f->pool with id, the mock type and f->pcfg; fails the test on error. */
void nr_pool_fixture_make(nr_pool_fixture *f, const char *id);
nr_pool_stats nr_pool_fixture_stats(nr_pool_fixture *f);

#endif
