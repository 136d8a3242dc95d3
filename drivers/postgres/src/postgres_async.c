/*
 * postgres_async.c - one query as a step machine an event loop drives
 * (nebula/postgres_async.h). Nothing here waits: libpq's socket is always
 * non-blocking at the OS level, PQsetnonblocking makes PQflush return
 * instead of waiting for the socket, and PQgetResult is called only when
 * PQisBusy says it will not wait.
 *
 *                 PQflush 1
 *     start ──────────────────> SEND ──┐ PQflush 0
 *       │ PQflush 0               │    v
 *       └────────────────────────────> RECV ── PQgetResult NULL ──> DONE
 *                                 │     │
 *                                 └─────┴── deadline, token, broken ──> DONE
 *
 *     state  wants            step does                           leaves to
 *     SEND   READ | WRITE     PQconsumeInput, PQflush             SEND, RECV, DONE
 *     RECV   READ             PQconsumeInput, PQgetResult until   RECV, DONE
 *                             busy or NULL
 *     DONE   0                returns the outcome again           DONE
 *
 * A finish that read every result (NR_OK or a server error) puts the
 * connection back in blocking mode at once; any other leaves the query in
 * flight and the connection non-blocking (the caller taints it).
 */
#define _POSIX_C_SOURCE 200809L
#include "nebula/postgres_async.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nebula/alloc.h"
#include "postgres_internal.h"

#define PG_ASYNC_MAGIC 0x9057A5C0DE000001ULL
#define PG_ASYNC_DEAD  0xDEADDEADDEADDEADULL

/* Room for "host:port" in messages. */
#define WHERE_MAX 96

typedef enum pg_async_state {
    ST_SEND = 1, /* part of the query is still in libpq's output buffer */
    ST_RECV,     /* all sent; results being read */
    ST_DONE,     /* finished: rc and err say how */
} pg_async_state;

struct nr_pg_async {
    uint64_t magic; /* PG_ASYNC_MAGIC while q lives */
    PGconn *pg;
    nr_deadline deadline;
    const nr_cancel *cancel;
    pg_async_state state;
    PGresult *last; /* the last non-error result read; the caller's after NR_OK */
    long sqlstate;  /* of the first error result, 0 when none */
    char error[NR__PG_MSG_MAX];
    bool have_error; /* an error result was read (error/sqlstate hold it) */
    bool copy;       /* the statement started a COPY */
    int rc;          /* the outcome once DONE */
    nr_error done_err;
    char where[WHERE_MAX];
};

static void where_of(char *dst, size_t n, PGconn *pg)
{
    const char *host = PQhost(pg);
    const char *port = PQport(pg);
    snprintf(dst, n, "%s:%s", host && host[0] ? host : "(default host)",
             port && port[0] ? port : "(default port)");
}

static bool q_ok(const nr_pg_async *q)
{
    return q && q->magic == PG_ASYNC_MAGIC && q->pg;
}

/* libpq's connection message, cleaned and password-free. */
static void conn_message(char *dst, size_t n, PGconn *pg, const char *fallback)
{
    const char *m = PQerrorMessage(pg);
    nr__pg_clean_message(dst, n, m && m[0] ? m : fallback, PQpass(pg));
    if (!dst[0])
        snprintf(dst, n, "%s", fallback);
}

/* ---- start ---------------------------------------------------------------------- */

static int start_refuse(nr_error *err, int code, PGconn *pg, const char *why)
{
    char where[WHERE_MAX];
    where_of(where, sizeof(where), pg);
    return nr_error_set(err, code, NULL, "postgres async query on %s: %s", where, why);
}

int nr_pg_async_start(nr_pg_async **out, PGconn *conn, const char *sql, int nparams,
                      const char *const *values, nr_deadline deadline, const nr_cancel *cancel,
                      nr_error *err)
{
    if (out)
        *out = NULL;
    if (!out || !conn || !sql || nparams < 0 || (nparams > 0 && !values))
        return nr_error_set(err, NR_EINVAL, NULL,
                            "postgres async query: out, conn and sql are required, nparams must "
                            "not be negative and values must be given with nparams > 0");
    if (PQstatus(conn) != CONNECTION_OK) {
        char msg[NR__PG_MSG_MAX];
        conn_message(msg, sizeof(msg), conn, "connection not open");
        char why[NR__PG_MSG_MAX + 40];
        snprintf(why, sizeof(why), "the connection is broken: %s", msg);
        return start_refuse(err, NR_EUNAVAIL, conn, why);
    }
    if (PQtransactionStatus(conn) == PQTRANS_ACTIVE || PQisBusy(conn))
        return start_refuse(err, NR_EINVAL, conn,
                            "another query is still in progress on the connection");
    if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF)
        return start_refuse(err, NR_EINVAL, conn, "the connection is in pipeline mode");
    if (nr_cancel_is_set(cancel))
        return start_refuse(err, NR_ECANCELED, conn, "canceled before it was sent");
    if (nr_deadline_expired(deadline))
        return start_refuse(err, NR_ETIMEDOUT, conn, "the deadline passed before it was sent");

    nr_pg_async *q = nr_calloc(1, sizeof(*q));
    if (!q)
        return start_refuse(err, NR_ENOMEM, conn, "out of memory");
    q->magic = PG_ASYNC_MAGIC;
    q->pg = conn;
    q->deadline = deadline;
    q->cancel = cancel;
    where_of(q->where, sizeof(q->where), conn);

    char msg[NR__PG_MSG_MAX];
    if (PQsetnonblocking(conn, 1) != 0) {
        conn_message(msg, sizeof(msg), conn, "could not switch to non-blocking mode");
        nr_error_set(err, NR_EUNAVAIL, NULL, "postgres async query on %s: %s", q->where, msg);
        q->magic = PG_ASYNC_DEAD;
        nr_free(q);
        return NR_EUNAVAIL;
    }
    if (!PQsendQueryParams(conn, sql, nparams, NULL, values, NULL, NULL, 0)) {
        conn_message(msg, sizeof(msg), conn, "could not send the query");
        if (PQstatus(conn) == CONNECTION_OK)
            (void)PQsetnonblocking(conn, 0); /* nothing went out: as it was */
        nr_error_set(err, NR_EUNAVAIL, NULL, "postgres async query on %s: sending failed: %s",
                     q->where, msg);
        q->magic = PG_ASYNC_DEAD;
        nr_free(q);
        return NR_EUNAVAIL;
    }
    int f = PQflush(conn);
    if (f < 0) {
        conn_message(msg, sizeof(msg), conn, "could not send the query");
        nr_error_set(err, NR_EUNAVAIL, NULL, "postgres async query on %s: sending failed: %s",
                     q->where, msg);
        q->magic = PG_ASYNC_DEAD;
        nr_free(q);
        return NR_EUNAVAIL;
    }
    q->state = f == 1 ? ST_SEND : ST_RECV;
    *out = q;
    return NR_OK;
}

/* ---- what to wait for ------------------------------------------------------------- */

int nr_pg_async_fd(const nr_pg_async *q)
{
    return q_ok(q) ? PQsocket(q->pg) : -1;
}

int nr_pg_async_wants(const nr_pg_async *q)
{
    if (!q_ok(q))
        return 0;
    switch (q->state) {
    case ST_SEND:
        /* libpq: while PQflush returns 1, wait for either; read-ready means
         * PQconsumeInput first (the server may be waiting for us to read) */
        return NR_IO_READ | NR_IO_WRITE;
    case ST_RECV:
        return NR_IO_READ;
    default:
        return 0;
    }
}

int64_t nr_pg_async_deadline_ns(const nr_pg_async *q)
{
    if (!q_ok(q) || !nr_deadline_is_set(q->deadline))
        return NR_DEADLINE_NEVER;
    return q->deadline.at_ns;
}

/* ---- step ------------------------------------------------------------------------ */

/* Enter DONE with rc; err (and q->done_err) describe it: "postgres async
 * query on <where>" and the rest from fmt. */
static int finish(nr_pg_async *q, nr_error *err, int rc, long driver_code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int finish(nr_pg_async *q, nr_error *err, int rc, long driver_code, const char *fmt, ...)
{
    assert(q->state == ST_SEND || q->state == ST_RECV);
    q->state = ST_DONE;
    q->rc = rc;
    nr_error_clear(&q->done_err);
    if (rc != NR_OK) {
        char text[NR_ERROR_MESSAGE_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        nr_error_set_cause(&q->done_err, rc, NR_OK, driver_code, NULL,
                           "postgres async query on %s: %s", q->where, text);
        PQclear(q->last);
        q->last = NULL;
        if (err)
            *err = q->done_err;
    }
    return rc;
}

/* The query may still run on the server: the caller must taint. */
#define IN_DOUBT "; the query may still be running: taint the connection"

/* Every result has been read: the connection is idle again. */
static int finish_read(nr_pg_async *q, nr_error *err)
{
    if (PQstatus(q->pg) != CONNECTION_OK) {
        char msg[NR__PG_MSG_MAX];
        if (q->have_error)
            snprintf(msg, sizeof(msg), "%s", q->error);
        else
            conn_message(msg, sizeof(msg), q->pg, "connection lost");
        return finish(q, err, NR_EUNAVAIL, 0, "connection lost: %s", msg);
    }
    if (q->copy)
        return finish(q, err, NR_EINVAL, 0,
                      "the statement started a COPY, which the async query does not support; "
                      "taint the connection");
    (void)PQsetnonblocking(q->pg, 0); /* nothing left to send: returns at once */
    if (q->have_error) {
        char state[6];
        nr_postgres_sqlstate(q->sqlstate, state);
        return finish(q, err, nr__pg_exec_code(q->sqlstate), q->sqlstate, "failed: %s%s%s", state,
                      state[0] ? ": " : "", q->error);
    }
    return finish(q, err, NR_OK, 0, "done");
}

static int finish_broken(nr_pg_async *q, nr_error *err, const char *fallback)
{
    char msg[NR__PG_MSG_MAX];
    conn_message(msg, sizeof(msg), q->pg, fallback);
    return finish(q, err, NR_EUNAVAIL, 0, "connection lost: %s", msg);
}

/* Keep one result read by PQgetResult. */
static void take_result(nr_pg_async *q, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        /* the connection stays in COPY mode: reported once the reads end */
        q->copy = true;
        PQclear(res);
        return;
    }
    if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
        if (!q->have_error) {
            q->have_error = true;
            q->sqlstate = nr__pg_sqlstate_from_text(PQresultErrorField(res, PG_DIAG_SQLSTATE));
            nr__pg_clean_message(q->error, sizeof(q->error), PQresultErrorMessage(res),
                                 PQpass(q->pg));
            if (!q->error[0])
                snprintf(q->error, sizeof(q->error), "%s", PQresStatus(st));
        }
        PQclear(res);
        return;
    }
    PQclear(q->last);
    q->last = res;
}

/* Send what is left: SEND -> RECV once all of it is out, or DONE. */
static void step_send(nr_pg_async *q, nr_error *err, int *rc)
{
    assert(q->state == ST_SEND);
    /* the server may be blocked writing to us: read first, then write */
    if (!PQconsumeInput(q->pg)) {
        *rc = finish_broken(q, err, "reading failed");
        return;
    }
    int f = PQflush(q->pg);
    if (f < 0)
        *rc = finish_broken(q, err, "sending failed");
    else if (f == 0)
        q->state = ST_RECV;
}

/* Read what has arrived and every result it completes: RECV -> DONE after
 * the last result (NULL), a COPY or a failure. */
static void step_recv(nr_pg_async *q, nr_error *err, int *rc)
{
    assert(q->state == ST_RECV);
    if (!PQconsumeInput(q->pg)) {
        *rc = finish_broken(q, err, "reading failed");
        return;
    }
    while (!PQisBusy(q->pg)) {
        PGresult *res = PQgetResult(q->pg);
        if (res)
            take_result(q, res);
        if (!res || q->copy) { /* a COPY keeps answering COPY: stop there */
            *rc = finish_read(q, err);
            return;
        }
    }
    if (PQstatus(q->pg) != CONNECTION_OK)
        *rc = finish_broken(q, err, "connection lost");
}

int nr_pg_async_step(nr_pg_async *q, nr_error *err)
{
    if (!q_ok(q))
        return nr_error_set(err, NR_EINVAL, NULL,
                            "postgres async query: step: not a live async query");
    if (q->state == ST_DONE) {
        if (err && q->rc != NR_OK)
            *err = q->done_err;
        return q->rc;
    }
    if (nr_cancel_is_set(q->cancel))
        return finish(q, err, NR_ECANCELED, 0, "canceled" IN_DOUBT);
    int rc = NR_PENDING;
    if (q->state == ST_SEND)
        step_send(q, err, &rc);
    if (q->state == ST_RECV)
        step_recv(q, err, &rc);
    if (q->state == ST_DONE)
        return rc;
    if (nr_deadline_expired(q->deadline))
        return finish(q, err, NR_ETIMEDOUT, 0,
                      "the deadline passed before the last result" IN_DOUBT);
    return NR_PENDING;
}

PGresult *nr_pg_async_result(nr_pg_async *q)
{
    if (!q_ok(q) || q->state != ST_DONE || q->rc != NR_OK)
        return NULL;
    PGresult *r = q->last;
    q->last = NULL;
    return r;
}

void nr_pg_async_free(nr_pg_async *q)
{
    if (!q || q->magic != PG_ASYNC_MAGIC)
        return;
    /* a finish that read everything has already put blocking mode back;
     * anything else leaves the query in flight, and waiting for it to be
     * flushed is what switching back would do */
    PQclear(q->last);
    q->last = NULL;
    q->magic = PG_ASYNC_DEAD;
    nr_free(q);
}
