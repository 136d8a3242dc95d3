/*
 * nebula/lifecycle.h - the ten-state lifecycle of a resource instance.
 *
 *   Created ──> Initializing ──> Ready ──> InUse <──> Idle
 *                    │            │  ╲       │  ╲      │ ╲
 *                    v            v   ╲      v   v     v  v
 *                  Failed   Maintenance ─> Draining ─> Cleanup ─> Terminated
 *
 * The picture is a sketch (Maintenance also returns to Ready, Idle or InUse,
 * and Ready, InUse, Idle and Maintenance may go straight to Cleanup or
 * Failed). The full table is in src/resource/lifecycle.c and is the only source of
 * truth: nr_lifecycle_can() answers from it, nr_lifecycle_transition()
 * refuses anything it does not list, naming both states. Terminated and
 * Failed are terminal: nothing leaves them.
 *
 * Thread safety: any thread; a state variable itself is not synchronised.
 */
#ifndef NEBULA_LIFECYCLE_H
#define NEBULA_LIFECYCLE_H

#include <stdbool.h>

#include "nebula/error.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nr_lifecycle {
    NR_LC_CREATED = 0,
    NR_LC_INITIALIZING,
    NR_LC_READY,
    NR_LC_IN_USE,
    NR_LC_IDLE,
    NR_LC_MAINTENANCE,
    NR_LC_DRAINING,
    NR_LC_CLEANUP,
    NR_LC_TERMINATED,
    NR_LC_FAILED,
} nr_lifecycle;

#define NR_LC_COUNT 10

/* "Created", "Initializing", ... ; "Invalid" for out-of-range values. */
NR_API const char *nr_lifecycle_name(nr_lifecycle s);

/* Whether the table allows from -> to (false for out-of-range values). */
NR_API bool nr_lifecycle_can(nr_lifecycle from, nr_lifecycle to);

/* Whether nothing leaves s (Terminated, Failed). */
NR_API bool nr_lifecycle_is_terminal(nr_lifecycle s);

/* Whether an instance in state s can serve an acquire (Ready, Idle). */
NR_API bool nr_lifecycle_is_available(nr_lifecycle s);

/*
 * Move *state to `to` if the table allows it (NR_EINVAL when state is NULL).
 * Otherwise *state is unchanged
 * and NR_ESTATE comes back with a message naming both states, e.g.
 * "invalid state transition: Terminated -> Ready".
 * resource_id (may be NULL) goes into err.
 */
NR_API int nr_lifecycle_transition(nr_lifecycle *state, nr_lifecycle to, const char *resource_id,
                                   nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
