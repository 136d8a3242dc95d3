/*
 * redis_ops.c - validate, recycle and health check of a Redis connection,
 * and the lease holder's helpers (nr_redis_context, nr_redis_command).
 *
 * Every call that may write runs with SIGPIPE blocked in the calling thread
 * (redis_sigpipe.c). hiredis never recovers a context once c->err is set:
 * such a connection is reported broken and the pool retires it.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nebula/time.h"
#include "redis_internal.h"

int nr__redis_validate(void *handle, void *ud, nr_error *err);
int nr__redis_recycle(void *handle, void *ud, nr_error *err);
int nr__redis_health(void *handle, void *ud, nr_deadline deadline, nr_health_report *report,
                     nr_error *err);

static int bad_handle(nr_error *err, const char *what)
{
    return nr_error_set(err, NR_EINVAL, NULL, "redis: %s: not an open redis connection", what);
}

static int broken(nr_error *err, const nr_redis_conn *h, int code, const char *what)
{
    char text[NR__REDIS_TEXT_MAX];
    nr__redis_text(text, sizeof(text), h->c->errstr, strlen(h->c->errstr), NULL, 0);
    return nr_error_set_cause(err, code, NR_OK, h->c->err, h->id,
                              "redis '%s': %s: the connection to %s is broken: %s", h->id, what,
                              h->server, text);
}

/* ---- validate -------------------------------------------------------------------- */

int nr__redis_validate(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_redis_conn *h = handle;
    if (!nr__redis_conn_ok(h))
        return bad_handle(err, "validate");
    if (h->c->err)
        return broken(err, h, NR_EUNAVAIL, "validate");
    if (nr__redis_out_of_step(h->c))
        return nr_error_set(err, NR_EUNAVAIL, h->id,
                            "redis '%s': validate: the connection to %s has unread replies or "
                            "unsent commands",
                            h->id, h->server);
    /* An idle RESP2 connection receives nothing: a readable socket means the
     * server closed it (EOF), reset it, or sent something nobody asked for. */
    char b;
    ssize_t n = recv(h->c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return nr_error_set_cause(err, NR_EUNAVAIL, NR_OK, REDIS_ERR_EOF, h->id,
                                  "redis '%s': validate: the server closed the connection to %s",
                                  h->id, h->server);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return nr_error_set_cause(err, NR_EUNAVAIL, NR_OK, REDIS_ERR_IO, h->id,
                                  "redis '%s': validate: the connection to %s failed: %s", h->id,
                                  h->server, strerror(errno));
    if (n > 0)
        return nr_error_set(err, NR_EUNAVAIL, h->id,
                            "redis '%s': validate: unexpected data waiting on the connection to "
                            "%s",
                            h->id, h->server);
    return NR_OK;
}

/* ---- recycle ---------------------------------------------------------------------- */

static bool is_status(const redisReply *r, const char *s)
{
    return r && r->type == REDIS_REPLY_STATUS && r->len == strlen(s) &&
           memcmp(r->str, s, r->len) == 0;
}

/* The reset round trip; fills err and returns NR_ECLEANUP on any failure. */
static int reset(nr_redis_conn *h, nr_error *err)
{
    redisContext *c = h->c;
    if (c->err)
        return broken(err, h, NR_ECLEANUP, "reset at release");
    if (nr__redis_out_of_step(c))
        return nr_error_set(err, NR_ECLEANUP, h->id,
                            "redis '%s': reset at release: the connection to %s has unread "
                            "replies or unsent commands",
                            h->id, h->server);
    char nonce[48];
    snprintf(nonce, sizeof(nonce), "nr-reset-%llu", (unsigned long long)++h->resets);
    (void)redisSetTimeout(c, nr__redis_tv_ns(h->health_timeout_ms * NR_NS_PER_MS));
    if (redisAppendCommand(c, "PING %s", nonce) != REDIS_OK ||
        redisAppendCommand(c, "DISCARD") != REDIS_OK ||
        redisAppendCommand(c, "UNWATCH") != REDIS_OK ||
        redisAppendCommand(c, "SELECT %lld", (long long)h->db) != REDIS_OK)
        return broken(err, h, NR_ECLEANUP, "reset at release");

    void *r = NULL;
    int saved;
    if (redisGetReply(c, &r) != REDIS_OK) {
        saved = errno;
        goto io_failed;
    }
    redisReply *ping = r;
    bool in_multi = false;
    if (ping->type == REDIS_REPLY_ARRAY) {
        freeReplyObject(ping);
        return nr_error_set(err, NR_ECLEANUP, h->id,
                            "redis '%s': reset at release: the connection to %s was left in "
                            "subscribe mode",
                            h->id, h->server);
    }
    if (is_status(ping, "QUEUED")) {
        in_multi = true;
    } else if (!(ping->type == REDIS_REPLY_STRING && ping->len == strlen(nonce) &&
                 memcmp(ping->str, nonce, ping->len) == 0)) {
        freeReplyObject(ping);
        return nr_error_set(err, NR_ECLEANUP, h->id,
                            "redis '%s': reset at release: replies on the connection to %s are "
                            "out of step (a reply of an earlier command was never read)",
                            h->id, h->server);
    }
    freeReplyObject(ping);

    static const char *const names[] = {"DISCARD", "UNWATCH", "SELECT"};
    for (int i = 0; i < 3; i++) {
        if (redisGetReply(c, &r) != REDIS_OK) {
            saved = errno;
            goto io_failed;
        }
        redisReply *rep = r;
        /* DISCARD outside a transaction answers "ERR DISCARD without MULTI" */
        bool ok = is_status(rep, "OK") || (i == 0 && !in_multi && rep->type == REDIS_REPLY_ERROR);
        if (!ok) {
            char text[NR__REDIS_TEXT_MAX] = "";
            if (rep->type == REDIS_REPLY_ERROR || rep->type == REDIS_REPLY_STATUS)
                nr__redis_text(text, sizeof(text), rep->str, rep->len, NULL, 0);
            freeReplyObject(rep);
            return nr_error_set_cause(err, NR_ECLEANUP, NR_OK, REDIS_REPLY_ERROR, h->id,
                                      "redis '%s': reset at release: %s on %s failed: %s", h->id,
                                      names[i], h->server, text[0] ? text : "unexpected reply");
        }
        freeReplyObject(rep);
    }
    if (nr__redis_out_of_step(c))
        return nr_error_set(err, NR_ECLEANUP, h->id,
                            "redis '%s': reset at release: more replies than commands on the "
                            "connection to %s",
                            h->id, h->server);
    nr__redis_restore_timeout(h);
    return NR_OK;

io_failed:
    if (nr__redis_io_timed_out(c, saved)) {
        char text[NR__REDIS_TEXT_MAX];
        nr__redis_text(text, sizeof(text), c->errstr, strlen(c->errstr), NULL, 0);
        return nr_error_set_cause(err, NR_ECLEANUP, NR_ETIMEDOUT, c->err, h->id,
                                  "redis '%s': reset at release: no answer from %s within "
                                  "health_timeout_ms (%lld ms): %s",
                                  h->id, h->server, (long long)h->health_timeout_ms, text);
    }
    return broken(err, h, NR_ECLEANUP, "reset at release");
}

int nr__redis_recycle(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_redis_conn *h = handle;
    if (!nr__redis_conn_ok(h))
        return bad_handle(err, "recycle");
    nr_redis_sigpipe_guard sg;
    nr_redis_sigpipe_block(&sg);
    int rc = reset(h, err);
    nr_redis_sigpipe_restore(&sg);
    return rc;
}

/* ---- health check ------------------------------------------------------------------ */

static void set_reason(nr_health_report *report, nr_health_state state, const char *what,
                       const char *text)
{
    report->state = state;
    snprintf(report->reason, sizeof(report->reason), "%.24s: %.100s", what, text);
}

int nr__redis_health(void *handle, void *ud, nr_deadline deadline, nr_health_report *report,
                     nr_error *err)
{
    (void)ud;
    nr_redis_conn *h = handle;
    if (!nr__redis_conn_ok(h) || !report)
        return bad_handle(err, "health check");
    redisContext *c = h->c;
    char text[NR__REDIS_TEXT_MAX];
    if (c->err) {
        nr__redis_text(text, sizeof(text), c->errstr, strlen(c->errstr), NULL, 0);
        set_reason(report, NR_HEALTH_UNHEALTHY, "connection broken", text);
        return NR_OK;
    }
    nr_deadline end = nr_deadline_min(deadline, nr_deadline_in_ms(h->health_timeout_ms));
    if (nr_deadline_expired(end))
        return nr_error_set(err, NR_ETIMEDOUT, h->id,
                            "redis '%s': health check of %s: deadline passed before it ran", h->id,
                            h->server);
    nr_redis_sigpipe_guard sg;
    nr_redis_sigpipe_block(&sg);
    int64_t budget_ns = nr_deadline_remaining_ns(end);
    (void)redisSetTimeout(c, nr__redis_tv_ns(budget_ns));
    redisReply *r = redisCommand(c, "PING");
    int saved = errno;
    nr__redis_restore_timeout(h);
    nr_redis_sigpipe_restore(&sg);

    if (!r) {
        nr__redis_text(text, sizeof(text), c->errstr, strlen(c->errstr), NULL, 0);
        if (nr__redis_io_timed_out(c, saved)) {
            set_reason(report, NR_HEALTH_UNHEALTHY, "PING timed out", text);
            return nr_error_set_cause(err, NR_ETIMEDOUT, NR_OK, c->err, h->id,
                                      "redis '%s': health check of %s: no answer to PING within "
                                      "%lld ms",
                                      h->id, h->server,
                                      (long long)((budget_ns + NR_NS_PER_MS - 1) / NR_NS_PER_MS));
        }
        set_reason(report, NR_HEALTH_UNHEALTHY, "PING failed", text);
        return NR_OK;
    }
    if (is_status(r, "PONG")) {
        report->state = NR_HEALTH_HEALTHY;
        report->reason[0] = '\0';
    } else if (r->type == REDIS_REPLY_ERROR) {
        nr__redis_text(text, sizeof(text), r->str, r->len, NULL, 0);
        int code = nr__redis_reply_code(r->str, r->len);
        bool degraded = (code == NR_EUNAVAIL && strncmp(r->str, "OOM", 3) != 0 &&
                         strncmp(r->str, "READONLY", 8) != 0) ||
                        code == NR_EBUSY;
        set_reason(report, degraded ? NR_HEALTH_DEGRADED : NR_HEALTH_UNHEALTHY, "PING", text);
    } else {
        set_reason(report, NR_HEALTH_UNHEALTHY, "PING", "unexpected reply (not PONG)");
    }
    freeReplyObject(r);
    return NR_OK;
}

/* ---- the lease holder's helpers ------------------------------------------------------- */

redisContext *nr_redis_context(void *handle)
{
    nr_redis_conn *h = handle;
    return nr__redis_conn_ok(h) ? h->c : NULL;
}

int nr_redis_command(void *handle, redisReply **out, nr_error *err, const char *fmt, ...)
{
    nr_redis_conn *h = handle;
    if (out)
        *out = NULL;
    if (!nr__redis_conn_ok(h))
        return bad_handle(err, "command");
    if (!fmt)
        return nr_error_set(err, NR_EINVAL, h->id, "redis '%s': command: fmt must not be NULL",
                            h->id);
    redisContext *c = h->c;
    if (c->err)
        return broken(err, h, NR_EUNAVAIL, "command");

    va_list ap;
    va_start(ap, fmt);
    nr_redis_sigpipe_guard sg;
    nr_redis_sigpipe_block(&sg);
    redisReply *r = redisvCommand(c, fmt, ap);
    int saved = errno;
    nr_redis_sigpipe_restore(&sg);
    va_end(ap);

    char text[NR__REDIS_TEXT_MAX];
    if (!r) {
        if (!c->err)
            return nr_error_set(err, NR_EINTERNAL, h->id,
                                "redis '%s': command on %s: no reply and no error", h->id,
                                h->server);
        nr__redis_text(text, sizeof(text), c->errstr, strlen(c->errstr), NULL, 0);
        int code = nr__redis_io_code(c, saved);
        if (code == NR_ETIMEDOUT)
            return nr_error_set_cause(err, code, NR_OK, c->err, h->id,
                                      "redis '%s': command on %s: no reply within "
                                      "command_timeout_ms (%lld ms); the connection is broken",
                                      h->id, h->server, (long long)h->command_timeout_ms);
        if (c->err == REDIS_ERR_EOF)
            return nr_error_set_cause(err, code, NR_OK, c->err, h->id,
                                      "redis '%s': command on %s: the server closed the "
                                      "connection",
                                      h->id, h->server);
        return nr_error_set_cause(err, code, NR_OK, c->err, h->id,
                                  "redis '%s': command on %s failed: %s", h->id, h->server, text);
    }
    if (r->type == REDIS_REPLY_ERROR) {
        nr__redis_text(text, sizeof(text), r->str, r->len, NULL, 0);
        int code = nr__redis_reply_code(r->str, r->len);
        freeReplyObject(r);
        return nr_error_set_cause(err, code, NR_OK, REDIS_REPLY_ERROR, h->id,
                                  "redis '%s': command on %s failed: %s", h->id, h->server, text);
    }
    if (out)
        *out = r;
    else
        freeReplyObject(r);
    return NR_OK;
}
