/*
 * loop_common.h - what the two loop adapters (uv.c, event.c) share: the
 * check of a step-machine table, the time left to a machine's deadline,
 * the fd's file status flags kept across a run. All static inline: each
 * adapter is a library of its own.
 */
#ifndef NR_LOOP_COMMON_H
#define NR_LOOP_COMMON_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/loop.h"
#include "nebula/time.h"

/* Handles carry a magic number so that a stale one is caught by assert. */
#define NR_LOOP_QUEUE_MAGIC 0x6e72714cu /* "nrqL" */
#define NR_LOOP_RUN_MAGIC   0x6e72724cu /* "nrrL" */

/* A table with every function, and a size that covers them. */
static inline bool nr_loop__table_ok(const nr_loop_machine *ops)
{
    return ops != NULL && ops->size >= offsetof(nr_loop_machine, step) + sizeof(ops->step) &&
           ops->fd != NULL && ops->wants != NULL && ops->deadline_ns != NULL && ops->step != NULL;
}

static inline bool nr_loop__has_deadline(int64_t at_ns)
{
    return at_ns != 0 && at_ns != NR_DEADLINE_NEVER;
}

static inline bool nr_loop__deadline_passed(int64_t at_ns)
{
    return nr_loop__has_deadline(at_ns) && nr_now_ns() >= at_ns;
}

/* Milliseconds until at_ns, rounded up so that a timer never fires early
 * (0 when it has passed). */
static inline uint64_t nr_loop__ms_until(int64_t at_ns)
{
    int64_t left = at_ns - nr_now_ns();
    if (left <= 0) {
        return 0;
    }
    return (uint64_t)((left + NR_NS_PER_MS - 1) / NR_NS_PER_MS);
}

/* The fd's file status flags, or -1. */
static inline int nr_loop__fd_flags(int fd)
{
    return fcntl(fd, F_GETFL);
}

/* Undo what a poller did to fd's flags (uv_poll_init sets O_NONBLOCK):
 * an fd that was blocking before the run is made blocking again. One that
 * was already non-blocking is left as it is now: the machine owns that
 * flag (the Redis helper sets it at start and clears it as it finishes). */
static inline void nr_loop__fd_restore(int fd, int flags_before)
{
    if (flags_before < 0 || (flags_before & O_NONBLOCK)) {
        return;
    }
    int now = fcntl(fd, F_GETFL);
    if (now >= 0 && (now & O_NONBLOCK)) {
        (void)fcntl(fd, F_SETFL, now & ~O_NONBLOCK);
    }
}

#endif
