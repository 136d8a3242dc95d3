/*
 * nebula/loop.h - the shape of a non-blocking operation that an event loop
 * can drive, shared by the loop adapters (nebula/loop_uv.h on libuv,
 * nebula/loop_event.h on libevent; docs/event-loops.md).
 *
 * A step machine is any object that does its work in steps that never
 * block, on one socket: it says which fd it waits on, for what (NR_IO_READ,
 * NR_IO_WRITE, both) and until when; the loop polls the fd for that and
 * calls step when the fd is ready or the deadline has come. step returns
 * NR_PENDING while there is more to do (the loop asks fd, wants and
 * deadline again and polls anew), NR_OK when the operation is done, or an
 * error. The drivers' query helpers (nr_pg_async in nebula/postgres_async.h,
 * nr_redis_async in nebula/redis_async.h) have this shape; an
 * nr_loop_machine table of four small functions turns one into something
 * an adapter can run (docs/event-loops.md has the two tables, and
 * examples/event-loop/loop_machines.h the code).
 *
 * This header defines types only: it has no library of its own, and needs
 * none of the drivers.
 *
 * Ownership: a table is borrowed by the adapter for as long as a run uses
 * it; static const tables are the usual way. The machine is the caller's.
 *
 * Thread safety: the functions of a table are called on the loop's thread
 * only, one at a time for one machine, with no lock of the library held.
 */
#ifndef NEBULA_LOOP_H
#define NEBULA_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "nebula/async.h"
#include "nebula/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * How to drive one kind of step machine. Every function gets the machine
 * pointer given to the adapter's run call.
 *   fd           the socket to poll; it must stay the same while one run
 *                lasts (the run ends with NR_ESTATE when it changes), and
 *                a negative fd ends the run with NR_ESTATE too
 *   wants        NR_IO_READ, NR_IO_WRITE or both; 0 means "step again
 *                without waiting" (the adapter calls step on the loop's
 *                next turn)
 *   deadline_ns  absolute CLOCK_MONOTONIC nanoseconds (nr_now_ns' clock) by
 *                which the operation must be done: the adapter calls step
 *                when it passes. 0 or NR_DEADLINE_NEVER: no deadline
 *   step         advance without blocking: NR_PENDING, NR_OK or an NR_E*
 *                code (err, which may be NULL, filled for an error). A step
 *                called after the deadline that still answers NR_PENDING
 *                ends the run with NR_ETIMEDOUT (the machine is then left
 *                mid-operation: taint its connection)
 */
typedef struct nr_loop_machine {
    size_t size; /* sizeof(nr_loop_machine) as the caller was built (NR_LOOP_MACHINE sets it) */
    int (*fd)(void *machine);
    int (*wants)(void *machine);
    int64_t (*deadline_ns)(void *machine);
    int (*step)(void *machine, nr_error *err);
} nr_loop_machine;

/* `static const nr_loop_machine t = NR_LOOP_MACHINE(.fd = ..., .wants = ..., ...);` */
#define NR_LOOP_MACHINE(...)                                                                       \
    {                                                                                              \
        .size = sizeof(nr_loop_machine), __VA_ARGS__                                               \
    }

/*
 * The completion of a run: rc is NR_OK or the error that ended it (the
 * step's own, NR_ETIMEDOUT, NR_ECANCELED after the adapter's cancel,
 * NR_ESTATE for a bad fd), with err describing an error. Runs once, on the
 * loop's thread; the run's handle is no longer valid when it begins, and
 * the adapter polls the fd no more, so the callback may give the
 * connection back (nr_guard_release_async) and free the machine.
 */
typedef void (*nr_loop_done_fn)(void *ud, int rc, const nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
