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
    uint32_t limit, held, nqueued, nshed;
    uint32_t idle_wanted; /* idle instances any member may give up for the queue */
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
    b->limit = limit;
    return b;
}

void nr__budget_free(nr__budget *b)
{
    if (!b)
        return;
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

/* [p->mu] Whether an idle instance of p should go for the queue: one of
 * p's own requests (over its share), or one of the idle places any member
 * may give up; the request is used up. */
static int idle_request_locked(nr_pool *p)
{
    nr__budget_member *m = p->bm;
    nr__budget *b = m->b;
    pthread_mutex_lock(&b->mu);
    int yes = 0;
    if (b->q_head) {
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
        nr__pool_event(p, NR_EV_CLEANED_UP, 0, 0, n, NR_OK, "max_total: room for another tenant");
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

/* [b->mu] Hand free places to the queue, one per member per turn. */
static void grant_locked(nr__budget *b)
{
    while (b->q_head && (b->limit == 0 || b->held < b->limit)) {
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
    if (b->limit == 0)
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
    grant_locked(b);
    while (m->jobs)
        pthread_cond_wait(&b->jobs_done, &b->mu);
    pthread_mutex_unlock(&b->mu);
    p->bm = NULL;
    nr_free(m);
}

void nr__budget_set_limit(nr__budget *b, uint32_t limit)
{
    pthread_mutex_lock(&b->mu);
    b->limit = limit;
    grant_locked(b);
    pthread_mutex_unlock(&b->mu);
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
        uint32_t room = b->limit == 0 ? rest : b->held < b->limit ? b->limit - b->held : 0;
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
        m->held -= expect - counted;
        b->held -= expect - counted;
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
    int yes = 0;
    if (m->shed && b->q_head) {
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
    int yes = m->shed > 0 && m->b->q_head != NULL;
    pthread_mutex_unlock(&m->b->mu);
    return yes;
}
