/*
 * manager_quarantine.c - taking a failing resource out of service and
 * letting it back in carefully.
 *
 *          quarantine_after bad rounds in a row
 *   NONE ----------------------------------------> ON (attempt 1, probe due after a delay)
 *    ^                                              |  \
 *    | a good round                 probe passes    |   \ probe fails: attempt + 1, the
 *    |                                              v    \ delay grows (base x factor^n,
 *   HALF_OPEN <--------------------------------------     \ capped, with jitter)
 *    | a bad round: back to ON, attempt + 1                \
 *    |                                          more than max_attempts failed: HELD
 *   operator release (nr_manager_release_quarantine, POST /actions/release): ON or
 *   HELD -> HALF_OPEN
 *
 * ON and HELD: acquires fail at once with NR_EUNAVAIL saying until when, the
 * attempt and why; health rounds skip the resource until its probe is due
 * (HELD: never). HALF_OPEN: quarantine_trials acquires go through, even
 * while its own health is still unhealthy; the next health round decides.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/strutil.h"
#include "hooks/hooks_internal.h"
#include "manager/manager_internal.h"

const char *nr_quarantine_state_name(nr_quarantine_state q)
{
    switch (q) {
    case NR_QUARANTINE_NONE:
        return "none";
    case NR_QUARANTINE_ON:
        return "quarantined";
    case NR_QUARANTINE_HALF_OPEN:
        return "half-open";
    case NR_QUARANTINE_HELD:
        return "held";
    }
    return "invalid";
}

/* "12:00:03" (local time) of a wall-clock ms. */
static void clock_text(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%H:%M:%S", &tm);
}

/* The delay before probe `attempt` (1-based): base x factor^(attempt-1),
 * capped, then +- jitter. [e->mu] */
static int64_t delay_ms(nr_manager *m, nr__entry *e, uint32_t attempt)
{
    const nr_manager_options *o = &m->opts;
    double d = (double)o->quarantine_base_ms;
    for (uint32_t k = 1; k < attempt && d < (double)o->quarantine_max_ms; k++)
        d *= o->quarantine_factor;
    if (d > (double)o->quarantine_max_ms)
        d = (double)o->quarantine_max_ms;
    if (o->quarantine_jitter > 0) {
        uint64_t x = e->q_rng ? e->q_rng : 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)e;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        e->q_rng = x;
        double u = (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
        d *= 1.0 + o->quarantine_jitter * (2.0 * u - 1.0);
    }
    return d < 1 ? 1 : (int64_t)d;
}

/* Out of service until probe `attempt` (or held). [e->mu] */
static void go_out(nr_manager *m, nr__entry *e, uint32_t attempt, const char *reason)
{
    e->q_attempt = attempt;
    if (reason)
        nr__copy_marked(e->q_reason, sizeof(e->q_reason), reason);
    if (attempt > m->opts.quarantine_max_attempts) {
        e->q_due_ns = 0;
        e->q_due_wall_ms = 0;
        atomic_store_explicit(&e->q_state, NR_QUARANTINE_HELD, memory_order_relaxed);
        return;
    }
    int64_t d = delay_ms(m, e, attempt);
    e->q_due_ns = nr_now_ns() + d * NR_NS_PER_MS;
    e->q_due_wall_ms = nr_wall_ms() + d;
    atomic_store_explicit(&e->q_state, NR_QUARANTINE_ON, memory_order_relaxed);
}

/* The QUARANTINED event's text (and the acquire's message). [e->mu] */
static void out_text(nr_manager *m, const nr__entry *e, char *buf, size_t len)
{
    char full[NR_HEALTH_REASON_MAX + 128];
    if (atomic_load_explicit(&e->q_state, memory_order_relaxed) == NR_QUARANTINE_HELD) {
        snprintf(full, sizeof(full),
                 "quarantined until an operator releases it (%u probes failed): %s",
                 m->opts.quarantine_max_attempts, e->q_reason);
    } else {
        char at[16];
        clock_text(e->q_due_wall_ms, at, sizeof(at));
        snprintf(full, sizeof(full), "quarantined until %s (attempt %u of %u): %s", at,
                 e->q_attempt, m->opts.quarantine_max_attempts, e->q_reason);
    }
    nr__copy_marked(buf, len, full);
}

static void publish(nr_manager *m, nr__entry *e, nr_event_type type, uint32_t count,
                    const char *text)
{
    if (!m->opts.events)
        return;
    nr_event ev;
    nr_event_init(&ev, type, e->id);
    nr_event_set_scope(&ev, &e->scope);
    ev.count = count;
    nr_event_set_text(&ev, text);
    nr_event_publish(m->opts.events, &ev);
}

int nr__quarantine_skip(nr_manager *m, nr__entry *e)
{
    (void)m;
    int q = atomic_load_explicit(&e->q_state, memory_order_relaxed);
    if (q == NR_QUARANTINE_HELD)
        return 1;
    if (q != NR_QUARANTINE_ON)
        return 0;
    pthread_mutex_lock(&e->mu);
    int skip = nr_now_ns() < e->q_due_ns;
    pthread_mutex_unlock(&e->mu);
    return skip;
}

/* ---- hooks ------------------------------------------------------------------------------ */

/* The moves hooks see: into quarantine (NONE -> ON) and out of it (ON or
 * HELD -> HALF_OPEN). A trial that fails (HALF_OPEN -> ON) and the end of
 * half-open (-> NONE) are not hook operations. */
enum { MOVE_NONE, MOVE_OUT, MOVE_RELEASE };

/* A move's passage through the hooks. */
typedef struct qhooks {
    int move; /* the move the befores were run for; MOVE_NONE when none ran */
    int refused;
    nr__hook_run run;
    nr_hook_call call;
} qhooks;

/* The move a round makes now. [e->mu] */
static int round_move_locked(nr_manager *m, const nr__entry *e, int bad)
{
    int q = atomic_load_explicit(&e->q_state, memory_order_relaxed);
    if (q == NR_QUARANTINE_NONE && bad && e->fails >= m->opts.quarantine_after)
        return MOVE_OUT;
    if (q == NR_QUARANTINE_ON && !bad)
        return MOVE_RELEASE;
    return MOVE_NONE;
}

/* Run the befores of move with no lock held; refusal: qh->refused, err (may
 * be NULL) filled. */
static int hooks_before(nr_manager *m, nr__entry *e, int move, qhooks *qh, nr_error *err)
{
    memset(qh, 0, sizeof(*qh));
    nr_hook_op op = move == MOVE_OUT ? NR_HOOK_QUARANTINE : NR_HOOK_QUARANTINE_RELEASE;
    if (move == MOVE_NONE || !NR__HOOKS_WANT(m->opts.hooks, op))
        return NR_OK;
    qh->move = move;
    nr__hook_call_init(&qh->call, op, e->id, e->type->name, &e->scope, NULL, 0);
    int rc = nr__hooks_before(m->opts.hooks, &qh->run, &qh->call, err);
    qh->refused = rc != NR_OK;
    return rc;
}

/* The afters of a move whose befores passed, with no lock held: why is NULL
 * when the move was made, else why not (code rc). */
static void hooks_after(nr_manager *m, nr__entry *e, qhooks *qh, int rc, const char *why)
{
    if (!qh->run.active)
        return;
    nr_error er;
    nr_error_clear(&er);
    if (why)
        nr_error_set(&er, rc, e->id, "resource '%s': %s", e->id, why);
    qh->call.rc = why ? rc : NR_OK;
    qh->call.error = why ? &er : NULL;
    nr__hooks_after(m->opts.hooks, &qh->run, &qh->call);
}

static void round_hooks_after(nr_manager *m, nr__entry *e, qhooks *qh, int made)
{
    hooks_after(m, e, qh, NR_ESTATE, made ? NULL : "moved in or out of quarantine meanwhile");
}

/* The befores of the move a round of e would make. [no lock held] */
static void round_hooks(nr_manager *m, nr__entry *e, int bad, qhooks *qh)
{
    memset(qh, 0, sizeof(*qh));
    if (!m->opts.hooks)
        return;
    pthread_mutex_lock(&e->mu);
    int move = round_move_locked(m, e, bad);
    pthread_mutex_unlock(&e->mu);
    hooks_before(m, e, move, qh, NULL);
}

/* One round's move (the table at the top), with its events. Returns whether
 * the move qh's befores were run for was made. */
static int after_round(nr_manager *m, nr__entry *e, int bad, const char *reason, qhooks *qh)
{
    nr_event_type type = 0;
    uint32_t count = 0;
    char text[NR_EVENT_TEXT_MAX] = "";
    pthread_mutex_lock(&e->mu);
    int q = atomic_load_explicit(&e->q_state, memory_order_relaxed);
    int move = round_move_locked(m, e, bad);
    int made = move != MOVE_NONE && move == qh->move;
    if (move != MOVE_NONE && move == qh->move && qh->refused) {
        /* a hook refused it: not quarantined this time, or quarantined until
         * the next probe (the same attempt, due again after its delay) */
        made = 0;
        if (move == MOVE_RELEASE)
            go_out(m, e, e->q_attempt, NULL);
    } else if (q == NR_QUARANTINE_NONE && bad && e->fails >= m->opts.quarantine_after) {
        go_out(m, e, 1, reason);
        type = NR_EV_QUARANTINED;
    } else if ((q == NR_QUARANTINE_ON || q == NR_QUARANTINE_HALF_OPEN) && bad) {
        go_out(m, e, e->q_attempt + 1, reason); /* the probe, or a trial round, failed */
        type = NR_EV_QUARANTINED;
    } else if (q == NR_QUARANTINE_ON && !bad) {
        atomic_store_explicit(&e->q_trials, (long)m->opts.quarantine_trials, memory_order_relaxed);
        atomic_store_explicit(&e->q_state, NR_QUARANTINE_HALF_OPEN, memory_order_relaxed);
        type = NR_EV_QUARANTINE_RELEASED;
        count = m->opts.quarantine_trials;
        snprintf(text, sizeof(text), "half-open: probe %u passed; %u trial acquires", e->q_attempt,
                 m->opts.quarantine_trials);
    } else if (q == NR_QUARANTINE_HALF_OPEN && !bad) {
        atomic_store_explicit(&e->q_state, NR_QUARANTINE_NONE, memory_order_relaxed);
        e->q_attempt = 0;
        e->q_reason[0] = '\0';
        type = NR_EV_QUARANTINE_RELEASED;
        snprintf(text, sizeof(text), "back in service");
    }
    if (type == NR_EV_QUARANTINED) {
        count = e->q_attempt;
        out_text(m, e, text, sizeof(text));
    }
    pthread_mutex_unlock(&e->mu);
    if (type)
        publish(m, e, type, count, text);
    return made;
}

/*
 * A member of a group goes out only when every group it is in allows it
 * (max_quarantine_percent): the decision and the move are made under
 * m->group_q_mu, so two members cannot pass a limit together. The other moves
 * never add a quarantined member, so they need no such lock.
 */
void nr__quarantine_after_round(nr_manager *m, nr__entry *e, int bad, const char *reason)
{
    if (!m->opts.quarantine_after)
        return;
    qhooks qh; /* the hooks run first, with no lock held */
    round_hooks(m, e, bad, &qh);
    if (!bad || atomic_load_explicit(&e->ngroups, memory_order_relaxed) == 0) {
        round_hooks_after(m, e, &qh, after_round(m, e, bad, reason, &qh));
        return;
    }
    pthread_mutex_lock(&m->group_q_mu);
    pthread_mutex_lock(&e->mu);
    int out = atomic_load_explicit(&e->q_state, memory_order_relaxed) == NR_QUARANTINE_NONE &&
              e->fails >= m->opts.quarantine_after;
    pthread_mutex_unlock(&e->mu);
    uint32_t count = 0;
    char why[NR_EVENT_TEXT_MAX];
    if (out && !nr__groups_allow_quarantine(m, e, &count, why, sizeof(why))) {
        pthread_mutex_unlock(&m->group_q_mu);
        /* it stays unhealthy, and the next bad round asks again */
        atomic_fetch_add_explicit(&e->q_refused, 1, memory_order_relaxed);
        publish(m, e, NR_EV_QUARANTINE_REFUSED, count, why);
        hooks_after(m, e, &qh, NR_EUNAVAIL, why);
        return;
    }
    int made = after_round(m, e, bad, reason, &qh);
    pthread_mutex_unlock(&m->group_q_mu);
    round_hooks_after(m, e, &qh, made);
}

int nr__quarantine_peek(nr_manager *m, nr__entry *e, char *text, size_t len)
{
    int q = atomic_load_explicit(&e->q_state, memory_order_relaxed);
    if (q == NR_QUARANTINE_NONE)
        return 1;
    if (q == NR_QUARANTINE_HALF_OPEN) {
        if (atomic_load_explicit(&e->q_trials, memory_order_relaxed) > 0)
            return 1;
        snprintf(text, len, "half-open with its trial acquires taken");
        return 0;
    }
    pthread_mutex_lock(&e->mu);
    out_text(m, e, text, len);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int nr__quarantine_admit(nr_manager *m, nr__entry *e, int *trial, nr_error *err)
{
    *trial = 0;
    int q = atomic_load_explicit(&e->q_state, memory_order_relaxed);
    if (q == NR_QUARANTINE_NONE)
        return NR_OK;
    if (q == NR_QUARANTINE_HALF_OPEN) {
        if (atomic_fetch_sub_explicit(&e->q_trials, 1, memory_order_relaxed) > 0) {
            *trial = 1;
            return NR_OK;
        }
        return nr_error_set(err, NR_EUNAVAIL, e->id,
                            "resource '%s' is half-open and its trial acquires are taken; the "
                            "next health round decides",
                            e->id);
    }
    char text[NR_ERROR_MESSAGE_MAX];
    pthread_mutex_lock(&e->mu);
    out_text(m, e, text, sizeof(text));
    pthread_mutex_unlock(&e->mu);
    return nr_error_set(err, NR_EUNAVAIL, e->id, "resource '%s' %s", e->id, text);
}

int nr_manager_release_quarantine(nr_manager *m, const char *id, nr_error *err)
{
    if (!m || !id)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_release_quarantine: arguments must not be NULL");
    nr__entry *e = nr__entry_find_ref(m, id, err);
    if (!e)
        return NR_ENOTFOUND;
    /* the release's hooks first, with no lock held; a refusal is the answer */
    qhooks qh;
    int q = atomic_load_explicit(&e->q_state, memory_order_relaxed);
    int rc = hooks_before(
        m, e, q == NR_QUARANTINE_ON || q == NR_QUARANTINE_HELD ? MOVE_RELEASE : MOVE_NONE, &qh,
        err);
    if (rc != NR_OK) {
        nr__entry_put(e);
        return rc;
    }
    pthread_mutex_lock(&e->mu);
    q = atomic_load_explicit(&e->q_state, memory_order_relaxed);
    if (q != NR_QUARANTINE_ON && q != NR_QUARANTINE_HELD) {
        rc = nr_error_set(err, NR_ESTATE, id, "resource '%s' is not quarantined (it is %s)", id,
                          nr_quarantine_state_name((nr_quarantine_state)q));
    } else {
        atomic_store_explicit(&e->q_trials, (long)m->opts.quarantine_trials, memory_order_relaxed);
        atomic_store_explicit(&e->q_state, NR_QUARANTINE_HALF_OPEN, memory_order_relaxed);
    }
    uint32_t trials = m->opts.quarantine_trials;
    pthread_mutex_unlock(&e->mu);
    if (rc == NR_OK) {
        char text[NR_EVENT_TEXT_MAX];
        snprintf(text, sizeof(text), "half-open: released by an operator; %u trial acquires",
                 trials);
        publish(m, e, NR_EV_QUARANTINE_RELEASED, trials, text);
    }
    hooks_after(m, e, &qh, NR_ESTATE, rc == NR_OK ? NULL : "not quarantined any more");
    nr__entry_put(e);
    return rc;
}
