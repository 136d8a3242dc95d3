/* harness_worker.c - one worker of a harness run: acquire, stamp, body,
 * hold, unstamp, give back; every outcome accounted for. */
#include <string.h>

#include "harness_internal.h"

static int acquire(nr__harness_run *run, const nr_ctx *ctx, nr_guard *g, nr_error *err)
{
    if (run->o.pool)
        return nr_pool_acquire(run->o.pool, ctx, g, err);
    return nr_manager_acquire(run->o.manager, run->o.resource_id, ctx, g, err);
}

static void post_token(nr__harness_slot *s, nr_cancel *token)
{
    pthread_mutex_lock(&s->mu);
    s->token = token;
    pthread_mutex_unlock(&s->mu);
}

/* An error outcome: counted, and a break of `lost` unless it is one a pool
 * may answer under this run's load and faults. */
static void failed(nr__harness_worker *w, uint32_t op, int rc, const nr_error *err)
{
    nr__harness_run *run = w->run;
    nr_harness_report *c = &w->counts;
    switch (rc) {
    case NR_ETIMEDOUT:
        c->timedout++;
        return;
    case NR_ECANCELED:
        c->canceled++;
        return;
    case NR_EEXHAUSTED:
        c->exhausted++;
        return;
    case NR_EUNAVAIL:
        c->unavailable++;
        if (run->allow_unavail || run->allow_unhealthy)
            return;
        break;
    case NR_EHEALTH:
        c->unhealthy++;
        if (run->allow_unhealthy)
            return;
        break;
    default:
        c->other_errors++;
        break;
    }
    nr__harness_violation(run, NR_INV_LOST, "thread %u op %u: acquire failed with %s: %s", w->index,
                          op, nr_err_name(rc), err->message);
}

/* Without a mock: h joins the handles leased now; a break of
 * double_handout when it is there already. */
static void track(nr__harness_worker *w, uint32_t op, void *h)
{
    nr__harness_run *run = w->run;
    pthread_mutex_lock(&run->mu);
    bool twice = false;
    for (uint32_t i = 0; i < run->nheld && !twice; i++)
        twice = run->held[i] == h;
    /* a second entry for a double hand-out (untrack drops one); at most one
     * per worker: a lease a body took out of its guard stays in the set, so
     * the set is full only when every worker leaked one, and then nothing
     * more is tracked (lost has been reported for each) */
    if (run->nheld < run->o.threads)
        run->held[run->nheld++] = h;
    pthread_mutex_unlock(&run->mu);
    if (twice)
        nr__harness_violation(run, NR_INV_DOUBLE_HANDOUT,
                              "thread %u op %u: handed out %p while another lease held it",
                              w->index, op, h);
}

static void untrack(nr__harness_run *run, void *h)
{
    pthread_mutex_lock(&run->mu);
    for (uint32_t i = 0; i < run->nheld; i++) {
        if (run->held[i] == h) {
            run->held[i] = run->held[--run->nheld];
            break;
        }
    }
    pthread_mutex_unlock(&run->mu);
}

/* Check the handle a lease got and stamp it. false when it must not be
 * touched again (not a live mock handle). */
static bool stamp(nr__harness_worker *w, uint32_t op, nr_mock_handle *h)
{
    if (!w->run->o.mock) {
        track(w, op, h);
        return true;
    }
    if (!nr_mock_handle_alive(h)) {
        nr__harness_violation(w->run, NR_INV_STALE_HANDLE,
                              "thread %u op %u: handed out %p, which is not a live mock handle",
                              w->index, op, (void *)h);
        return false;
    }
    int before = nr_mock_hold(h);
    if (before != 0)
        nr__harness_violation(w->run, NR_INV_DOUBLE_HANDOUT,
                              "thread %u op %u: handed out instance %llu while %d other "
                              "lease(s) held it",
                              w->index, op, (unsigned long long)h->serial, before);
    return true;
}

static void give_back(nr__harness_worker *w, uint32_t op, nr_guard *g, bool taint)
{
    nr_harness_report *c = &w->counts;
    int rc = taint ? nr_guard_taint(g) : nr_guard_release(g);
    if (rc == NR_OK) {
        if (taint)
            c->tainted++;
        else
            c->released++;
        return;
    }
    nr__harness_violation(w->run, NR_INV_LOST, "thread %u op %u: %s returned %s", w->index, op,
                          taint ? "nr_guard_taint" : "nr_guard_release", nr_err_name(rc));
}

static void one_op(nr__harness_worker *w, uint32_t op, uint64_t *rng)
{
    nr__harness_run *run = w->run;
    const nr_harness_options *o = &run->o;
    nr__harness_slot *slot = &run->slots[w->index];
    /* every draw is made whatever the outcome, so that the sequence per
     * (seed, thread, op) does not depend on the interleaving */
    uint64_t r_hold = nr__harness_draw(rng), r_cancel = nr__harness_draw(rng),
             r_taint = nr__harness_draw(rng);
    int64_t hold_us = o->hold_max_us ? (int64_t)(r_hold % (uint64_t)(o->hold_max_us + 1)) : 0;
    bool with_cancel = (int)(r_cancel % 1000) < o->cancel_permille;
    bool taint = (int)(r_taint % 1000) < o->taint_permille;

    nr_cancel *token = NULL;
    if (with_cancel && nr_cancel_create(&token, NULL, NULL) == NR_OK)
        post_token(slot, token);
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(o->deadline_ms), .cancel = token);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    w->counts.acquires++;
    int rc = acquire(run, &ctx, &g, &err);
    int64_t late = nr_now_ns() - ctx.deadline.at_ns;
    if (token) {
        post_token(slot, NULL);
        nr_cancel_destroy(token);
    }
    if (late > w->counts.latest_ns)
        w->counts.latest_ns = late;
    if (late > o->slack_ms * NR_NS_PER_MS)
        nr__harness_violation(run, NR_INV_DEADLINE,
                              "thread %u op %u: acquire (%s) returned %lld ms after its %lld ms "
                              "deadline (slack %lld ms)",
                              w->index, op, nr_err_name(rc), (long long)(late / NR_NS_PER_MS),
                              (long long)o->deadline_ms, (long long)o->slack_ms);
    if (rc != NR_OK) {
        failed(w, op, rc, &err);
        return;
    }
    w->counts.acquired++;
    nr_mock_handle *h = nr_guard_handle(&g);
    bool stamped = stamp(w, op, h);
    if (o->body && o->body(o->body_ud, &g, w->index, op) == NR_HARNESS_TAINT)
        taint = true;
    if (hold_us)
        nr_sleep_ns(hold_us * NR_NS_PER_US);
    if (!nr_guard_held(&g)) {
        /* the body took the lease: it is still out, and so is the stamp */
        nr__harness_violation(run, NR_INV_LOST,
                              "thread %u op %u: the lease left its guard and was not given back",
                              w->index, op);
        return;
    }
    if (stamped && run->o.mock)
        nr_mock_unhold(h);
    else if (stamped)
        untrack(run, h);
    give_back(w, op, &g, taint);
}

void *nr__harness_worker_main(void *arg)
{
    nr__harness_worker *w = arg;
    uint64_t rng = w->run->seed ^ nr__mock_mix(0x5EED0000ULL + w->index);
    for (uint32_t op = 0; op < w->run->o.ops; op++)
        one_op(w, op, &rng);
    atomic_fetch_add(&w->run->workers_done, 1);
    return NULL;
}
