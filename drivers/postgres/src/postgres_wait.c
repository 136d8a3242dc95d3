/*
 * postgres_wait.c - waiting on a libpq socket under a deadline, running one
 * query asynchronously under a deadline, cancelling it without blocking, and
 * turning libpq's messages into one clean, password-free line.
 */
#define _POSIX_C_SOURCE 200809L
#include "postgres_internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nebula/alloc.h"

/* ---- messages ------------------------------------------------------------------ */

/* Append text to dst (capacity n, length *len), cutting with "..." at the end. */
static void put(char *dst, size_t n, size_t *len, bool *cut, const char *text, size_t tlen)
{
    if (*cut)
        return;
    if (*len + tlen + 1 > n) {
        size_t room = n - 1 - *len;
        memcpy(dst + *len, text, room);
        *len += room;
        dst[*len] = '\0';
        if (n >= 4)
            memcpy(dst + n - 4, "...", 4);
        *cut = true;
        return;
    }
    memcpy(dst + *len, text, tlen);
    *len += tlen;
    dst[*len] = '\0';
}

void nr__pg_clean_message(char *dst, size_t n, const char *msg, const char *pw)
{
    if (!dst || n == 0)
        return;
    dst[0] = '\0';
    if (!msg)
        return;
    size_t pwlen = pw ? strlen(pw) : 0;
    size_t len = 0;
    bool cut = false, sep = false, line_start = true;
    const char *p = msg;
    while (*p && !cut) {
        if (line_start) {
            while (*p == ' ' || *p == '\t')
                p++;
            if (strncmp(p, "LOCATION:", 9) == 0) {
                const char *nl = strchr(p, '\n');
                p = nl ? nl + 1 : p + strlen(p);
                continue;
            }
            line_start = false;
        }
        if (*p == '\n' || *p == '\r') {
            sep = len > 0;
            line_start = true;
            p++;
            continue;
        }
        if (sep) {
            put(dst, n, &len, &cut, "; ", 2);
            sep = false;
        }
        if (pwlen && strncmp(p, pw, pwlen) == 0) {
            put(dst, n, &len, &cut, NR_SECRET_REDACTED, strlen(NR_SECRET_REDACTED));
            p += pwlen;
            continue;
        }
        put(dst, n, &len, &cut, p, 1);
        p++;
    }
    while (!cut && len > 0 && (dst[len - 1] == ' ' || dst[len - 1] == ';'))
        dst[--len] = '\0';
}

static bool is_state_char(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z');
}

long nr__pg_sqlstate_from_text(const char *s)
{
    if (!s || strlen(s) != 5)
        return 0;
    long v = 0;
    for (int i = 0; i < 5; i++) {
        if (!is_state_char(s[i]))
            return 0;
        v |= (long)((s[i] - '0') & 0x3F) << (6 * i);
    }
    return v;
}

long nr__pg_sqlstate_in_message(const char *msg)
{
    /* verbose form: "FATAL:  28P01: password authentication failed ..." */
    long found = 0;
    for (const char *p = msg ? strstr(msg, ":  ") : NULL; p; p = strstr(p + 1, ":  ")) {
        const char *s = p + 3;
        bool ok = true;
        for (int i = 0; i < 5 && ok; i++)
            ok = is_state_char(s[i]);
        if (ok && s[5] == ':') {
            char code[6];
            memcpy(code, s, 5);
            code[5] = '\0';
            found = nr__pg_sqlstate_from_text(code);
        }
    }
    return found;
}

char *nr_postgres_sqlstate(long driver_code, char buf[6])
{
    if (!buf)
        return NULL;
    buf[0] = '\0';
    if (driver_code <= 0 || driver_code >= (1L << 30))
        return buf;
    for (int i = 0; i < 5; i++)
        buf[i] = (char)(((driver_code >> (6 * i)) & 0x3F) + '0');
    buf[5] = '\0';
    return buf;
}

/* ---- waiting --------------------------------------------------------------------- */

int nr__pg_wait(PGconn *pg, short events, nr_deadline deadline, const nr_cancel *cancel)
{
    for (;;) {
        if (nr_cancel_is_set(cancel))
            return NR__PG_WAIT_CANCELED;
        int64_t left = nr_deadline_remaining_ns(deadline);
        if (left <= 0)
            return NR__PG_WAIT_TIMEOUT;
        int fd = PQsocket(pg);
        if (fd < 0)
            return NR__PG_WAIT_ERROR;
        int64_t slice = left;
        if (cancel && slice > NR__PG_SLICE_MS * NR_NS_PER_MS)
            slice = NR__PG_SLICE_MS * NR_NS_PER_MS;
        int64_t ms = (slice + NR_NS_PER_MS - 1) / NR_NS_PER_MS;
        if (ms > INT_MAX)
            ms = INT_MAX;
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, (int)ms);
        if (r > 0)
            return NR__PG_WAIT_READY;
        if (r < 0 && errno != EINTR)
            return NR__PG_WAIT_ERROR;
    }
}

/* ---- cancel without blocking the caller ------------------------------------------- */

/* PQcancel connects to the server and waits until it closes the connection,
 * which a frozen server never does: it runs on a detached thread, and the
 * caller waits for it only a bounded time. Whoever finishes last frees the
 * job (done/abandoned under mu). */
typedef struct cancel_job {
    PGcancel *cn;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, abandoned;
    int ok;
} cancel_job;

/* Cancel threads still blocked in PQcancel (relaxed: a bound, not a sync). */
static atomic_int cancels_running;

static void job_free(cancel_job *j)
{
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    nr_free(j);
}

static void *cancel_main(void *arg)
{
    cancel_job *j = arg;
    char buf[256];
    int ok = PQcancel(j->cn, buf, (int)sizeof(buf));
    PQfreeCancel(j->cn);
    j->cn = NULL;
    atomic_fetch_sub_explicit(&cancels_running, 1, memory_order_relaxed);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    j->ok = ok;
    bool abandoned = j->abandoned;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (abandoned)
        job_free(j);
    return NULL;
}

int nr__pg_cancel(PGconn *pg, int64_t wait_ms)
{
    if (atomic_load_explicit(&cancels_running, memory_order_relaxed) >= NR__PG_CANCELS_MAX)
        return -1;
    cancel_job *j = nr_calloc(1, sizeof(*j));
    if (!j)
        return -1;
    j->cn = PQgetCancel(pg);
    if (!j->cn) {
        nr_free(j);
        return -1;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0 || pthread_mutex_init(&j->mu, NULL) != 0) {
        if (rc == 0)
            pthread_cond_destroy(&j->cv);
        PQfreeCancel(j->cn);
        nr_free(j);
        return -1;
    }
    pthread_attr_t ta;
    pthread_attr_init(&ta);
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    atomic_fetch_add_explicit(&cancels_running, 1, memory_order_relaxed);
    rc = pthread_create(&t, &ta, cancel_main, j);
    pthread_attr_destroy(&ta);
    if (rc != 0) {
        atomic_fetch_sub_explicit(&cancels_running, 1, memory_order_relaxed);
        PQfreeCancel(j->cn);
        job_free(j);
        return -1;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(wait_ms / 1000);
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->mu);
    while (!j->done) {
        if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT)
            break;
    }
    bool done = j->done;
    int ok = j->ok;
    if (!done)
        j->abandoned = true;
    pthread_mutex_unlock(&j->mu);
    if (!done)
        return 0; /* still trying: the thread frees the job */
    job_free(j);
    return ok ? 1 : -1;
}

/* ---- one query under a deadline ------------------------------------------------------- */

static void run_fail(nr__pg_result *out, int outcome, PGconn *pg, const char *fallback)
{
    out->outcome = outcome;
    const char *m = PQerrorMessage(pg);
    nr__pg_clean_message(out->message, sizeof(out->message), m && *m ? m : fallback, PQpass(pg));
    if (!out->message[0])
        snprintf(out->message, sizeof(out->message), "%s", fallback);
}

void nr__pg_run(PGconn *pg, const char *sql, nr_deadline deadline, nr__pg_result *out)
{
    memset(out, 0, sizeof(*out));
    out->outcome = NR__PG_RUN_OK;
    if (PQsetnonblocking(pg, 1) != 0) {
        run_fail(out, NR__PG_RUN_BROKEN, pg, "could not switch to non-blocking mode");
        return;
    }
    if (!PQsendQuery(pg, sql)) {
        run_fail(out, PQstatus(pg) == CONNECTION_OK ? NR__PG_RUN_FAILED : NR__PG_RUN_BROKEN, pg,
                 "could not send the query");
        PQsetnonblocking(pg, 0);
        return;
    }
    /* send everything, reading whatever the server says meanwhile */
    int f;
    while ((f = PQflush(pg)) == 1) {
        int w = nr__pg_wait(pg, POLLOUT | POLLIN, deadline, NULL);
        if (w == NR__PG_WAIT_TIMEOUT) {
            out->outcome = NR__PG_RUN_TIMEOUT;
            break;
        }
        if (w != NR__PG_WAIT_READY || !PQconsumeInput(pg)) {
            f = -1;
            break;
        }
    }
    if (f == -1) {
        run_fail(out, NR__PG_RUN_BROKEN, pg, "could not send the query");
        PQsetnonblocking(pg, 0);
        return;
    }
    /* every result until NULL; the first error is the one reported */
    while (out->outcome == NR__PG_RUN_OK || out->outcome == NR__PG_RUN_FAILED) {
        while (PQisBusy(pg)) {
            int w = nr__pg_wait(pg, POLLIN, deadline, NULL);
            if (w == NR__PG_WAIT_TIMEOUT) {
                out->outcome = NR__PG_RUN_TIMEOUT;
                break;
            }
            if (w != NR__PG_WAIT_READY || !PQconsumeInput(pg)) {
                run_fail(out, NR__PG_RUN_BROKEN, pg, "connection lost");
                break;
            }
        }
        if (out->outcome == NR__PG_RUN_TIMEOUT || out->outcome == NR__PG_RUN_BROKEN)
            break;
        PGresult *res = PQgetResult(pg);
        if (!res)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            /* nothing here copies: leave the connection to be retired */
            PQclear(res);
            out->outcome = NR__PG_RUN_BROKEN;
            snprintf(out->message, sizeof(out->message), "unexpected COPY");
            break;
        }
        if (st == PGRES_TUPLES_OK && PQntuples(res) > 0)
            out->rows = PQntuples(res);
        if ((st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) &&
            out->outcome == NR__PG_RUN_OK) {
            out->outcome = NR__PG_RUN_FAILED;
            out->sqlstate = nr__pg_sqlstate_from_text(PQresultErrorField(res, PG_DIAG_SQLSTATE));
            nr__pg_clean_message(out->message, sizeof(out->message), PQresultErrorMessage(res),
                                 PQpass(pg));
        }
        PQclear(res);
    }
    if (out->outcome == NR__PG_RUN_FAILED && PQstatus(pg) != CONNECTION_OK)
        out->outcome = NR__PG_RUN_BROKEN;
    if (out->outcome == NR__PG_RUN_TIMEOUT) {
        out->cancel = nr__pg_cancel(pg, NR__PG_CANCEL_WAIT_MS);
        snprintf(out->message, sizeof(out->message), "no answer in time");
    }
    PQsetnonblocking(pg, 0);
}
