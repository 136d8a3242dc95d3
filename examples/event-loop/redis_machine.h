/*
 * redis_machine.h - the nr_loop_machine table of the Redis driver's
 * non-blocking command (nr_redis_async, nebula/redis_async.h), for the loop
 * adapters (nebula/loop_uv.h, nebula/loop_event.h).
 *
 * Four one-line functions turn the machine's typed calls into the table's
 * void * ones. They live here, not in a library, so that neither adapter
 * depends on the driver nor the driver on a loop: copy this file into a
 * program (docs/event-loops.md shows it too).
 *
 *     nr_redis_async *q;
 *     nr_redis_async_start(&q, nr_guard_handle(&g), argc, argv, NULL, deadline, cancel, &err);
 *     nr_uv_run_start(NULL, loop, &redis_machine, q, on_done, ud, &err);
 */
#ifndef NR_EXAMPLE_REDIS_MACHINE_H
#define NR_EXAMPLE_REDIS_MACHINE_H

#include "nebula/loop.h"
#include "nebula/redis_async.h"

static inline int redis_machine_fd(void *m)
{
    return nr_redis_async_fd(m);
}

static inline int redis_machine_wants(void *m)
{
    return nr_redis_async_wants(m);
}

static inline int64_t redis_machine_deadline_ns(void *m)
{
    return nr_redis_async_deadline_ns(m);
}

static inline int redis_machine_step(void *m, nr_error *err)
{
    return nr_redis_async_step(m, err);
}

static const nr_loop_machine redis_machine =
    NR_LOOP_MACHINE(.fd = redis_machine_fd, .wants = redis_machine_wants,
                    .deadline_ns = redis_machine_deadline_ns, .step = redis_machine_step);

#endif
