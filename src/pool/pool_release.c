/*
 * pool_release.c - giving leases back, closing and draining a pool, statistics.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_budget.h"
#include "base/abi.h"
#include "pool/pool_bag.h"
#include "pool/pool_internal.h"
#include "pool/pool_credential.h"
#include "observe/span.h"

#include "nebula/alloc.h"
#include "observe/probes.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <time.h>

struct nr__instance *nr__lease_end(nr_guard *g, int *in_bag)
{
    struct nr__instance *inst = g->inst;
    uint64_t expect = g->lease;
    /* Exactly one give-back of a lease wins the CAS. A bag instance stays in
     * its slot, None: no acquirer or flush takes it, and its holder (the
     * caller) takes it out under mu. */
    if (expect == 0 || !atomic_compare_exchange_strong_explicit(
                           &inst->bag, &expect, nr__own_with(expect, NR__BAG_NONE),
                           memory_order_acq_rel, memory_order_relaxed))
        return NULL;
    *in_bag = nr__own_state(expect) == NR__BAG_USED;
    atomic_store_explicit(&inst->lease, 0, memory_order_relaxed);
    g->inst = NULL;
    g->lease = 0;
    nr_pool *p = inst->pool;
    if (NR__CFG(p, leak_threshold_ms) > 0 &&
        atomic_load_explicit(&inst->leak_reported, memory_order_relaxed))
        nr__leak_close(p, inst);
    atomic_store_explicit(&inst->n_releases,
                          atomic_load_explicit(&inst->n_releases, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    return inst;
}

/* After a resize shrank the pool: whether inst, given back, must go because
 * the pool still holds more than max_size (the flag is cleared once it does
 * not). A quarantined instance, or a degraded idle one when inst is not
 * degraded, goes in its place: then *victim is set (the caller destroys
 * it) and 0 comes back. */
static int over_max(nr_pool *p, const struct nr__instance *inst, struct nr__instance **victim)
{
    *victim = NULL;
    nr__pool_lock(p);
    int over = p->total > (uint64_t)p->cfg.max_size || nr__budget_shed_locked(p);
    if (over && (p->q_head || (p->deg_head && !inst->degraded))) {
        *victim = nr__retire_one_locked(p);
        over = 0;
    }
    if (p->total <= (uint64_t)p->cfg.max_size && !nr__budget_shedding_locked(p))
        atomic_store_explicit(&p->shrinking, 0, memory_order_relaxed);
    nr__pool_unlock(p);
    return over;
}

/* [mu not held] Put back inst, idle now, in the bag or to a waiter. */
__attribute__((noinline)) static void put_back(nr_pool *p, struct nr__instance *inst, int in_bag)
{
    nr__pool_lock(p);
    if (in_bag)
        nr__bag_remove_locked(p, inst);
    else
        nr__lease_off_locked(p, inst);
    if (!inst->degraded && !atomic_load_explicit(&p->gate, memory_order_relaxed) &&
        p->bag_nfree > 0) {
        /* Nobody waits: into the bag, where the next acquire needs no lock
         * (a degraded one goes to its list instead, see pool_degraded.c). */
        nr__bag_add_locked(p, inst);
        nr__bag_hint(p, inst);
    } else if (!nr__place_locked(p, inst)) {
        /* Closed between the check above and now. */
        nr__lease_on_locked(p, inst);
        nr__pool_unlock(p);
        nr__discard(p, inst, &p->in_use, NR__DISCARD_CLOSED);
        return;
    }
    nr__signal_returned_locked(p);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
}

/* Put back (or discard) inst, whose lease has just ended. Once it is back,
 * the pool may be destroyed: nothing here touches p after that. */
__attribute__((always_inline)) static inline void
return_instance(nr_pool *p, struct nr__instance *inst, int in_bag, int taint)
{
    NR_PROBE_RELEASE(p->id, inst->id);
    if (p->events)
        nr__pool_event(p, NR_EV_RELEASED, inst->id, 0, 0, NR_OK, taint ? "tainted" : NULL);
    uint32_t *bucket = in_bag ? &p->bagged : &p->in_use;

    nr__discard_reason why = NR__DISCARD_TAINT;
    struct nr__instance *victim = NULL; /* retired in its place by a shrink */
    int drop = 0, stale;
    int64_t now = nr__tick_ns();
    if (taint) {
        atomic_fetch_add_explicit(&p->taints, 1, memory_order_relaxed);
        drop = 1;
    } else if (atomic_load_explicit(&p->closed, memory_order_acquire)) {
        why = NR__DISCARD_CLOSED;
        drop = 1;
    } else if (nr__expired(p, inst, now)) {
        why = NR__DISCARD_LIFETIME;
        drop = 1;
    } else if ((stale = nr__stale(p, inst)) != 0) {
        why = (nr__discard_reason)stale;
        drop = 1;
    } else if (atomic_load_explicit(&p->shrinking, memory_order_relaxed) &&
               over_max(p, inst, &victim)) {
        why = NR__DISCARD_RESIZE;
        drop = 1;
    } else if (p->can_recycle && NR__CFG(p, recycle_on_release)) {
        nr_error e;
        nr_error_clear(&e);
        if (p->type->recycle(inst->handle, p->type_ud, &e) != NR_OK) {
            atomic_fetch_add_explicit(&p->recycle_failures, 1, memory_order_relaxed);
            why = NR__DISCARD_RECYCLE;
            drop = 1;
        }
    }
    if (victim) {
        nr__pool_event(p, NR_EV_CLEANED_UP, victim->id, 0, 1, NR_OK, "resize");
        nr__destroy_list(p, victim, 1);
    }
    if (drop) {
        nr__discard(p, inst, bucket, why);
        return;
    }

    inst->last_used_ns = now;
    nr__inst_transition(inst, NR_LC_IDLE);
    if (in_bag && nr__bag_put(p, inst))
        return; /* Free again, no lock taken */
    put_back(p, inst, in_bag);
}

/* The put-back of a fast give-back that found the gate closed after its
 * CAS: a waiter came meanwhile, hand it over. */
__attribute__((noinline)) static int handed_over(nr_pool *p, struct nr__instance *inst)
{
    put_back(p, inst, 1);
    return NR_OK;
}

static int give_back_slow(nr_guard *g, int taint);
static int give_back_evented(nr_guard *g, nr_pool *p, struct nr__instance *inst, uint64_t w);

/* The give-back of a bag lease that needs nothing but to be Free again: no
 * hook, taint, recycle or open leak report, the pool open and not shrinking,
 * the instance neither expired nor stale, nobody waiting, the tick clock
 * running. Everything it reads before its CAS wins is constant for the
 * record or atomic, and the CAS that ends the lease also frees the instance
 * (nr__bag_give_back). Every other give-back leaves by a tail call, so this
 * one saves no register and sets up no frame. events: the copy for a pool
 * with an event bus (out of line), which publishes the released event
 * first. */
__attribute__((always_inline)) static inline int
give_back_fast(nr_guard *g, nr_pool *p, struct nr__instance *inst, uint64_t w, int events)
{
    if ((w & NR__OWN_DEFERRED) || nr__own_state(w) != NR__BAG_USED ||
        (p->can_recycle && NR__CFG(p, recycle_on_release)) ||
        (NR__CFG(p, leak_threshold_ms) > 0 &&
         atomic_load_explicit(&inst->leak_reported, memory_order_relaxed)) ||
        atomic_load_explicit(&p->closed, memory_order_acquire) ||
        atomic_load_explicit(&p->shrinking, memory_order_relaxed) ||
        atomic_load_explicit(&p->gate, memory_order_relaxed) || nr__stale(p, inst) ||
        inst->state != NR_LC_IN_USE)
        return give_back_slow(g, 0);
    if (!events && __builtin_expect(p->events != NULL, 0))
        return give_back_evented(g, p, inst, w);
    int64_t now = nr__tick_cell_ns();
    if (!now || nr__expired(p, inst, now))
        return give_back_slow(g, 0);
    NR_PROBE_RELEASE(p->id, inst->id);
    if (events)
        nr__pool_event(p, NR_EV_RELEASED, inst->id, 0, 0, NR_OK, NULL);
    /* The holder's last writes, published by the CAS. (Two threads giving
     * back copies of one guard at the same instant is a caller's bug: one
     * CAS wins, so the instance is never handed out twice, but these
     * counters may then count one give-back too many.) */
    atomic_store_explicit(&inst->lease, 0, memory_order_relaxed);
    atomic_store_explicit(&inst->n_releases,
                          atomic_load_explicit(&inst->n_releases, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    inst->last_used_ns = now;
    inst->state = NR_LC_IDLE;
    /* The guard is emptied before the CAS: once the instance is Free, its
     * next holder may keep its own guard in the same place (beside the
     * instance, say). */
    nr__guard_store(g, NULL, 0);
    int r = nr__bag_give_back(p, inst, w);
    if (r < 0) {
        nr__guard_store(g, inst, w); /* not its lease: the guard as it was */
        return NR_ESTATE;
    }
    if (r == 0)
        return handed_over(p, inst);
    return NR_OK;
}

__attribute__((noinline)) static int give_back_evented(nr_guard *g, nr_pool *p,
                                                       struct nr__instance *inst, uint64_t w)
{
    return give_back_fast(g, p, inst, w, 1);
}

/* A give-back with hooks (which cannot refuse it). hook_busy keeps the pool
 * alive for the afters once the instance is back. */
__attribute__((noinline)) static void return_hooked(nr_pool *p, struct nr__instance *inst,
                                                    int in_bag, int taint)
{
    nr__hook_run run = {0};
    nr_hook_call call;
    nr__pool_hooks_before(p, NR_HOOK_RELEASE, inst->id, &run, &call, NULL);
    atomic_fetch_add_explicit(&p->hook_busy, 1, memory_order_relaxed);
    return_instance(p, inst, in_bag, taint);
    nr__pool_hooks_after(p, &run, &call, NR_OK, NULL);
    /* release: the afters' reads of the pool happen before destroy frees it */
    atomic_fetch_sub_explicit(&p->hook_busy, 1, memory_order_release);
}

/* Every give-back but the fast one: end the lease, then put the instance
 * back or discard it. Out of line, so the fast path keeps a small frame. */
__attribute__((noinline)) static int give_back_slow(nr_guard *g, int taint)
{
    int in_bag;
    struct nr__instance *inst = nr__lease_end(g, &in_bag);
    if (!inst)
        return NR_ESTATE;
    nr_pool *p = inst->pool;
    if (NR__POOL_HOOKS(p, NR_HOOK_RELEASE))
        return_hooked(p, inst, in_bag, taint);
    else
        return_instance(p, inst, in_bag, taint);
    return NR_OK;
}

__attribute__((always_inline)) static inline int give_back(nr_guard *g, int taint)
{
    if (!g || !g->inst)
        return NR_OK;
    struct nr__instance *inst = g->inst;
    uint64_t w = g->lease;
    if (!w || atomic_load_explicit(&inst->bag, memory_order_relaxed) != w)
        return NR_ESTATE; /* already given back: touch nothing */
    nr_pool *p = inst->pool;
    if (taint || NR__POOL_HOOKS(p, NR_HOOK_RELEASE))
        return give_back_slow(g, taint);
    return give_back_fast(g, p, inst, w, 0);
}

/* give_back inside a span of op. Out of line: only a traced give-back pays
 * for the copies. The pool's id and scope are copied first, since the pool
 * may be destroyed as soon as its last lease is back. */
__attribute__((noinline)) static int give_back_traced(nr_guard *g, int taint, const char *op)
{
    char id[NR_ERROR_ID_MAX] = "";
    nr_scope scope;
    nr_scope_global(&scope);
    bool known = g && g->inst;
    if (known) {
        memcpy(id, g->inst->pool->id, sizeof(id));
        scope = g->inst->pool->scope;
    }
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, op, known ? id : NULL, known ? &scope : NULL, NULL);
    int rc = give_back(g, taint);
    nr__span_end(&span, rc, NULL);
    return rc;
}

/* The give-backs' span costs what nr_pool_acquire's does when nothing is
 * traced: one relaxed load and a branch (nr__trace_enabled). */
int nr_guard_release(nr_guard *g)
{
    if (!nr__trace_enabled(NR_TRACE_LEVEL_DEBUG))
        return give_back(g, 0);
    return give_back_traced(g, 0, "release");
}

int nr_guard_taint(nr_guard *g)
{
    if (!nr__trace_enabled(NR_TRACE_LEVEL_DEBUG))
        return give_back(g, 1);
    return give_back_traced(g, 1, "taint");
}

void *nr_guard_handle(const nr_guard *g)
{
    return g && g->inst ? g->inst->handle : NULL;
}

int nr_guard_info(const nr_guard *g, nr_instance_info *out)
{
    if (!g || !g->inst || !out)
        return NR_EINVAL;
    const struct nr__instance *inst = g->inst;
    if (atomic_load_explicit(&inst->lease, memory_order_acquire) != g->lease)
        return NR_EINVAL;
    out->id = inst->id;
    out->state = inst->state;
    out->created_ns = inst->created_ns;
    out->last_used_ns = inst->last_used_ns;
    out->use_count = inst->use_count;
    return NR_OK;
}

/* ---- close and drain ---------------------------------------------------------------------- */

void nr_pool_quiesce(nr_pool *p)
{
    if (!p)
        return;
    nr__pool_lock(p);
    atomic_store_explicit(&p->refusing, true, memory_order_release);
    nr__gate_update_locked(p);
    for (nr__waiter *w = p->wait_head; w; w = w->next)
        if (!w->op)
            pthread_cond_signal(&w->cv);
    nr__async_fail_waiting_locked(p); /* each async waiter: NR_ESHUTDOWN */
    nr__pool_unlock(p);
}

enum { FROM_IDLE, FROM_DEGRADED, FROM_QUARANTINE };

/* [mu] nr__take_idle_locked for one list. */
static void take_list_locked(nr_pool *p, int from, int only_stale, struct nr__instance **list,
                             uint32_t *n)
{
    struct nr__instance *head = from == FROM_IDLE       ? p->idle_head
                                : from == FROM_DEGRADED ? p->deg_head
                                                        : p->q_head;
    for (struct nr__instance *inst = head, *next; inst; inst = next) {
        next = inst->next;
        if (only_stale && !nr__stale(p, inst))
            continue;
        if (from == FROM_IDLE) {
            nr__idle_remove(p, inst);
        } else if (from == FROM_DEGRADED) {
            nr__deg_remove(p, inst);
        } else {
            nr__q_remove(p, inst);
            p->quarantined--;
        }
        if (!only_stale)
            nr__inst_transition(inst, NR_LC_DRAINING);
        nr__inst_transition(inst, NR_LC_CLEANUP);
        inst->next = *list;
        *list = inst;
        (*n)++;
    }
}

struct nr__instance *nr__take_idle_locked(nr_pool *p, int only_stale, uint32_t *n)
{
    NR__ASSERT_LOCKED(p);
    struct nr__instance *list = NULL;
    *n = 0;
    take_list_locked(p, FROM_IDLE, only_stale, &list, n);
    take_list_locked(p, FROM_DEGRADED, only_stale, &list, n);
    take_list_locked(p, FROM_QUARANTINE, only_stale, &list, n);
    p->total -= *n;
    p->destroying += *n;
    return list;
}

void nr_pool_close_on(nr_pool *p, const nr_executor *ex)
{
    if (!p)
        return;
    nr__pool_lock(p);
    atomic_store_explicit(&p->refusing, true, memory_order_release);
    atomic_store_explicit(&p->closed, true, memory_order_release);
    nr__gate_update_locked(p);
    for (nr__waiter *w = p->wait_head; w; w = w->next)
        if (!w->op)
            pthread_cond_signal(&w->cv);
    nr__async_fail_waiting_locked(p); /* each async waiter: NR_ESHUTDOWN */
    nr__bag_flush_locked(p);
    uint32_t n;
    struct nr__instance *list = nr__take_idle_locked(p, 0, &n);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    nr_cancel_trigger(p->close_cancel); /* creates in flight give up early */
    if (n)
        nr__destroy_list_on(p, list, n, ex);
}

void nr_pool_close(nr_pool *p)
{
    nr_pool_close_on(p, NULL);
}

int nr_pool_set_credential(nr_pool *p, const nr_secret *credential, nr_error *err)
{
    return nr__pool_replace_credential(p, credential, true, err);
}

int nr__pool_replace_credential(nr_pool *p, const nr_secret *credential, bool retire, nr_error *err)
{
    if (!p)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_set_credential: pool must not be NULL");
    struct nr__cred *c = NULL;
    if (credential) {
        c = nr_calloc(1, sizeof(*c));
        if (!c || nr_secret_dup(&c->secret, credential, NULL) != NR_OK) {
            nr_free(c);
            return nr_error_set(err, NR_ENOMEM, p->id,
                                "pool '%s': out of memory for the new credential", p->id);
        }
        atomic_init(&c->refs, 1);
    }
    nr__pool_lock(p);
    struct nr__cred *old = p->cred;
    p->cred = c;
    if (retire)
        nr__new_generation_unlock(p, 1, &p->credential_retired);
    else
        nr__pool_unlock(p);
    nr__cred_release(old);
    return NR_OK;
}

uint32_t nr__new_generation_unlock(nr_pool *p, uint64_t step, uint64_t *retired)
{
    NR__ASSERT_LOCKED(p);
    atomic_fetch_add_explicit(&p->gen, step, memory_order_relaxed);
    nr__bag_flush_locked(p);
    uint32_t n;
    struct nr__instance *list = nr__take_idle_locked(p, 1, &n);
    *retired += n;
    uint32_t more = nr__creator_plan_locked(p, 0);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    if (n)
        nr__destroy_list(p, list, n);
    if (more)
        nr__creator_start(p, more);
    return n;
}

/* [mu] Age of the longest-held current lease. */
static int64_t oldest_lease_locked(const nr_pool *p)
{
    if (p->in_use == 0 && p->bagged == 0)
        return 0;
    int64_t now = nr_now_coarse_ns(), oldest = 0;
    for (const struct nr__instance *r = p->all_records; r; r = r->all_next) {
        int64_t since;
        if (r->leased)
            since = r->acquired_ns;
        else if (nr__bag_state(r) == NR__BAG_USED)
            since = atomic_load_explicit(&r->lease_start_ns, memory_order_relaxed);
        else
            continue;
        if (now - since > oldest)
            oldest = now - since;
    }
    return oldest;
}

static int wait_returned_impl(nr_pool *p, nr_deadline deadline, nr_error *err);

int nr_pool_wait_returned(nr_pool *p, nr_deadline deadline, nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "wait_returned", p ? p->id : NULL,
                   p ? &p->scope : NULL, NULL);
    int rc = wait_returned_impl(p, deadline, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

static int wait_returned_impl(nr_pool *p, nr_deadline deadline, nr_error *err)
{
    if (!p)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_wait_returned: pool must not be NULL");
    struct timespec ts;
    int never = !nr_deadline_is_set(deadline) || deadline.at_ns == NR_DEADLINE_NEVER;
    ts.tv_sec = (time_t)(deadline.at_ns / NR_NS_PER_S);
    ts.tv_nsec = (long)(deadline.at_ns % NR_NS_PER_S);
    nr__pool_lock(p);
    /* Close the gate while watching, so every give-back goes through the
     * lock and wakes this wait. */
    p->watchers++;
    nr__gate_update_locked(p);
    while (p->in_use || p->creating || (p->bagged && nr__bag_used_locked(p))) {
        if (!never && nr_now_ns() >= deadline.at_ns) {
            uint32_t in_use = p->in_use + nr__bag_used_locked(p), creating = p->creating;
            int64_t oldest = oldest_lease_locked(p);
            p->watchers--;
            nr__gate_update_locked(p);
            nr__pool_unlock(p);
            return nr_error_set(err, NR_ETIMEDOUT, p->id,
                                "pool '%s': %u lease(s) still out (the oldest held for %lld ms) "
                                "and %u instance(s) being created",
                                p->id, in_use, (long long)(oldest / NR_NS_PER_MS), creating);
        }
        if (never)
            pthread_cond_wait(&p->drained, &p->mu);
        else
            pthread_cond_timedwait(&p->drained, &p->mu, &ts);
        nr__pool_note_owner(p);
    }
    p->watchers--;
    nr__gate_update_locked(p);
    nr__pool_unlock(p);
    return NR_OK;
}

static int drain_impl(nr_pool *p, nr_deadline deadline, nr_error *err);

int nr_pool_drain(nr_pool *p, nr_deadline deadline, nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "drain", p ? p->id : NULL, p ? &p->scope : NULL,
                   NULL);
    int rc = drain_impl(p, deadline, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

static int drain_impl(nr_pool *p, nr_deadline deadline, nr_error *err)
{
    if (!p)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_drain: pool must not be NULL");
    nr_pool_close(p);
    struct timespec ts;
    int never = !nr_deadline_is_set(deadline) || deadline.at_ns == NR_DEADLINE_NEVER;
    ts.tv_sec = (time_t)(deadline.at_ns / NR_NS_PER_S);
    ts.tv_nsec = (long)(deadline.at_ns % NR_NS_PER_S);
    nr__pool_lock(p);
    while (p->total || p->destroying) {
        if (!never && nr_now_ns() >= deadline.at_ns) {
            uint32_t in_use = p->in_use, creating = p->creating;
            nr__pool_unlock(p);
            return nr_error_set(err, NR_ETIMEDOUT, p->id,
                                "pool '%s': drain timed out with %u instance(s) still in use "
                                "and %u being created",
                                p->id, in_use, creating);
        }
        if (never)
            pthread_cond_wait(&p->drained, &p->mu);
        else
            pthread_cond_timedwait(&p->drained, &p->mu, &ts);
        nr__pool_note_owner(p);
    }
    nr__pool_unlock(p);
    return NR_OK;
}

/* ---- statistics ---------------------------------------------------------------------------- */

static void stats_fill(nr_pool *p, nr_pool_stats *s);

int nr_pool_stats_get(nr_pool *p, nr_pool_stats *out)
{
    if (out->size == sizeof(*out)) {
        stats_fill(p, out);
        return NR_OK;
    }
    if (NR__ABI_OUT_CHECK(out, nr_pool_stats, NR_POOL_STATS_INIT, NULL) != NR_OK)
        return NR_EINVAL;
    nr_pool_stats full;
    stats_fill(p, &full);
    nr__abi_out(out, &full, sizeof(full));
    return NR_OK;
}

static void stats_fill(nr_pool *p, nr_pool_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
    nr__pool_lock(p);
    uint32_t bag_used = nr__bag_used_locked(p);
    s->total = p->total;
    s->idle = p->idle + p->deg_idle + (p->bagged - bag_used);
    s->degraded_idle = p->deg_idle;
    s->quarantined = p->quarantined;
    s->degraded_replaced = p->degraded_replaced;
    s->quarantines = p->quarantines;
    s->quarantine_releases = p->quarantine_releases;
    s->quarantine_discards = p->quarantine_discards;
    s->in_use = p->in_use + bag_used;
    s->creating = p->creating;
    s->waiters = p->waiters;
    s->destroying = p->destroying;
    s->max_size = (uint32_t)p->cfg.max_size;
    s->min_idle = (uint32_t)p->cfg.min_idle;
    s->closed = atomic_load_explicit(&p->closed, memory_order_relaxed);
    s->creates = p->creates;
    s->create_failures = p->create_failures;
    s->destroys = p->destroys;
    s->handoffs = p->handoffs;
    s->waits = p->waits;
    s->timeouts = p->timeouts;
    s->cancels = p->cancels;
    s->exhausted = p->exhausted;
    s->evicted_idle = p->evicted_idle;
    s->evicted_lifetime = p->evicted_lifetime;
    s->health_discards = p->health_discards;
    s->wait_ns_total = p->wait_ns_total;
    s->wait_ns_max = p->wait_ns_max;
    s->oldest_lease_ns = oldest_lease_locked(p);
    s->credential_retired = p->credential_retired;
    s->max_connecting = (uint32_t)p->cfg.max_connecting;
    s->breaker_open = p->breaker_open;
    s->suspended = p->suspended;
    s->consecutive_failures = p->failures;
    s->breaker_opens = p->breaker_opens;
    s->detached = p->detached;
    s->evicted_generation = p->evicted_generation;
    s->evicted_resize = p->evicted_resize;
    s->leaks = p->leaks;
    s->leaks_open = (uint32_t)p->leaks_open;
    /* Counted per record (a record outlives its instances), so the hot path
     * writes no shared line. */
    for (const struct nr__instance *r = p->all_records; r; r = r->all_next) {
        s->acquires += atomic_load_explicit(&r->n_acquires, memory_order_relaxed);
        s->releases += atomic_load_explicit(&r->n_releases, memory_order_relaxed);
    }
    nr__pool_unlock(p);
    s->validate_failures = atomic_load_explicit(&p->validate_failures, memory_order_relaxed);
    s->recycle_failures = atomic_load_explicit(&p->recycle_failures, memory_order_relaxed);
    s->taints = atomic_load_explicit(&p->taints, memory_order_relaxed);
}
