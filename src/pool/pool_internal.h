/*
 * pool_internal.h - the pool's data structures, shared by the files of src/pool.
 *
 * Locking: pool->mu guards every field marked [mu]. Fields marked [atomic]
 * are read without it. Fields marked [holder] belong to whoever holds the
 * instance (the lessee, or the thread creating, checking or destroying it)
 * and are touched by nobody else.
 *
 * Accounting, always true while mu is held:
 *     total == idle + deg_idle + in_use + creating + maint + bagged + quarantined
 *     total <= max_size, except after a resize shrank max_size below
 *                        total: then `shrinking` is set, no create starts,
 *                        and give-backs retire instances until it holds
 *     waiters > 0  implies  idle == 0, deg_idle == 0 and no bag instance is
 *                           Free, or the pool is suspended (a newcomer never
 *                           barges past a waiter)
 *     an instance in the bag is never degraded (degraded ones are kept on
 *     the degraded list, so the fast path needs no check)
 *     creating_async <= creating  (creates run by the creator, not by
 *                                  nr_pool_maintain or nr_pool_fill)
 *
 * Creation (pool_create.c). No acquiring thread runs create(). An acquire
 * that finds nothing idle joins the FIFO queue and asks the creator for
 * instances: the creator reserves a slot (total and creating) for each
 * create it starts, at most max_connecting at once and never more than the
 * callers waiting, and runs them on the pool's executor or on the pool's own
 * creator threads. A finished create is placed like a released instance: to
 * the oldest waiter, or idle. Failures set a backoff before the next create
 * and, after breaker_failures in a row, open the breaker.
 *
 * The bag (pool_bag.c) is the lock-free fast path. An instance in the bag
 * is Free (idle, claimable by a CAS) or Used (leased through the bag);
 * acquire and release move it between the two without mu, and a thread
 * remembers the instance it last gave back so that it tends to take the
 * same one again, touching nothing another thread writes. Membership in the
 * bag changes only under mu. The gate closes the fast path: it is set under
 * mu while anyone waits, while the pool is suspended and once it refuses
 * leases, and then every release goes through mu, where it is handed to the
 * oldest waiter.
 * Instances being destroyed are no longer in total; `destroying` counts them
 * so that drain and destroy wait for them too.
 *
 * Where an instance that is not leased lives (every move under mu):
 *
 *     the bag (Free)        healthy, claimable without mu
 *     the idle list         healthy (or never checked), taken under mu
 *     the degraded list     its last check said degraded (or unhealthy, below
 *                           instance_quarantine_after): taken under mu, only
 *                           when nothing healthy is idle (pool_degraded.c)
 *     out for a check       counted in maint, held by the checking thread
 *     quarantined           counted in quarantined, never handed out; on the
 *                           quarantine list, or held by the thread probing it
 *                           (pool_quarantine.c)
 */
#ifndef NR_POOL_INTERNAL_H
#define NR_POOL_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/tick.h"
#include "hooks/hooks_internal.h"
#include "pool/pool_kept.h"
#include "nebula/pool.h"

#define NR_POOL_MAGIC 0x4E52504F4F4C2121ULL /* "NRPOOL!!" */

/* One instance record. Records are reused and freed only by nr_pool_destroy,
 * so a stale guard always points at valid memory whose lease no longer
 * matches. */
struct nr__instance {
    void *raw;                      /* constant: the allocation the record sits in (records
                                       start on a cache line of their own, see
                                       nr__record_alloc) */
    nr_pool *pool;                  /* constant */
    void *handle;                   /* [holder] the driver's object */
    _Atomic uint64_t lease;         /* the current lease as its holder published it (the
                                       guard's lease), 0 when not leased: for readers that
                                       own nothing (leak scan, nr_guard_info) */
    _Atomic uint64_t bag;           /* who owns it: its lease number and NR__BAG_* state in
                                       one word (NR__OWN_*); every lease change is one CAS
                                       on it, so exactly one give-back wins */
    uint32_t bag_slot;              /* [mu] its slot while in the bag */
    _Atomic uint64_t n_acquires;    /* leases of this record: written by the holder only */
    _Atomic uint64_t n_releases;    /* give-backs of this record: by the holder only */
    _Atomic int64_t lease_start_ns; /* coarse time the current bag lease began */
    uint64_t id;                    /* [holder] 1-based creation number */
    nr_lifecycle state;             /* [mu] or [holder] while out of every list */
    int64_t created_ns;             /* [holder] */
    int64_t last_used_ns;           /* written by the holder before it publishes under mu */
    uint64_t use_count;             /* [holder] */
    uint64_t health_round;          /* [mu] last health round that checked it */
    int degraded;                   /* [mu] last check said degraded: kept on the degraded
                                       list while idle (never in the bag) */
    uint32_t health_fails;          /* [mu] checks failed in a row */
    uint32_t q_attempt;             /* [mu] quarantined: the probe due next (1-based);
                                       0 when not quarantined */
    int64_t q_due_ns;               /* [mu] quarantined: when that probe is due (pool clock) */
    uint64_t gen;                   /* [holder] pool generation it was created in (the
                                       credential and evict-all counts, see nr__gen) */
    int64_t expires_ns;             /* [holder] created_ns + its jittered lifetime;
                                       INT64_MAX when max_lifetime_ms is 0 */
    _Atomic int leak_reported;      /* a leak report is open for the current lease: set
                                       under mu by the reporter, cleared by the holder */
    /* Where the current lease was acquired, when leak detection is on:
     * written by the holder before it publishes the lease (release), read
     * by the leak report under mu (relaxed; checked against the lease). */
    _Atomic(const char *) site_file, site_func;
    _Atomic int site_line;
    _Atomic unsigned long site_thread;
    int leased;                       /* [mu] counted in in_use */
    int64_t acquired_ns;              /* [mu] coarse time the current lease began */
    struct nr__instance *prev, *next; /* [mu] idle list or free list links */
    struct nr__instance *all_next;    /* [mu] every record, for nr_pool_destroy */
    /* (cold: last, so the hot fields above keep their places) */
    struct nr__instance *async_next; /* [mu] on the async worker's list of deferred
                                        give-backs (pool_async.c) */
    uint64_t async_lease;            /* [holder] the lease a deferred give-back ends */
    int async_taint;                 /* [holder] that give-back is a taint */
};

/* A credential shared by the pool and the creates using it. */
struct nr__cred {
    _Atomic long refs; /* acq_rel: the last release frees */
    nr_secret *secret;
};

typedef struct nr__waiter {
    pthread_cond_t cv;         /* a blocking waiter's (not set up for an async one) */
    struct nr__instance *inst; /* [mu] handed over by a releaser or a finished create */
    struct nr__waiter *next;   /* [mu] FIFO queue links */
    struct nr__waiter *prev;   /* [mu] */
    int queued;                /* [mu] in the queue now */
    nr_pool *pool;
    struct nr_async_op *op; /* constant: the async request this waiter is, NULL = a
                               blocking caller (pool_async.c) */
} nr__waiter;

/* The generation of a pool is two counters in one word, so that the hot
 * path compares one load: the credential generation (low half) and the
 * evict-all generation (high half). */
#define NR__GEN_EVICT_ONE (1ULL << 32)

struct nr_pool {
    uint64_t magic;
    char id[NR_ERROR_ID_MAX];
    nr_scope scope;
    nr_pool_config cfg;
    const nr_resource_type *type;
    bool can_validate, can_recycle; /* constant: type->validate / type->recycle are set
                                       (read on the fast path without a second pointer) */
    void *type_ud;
    const void *config;
    struct nr__cred *cred;                 /* [mu] current credential, NULL = none */
    nr_event_bus *events;                  /* constant, may be NULL */
    nr_hooks *hooks;                       /* constant, may be NULL (borrowed) */
    _Atomic uint32_t hook_busy;            /* give-backs running hooks after their instance is back:
                                              nr_pool_destroy waits for 0 (acquire load; the
                                              release decrement is their last touch of the pool) */
    nr_histogram *wait_hist, *health_hist; /* constant, may be NULL */
    char scope_text[NR_EVENT_SCOPE_MAX];   /* constant: the scope as events show it */
    _Atomic uint64_t gen; /* written under mu; relaxed reads compare generations (NR__GEN_*) */

    pthread_mutex_t mu;
    pthread_cond_t drained; /* signalled when total and destroying reach 0 */

    /* [mu] accounting */
    uint32_t total, idle, in_use, creating, maint, destroying, waiters, bagged;
    uint32_t deg_idle;       /* [mu] on the degraded list */
    uint32_t quarantined;    /* [mu] quarantined: on the quarantine list or being probed */
    uint32_t replacing;      /* [mu] creates in flight that replace a degraded instance */
    uint32_t creating_async; /* [mu] of creating: started by the creator */

    /* [mu] the creator (pool_create.c) */
    nr_executor executor;     /* constant; submit NULL = none given */
    nr_cancel *close_cancel;  /* constant; triggered by close: the creator's creates get it */
    uint32_t own_threads;     /* creator threads of the pool's own, started on demand */
    uint32_t own_busy;        /* of those, running a create */
    int own_stop;             /* nr_pool_destroy: the threads exit */
    uint32_t own_pending;     /* creates queued for them */
    pthread_t *own_tids;      /* max_connecting entries */
    pthread_cond_t own_cv;    /* own threads wait here */
    uint32_t failures;        /* consecutive failed creates */
    int64_t next_create_ns;   /* backoff: no create starts before (nr_now_ns) */
    int breaker_open;         /* after breaker_failures failures in a row */
    int suspended;            /* nr_pool_suspend: nothing handed out or created */
    _Atomic int shrinking;    /* set under mu by a resize that left total over max_size;
                                 give-backs then check under mu (relaxed reads) */
    nr_error last_create_err; /* the last failed create's error (no secret in it) */
    uint64_t breaker_opens, detached, evicted_generation, evicted_resize, leaks, leaks_open;
    uint32_t watchers;  /* [mu] callers of nr_pool_wait_returned (they close the gate) */
    int64_t leak_on_ns; /* [mu] when leak detection was last turned on by nr_pool_reconfigure:
                           leases older than that carry no site and are not reported */
    struct nr__budget_member *bm; /* constant once joined (before first use): the places
                                     it shares with other pools (pool_budget.c); NULL =
                                     none */

    /* the bag: slots written under mu, read by anyone (see pool_bag.c) */
    _Atomic(struct nr__instance *) *bag_slots; /* max_size slots */
    uint32_t *bag_free_slots;                  /* [mu] stack of unused slot numbers */
    uint32_t bag_nfree;                        /* [mu] */
    _Atomic uint32_t bag_hi;                   /* slots at or above are all empty */
    _Atomic int gate;                          /* nonzero: fast path closed (written under mu) */
    uint64_t uid;                              /* constant, unique per pool in the process */
    atomic_bool closed;   /* written under mu (release), read anywhere (acquire) */
    atomic_bool refusing; /* no new leases; set by quiesce and close (same orderings) */

    /* [mu] idle list: head = most recently used, tail = longest idle */
    struct nr__instance *idle_head, *idle_tail;
    /* [mu] degraded list, ordered as the idle list; quarantine list, in the
     * order instances were quarantined */
    struct nr__instance *deg_head, *deg_tail;
    struct nr__instance *q_head, *q_tail;
    int64_t (*clock)(void *ud);        /* constant: schedules quarantine probes; NULL = nr_now_ns */
    void *clock_ud;                    /* constant */
    struct nr__instance *free_records; /* [mu] records ready for reuse */
    struct nr__instance *all_records;  /* [mu] */
    nr__waiter *wait_head, *wait_tail; /* [mu] FIFO */
    uint64_t created_seq;              /* [mu] instance ids */
    uint64_t health_round;             /* [mu] */

    /* counters: [mu] where the update is under mu anyway, relaxed atomics otherwise */
    uint64_t creates, create_failures, destroys, handoffs, waits, evicted_idle, evicted_lifetime,
        health_discards, timeouts, cancels, exhausted, credential_retired;
    uint64_t degraded_replaced, quarantines, quarantine_releases, quarantine_discards; /* [mu] */
    int64_t wait_ns_total, wait_ns_max;
    _Atomic uint64_t validate_failures, recycle_failures, taints;
    /* (cold: last, so the fields above keep their places) */
    struct nr__async *async; /* [mu] the async worker, made at first need (pool_async.c);
                                NULL = none */
    _Atomic int async_made;  /* async is set (written under mu, release) */
#ifndef NDEBUG
    _Atomic unsigned long mu_owner; /* the thread holding mu, 0 when nobody (debug builds) */
#endif
};

/* The fields of p->cfg that nr_pool_reconfigure changes while the pool runs
 * (every field but min_idle, max_size and max_connecting) are read with
 * NR__CFG, a relaxed atomic load, from any thread, and written with
 * NR__CFG_SET under mu. min_idle and max_size are read and written under mu
 * (nr_pool_resize); max_connecting never changes. */
#define NR__CFG(p, f)   __atomic_load_n(&(p)->cfg.f, __ATOMIC_RELAXED)
#define NR__CFG_D(p, f) /* the double ones */                                                      \
    __extension__({                                                                                \
        double nr__cfg_v;                                                                          \
        __atomic_load(&(p)->cfg.f, &nr__cfg_v, __ATOMIC_RELAXED);                                  \
        nr__cfg_v;                                                                                 \
    })
#define NR__CFG_SET(p, f, v) __atomic_store_n(&(p)->cfg.f, (v), __ATOMIC_RELAXED)
#define NR__CFG_SET_D(p, f, v)                                                                     \
    do {                                                                                           \
        double nr__cfg_v = (v);                                                                    \
        __atomic_store(&(p)->cfg.f, &nr__cfg_v, __ATOMIC_RELAXED);                                 \
    } while (0)

/* Why an instance is destroyed. */
typedef enum nr__discard_reason {
    NR__DISCARD_TAINT,
    NR__DISCARD_CLOSED,
    NR__DISCARD_LIFETIME,
    NR__DISCARD_IDLE,
    NR__DISCARD_VALIDATE,
    NR__DISCARD_RECYCLE,
    NR__DISCARD_HEALTH,
    NR__DISCARD_CREDENTIAL,
    NR__DISCARD_GENERATION,
    NR__DISCARD_RESIZE,
    NR__DISCARD_QUARANTINE, /* instance_quarantine_max_attempts probes failed */
} nr__discard_reason;

/* [mu] Count inst as leased / no longer leased (in_use and the lease stamp). */
void nr__lease_on_locked(nr_pool *p, struct nr__instance *inst);
void nr__lease_off_locked(nr_pool *p, struct nr__instance *inst);

/* 0 when inst belongs to the pool's current generation; otherwise why it
 * must go (NR__DISCARD_CREDENTIAL or NR__DISCARD_GENERATION). */
static inline int nr__stale(const nr_pool *p, const struct nr__instance *inst)
{
    uint64_t g = atomic_load_explicit(&p->gen, memory_order_relaxed);
    if (inst->gen == g)
        return 0;
    return (inst->gen >> 32) != (g >> 32) ? NR__DISCARD_GENERATION : NR__DISCARD_CREDENTIAL;
}

/* Destroy the instances of list (taken out of every bucket and counted in
 * destroying): each as its own job on ex when ex is given (inline when ex is
 * NULL or refuses the job). */
void nr__destroy_list_on(nr_pool *p, struct nr__instance *list, uint32_t n,
                         const struct nr_executor *ex);

void nr__cred_release(struct nr__cred *c);

/* ---- hooks (pool_hooks.c) ---- */

/* Whether p's registry has a hook for op: one branch on a NULL registry. */
#define NR__POOL_HOOKS(p, op) NR__HOOKS_WANT((p)->hooks, (op))
/* Fill a call about p (instance_id 0 when none). */
void nr__pool_hook_call(nr_pool *p, nr_hook_op op, uint64_t instance_id, nr_hook_call *call);
/* nr__pool_hook_call, then run the befores of op
 * (NR__POOL_HOOKS said yes); no lock held. NR_OK (then call
 * nr__pool_hooks_after with the outcome) or the refusal's code with err
 * (may be NULL) filled. */
int nr__pool_hooks_before(nr_pool *p, nr_hook_op op, uint64_t instance_id, nr__hook_run *run,
                          nr_hook_call *call, nr_error *err);
/* The afters, with the outcome rc (err: its detail, may be NULL). */
void nr__pool_hooks_after(nr_pool *p, nr__hook_run *run, nr_hook_call *call, int rc,
                          const nr_error *err);

/* Publish an event about the pool when anyone listens (pool_observe.c).
 * Never blocks; call with or without mu (it takes no lock). */
void nr__pool_event(nr_pool *p, nr_event_type type, uint64_t instance_id, int64_t wait_ns,
                    int64_t count, int code, const char *text);

/* ---- shared between pool.c and pool_maintain.c ---- */

void nr__pool_lock(nr_pool *p);
void nr__pool_unlock(nr_pool *p);
/* Asserts (in debug builds) that the calling thread holds p->mu. Every
 * function named *_locked starts with it. */
#ifndef NDEBUG
unsigned long nr__thread_tag(void);
#define NR__ASSERT_LOCKED(p)                                                                       \
    assert(atomic_load_explicit(&(p)->mu_owner, memory_order_relaxed) == nr__thread_tag())
/* After a condition wait on mu returns, the caller owns mu again. */
#define nr__pool_note_owner(p)                                                                     \
    atomic_store_explicit(&(p)->mu_owner, nr__thread_tag(), memory_order_relaxed)
#else
#define NR__ASSERT_LOCKED(p)   ((void)(p))
#define nr__pool_note_owner(p) ((void)(p))
#endif
void nr__pool_assert_locked_invariants(const nr_pool *p);

/* Move inst (state checked by the caller) to a new lifecycle state; aborts on
 * an illegal transition, which would be a library bug. The two moves of every
 * lease (Idle <-> InUse, both in the table) skip the table look-up. */
void nr__inst_transition_checked(struct nr__instance *inst, nr_lifecycle to);
static inline void nr__inst_transition(struct nr__instance *inst, nr_lifecycle to)
{
    if ((inst->state == NR_LC_IDLE && to == NR_LC_IN_USE) ||
        (inst->state == NR_LC_IN_USE && to == NR_LC_IDLE))
        inst->state = to;
    else
        nr__inst_transition_checked(inst, to);
}

/* [mu] Idle list operations. */
void nr__idle_push_head(nr_pool *p, struct nr__instance *inst);
void nr__idle_remove(nr_pool *p, struct nr__instance *inst);

/* ---- degraded idle instances (pool_degraded.c) ---- */

/* [mu] Degraded list operations (deg_idle counts it). */
void nr__deg_push_head(nr_pool *p, struct nr__instance *inst);
void nr__deg_remove(nr_pool *p, struct nr__instance *inst);
/* [mu] The instance an acquire under mu takes (out of its list, still
 * Idle): the head of the idle list, else the head of the degraded list;
 * NULL when both are empty. */
struct nr__instance *nr__idle_take_locked(nr_pool *p);
/* [mu] Take the instance a shrink retires first out of its list into
 * Cleanup, counted in destroying (not in total): a quarantined one (not
 * being probed), else the longest idle degraded one, else the longest idle
 * one; NULL when none is left. */
struct nr__instance *nr__retire_one_locked(nr_pool *p);
/* Maintenance: while degraded instances are idle and a healthy replacement
 * can be made (replace_degraded, below max_size and max_connecting, no
 * create failing, not shrinking), create one on the calling thread and,
 * once it succeeded, destroy a degraded idle instance. Returns how many
 * were replaced; a failed create is counted in *failed, and the first one's
 * code goes to *first_rc (when still NR_OK) with its error in err (may be
 * NULL). */
uint32_t nr__replace_degraded(nr_pool *p, uint32_t *failed, int *first_rc, nr_error *err);

/* ---- instance quarantine (pool_quarantine.c) ---- */

/* The pool's clock (the options' clock, or nr_now_ns). Call without mu. */
int64_t nr__pool_clock(const nr_pool *p);
/* [mu] Quarantine list operations (they leave `quarantined` alone). */
void nr__q_push_tail(nr_pool *p, struct nr__instance *inst);
void nr__q_remove(nr_pool *p, struct nr__instance *inst);
/* The delay before probe `attempt` (1-based), in ms: instance_quarantine_base_ms
 * x factor^(attempt-1), capped at instance_quarantine_max_ms, +- jitter, at
 * least 1. */
int64_t nr__q_delay_ms(const nr_pool *p, uint32_t attempt);
/* A uniform double in [0, 1) (per-thread generator, pool_create.c). */
double nr__rand_unit(void);
/* [mu] Quarantine inst (out for a check, counted in maint, its failures in
 * a row at the threshold) at time now: probe 1 due after the first delay.
 * Writes the Quarantined event's text to text. */
void nr__q_enter_locked(nr_pool *p, struct nr__instance *inst, int64_t now, const char *reason,
                        char *text, size_t text_len);
/* Probe the quarantined instances that are due (earliest first; none this
 * round already saw), with no lock held, and act on each verdict; counted
 * in rep. */
void nr__q_probe_round(nr_pool *p, uint64_t round, int64_t check_timeout_ns,
                       nr_pool_health_report *rep);

/* ---- health checks (pool_health.c) ---- */

/* Run one check of inst (held by the caller, no lock held): the type's
 * health_check, or validate, with a deadline of timeout_ns. A check that
 * failed or took longer than timeout_ns is reported unhealthy with why. */
void nr__health_run(nr_pool *p, struct nr__instance *inst, int64_t timeout_ns,
                    nr_health_report *hr);
/* nr__health_run between the health check hooks: 1 when the check ran, 0
 * when a hook's before refused it (then hr says Unknown, with no reason). */
int nr__health_check_one(nr_pool *p, struct nr__instance *inst, int64_t timeout_ns,
                         nr_health_report *hr);

/* [mu] Give inst (now Idle or Ready or Maintenance) to the oldest waiter, or
 * put it on the idle list. Accounting for its previous bucket must already be
 * done by the caller. Destroys nothing. If the pool is closed, returns 0 and
 * leaves the instance to the caller to discard; otherwise 1. */
int nr__place_locked(nr_pool *p, struct nr__instance *inst);

/* [mu, released here] Make inst (back from a check or a probe, the pool
 * known open under this hold of mu) Idle, place it (nr__place_locked), and
 * unlock. */
void nr__place_checked_unlock(nr_pool *p, struct nr__instance *inst);

/* [mu] Flush the bag and hand idle instances to waiters while both exist
 * (after a caller joined the queue). */
void nr__settle_locked(nr_pool *p);

/* [mu] Wake nr_pool_wait_returned when no lease is out and nothing is being
 * created. */
void nr__signal_returned_locked(nr_pool *p);

/* [mu] Join w at the tail of the FIFO queue (and settle: idle instances go
 * to the oldest waiters); remove it from anywhere (harmless when a giver
 * already popped it). pool_waitq.c */
void nr__waiter_append_locked(nr_pool *p, nr__waiter *w);
void nr__waiter_unlink_locked(nr_pool *p, nr__waiter *w);

/* A blocking waiter, zeroed, with its condition variable on
 * CLOCK_MONOTONIC (any thread, no lock); the cancel token's wake-up for it
 * (ud: the waiter; takes mu). pool_waitq.c */
void nr__waiter_init(nr__waiter *w, nr_pool *p);
void nr__waiter_cancel_wake(void *ud);

/* [mu] The error of a caller that ran out of time: while creates fail, the
 * last create's error is the cause. Returns NR_ETIMEDOUT. */
int nr__timeout_error_locked(nr_pool *p, nr_error *err);

/* ---- async acquire (pool_async.c) ---- */

struct nr_async_op;
/* [mu] inst (counted in in_use, leased) was handed to the async waiter op
 * (nr__place_locked): deliver it, or have the worker vet it first. */
void nr__async_handed_locked(nr_pool *p, struct nr_async_op *op, struct nr__instance *inst);
/* [mu] The pool refuses leases: every async waiter leaves the queue and
 * gets NR_ESHUTDOWN (through the worker). */
void nr__async_fail_waiting_locked(nr_pool *p);
/* [mu] A create failed: the worker plans again for async waiters when the
 * backoff ends. No-op without a worker. */
void nr__async_poke_locked(nr_pool *p);
/* nr_pool_destroy (no lock held): wait until the worker holds nothing (its
 * deliveries and deferred give-backs done); then, once the pool is known
 * idle, stop and free it. */
void nr__async_flush(nr_pool *p);
void nr__async_stop(nr_pool *p);

/* ---- the creator (pool_create.c) ---- */

/* [mu] Reserve slots for the creates the pool needs now (for the callers
 * waiting, plus `extra` for a caller that will not wait), within
 * max_connecting, max_size, the backoff and the breaker; returns how many
 * the caller must start with nr__creator_start once mu is released. */
uint32_t nr__creator_plan_locked(nr_pool *p, uint32_t extra);
/* Start n reserved creates (without mu): on the executor, or on the pool's
 * own creator threads when there is none or it refuses. */
void nr__creator_start(nr_pool *p, uint32_t n);
/* nr_pool_destroy: stop and join the pool's own creator threads. */
void nr__creator_join(nr_pool *p);
/* [mu] A create slot was given back (failure, or a reservation undone). */
void nr__slot_released_locked(nr_pool *p);

/* A zeroed record on a cache line of its own (NULL when out of memory). */
struct nr__instance *nr__record_alloc(void);
/* [mu] Get a record for a new instance (may return NULL: allocate outside). */
struct nr__instance *nr__record_take_locked(nr_pool *p);
/* [mu] Return a record whose instance is gone. */
void nr__record_put_locked(nr_pool *p, struct nr__instance *inst);

/* Create one instance into a reserved slot (total and creating already
 * counted) without holding mu; on success the instance is Ready and owned
 * by the caller (creating is decremented by the caller's bookkeeping via
 * nr__create_finish_locked). Returns NR_OK with *out set, or an error with
 * the slot released. */
int nr__create_reserved(nr_pool *p, struct nr__instance *rec, nr_deadline deadline,
                        const nr_cancel *cancel, int async, struct nr__instance **out,
                        nr_error *err);
/* [mu] Place a new instance (Ready, counted in creating) that a create
 * gave: creating--, then to the oldest waiter or idle. Returns 0 when the
 * pool closed meanwhile (the instance is then counted in in_use, for
 * nr__discard). */
int nr__place_created_locked(nr_pool *p, struct nr__instance *inst, int async);

/* Destroy a list (linked through next) of instances already taken out of
 * every bucket and counted in `destroying`; then fix the counters. */
void nr__destroy_list(nr_pool *p, struct nr__instance *list, uint32_t n);

/* Take a leased, checked or quarantined instance (counted in *from_bucket,
 * which is &p->in_use, &p->bagged, &p->maint or &p->quarantined; a
 * quarantined one already off its list) out of service and destroy it,
 * outside mu. */
void nr__discard(nr_pool *p, struct nr__instance *inst, uint32_t *from_bucket,
                 nr__discard_reason why);

/* ---- acquire (pool_acquire.c; the entry points are in pool_express.c) ---- */

/* The whole acquire: nr_pool_acquire_at's contract, every case. bag_tried:
 * the caller has just found nothing Free in the bag (its first look then
 * goes to the lock). */
int nr__acquire_full(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err, const char *file,
                     int line, const char *func, int bag_tried);
/* The rest of an acquire that claimed inst from the bag (nr__bag_claim) and
 * could not lease it as it is: handed back when the pool refuses, vetted
 * (and destroyed when it fails, then the whole acquire) or leased. */
int nr__acquire_claimed(nr_pool *p, struct nr__instance *inst, const nr_ctx *ctx, nr_guard *out,
                        nr_error *err, const char *file, int line, const char *func);
/* A bag instance claimed by an acquire that then found the pool refusing:
 * back to the idle list, or destroyed when the pool is closed. */
void nr__bag_unclaim(nr_pool *p, struct nr__instance *inst);

/* ---- the bag (pool_bag.c) ---- */

/* The ownership word (inst->bag): bits 0-1 the state, bits 2-62 the number
 * of the record's latest lease (1, 2, ...; never reused while the pool
 * lives), bit 63 set while a deferred give-back (pool_async.c) holds it.
 *
 *     NONE  not in the bag's Free state and not leased (an idle list, a
 *           check, a create), or a bag instance its holder is taking out
 *     FREE  in the bag, claimable by a CAS
 *     USED  in the bag, leased (claimed by a CAS that also numbered it)
 *     HELD  leased from under mu (an idle list, a hand-over), not in the bag
 *
 * The guard carries the word its lease began with. A give-back CASes that
 * exact word to its next state, so a stale or second give-back fails, and
 * a bag lease becomes Free with the same instruction that ends it. */
enum { NR__BAG_NONE = 0, NR__BAG_FREE = 1, NR__BAG_USED = 2, NR__BAG_HELD = 3 };
#define NR__OWN_DEFERRED (1ULL << 63)
static inline int nr__own_state(uint64_t w)
{
    return (int)(w & 3);
}
/* w's lease number with state st (the deferred mark dropped). */
static inline uint64_t nr__own_with(uint64_t w, int st)
{
    return (w & ~(NR__OWN_DEFERRED | 3ULL)) | (uint64_t)st;
}
/* The next lease number after w's, with state st. */
static inline uint64_t nr__own_next(uint64_t w, int st)
{
    return ((w & ~(NR__OWN_DEFERRED | 3ULL)) + 4) | (uint64_t)st;
}
static inline int nr__bag_state(const struct nr__instance *inst)
{
    return nr__own_state(atomic_load_explicit(&inst->bag, memory_order_relaxed));
}

/* Allocate / free the bag of a pool with p->cfg.max_size slots. */
int nr__bag_init(nr_pool *p);
void nr__bag_fini(nr_pool *p);
/* [mu] Recompute the gate from waiters and refusing. */
void nr__gate_update_locked(nr_pool *p);
/* A bag instance whose lease already ended (nr__lease_end: the state is
 * None) goes back as it is, without mu: 1 = Free again (or already taken
 * from there by a flush or an acquirer), 0 = the gate is closed and the
 * caller keeps it for the slow path (still counted in bagged; the caller
 * then calls nr__bag_remove_locked). The claim and the give-back of a bag
 * lease are in pool_bag.h. */
int nr__bag_put(nr_pool *p, struct nr__instance *inst);
/* [mu] Put an instance the caller holds (counted nowhere) in the bag as Free. */
void nr__bag_add_locked(nr_pool *p, struct nr__instance *inst);
/* [mu] Take an instance out of the bag (its state is already None or Used by
 * the caller); bagged--. */
void nr__bag_remove_locked(nr_pool *p, struct nr__instance *inst);
/* [mu] Move every Free bag instance to the idle list (oldest use at the
 * tail), so idle-list walks see them. */
void nr__bag_flush_locked(nr_pool *p);
/* [mu] How many bag instances are leased right now. */
uint32_t nr__bag_used_locked(const nr_pool *p);

/* [mu] Take every idle, degraded idle and quarantined instance (not one being
 * probed; only those of an old generation when only_stale) out into a list
 * for destruction; counted in destroying. */
struct nr__instance *nr__take_idle_locked(nr_pool *p, int only_stale, uint32_t *n);

/* [mu held on entry, released on return] Start a new generation (gen +=
 * step: 1 for a credential, NR__GEN_EVICT_ONE for evict-all): idle
 * instances of an older one are destroyed now and counted in *retired,
 * leased ones go when given back, and the creates waiters need are started.
 * Returns how many idle instances went. */
uint32_t nr__new_generation_unlock(nr_pool *p, uint64_t step, uint64_t *retired);

/* End the lease g holds (the one CAS that a second release loses: NULL
 * then, and nothing is touched), close its leak report if one is open and
 * count the give-back. *in_bag tells whether it was a bag lease. The caller
 * then returns, discards or detaches the instance. */
struct nr__instance *nr__lease_end(nr_guard *g, int *in_bag);

/* The holder gives back a lease whose leak report is open: close it. */
void nr__leak_close(nr_pool *p, struct nr__instance *inst);
/* [mu held on entry, released on return] Report leases held past
 * leak_threshold_ms (pool_control.c); returns how many were new. */
uint32_t nr__leak_scan_unlock(nr_pool *p);

/* Whether inst is past its (jittered) lifetime at coarse time now. */
static inline int nr__expired(const nr_pool *p, const struct nr__instance *inst, int64_t now)
{
    (void)p;
    return now >= inst->expires_ns;
}

#endif
