/*
 * nebula/hooks.h - lifecycle hooks: code of the program's own that runs
 * before and after the operations of every resource, without touching a
 * driver (docs/hooks.md).
 *
 * A hook registry (nr_hooks) holds hooks. A pool takes one in its options
 * (nr_pool_options.hooks), a manager in its options (nr_manager_options.hooks)
 * and gives it to every pool it makes. One registry may serve many pools and
 * managers.
 *
 * A hook (nr_hook_def) has a name, a priority, the operations it wants, a
 * `before` and/or an `after` callback and filters:
 *   - operations: create, acquire, release, destroy, health check,
 *     quarantine and release from quarantine (nr_hook_op);
 *   - order: hooks run by ascending priority, then in the order they were
 *     added; `after` callbacks run in the same order as `before` ones;
 *   - filters: the resource type's name (exact), the resource id (exact, or
 *     a prefix when the filter ends in '*'), and a scope: the call's scope
 *     (the caller's for an acquire that carries one, else the pool's) must
 *     be inside it (nr_scope_contains). A NULL filter matches everything.
 *
 * Refusal. A `before` callback that returns a code other than NR_OK (with err
 * filled) refuses the operation: no later `before` runs, the operation fails
 * with that code (one that is not an NR_E* code becomes NR_EPERM) and a
 * message naming the hook, the operation and the
 * resource (`hook 'tenant-policy' refused acquire of 'orders-db': tenant
 * globex is not allowed`), nothing is created or leased, and
 * NR_EV_HOOK_REFUSED is published. Which operations can be refused:
 *   create             the create fails as a failed create does (counted,
 *                      retried by the pool's backoff like any other failure);
 *   acquire            the acquire fails at once with the hook's code;
 *   health check       the instance is not checked this round (no verdict);
 *   quarantine         the resource or instance is not quarantined this time;
 *   quarantine release it stays quarantined until the next probe (the same
 *                      attempt); nr_manager_release_quarantine returns the
 *                      hook's code.
 * For a resource, quarantine is its move into quarantine and quarantine
 * release its move out (quarantined or held -> half-open).
 * release and destroy cannot be refused (an instance must come back and be
 * freed): a `before` error there is published as NR_EV_HOOK_FAILED and the
 * operation goes on.
 *
 * Outcome. An `after` callback runs once per operation whose `before`
 * callbacks (of any hook) all passed, also when the operation failed, with
 * call->rc, call->error and call->duration_ns set (a health check's rc is
 * NR_EHEALTH when its verdict is unhealthy). An error it returns is
 * published as NR_EV_HOOK_FAILED, never raised. A refused operation gets no
 * `after` calls.
 *
 * Threading. Callbacks run on the thread doing the operation (an acquiring
 * thread for acquire and release, a creator or executor thread for create, a
 * maintenance or health thread for health checks and quarantine), possibly
 * on many threads at once, and never while a pool or registry lock is held.
 * They must not block for long: an acquire waits for its `before` hooks. A
 * callback may call any library function except nr_hooks_remove and
 * nr_hooks_destroy on the registry that called it (NR_EBUSY). No lock is
 * held, but some calls wait for a start to end: the creates a manager's
 * start makes to bring its resources to min_idle run inside that start, and
 * nr_manager_register and nr_manager_unregister wait for a running
 * nr_manager_start, nr_manager_shutdown for every running start; a create
 * hook that calls one of those three on the same manager during a start
 * would wait for the start, which waits for the create: do not.
 * nr_manager_rotate_credential, acquires and the rest are fine.
 *
 * Adding and removing. nr_hooks_add and nr_hooks_remove may be called from
 * any thread at any time, also while pools run operations through the
 * registry. A hook added takes part in operations that start after the add
 * returned. nr_hooks_remove returns once no callback of that hook runs and
 * none will start; the hook's ud may be freed then. Operations never wait for
 * add or remove: readers do not lock.
 *
 * Cost. With no registry, the operation pays a branch; with a registry that
 * has no hook for the operation, one relaxed load and a branch.
 *
 * Thread safety: every function may be called from any thread at once,
 * except nr_hooks_destroy (last, once no pool or manager uses h).
 * Callbacks run on the operation's thread with no library lock held.
 */
#ifndef NEBULA_HOOKS_H
#define NEBULA_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/error.h"
#include "nebula/events.h"
#include "nebula/health.h"
#include "nebula/scope.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nr_hook_op {
    NR_HOOK_CREATE = 0,
    NR_HOOK_ACQUIRE,
    NR_HOOK_RELEASE,
    NR_HOOK_DESTROY,
    NR_HOOK_HEALTH_CHECK,
    NR_HOOK_QUARANTINE,
    NR_HOOK_QUARANTINE_RELEASE,
    NR_HOOK_OP_COUNT
} nr_hook_op;

#define NR_HOOK_OP_BIT(op) (1u << (unsigned)(op))
#define NR_HOOK_OPS_ALL    ((1u << NR_HOOK_OP_COUNT) - 1u)

/* "create", "acquire", "release", "destroy", "health_check", "quarantine",
 * "quarantine_release"; "unknown" otherwise. */
NR_API const char *nr_hook_op_name(nr_hook_op op);

/*
 * What a callback is told. Valid during the call only; every pointer is
 * borrowed. Never holds a secret.
 */
typedef struct nr_hook_call {
    nr_hook_op op;
    const char *resource_id;      /* the pool's id (for a manager's pools: the resource's) */
    const char *type_name;        /* the resource type's name */
    const nr_scope *scope;        /* the pool's scope */
    const nr_scope *caller_scope; /* acquire: the caller's (ctx->scope); NULL otherwise */
    const char *caller;           /* acquire: ctx->caller; NULL when none */
    struct nr_pool *pool;         /* the pool (nr_pool_stats_get may be called on it, with
                                     no lock held: the pool's state at that moment); NULL for
                                     a resource's quarantine */
    uint64_t instance_id;         /* the instance; 0 when there is none yet (before create, a
                                     before acquire, a resource's quarantine) */
    /* after only (0 / NULL in before) */
    int rc;                 /* the outcome: NR_OK or the operation's error code */
    const nr_error *error;  /* the failure; NULL on success */
    int64_t duration_ns;    /* the operation's time, hooks not included */
    int64_t wait_ns;        /* acquire: the time it waited for an instance; else 0 */
    nr_health_state health; /* health check: the verdict (UNKNOWN when none) */
    /* acquire through nr_pool_acquire_at / nr_pool_acquire: where it was called;
     * NULL / 0 when unknown */
    const char *site_file;
    int site_line;
    const char *site_func;
} nr_hook_call;

/* Return NR_OK to let the operation go on; another code (with err filled,
 * never with a secret) refuses it, see the top of this file. */
typedef int (*nr_hook_before_fn)(void *ud, const nr_hook_call *call, nr_error *err);

/* Return NR_OK, or a code (with err filled) that is published, not raised. */
typedef int (*nr_hook_after_fn)(void *ud, const nr_hook_call *call, nr_error *err);

#define NR_HOOK_NAME_MAX 64 /* a hook's name: 1..63 bytes, including the NUL */

typedef struct nr_hook_def {
    size_t size;              /* sizeof(nr_hook_def) as the caller was built: the caller sets it
                                 (NR_HOOK_DEF_INIT, docs/ABI.md) */
    const char *name;         /* required; 1..63 printable bytes; copied; names the hook in
                                 refusals and events. Two hooks may share a name. */
    int32_t priority;         /* lower runs first; equal: the order added */
    uint32_t ops;             /* NR_HOOK_OP_BIT()s of the operations; 0 = every operation */
    nr_hook_before_fn before; /* may be NULL */
    nr_hook_after_fn after;   /* may be NULL (not both) */
    void *ud;                 /* borrowed: must stay valid until nr_hooks_remove returned */
    const char *type_name;    /* filter, copied; NULL = any type */
    const char *resource;     /* filter, copied; "orders-db" exact, "orders-*" prefix;
                                 NULL = any resource */
    const nr_scope *scope;    /* filter, copied; NULL = any scope */
} nr_hook_def;

/* Initialisers that set size: `nr_hook_def d = NR_HOOK_DEF_INIT;`, or with fields:
 * `nr_hook_def d = NR_HOOK_DEF(.field = value, ...);` (C only: C++ writes
 * nebula::sized<nr_hook_def>()). */
#define NR_HOOK_DEF(...)                                                                           \
    {                                                                                              \
        .size = sizeof(nr_hook_def), __VA_ARGS__                                                   \
    }
#define NR_HOOK_DEF_INIT NR_HOOK_DEF()

typedef struct nr_hooks nr_hooks;

typedef struct nr_hooks_options {
    size_t size;          /* sizeof(nr_hooks_options) as the caller was built: the caller sets it
                             (NR_HOOKS_OPTIONS_INIT, docs/ABI.md) */
    nr_event_bus *events; /* borrowed, may be NULL: HOOK_REFUSED and HOOK_FAILED go here */
    size_t max_hooks;     /* at most this many at once; default 64, 1..4096 */
} nr_hooks_options;

/* Initialisers that set size: `nr_hooks_options o = NR_HOOKS_OPTIONS_INIT;`, or with fields:
 * `nr_hooks_options o = NR_HOOKS_OPTIONS(.field = value, ...);` (C only: C++ sets o.size). */
#define NR_HOOKS_OPTIONS(...)                                                                      \
    {                                                                                              \
        .size = sizeof(nr_hooks_options), __VA_ARGS__                                              \
    }
#define NR_HOOKS_OPTIONS_INIT NR_HOOKS_OPTIONS()

NR_API void nr_hooks_options_default(nr_hooks_options *o);

/* Make an empty registry. NR_EINVAL (out NULL, bad options: err names the
 * field), NR_ENOMEM. */
NR_API int nr_hooks_create(nr_hooks **out, const nr_hooks_options *opts, nr_error *err);

/*
 * Free h. Every pool and manager given h must have been destroyed first
 * (they borrow it). NR_EBUSY from inside one of h's callbacks. NULL is a
 * no-op. Hooks still in h are dropped (their ud is not touched).
 */
NR_API int nr_hooks_destroy(nr_hooks *h, nr_error *err);

/*
 * Add a hook; *id (may be NULL) gets its id, for nr_hooks_remove (never 0).
 * def->size is checked as docs/ABI.md says (an older, smaller def reads the
 * fields it lacks as 0). NR_EINVAL (def's size refused, no name, a name too long or not printable,
 * no callback, an unknown op bit, a filter that is not a valid id or scope: err names the field and
 * the rule), NR_EEXHAUSTED (max_hooks reached), NR_ENOMEM.
 */
NR_API int nr_hooks_add(nr_hooks *h, const nr_hook_def *def, uint64_t *id, nr_error *err);

/*
 * Remove hook id and wait until none of its callbacks runs. NR_ENOTFOUND
 * (no such hook, or removed already), NR_EBUSY (called from one of h's
 * callbacks: it would wait for itself).
 */
NR_API int nr_hooks_remove(nr_hooks *h, uint64_t id, nr_error *err);

/* Hooks in h now. */
NR_API size_t nr_hooks_count(nr_hooks *h);

#ifdef __cplusplus
}
#endif
#endif
