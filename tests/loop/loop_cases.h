/*
 * loop_cases.h - the event-loop adapters' tests, written once over a small
 * table of what a loop does (create, attach a queue, run a machine, a
 * watchdog, run, destroy); test_loop_uv.c and test_loop_event.c each give
 * the table of their loop and run every case with it.
 *
 * The cases run against the PostgreSQL and Redis servers the wrappers
 * start (drivers/postgres/tests/with-postgres.sh,
 * drivers/redis/tests/with-redis.sh); they kill and restart them through
 * NR_TEST_PG_CTL and NR_TEST_REDIS_CTL. No timing is asserted: a watchdog
 * timer on the loop fails a case that does not finish.
 */
#ifndef NR_LOOP_CASES_H
#define NR_LOOP_CASES_H

#include <stdbool.h>
#include <stdint.h>

#include "nebula/async.h"
#include "nebula/loop.h"

typedef struct tl_loop {
    const char *name;
    void *(*create)(void);
    /* Run until the loop has nothing left, or the watchdog stopped it. */
    void (*run)(void *loop);
    /* After run: close what is left (only the watchdog when the case
     * passed) and free the loop; fails the test when it cannot. */
    void (*destroy)(void *loop);
    int (*attach)(void *loop, nr_async_queue *q, void **att, nr_error *err);
    void (*detach)(void *att);
    int (*run_machine)(void *loop, const nr_loop_machine *ops, void *machine, nr_loop_done_fn done,
                       void *ud, void **run, nr_error *err);
    int (*cancel_run)(void *run);
    /* Arm the watchdog: after ms, *fired is set and the loop stopped. */
    void (*watchdog)(void *loop, int64_t ms, bool *fired);
    /* The case's work is over: from now on the watchdog must not keep the
     * loop running (it still fires, and fails the case, when something
     * else does). */
    void (*work_done)(void *loop);
} tl_loop;

/* Run every case with L; the exit status of the test program. */
int tl_run_cases(const tl_loop *L);

#endif
