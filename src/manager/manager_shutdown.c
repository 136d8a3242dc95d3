/*
 * manager_shutdown.c - phased graceful shutdown, and freeing the manager.
 *
 *   drain      new acquires fail with NR_ESHUTDOWN (manager and every pool);
 *              leases are waited for until the drain deadline
 *   cleanup    idle instances destroyed, level by level from the top of the
 *              dependency graph down (dependents before what they depend on);
 *              within a level every pool closes at once and each instance is
 *              destroyed as its own job on the workers, so slow destroys run
 *              in parallel
 *   terminate  what is still leased is reported: resource id, how many,
 *              how long the oldest has been held; the runtime stops
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "base/abi.h"
#include "manager/manager_internal.h"
#include "nebula/alloc.h"
#include "observe/span.h"

void nr_shutdown_options_default(nr_shutdown_options *o)
{
    nr_shutdown_options d =
        NR_SHUTDOWN_OPTIONS(.drain_timeout_ms = 30000, .cleanup_timeout_ms = 10000);
    nr__abi_default(o, &d, sizeof(d));
}

static int shutdown_impl(nr_manager *m, const nr_shutdown_options *opts, nr_shutdown_report *report,
                         nr_error *err);

int nr_manager_shutdown(nr_manager *m, const nr_shutdown_options *opts, nr_shutdown_report *report,
                        nr_error *err)
{
    nr__span span;
    nr__span_begin(&span, NR_TRACE_LEVEL_INFO, "shutdown", NULL, NULL, NULL);
    int rc = shutdown_impl(m, opts, report, err);
    nr__span_end_err(&span, rc, err, NULL);
    return rc;
}

static int shutdown_impl(nr_manager *m, const nr_shutdown_options *opts, nr_shutdown_report *report,
                         nr_error *err)
{
    nr_shutdown_report rep;
    memset(&rep, 0, sizeof(rep));
    rep.size = sizeof(rep);
    if (!m)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_manager_shutdown: manager must not be NULL");
    if (report) {
        int rc = NR__ABI_OUT_CHECK(report, nr_shutdown_report, NR_SHUTDOWN_REPORT_INIT, err);
        if (rc)
            return rc;
    }
    nr_shutdown_options o = NR_SHUTDOWN_OPTIONS_INIT;
    if (opts) {
        int rc = NR__ABI_IN(&o, opts, nr_shutdown_options, NR_SHUTDOWN_OPTIONS_INIT, err);
        if (rc)
            return rc;
    } else {
        nr_shutdown_options_default(&o);
    }
    pthread_mutex_lock(&m->mu);
    if (atomic_load_explicit(&m->phase, memory_order_acquire) >= NR__PHASE_STOPPING) {
        pthread_mutex_unlock(&m->mu);
        if (report)
            nr__abi_out(report, &rep, sizeof(rep));
        return NR_OK;
    }
    /* First the token, then the phase: a round that sees either stops at its
     * next step, so the wait for a running round below is at most the check
     * or create it is in (a driver callback is not interrupted). */
    nr_cancel_trigger(m->closing);
    atomic_store_explicit(&m->phase, NR__PHASE_STOPPING, memory_order_release);
    nr__manager_unschedule(m);
    /* A start running now stops at its next step (it looks at m->closing
     * before each create) and puts back what it started; waited for here so
     * that the snapshot below sees every pool. */
    while (m->starts)
        pthread_cond_wait(&m->start_cv, &m->mu);
    pthread_mutex_unlock(&m->mu);

    int64_t t0 = nr_now_ns();
    uint32_t max_level;
    nr__entry **list;
    size_t nall = nr__entries_snapshot(m, 0, &list, &max_level), n = nall;

    /* Every entry stops taking new pools (under e->mu, which pool creation
     * checks), then its pools are listed once for all three phases. */
    nr_pool ***epools = n ? nr_calloc(n, sizeof(*epools)) : NULL;
    size_t *enp = n ? nr_calloc(n, sizeof(*enp)) : NULL;
    if (n && (!epools || !enp)) {
        nr_free(epools);
        nr_free(enp);
        epools = NULL;
        enp = NULL;
        n = 0; /* out of memory: nothing can be walked; destroy still frees */
        rep.cleanup_timed_out = true;
    }
    for (size_t i = 0; i < n; i++) {
        nr__entry *e = list[i];
        pthread_mutex_lock(&e->mu);
        if (atomic_load_explicit(&e->state, memory_order_relaxed) == NR_RS_RUNNING)
            atomic_store_explicit(&e->state, NR_RS_STOPPING, memory_order_relaxed);
        pthread_mutex_unlock(&e->mu);
        epools[i] = nr__entry_pools(e, &enp[i]);
    }

    /* ---- drain ---- */
    nr__manager_event(m, NR_EV_SHUTDOWN_PHASE, NULL, NULL, (int64_t)n, nr_now_ns() - t0, "drain");
    nr_deadline drain_dl = nr_deadline_in_ms(o.drain_timeout_ms);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < enp[i]; k++)
            nr_pool_quiesce(epools[i][k]);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < enp[i]; k++)
            if (nr_pool_wait_returned(epools[i][k], drain_dl, NULL) != NR_OK)
                rep.drain_timed_out = true;
    rep.drain_ns = nr_now_ns() - t0;

    /* ---- cleanup: from the highest level down ---- */
    int64_t t1 = nr_now_ns();
    nr__manager_event(m, NR_EV_SHUTDOWN_PHASE, NULL, NULL, (int64_t)n, t1 - t0,
                      rep.drain_timed_out ? "cleanup (the drain timed out)" : "cleanup");
    nr_deadline clean_dl = nr_deadline_in_ms(o.cleanup_timeout_ms);
    for (uint32_t lv = max_level + 1; lv-- > 0;) {
        uint64_t before = 0, after = 0;
        for (size_t i = 0; i < n; i++) {
            if (list[i]->level != lv)
                continue;
            for (size_t k = 0; k < enp[i]; k++) {
                nr_pool_stats st = NR_POOL_STATS_INIT;
                nr_pool_stats_get(epools[i][k], &st);
                before += st.destroys;
                nr_pool_close_on(epools[i][k], &m->executor);
            }
        }
        /* wait until this level's destroy jobs are done */
        for (size_t i = 0; i < n; i++) {
            if (list[i]->level != lv)
                continue;
            for (size_t k = 0; k < enp[i]; k++) {
                nr_pool_stats st = NR_POOL_STATS_INIT;
                for (;;) {
                    nr_pool_stats_get(epools[i][k], &st);
                    if (st.destroying == 0)
                        break;
                    if (nr_deadline_expired(clean_dl)) {
                        rep.cleanup_timed_out = true;
                        break;
                    }
                    nr_sleep_ns(200 * NR_NS_PER_US);
                }
                after += st.destroys;
            }
        }
        rep.destroyed += (uint32_t)(after - before);
    }
    rep.cleanup_ns = nr_now_ns() - t1;

    /* ---- terminate ---- */
    nr__manager_event(m, NR_EV_SHUTDOWN_PHASE, NULL, NULL, (int64_t)n, nr_now_ns() - t0,
                      rep.cleanup_timed_out ? "terminate (the cleanup timed out)" : "terminate");
    char first[NR_ERROR_MESSAGE_MAX] = "";
    for (size_t i = 0; i < n; i++) {
        nr__entry *e = list[i];
        uint32_t leases = 0;
        int64_t oldest = 0;
        for (size_t k = 0; k < enp[i]; k++) {
            nr_pool_stats st = NR_POOL_STATS_INIT;
            nr_pool_stats_get(epools[i][k], &st);
            leases += st.in_use + st.creating;
            if (st.oldest_lease_ns > oldest)
                oldest = st.oldest_lease_ns;
        }
        atomic_store_explicit(&e->state, NR_RS_STOPPED, memory_order_relaxed);
        if (!leases)
            continue;
        if (rep.nleftovers < NR_SHUTDOWN_LEFTOVERS_MAX) {
            nr_shutdown_leftover *l = &rep.leftovers[rep.nleftovers];
            snprintf(l->id, sizeof(l->id), "%s", e->id);
            l->leases = leases;
            l->oldest_lease_ns = oldest;
        }
        if (!rep.nleftovers)
            snprintf(first, sizeof(first), "'%s' has %u lease(s) out, the oldest for %lld ms",
                     e->id, leases, (long long)(oldest / NR_NS_PER_MS));
        rep.nleftovers++;
    }
    for (size_t i = 0; i < n; i++)
        nr_free(epools[i]);
    nr_free(epools);
    nr_free(enp);
    nr__entries_put(list, nall);

    /* Jobs the pools handed over (destroys, creates) keep running past the
     * cleanup deadline: an executor runs what it took, exactly once, and a
     * dropped destroy would leave its instance open and its pool waiting
     * for it forever. nr_manager_destroy waits for them. */
    nr__runtime_stop_keep(m->rt, nr_deadline_in_ms(o.cleanup_timeout_ms), NULL);
    nr__runtime_stop_keep(m->crt, nr_deadline_in_ms(o.cleanup_timeout_ms), NULL);
    atomic_store_explicit(&m->phase, NR__PHASE_STOPPED, memory_order_release);
    rep.total_ns = nr_now_ns() - t0;
    char done[NR_EVENT_TEXT_MAX];
    snprintf(done, sizeof(done), "stopped: %zu resource(s) with leases out", rep.nleftovers);
    nr__manager_event(m, NR_EV_SHUTDOWN_PHASE, NULL, NULL, (int64_t)rep.nleftovers, rep.total_ns,
                      rep.nleftovers ? done : "stopped");
    if (report)
        nr__abi_out(report, &rep, sizeof(rep));
    if (rep.nleftovers)
        return nr_error_set(err, NR_ETIMEDOUT, NULL,
                            "shutdown: %zu resource(s) still have leases out at terminate: %s%s",
                            rep.nleftovers, first, rep.nleftovers > 1 ? ", ..." : "");
    if (rep.cleanup_timed_out)
        return nr_error_set(err, NR_ETIMEDOUT, NULL,
                            "shutdown: cleanup did not finish within %lld ms",
                            (long long)o.cleanup_timeout_ms);
    return NR_OK;
}

int nr_manager_destroy(nr_manager *m, nr_error *err)
{
    if (!m)
        return NR_OK;
    nr_manager_shutdown(m, NULL, NULL, NULL);
    /* The jobs shutdown left queued (destroys and creates past its cleanup
     * deadline) run to the end first: the pools count them as theirs. */
    nr__runtime_stop(m->crt, nr_deadline_never(), NULL);
    nr__runtime_stop(m->rt, nr_deadline_never(), NULL);
    /* Everything must be back before anything is freed. This is the last
     * call on the manager, so nobody else is inside it: no lock is taken,
     * and driver callbacks (destroys of late returns) run unlocked. */
    int busy = 0;
    for (size_t i = 0; i < m->count && !busy; i++)
        busy = nr__entry_destroy_pools(m->list[i]) != NR_OK;
    for (nr__entry *e = m->retired; e && !busy; e = e->retired_next)
        busy = nr__entry_destroy_pools(e) != NR_OK;
    if (busy) {
        return nr_error_set(err, NR_EBUSY, NULL,
                            "manager destroy: leases are still out; give them back and call "
                            "again");
    }
    nr__metrics_teardown(m);
    /* Join the runtime first: a job still running after a timed-out stop
     * must finish before the entries it may touch are freed. */
    nr__runtime_destroy(m->rt);
    m->rt = NULL;
    nr__runtime_destroy(m->crt);
    m->crt = NULL;
    nr_cancel_destroy(m->closing); /* no job or round is left to look at it */
    for (size_t i = 0; i < m->count; i++)
        nr__entry_free(m->list[i]);
    for (nr__entry *e = m->retired, *next; e; e = next) {
        next = e->retired_next;
        nr__entry_free(e);
    }
    nr__kept_free_all(m);
    nr__groups_free(m);
    nr__reg_free(m);
    pthread_rwlock_destroy(&m->lock);
    pthread_mutex_destroy(&m->cascade_mu);
    pthread_mutex_destroy(&m->group_q_mu);
    pthread_cond_destroy(&m->start_cv);
    pthread_mutex_destroy(&m->retired_mu);
    pthread_mutex_destroy(&m->mu);
    nr_free(m);
    return NR_OK;
}
