/*
 * nebula/pool.h - a pool of instances of one resource type, and its guards.
 *
 * A pool creates instances through its nr_resource_type, hands them out
 * under a deadline, validates them on acquire, recycles them on release,
 * discards tainted, broken or expired ones, and keeps at least min_idle and
 * at most max_size of them.
 *
 * Fairness: waiters are served first come, first served. A released
 * instance goes straight to the oldest waiter (direct handoff); a newcomer
 * never takes an instance while anyone is waiting.
 *
 * Creation: a caller waits on the pool, never on an instance being built.
 * An acquire that finds nothing idle queues and asks the pool's creator for
 * a new instance; whatever comes first, an instance given back or a new
 * one, goes to the oldest waiter. The creator runs at most max_connecting
 * creates at once, only while callers wait (or, through nr_pool_maintain
 * and nr_pool_fill, to keep min_idle), on the executor given in the options
 * or, without one, on up to max_connecting threads of the pool's own,
 * started when first needed and joined by nr_pool_destroy. A caller that
 * leaves (deadline, cancel) does not stop the create it caused: the new
 * instance lands in the pool. Failed creates are retried with exponential
 * backoff and jitter; after breaker_failures in a row the breaker opens
 * (see nr_pool_acquire) until a trial create succeeds.
 *
 * Callbacks: no driver callback (create, destroy, validate, recycle,
 * health_check) ever runs while the pool's lock is held. create runs on the
 * creator (or on the thread that runs nr_pool_maintain / nr_pool_fill),
 * validate on the acquirer, recycle and destroy-on-discard on the releaser,
 * health_check (of idle instances and of quarantined ones) on the thread
 * that calls nr_pool_check_health, destroy of idle (degraded, quarantined)
 * instances on the thread that calls nr_pool_maintain, nr_pool_check_health,
 * nr_pool_close, nr_pool_evict_all, nr_pool_resize or nr_pool_destroy (or
 * on the releaser, for one retired in place of a give-back by a shrink).
 * The options' clock runs on the thread of nr_pool_check_health.
 *
 * Thread safety: every function may be called from any thread at any time
 * between nr_pool_create and nr_pool_destroy, except nr_pool_destroy, which
 * must be the last call on the pool.
 */
#ifndef NEBULA_POOL_H
#define NEBULA_POOL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "nebula/cancel.h"
#include "nebula/ctx.h"
#include "nebula/pool_stats.h"
#include "nebula/config.h"
#include "nebula/events.h"
#include "nebula/metrics.h"
#include "nebula/error.h"
#include "nebula/health.h"
#include "nebula/hooks.h"
#include "nebula/lifecycle.h"
#include "nebula/resource_type.h"
#include "nebula/scope.h"
#include "nebula/secret.h"
#include "nebula/time.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration ------------------------------------------------------ */

#define NR_POOL_DAY_MS (24LL * 3600 * 1000)

/*
 * A pool's config, as one list (nebula/config_fields.h): each entry is kind,
 * member, min, max, default, flags and what it means; docs/pool.md's table
 * is made from it. Groups: size and expiry; creation (see "Creation"
 * above); checks; operator limits; degraded and quarantined instances (see
 * nr_pool_check_health, docs/health.md).
 */
#define NR_POOL_CONFIG_FIELDS(X, T)                                                                \
    X(T, INT, min_idle, 0, 1000000, 0, 0,                                                          \
      "instances kept ready by `nr_pool_fill` / `nr_pool_maintain`; at most `max_size`")           \
    X(T, INT, max_size, 1, 1000000, 10, 0,                                                         \
      "most instances alive at once (idle, in use, being created or checked)")                     \
    X(T, INT, acquire_timeout_ms, 0, NR_POOL_DAY_MS, 30000, 0,                                     \
      "longest wait when the caller gives no deadline; 0 = never wait (`NR_EEXHAUSTED` at once)")  \
    X(T, INT, max_lifetime_ms, 0, 30 * NR_POOL_DAY_MS, 1800000, 0,                                 \
      "instances older than this are destroyed when given back, when found idle, or on acquire; "  \
      "0 = never")                                                                                 \
    X(T, INT, idle_timeout_ms, 0, 30 * NR_POOL_DAY_MS, 600000, 0,                                  \
      "idle instances beyond `min_idle` unused this long are destroyed by maintenance; 0 = never") \
    X(T, BOOL, validate_on_acquire, 0, 1, 1, 0,                                                    \
      "call `validate` before handing out an instance that was idle")                              \
    X(T, BOOL, recycle_on_release, 0, 1, 1, 0, "call `recycle` when an instance is given back")    \
    X(T, INT, max_connecting, 1, 1000, 2, 0, "creates running at once (see \"Creation\")")         \
    X(T, INT, create_timeout_ms, 1, NR_POOL_DAY_MS, 30000, 0, "the deadline each `create` gets")   \
    X(T, INT, create_backoff_ms, 1, NR_POOL_DAY_MS, 100, 0,                                        \
      "delay before the next create after a failure")                                              \
    X(T, DOUBLE, create_backoff_factor, 1.0, 10.0, 2.0, 0,                                         \
      "growth of that delay per failure in a row")                                                 \
    X(T, INT, create_backoff_max_ms, 1, NR_POOL_DAY_MS, 10000, 0, "cap of that delay")             \
    X(T, INT, breaker_failures, 0, 1000000, 5, 0,                                                  \
      "failed creates in a row that open the breaker; 0 = never")                                  \
    X(T, DOUBLE, max_lifetime_jitter, 0.0, 0.5, 0.025, 0,                                          \
      "each instance's lifetime is up to this fraction shorter than `max_lifetime_ms`, at "        \
      "random, so a pool warmed at once does not expire at once")                                  \
    X(T, INT, validate_bypass_ms, 0, NR_POOL_DAY_MS, 500, 0,                                       \
      "skip `validate` for an instance given back less than this ago; 0 = always validate")        \
    X(T, INT, validate_timeout_ms, 1, NR_POOL_DAY_MS, 5000, 0,                                     \
      "a `validate` that takes longer counts as failed (the instance is destroyed)")               \
    X(T, INT, max_waiters, 0, 100000000, 0, 0,                                                     \
      "callers allowed to wait at once; beyond it `NR_EEXHAUSTED` at once; 0 = no bound")          \
    X(T, INT, leak_threshold_ms, 0, 30 * NR_POOL_DAY_MS, 0, 0,                                     \
      "report a lease held longer than this (see \"Leak reports\"); 0 = off")                      \
    X(T, BOOL, replace_degraded, 0, 1, 1, 0,                                                       \
      "`nr_pool_maintain` replaces a degraded idle instance by a new one when it can (below "      \
      "`max_size`, no create failing; see \"Maintenance and health\")")                            \
    X(T, INT, instance_quarantine_after, 0, 1000, 0, 0,                                            \
      "failed checks in a row after which an instance is quarantined instead of destroyed; 0 = "   \
      "off: an unhealthy instance is destroyed at once")                                           \
    X(T, INT, instance_quarantine_base_ms, 1, NR_POOL_DAY_MS, 1000, 0,                             \
      "delay before a quarantined instance's first probe")                                         \
    X(T, DOUBLE, instance_quarantine_factor, 1.0, 10.0, 2.0, 0,                                    \
      "growth of the delay per failed probe")                                                      \
    X(T, INT, instance_quarantine_max_ms, 1, NR_POOL_DAY_MS, 60000, 0,                             \
      "cap of the delay; at least `instance_quarantine_base_ms` (checked when quarantine is on)")  \
    X(T, DOUBLE, instance_quarantine_jitter, 0.0, 1.0, 0.2, 0,                                     \
      "each delay is up to this share longer or shorter, at random (at least 1 ms)")               \
    X(T, INT, instance_quarantine_max_attempts, 1, 1000, 8, 0,                                     \
      "failed probes after which a quarantined instance is destroyed")

NR_CONFIG_STRUCT(nr_pool_config, NR_POOL_CONFIG_FIELDS)

/* The schema of nr_pool_config (keys as the member names above; name "pool"). */
NR_API extern const nr_config_schema nr_pool_config_schema;

/* Fill c with the defaults above (the schema's: nr_config_init, which cannot fail here). */
NR_API void nr_pool_config_default(nr_pool_config *c);

/* ---- creation ------------------------------------------------------------ */

typedef struct nr_pool nr_pool;

/* Something that runs jobs, e.g. a worker pool. submit returns 0 when it
 * took the job (fn(arg) will run exactly once, on another thread, later)
 * and non-zero when it did not. The pool never calls submit with a lock
 * held. */
typedef struct nr_executor {
    int (*submit)(void *ud, void (*fn)(void *arg), void *arg);
    void *ud;
} nr_executor;

typedef struct nr_pool_options {
    size_t size;    /* sizeof(nr_pool_options) as the caller was built: the caller sets it
                       (NR_POOL_OPTIONS_INIT, docs/ABI.md) */
    const char *id; /* required; copied; 1..63 bytes, see nebula/scope.h */
    const nr_resource_type *type;   /* required; borrowed, must outlive the pool */
    void *type_ud;                  /* passed to every callback */
    const void *config;             /* the driver's config struct; borrowed, must outlive the
                                       pool; validated against type->config_schema */
    const nr_pool_config *pool;     /* copied; NULL = defaults */
    const nr_scope *scope;          /* copied; NULL = Global */
    const nr_secret *credential;    /* copied; NULL = none; given to create() by reference */
    nr_event_bus *events;           /* borrowed, may be NULL: the pool publishes Created,
                                       Destroyed, Acquired, Released, Timeout, PoolExhausted,
                                       CleanedUp, Error, BreakerOpened, BreakerClosed, Leak*
                                       and, for instance quarantine, Quarantined and
                                       QuarantineReleased (instance_id set) into it */
    nr_histogram *wait_histogram;   /* borrowed, may be NULL: seconds waited by each acquire
                                       that had to wait */
    nr_histogram *health_histogram; /* borrowed, may be NULL: seconds each health check took */
    const nr_executor *executor;    /* copied, may be NULL: where creates run; NULL = on the
                                       pool's own creator threads. Jobs it refuses run there
                                       too. Its jobs must all have run before nr_pool_destroy
                                       can succeed (it answers NR_EBUSY until then). */
    int64_t (*clock)(void *ud);     /* may be NULL (= nr_now_ns): monotonic nanoseconds by
                                       which instance quarantine probes are scheduled (tests
                                       give a fake one); called with no lock held, from the
                                       thread that runs nr_pool_check_health */
    void *clock_ud;
    nr_hooks *hooks; /* borrowed, may be NULL: lifecycle hooks (nebula/hooks.h) run around
                        this pool's creates, acquires, releases, destroys, health checks
                        and instance quarantines; must outlive the pool */
} nr_pool_options;

/* Initialisers that set size: `nr_pool_options o = NR_POOL_OPTIONS_INIT;`, or with fields:
 * `nr_pool_options o = NR_POOL_OPTIONS(.field = value, ...);` (C only: C++ sets o.size). */
#define NR_POOL_OPTIONS(...)                                                                       \
    {                                                                                              \
        .size = sizeof(nr_pool_options), __VA_ARGS__                                               \
    }
#define NR_POOL_OPTIONS_INIT NR_POOL_OPTIONS()

/*
 * Create an empty pool (no instance is created here: call nr_pool_fill to
 * warm it, or let acquires create on demand). NR_EINVAL / NR_ECONFIG name the
 * bad option or field; NR_ENOMEM.
 */
NR_API int nr_pool_create(nr_pool **out, const nr_pool_options *opts, nr_error *err);

/*
 * Destroy the pool and every idle instance, and join its own creator
 * threads. Creates still running are cancelled (their create() sees the
 * pool's cancel token set) and waited for, as are destroys in progress, up
 * to create_timeout_ms and a second more. If instances are still out (held
 * by guards), or a create outlived that wait, nothing is freed and NR_EBUSY
 * comes back, but the pool is closed all the same (as by nr_pool_close):
 * later acquires fail with NR_ESHUTDOWN, idle instances are gone and leases
 * are destroyed when given back. Give them back (nr_pool_drain waits for
 * that) and call again. NULL is a no-op.
 */
NR_API int nr_pool_destroy(nr_pool *pool, nr_error *err);

NR_API const char *nr_pool_id(const nr_pool *pool);
NR_API const nr_scope *nr_pool_scope(const nr_pool *pool);

/* ---- acquire and release ------------------------------------------------- */

/* A lease on one instance. Obtain it from nr_pool_acquire; give it back
 * exactly once with nr_guard_release or nr_guard_taint. A guard is a value:
 * copying it does not copy the lease, and only the first release counts. */
typedef struct nr_guard {
    struct nr__instance *inst;
    uint64_t lease;
} nr_guard;

#define NR_GUARD_INIT                                                                              \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/*
 * Lease an instance. Returns:
 *   NR_OK         *out holds the lease
 *   NR_ETIMEDOUT  none became free by the deadline
 *                 (while creates fail, err->cause is the last create's code and
 *                 the message ends with its message: "pool 'db': no instance
 *                 became free in time (...); the last create failed: ...")
 *   NR_EEXHAUSTED nothing idle and the deadline allows no wait (a create is
 *                 started if there is room, so a later call may succeed), or
 *                 max_waiters callers are already waiting
 *   NR_EUNAVAIL   the breaker is open (breaker_failures creates failed in a
 *                 row) and nothing is idle: it fails at once, cause and
 *                 message from the last create; one trial create runs per
 *                 backoff step and the first success closes the breaker
 *   NR_ECANCELED  ctx->cancel was set
 *   NR_ESHUTDOWN  the pool is closed
 *   NR_ESCOPE     ctx->scope is not inside the pool's scope
 *   NR_ENOMEM
 * An acquire never runs create() itself. On failure *out is NR_GUARD_INIT.
 */
NR_API int nr_pool_acquire(nr_pool *pool, const nr_ctx *ctx, nr_guard *out, nr_error *err);

/* nr_pool_acquire that records where it was called from (file, line and
 * function must be string literals or otherwise outlive the lease), for
 * the leak report of leak_threshold_ms. NR_POOL_ACQUIRE fills them in. */
NR_API int nr_pool_acquire_at(nr_pool *pool, const nr_ctx *ctx, nr_guard *out, nr_error *err,
                              const char *file, int line, const char *func);
#define NR_POOL_ACQUIRE(pool, ctx, out, err)                                                       \
    nr_pool_acquire_at((pool), (ctx), (out), (err), __FILE__, __LINE__, __func__)

/* The driver's handle (e.g. a sqlite3 *); NULL for an empty guard. */
NR_API void *nr_guard_handle(const nr_guard *g);

/* Whether the guard holds a lease. */
static inline bool nr_guard_held(const nr_guard *g)
{
    return g && g->inst != NULL;
}

/*
 * Move the lease in *src to *dst and empty *src, for keeping a guard
 * somewhere other than where nr_pool_acquire filled it (beside the
 * connection it leases, say). Returns NR_OK (an empty *src makes an empty
 * *dst), NR_EINVAL when either is NULL, NR_EBUSY when *dst holds a lease,
 * even a copy of *src's (give that back first: nothing changes). dst == src
 * is NR_OK and changes nothing. Any thread; both guards are the caller's.
 *
 * Prefer it to copying the struct (dst = src): the copy works, but
 * compilers copy a 16-byte struct through a vector register, and reading
 * the guard back then costs more on the path every give-back depends on
 * (docs/pool.md, "Keeping a guard"). This copies word by word.
 */
static inline int nr_guard_move(nr_guard *dst, nr_guard *src)
{
    if (!dst || !src)
        return NR_EINVAL;
    if (dst == src)
        return NR_OK;
    if (nr_guard_held(dst))
        return NR_EBUSY;
    struct nr__instance *inst = src->inst;
    uint64_t lease = src->lease;
#if defined(__GNUC__)
    /* keeps the compiler from joining the word copies into a vector one */
    __asm__("" : "+r"(inst), "+r"(lease));
#endif
    dst->inst = inst;
    dst->lease = lease;
    src->inst = NULL;
    src->lease = 0;
    return NR_OK;
}

/*
 * Give the instance back (recycled first when configured). The guard is
 * emptied. An empty guard is a no-op (NR_OK); a guard whose lease was
 * already given back gives NR_ESTATE and touches nothing.
 */
NR_API int nr_guard_release(nr_guard *g);

/* Give the instance back to be destroyed (it is broken). Same rules. */
NR_API int nr_guard_taint(nr_guard *g);

/*
 * Take the leased instance out of the pool for good: *handle receives the
 * driver's handle, which the caller now owns (destroy it with the type's
 * destroy callback, or keep it). The pool counts it gone (stats.detached)
 * and may create a replacement. The guard is emptied. NR_EINVAL for a NULL
 * handle pointer or an empty guard, NR_ESTATE for a lease already given back.
 */
NR_API int nr_guard_detach(nr_guard *g, void **handle);

typedef struct nr_instance_info {
    uint64_t id; /* 1-based creation number within the pool */
    nr_lifecycle state;
    int64_t created_ns;   /* nr_now_coarse_ns() when create() returned */
    int64_t last_used_ns; /* the coarse clock when it was last given back (or created); a
                             give-back reads it through the pool's tick cell, which is never
                             ahead of nr_now_coarse_ns() and lags it by about 1 ms at most
                             (docs/pool.md) */
    uint64_t use_count;   /* times handed out, this lease included */
} nr_instance_info;

/* Describe the leased instance. NR_EINVAL for an empty or stale guard. */
NR_API int nr_guard_info(const nr_guard *g, nr_instance_info *out);

/* RAII for GCC and Clang: the lease is released when the variable leaves
 * its block.    NR_GUARD_SCOPED g = NR_GUARD_INIT;                          */
static inline void nr__guard_cleanup(nr_guard *g)
{
    if (g->inst)
        (void)nr_guard_release(g);
}
#define NR_GUARD_SCOPED __attribute__((cleanup(nr__guard_cleanup))) nr_guard

/* ---- maintenance ---------------------------------------------------------- */

typedef struct nr_pool_maintain_report {
    uint32_t evicted_idle;      /* idle past idle_timeout, beyond min_idle */
    uint32_t evicted_lifetime;  /* past max_lifetime (quarantined ones too) */
    uint32_t created;           /* to reach min_idle */
    uint32_t create_failures;   /* of the creates this step made (both kinds) */
    uint32_t replaced_degraded; /* degraded idle instances destroyed after a new one was
                                   created in their place (replace_degraded) */
} nr_pool_maintain_report;

/*
 * One maintenance step: destroy idle instances past max_lifetime, and past
 * idle_timeout while more than min_idle are idle (degraded ones first, see
 * nr_pool_check_health); destroy quarantined instances past max_lifetime;
 * then create up to min_idle idle instances (within max_size); then, with
 * replace_degraded, replace degraded idle instances: while one is idle, the
 * pool is below max_size and max_connecting, and no create is failing
 * (no backoff, breaker closed), create a new instance and, once that
 * create succeeded, destroy a degraded idle one (never the other way
 * round). Runs callbacks on the calling thread. report may be NULL.
 * Returns NR_OK, or the first create error (the step still finishes
 * everything else).
 */
NR_API int nr_pool_maintain(nr_pool *pool, nr_pool_maintain_report *report, nr_error *err);

/* Create instances until min_idle are idle (or max_size is reached), giving
 * up at deadline. The creates run on the calling thread, one at a time.
 * Returns NR_OK or the first create error. */
NR_API int nr_pool_fill(nr_pool *pool, nr_deadline deadline, nr_error *err);

/* nr_pool_fill to n idle instances instead of min_idle (n = 1 proves that
 * the resource can be reached: its error is the create's own). */
NR_API int nr_pool_prime(nr_pool *pool, uint32_t n, nr_deadline deadline, nr_error *err);

typedef struct nr_pool_health_report {
    /* the instances idle at the call, checked: unhealthy == discarded + quarantined + kept */
    uint32_t checked, healthy, degraded, unhealthy, discarded;
    nr_health_state worst;             /* worst state seen; UNKNOWN when nothing was checked */
    char reason[NR_HEALTH_REASON_MAX]; /* reason of the worst result */
    uint32_t quarantined;              /* of unhealthy: quarantined instead of destroyed */
    uint32_t kept; /* of unhealthy: below instance_quarantine_after, kept as degraded */
    /* quarantined instances probed (not counted above, nor in worst) */
    uint32_t probed;          /* probes run */
    uint32_t released;        /* of probed: passed, back to idle */
    uint32_t probe_discarded; /* of probed: the last allowed probe failed, destroyed */
} nr_pool_health_report;

/*
 * Run type->health_check on every instance idle at the time of the call
 * (healthy and degraded), each with its own deadline of check_timeout_ns,
 * one at a time with no lock held. A type without health_check reports
 * every instance as checked and healthy only if validate passes (or there
 * is no validate). Then probe the quarantined instances whose probe is due.
 *
 * Verdicts:
 *   healthy    back among the healthy idle instances (to a waiter first);
 *              a degraded one is degraded no more
 *   degraded   back to the degraded list (to a waiter first): an acquire
 *              takes a degraded instance only when no healthy one is idle,
 *              shrinks and idle_timeout retire degraded ones first, and
 *              nr_pool_maintain may replace it (replace_degraded)
 *   unknown    back where it was (its degraded flag and failure count stay)
 *   unhealthy  (also a check that failed or ran past check_timeout_ns)
 *              instance_quarantine_after 0: destroyed. Otherwise its
 *              failures in a row are counted (healthy and degraded checks
 *              reset the count): below the threshold it goes back as
 *              degraded (kept); at the threshold it is quarantined.
 *
 * A quarantined instance counts in the pool's total but is never handed
 * out. Its probe k (k = 1, 2, ...) is due base x factor^(k-1) ms (capped,
 * +- jitter) after the previous verdict, on the pool's clock; a round
 * probes those due, earliest first. A probe that reports healthy or
 * degraded releases it (to the healthy or the degraded idle instances);
 * any other outcome schedules the next probe, and when probe
 * instance_quarantine_max_attempts fails the instance is destroyed.
 * nr_pool_evict_all, nr_pool_set_credential, nr_pool_close and
 * nr_pool_destroy destroy quarantined instances as they do idle ones; a
 * shrinking nr_pool_resize retires them first.
 */
NR_API int nr_pool_check_health(nr_pool *pool, int64_t check_timeout_ns,
                                nr_pool_health_report *report, nr_error *err);

/*
 * Stop handing out instances: new acquires fail with NR_ESHUTDOWN and every
 * waiter wakes with it, no new instance is created, but idle instances stay
 * and leases given back return to the idle list, so that they can be
 * destroyed later, in an order the caller chooses (nr_pool_close).
 * Idempotent; nr_pool_close implies it.
 */
NR_API void nr_pool_quiesce(nr_pool *pool);

/* Wait until no instance is leased or being created, or the deadline passes
 * (NR_ETIMEDOUT; err says how many are out and how long the oldest lease
 * has been held). Quiesce first, or new leases may keep it waiting. */
NR_API int nr_pool_wait_returned(nr_pool *pool, nr_deadline deadline, nr_error *err);

/*
 * Close the pool: new acquires fail with NR_ESHUTDOWN, every waiter wakes
 * with NR_ESHUTDOWN, idle instances are destroyed, creates in flight are
 * cancelled (the instance of one that still succeeds is destroyed), and
 * instances still out are destroyed when given back. Idempotent.
 */
NR_API void nr_pool_close(nr_pool *pool);

/* nr_pool_close, destroying each idle instance as its own job on ex (so
 * slow destroys run in parallel); a job ex refuses runs on the caller.
 * nr_pool_drain waits for the jobs. */
NR_API void nr_pool_close_on(nr_pool *pool, const nr_executor *ex);

/*
 * Replace the credential given to create() (copied; NULL = none). Idle
 * instances made with the old one are destroyed now, leased ones when they
 * are given back; new instances get the new one. NR_ENOMEM leaves the old
 * credential in place.
 */
NR_API int nr_pool_set_credential(nr_pool *pool, const nr_secret *credential, nr_error *err);

/* Close, then wait until every instance is given back and destroyed or the
 * deadline passes (NR_ETIMEDOUT; err says how many are still out). */
NR_API int nr_pool_drain(nr_pool *pool, nr_deadline deadline, nr_error *err);

/* ---- operator controls ------------------------------------------------------- */

/*
 * Change min_idle and max_size at run time (the rules of nr_pool_config:
 * max_size 1..1000000, min_idle <= max_size; NR_ECONFIG names the field).
 * Growing lets waiters be served by new creates at once. Shrinking retires
 * instances beyond the new max_size now (quarantined ones first, then
 * degraded idle ones, then the longest idle), and later, while the pool
 * holds more than max_size, an instance given back (or, in its place, a
 * quarantined or degraded idle one); leases are never taken away.
 */
NR_API int nr_pool_resize(nr_pool *pool, int64_t min_idle, int64_t max_size, nr_error *err);

/*
 * Apply a whole pool config at run time: every field but max_connecting
 * (NR_EINVAL when it differs: its creator threads are sized by it; make a
 * new pool). cfg is checked as nr_pool_create checks it (NR_ECONFIG naming
 * "$.pool.FIELD", the rule and the value) and copied; nothing changes when
 * it is refused. min_idle and max_size go through nr_pool_resize. The
 * others take effect from the next use of each: acquire_timeout_ms for
 * acquires that begin after the call, validate_* and recycle_on_release for
 * the next acquire or give-back, idle_timeout_ms at the next maintenance,
 * create_* and breaker_failures for the next create, instance_quarantine_*
 * for the next check or probe. max_lifetime_ms and max_lifetime_jitter
 * apply to instances created after the call (existing ones keep the expiry
 * they were made with). leak_threshold_ms turned on reports leases acquired
 * after the call only (earlier ones carry no acquire site).
 * Thread safety: any thread, also while others acquire and give back.
 */
NR_API int nr_pool_reconfigure(nr_pool *pool, const nr_pool_config *cfg, nr_error *err);

/*
 * Suspend: acquires wait (up to their deadline) even when instances are
 * idle, nothing is created, and instances given back stay idle. Resume
 * hands idle instances to the waiters in order and starts the creates they
 * need. Both idempotent.
 */
NR_API void nr_pool_suspend(nr_pool *pool);
NR_API void nr_pool_resume(nr_pool *pool);

/*
 * Start a new generation (for a database failover): idle instances are
 * destroyed now, leased ones when they are given back, and every instance
 * created from now on belongs to the new generation. Returns how many idle
 * instances (degraded and quarantined ones included) were destroyed; one
 * being probed at the time is destroyed when its probe ends.
 */
NR_API uint32_t nr_pool_evict_all(nr_pool *pool);

/* ---- statistics ------------------------------------------------------------ */

/*
 * Snapshot taken under the pool lock, written into out up to out->size
 * (NR_POOL_STATS_INIT sets it; docs/ABI.md). NR_OK; NR_EINVAL when
 * out->size is 0 or larger than this library's nr_pool_stats (nothing is
 * written then).
 * Thread safety: any thread.
 */
NR_API int nr_pool_stats_get(nr_pool *pool, nr_pool_stats *out);

#ifdef __cplusplus
}
#endif
#endif
