/*
 * nebula/time.h - monotonic time and absolute deadlines.
 *
 * All library time is CLOCK_MONOTONIC nanoseconds. A deadline is an absolute
 * point on that clock; every blocking call takes one, so a wait never hangs.
 *
 * Thread safety: any thread.
 */
#ifndef NEBULA_TIME_H
#define NEBULA_TIME_H

#include <stdbool.h>
#include <stdint.h>
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NR_NS_PER_US 1000LL
#define NR_NS_PER_MS 1000000LL
#define NR_NS_PER_S  1000000000LL

/* An absolute monotonic deadline. at_ns == NR_DEADLINE_NEVER waits forever;
 * at_ns == 0 means "unset" where a call documents a default. */
typedef struct nr_deadline {
    int64_t at_ns;
} nr_deadline;

#define NR_DEADLINE_NEVER INT64_MAX

/* Current CLOCK_MONOTONIC time in nanoseconds. */
NR_API int64_t nr_now_ns(void);

/* CLOCK_MONOTONIC_COARSE: the same clock, read cheaply, lagging by at most
 * a scheduler tick (a few ms). The pool stamps instances with it. */
NR_API int64_t nr_now_coarse_ns(void);

/* Wall-clock (CLOCK_REALTIME) milliseconds since the epoch: for times shown
 * to people and secrets' expiry, never for deadlines. */
NR_API int64_t nr_wall_ms(void);

/* A deadline rel_ns from now; rel_ns <= 0 gives an already expired one;
 * a sum that would overflow saturates to NR_DEADLINE_NEVER. */
NR_API nr_deadline nr_deadline_in_ns(int64_t rel_ns);
NR_API nr_deadline nr_deadline_in_ms(int64_t rel_ms);
NR_API nr_deadline nr_deadline_never(void);
static inline bool nr_deadline_is_set(nr_deadline d)
{
    return d.at_ns != 0;
}

/* true when now >= the deadline (an unset deadline never expires). */
NR_API bool nr_deadline_expired(nr_deadline d);

/* Nanoseconds left (0 when expired, INT64_MAX for never/unset). */
NR_API int64_t nr_deadline_remaining_ns(nr_deadline d);

/* The earlier of two deadlines (unset counts as never). */
NR_API nr_deadline nr_deadline_min(nr_deadline a, nr_deadline b);

/* Sleep for rel_ns nanoseconds (restarts on EINTR). */
NR_API void nr_sleep_ns(int64_t rel_ns);

#ifdef __cplusplus
}
#endif
#endif
