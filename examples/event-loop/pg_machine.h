/*
 * pg_machine.h - the nr_loop_machine table of the PostgreSQL driver's
 * non-blocking query (nr_pg_async, nebula/postgres_async.h), for the loop
 * adapters (nebula/loop_uv.h, nebula/loop_event.h).
 *
 * Four one-line functions turn the machine's typed calls into the table's
 * void * ones. They live here, not in a library, so that neither adapter
 * depends on the driver nor the driver on a loop: copy this file into a
 * program (docs/event-loops.md shows it too).
 *
 *     nr_pg_async *q;
 *     nr_pg_async_start(&q, conn, sql, n, values, deadline, cancel, &err);
 *     nr_uv_run_start(NULL, loop, &pg_machine, q, on_done, ud, &err);
 */
#ifndef NR_EXAMPLE_PG_MACHINE_H
#define NR_EXAMPLE_PG_MACHINE_H

#include "nebula/loop.h"
#include "nebula/postgres_async.h"

static inline int pg_machine_fd(void *m)
{
    return nr_pg_async_fd(m);
}

static inline int pg_machine_wants(void *m)
{
    return nr_pg_async_wants(m);
}

static inline int64_t pg_machine_deadline_ns(void *m)
{
    return nr_pg_async_deadline_ns(m);
}

static inline int pg_machine_step(void *m, nr_error *err)
{
    return nr_pg_async_step(m, err);
}

static const nr_loop_machine pg_machine =
    NR_LOOP_MACHINE(.fd = pg_machine_fd, .wants = pg_machine_wants,
                    .deadline_ns = pg_machine_deadline_ns, .step = pg_machine_step);

#endif
