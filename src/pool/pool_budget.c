/*
 * pool_budget.c - places shared by several pools (see pool_budget.h).
 *
 * Accounting, under b->mu:
 *     b->held == the sum of the members' held
 *     m->held == what m's pool counts (total + destroying) + m->granted,
 *                as of m's last take or sync
 *     a member is queued at most once; while any is, no place is free
 *     (held >= limit): every place freed goes to the queue's head first
 * A member's jobs (starting its creates after a grant, giving up idle
 * instances after a shed request) are counted in m->jobs; leaving waits
 * for them, so a job always finds its pool alive.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>

#include "nebula/alloc.h"
#include "pool/pool_budget.h"
#include "pool/pool_internal.h"

struct nr__budget_member {
    nr__budget *b;
    nr_pool *pool;
    uint32_t held;    /* places it holds, granted ones included */
    uint32_t granted; /* handed to it while it was queued, not yet used by a create */
    uint32_t want;    /* places it still queues for */
    uint32_t shed;    /* places it was asked to give up */
    uint32_t jobs;    /* its jobs submitted and not yet finished */
    int idle_job;     /* a shed job is submitted and has not yet looked */
    int queued;
    nr__budget_member *qnext;       /* the queue */
    nr__budget_member *prev, *next; /* every member */
};

struct nr__budget {
    pthread_mutex_t mu;
    pthread_cond_t jobs_done; /* a member's last job ended */
    pthread_cond_t queued;    /* a member queued (nr__budget_wait) */
    uint64_t queue_gen;       /* queuings so far */
    uint32_t limit;           /* NR__BUDGET_NO_CAP: no cap */
    uint32_t held, nqueued, nshed, nmembers;
    int woken;             /* nr__budget_wake: the next (or current) wait returns */
    int shed_over;         /* places held above the limit are given up (nr__budget_set_shed) */
    uint32_t over_pending; /* instances retired for that whose place is not yet back */
    uint32_t idle_wanted;  /* idle instances any member may give up for the queue */
    nr__budget_member *q_head, *q_tail;
    nr__budget_member *members;
};

nr__budget *nr__budget_new(uint32_t limit)
{
    nr__budget *b = nr_calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->jobs_done, NULL);
    pthread_condattr_t ca; /* the wait for a queuing is timed on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->queued, &ca);
    pthread_condattr_destroy(&ca);
    b->limit = limit ? limit : NR__BUDGET_NO_CAP;
    return b;
}

void nr__budget_free(nr__budget *b)
{
    if (!b)
        return;
    pthread_cond_destroy(&b->queued);
    pthread_cond_destroy(&b->jobs_done);
    pthread_mutex_destroy(&b->mu);
    nr_free(b);
}

void nr__budget_counts(nr__budget *b, uint32_t *held, uint32_t *queued)
{
    pthread_mutex_lock(&b->mu);
    *held = b->held;
    *queued = b->nqueued;
    pthread_mutex_unlock(&b->mu);
}

void nr__budget_counts_full(nr__budget *b, nr__budget_counts_t *out)
{
    pthread_mutex_lock(&b->mu);
    out->limit = b->limit;
    out->held = b->held;
    out->queued = b->nqueued;
    out->wanted = 0;
    for (nr__budget_member *x = b->q_head; x; x = x->qnext)
        out->wanted += x->want;
    out->members = b->nmembers;
    out->queue_gen = b->queue_gen;
    pthread_mutex_unlock(&b->mu);
}

uint64_t nr__budget_wait_queued(nr__budget *b, uint64_t seen, int64_t timeout_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (timeout_ns > 0 ? timeout_ns : 0);
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&b->mu);
    while (b->queue_gen == seen && !b->woken)
        if (pthread_cond_timedwait(&b->queued, &b->mu, &ts) != 0)
            break;
    b->woken = 0;
    uint64_t gen = b->queue_gen;
    pthread_mutex_unlock(&b->mu);
    return gen;
}

void nr__budget_wake(nr__budget *b)
{
    pthread_mutex_lock(&b->mu);
    b->woken = 1;
    pthread_cond_broadcast(&b->queued);
    pthread_mutex_unlock(&b->mu);
}

/* ---- jobs ---- */

static void job_done(nr__budget_member *m)
{
    nr__budget *b = m->b;
    pthread_mutex_lock(&b->mu);
    if (--m->jobs == 0)
        pthread_cond_broadcast(&b->jobs_done);
    pthread_mutex_unlock(&b->mu);
}

/* A place was granted to the pool: start the creates it allows. */
static void kick_job(void *arg)
{
    nr__budget_member *m = arg;
    nr_pool *p = m->pool;
    nr__pool_lock(p);
    uint32_t more = nr__creator_plan_locked(p, 0);
    nr__budget_sync_locked(p); /* grants nobody needs any more go on */
    nr__pool_unlock(p);
    if (more)
        nr__creator_start(p, more);
    job_done(m);
}

/* [b->mu] Places held above the limit that no retired instance is yet
 * giving back, when the budget sheds them (0 otherwise). */
static uint32_t excess_locked(const nr__budget *b)
{
    if (!b->shed_over || b->held <= b->limit)
        return 0;
    uint32_t over = b->held - b->limit;
    return over > b->over_pending ? over - b->over_pending : 0;
}

/* [b->mu] An instance goes for the excess: its place is counted as coming back. */
static int take_excess_locked(nr__budget *b)
{
    if (!excess_locked(b))
        return 0;
    b->over_pending++;
    return 1;
}

/* [p->mu] Whether an idle instance of p should go for the queue: one of
 * p's own requests (over its share), or one of the idle places any member
 * may give up; the request is used up. */
static int idle_request_locked(nr_pool *p)
{
    nr__budget_member *m = p->bm;
    nr__budget *b = m->b;
    pthread_mutex_lock(&b->mu);
    int yes = take_excess_locked(b);
    if (!yes && b->q_head) {
        if (m->shed) {
            yes = 1;
            if (--m->shed == 0)
                b->nshed--;
        } else if (b->idle_wanted) {
            yes = 1;
            b->idle_wanted--;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return yes;
}

/* The pool was asked to give places up: its idle instances go now, and
 * its give-backs are checked (`shrinking`) until the requests are met. */
static void shed_job(void *arg)
{
    nr__budget_member *m = arg;
    nr_pool *p = m->pool;
    struct nr__instance *list = NULL;
    uint32_t n = 0;
    nr__pool_lock(p);
    pthread_mutex_lock(&m->b->mu);
    m->idle_job = 0; /* a request after this look submits another job */
    pthread_mutex_unlock(&m->b->mu);
    nr__bag_flush_locked(p);
    while (p->idle_head || p->deg_head) {
        if (!idle_request_locked(p))
            break;
        struct nr__instance *inst = nr__retire_one_locked(p);
        if (!inst)
            break;
        inst->next = list;
        list = inst;
        n++;
    }
    if (nr__budget_shedding_locked(p))
        atomic_store_explicit(&p->shrinking, 1, memory_order_relaxed);
    nr__pool_assert_locked_invariants(p);
    nr__pool_unlock(p);
    if (n) {
        nr__pool_event(p, NR_EV_CLEANED_UP, 0, 0, n, NR_OK,
                       m->b->shed_over ? "budget: places given up for the limit or another pool"
                                       : "max_total: room for another tenant");
        nr__destroy_list(p, list, n);
    }
    job_done(m);
}

/* [b->mu] Run fn for m on its pool's executor. A refused job is dropped:
 * the pool's own next plan or give-back does its work. */
static int submit_locked(nr__budget_member *m, void (*fn)(void *))
{
    const nr_executor *ex = &m->pool->executor;
    m->jobs++;
    if (!ex->submit || ex->submit(ex->ud, fn, m) != 0) {
        m->jobs--;
        return 0;
    }
    return 1;
}

/* ---- the queue ---- */

static void enqueue_locked(nr__budget *b, nr__budget_member *m)
{
    m->queued = 1;
    m->qnext = NULL;
    if (b->q_tail)
        b->q_tail->qnext = m;
    else
        b->q_head = m;
    b->q_tail = m;
    b->nqueued++;
    b->queue_gen++;
    pthread_cond_broadcast(&b->queued);
}

static nr__budget_member *dequeue_locked(nr__budget *b)
{
    nr__budget_member *m = b->q_head;
    if (!m)
        return NULL;
    b->q_head = m->qnext;
    if (!b->q_head)
        b->q_tail = NULL;
    m->qnext = NULL;
    m->queued = 0;
    b->nqueued--;
    return m;
}

static void unqueue_locked(nr__budget *b, nr__budget_member *m)
{
    nr__budget_member **at = &b->q_head, *prev = NULL;
    while (*at && *at != m) {
        prev = *at;
        at = &(*at)->qnext;
    }
    if (!*at)
        return;
    *at = m->qnext;
    if (b->q_tail == m)
        b->q_tail = prev;
    m->qnext = NULL;
    m->queued = 0;
    b->nqueued--;
}

/* [b->mu] Nobody queues any more: the requests to give places up end. */
static void end_sheds_locked(nr__budget *b)
{
    if (b->q_head)
        return;
    b->idle_wanted = 0;
    if (!b->nshed)
        return;
    for (nr__budget_member *m = b->members; m && b->nshed; m = m->next)
        if (m->shed) {
            m->shed = 0;
            b->nshed--;
        }
}

/* [b->mu] Held above the limit and shedding: the members holding
 * instances look for idle ones to give up, and mark their give-backs. */
static void kick_excess_locked(nr__budget *b)
{
    if (!excess_locked(b))
        return;
    for (nr__budget_member *x = b->members; x; x = x->next)
        if (x->held > x->granted && !x->idle_job)
            x->idle_job = submit_locked(x, shed_job);
}

/* [b->mu] Hand free places to the queue, one per member per turn. */
static void grant_locked(nr__budget *b)
{
    while (b->q_head && b->held < b->limit) {
        nr__budget_member *m = dequeue_locked(b);
        m->granted++;
        m->held++;
        b->held++;
        if (m->want)
            m->want--;
        if (m->want)
            enqueue_locked(b, m);
        submit_locked(m, kick_job);
    }
    end_sheds_locked(b);
}

/* [b->mu] Ask for places for the queue (m just queued for n): an idle
 * instance of any other member first, then the instances of members over
 * their fair share as they are given back. */
static void ask_shed_locked(nr__budget *b, nr__budget_member *m, uint32_t n)
{
    if (b->limit == NR__BUDGET_NO_CAP)
        return;
    uint32_t wanted = 0;
    for (nr__budget_member *x = b->q_head; x; x = x->qnext)
        wanted += x->want;
    b->idle_wanted = wanted;
    /* members holding an instance (at most limit of them) look for idle ones */
    for (nr__budget_member *x = b->members; x; x = x->next)
        if (x != m && x->held > x->granted && !x->idle_job) {
            x->idle_job = submit_locked(x, shed_job);
        }
    uint32_t active = 0;
    for (nr__budget_member *x = b->members; x; x = x->next)
        active += x->held > 0 || x->queued;
    uint32_t share = active ? b->limit / active : b->limit;
    if (share == 0)
        share = 1;
    /* Places already asked for count towards n. */
    uint32_t asked = 0;
    for (nr__budget_member *x = b->members; x; x = x->next)
        asked += x->shed;
    while (asked < n) {
        nr__budget_member *v = NULL;
        uint32_t most = 0;
        for (nr__budget_member *x = b->members; x; x = x->next) {
            uint32_t keep = share + x->shed;
            if (x != m && x->held > keep && x->held - keep > most) {
                most = x->held - keep;
                v = x;
            }
        }
        if (!v)
            return;
        if (v->shed++ == 0) {
            b->nshed++;
            if (!v->idle_job)
                v->idle_job = submit_locked(v, shed_job);
        }
        asked++;
    }
}

/* ---- membership ---- */

int nr__pool_budget_join(nr_pool *p, nr__budget *b, nr_error *err)
{
    nr__budget_member *m = nr_calloc(1, sizeof(*m));
    if (!m)
        return nr_error_set(err, NR_ENOMEM, p->id, "pool '%s': out of memory", p->id);
    m->b = b;
    m->pool = p;
    nr__pool_lock(p);
    pthread_mutex_lock(&b->mu);
    m->held = p->total + p->destroying;
    b->held += m->held;
    m->next = b->members;
    if (b->members)
        b->members->prev = m;
    b->members = m;
    b->nmembers++;
    pthread_mutex_unlock(&b->mu);
    p->bm = m;
    nr__pool_unlock(p);
    return NR_OK;
}

void nr__budget_leave(nr_pool *p)
{
    nr__budget_member *m = p->bm;
    if (!m)
        return;
    nr__budget *b = m->b;
    pthread_mutex_lock(&b->mu);
    if (m->queued)
        unqueue_locked(b, m);
    m->want = 0;
    if (m->shed) {
        m->shed = 0;
        b->nshed--;
    }
    b->held -= m->held;
    m->held = 0;
    m->granted = 0;
    /* unlinked first, so no grant or request reaches it while its jobs end */
    if (m->prev)
        m->prev->next = m->next;
    else
        b->members = m->next;
    if (m->next)
        m->next->prev = m->prev;
    b->nmembers--;
    grant_locked(b);
    while (m->jobs)
        pthread_cond_wait(&b->jobs_done, &b->mu);
    pthread_mutex_unlock(&b->mu);
    p->bm = NULL;
    nr_free(m);
}

void nr__budget_set_limit(nr__budget *b, uint32_t limit)
{
    nr__budget_set_cap(b, limit ? limit : NR__BUDGET_NO_CAP);
}

void nr__budget_set_cap(nr__budget *b, uint32_t cap)
{
    pthread_mutex_lock(&b->mu);
    b->limit = cap;
    grant_locked(b);
    kick_excess_locked(b);
    pthread_mutex_unlock(&b->mu);
}

void nr__budget_set_shed(nr__budget *b, int on)
{
    pthread_mutex_lock(&b->mu);
    b->shed_over = on;
    if (!on)
        b->over_pending = 0;
    kick_excess_locked(b);
    pthread_mutex_unlock(&b->mu);
}

uint32_t nr__budget_lower_to(nr__budget *b, uint32_t cap)
{
    pthread_mutex_lock(&b->mu);
    if (cap < b->held)
        cap = b->held;
    if (cap < b->limit)
        b->limit = cap;
    cap = b->limit;
    pthread_mutex_unlock(&b->mu);
    return cap;
}

/* ---- the pool's side ---- */

uint32_t nr__budget_take_locked(nr_pool *p, uint32_t n, int queue)
{
    NR__ASSERT_LOCKED(p);
    nr__budget_member *m = p->bm;
    if (!m || n == 0)
        return n;
    nr__budget *b = m->b;
    pthread_mutex_lock(&b->mu);
    uint32_t k = n < m->granted ? n : m->granted;
    m->granted -= k;
    uint32_t rest = n - k;
    if (rest && !b->q_head) {
        uint32_t room = b->held < b->limit ? b->limit - b->held : 0;
        if (room > rest)
            room = rest;
        m->held += room;
        b->held += room;
        k += room;
        rest -= room;
    }
    if (rest && queue) {
        m->want = rest;
        if (!m->queued)
            enqueue_locked(b, m);
        ask_shed_locked(b, m, b->nqueued > rest ? b->nqueued : rest);
    }
    pthread_mutex_unlock(&b->mu);
    return k;
}

void nr__budget_sync_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    nr__budget_member *m = p->bm;
    if (!m)
        return;
    nr__budget *b = m->b;
    pthread_mutex_lock(&b->mu);
    uint32_t counted = p->total + p->destroying;
    if (p->waiters <= p->creating_async && m->granted) {
        /* nobody left to create for: the grants go on to the next pool */
        m->held -= m->granted;
        b->held -= m->granted;
        m->granted = 0;
        if (m->queued)
            unqueue_locked(b, m);
        m->want = 0;
    }
    uint32_t expect = m->held - m->granted;
    if (counted < expect) {
        uint32_t back = expect - counted;
        m->held -= back;
        b->held -= back;
        b->over_pending -= back < b->over_pending ? back : b->over_pending;
    } else if (counted > expect) { /* a place taken without asking: count it */
        m->held += counted - expect;
        b->held += counted - expect;
    }
    grant_locked(b);
    pthread_mutex_unlock(&b->mu);
}

int nr__budget_shed_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    nr__budget_member *m = p->bm;
    if (!m)
        return 0;
    nr__budget *b = m->b;
    pthread_mutex_lock(&b->mu);
    int yes = take_excess_locked(b);
    if (!yes && m->shed && b->q_head) {
        yes = 1;
        if (--m->shed == 0)
            b->nshed--;
    }
    pthread_mutex_unlock(&b->mu);
    return yes;
}

int nr__budget_shedding_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    nr__budget_member *m = p->bm;
    if (!m)
        return 0;
    pthread_mutex_lock(&m->b->mu);
    int yes = (m->shed > 0 && m->b->q_head != NULL) || excess_locked(m->b) > 0;
    pthread_mutex_unlock(&m->b->mu);
    return yes;
}
