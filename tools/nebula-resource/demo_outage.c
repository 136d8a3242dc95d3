/*
 * demo_outage.c - the stuck writer of the demo (see demo_outage.h for the
 * states). The thread sleeps in short steps so that a stop is seen soon.
 */
#define _DEFAULT_SOURCE
#include "demo_outage.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "nebula/time.h"

#define STEP_NS (10 * NR_NS_PER_MS)

struct demo_outage {
    char *path;
    int64_t at_ns, hold_ns;
    pthread_t thread;
    atomic_bool stop;
    bool joined;
    atomic_int state;                              /* demo_outage_state; release: times before */
    atomic_uint_least64_t epoch;                   /* odd while the outage lasts; seq_cst */
    atomic_llong taken_ns, given_back_ns, over_ns; /* relaxed: read after the state */
    char failure[256];                             /* written before the state becomes FAILED */
};

/* Sleep until the monotonic time t or a stop; true when stopped. */
static bool sleep_until(demo_outage *o, int64_t t)
{
    while (!atomic_load(&o->stop)) {
        int64_t left = t - nr_now_ns();
        if (left <= 0)
            return false;
        nr_sleep_ns(left < STEP_NS ? left : STEP_NS);
    }
    return true;
}

/* sqlite3_busy_handler: look again every millisecond, for about 5 s. */
static int poll_busy(void *ud, int count)
{
    (void)ud;
    if (count >= 5000)
        return 0;
    nr_sleep_ns(NR_NS_PER_MS);
    return 1;
}

static void fail(demo_outage *o, sqlite3 *db, const char *what)
{
    snprintf(o->failure, sizeof(o->failure), "the stuck writer could not %s '%s': %s", what,
             o->path, db ? sqlite3_errmsg(db) : "out of memory");
    atomic_store(&o->state, DEMO_OUTAGE_FAILED);
    atomic_fetch_add(&o->epoch, 1); /* back to even: no outage */
}

static void *writer_main(void *arg)
{
    demo_outage *o = arg;
    if (sleep_until(o, o->at_ns))
        return NULL;
    /* the outage begins when the writer goes for the lock */
    atomic_fetch_add(&o->epoch, 1);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(o->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fail(o, db, "open");
        sqlite3_close(db);
        return NULL;
    }
    /* the pool's writers take turns with it: look every millisecond, as
     * they do, or they win every time */
    sqlite3_busy_handler(db, poll_busy, NULL);
    /* a batch job that starts its transaction and then stalls */
    if (sqlite3_exec(db,
                     "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS batch_runs(started TEXT); "
                     "INSERT INTO batch_runs VALUES (datetime('now'))",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fail(o, db, "take the write lock of");
        sqlite3_close(db);
        return NULL;
    }
    atomic_store_explicit(&o->taken_ns, nr_now_ns(), memory_order_relaxed);
    atomic_store(&o->state, DEMO_OUTAGE_HELD);
    sleep_until(o, nr_now_ns() + o->hold_ns);
    /* the job is killed: its transaction rolls back and the lock is free */
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    atomic_store_explicit(&o->given_back_ns, nr_now_ns(), memory_order_relaxed);
    atomic_store(&o->state, DEMO_OUTAGE_RECOVERING);
    return NULL;
}

int demo_outage_start(demo_outage **out, const char *path, int64_t at_ns, int64_t hold_ns,
                      char *msg, size_t len)
{
    *out = NULL;
    demo_outage *o = calloc(1, sizeof(*o));
    if (!o || !(o->path = strdup(path))) {
        free(o);
        snprintf(msg, len, "out of memory");
        return -1;
    }
    o->at_ns = at_ns;
    o->hold_ns = hold_ns;
    atomic_init(&o->stop, false);
    atomic_init(&o->state, DEMO_OUTAGE_SCHEDULED);
    atomic_init(&o->epoch, 0);
    if (pthread_create(&o->thread, NULL, writer_main, o) != 0) {
        free(o->path);
        free(o);
        snprintf(msg, len, "cannot start the stuck writer's thread");
        return -1;
    }
    *out = o;
    return 0;
}

uint64_t demo_outage_epoch(const demo_outage *o)
{
    return o ? atomic_load(&((demo_outage *)o)->epoch) : 0;
}

demo_outage_state demo_outage_state_now(const demo_outage *o)
{
    return o ? (demo_outage_state)atomic_load(&((demo_outage *)o)->state) : DEMO_OUTAGE_OVER;
}

void demo_outage_recovered(demo_outage *o, int64_t now_ns)
{
    if (!o || atomic_load(&o->state) != DEMO_OUTAGE_RECOVERING)
        return;
    atomic_store_explicit(&o->over_ns, now_ns, memory_order_relaxed);
    atomic_store(&o->state, DEMO_OUTAGE_OVER);
    atomic_fetch_add(&o->epoch, 1); /* even again: the outage is over */
}

void demo_outage_times(const demo_outage *o, int64_t *taken_ns, int64_t *given_back_ns,
                       int64_t *over_ns, const char **failure)
{
    *taken_ns = *given_back_ns = *over_ns = 0;
    *failure = NULL;
    if (!o)
        return;
    demo_outage *m = (demo_outage *)o;
    bool failed = atomic_load(&m->state) == DEMO_OUTAGE_FAILED;
    *taken_ns = atomic_load_explicit(&m->taken_ns, memory_order_relaxed);
    *given_back_ns = atomic_load_explicit(&m->given_back_ns, memory_order_relaxed);
    *over_ns = atomic_load_explicit(&m->over_ns, memory_order_relaxed);
    *failure = failed ? m->failure : NULL;
}

void demo_outage_stop(demo_outage *o)
{
    if (!o || o->joined)
        return;
    atomic_store(&o->stop, true);
    pthread_join(o->thread, NULL);
    o->joined = true;
}

void demo_outage_free(demo_outage *o)
{
    if (!o)
        return;
    demo_outage_stop(o);
    free(o->path);
    free(o);
}
