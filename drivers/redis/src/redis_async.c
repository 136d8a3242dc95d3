/*
 * redis_async.c - one command as a step machine an event loop drives, on
 * the driver's own connection (nebula/redis_async.h).
 *
 * hiredis' synchronous context serves both ways: with O_NONBLOCK on the
 * socket and REDIS_BLOCK cleared in c->flags, redisBufferWrite and
 * redisBufferRead take EAGAIN as "try later" and return, and
 * redisGetReplyFromReader parses only what has been read. The mode is put
 * back when the command finishes, so recycle, validate and the health
 * check (blocking, on the pool's threads) find the connection as they
 * always do.
 *
 *                 part unsent
 *     start ──────────────────> SEND ──┐ all written
 *       │ all written               │    v
 *       └────────────────────────────> RECV ── a reply ──> DONE
 *                                   │     │
 *                                   └─────┴── deadline, token, I/O error ──> DONE
 *
 *     state  wants   step does                                   leaves to
 *     SEND   WRITE   redisBufferWrite                            SEND, RECV, DONE
 *     RECV   READ    redisGetReplyFromReader, redisBufferRead     RECV, DONE
 *                    until a reply or nothing more to read
 *     DONE   0       returns the outcome again                   DONE
 *
 * Every finish restores blocking mode. One that did not read the reply
 * (deadline, token, a free before the end) marks the context broken: the
 * reply would come later, unasked, and put every later command out of step.
 */
#define _POSIX_C_SOURCE 200809L
#include "nebula/redis_async.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nebula/alloc.h"
#include "redis_internal.h"

#define REDIS_ASYNC_MAGIC 0x4E52524153594E43ULL /* "NRRASYNC" */
#define REDIS_ASYNC_DEAD  0xDEADDEADDEADDEADULL

typedef enum redis_async_state {
    ST_SEND = 1, /* part of the command is still in c->obuf */
    ST_RECV,     /* all written; the reply being read */
    ST_DONE,     /* finished: rc and done_err say how */
} redis_async_state;

struct nr_redis_async {
    uint64_t magic; /* REDIS_ASYNC_MAGIC while q lives */
    nr_redis_conn *h;
    nr_deadline deadline;
    const nr_cancel *cancel;
    redis_async_state state;
    int saved_fl;      /* the socket's file status flags before start */
    bool nonblocking;  /* O_NONBLOCK set and REDIS_BLOCK cleared by us */
    redisReply *reply; /* after NR_OK, until taken */
    int rc;            /* the outcome once DONE */
    nr_error done_err;
};

static bool q_ok(const nr_redis_async *q)
{
    return q && q->magic == REDIS_ASYNC_MAGIC && nr__redis_conn_ok(q->h);
}

/* ---- the socket's mode --------------------------------------------------------- */

/* O_NONBLOCK on, REDIS_BLOCK off. -1 (errno set) when fcntl fails. */
static int mode_nonblocking(nr_redis_async *q)
{
    redisContext *c = q->h->c;
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0)
        return -1;
    if (!(fl & O_NONBLOCK) && fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    q->saved_fl = fl;
    c->flags &= ~REDIS_BLOCK;
    q->nonblocking = true;
    return 0;
}

/* The mode as it was before start. */
static void mode_restore(nr_redis_async *q)
{
    if (!q->nonblocking)
        return;
    redisContext *c = q->h->c;
    if (!(q->saved_fl & O_NONBLOCK))
        (void)fcntl(c->fd, F_SETFL, q->saved_fl);
    c->flags |= REDIS_BLOCK;
    q->nonblocking = false;
}

/* The reply will come unasked: no command on this context may follow.
 * hiredis never clears c->err, and every caller of the context checks it. */
static void mark_broken(redisContext *c, const char *why)
{
    if (c->err)
        return;
    c->err = REDIS_ERR_OTHER;
    snprintf(c->errstr, sizeof(c->errstr), "%s", why);
}

/* ---- start --------------------------------------------------------------------- */

static int io_fail(nr_error *err, const nr_redis_conn *h, int saved_errno, const char *what)
{
    const redisContext *c = h->c;
    char text[NR__REDIS_TEXT_MAX];
    nr__redis_text(text, sizeof(text), c->errstr, strlen(c->errstr), NULL, 0);
    int code = nr__redis_io_code(c, saved_errno);
    if (code == NR_ETIMEDOUT) /* EAGAIN is "later" here, never a failure */
        code = NR_EUNAVAIL;
    if (c->err == REDIS_ERR_EOF)
        return nr_error_set_cause(err, code, NR_OK, c->err, h->id,
                                  "redis '%s': async command on %s: %s: the server closed the "
                                  "connection",
                                  h->id, h->server, what);
    return nr_error_set_cause(err, code, NR_OK, c->err, h->id,
                              "redis '%s': async command on %s: %s failed: %s", h->id, h->server,
                              what, text[0] ? text : "no reason given");
}

static bool args_ok(int argc, const char **argv)
{
    if (argc < 1 || !argv)
        return false;
    for (int i = 0; i < argc; i++) {
        if (!argv[i])
            return false;
    }
    return true;
}

int nr_redis_async_start(nr_redis_async **out, nr_redis_conn *conn, int argc, const char **argv,
                         const size_t *argvlen, nr_deadline deadline, const nr_cancel *cancel,
                         nr_error *err)
{
    if (out)
        *out = NULL;
    if (!nr__redis_conn_ok(conn))
        return nr_error_set(err, NR_EINVAL, NULL,
                            "redis: async command: not an open redis connection");
    nr_redis_conn *h = conn;
    if (!out || !args_ok(argc, argv))
        return nr_error_set(err, NR_EINVAL, h->id,
                            "redis '%s': async command: out and argv (argc >= 1, no NULL "
                            "argument) are required",
                            h->id);
    redisContext *c = h->c;
    if (c->err) {
        char text[NR__REDIS_TEXT_MAX];
        nr__redis_text(text, sizeof(text), c->errstr, strlen(c->errstr), NULL, 0);
        return nr_error_set_cause(err, NR_EUNAVAIL, NR_OK, c->err, h->id,
                                  "redis '%s': async command on %s: the connection is broken: %s",
                                  h->id, h->server, text);
    }
    if (nr__redis_out_of_step(c))
        return nr_error_set(err, NR_EINVAL, h->id,
                            "redis '%s': async command on %s: the connection has unread replies "
                            "or unsent commands",
                            h->id, h->server);
    if (nr_cancel_is_set(cancel))
        return nr_error_set(err, NR_ECANCELED, h->id,
                            "redis '%s': async command on %s: canceled before it was sent", h->id,
                            h->server);
    if (nr_deadline_expired(deadline))
        return nr_error_set(err, NR_ETIMEDOUT, h->id,
                            "redis '%s': async command on %s: the deadline passed before it was "
                            "sent",
                            h->id, h->server);

    nr_redis_async *q = nr_calloc(1, sizeof(*q));
    if (!q)
        return nr_error_set(err, NR_ENOMEM, h->id, "redis '%s': async command on %s: out of memory",
                            h->id, h->server);
    q->magic = REDIS_ASYNC_MAGIC;
    q->h = h;
    q->deadline = deadline;
    q->cancel = cancel;

    int rc = NR_OK;
    if (mode_nonblocking(q) != 0) {
        rc = nr_error_set(err, NR_EUNAVAIL, h->id,
                          "redis '%s': async command on %s: cannot make the socket non-blocking: "
                          "%s",
                          h->id, h->server, strerror(errno));
    } else if (redisAppendCommandArgv(c, argc, argv, argvlen) != REDIS_OK) {
        rc = io_fail(err, h, errno, "queueing the command");
    } else {
        int done = 0;
        nr_redis_sigpipe_guard sg;
        nr_redis_sigpipe_block(&sg);
        int w = redisBufferWrite(c, &done);
        int saved = errno;
        nr_redis_sigpipe_restore(&sg);
        if (w != REDIS_OK)
            rc = io_fail(err, h, saved, "writing the command");
        else
            q->state = done ? ST_RECV : ST_SEND;
    }
    if (rc != NR_OK) {
        mode_restore(q);
        q->magic = REDIS_ASYNC_DEAD;
        nr_free(q);
        return rc;
    }
    *out = q;
    return NR_OK;
}

/* ---- what to wait for ------------------------------------------------------------- */

int nr_redis_async_fd(const nr_redis_async *q)
{
    return q_ok(q) ? q->h->c->fd : -1;
}

int nr_redis_async_wants(const nr_redis_async *q)
{
    if (!q_ok(q))
        return 0;
    switch (q->state) {
    case ST_SEND:
        return NR_IO_WRITE;
    case ST_RECV:
        return NR_IO_READ;
    default:
        return 0;
    }
}

int64_t nr_redis_async_deadline_ns(const nr_redis_async *q)
{
    if (!q_ok(q) || !nr_deadline_is_set(q->deadline))
        return NR_DEADLINE_NEVER;
    return q->deadline.at_ns;
}

/* ---- step -------------------------------------------------------------------------- */

/* Enter DONE with rc (err filled by the caller into q->done_err already
 * when rc != NR_OK); blocking mode comes back. */
static int finish(nr_redis_async *q, nr_error *err, int rc)
{
    assert(q->state == ST_SEND || q->state == ST_RECV);
    q->state = ST_DONE;
    q->rc = rc;
    mode_restore(q);
    if (rc != NR_OK && err)
        *err = q->done_err;
    return rc;
}

/* Ended without the reply read: the context cannot be used again. */
static int finish_abandoned(nr_redis_async *q, nr_error *err, int rc, const char *why)
{
    nr_redis_conn *h = q->h;
    mark_broken(h->c, "an async command was abandoned with its reply unread");
    nr_error_set(&q->done_err, rc, h->id,
                 "redis '%s': async command on %s: %s; the command may still run and its reply "
                 "was not read: taint the connection",
                 h->id, h->server, why);
    return finish(q, err, rc);
}

static int finish_io(nr_redis_async *q, nr_error *err, int saved_errno, const char *what)
{
    int rc = io_fail(&q->done_err, q->h, saved_errno, what);
    return finish(q, err, rc);
}

static int finish_reply(nr_redis_async *q, nr_error *err, redisReply *r)
{
    nr_redis_conn *h = q->h;
    if (r->type != REDIS_REPLY_ERROR) {
        q->reply = r;
        return finish(q, err, NR_OK);
    }
    char text[NR__REDIS_TEXT_MAX];
    nr__redis_text(text, sizeof(text), r->str, r->len, NULL, 0);
    int code = nr__redis_reply_code(r->str, r->len);
    freeReplyObject(r);
    nr_error_set_cause(&q->done_err, code, NR_OK, REDIS_REPLY_ERROR, h->id,
                       "redis '%s': async command on %s failed: %s", h->id, h->server, text);
    return finish(q, err, code);
}

/* Write what is left: SEND -> RECV once c->obuf is empty, or DONE. */
static void step_send(nr_redis_async *q, nr_error *err, int *rc)
{
    assert(q->state == ST_SEND);
    redisContext *c = q->h->c;
    int done = 0;
    nr_redis_sigpipe_guard sg;
    nr_redis_sigpipe_block(&sg);
    int w = redisBufferWrite(c, &done);
    int saved = errno;
    nr_redis_sigpipe_restore(&sg);
    if (w != REDIS_OK)
        *rc = finish_io(q, err, saved, "writing the command");
    else if (done)
        q->state = ST_RECV;
}

/* Parse what has been read, read more while the socket has it: RECV -> DONE
 * with a reply or a failure. */
static void step_recv(nr_redis_async *q, nr_error *err, int *rc)
{
    assert(q->state == ST_RECV);
    redisContext *c = q->h->c;
    for (;;) {
        void *r = NULL;
        if (redisGetReplyFromReader(c, &r) != REDIS_OK) {
            *rc = finish_io(q, err, errno, "reading the reply");
            return;
        }
        if (r) {
            *rc = finish_reply(q, err, r);
            return;
        }
        /* the reader's buffer grows only when redisBufferRead got bytes:
         * an unchanged length is EAGAIN (or EINTR), nothing more for now */
        size_t before = c->reader->len;
        if (redisBufferRead(c) != REDIS_OK) {
            *rc = finish_io(q, err, errno, "reading the reply");
            return;
        }
        if (c->reader->len == before)
            return;
    }
}

int nr_redis_async_step(nr_redis_async *q, nr_error *err)
{
    if (!q_ok(q))
        return nr_error_set(err, NR_EINVAL, NULL,
                            "redis: async command: step: not a live async "
                            "command");
    if (q->state == ST_DONE) {
        if (err && q->rc != NR_OK)
            *err = q->done_err;
        return q->rc;
    }
    if (nr_cancel_is_set(q->cancel))
        return finish_abandoned(q, err, NR_ECANCELED, "canceled");
    int rc = NR_PENDING;
    if (q->state == ST_SEND)
        step_send(q, err, &rc);
    if (q->state == ST_RECV)
        step_recv(q, err, &rc);
    if (q->state == ST_DONE)
        return rc;
    if (nr_deadline_expired(q->deadline))
        return finish_abandoned(q, err, NR_ETIMEDOUT, "the deadline passed before the reply");
    return NR_PENDING;
}

redisReply *nr_redis_async_reply(nr_redis_async *q)
{
    if (!q_ok(q) || q->state != ST_DONE || q->rc != NR_OK)
        return NULL;
    redisReply *r = q->reply;
    q->reply = NULL;
    return r;
}

void nr_redis_async_free(nr_redis_async *q)
{
    if (!q || q->magic != REDIS_ASYNC_MAGIC)
        return;
    if (q->state != ST_DONE && nr__redis_conn_ok(q->h))
        mark_broken(q->h->c, "an async command was abandoned with its reply unread");
    if (nr__redis_conn_ok(q->h))
        mode_restore(q);
    if (q->reply)
        freeReplyObject(q->reply);
    q->magic = REDIS_ASYNC_DEAD;
    nr_free(q);
}
