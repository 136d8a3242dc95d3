/*
 * nebula/events.h - the event bus: a bounded broadcast ring of fixed-size
 * events with any number of independent subscribers.
 *
 * Pools and the manager publish what happens to their resources (created,
 * acquired, health changed, ...). Every subscriber sees every event published
 * after it subscribed, in publish order, unless it falls more than the ring's
 * capacity behind: then it loses the OLDEST events, and the next
 * nr_event_next tells it how many it lost. A publisher never waits for a
 * subscriber: nr_event_publish never blocks, never allocates and makes no
 * system call, and with no subscriber it returns after one atomic load.
 *
 * Ordering: sequence numbers are global and assigned at publish. Events one
 * thread publishes are seen by every subscriber in the order that thread
 * published them; events of different threads are seen in sequence order.
 *
 * Events are plain values of a fixed size (NR_EVENT_SIZE bytes, no pointers):
 * a subscriber gets its own copy. Text fields are cut to fit and then end in
 * "..." with a flag set (NR_EVENT_F_*_CUT): nothing is cut silently.
 *
 * No secrets: publishers must never put a secret (password, token, key) into
 * any field of an event; subscribers may log events verbatim. The library
 * itself never does.
 *
 * Ownership: nr_event_bus_create gives the caller one bus, freed by
 * nr_event_bus_destroy; nr_event_subscribe gives the caller one subscriber,
 * freed by nr_event_unsubscribe. Every subscriber must be freed before its bus.
 * The bus copies every event at publish; it keeps no pointer to the
 * publisher's memory.
 *
 * Memory: one allocation of about capacity * NR_EVENT_SIZE bytes per bus, one
 * small allocation per subscriber, nothing per event.
 *
 * Build switch: with the CMake option NR_WITH_EVENTS=OFF these functions still
 * exist, but nr_event_bus_create fails with NR_EINVAL ("events were not
 * built") and nr_event_publish does nothing.
 *
 * Thread safety: nr_event_publish, nr_event_subscribe and
 * nr_event_bus_get_stats may be called from any number of threads at once on
 * one bus. One subscriber is used by one thread at a time (nr_event_next and
 * nr_event_unsubscribe on it must not run concurrently); different
 * subscribers are independent. nr_event_bus_destroy must be the last call on
 * the bus (no publish, subscribe or stats call may run or start).
 */
#ifndef NEBULA_EVENTS_H
#define NEBULA_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "nebula/error.h"
#include "nebula/health.h"
#include "nebula/scope.h"
#include "nebula/time.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- events ------------------------------------------------------------- */

/* X(NAME, value, name text) - written once; generates the enum and
 * nr_event_type_name(). Values never change meaning; new ones are appended. */
#define NR_EVENT_TYPE_MAP(X)                                                                               \
    X(CREATED, 1, "created")                    /* an instance was created */                              \
    X(DESTROYED, 2, "destroyed")                /* an instance was destroyed */                            \
    X(ACQUIRED, 3, "acquired")                  /* handed out; wait_ns = time waited */                    \
    X(RELEASED, 4, "released")                  /* given back */                                           \
    X(TIMEOUT, 5, "timeout")                    /* an acquire ran out of time; wait_ns */                  \
    X(POOL_EXHAUSTED, 6, "pool_exhausted")      /* no instance and at max size; count = max */             \
    X(HEALTH_CHANGED, 7, "health_changed")      /* health_old -> health_new, text = reason */              \
    X(QUARANTINED, 8, "quarantined")            /* out of service; count = attempt; text = until           \
                                                   when and why */                                         \
    X(CLEANED_UP, 9, "cleaned_up")              /* maintenance discarded; count = how many */              \
    X(ERROR, 10, "error")                       /* error_code + text = message */                          \
    X(BREAKER_OPENED, 11, "breaker_opened")     /* creates failing: count = failures in a row,             \
                                                   error_code = the last one's code */                     \
    X(BREAKER_CLOSED, 12, "breaker_closed")     /* a create succeeded again */                             \
    X(LEAK_SUSPECTED, 13, "leak_suspected")     /* a lease held past leak_threshold_ms: wait_ns =          \
                                                   held so far, text = where it was acquired */            \
    X(LEAK_CLOSED, 14, "leak_closed")           /* that lease came back; wait_ns = held in all */          \
    X(CASCADE_DETECTED, 15, "cascade_detected") /* resource_id = the unhealthy root; count =               \
                                                   resources it degrades; text = "degrades a, b;           \
                                                   unhealthy: REASON" */                                   \
    X(QUARANTINE_RELEASED, 16, "quarantine_released") /* half-open (a probe passed, or an                  \
                                                         operator), or back in service; text               \
                                                         says which */                                     \
    X(QUARANTINE_REFUSED, 17, "quarantine_refused")   /* a group's max_quarantine_percent kept it          \
                                                         out of quarantine: count = members of that        \
                                                         group quarantined; text names the group */        \
    X(HOOK_REFUSED, 18, "hook_refused") /* a hook's before refused an operation (nebula/hooks.h):          \
                                           error_code = its code, count = the nr_hook_op, text =           \
                                           "hook 'NAME' refused OP of 'RESOURCE': MESSAGE" */              \
    X(HOOK_FAILED, 19, "hook_failed")   /* a hook's after (or a release/destroy before) failed:            \
                                           error_code, count = the nr_hook_op, text = "hook 'NAME'         \
                                           failed after OP of 'RESOURCE': MESSAGE" */                      \
    X(SLOW_ACQUIRE, 20, "slow_acquire") /* the slow-acquire hook (hooks_builtin.h): wait_ns,               \
                                           count = waiters then, text = the pool's state, site */          \
    X(REGISTERED, 21, "registered") /* the manager registered resource_id (scope = its scope) */           \
    X(UNREGISTERED, 22, "unregistered") /* the manager removed resource_id; count = leases still           \
                                           out (its pools are freed once they are back) */                 \
    X(SHUTDOWN_PHASE, 23, "shutdown_phase") /* the manager's shutdown entered a phase: text =              \
                                               "drain", "cleanup", "terminate", then "stopped";            \
                                               count = resources (at "stopped": those with leases          \
                                               out); wait_ns = time since the shutdown began */            \
    X(RELOADED, 24, "reloaded")             /* nr_manager_reload changed resource_id: count = the          \
                                               nr_reload_kind, text = "new pool: config" (what changed) */ \
    X(SCALED_UP, 25, "scaled_up")     /* autoscaling raised max_size: count = the new one, text            \
                                         = "utilization 0.95 >= 0.80 for 10000 ms: max_size 4              \
                                         -> 6" */                                                          \
    X(SCALED_DOWN, 26, "scaled_down") /* autoscaling lowered it: the same fields */                        \
    X(TENANT_EVICTED, 27, "tenant_evicted")     /* a tenant pool went unused for the tenants'              \
                                                   idle_timeout_ms and was removed: scope = the            \
                                                   tenant, count = tenant pools left, text =               \
                                                   "unused for 600000 ms" */                               \
    X(FLEET_REDIS_DOWN, 28, "fleet_redis_down") /* a fleet budget (nebula/fleet.h) lost Redis:             \
                                                   resource_id = the budget's resource, count =            \
                                                   the local limit kept, error_code, text =                \
                                                   what failed and the mode */                             \
    X(FLEET_REDIS_UP, 29, "fleet_redis_up")     /* Redis answers again: count = the leases                 \
                                                   re-established */                                       \
    X(FLEET_FALLBACK, 30, "fleet_fallback")     /* Redis still down: the mode's limit is in                \
                                                   force: count = the local limit (fail_closed             \
                                                   once the leases' TTL ran out: 0; fail_open:             \
                                                   budget / processes), text says which */

typedef enum nr_event_type {
#define NR__EV_ENUM(name, value, text) NR_EV_##name = value,
    NR_EVENT_TYPE_MAP(NR__EV_ENUM)
#undef NR__EV_ENUM
} nr_event_type;

/* "created", "acquired", "health_changed", ...; "unknown" otherwise. */
NR_API const char *nr_event_type_name(nr_event_type type);

#define NR_EVENT_ID_MAX    64  /* resource_id, including the NUL */
#define NR_EVENT_SCOPE_MAX 128 /* scope text, including the NUL */
#define NR_EVENT_TEXT_MAX  128 /* reason or message, including the NUL */
#define NR_EVENT_SIZE      384 /* sizeof(nr_event), fixed */

/* Set in nr_event.flags when a text field was cut to fit (it ends in "..."). */
#define NR_EVENT_F_ID_CUT    0x1u
#define NR_EVENT_F_SCOPE_CUT 0x2u
#define NR_EVENT_F_TEXT_CUT  0x4u

/*
 * One event. A publisher zero-fills it (nr_event_init), sets the fields that
 * matter to its type and leaves the others 0 / "". The string fields hold
 * NUL-terminated text; fill them with the nr_event_set_* helpers below, which
 * cut with "...". Never put a secret in any field.
 */
typedef struct nr_event {
    uint64_t seq;                      /* set by publish: global, strictly increasing */
    int64_t ts_ns;                     /* nr_now_ns() at publish when left 0; a publisher
                                          that already read the clock may set it */
    nr_event_type type;                /* NR_EV_* */
    uint32_t flags;                    /* NR_EVENT_F_* */
    uint64_t instance_id;              /* the instance concerned, 0 when none */
    int64_t wait_ns;                   /* ACQUIRED, TIMEOUT, POOL_EXHAUSTED: time waited */
    int64_t count;                     /* a count the type names (see the type list) */
    nr_health_state health_old;        /* HEALTH_CHANGED: the state before */
    nr_health_state health_new;        /* HEALTH_CHANGED: the state after */
    int error_code;                    /* ERROR (and others when useful): an NR_E* code */
    uint32_t reserved;                 /* ignored by publish; 0 when received */
    char resource_id[NR_EVENT_ID_MAX]; /* the pool / resource id, "" when none */
    char scope[NR_EVENT_SCOPE_MAX];    /* nr_scope_format() text, "" when none */
    char text[NR_EVENT_TEXT_MAX];      /* reason (HEALTH_CHANGED, QUARANTINED) or
                                          message (ERROR); "" when none */
} nr_event;

/* Zero *ev, set its type and copy resource_id (NULL = ""), cut with "..." and
 * NR_EVENT_F_ID_CUT when longer than 63 bytes. */
NR_API void nr_event_init(nr_event *ev, nr_event_type type, const char *resource_id);

/* ev->scope = nr_scope_format(scope) (NULL = ""), cut with "..." and
 * NR_EVENT_F_SCOPE_CUT when longer than 127 bytes. */
NR_API void nr_event_set_scope(nr_event *ev, const nr_scope *scope);

/* ev->text = text (NULL = ""), cut with "..." and NR_EVENT_F_TEXT_CUT when
 * longer than 127 bytes. Never pass a secret. */
NR_API void nr_event_set_text(nr_event *ev, const char *text);

/* ---- the bus ------------------------------------------------------------ */

typedef struct nr_event_bus nr_event_bus;
typedef struct nr_event_sub nr_event_sub;

#define NR_EVENT_BUS_MIN_CAPACITY 16u
#define NR_EVENT_BUS_MAX_CAPACITY (1u << 20)

/*
 * Create a bus holding the last `capacity` events (a power of two in
 * NR_EVENT_BUS_MIN_CAPACITY..NR_EVENT_BUS_MAX_CAPACITY).
 * NR_OK; NR_EINVAL when out is NULL, the capacity is out of range or not a
 * power of two, or events were not built; NR_ENOMEM. *out is set only on
 * success.
 */
NR_API int nr_event_bus_create(nr_event_bus **out, uint32_t capacity, nr_error *err);

/* Free the bus. NR_OK (also for NULL); NR_EBUSY when subscribers remain, and
 * then nothing is freed. */
NR_API int nr_event_bus_destroy(nr_event_bus *bus);

/*
 * Publish a copy of *ev (its seq is ignored and assigned here; ts_ns is set
 * to nr_now_ns() when 0, so a publisher that already has a fresh reading
 * saves the clock read by passing it). Never blocks, never allocates, makes
 * no system call; does nothing when bus or ev is NULL, and when nobody is
 * subscribed it returns after one atomic load (no number is handed out).
 * In the rare case that the event's slot is still being written by a
 * publisher a whole ring behind (one preempted mid-write), this event is
 * dropped instead of waiting; subscribers count it as missed and the bus
 * counts it in its stats (collisions).
 */
NR_API void nr_event_publish(nr_event_bus *bus, const nr_event *ev);

/* Whether the bus has a subscriber now: one relaxed load, touching nothing a
 * publish writes. Publishers use it to skip building an event nobody reads.
 * NULL: false. */
NR_API bool nr_event_bus_wanted(const nr_event_bus *bus);

/*
 * Subscribe: the subscriber sees the events published after this call.
 * NR_OK; NR_EINVAL when bus or out is NULL; NR_ENOMEM.
 */
NR_API int nr_event_subscribe(nr_event_bus *bus, nr_event_sub **out, nr_error *err);

/*
 * The subscriber's next event, in publish order.
 *   NR_OK         *out holds the next event: a consistent copy, never one torn
 *                 by a concurrent overwrite; its strings are terminated and
 *                 zero-filled after the NUL;
 *   NR_ETIMEDOUT  none arrived by the deadline; an already expired deadline
 *                 makes this a non-blocking poll (an unset one never expires);
 *   NR_EINVAL     sub or out is NULL.
 * *out is unspecified unless NR_OK comes back.
 *
 * missed (may be NULL) is set on NR_OK and NR_ETIMEDOUT to the number of
 * events this subscriber lost since the previous call: events it fell more
 * than capacity behind on (it loses the oldest ones and goes on with the
 * oldest the ring still holds), and events their publisher dropped (see
 * nr_event_publish). Every event published while subscribed is either
 * returned or counted in missed exactly once: out->seq of two consecutive
 * results differ by 1 + the missed counts reported in between (this call's
 * included). A subscriber that is overrun again soon after such a skip (it
 * reads no faster than the publishers write) skips a further quarter of the
 * ring, so that it stops racing them at the ring's tail.
 *
 * Waiting costs publishers no system call: the subscriber looks again every
 * 1-2 us for about 50 us, then yields the CPU a few times, then sleeps in steps
 * growing from 20 us to at most 0.5 ms. So an event is noticed within about
 * 0.6 ms of being published at worst (plus scheduling delay on a loaded
 * machine), within microseconds while events keep coming.
 */
NR_API int nr_event_next(nr_event_sub *sub, nr_event *out, uint64_t *missed, nr_deadline deadline);

/* Unsubscribe and free the subscriber. NULL is a no-op. */
NR_API void nr_event_unsubscribe(nr_event_sub *sub);

typedef struct nr_event_bus_stats {
    uint64_t published;   /* sequence numbers handed out so far (publishes while subscribed) */
    uint64_t collisions;  /* events dropped by their publisher (see nr_event_publish) */
    uint32_t subscribers; /* subscribers now */
    uint32_t capacity;
} nr_event_bus_stats;

/* A snapshot of the counters (all 0 for a NULL bus). */
NR_API void nr_event_bus_get_stats(const nr_event_bus *bus, nr_event_bus_stats *out);

#ifdef __cplusplus
}
#endif
#endif
