/*
 * demo_outage.h - the demo's outage: a stuck writer on orders-db.
 *
 * A thread of its own opens the database file with a plain sqlite3
 * connection (outside every pool, as a batch job would), takes the write
 * lock at a given time (BEGIN IMMEDIATE), holds it for a while and gives
 * it back (ROLLBACK). Nothing is faked: the pool's connections find the
 * database really locked, and the SQLite driver's "write" health check
 * really fails with "database is locked".
 *
 *   SCHEDULED --at--> HELD --hold ends--> RECOVERING --every resource
 *                                                      healthy again--> OVER
 *   (FAILED: the lock could not be taken; the message says why)
 *
 * The outage lasts from HELD to OVER: while the lock is held and while the
 * manager brings orders-db back (quarantine, half-open, recovery). Workers
 * read the epoch before and after an operation to tell whether it met the
 * outage: the epoch is odd while the outage lasts and changes at each edge.
 *
 * Ownership: demo_outage_start gives the caller an outage that
 * demo_outage_free frees (NULL is a no-op for every function). path is
 * copied.
 *
 * Thread safety: demo_outage_epoch and demo_outage_state from any thread;
 * demo_outage_recovered, demo_outage_stop, demo_outage_free and
 * demo_outage_times from the thread that started it.
 */
#ifndef NR_CLI_DEMO_OUTAGE_H
#define NR_CLI_DEMO_OUTAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum demo_outage_state {
    DEMO_OUTAGE_SCHEDULED = 0,
    DEMO_OUTAGE_HELD,
    DEMO_OUTAGE_RECOVERING,
    DEMO_OUTAGE_OVER,
    DEMO_OUTAGE_FAILED,
} demo_outage_state;

typedef struct demo_outage demo_outage;

/* Start the thread: the lock is taken at at_ns (nr_now_ns() clock) and held
 * for hold_ns. 0 on success; -1 (out of memory, no thread) with msg set. */
int demo_outage_start(demo_outage **out, const char *path, int64_t at_ns, int64_t hold_ns,
                      char *msg, size_t len);

/* Odd while the outage lasts; 0 for NULL. [any thread] */
uint64_t demo_outage_epoch(const demo_outage *o);

/* Whether an operation that read epoch e0 before it and e1 after it met the
 * outage. */
static inline bool demo_outage_met(uint64_t e0, uint64_t e1)
{
    return (e0 & 1) || (e1 & 1) || e0 != e1;
}

/* The state now (DEMO_OUTAGE_OVER for NULL). [any thread] */
demo_outage_state demo_outage_state_now(const demo_outage *o);

/* Tell it that every resource is healthy again: RECOVERING -> OVER, at
 * now_ns; any other state stays. */
void demo_outage_recovered(demo_outage *o, int64_t now_ns);

/* When the lock was taken and given back and when everything recovered (0:
 * not yet), and the failure message of a FAILED outage. */
void demo_outage_times(const demo_outage *o, int64_t *taken_ns, int64_t *given_back_ns,
                       int64_t *over_ns, const char **failure);

/* Give the lock back if it is still held and join the thread; the outage
 * keeps its state and times. A second call does nothing. */
void demo_outage_stop(demo_outage *o);

/* Free (after demo_outage_stop; stops it first otherwise). */
void demo_outage_free(demo_outage *o);

#endif
