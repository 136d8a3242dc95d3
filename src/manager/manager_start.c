/*
 * manager_start.c - starting resources in dependency order.
 *
 * nr_manager_start validates the graph (missing ids, cycles), then starts it
 * level by level: level 0 holds the resources that depend on nothing, level
 * k those whose deepest dependency is at level k-1. The resources of one
 * level start in parallel on the runtime's workers. If any fails, its
 * dependents are marked dependency-failed naming the root cause, no further
 * level starts, and every resource already started is stopped again.
 *
 * nr_manager_start_ctx takes a cancel token too. It is looked at before and
 * after each level, before each resource's start and before each create that
 * warms a resource up; once it is seen the start stops as a failed one does
 * (what started is stopped again), the resources whose own start it cut
 * short go back to registered, and NR_ECANCELED comes back. A create already
 * running is not interrupted: nr_pool_prime gives it the deadline and no
 * token, so it is waited for and its instance destroyed. A shutdown called
 * meanwhile cuts the start short the same way (NR_ESHUTDOWN).
 *
 * The start runs without the manager's lock (phase STARTING): a slow create
 * holds up nobody but the start. Stopping what started never waits for a
 * caller's lease: a pool with leases out is closed and set aside, to be
 * freed once they are back (nr__reap).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "base/abi.h"
#include "manager/graph.h"
#include "manager/manager_internal.h"
#include "nebula/budget.h"
#include "nebula/alloc.h"
#include "observe/span.h"

static int fetch_credential(nr_manager *m, nr__entry *e, nr_error *err)
{
    if (!e->cred_ref)
        return NR_OK;
    nr_secret *s = NULL;
    int64_t expires = 0;
    int rc = nr__credential_fetch(m, e->id, e->cred_ref, &s, &expires, err);
    if (rc != NR_OK)
        return rc;
    pthread_mutex_lock(&e->mu);
    nr_secret_free(e->cred);
    e->cred = s;
    e->cred_expires_ms = expires;
    pthread_mutex_unlock(&e->mu);
    return NR_OK;
}

/* What cuts a start short: NR_ECANCELED (the caller's token), NR_ESHUTDOWN
 * (a shutdown began) or NR_OK. */
static int start_cut(const nr_manager *m, const nr_cancel *cancel)
{
    if (nr_cancel_is_set(cancel))
        return NR_ECANCELED;
    return nr__manager_closing(m) ? NR_ESHUTDOWN : NR_OK;
}

/* Prove the resource is reachable by creating `want` instances on this
 * thread, one at a time, so that a failure is the create's own error at
 * once; the token and shutdown are looked at before each create. */
static int warm_up(nr_manager *m, nr__entry *e, nr_pool *p, uint32_t want, nr_deadline deadline,
                   const nr_cancel *cancel, nr_error *err)
{
    for (uint32_t k = 1; k <= want; k++) {
        int cut = start_cut(m, cancel);
        if (cut != NR_OK)
            return nr_error_set(
                err, cut, e->id,
                "resource '%s': start %s (%u of %u instance(s) created, "
                "destroyed again)",
                e->id, cut == NR_ECANCELED ? "canceled" : "stopped: the manager is shutting down",
                k - 1, want);
        int rc = nr_pool_prime(p, k, deadline, err); /* up to k idle: one create */
        if (rc != NR_OK)
            return rc;
    }
    return NR_OK;
}

int nr__entry_start(nr_manager *m, nr__entry *e, nr_deadline deadline, const nr_cancel *cancel,
                    nr_error *err)
{
    nr_error e2;
    nr_error_clear(&e2);
    int rc = start_cut(m, cancel);
    if (rc != NR_OK) {
        nr_error_set(&e2, rc, e->id, "resource '%s': start %s before it began", e->id,
                     rc == NR_ECANCELED ? "canceled" : "stopped: the manager is shutting down");
    } else {
        pthread_mutex_lock(&e->mu);
        if (atomic_load_explicit(&e->state, memory_order_relaxed) == NR_RS_STOPPING)
            rc = nr_error_set(&e2, NR_ESHUTDOWN, e->id,
                              "resource '%s' was unregistered before it started", e->id);
        else
            atomic_store_explicit(&e->state, NR_RS_STARTING, memory_order_relaxed);
        pthread_mutex_unlock(&e->mu);
    }
    if (rc == NR_OK)
        rc = fetch_credential(m, e, &e2);
    nr_pool *p = NULL;
    uint32_t want = 1;
    if (rc == NR_OK) {
        pthread_mutex_lock(&e->mu);
        nr_pool_options o =
            NR_POOL_OPTIONS(.id = e->id, .type = e->type, .type_ud = e->type_ud,
                            .config = e->config, .pool = &e->pool_cfg, .scope = &e->scope,
                            .credential = e->cred, .events = m->opts.events, .hooks = m->opts.hooks,
                            .executor = &m->creators);
        if (e->partition == NR_PARTITION_NONE)
            nr__entry_histograms(m, e, &e->scope, &o.wait_histogram, &o.health_histogram);
        rc = nr_pool_create(&p, &o, &e2);
        if (rc == NR_OK && e->shared && (rc = nr_budget_add_pool(e->shared, p, &e2)) != NR_OK) {
            nr_pool_destroy(p, NULL); /* new and unused: nothing is out */
            p = NULL;
        }
        e->warming = rc == NR_OK ? p : NULL;
        /* a single pool is warmed to min_idle (<= max_size); tenant pools are
         * made on first use, so one instance proves the resource */
        if (e->partition == NR_PARTITION_NONE && e->pool_cfg.min_idle > 0)
            want = (uint32_t)e->pool_cfg.min_idle;
        pthread_mutex_unlock(&e->mu);
    }
    if (rc == NR_OK) {
        rc = warm_up(m, e, p, want, deadline, cancel, &e2);
        pthread_mutex_lock(&e->mu);
        e->warming = NULL;
        pthread_mutex_unlock(&e->mu);
        if (rc != NR_OK || e->partition == NR_PARTITION_TENANT) {
            /* failed, or a tenant resource (its pools are made on first
             * use): the pool goes. Nobody but this thread has leased from
             * it, so nothing is out and the drain is immediate. */
            nr_pool_close(p);
            nr_pool_drain(p, nr_deadline_never(), NULL);
            nr_pool_destroy(p, NULL);
            p = NULL;
        }
    }
    pthread_mutex_lock(&e->mu);
    if (atomic_load_explicit(&e->state, memory_order_relaxed) == NR_RS_STOPPING) {
        /* unregistered while it started: the unregister, which waits for
         * this start's reference, takes the pool */
        e->pool = p;
        if (rc == NR_OK)
            rc = nr_error_set(&e2, NR_ESHUTDOWN, e->id,
                              "resource '%s' was unregistered while it started", e->id);
    } else if (rc == NR_OK) {
        e->pool = p;
        e->fails = e->succs = 0;
        e->maint_failed = 0;
        e->health_reason[0] = '\0';
        nr_error_clear(&e->last_error);
        atomic_store_explicit(&e->health, NR_HEALTH_HEALTHY, memory_order_relaxed);
        atomic_store_explicit(&e->state, NR_RS_RUNNING, memory_order_relaxed);
    } else if ((rc == NR_ECANCELED || rc == NR_ESHUTDOWN) && start_cut(m, cancel) == rc) {
        /* not started, and not failed either: registered, as before */
        e->last_error = e2;
        e->health_reason[0] = '\0';
        atomic_store_explicit(&e->state, NR_RS_REGISTERED, memory_order_relaxed);
        atomic_store_explicit(&e->health, NR_HEALTH_UNKNOWN, memory_order_relaxed);
    } else {
        e->last_error = e2;
        atomic_store_explicit(&e->state, NR_RS_FAILED, memory_order_relaxed);
        atomic_store_explicit(&e->health, NR_HEALTH_UNHEALTHY, memory_order_relaxed);
        snprintf(e->health_reason, sizeof(e->health_reason), "%s", "failed to start");
    }
    pthread_mutex_unlock(&e->mu);
    if (rc != NR_OK && err) {
        *err = e2;
        snprintf(err->resource_id, sizeof(err->resource_id), "%s", e->id);
    }
    return rc;
}

/* Destroy the pools taken off an entry; one that cannot be destroyed yet (a
 * lease still out) is set aside on e->draining, closed, for nr__reap. */
static void destroy_taken(nr__entry *e, nr_pool *own, nr__tenant_pool *tenants)
{
    nr__tenant_pool *keep = NULL;
    if (own && nr_pool_destroy(own, NULL) != NR_OK) {
        keep = nr_calloc(1, sizeof(*keep));
        if (keep) {
            keep->pool = own;
        } else {
            /* no memory to set it aside: wait for its leases instead */
            nr_pool_drain(own, nr_deadline_never(), NULL);
            nr_pool_destroy(own, NULL);
        }
    }
    for (nr__tenant_pool *t = tenants, *next; t; t = next) {
        next = t->next;
        if (nr_pool_destroy(t->pool, NULL) == NR_OK) {
            nr_free(t);
            continue;
        }
        t->next = keep;
        keep = t;
    }
    if (!keep)
        return;
    pthread_mutex_lock(&e->mu);
    nr__draining_add_locked(e, keep);
    pthread_mutex_unlock(&e->mu);
}

void nr__entry_stop_now(nr_manager *m, nr__entry *e)
{
    (void)m;
    /* Take the pools off e with the state change, so that an acquire that
     * looks from now on finds none (and makes no tenant pool: e is not
     * running); the callers that found one before hold a reference. */
    pthread_mutex_lock(&e->mu);
    atomic_store_explicit(&e->state, NR_RS_STOPPING, memory_order_relaxed);
    nr_pool *own = e->pool;
    nr__tenant_pool *tenants = e->tenants;
    e->pool = NULL;
    e->tenants = NULL;
    e->ntenants = 0;
    pthread_mutex_unlock(&e->mu);
    /* Closed: waiters wake with NR_ESHUTDOWN and idle instances go; a lease
     * still out is destroyed when it comes back. */
    if (own)
        nr_pool_close(own);
    for (nr__tenant_pool *t = tenants; t; t = t->next)
        nr_pool_close(t->pool);
    /* The callers inside an acquire of e leave at once now. */
    while (atomic_load_explicit(&e->refs, memory_order_acquire) > 0)
        nr_sleep_ns(NR_NS_PER_MS);
    destroy_taken(e, own, tenants);
    atomic_store_explicit(&e->state, NR_RS_STOPPED, memory_order_relaxed);
}

typedef struct start_job {
    nr_manager *m;
    nr__entry *e;
    nr_deadline deadline;
    const nr_cancel *cancel;
    int rc;
    int canceled; /* the token cut its start short: it is registered again, not failed */
} start_job;

static void start_one(void *arg)
{
    start_job *j = arg;
    j->rc = nr__entry_start(j->m, j->e, j->deadline, j->cancel, NULL);
    j->canceled = j->rc != NR_OK &&
                  atomic_load_explicit(&j->e->state, memory_order_relaxed) == NR_RS_REGISTERED;
}

static void stop_one(void *arg)
{
    start_job *j = arg;
    nr__entry_stop_now(j->m, j->e);
}

/* The graph as the graph module sees it, built from the registry. [lock] */
typedef struct graph_build {
    nr__dag_view view;
    const char **names;
    uint32_t **deps;
    uint32_t *ndeps;
} graph_build;

static void graph_free(graph_build *g)
{
    if (g->deps)
        for (uint32_t i = 0; i < g->view.n; i++)
            nr_free(g->deps[i]);
    nr_free(g->deps);
    nr_free(g->ndeps);
    nr_free(g->names);
    memset(g, 0, sizeof(*g));
}

static int graph_make(nr_manager *m, graph_build *g, nr_error *err)
{
    memset(g, 0, sizeof(*g));
    uint32_t n = (uint32_t)m->count;
    g->view.n = n;
    if (!n)
        return NR_OK;
    g->names = nr_calloc(n, sizeof(*g->names));
    g->deps = nr_calloc(n, sizeof(*g->deps));
    g->ndeps = nr_calloc(n, sizeof(*g->ndeps));
    if (!g->names || !g->deps || !g->ndeps)
        goto oom;
    for (uint32_t i = 0; i < n; i++) {
        nr__entry *e = m->list[i];
        g->names[i] = e->id;
        e->level = i; /* temporary: the entry's index, for the look-ups below */
    }
    for (uint32_t i = 0; i < n; i++) {
        nr__entry *e = m->list[i];
        if (e->ndeps) {
            g->deps[i] = nr_calloc(e->ndeps, sizeof(uint32_t));
            if (!g->deps[i])
                goto oom;
        }
        for (size_t k = 0; k < e->ndeps; k++) {
            nr__entry *d = nr__reg_find(m, e->deps[k]);
            if (!d) {
                graph_free(g);
                return nr_error_set(err, NR_EINVAL, e->id,
                                    "resource '%s' depends on '%s', which is not registered", e->id,
                                    e->deps[k]);
            }
            g->deps[i][k] = d->level;
        }
        g->ndeps[i] = (uint32_t)e->ndeps;
    }
    g->view.names = g->names;
    g->view.deps = (const uint32_t *const *)g->deps;
    g->view.ndeps = g->ndeps;
    return NR_OK;
oom:
    graph_free(g);
    return nr_error_set(err, NR_ENOMEM, NULL, "manager start: out of memory");
}

/* ---- undoing a start that failed or was canceled ---- */

/* Mark the dependents of every resource whose start failed (not the ones
 * the token cut short) dependency-failed, naming the failed one. Returns how
 * many were marked. order[i] is the graph node of jobs[i]. */
static size_t mark_dependents(const nr__dag_view *view, start_job *jobs, const uint32_t *order,
                              nr__entry **ents, uint32_t n, uint32_t done)
{
    unsigned char *mark = nr_calloc(n, 1);
    size_t ndep = 0;
    for (uint32_t i = 0; i < done && mark; i++) {
        if (jobs[i].rc == NR_OK || jobs[i].canceled)
            continue;
        nr__dag_dependents(view, order[i], mark);
        nr_error fe;
        pthread_mutex_lock(&jobs[i].e->mu);
        fe = jobs[i].e->last_error;
        pthread_mutex_unlock(&jobs[i].e->mu);
        for (uint32_t d = 0; d < n; d++) {
            if (mark[d] != 1)
                continue;
            mark[d] = 2; /* reported */
            nr__entry *de = ents[d];
            nr_error dep;
            nr_error_set_cause(&dep, NR_EDEPFAIL, fe.code, fe.driver_code, de->id,
                               "resource '%s' not started: it depends on '%s', which "
                               "failed: %s",
                               de->id, jobs[i].e->id, fe.message);
            nr__entry_set_error(de, &dep);
            atomic_store_explicit(&de->state, NR_RS_DEPENDENCY_FAILED, memory_order_relaxed);
            ndep++;
        }
    }
    nr_free(mark);
    return ndep;
}

/* Stop what started, dependents first (args is scratch room for n jobs).
 * Returns how many were stopped. */
static size_t stop_started(start_job *jobs, void **args, uint32_t done)
{
    size_t nstop = 0;
    for (uint32_t i = done; i-- > 0;)
        if (jobs[i].rc == NR_OK)
            args[nstop++] = &jobs[i];
    for (size_t i = 0; i < nstop; i++)
        stop_one(args[i]);
    return nstop;
}

/* The start's error, naming the first resource that failed. */
static int start_failed(nr__entry *root, size_t ndep, size_t nstop, nr_error *err)
{
    nr_error re;
    pthread_mutex_lock(&root->mu);
    re = root->last_error;
    pthread_mutex_unlock(&root->mu);
    return nr_error_set_cause(err, re.code ? re.code : NR_EINIT, re.code, re.driver_code, root->id,
                              "start failed: resource '%s': %s; %zu dependent(s) not started, "
                              "%zu started resource(s) stopped again",
                              root->id, re.message, ndep, nstop);
}

/* ---- the start ---- */

static int start_impl(nr_manager *m, nr_deadline deadline, const nr_cancel *cancel, nr_error *err);

int nr_manager_start_ctx(nr_manager *m, const nr_ctx *ctx, nr_error *err)
{
    nr_ctx sized;
    if (nr__ctx_in(&ctx, &sized, err) != NR_OK)
        return NR_EINVAL;
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_INFO, "start", NULL, NULL, NULL);
    nr_deadline deadline = ctx ? ctx->deadline : (nr_deadline){0};
    int rc = start_impl(m, deadline, ctx ? ctx->cancel : NULL, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

int nr_manager_start(nr_manager *m, nr_deadline deadline, nr_error *err)
{
    nr_ctx ctx = NR_CTX(.deadline = deadline);
    return nr_manager_start_ctx(m, &ctx, err);
}

void nr__wait_not_starting(nr_manager *m)
{
    while (atomic_load_explicit(&m->phase, memory_order_relaxed) == NR__PHASE_STARTING)
        pthread_cond_wait(&m->start_cv, &m->mu);
}

/* The levels, one after the other, with no manager lock held. Returns the
 * start's outcome; *scheduled tells whether the background tasks run. */
static int run_levels(nr_manager *m, graph_build *g, const uint32_t *order, const uint32_t *level,
                      nr__entry **ents, nr_deadline deadline, const nr_cancel *cancel,
                      nr_error *err)
{
    uint32_t n = g->view.n;
    start_job *jobs = n ? nr_calloc(n, sizeof(*jobs)) : NULL;
    void **args = n ? nr_calloc(n, sizeof(*args)) : NULL;
    if (n && (!jobs || !args)) {
        nr_free(jobs);
        nr_free(args);
        return nr_error_set(err, NR_ENOMEM, NULL, "manager start: out of memory");
    }
    for (uint32_t i = 0; i < n; i++)
        jobs[i] = (start_job){m, ents[order[i]], deadline, cancel, NR_OK, 0};
    uint32_t done = 0, failed_at = UINT32_MAX;
    int cut = start_cut(m, cancel);
    while (done < n && failed_at == UINT32_MAX && cut == NR_OK) {
        uint32_t lv = level[order[done]], k = 0;
        while (done + k < n && level[order[done + k]] == lv) {
            args[k] = &jobs[done + k];
            k++;
        }
        nr__run_all(m, start_one, args, k);
        for (uint32_t i = done; i < done + k; i++)
            if (jobs[i].rc != NR_OK && !jobs[i].canceled && failed_at == UINT32_MAX)
                failed_at = i;
        done += k;
        /* also after the last level: a token set while its creates ran */
        cut = start_cut(m, cancel);
    }
    int rc = NR_OK;
    if (failed_at != UINT32_MAX || cut != NR_OK) {
        size_t ndep = mark_dependents(&g->view, jobs, order, ents, n, done);
        size_t nstop = stop_started(jobs, args, done);
        if (failed_at != UINT32_MAX)
            rc = start_failed(jobs[failed_at].e, ndep, nstop, err);
        else
            rc = nr_error_set(err, cut, NULL,
                              "manager start %s: %zu started resource(s) stopped again, "
                              "%zu not started",
                              cut == NR_ECANCELED ? "canceled"
                                                  : "stopped: the manager is shutting down",
                              nstop, (size_t)n - nstop);
    }
    nr_free(jobs);
    nr_free(args);
    return rc;
}

/* After the levels, under m->mu: the background tasks and the phase, or
 * (shut down meanwhile, or out of memory) everything stopped again. */
static int finish_start(nr_manager *m, nr__entry **ents, uint32_t n, int rc, nr_error *err)
{
    int phase = atomic_load_explicit(&m->phase, memory_order_relaxed);
    if (rc == NR_OK && phase != NR__PHASE_STARTING)
        rc = nr_error_set(err, NR_ESHUTDOWN, NULL,
                          "manager start: the manager began shutting down as the start ended");
    else if (rc == NR_OK)
        rc = nr__manager_schedule(m, err);
    if (rc == NR_OK) {
        atomic_store_explicit(&m->phase, NR__PHASE_STARTED, memory_order_release);
        return NR_OK;
    }
    if (phase == NR__PHASE_STARTING) {
        /* not shutting down: stop what runs (a shutdown would stop it) */
        pthread_mutex_unlock(&m->mu);
        for (uint32_t i = n; i-- > 0;)
            if (atomic_load_explicit(&ents[i]->state, memory_order_relaxed) == NR_RS_RUNNING)
                nr__entry_stop_now(m, ents[i]);
        pthread_mutex_lock(&m->mu);
        if (atomic_load_explicit(&m->phase, memory_order_relaxed) == NR__PHASE_STARTING)
            atomic_store_explicit(&m->phase, NR__PHASE_CREATED, memory_order_release);
    }
    return rc;
}

static int start_impl(nr_manager *m, nr_deadline deadline, const nr_cancel *cancel, nr_error *err)
{
    if (!m)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_manager_start: manager must not be NULL");
    pthread_mutex_lock(&m->mu);
    int phase = atomic_load_explicit(&m->phase, memory_order_acquire);
    if (phase != NR__PHASE_CREATED) {
        pthread_mutex_unlock(&m->mu);
        return nr_error_set(err, phase <= NR__PHASE_STARTED ? NR_ESTATE : NR_ESHUTDOWN, NULL,
                            "manager start: the manager is already %s",
                            phase == NR__PHASE_STARTING  ? "starting"
                            : phase == NR__PHASE_STARTED ? "started"
                                                         : "shut down");
    }
    pthread_rwlock_wrlock(&m->lock);
    graph_build g;
    int rc = graph_make(m, &g, err);
    uint32_t n = g.view.n;
    uint32_t *order = NULL, *level = NULL;
    nr__entry **ents = NULL;
    if (rc == NR_OK && n) {
        order = nr_calloc(n, sizeof(*order));
        level = nr_calloc(n, sizeof(*level));
        ents = nr_calloc(n, sizeof(*ents));
        if (!order || !level || !ents)
            rc = nr_error_set(err, NR_ENOMEM, NULL, "manager start: out of memory");
        else
            rc = nr__dag_order(&g.view, order, level, err);
    }
    if (rc == NR_OK)
        for (uint32_t i = 0; i < n; i++) {
            ents[i] = m->list[i];
            ents[i]->level = level[i];
        }
    pthread_rwlock_unlock(&m->lock);
    if (rc != NR_OK) {
        /* name the problem on the resource it is about, too */
        pthread_rwlock_rdlock(&m->lock);
        nr__entry *e = err ? nr__reg_find(m, err->resource_id) : NULL;
        if (e) {
            nr__entry_set_error(e, err);
            atomic_store_explicit(&e->state, NR_RS_FAILED, memory_order_relaxed);
        }
        pthread_rwlock_unlock(&m->lock);
        goto out;
    }
    /* The levels run without m->mu. Register and unregister wait for them
     * (nr__wait_not_starting), so the entries stay; a shutdown sets
     * m->closing and waits for m->starts to reach 0. */
    atomic_store_explicit(&m->phase, NR__PHASE_STARTING, memory_order_release);
    m->starts++;
    pthread_mutex_unlock(&m->mu);
    rc = run_levels(m, &g, order, level, ents, deadline, cancel, err);
    pthread_mutex_lock(&m->mu);
    rc = finish_start(m, ents, n, rc, err);
    m->starts--;
    pthread_cond_broadcast(&m->start_cv);
out:
    graph_free(&g);
    nr_free(order);
    nr_free(level);
    nr_free(ents);
    pthread_mutex_unlock(&m->mu);
    return rc;
}
