/*
 * pool.c - creation, acquire, release, close and statistics of a pool.
 *
 * The shape of one acquire:
 *
 *   lock
 *     closed?                        -> NR_ESHUTDOWN
 *     nobody waiting and one idle?   -> take it             (Idle -> InUse)
 *     nobody waiting and room left?  -> reserve a slot      (create outside the lock)
 *     otherwise                      -> join the FIFO queue and sleep until a
 *                                       releaser hands an instance over, or
 *                                       grants a slot to create, or the
 *                                       deadline / cancel token / close ends it
 *   unlock
 *   validate (outside the lock); a failure discards it and starts over
 *
 * A release recycles the instance outside the lock, then under the lock
 * hands it straight to the oldest waiter or pushes it on the idle list.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cancel_internal.h"
#include "observe/probes.h"
#include "observe/span.h"
#include "nebula/alloc.h"

/* ---- small helpers ----------------------------------------------------------- */

/* How many times an acquire that finds nothing free yields before queueing. */
static const int nr__spin_yields = 4;
#define NR__SPIN_MAX_NS (200 * NR_NS_PER_US)

void nr__pool_lock(nr_pool *p)
{
    int rc = pthread_mutex_lock(&p->mu);
    assert(rc == 0);
    (void)rc;
}

void nr__pool_unlock(nr_pool *p)
{
    int rc = pthread_mutex_unlock(&p->mu);
    assert(rc == 0);
    (void)rc;
}

void nr__pool_assert_locked_invariants(const nr_pool *p)
{
    assert(p->magic == NR_POOL_MAGIC);
    assert(p->total == p->idle + p->in_use + p->creating + p->maint + p->bagged);
    assert(p->total <= (uint64_t)p->cfg.max_size);
    assert(p->waiters == 0 || p->idle == 0);
    assert((p->idle == 0) == (p->idle_head == NULL));
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
    nr__waiter *w = p->wait_head;
    if (w) {
        p->wait_head = w->next;
        if (!p->wait_head)
            p->wait_tail = NULL;
        w->next = NULL;
        p->waiters--;
        if (p->waiters == 0)
            nr__gate_update_locked(p);
    }
    return w;
}

/* Remove w from anywhere in the queue (it gave up). */
static void waiter_unlink_locked(nr_pool *p, nr__waiter *w)
{
    nr__waiter **pp = &p->wait_head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return; /* already popped by a giver */
    *pp = w->next;
    if (p->wait_tail == w)
        p->wait_tail = prev;
    w->next = NULL;
    p->waiters--;
    if (p->waiters == 0)
        nr__gate_update_locked(p);
}

int nr__place_locked(nr_pool *p, struct nr__instance *inst)
{
    if (atomic_load_explicit(&p->closed, memory_order_relaxed))
        return 0;
    nr__waiter *w = waiter_pop_locked(p);
    if (w) {
        nr__inst_transition(inst, NR_LC_IN_USE);
        nr__lease_on_locked(p, inst);
        p->handoffs++;
        w->inst = inst;
        pthread_cond_signal(&w->cv);
    } else {
        if (inst->state != NR_LC_IDLE)
            nr__inst_transition(inst, NR_LC_IDLE);
        nr__idle_push_head(p, inst);
    }
    return 1;
}

void nr__settle_locked(nr_pool *p)
{
    nr__bag_flush_locked(p);
    while (p->idle_head && p->wait_head) {
        struct nr__instance *inst = p->idle_head;
        nr__idle_remove(p, inst);
        nr__place_locked(p, inst);
    }
}

void nr__signal_returned_locked(nr_pool *p)
{
    if (p->in_use == 0 && p->creating == 0 && p->watchers > 0 &&
        (p->bagged == 0 || nr__bag_used_locked(p) == 0))
        pthread_cond_broadcast(&p->drained);
}

void nr__lease_on_locked(nr_pool *p, struct nr__instance *inst)
{
    assert(!inst->leased);
    inst->leased = 1;
    inst->acquired_ns = nr_now_coarse_ns();
    p->in_use++;
}

void nr__lease_off_locked(nr_pool *p, struct nr__instance *inst)
{
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

void nr__grant_locked(nr_pool *p)
{
    while (p->wait_head && !atomic_load_explicit(&p->refusing, memory_order_relaxed) &&
           p->total < (uint64_t)p->cfg.max_size) {
        nr__waiter *w = waiter_pop_locked(p);
        w->granted = 1;
        p->total++;
        p->creating++;
        pthread_cond_signal(&w->cv);
    }
}

struct nr__instance *nr__record_take_locked(nr_pool *p)
{
    struct nr__instance *r = p->free_records;
    if (r)
        p->free_records = r->next;
    return r;
}

void nr__record_put_locked(nr_pool *p, struct nr__instance *inst)
{
    inst->handle = NULL;
    inst->prev = NULL;
    inst->next = p->free_records;
    p->free_records = inst;
}

static void signal_drained_locked(nr_pool *p)
{
    if (p->total == 0 && p->destroying == 0)
        pthread_cond_broadcast(&p->drained);
}

/* ---- create ---------------------------------------------------------------------- */

int nr__create_reserved(nr_pool *p, struct nr__instance *rec, nr_deadline deadline,
                        const nr_cancel *cancel, struct nr__instance **out, nr_error *err)
{
    int rc;
    nr_error e;
    nr_error_clear(&e);

    if (!rec) {
        rec = nr_calloc(1, sizeof(*rec));
        if (!rec) {
            rc = nr_error_set(&e, NR_ENOMEM, p->id, "out of memory for an instance record");
            goto failed_no_record;
        }
        rec->pool = p;
        nr__pool_lock(p);
        rec->all_next = p->all_records;
        p->all_records = rec;
        nr__pool_unlock(p);
    }
    rec->state = NR_LC_CREATED;
    nr__inst_transition(rec, NR_LC_INITIALIZING);

    nr__pool_lock(p);
    struct nr__cred *cred = p->cred;
    if (cred)
        atomic_fetch_add_explicit(&cred->refs, 1, memory_order_relaxed);
    rec->cred_gen = atomic_load_explicit(&p->cred_gen, memory_order_relaxed);
    nr__pool_unlock(p);

    nr_create_ctx cctx = {
        .resource_id = p->id,
        .scope = &p->scope,
        .deadline = deadline,
        .cancel = cancel,
        .credential = cred ? cred->secret : NULL,
    };
    void *handle = NULL;
    rc = p->type->create(&handle, p->config, &cctx, p->type_ud, &e);
    nr__cred_release(cred);
    if (rc != NR_OK)
        NR_PROBE_CREATE(p->id, (uint64_t)0, rc);
    if (rc == NR_OK && !handle)
        rc = nr_error_set(&e, NR_EINTERNAL, p->id, "create returned no handle");
    if (rc != NR_OK) {
        nr__inst_transition(rec, NR_LC_FAILED);
        nr__pool_lock(p);
        nr__record_put_locked(p, rec);
        goto failed_locked;
    }
    rec->handle = handle;
    rec->created_ns = nr_now_coarse_ns();
    rec->last_used_ns = rec->created_ns;
    rec->use_count = 0;
    nr__inst_transition(rec, NR_LC_READY);

    nr__pool_lock(p);
    p->creates++;
    rec->id = ++p->created_seq;
    NR_PROBE_CREATE(p->id, rec->id, NR_OK); /* a probe is one no-op instruction: fine under mu */
    if (atomic_load_explicit(&p->closed, memory_order_relaxed)) {
        /* Closed while we were creating: this instance goes straight away. */
        p->creating--;
        p->total--;
        p->destroying++;
        nr__inst_transition(rec, NR_LC_CLEANUP);
        nr__pool_unlock(p);
        rec->next = NULL;
        nr__destroy_list(p, rec, 1);
        return nr_error_set(err, NR_ESHUTDOWN, p->id, "pool '%s' is shut down", p->id);
    }
    nr__pool_unlock(p);
    nr__pool_event(p, NR_EV_CREATED, rec->id, 0, 0, NR_OK, NULL);
    *out = rec;
    return NR_OK;

failed_no_record:
    nr__pool_lock(p);
failed_locked:
    p->creating--;
    p->total--;
    p->create_failures++;
    nr__grant_locked(p);
    signal_drained_locked(p);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    nr__trace_log(NR_TRACE_LEVEL_WARN, "create", p->id, rc,
                  e.message[0] ? e.message : nr_strerror(rc));
    nr__pool_event(p, NR_EV_ERROR, 0, 0, 0, rc, e.message[0] ? e.message : nr_strerror(rc));
    if (err) {
        int cause = e.code ? e.code : rc;
        long dcode = e.driver_code;
        nr_error_set_cause(err, rc, cause, dcode, p->id, "pool '%s': create failed: %s", p->id,
                           e.message[0] ? e.message : nr_strerror(rc));
    }
    return rc;
}

/* Destroy one instance counted in `destroying`, then account for it. */
static void destroy_one(void *arg)
{
    struct nr__instance *inst = arg;
    nr_pool *p = inst->pool;
    NR_PROBE_DESTROY(p->id, inst->id);
    uint64_t id = inst->id;
    p->type->destroy(inst->handle, p->type_ud);
    nr__inst_transition(inst, NR_LC_TERMINATED);
    nr__pool_lock(p);
    nr__record_put_locked(p, inst);
    p->destroying--;
    p->destroys++;
    signal_drained_locked(p);
    nr__pool_unlock(p);
    nr__pool_event(p, NR_EV_DESTROYED, id, 0, 0, NR_OK, NULL);
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

/* Take a leased or checked instance out of service and destroy it. The
 * caller has not yet removed it from `from_bucket` (in_use or maint). */
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
    nr__inst_transition(inst, NR_LC_CLEANUP);
    nr__grant_locked(p);
    nr__signal_returned_locked(p);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    inst->next = NULL;
    nr__destroy_list(p, inst, 1);
}

/* ---- create and destroy the pool ---------------------------------------------------- */

static int check_id(const char *id, nr_error *err)
{
    if (!id || !*id)
        return nr_error_set(err, NR_EINVAL, NULL, "pool options: id is required");
    size_t n = strlen(id);
    if (n >= NR_ERROR_ID_MAX)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "pool options: id must be at most %d bytes (got %zu)",
                            NR_ERROR_ID_MAX - 1, n);
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '.' || c == ':' || c == '@';
        if (!ok)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "pool options: id may hold only letters, digits and _-.:@ "
                                "(byte %zu is 0x%02x)",
                                i, (unsigned char)c);
    }
    return NR_OK;
}

int nr_pool_create(nr_pool **out, const nr_pool_options *opts, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_create: out must not be NULL");
    *out = NULL;
    if (!opts)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_create: opts must not be NULL");
    int rc = check_id(opts->id, err);
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
    p->events = opts->events;
    p->wait_hist = opts->wait_histogram;
    p->health_hist = opts->health_histogram;
    {
        nr_event scoped; /* the scope text, cut the way events cut it */
        nr_event_init(&scoped, NR_EV_CREATED, NULL);
        nr_event_set_scope(&scoped, &p->scope);
        memcpy(p->scope_text, scoped.scope, sizeof(p->scope_text));
    }
    p->type = opts->type;
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

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&p->mu, NULL) != 0 || pthread_cond_init(&p->drained, &ca) != 0) {
        pthread_condattr_destroy(&ca);
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

int nr_pool_destroy(nr_pool *p, nr_error *err)
{
    if (!p)
        return NR_OK;
    assert(p->magic == NR_POOL_MAGIC);
    nr_pool_close(p);
    nr__pool_lock(p);
    if (p->total || p->destroying || p->waiters) {
        uint32_t out = p->in_use, creating = p->creating, waiting = p->waiters;
        nr__pool_unlock(p);
        return nr_error_set(err, NR_EBUSY, p->id,
                            "pool '%s': %u instance(s) still out, %u being created, %u "
                            "caller(s) waiting; release them first",
                            p->id, out, creating, waiting);
    }
    nr__pool_unlock(p);
    struct nr__instance *r = p->all_records;
    while (r) {
        struct nr__instance *next = r->all_next;
        nr_free(r);
        r = next;
    }
    pthread_cond_destroy(&p->drained);
    pthread_mutex_destroy(&p->mu);
    nr__bag_fini(p);
    nr__cred_release(p->cred);
    p->magic = 0;
    nr_free(p);
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

/* ---- acquire -------------------------------------------------------------------------- */

static void cancel_wake(void *ud)
{
    nr__waiter *w = ud;
    nr__pool_lock(w->pool);
    pthread_cond_signal(&w->cv);
    nr__pool_unlock(w->pool);
}

static void timespec_from_ns(struct timespec *ts, int64_t ns)
{
    ts->tv_sec = (time_t)(ns / NR_NS_PER_S);
    ts->tv_nsec = (long)(ns % NR_NS_PER_S);
}

typedef enum { GOT_NOTHING, GOT_INSTANCE, GOT_SLOT } got_kind;

static void waiter_init(nr__waiter *w, nr_pool *p)
{
    memset(w, 0, sizeof(*w));
    w->pool = p;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
}

/*
 * [mu] Wait in the FIFO queue. Returns NR_OK with *kind GOT_INSTANCE (inst
 * set, already counted in in_use) or GOT_SLOT (a create slot reserved), or
 * an error code (caller fills err).
 */
static int wait_locked(nr_pool *p, nr__waiter *w, nr_deadline deadline, const nr_cancel *cancel,
                       int64_t since, struct nr__instance **inst, got_kind *kind,
                       int64_t *waited_out)
{
    w->inst = NULL;
    w->granted = 0;
    w->next = NULL;
    if (p->wait_tail)
        p->wait_tail->next = w;
    else
        p->wait_head = w;
    p->wait_tail = w;
    p->waiters++;
    p->waits++;
    nr__gate_update_locked(p);
    nr__settle_locked(p);

    int rc = NR_OK;
    int64_t start = since ? since : nr_now_ns();
    struct timespec ts;
    int never = deadline.at_ns == NR_DEADLINE_NEVER;
    timespec_from_ns(&ts, deadline.at_ns);
    for (;;) {
        if (w->inst) {
            *inst = w->inst;
            *kind = GOT_INSTANCE;
            break;
        }
        if (w->granted) {
            *kind = GOT_SLOT;
            break;
        }
        if (atomic_load_explicit(&p->refusing, memory_order_relaxed)) {
            rc = NR_ESHUTDOWN;
            break;
        }
        if (cancel && nr_cancel_is_set(cancel)) {
            rc = NR_ECANCELED;
            break;
        }
        if (!never && nr_now_ns() >= deadline.at_ns) {
            rc = NR_ETIMEDOUT;
            break;
        }
        if (never)
            pthread_cond_wait(&w->cv, &p->mu);
        else
            pthread_cond_timedwait(&w->cv, &p->mu, &ts);
    }
    if (rc != NR_OK)
        waiter_unlink_locked(p, w);
    int64_t waited = nr_now_ns() - start;
    *waited_out += waited;
    p->wait_ns_total += waited;
    if (waited > p->wait_ns_max)
        p->wait_ns_max = waited;
    if (rc == NR_ETIMEDOUT)
        p->timeouts++;
    else if (rc == NR_ECANCELED)
        p->cancels++;
    return rc;
}

int nr__expired(const nr_pool *p, const struct nr__instance *inst, int64_t now)
{
    return p->cfg.max_lifetime_ms > 0 &&
           now - inst->created_ns >= p->cfg.max_lifetime_ms * NR_NS_PER_MS;
}

static int acquire_impl(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err,
                        int64_t *waited);

/* A bag instance claimed by an acquire that then found the pool refusing:
 * back to the idle list, or destroyed when the pool is closed. */
static void bag_unclaim(nr_pool *p, struct nr__instance *inst)
{
    nr__pool_lock(p);
    if (atomic_load_explicit(&p->closed, memory_order_relaxed)) {
        nr__pool_unlock(p);
        nr__discard(p, inst, &p->bagged, NR__DISCARD_CLOSED);
        return;
    }
    nr__bag_remove_locked(p, inst);
    nr__place_locked(p, inst);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
}

int nr_pool_acquire(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_DEBUG, "acquire", p ? p->id : NULL, p ? &p->scope : NULL,
                   ctx);
    int64_t waited = -1; /* -1: never had to wait */
    int rc = acquire_impl(p, ctx, out, err, &waited);
    if (p) {
        NR_PROBE_ACQUIRE(p->id, waited > 0 ? waited : 0, rc);
        if (waited >= 0 && p->wait_hist)
            nr_histogram_observe(p->wait_hist, (double)waited / 1e9);
        if (p->events) {
            if (rc == NR_OK)
                nr__pool_event(p, NR_EV_ACQUIRED, out->inst->id, waited > 0 ? waited : 0, 0, NR_OK,
                               NULL);
            else if (rc == NR_ETIMEDOUT)
                nr__pool_event(p, NR_EV_TIMEOUT, 0, waited > 0 ? waited : 0, 0, rc, NULL);
            if (rc == NR_EEXHAUSTED || (waited >= 0 && rc != NR_ESHUTDOWN))
                nr__pool_event(p, NR_EV_POOL_EXHAUSTED, 0, waited > 0 ? waited : 0, p->cfg.max_size,
                               rc, NULL);
        }
    }
    if (nr__span_active(&span)) {
        nr_pool_stats st;
        if (p)
            nr_pool_stats_get(p, &st);
        nr__span_end_err(&span, rc, err, p ? &st : NULL);
    }
    return rc;
}

static int acquire_impl(nr_pool *p, const nr_ctx *ctx, nr_guard *out, nr_error *err,
                        int64_t *waited)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_acquire: out must not be NULL");
    out->inst = NULL;
    out->lease = 0;
    if (!p)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_pool_acquire: pool must not be NULL");
    assert(p->magic == NR_POOL_MAGIC);

    const nr_cancel *cancel = ctx ? ctx->cancel : NULL;
    if (ctx && ctx->scope && !nr_scope_contains(&p->scope, ctx->scope)) {
        char have[NR_SCOPE_TEXT_MAX], want[NR_SCOPE_TEXT_MAX];
        nr_scope_format(ctx->scope, have, sizeof(have));
        nr_scope_format(&p->scope, want, sizeof(want));
        return nr_error_set(err, NR_ESCOPE, p->id,
                            "pool '%s' belongs to scope %s; caller's scope %s is not inside it",
                            p->id, want, have);
    }
    /* The deadline is only read when the call has to wait or create, so the
     * fast path reads no clock: an unset deadline is made on first use. */
    nr_deadline deadline = {0};
    int zero_wait = 0;
    if (ctx && nr_deadline_is_set(ctx->deadline))
        deadline = ctx->deadline;
    else if (p->cfg.acquire_timeout_ms == 0)
        zero_wait = 1;
#define NR__DEADLINE()                                                                             \
    (nr_deadline_is_set(deadline)                                                                  \
         ? deadline                                                                                \
         : (deadline =                                                                             \
                zero_wait ? nr_deadline_in_ns(0) : nr_deadline_in_ms(p->cfg.acquire_timeout_ms)))

    nr__cancel_waiter cw = {0};
    nr__waiter w;
    int w_ready = 0, subscribed = 0;
    int rc;
    struct nr__instance *inst;
    uint32_t *bucket; /* where inst is counted: &p->in_use or &p->bagged */
    int spins = 0;
    int64_t spin_t0 = 0; /* when this acquire began to look again (counts as waiting) */

    for (;;) {
        got_kind kind = GOT_NOTHING;
        struct nr__instance *rec = NULL;
        inst = NULL;
        bucket = &p->in_use;
        if (cancel && nr_cancel_is_set(cancel)) {
            nr__pool_lock(p);
            p->cancels++;
            nr__pool_unlock(p);
            rc = nr_error_set(err, NR_ECANCELED, p->id, "pool '%s': acquire canceled", p->id);
            goto out;
        }
        /* The fast path: a Free instance from the bag, no lock. */
        inst = nr__bag_claim(p);
        if (inst) {
            if (atomic_load_explicit(&p->refusing, memory_order_seq_cst)) {
                bag_unclaim(p, inst);
                rc = nr_error_set(err, NR_ESHUTDOWN, p->id, "pool '%s' is shut down", p->id);
                goto out;
            }
            nr__inst_transition(inst, NR_LC_IN_USE);
            atomic_store_explicit(&inst->lease_start_ns, nr_now_coarse_ns(), memory_order_relaxed);
            bucket = &p->bagged;
            goto check;
        }
        nr__pool_lock(p);
        nr__pool_assert_locked_invariants(p);
        if (atomic_load_explicit(&p->refusing, memory_order_relaxed)) {
            nr__pool_unlock(p);
            rc = nr_error_set(err, NR_ESHUTDOWN, p->id, "pool '%s' is shut down", p->id);
            goto out;
        }
        if (!p->wait_head && p->idle_head) {
            inst = p->idle_head;
            nr__idle_remove(p, inst);
            nr__inst_transition(inst, NR_LC_IN_USE);
            nr__lease_on_locked(p, inst);
            kind = GOT_INSTANCE;
        } else if (!p->wait_head && p->total < (uint64_t)p->cfg.max_size) {
            p->total++;
            p->creating++;
            kind = GOT_SLOT;
        } else if (zero_wait || (!spins && nr_deadline_expired(NR__DEADLINE()))) {
            p->exhausted++;
            uint32_t in_use = p->in_use, waiting = p->waiters;
            nr__pool_unlock(p);
            rc = nr_error_set(err, NR_EEXHAUSTED, p->id,
                              "pool '%s' is exhausted: all %" PRId64
                              " instance(s) taken (%u in use), %u waiting, and the deadline "
                              "allows no wait",
                              p->id, p->cfg.max_size, in_use, waiting);
            goto out;
        } else if (spins < nr__spin_yields && (!spins || nr_now_ns() - spin_t0 < NR__SPIN_MAX_NS)) {
            /* Nothing free: the holders are most likely threads the
             * scheduler has set aside on a busy machine. Give them the CPU
             * a few times and look again before queueing, as a queue, once
             * formed, hands every instance to a sleeper. (Queued callers
             * keep their place: the gate stops this caller from taking an
             * instance past them.) */
            nr__pool_unlock(p);
            if (!spins++)
                spin_t0 = nr_now_ns();
            sched_yield();
            continue;
        } else if (!w_ready || (cancel && !subscribed)) {
            /* Prepare to wait outside the lock. The cancel registry lock
             * comes before the pool lock, so subscribe unlocked, then look
             * again. */
            nr__pool_unlock(p);
            if (!w_ready) {
                waiter_init(&w, p);
                w_ready = 1;
            }
            if (cancel && !subscribed) {
                cw.wake = cancel_wake;
                cw.ud = &w;
                if (nr__cancel_subscribe(cancel, &cw) != NR_OK)
                    continue; /* already set: the check at the top reports it */
                subscribed = 1;
            }
            continue;
        } else {
            if (*waited < 0)
                *waited = 0;
            rc = wait_locked(p, &w, NR__DEADLINE(), cancel, spin_t0, &inst, &kind, waited);
            if (rc != NR_OK) {
                uint32_t in_use = p->in_use, waiting = p->waiters;
                nr__pool_unlock(p);
                if (rc == NR_ETIMEDOUT)
                    nr_error_set(err, rc, p->id,
                                 "pool '%s': no instance became free in time (max_size %" PRId64
                                 ", %u in use, %u waiting)",
                                 p->id, p->cfg.max_size, in_use, waiting);
                else if (rc == NR_ECANCELED)
                    nr_error_set(err, rc, p->id, "pool '%s': acquire canceled", p->id);
                else
                    nr_error_set(err, rc, p->id, "pool '%s' is shut down", p->id);
                goto out;
            }
        }
        if (kind == GOT_SLOT)
            rec = nr__record_take_locked(p);
        nr__pool_unlock(p);

        if (kind == GOT_SLOT) {
            rc = nr__create_reserved(p, rec, NR__DEADLINE(), cancel, &inst, err);
            if (rc != NR_OK)
                goto out;
            nr__pool_lock(p);
            p->creating--;
            nr__lease_on_locked(p, inst);
            nr__inst_transition(inst, NR_LC_IN_USE);
            nr__pool_unlock(p);
            break;
        }
    check:
        /* An instance from the bag, the idle list or handed over: check it. */
        if (p->cfg.max_lifetime_ms > 0 && nr__expired(p, inst, nr_now_coarse_ns())) {
            nr__discard(p, inst, bucket, NR__DISCARD_LIFETIME);
            continue;
        }
        if (nr__stale_credential(p, inst)) {
            nr__discard(p, inst, bucket, NR__DISCARD_CREDENTIAL);
            continue;
        }
        if (p->cfg.validate_on_acquire && p->type->validate) {
            nr_error ve;
            nr_error_clear(&ve);
            if (p->type->validate(inst->handle, p->type_ud, &ve) != NR_OK) {
                atomic_fetch_add_explicit(&p->validate_failures, 1, memory_order_relaxed);
                nr__discard(p, inst, bucket, NR__DISCARD_VALIDATE);
                continue;
            }
        }
        break;
    }
    inst->use_count++;
    uint64_t lease = ++inst->lease_gen;
    /* release: the holder's writes to the instance above happen before any
     * later CAS on lease by a releasing thread. The counter has one writer at
     * a time (the holder), so a load and a store suffice. */
    atomic_store_explicit(&inst->lease, lease, memory_order_release);
    atomic_store_explicit(&inst->n_acquires,
                          atomic_load_explicit(&inst->n_acquires, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    out->inst = inst;
    out->lease = lease;
    rc = NR_OK;
#undef NR__DEADLINE
out:
    if (subscribed)
        nr__cancel_unsubscribe(cancel, &cw);
    if (w_ready)
        pthread_cond_destroy(&w.cv);
    return rc;
}
