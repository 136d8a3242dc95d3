/*
 * demo_watch.c - the demo's event watcher (see demo_watch.h). Keeps at most
 * MAX_STEPS steps; more are counted, not kept.
 */
#define _DEFAULT_SOURCE
#include "demo_watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/time.h"

#define MAX_STEPS 128

typedef struct step {
    int64_t ts_ns;
    nr_event_type type;
    nr_health_state from, to;
    char id[NR_EVENT_ID_MAX];
    char text[NR_EVENT_TEXT_MAX];
} step;

struct demo_watch {
    nr_event_sub *sub;
    int64_t start_ns;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    step steps[MAX_STEPS]; /* [mu] */
    size_t nsteps;         /* [mu] */
    uint64_t dropped;      /* [mu] steps beyond MAX_STEPS */
    uint64_t missed;       /* [mu] events the subscriber lost (fell behind the ring) */
    size_t printed;        /* main thread only */
};

static bool wanted(const nr_event *ev)
{
    switch (ev->type) {
    case NR_EV_HEALTH_CHANGED:
        /* a resource's first verdict at start is no news */
        return !(ev->health_old == NR_HEALTH_UNKNOWN && ev->health_new == NR_HEALTH_HEALTHY);
    case NR_EV_CASCADE_DETECTED:
    case NR_EV_QUARANTINED:
    case NR_EV_QUARANTINE_RELEASED:
        return true;
    default:
        return false;
    }
}

static void *watch_main(void *arg)
{
    demo_watch *w = arg;
    while (!atomic_load(&w->stop)) {
        nr_event ev;
        uint64_t missed = 0;
        int rc = nr_event_next(w->sub, &ev, &missed, nr_deadline_in_ms(100));
        pthread_mutex_lock(&w->mu);
        w->missed += missed;
        if (rc == NR_OK && wanted(&ev)) {
            if (w->nsteps < MAX_STEPS) {
                step *s = &w->steps[w->nsteps++];
                s->ts_ns = ev.ts_ns;
                s->type = ev.type;
                s->from = ev.health_old;
                s->to = ev.health_new;
                memcpy(s->id, ev.resource_id, sizeof(s->id));
                memcpy(s->text, ev.text, sizeof(s->text));
            } else {
                w->dropped++;
            }
        }
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

int demo_watch_start(demo_watch **out, nr_event_bus *bus, int64_t start_ns, char *msg, size_t len)
{
    *out = NULL;
    demo_watch *w = calloc(1, sizeof(*w));
    nr_error err = {0};
    if (!w) {
        snprintf(msg, len, "out of memory");
        return -1;
    }
    if (nr_event_subscribe(bus, &w->sub, &err) != NR_OK) {
        snprintf(msg, len, "%s", err.message);
        free(w);
        return -1;
    }
    w->start_ns = start_ns;
    atomic_init(&w->stop, false);
    pthread_mutex_init(&w->mu, NULL);
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        nr_event_unsubscribe(w->sub);
        pthread_mutex_destroy(&w->mu);
        free(w);
        snprintf(msg, len, "cannot start the event watcher's thread");
        return -1;
    }
    *out = w;
    return 0;
}

/* One step as a line, without the time. */
static void step_text(const step *s, char *buf, size_t n)
{
    switch (s->type) {
    case NR_EV_HEALTH_CHANGED:
        snprintf(buf, n, "%s %s -> %s%s%s", s->id, nr_health_name(s->from), nr_health_name(s->to),
                 s->text[0] ? ": " : "", s->text);
        break;
    case NR_EV_CASCADE_DETECTED: {
        /* "degrades a, b; unhealthy: REASON": the reason is in the root's own line */
        const char *semi = strchr(s->text, ';');
        int cut = semi ? (int)(semi - s->text) : (int)strlen(s->text);
        snprintf(buf, n, "cascade: %s %.*s", s->id, cut, s->text);
        break;
    }
    default:
        snprintf(buf, n, "%s %s", s->id, s->text);
        break;
    }
}

static double secs(const demo_watch *w, int64_t ns)
{
    return (double)(ns - w->start_ns) / 1e9;
}

void demo_watch_print_new(demo_watch *w, FILE *out, bool tty)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    for (; w->printed < w->nsteps; w->printed++) {
        char line[400];
        step_text(&w->steps[w->printed], line, sizeof(line));
        fprintf(out, "%s[%5.1fs] %s\n", tty ? "\r\033[K" : "", secs(w, w->steps[w->printed].ts_ns),
                line);
    }
    pthread_mutex_unlock(&w->mu);
    fflush(out);
}

bool demo_watch_saw_cascade(demo_watch *w, const char *root)
{
    bool seen = false;
    if (!w)
        return false;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->nsteps && !seen; i++)
        seen = w->steps[i].type == NR_EV_CASCADE_DETECTED && strcmp(w->steps[i].id, root) == 0;
    pthread_mutex_unlock(&w->mu);
    return seen;
}

void demo_watch_summary(demo_watch *w, const demo_outage *o, FILE *out, long refused, long locked)
{
    if (!w || !o)
        return;
    int64_t taken, back, over;
    const char *failure;
    demo_outage_times(o, &taken, &back, &over, &failure);
    if (failure) {
        fprintf(out, "outage: none: %s\n", failure);
        return;
    }
    if (!taken) {
        fprintf(out, "outage: none (the run ended before it was due)\n");
        return;
    }
    if (back)
        fprintf(out, "outage: a batch job held the write lock of orders-db from %.1f s to %.1f s\n",
                secs(w, taken), secs(w, back));
    else
        fprintf(out, "outage: a batch job took the write lock of orders-db at %.1f s\n",
                secs(w, taken));
    pthread_mutex_lock(&w->mu);
    bool unhealthy = false;
    for (size_t i = 0; i < w->nsteps; i++) {
        const step *s = &w->steps[i];
        if (s->ts_ns < taken)
            continue;
        unhealthy |= s->type == NR_EV_HEALTH_CHANGED && s->to == NR_HEALTH_UNHEALTHY;
        char line[400];
        step_text(s, line, sizeof(line));
        fprintf(out, "  [%5.1fs] %s\n", secs(w, s->ts_ns), line);
    }
    if (w->dropped || w->missed)
        fprintf(out, "  (%llu more steps not kept, %llu events lost by the watcher)\n",
                (unsigned long long)w->dropped, (unsigned long long)w->missed);
    pthread_mutex_unlock(&w->mu);
    if (!unhealthy)
        fprintf(out, "  orders-db stayed in service: the lock was not held long enough for its "
                     "health rounds to notice\n");
    if (over)
        fprintf(out, "  [%5.1fs] everything healthy again\n", secs(w, over));
    else
        fprintf(out, "  not recovered by the end of the run\n");
    fprintf(out,
            "refused during the outage: %ld acquires failed fast, %ld writes found orders-db "
            "locked (rolled back, nothing committed)\n",
            refused, locked);
}

void demo_watch_stop(demo_watch *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    nr_event_unsubscribe(w->sub);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
