/*
 * builtin_audit.c - the audit hook: one JSON line per operation, written by
 * a thread of its own (nebula/hooks_builtin.h).
 *
 * The after callback runs on the operation's thread. It formats the line
 * (no lock), then takes the audit's own mutex only to push the line into a
 * bounded ring; a full ring drops the line and counts it. The writer thread
 * pops one line at a time and writes it with the mutex released, so neither
 * a slow file nor a slow sink (a user callback) ever runs under a lock or
 * holds up an operation.
 *
 * Accounting, under mu:
 *   queued  = lines pushed so far;
 *   handled = written + write_errors = lines the writer finished;
 *   queued - handled = count + (1 while the writer holds a popped line).
 * Flush waits for handled to reach the queued it saw.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/abi.h"
#include "nebula/alloc.h"
#include "nebula/hooks_builtin.h"
#include "observe/json_writer.h"

#define AUDIT_QUEUE_DEFAULT 4096u
#define AUDIT_QUEUE_MAX     1048576u
#define AUDIT_STACK_LINE    1024 /* lines up to this long are formatted on the stack */

typedef struct audit_line {
    char *text; /* the line and a '\n' (not counted in len), nr_malloc'd */
    size_t len;
} audit_line;

struct nr_audit {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;                         /* the writer waits on it */
    pthread_cond_t progress;                         /* flush waits on it */
    audit_line *ring;                                /* [mu] cap slots, count of them from head */
    size_t cap, head, count;                         /* [mu] (cap fixed) */
    uint64_t queued, written, dropped, write_errors; /* [mu] */
    bool stop;                                       /* [mu] destroy asks the writer to end */
    int fd;                                          /* the file, or -1 with a sink */
    void (*sink)(void *ud, const char *line, size_t len);
    void *sink_ud;
    pthread_t thread;
};

void nr_audit_options_default(nr_audit_options *o)
{
    if (!o)
        return;
    nr_audit_options d = NR_AUDIT_OPTIONS(.queue_lines = AUDIT_QUEUE_DEFAULT);
    nr__abi_default(o, &d, sizeof(d));
}

/* ---- the line ------------------------------------------------------------- */

/* The scope the line names: the caller's for an acquire that carries one,
 * else the pool's (as the hook filters do); NULL when there is none. */
static const nr_scope *call_scope(const nr_hook_call *call)
{
    return call->caller_scope ? call->caller_scope : call->scope;
}

static size_t format_line(const nr_hook_call *call, int64_t ts_ms, char *buf, size_t len)
{
    nr__jw w = {buf, len ? len - 1 : 0, 0};
    char scope[NR_SCOPE_TEXT_MAX];
    const nr_scope *sc = call_scope(call);
    if (sc)
        (void)nr_scope_format(sc, scope, sizeof scope);
    nr__jw_put(&w, "{", 1);
    nr__jw_key(&w, "ts_ms", true);
    nr__jw_int(&w, ts_ms);
    nr__jw_key(&w, "resource", false);
    nr__jw_str(&w, call->resource_id);
    nr__jw_key(&w, "scope", false);
    nr__jw_str(&w, sc ? scope : NULL);
    nr__jw_key(&w, "op", false);
    nr__jw_str(&w, nr_hook_op_name(call->op));
    nr__jw_key(&w, "outcome", false);
    nr__jw_str(&w, call->rc == NR_OK ? "ok" : nr_err_name(call->rc));
    nr__jw_key(&w, "code", false);
    nr__jw_int(&w, call->rc);
    nr__jw_key(&w, "error", false);
    nr__jw_str(&w, call->rc != NR_OK ? (call->error ? call->error->message : nr_strerror(call->rc))
                                     : NULL);
    nr__jw_key(&w, "duration_ns", false);
    nr__jw_int(&w, call->duration_ns);
    if (call->op == NR_HOOK_ACQUIRE) {
        nr__jw_key(&w, "wait_ns", false);
        nr__jw_int(&w, call->wait_ns);
    }
    nr__jw_key(&w, "caller", false);
    nr__jw_str(&w, call->caller);
    nr__jw_key(&w, "instance", false);
    if (call->instance_id)
        nr__jw_uint(&w, call->instance_id);
    else
        nr__jw_lit(&w, "null");
    nr__jw_put(&w, "}", 1);
    if (len)
        buf[w.len < w.cap ? w.len : w.cap] = '\0';
    return w.len;
}

/* The line with its '\n', in memory of its own; NULL when out of memory. */
static char *make_line(const nr_hook_call *call, size_t *len_out)
{
    int64_t ts_ms = nr_wall_ms();
    char stack[AUDIT_STACK_LINE];
    size_t n = format_line(call, ts_ms, stack, sizeof stack);
    char *line = nr_malloc(n + 2);
    if (!line)
        return NULL;
    if (n < sizeof stack)
        memcpy(line, stack, n);
    else
        (void)format_line(call, ts_ms, line, n + 1);
    line[n] = '\n';
    line[n + 1] = '\0';
    *len_out = n;
    return line;
}

/* ---- the hook -------------------------------------------------------------- */

static int audit_after(void *ud, const nr_hook_call *call, nr_error *err)
{
    (void)err;
    nr_audit *a = ud;
    size_t len = 0;
    char *line = make_line(call, &len);
    pthread_mutex_lock(&a->mu);
    if (!line || a->count == a->cap || a->stop) {
        a->dropped++;
        pthread_mutex_unlock(&a->mu);
        nr_free(line);
        return NR_OK; /* counted, never raised: the operation must not wait */
    }
    a->ring[(a->head + a->count) % a->cap] = (audit_line){line, len};
    a->count++;
    a->queued++;
    pthread_cond_signal(&a->nonempty);
    pthread_mutex_unlock(&a->mu);
    return NR_OK;
}

void nr_audit_hook(nr_audit *a, nr_hook_def *def)
{
    if (!def)
        return;
    nr_hook_def d =
        NR_HOOK_DEF(.name = "audit", .ops = NR_HOOK_OPS_ALL, .after = audit_after, .ud = a);
    nr__abi_default(def, &d, sizeof(d));
}

/* ---- the writer thread ---------------------------------------------------- */

/* Write all of buf; false on an error (EINTR is retried). */
static bool write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

static void *writer_main(void *arg)
{
    nr_audit *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (a->count == 0 && !a->stop)
            pthread_cond_wait(&a->nonempty, &a->mu);
        if (a->count == 0)
            break; /* stopping, and everything is written */
        audit_line l = a->ring[a->head];
        a->head = (a->head + 1) % a->cap;
        a->count--;
        pthread_mutex_unlock(&a->mu);

        bool ok = true;
        if (a->sink) {
            l.text[l.len] = '\0';               /* the sink gets the line without its '\n' */
            a->sink(a->sink_ud, l.text, l.len); /* a user callback: no lock held */
        } else {
            ok = write_all(a->fd, l.text, l.len + 1);
        }
        nr_free(l.text);

        pthread_mutex_lock(&a->mu);
        if (ok)
            a->written++;
        else
            a->write_errors++;
        pthread_cond_broadcast(&a->progress);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ---- create, flush, stats, destroy --------------------------------------- */

static int check_options(const nr_audit_options *o, nr_error *err)
{
    if ((o->path == NULL) == (o->sink == NULL))
        return nr_error_set(err, NR_EINVAL, NULL,
                            "audit: give exactly one of path and sink (%s given)",
                            o->path ? "both" : "neither");
    if (o->path && o->path[0] == '\0')
        return nr_error_set(err, NR_EINVAL, NULL, "audit: path must not be empty");
    if (o->queue_lines < 1 || o->queue_lines > AUDIT_QUEUE_MAX)
        return nr_error_set(err, NR_EINVAL, NULL, "audit: queue_lines must be in 1..%u (got %zu)",
                            AUDIT_QUEUE_MAX, o->queue_lines);
    return NR_OK;
}

static int init_sync(nr_audit *a, nr_error *err)
{
    if (pthread_mutex_init(&a->mu, NULL) != 0)
        return nr_error_set(err, NR_EINTERNAL, NULL, "audit: cannot initialise a mutex");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the clock of nr_now_ns */
    int r1 = pthread_cond_init(&a->nonempty, &ca);
    int r2 = pthread_cond_init(&a->progress, &ca);
    pthread_condattr_destroy(&ca);
    if (r1 != 0 || r2 != 0) {
        if (r1 == 0)
            pthread_cond_destroy(&a->nonempty);
        if (r2 == 0)
            pthread_cond_destroy(&a->progress);
        pthread_mutex_destroy(&a->mu);
        return nr_error_set(err, NR_EINTERNAL, NULL, "audit: cannot initialise a condition");
    }
    return NR_OK;
}

static void fini_sync(nr_audit *a)
{
    pthread_cond_destroy(&a->progress);
    pthread_cond_destroy(&a->nonempty);
    pthread_mutex_destroy(&a->mu);
}

int nr_audit_create(nr_audit **out, const nr_audit_options *opts, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "audit: out is NULL");
    *out = NULL;
    if (!opts)
        return nr_error_set(err, NR_EINVAL, NULL, "audit: options are NULL (path or sink needed)");
    nr_audit_options o;
    int rc = NR__ABI_IN(&o, opts, nr_audit_options, NR_AUDIT_OPTIONS_INIT, err);
    if (rc != NR_OK)
        return rc;
    if (o.queue_lines == 0) /* 0 is the default, as for an older caller that lacks it */
        o.queue_lines = AUDIT_QUEUE_DEFAULT;
    rc = check_options(&o, err);
    if (rc != NR_OK)
        return rc;
    nr_audit *a = nr_calloc(1, sizeof(*a));
    audit_line *ring = nr_calloc(o.queue_lines, sizeof(*ring));
    if (!a || !ring) {
        nr_free(a);
        nr_free(ring);
        return nr_error_set(err, NR_ENOMEM, NULL, "audit: out of memory");
    }
    a->ring = ring;
    a->cap = o.queue_lines;
    a->fd = -1;
    a->sink = o.sink;
    a->sink_ud = o.sink_ud;
    if (o.path) {
        a->fd = open(o.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (a->fd < 0) {
            char why[160];
            int e = errno;
            rc = nr_error_set(err, NR_EINIT, NULL, "audit: cannot open '%s': %s", o.path,
                              nr_errno_text(e, why, sizeof why));
            goto fail_mem;
        }
    }
    rc = init_sync(a, err);
    if (rc != NR_OK)
        goto fail_fd;
    if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
        rc = nr_error_set(err, NR_EINIT, NULL, "audit: cannot start the writer thread");
        fini_sync(a);
        goto fail_fd;
    }
    *out = a;
    return NR_OK;
fail_fd:
    if (a->fd >= 0)
        close(a->fd);
fail_mem:
    nr_free(a->ring);
    nr_free(a);
    return rc;
}

int nr_audit_stats_get(nr_audit *a, nr_audit_stats *out)
{
    if (!out || NR__ABI_OUT_CHECK(out, nr_audit_stats, NR_AUDIT_STATS_INIT, NULL) != NR_OK)
        return NR_EINVAL;
    nr_audit_stats full = NR_AUDIT_STATS_INIT;
    if (a) {
        pthread_mutex_lock(&a->mu);
        full.queued = a->queued;
        full.written = a->written;
        full.dropped = a->dropped;
        full.write_errors = a->write_errors;
        pthread_mutex_unlock(&a->mu);
    }
    nr__abi_out(out, &full, sizeof(full));
    return NR_OK;
}

int nr_audit_flush(nr_audit *a, nr_deadline deadline, nr_error *err)
{
    if (!a)
        return nr_error_set(err, NR_EINVAL, NULL, "audit: NULL audit");
    bool never = !nr_deadline_is_set(deadline) || deadline.at_ns == NR_DEADLINE_NEVER;
    struct timespec ts = {
        .tv_sec = (time_t)(deadline.at_ns / NR_NS_PER_S),
        .tv_nsec = (long)(deadline.at_ns % NR_NS_PER_S),
    };
    int rc = NR_OK;
    pthread_mutex_lock(&a->mu);
    uint64_t target = a->queued;
    while (a->written + a->write_errors < target) {
        if (!never && nr_deadline_expired(deadline)) {
            rc = NR_ETIMEDOUT;
            break;
        }
        if (never)
            pthread_cond_wait(&a->progress, &a->mu);
        else
            pthread_cond_timedwait(&a->progress, &a->mu, &ts);
    }
    uint64_t left = target - (a->written + a->write_errors);
    pthread_mutex_unlock(&a->mu);
    if (rc != NR_OK)
        return nr_error_set(err, rc, NULL, "audit: %llu line(s) still queued at the deadline",
                            (unsigned long long)left);
    return NR_OK;
}

void nr_audit_destroy(nr_audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->nonempty);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL); /* the writer drains the ring before it ends */
    if (a->fd >= 0)
        close(a->fd);
    fini_sync(a);
    nr_free(a->ring);
    nr_free(a);
}
