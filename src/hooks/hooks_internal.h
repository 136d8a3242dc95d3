/*
 * hooks_internal.h - the hook registry as the pool and the manager see it
 * (nebula/hooks.h is the contract; docs/hooks.md the model).
 *
 * Readers never lock. The hooks in force are an immutable snapshot, sorted
 * by (priority, the order added), published through an atomic pointer. A
 * reader (one operation's before or after phase) enters one of two epochs,
 * loads the snapshot, runs the callbacks and leaves:
 *
 *     reader                                  writer (serialised by wmu)
 *     e = epoch                               build the new snapshot
 *     readers[e & 1][me]++                    snap = new
 *     epoch == e ? go on : undo, retry        e = epoch; epoch = e + 1
 *     s = snap; run s's callbacks             wait until readers[e & 1][*] == 0
 *     readers[e & 1][me]--                    free the old snapshot (and a
 *                                             removed hook's record)
 *
 * Every step is sequentially consistent, so a reader that loaded the old
 * snapshot had incremented readers[e & 1] before the writer read it, and a
 * reader that saw the new epoch loads the new snapshot. A writer flips the
 * epoch once and drains only the old one: readers keep entering the new
 * epoch meanwhile and never wait. nr_hooks_remove therefore returns only
 * once no callback of the removed hook runs; nr_hooks_destroy drains both
 * epochs.
 *
 * An operation runs its `after` callbacks in a later reader section than
 * its `before` ones (it does not stay inside one across the operation, so a
 * remove never waits for an acquire that waits for an instance). It keeps
 * the sequence limit of the snapshot its befores saw: hooks added since do
 * not take part in it, hooks removed since simply are not called.
 *
 * A thread-local chain of frames says which registries' callbacks the
 * thread is inside, so that a remove or destroy from a callback fails with
 * NR_EBUSY instead of waiting for itself. An add from a callback does not
 * drain: the snapshot it replaced is kept on `retired` and freed by the next
 * writer's drain (one flip drains every reader older than it) or by
 * destroy.
 */
#ifndef NR_HOOKS_INTERNAL_H
#define NR_HOOKS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nebula/hooks.h"

#define NR__HOOKS_MAGIC 0x4E52484F4F4B5321ULL /* "NRHOOKS!" */

/* One hook: immutable once added; freed by the remove that drained it. */
typedef struct nr__hook {
    uint64_t id;  /* nr_hooks_add's answer, never 0 */
    uint64_t seq; /* the order added, 1, 2, ... */
    char name[NR_HOOK_NAME_MAX];
    int32_t priority;
    uint32_t ops; /* NR_HOOK_OP_BIT()s, never 0 */
    nr_hook_before_fn before;
    nr_hook_after_fn after;
    void *ud;
    bool has_type, has_resource, resource_prefix, has_scope;
    char type_name[NR_HOOK_NAME_MAX];
    char resource[NR_ERROR_ID_MAX]; /* without the trailing '*' of a prefix */
    size_t resource_len;
    nr_scope scope;
} nr__hook;

/* Reader counters are spread over shards; a thread picks its shard once. */
#define NR__HOOKS_SHARDS 16
typedef struct nr__hooks_shard {
    _Atomic long n;
    char pad[64 - sizeof(long)]; /* 64 bytes apart: no two counters share a cache line
                                    (padding, not _Alignas: the registry is malloc'd) */
} nr__hooks_shard;

/* The hooks in force, sorted: immutable once published. */
typedef struct nr__hooks_snap {
    uint64_t seq_limit; /* hooks with seq below it are in it: the next seq to hand out */
    struct nr__hooks_snap *retired_next; /* [wmu] replaced, waiting for a drain */
    size_t n;
    nr__hook *hooks[]; /* n, by (priority, seq) */
} nr__hooks_snap;

struct nr_hooks {
    uint64_t magic;
    _Atomic uint32_t ops_mask;      /* ops with at least one hook; written under wmu, read
                                       relaxed (a stale read only skips or tries a lookup) */
    _Atomic uint32_t before_mask;   /* of those, ops with a before: without one, an
                                       operation's before phase enters no reader section */
    _Atomic uint64_t seq_limit;     /* the published snapshot's seq_limit (seq_cst, stored
                                       after the snapshot) */
    _Atomic(nr__hooks_snap *) snap; /* seq_cst, see the top of this file */
    char pad0[64];
    _Atomic unsigned epoch;
    char pad1[64];
    nr__hooks_shard readers[2][NR__HOOKS_SHARDS]; /* per epoch, one counter per shard: a
                                                     thread always counts in its own shard,
                                                     so readers on many cores do not share
                                                     a cache line; each shard is >= 0 */
    pthread_mutex_t wmu;                          /* writers: add, remove, destroy */
    uint64_t next_id;                             /* [wmu] */
    uint64_t next_seq;                            /* [wmu] */
    nr__hooks_snap *retired; /* [wmu] replaced snapshots no drain freed yet (an add
                                from a callback cannot wait for its own section) */
    size_t max_hooks;        /* constant */
    nr_event_bus *events;    /* constant, may be NULL */
};

/* Whether any hook for op is in h (h non-NULL): one relaxed load. */
static inline bool nr__hooks_on(const nr_hooks *h, nr_hook_op op)
{
    return (atomic_load_explicit(&((nr_hooks *)h)->ops_mask, memory_order_relaxed) &
            NR_HOOK_OP_BIT(op)) != 0;
}

/* The test a pool makes before it builds a call: a NULL registry costs one
 * well-predicted branch. */
#define NR__HOOKS_WANT(h, op) (__builtin_expect((h) != NULL, 0) && nr__hooks_on((h), (op)))

/* One operation's passage through the hooks, between before and after. */
typedef struct nr__hook_run {
    bool active;        /* the befores passed: call nr__hooks_after */
    uint64_t seq_limit; /* the hooks that take part (those its befores saw) */
    int64_t t0;         /* when the operation proper began (nr_now_ns) */
} nr__hook_run;

/* An empty error, cheaply: the codes and both strings empty, without
 * clearing the whole message buffer (nr_error_clear does), which on a hook's
 * hot path costs more than the hook. */
static inline void nr__error_reset(nr_error *e)
{
    e->code = NR_OK;
    e->cause = NR_OK;
    e->driver_code = 0;
    e->resource_id[0] = '\0';
    e->message[0] = '\0';
    e->truncated = 0;
}

/* Fill the common fields of a call (the rest 0 / NULL). */
void nr__hook_call_init(nr_hook_call *call, nr_hook_op op, const char *resource_id,
                        const char *type_name, const nr_scope *scope, struct nr_pool *pool,
                        uint64_t instance_id);

/*
 * Run the `before` callbacks of call->op that match call, in order, with no
 * lock held by the caller. Returns NR_OK with run set (run->active: call
 * nr__hooks_after once the operation is over), or, for an operation that
 * can be refused, the refusing hook's code with err (may be NULL) filled and
 * NR_EV_HOOK_REFUSED published; run->active is then false and no after
 * runs. Release and destroy cannot be refused: a before error there is
 * published as NR_EV_HOOK_FAILED and NR_OK comes back.
 */
int nr__hooks_before(nr_hooks *h, nr__hook_run *run, nr_hook_call *call, nr_error *err);

/*
 * Run the `after` callbacks (of the hooks that took part) with the caller's
 * call->rc, error, wait_ns, health and instance_id; duration_ns is set here
 * from run->t0. Their errors are published as NR_EV_HOOK_FAILED. Does
 * nothing unless run->active.
 */
void nr__hooks_after(nr_hooks *h, nr__hook_run *run, nr_hook_call *call);

/* ---- shared by hooks.c and hooks_run.c ---- */

/* Enter a reader section: the snapshot in force and the epoch to leave. */
nr__hooks_snap *nr__hooks_enter(nr_hooks *h, unsigned *epoch);
void nr__hooks_leave(nr_hooks *h, unsigned epoch);

/* The thread's chain of registries whose callbacks it is inside. */
typedef struct nr__hook_frame {
    const nr_hooks *h;
    struct nr__hook_frame *up;
} nr__hook_frame;
void nr__hook_frame_push(nr__hook_frame *f, const nr_hooks *h);
void nr__hook_frame_pop(nr__hook_frame *f);
bool nr__hook_inside(const nr_hooks *h);

#endif
