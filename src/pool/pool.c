/*
 * pool.c - the pool's lists and accounting, destroying instances, and
 * creating and destroying a pool. Acquire is in pool_acquire.c, creates in
 * pool_create.c, give-backs, close and statistics in pool_release.c, the
 * operator controls in pool_control.c, maintenance in pool_maintain.c and
 * the lock-free fast path in pool_bag.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "nebula/id.h"
#include "pool/pool_budget.h"
#include "pool/pool_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/abi.h"
#include "base/cancel_internal.h"
#include "observe/probes.h"
#include "observe/span.h"
#include "nebula/alloc.h"

/* ---- small helpers ----------------------------------------------------------- */

#ifndef NDEBUG
unsigned long nr__thread_tag(void)
{
    static _Thread_local char tag;
    return (unsigned long)(uintptr_t)&tag;
}
#endif

void nr__pool_lock(nr_pool *p)
{
    int rc = pthread_mutex_lock(&p->mu);
    assert(rc == 0);
    (void)rc;
    nr__pool_note_owner(p);
}

void nr__pool_unlock(nr_pool *p)
{
#ifndef NDEBUG
    NR__ASSERT_LOCKED(p);
    atomic_store_explicit(&p->mu_owner, 0, memory_order_relaxed);
#endif
    int rc = pthread_mutex_unlock(&p->mu);
    assert(rc == 0);
    (void)rc;
}

void nr__pool_assert_locked_invariants(const nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    assert(p->magic == NR_POOL_MAGIC);
    assert(p->total == (uint64_t)p->idle + p->deg_idle + p->in_use + p->creating + p->maint +
                           p->bagged + p->quarantined);
    assert(p->creating_async <= p->creating);
    assert(p->total <= (uint64_t)p->cfg.max_size ||
           atomic_load_explicit(&p->shrinking, memory_order_relaxed));
    assert(p->waiters == 0 || (p->idle == 0 && p->deg_idle == 0) || p->suspended);
    assert((p->idle == 0) == (p->idle_head == NULL));
    assert((p->deg_idle == 0) == (p->deg_head == NULL));
    assert(p->q_head == NULL || p->quarantined > 0);
    (void)p;
}

void nr__inst_transition_checked(struct nr__instance *inst, nr_lifecycle to)
{
    if (nr_lifecycle_transition(&inst->state, to, NULL, NULL) != NR_OK) {
        fprintf(stderr, "nebula-resource: internal error: pool '%s': illegal %s -> %s\n",
                inst->pool->id, nr_lifecycle_name(inst->state), nr_lifecycle_name(to));
        abort();
    }
}

void nr__idle_push_head(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    inst->prev = NULL;
    inst->next = p->idle_head;
    if (p->idle_head)
        p->idle_head->prev = inst;
    else
        p->idle_tail = inst;
    p->idle_head = inst;
    p->idle++;
}

void nr__idle_remove(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    if (inst->prev)
        inst->prev->next = inst->next;
    else
        p->idle_head = inst->next;
    if (inst->next)
        inst->next->prev = inst->prev;
    else
        p->idle_tail = inst->prev;
    inst->prev = inst->next = NULL;
    p->idle--;
}

static nr__waiter *waiter_pop_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    nr__waiter *w = p->wait_head;
    if (w) {
        p->wait_head = w->next;
        if (p->wait_head)
            p->wait_head->prev = NULL;
        else
            p->wait_tail = NULL;
        w->next = NULL;
        w->queued = 0;
        p->waiters--;
        if (p->waiters == 0)
            nr__gate_update_locked(p);
    }
    return w;
}

void nr__place_checked_unlock(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    nr__inst_transition(inst, NR_LC_IDLE);
    int placed = nr__place_locked(p, inst); /* (open: the caller checked, under this lock) */
    assert(placed);
    (void)placed;
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
}

int nr__place_locked(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    if (atomic_load_explicit(&p->closed, memory_order_relaxed))
        return 0;
    nr__waiter *w = p->suspended ? NULL : waiter_pop_locked(p);
    if (w) {
        nr__inst_transition(inst, NR_LC_IN_USE);
        nr__lease_on_locked(p, inst);
        p->handoffs++;
        w->inst = inst;
        if (w->op)
            nr__async_handed_locked(p, w->op, inst);
        else
            pthread_cond_signal(&w->cv);
    } else {
        if (inst->state != NR_LC_IDLE)
            nr__inst_transition(inst, NR_LC_IDLE);
        if (inst->degraded)
            nr__deg_push_head(p, inst);
        else
            nr__idle_push_head(p, inst);
    }
    return 1;
}

void nr__settle_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    nr__bag_flush_locked(p);
    if (p->suspended)
        return;
    /* healthy ones first, then degraded ones (nr__idle_take_locked) */
    while (p->wait_head && (p->idle_head || p->deg_head))
        nr__place_locked(p, nr__idle_take_locked(p));
}

void nr__signal_returned_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    if (p->in_use == 0 && p->creating == 0 && p->watchers > 0 &&
        (p->bagged == 0 || nr__bag_used_locked(p) == 0))
        pthread_cond_broadcast(&p->drained);
}

void nr__lease_on_locked(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    assert(!inst->leased);
    inst->leased = 1;
    inst->acquired_ns = nr_now_coarse_ns();
    p->in_use++;
}

void nr__lease_off_locked(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    assert(inst->leased);
    inst->leased = 0;
    p->in_use--;
}

void nr__cred_release(struct nr__cred *c)
{
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        nr_secret_free(c->secret);
        nr_free(c);
    }
}

/* Each record starts on a cache line and fills whole lines, so that two
 * threads holding two instances never write to one line: the fast path
 * writes the lease, the bag state and the counters of its own record. */
#define NR__LINE 64
struct nr__instance *nr__record_alloc(void)
{
    size_t size = (sizeof(struct nr__instance) + NR__LINE - 1) / NR__LINE * NR__LINE;
    char *raw = nr_calloc(1, size + NR__LINE);
    if (!raw)
        return NULL;
    struct nr__instance *r =
        (struct nr__instance *)(raw + (NR__LINE - (uintptr_t)raw % NR__LINE) % NR__LINE);
    r->raw = raw;
    return r;
}

struct nr__instance *nr__record_take_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    struct nr__instance *r = p->free_records;
    if (r)
        p->free_records = r->next;
    return r;
}

void nr__record_put_locked(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    inst->handle = NULL;
    inst->prev = NULL;
    inst->next = p->free_records;
    p->free_records = inst;
}

/* Destroy one instance counted in `destroying`, then account for it. */
static void destroy_one(void *arg)
{
    struct nr__instance *inst = arg;
    nr_pool *p = inst->pool;
    NR_PROBE_DESTROY(p->id, inst->id);
    uint64_t id = inst->id;
    nr__hook_run run = {0};
    nr_hook_call call;
    if (NR__POOL_HOOKS(p, NR_HOOK_DESTROY))
        nr__pool_hooks_before(p, NR_HOOK_DESTROY, id, &run, &call, NULL); /* cannot refuse */
    p->type->destroy(inst->handle, p->type_ud);
    nr__inst_transition(inst, NR_LC_TERMINATED);
    if (run.active)
        nr__pool_hooks_after(p, &run, &call, NR_OK, NULL);
    /* Told before the accounting: once destroying drops, the pool may be
     * destroyed by another thread. */
    nr__pool_event(p, NR_EV_DESTROYED, id, 0, 0, NR_OK, NULL);
    nr__pool_lock(p);
    nr__record_put_locked(p, inst);
    p->destroying--;
    p->destroys++;
    nr__slot_released_locked(p);
    nr__pool_unlock(p);
}

void nr__destroy_list_on(nr_pool *p, struct nr__instance *list, uint32_t n, const nr_executor *ex)
{
    uint32_t done = 0;
    for (struct nr__instance *inst = list, *next; inst; inst = next) {
        next = inst->next;
        done++;
        if (!ex || ex->submit(ex->ud, destroy_one, inst) != 0)
            destroy_one(inst);
    }
    assert(done == n);
    (void)done;
    (void)p;
}

void nr__destroy_list(nr_pool *p, struct nr__instance *list, uint32_t n)
{
    nr__destroy_list_on(p, list, n, NULL);
}

/* Take a leased, checked or quarantined instance out of service and destroy
 * it. The caller has not yet removed it from `from_bucket` (in_use, bagged,
 * maint or quarantined; a quarantined one is already off its list). */
void nr__discard(nr_pool *p, struct nr__instance *inst, uint32_t *from_bucket,
                 nr__discard_reason why)
{
    nr__pool_lock(p);
    if (from_bucket == &p->in_use)
        nr__lease_off_locked(p, inst);
    else if (from_bucket == &p->bagged)
        nr__bag_remove_locked(p, inst);
    else
        (*from_bucket)--;
    p->total--;
    p->destroying++;
    if (why == NR__DISCARD_LIFETIME)
        p->evicted_lifetime++;
    else if (why == NR__DISCARD_HEALTH)
        p->health_discards++;
    else if (why == NR__DISCARD_CREDENTIAL)
        p->credential_retired++;
    else if (why == NR__DISCARD_GENERATION)
        p->evicted_generation++;
    else if (why == NR__DISCARD_RESIZE)
        p->evicted_resize++;
    else if (why == NR__DISCARD_QUARANTINE) {
        p->health_discards++;
        p->quarantine_discards++;
    }
    nr__inst_transition(inst, NR_LC_CLEANUP);
    uint32_t more = nr__creator_plan_locked(p, 0);
    nr__signal_returned_locked(p);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    inst->next = NULL;
    nr__destroy_list(p, inst, 1);
    if (more)
        nr__creator_start(p, more);
}

/* ---- create and destroy the pool ---------------------------------------------------- */

static int check_id(const char *id, nr_error *err)
{
    return nr_id_check(id, "pool options: id", err);
}

int nr_pool_create(nr_pool **out, const nr_pool_options *opts, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_create: out must not be NULL");
    *out = NULL;
    if (!opts)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_create: opts must not be NULL");
    nr_pool_options sized;
    int rc = NR__ABI_IN(&sized, opts, nr_pool_options, NR_POOL_OPTIONS_INIT, err);
    if (rc)
        return rc;
    opts = &sized;
    rc = check_id(opts->id, err);
    if (rc)
        return rc;
    rc = nr_resource_type_check(opts->type, err);
    if (rc) {
        nr_error_prefix(err, "pool '%s'", opts->id);
        return rc;
    }
    if (!opts->config)
        return nr_error_set(err, NR_EINVAL, opts->id,
                            "pool '%s': config is required (a %s config struct)", opts->id,
                            opts->type->name);

    nr_pool_config cfg;
    if (opts->pool)
        cfg = *opts->pool;
    else
        nr_pool_config_default(&cfg);

    nr_config_report report;
    nr_config_report_clear(&report);
    if (nr_config_validate(&nr_pool_config_schema, &cfg, "$.pool", &report, NULL) != NR_OK) {
        const nr_config_issue *i = &report.items[0];
        return nr_error_set(err, NR_ECONFIG, opts->id, "pool '%s': %s: %s (got %s)", opts->id,
                            i->path, i->rule, i->value);
    }
    nr_config_report_clear(&report);
    if (nr_config_validate(opts->type->config_schema, opts->config, "$.config", &report, NULL) !=
        NR_OK) {
        const nr_config_issue *i = &report.items[0];
        return nr_error_set(err, NR_ECONFIG, opts->id, "pool '%s': %s: %s (got %s)", opts->id,
                            i->path, i->rule, i->value);
    }

    nr_pool *p = nr_calloc(1, sizeof(*p));
    if (!p)
        return nr_error_set(err, NR_ENOMEM, opts->id, "pool '%s': out of memory", opts->id);
    p->magic = NR_POOL_MAGIC;
    snprintf(p->id, sizeof(p->id), "%s", opts->id);
    if (opts->scope)
        p->scope = *opts->scope;
    else
        nr_scope_global(&p->scope);
    p->cfg = cfg;
    p->clock = opts->clock;
    p->clock_ud = opts->clock_ud;
    p->events = opts->events;
    p->hooks = opts->hooks;
    p->wait_hist = opts->wait_histogram;
    p->health_hist = opts->health_histogram;
    {
        nr_event scoped; /* the scope text, cut the way events cut it */
        nr_event_init(&scoped, NR_EV_CREATED, NULL);
        nr_event_set_scope(&scoped, &p->scope);
        memcpy(p->scope_text, scoped.scope, sizeof(p->scope_text));
    }
    p->type = opts->type;
    p->can_validate = opts->type->validate != NULL;
    p->can_recycle = opts->type->recycle != NULL;
    p->type_ud = opts->type_ud;
    p->config = opts->config;
    if (opts->credential) {
        p->cred = nr_calloc(1, sizeof(*p->cred));
        if (!p->cred || nr_secret_dup(&p->cred->secret, opts->credential, err) != NR_OK) {
            nr_free(p->cred);
            nr_free(p);
            return nr_error_set(err, NR_ENOMEM, opts->id, "pool '%s': out of memory", opts->id);
        }
        atomic_init(&p->cred->refs, 1);
    }

    if (nr__bag_init(p) != NR_OK) {
        nr__cred_release(p->cred);
        nr_free(p);
        return nr_error_set(err, NR_ENOMEM, opts->id, "pool '%s': out of memory", opts->id);
    }

    if (nr_cancel_create(&p->close_cancel, NULL, NULL) != NR_OK) {
        nr__bag_fini(p);
        nr__cred_release(p->cred);
        nr_free(p);
        return nr_error_set(err, NR_ENOMEM, opts->id, "pool '%s': out of memory", opts->id);
    }
    if (opts->executor)
        p->executor = *opts->executor;
    p->own_tids = nr_calloc((size_t)cfg.max_connecting, sizeof(*p->own_tids));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!p->own_tids || pthread_mutex_init(&p->mu, NULL) != 0 ||
        pthread_cond_init(&p->drained, &ca) != 0 || pthread_cond_init(&p->own_cv, NULL) != 0) {
        pthread_condattr_destroy(&ca);
        nr_cancel_destroy(p->close_cancel);
        nr_free(p->own_tids);
        nr__bag_fini(p);
        nr__cred_release(p->cred);
        nr_free(p);
        return nr_error_set(err, NR_ENOMEM, opts->id, "pool '%s': cannot create its lock",
                            opts->id);
    }
    pthread_condattr_destroy(&ca);
    *out = p;
    return NR_OK;
}

static int destroy_impl(nr_pool *p, int keep_memory, nr_error *err);

int nr_pool_destroy(nr_pool *p, nr_error *err)
{
    return destroy_impl(p, 0, err);
}

int nr__pool_destroy_keep(nr_pool *p, nr_error *err)
{
    return destroy_impl(p, 1, err);
}

void nr__pool_free_kept(nr_pool *p)
{
    if (!p)
        return;
    struct nr__instance *r = p->all_records;
    while (r) {
        struct nr__instance *next = r->all_next;
        nr_free(r->raw);
        r = next;
    }
    nr__bag_fini(p);
    nr_free(p);
}

static int destroy_impl(nr_pool *p, int keep_memory, nr_error *err)
{
    if (!p)
        return NR_OK;
    assert(p->magic == NR_POOL_MAGIC);
    nr_pool_close(p);   /* also cancels the creates in flight */
    nr__async_flush(p); /* async completions delivered, deferred give-backs done */
    nr__pool_lock(p);
    /* The pool's own work in flight (creates, which land and are destroyed
     * now that it is closed, and destroys) is waited for, within a create's
     * deadline and a second more; leases are the caller's: NR_EBUSY. */
    int64_t until = nr_now_ns() + (NR__CFG(p, create_timeout_ms) + 1000) * NR_NS_PER_MS;
    while ((p->creating || p->destroying) && nr_now_ns() < until) {
        struct timespec ts = {.tv_sec = (time_t)(until / NR_NS_PER_S),
                              .tv_nsec = (long)(until % NR_NS_PER_S)};
        pthread_cond_timedwait(&p->drained, &p->mu, &ts);
        nr__pool_note_owner(p);
    }
    if (p->total || p->destroying || p->waiters) {
        uint32_t out = p->in_use + nr__bag_used_locked(p), creating = p->creating,
                 waiting = p->waiters;
        nr__pool_unlock(p);
        return nr_error_set(err, NR_EBUSY, p->id,
                            "pool '%s': %u instance(s) still out, %u being created, %u "
                            "caller(s) waiting; release them first",
                            p->id, out, creating, waiting);
    }
    nr__pool_unlock(p);
    nr__creator_join(p);
    nr__async_stop(p);
    nr__budget_leave(p); /* after the pool's last job: none of the budget's is left either */
    /* Give-backs whose instance is back may still be in their after hooks. */
    while (atomic_load_explicit(&p->hook_busy, memory_order_acquire) != 0)
        nr_sleep_ns(20 * NR_NS_PER_US);
    pthread_cond_destroy(&p->drained);
    pthread_cond_destroy(&p->own_cv);
    pthread_mutex_destroy(&p->mu);
    nr_cancel_destroy(p->close_cancel);
    nr_free(p->own_tids);
    nr__cred_release(p->cred);
    p->cred = NULL;
    p->magic = 0;
    if (!keep_memory)
        nr__pool_free_kept(p);
    return NR_OK;
}

const char *nr_pool_id(const nr_pool *p)
{
    return p->id;
}

const nr_scope *nr_pool_scope(const nr_pool *p)
{
    return &p->scope;
}
