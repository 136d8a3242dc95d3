/*
 * fleet_redis.c - the agent's one connection to Redis, on hiredis directly
 * (not through the Redis driver: the driver makes pooled instances under a
 * pool's create context, the agent needs one plain connection, and the
 * fleet library should not need the driver built).
 *
 *     connect (connect timeout) -> AUTH [user] password -> command timeout
 *
 * The password comes from the options' secret or, at every connect, from
 * the credential provider; it is sent in AUTH only and freed at once. Every
 * write runs with SIGPIPE blocked (a Redis that dies mid-write must not
 * kill the process), and a SIGPIPE raised meanwhile is consumed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "fleet_internal.h"

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
    return tv;
}

/* ---- SIGPIPE ---- */

static int pipe_pending(void)
{
    sigset_t p;
    sigemptyset(&p);
    return sigpending(&p) == 0 && sigismember(&p, SIGPIPE) == 1;
}

void nr__fleet_pipe_block(nr__fleet_pipe *g)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, &g->old);
    g->was_pending = pipe_pending();
}

void nr__fleet_pipe_restore(nr__fleet_pipe *g)
{
    int saved = errno;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    if (!g->was_pending && pipe_pending()) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&s, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
    errno = saved;
}

/* ---- connect ---- */

static int fetch_password(const nr__fleet_cfg *cfg, nr_secret **pw, nr_error *err)
{
    *pw = NULL;
    if (cfg->cred_ref[0] && cfg->creds.fetch) {
        nr_error e;
        nr_error_clear(&e);
        int rc = cfg->creds.fetch(cfg->creds.ud, cfg->cred_ref, pw, &e);
        if (rc != NR_OK || !*pw) {
            nr_secret_free(*pw);
            *pw = NULL;
            return nr_error_set_cause(err, NR_ECRED, rc ? rc : NR_ECRED, 0, cfg->resource,
                                      "fleet '%s': credential '%s' for Redis: %s", cfg->resource,
                                      cfg->cred_ref, e.message[0] ? e.message : "no value");
        }
        return NR_OK;
    }
    if (cfg->password)
        return nr_secret_dup(pw, cfg->password, err);
    return NR_OK;
}

static int auth(const nr__fleet_cfg *cfg, redisContext *c, nr_error *err)
{
    nr_secret *pw = NULL;
    int rc = fetch_password(cfg, &pw, err);
    if (rc != NR_OK || !pw)
        return rc;
    size_t len = 0;
    const char *val = nr_secret_reveal(pw, &len);
    const char *argv[3];
    size_t lens[3];
    int argc = 0;
    argv[argc] = "AUTH";
    lens[argc++] = 4;
    if (cfg->user[0]) {
        argv[argc] = cfg->user;
        lens[argc++] = strlen(cfg->user);
    }
    argv[argc] = val;
    lens[argc++] = len;
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    nr_secret_free(pw);
    if (!r)
        return nr_error_set(err, NR_EUNAVAIL, cfg->resource, "fleet '%s': Redis AUTH: %s",
                            cfg->resource, c->errstr);
    int ok = r->type == REDIS_REPLY_STATUS;
    /* Redis's AUTH error never repeats the password (WRONGPASS, NOAUTH, ...) */
    if (!ok)
        rc = nr_error_set(err, NR_EUNAVAIL, cfg->resource, "fleet '%s': Redis refused AUTH: %.80s",
                          cfg->resource, r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
    freeReplyObject(r);
    return ok ? NR_OK : rc;
}

int nr__fleet_connect(const nr__fleet_cfg *cfg, nr__fleet_conn *conn, nr_error *err)
{
    nr__fleet_disconnect(conn);
    struct timeval tv = tv_ms(cfg->timeout_ms);
    nr__fleet_pipe g;
    nr__fleet_pipe_block(&g);
    redisContext *c = cfg->socket[0] ? redisConnectUnixWithTimeout(cfg->socket, tv)
                                     : redisConnectWithTimeout(cfg->host, cfg->port, tv);
    int rc = NR_OK;
    if (!c)
        rc =
            nr_error_set(err, NR_ENOMEM, cfg->resource, "fleet '%s': out of memory", cfg->resource);
    else if (c->err)
        rc = nr_error_set(err, NR_EUNAVAIL, cfg->resource, "fleet '%s': Redis at %s%s%d: %s",
                          cfg->resource, cfg->socket[0] ? cfg->socket : cfg->host,
                          cfg->socket[0] ? "" : ":", cfg->socket[0] ? 0 : cfg->port, c->errstr);
    if (rc == NR_OK && redisSetTimeout(c, tv) != REDIS_OK)
        rc = nr_error_set(err, NR_EUNAVAIL, cfg->resource, "fleet '%s': Redis: cannot set timeout",
                          cfg->resource);
    if (rc == NR_OK)
        rc = auth(cfg, c, err);
    nr__fleet_pipe_restore(&g);
    if (rc != NR_OK) {
        if (c)
            redisFree(c);
        return rc;
    }
    conn->c = c;
    return NR_OK;
}

void nr__fleet_disconnect(nr__fleet_conn *conn)
{
    if (conn->c)
        redisFree(conn->c);
    conn->c = NULL;
    conn->sha[0] = '\0';
}
