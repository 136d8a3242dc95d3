/*
 * trace.c - the installed trace sink: install, replace and remove it at any
 * time, and hand records to it.
 *
 * The sink (emit, ud, min_level) lives in `cur`. Emits read it without a
 * lock; nr_trace_set_sink changes it only while no emit is in flight. Two
 * atomics make that so, a reader count and a writer flag, in the classic
 * store-then-load pattern (both sides seq_cst):
 *
 *     emit:  readers += 1;  if (writer) { readers -= 1; wait until !writer; retry }
 *            read cur, call the sink;  readers -= 1  (wake the writer at 0)
 *     set:   lock mu;  wait until no other writer;  writer = 1;
 *            wait until readers == 0;  write cur;  writer = 0;  wake all;  unlock mu
 *
 * Because both sides store first and load second with seq_cst, at least one
 * sees the other: either the emit sees the writer and steps back, or the
 * writer sees the emit and waits for it. So cur is never written while an
 * emit reads it, and the old sink is never called after set returns. A
 * writer waits only for emits that already started, never behind new ones
 * (they step back), so a stream of emits cannot starve it.
 *
 * Wake-ups: whoever takes the reader count to 0 while a writer is set
 * broadcasts `changed` under mu; the writer checks the count under mu
 * before it waits, so that broadcast cannot be lost. Emits that stepped
 * back wait on the same condition for the writer to finish.
 *
 * None of this is touched while no sink is installed: nr__trace_enabled()
 * (span.h) reads only nr__trace_threshold.
 */
#define _POSIX_C_SOURCE 200809L
#include "observe/span.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "nebula/trace.h"

/* relaxed stores and loads only; see span.h. */
atomic_int nr__trace_threshold = NR__TRACE_OFF;

const char *nr_trace_level_name(nr_trace_level level)
{
    switch (level) {
    case NR_TRACE_LEVEL_TRACE:
        return "trace";
    case NR_TRACE_LEVEL_DEBUG:
        return "debug";
    case NR_TRACE_LEVEL_INFO:
        return "info";
    case NR_TRACE_LEVEL_WARN:
        return "warn";
    case NR_TRACE_LEVEL_ERROR:
        return "error";
    }
    return "invalid";
}

static bool level_valid(nr_trace_level level)
{
    return (int)level >= NR_TRACE_LEVEL_TRACE && (int)level <= NR_TRACE_LEVEL_ERROR;
}

#ifdef NR_HAVE_TRACING

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

/* seq_cst (see the top of the file): emits in flight. */
static atomic_uint readers;
/* seq_cst (see the top of the file): a writer is replacing cur. */
static atomic_bool writer;
/* [mu] a writer holds the writer role (writers take turns). */
static bool writing;

/* The installed sink. Written only by the writer while readers == 0 and the
 * writer flag is set; read by emits between their increment and decrement
 * of readers, and by nr__trace_sink_is under mu. */
static struct {
    nr_trace_sink sink; /* emit == NULL: none */
    int min_level;
} cur = {{NULL, NULL}, NR__TRACE_OFF};

/* Depth of sink calls on this thread: records made inside one are dropped,
 * and nr_trace_set_sink from inside one is refused. */
static _Thread_local int in_emit;

static void lock_mu(void)
{
    int rc = pthread_mutex_lock(&mu);
    assert(rc == 0);
    (void)rc;
}

static void unlock_mu(void)
{
    int rc = pthread_mutex_unlock(&mu);
    assert(rc == 0);
    (void)rc;
}

/* Leave the reader count; wake the writer when this was the last reader. */
static void reader_exit(void)
{
    /* seq_cst: the decrement must be ordered before the load of writer
     * (store-then-load against the writer's store-then-load). */
    if (atomic_fetch_sub(&readers, 1) == 1 && atomic_load(&writer)) {
        lock_mu();
        pthread_cond_broadcast(&changed);
        unlock_mu();
    }
}

/* Enter the reader count, stepping back while a writer is at work. */
static void reader_enter(void)
{
    for (;;) {
        /* seq_cst: increment, then load writer (see the top of the file). */
        atomic_fetch_add(&readers, 1);
        if (!atomic_load(&writer))
            return;
        reader_exit();
        lock_mu();
        /* seq_cst; the writer clears the flag under mu and broadcasts. */
        while (atomic_load(&writer))
            pthread_cond_wait(&changed, &mu);
        unlock_mu();
    }
}

int nr_trace_set_sink(const nr_trace_sink *s, nr_trace_level min_level)
{
    if (s && (!s->emit || !level_valid(min_level)))
        return NR_EINVAL;
    if (in_emit)
        return NR_EBUSY;

    lock_mu();
    while (writing)
        pthread_cond_wait(&changed, &mu);
    writing = true;
    /* seq_cst: store writer, then load readers (see the top of the file). */
    atomic_store(&writer, true);
    while (atomic_load(&readers) != 0)
        pthread_cond_wait(&changed, &mu);

    if (s) {
        cur.sink = *s;
        cur.min_level = (int)min_level;
    } else {
        cur.sink.emit = NULL;
        cur.sink.ud = NULL;
        cur.min_level = NR__TRACE_OFF;
    }
    /* relaxed: a hint for nr__trace_enabled; emits check cur itself. */
    atomic_store_explicit(&nr__trace_threshold, cur.min_level, memory_order_relaxed);

    /* seq_cst (release is what matters): emits that see false also see cur. */
    atomic_store(&writer, false);
    writing = false;
    pthread_cond_broadcast(&changed);
    unlock_mu();
    return NR_OK;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void nr_trace_emit(const nr_trace_record *r)
{
    if (!r || !level_valid(r->level) || !nr__trace_enabled(r->level) || in_emit)
        return;
    nr_trace_record copy = *r;
    if (copy.ts_ns == 0)
        copy.ts_ns = wall_ns();

    reader_enter();
    if (cur.sink.emit && (int)copy.level >= cur.min_level) {
        in_emit++;
        cur.sink.emit(cur.sink.ud, &copy);
        in_emit--;
    }
    reader_exit();
}

bool nr__trace_sink_is(void (*emit)(void *ud, const nr_trace_record *r), const void *ud)
{
    lock_mu();
    /* cur changes only under mu, so reading it here is safe. */
    bool is = cur.sink.emit == emit && cur.sink.ud == ud;
    unlock_mu();
    return is;
}

#else /* !NR_HAVE_TRACING: no sink can be installed, so no record is made. */

int nr_trace_set_sink(const nr_trace_sink *s, nr_trace_level min_level)
{
    if (!s)
        return NR_OK;
    if (!s->emit || !level_valid(min_level))
        return NR_EINVAL;
    return NR_EUNAVAIL;
}

void nr_trace_emit(const nr_trace_record *r)
{
    (void)r;
}

bool nr__trace_sink_is(void (*emit)(void *ud, const nr_trace_record *r), const void *ud)
{
    (void)emit;
    (void)ud;
    return false;
}

#endif

void nr__trace_log_slow(nr_trace_level level, const char *op, const char *resource_id, int code,
                        const char *message)
{
    nr_trace_record r = {
        .level = level,
        .op = op,
        .message = message,
        .resource_id = resource_id,
        .duration_ns = -1,
        .code = code,
    };
    nr_trace_emit(&r);
}
