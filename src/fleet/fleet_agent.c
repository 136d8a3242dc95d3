/*
 * fleet_agent.c - the agent: one thread per fleet budget that keeps the
 * local budget's limit equal to the leases this process holds in Redis.
 *
 * States (f->up, f->fallback):
 *
 *     up ──script fails──> down ──(fail_closed: the TTL of the leases
 *      ^                    │      believed held ran out; fail_open: at
 *      │                    │      once)──> down + fallback
 *      └──script succeeds───┴───────────────────┘
 *
 * Up, each step (after a pool queued, or when a timer is due):
 *   - during a grace: hold what is held (and the leases kept), ask for no
 *     more, min_per_process included
 *   - pools want places: ask for held + wanted; the limit is raised to what
 *     Redis granted, after it granted it
 *   - leases beyond max(held, min_per_process) for release_after_ms (at
 *     once when the fleet is over its budget): the limit is lowered first
 *     (nr_budget_lower_to, never below what is held), then they go back
 *   - capped (a live process is starved of its minimum and this one holds
 *     more than its share): the limit drops to the cap, the places above it
 *     are given up as instances come back (nr_budget_set_shed), and the
 *     leases follow the places held down to the cap, never before them
 *   - otherwise, every renew_interval_ms: the leases are renewed
 *   - Redis answers fewer leases than believed (they expired while this
 *     process was cut off): the limit drops to them, and places above it
 *     are given up as instances free up (nr_budget_set_shed)
 * Down: every step retries, asking only for what is held or believed held
 * (re-established first, under the same slot ids).
 *
 * The grace (grace_ns, docs/fleet.md "The grace"): it starts at the first
 * script (nr_fleet_create), when Redis answers again, and when the script
 * says the process's leases were lost; it lasts long enough that every
 * process still holding places re-establishes them before anyone grows.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>

#include "fleet_internal.h"

#define POLL_FULL_MS 100 /* pools queued and the fleet full: ask again this often */
#define RETRY_MS     250 /* Redis down: try again this often (at most renew_interval_ms) */

static int64_t ms(int64_t v)
{
    return v * NR_NS_PER_MS;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static int64_t retry_ms(const nr_fleet *f)
{
    return f->cfg.renew_ms < RETRY_MS ? f->cfg.renew_ms : RETRY_MS;
}

/*
 * How long a grace lasts. Redis lost the keys (or they expired) at L and
 * answers again at R >= L; every grace starts at a script that ran after R.
 * A process up all along syncs within renew_interval_ms of its last script,
 * which ran before L: before R + renew_ms. A process that saw Redis fail
 * starts an attempt every retry_ms after the last ended, and one attempt
 * (connect, then the script) lasts at most 2 * redis_timeout_ms: it
 * re-establishes before R + retry_ms + 2 * timeout_ms. The sum of both
 * bounds covers either, with the smaller as a margin for scheduling.
 */
static int64_t grace_ns(const nr_fleet *f)
{
    return ms(f->cfg.renew_ms + retry_ms(f) + 2 * f->cfg.timeout_ms);
}

/* The leases to hold now, up. */
static uint32_t target(nr_fleet *f, const nr_budget_counts *c, int64_t now)
{
    if (now < f->grace_until_ns) { /* hold, grow later */
        f->free_since_ns = 0;
        return max_u32(f->leases, c->held);
    }
    uint32_t floor = max_u32(c->held, f->cfg.min_per_process);
    if (c->wanted > 0) {
        f->free_since_ns = 0;
        return max_u32(f->leases, c->held + c->wanted);
    }
    if (f->leases <= floor) {
        f->free_since_ns = 0;
        return floor;
    }
    int over = f->last.total > f->last.budget;
    if (over || f->cfg.release_after_ms < 0)
        return floor;
    if (!f->free_since_ns)
        f->free_since_ns = now;
    if (now - f->free_since_ns >= ms(f->cfg.release_after_ms)) {
        f->free_since_ns = 0;
        return floor;
    }
    return f->leases;
}

/*
 * Lower the local limit to lim before fewer leases are asked for: capped,
 * to lim itself (the places held above it are shed as instances come back);
 * otherwise never below what is held (nr_budget_lower_to). Returns the
 * leases to ask for: never fewer than the places held once the limit is
 * lowered (held only falls from then on), so that no place is without its
 * lease.
 */
static uint32_t lower_first(nr_fleet *f, uint32_t lim)
{
    nr_budget_counts c = NR_BUDGET_COUNTS_INIT;
    if (!f->cap)
        return nr_budget_lower_to(f->local, lim);
    nr_budget_get_counts(f->local, &c);
    if (lim < c.limit)
        nr_budget_set_limit(f->local, lim); /* shedding is on while up */
    nr_budget_get_counts(f->local, &c);
    return max_u32(min_u32(lim, c.limit), c.held);
}

void nr__fleet_went_up(nr_fleet *f, const nr__fleet_reply *r, int64_t sent)
{
    int first = !f->started;
    int was_down = !f->up && f->started;
    f->up = 1;
    f->fallback = 0;
    f->leases = r->leases;
    f->last = *r;
    f->cap = r->cap;
    f->valid_until_ns = sent + ms(f->cfg.ttl_ms) - ms(f->cfg.ttl_ms) / 20;
    f->next_renew_ns = sent + ms(f->cfg.renew_ms);
    nr_budget_set_limit(f->local, f->cap ? min_u32(r->leases, f->cap) : r->leases);
    nr_budget_set_shed(f->local, true);
    if (first || was_down || r->lost)
        f->grace_until_ns = nr_now_ns() + grace_ns(f);
    if (was_down) {
        char text[96];
        snprintf(text, sizeof(text), "Redis answers again: %u lease(s) re-established", r->leases);
        nr__fleet_event(f, NR_EV_FLEET_REDIS_UP, r->leases, NR_OK, text);
    }
    f->started = 1;
    nr__fleet_publish(f, NULL, NR_OK);
}

/* The mode's limit, once it is due. */
static void fall_back(nr_fleet *f, int64_t now)
{
    if (f->fallback)
        return;
    char text[128];
    if (f->cfg.mode == NR_FLEET_FAIL_OPEN) {
        uint32_t procs = f->last.processes ? f->last.processes : 1;
        uint32_t lim = f->last.budget / procs;
        nr_budget_set_limit(f->local, lim);
        nr_budget_set_shed(f->local, true);
        snprintf(text, sizeof(text), "fail_open: limit %u = budget %u / %u process(es)", lim,
                 f->last.budget, procs);
        f->fallback = 1;
        nr__fleet_event(f, NR_EV_FLEET_FALLBACK, lim, NR_EUNAVAIL, text);
    } else if (now >= f->valid_until_ns) {
        nr_budget_set_limit(f->local, 0);
        f->leases = 0;
        snprintf(text, sizeof(text),
                 "fail_closed: the leases' TTL ran out: limit 0 (instances held stay)");
        f->fallback = 1;
        nr__fleet_event(f, NR_EV_FLEET_FALLBACK, 0, NR_EUNAVAIL, text);
    }
}

static void went_down(nr_fleet *f, const nr_error *e)
{
    int was_up = f->up || !f->started;
    f->up = 0;
    if (f->cfg.mode == NR_FLEET_FAIL_CLOSED)
        nr_budget_set_shed(f->local, false); /* what is held stays while Redis is away */
    if (was_up) {
        nr_budget_counts c = NR_BUDGET_COUNTS_INIT;
        nr_budget_get_counts(f->local, &c);
        char text[NR_ERROR_MESSAGE_MAX + 64]; /* the event cuts it with "..." */
        if (f->cfg.mode == NR_FLEET_FAIL_CLOSED)
            snprintf(text, sizeof(text), "%s; fail_closed: %u lease(s) kept until their TTL",
                     e->message, f->leases);
        else
            snprintf(text, sizeof(text), "%s; fail_open", e->message);
        nr__fleet_event(f, NR_EV_FLEET_REDIS_DOWN, c.limit, e->code, text);
    }
    f->started = 1;
    fall_back(f, nr_now_ns());
    nr__fleet_publish(f, e->message, e->code);
}

void nr__fleet_step(nr_fleet *f)
{
    nr_budget_counts c = NR_BUDGET_COUNTS_INIT;
    nr_budget_get_counts(f->local, &c);
    int64_t now = nr_now_ns();
    uint32_t believed = max_u32(f->leases, c.held);
    uint32_t want = believed; /* down: re-establish, grow nothing */
    if (f->up) {
        want = target(f, &c, now);
        if (f->cap)
            want = min_u32(want, f->cap);
        if (want == f->leases && now < f->next_renew_ns)
            return;
        if (want < f->leases)
            want = lower_first(f, want); /* first: never more places than leases */
    }
    nr_error e;
    nr_error_clear(&e);
    nr__fleet_reply r;
    int64_t sent = nr_now_ns();
    if (nr__fleet_sync(&f->cfg, &f->conn, want, believed, NR__FLEET_KNOWN, &r, &e) == NR_OK)
        nr__fleet_went_up(f, &r, sent);
    else
        went_down(f, &e);
}

/* How long the agent may sleep before its next step. */
static int64_t sleep_ns(nr_fleet *f)
{
    int64_t now = nr_now_ns();
    if (!f->up)
        return ms(retry_ms(f));
    nr_budget_counts c = NR_BUDGET_COUNTS_INIT;
    nr_budget_get_counts(f->local, &c);
    int64_t until = f->next_renew_ns;
    if (f->grace_until_ns > now && f->grace_until_ns < until)
        until = f->grace_until_ns; /* what waited for its end is asked for then */
    if (c.wanted > 0 || (f->cap && f->leases > max_u32(f->cap, c.held))) {
        /* queued while the fleet is full, or leases to give back as a cap's shedding frees them */
        int64_t poll = now + ms(POLL_FULL_MS);
        if (poll < until)
            until = poll;
    } else if (f->free_since_ns) {
        int64_t rel = f->free_since_ns + ms(f->cfg.release_after_ms);
        if (rel < until)
            until = rel;
    } else if (f->leases > max_u32(c.held, f->cfg.min_per_process)) {
        until = now; /* places just became free: start the hysteresis clock */
    }
    return until > now ? until - now : 0;
}

void *nr__fleet_agent_main(void *arg)
{
    nr_fleet *f = arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    uint64_t gen = 0;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        int stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        if (stop)
            break;
        nr__fleet_step(f);
        int64_t ns = sleep_ns(f);
        if (ns > 0)
            gen = nr_budget_wait_queued(f->local, gen, ns);
    }
    return NULL;
}
