/*
 * redis_testenv.h - what the Redis driver's tests share: the server the
 * wrapper (with-redis.sh) started, a raw admin connection as the default
 * user, and the wrapper's ctl commands.
 */
#ifndef NR_REDIS_TESTENV_H
#define NR_REDIS_TESTENV_H

#include "testutil.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/alloc.h"
#include "nebula/redis.h"

static inline const char *rt_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run this test through drivers/redis/tests/with-redis.sh\n",
                name);
        exit(1);
    }
    return v;
}

static inline int rt_port(void)
{
    return atoi(rt_env("NR_TEST_REDIS_PORT"));
}

/* A config with the defaults, pointed at the test server. */
static inline void rt_config(nr_redis_config *cfg)
{
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_redis_config_schema, cfg, &err), NR_OK);
    nr_free(cfg->host);
    cfg->host = nr_strdup(rt_env("NR_TEST_REDIS_HOST"));
    assert_non_null(cfg->host);
    cfg->port = rt_port();
}

static inline void rt_set_str(char **field, const char *value)
{
    nr_free(*field);
    *field = nr_strdup(value);
    assert_non_null(*field);
}

static inline nr_secret *rt_secret(const char *value)
{
    nr_secret *s = NULL;
    nr_error err = {0};
    assert_int_equal(nr_secret_from_str(&s, value, &err), NR_OK);
    return s;
}

/* A raw connection authenticated as the default user (every command). */
static inline redisContext *rt_admin(void)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout(rt_env("NR_TEST_REDIS_HOST"), rt_port(), tv);
    if (!c || c->err)
        fail_msg("admin connect: %s", c ? c->errstr : "out of memory");
    redisSetTimeout(c, tv);
    redisReply *r = redisCommand(c, "AUTH %s", rt_env("NR_TEST_REDIS_PASSWORD"));
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("admin AUTH: %s", r ? r->str : c->errstr);
    freeReplyObject(r);
    return c;
}

/* Run one command as the default user on a fresh connection; the reply
 * must not be an error. Returns the reply (caller frees). */
static inline redisReply *rt_admin_cmd(const char *fmt, const char *arg)
{
    redisContext *c = rt_admin();
    redisReply *r = arg ? redisCommand(c, fmt, arg) : redisCommand(c, fmt);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("admin '%s': %s", fmt, r ? r->str : c->errstr);
    redisFree(c);
    return r;
}

static inline void rt_ctl(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s", rt_env("NR_TEST_REDIS_CTL"), what);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("'%s' failed (%d)", cmd, rc);
}

/* CLIENT ID of an instance. */
static inline long long rt_client_id(void *h)
{
    redisReply *r = NULL;
    nr_error err = {0};
    int rc = nr_redis_command(h, &r, &err, "CLIENT ID");
    if (rc != NR_OK)
        fail_msg("CLIENT ID: %s", err.message);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long id = r->integer;
    freeReplyObject(r);
    return id;
}

/* Kill the server side of an instance's connection and wait (10 s at most)
 * until the instance's socket sees it. */
static inline void rt_kill_client(void *h)
{
    long long id = rt_client_id(h);
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", id);
    freeReplyObject(rt_admin_cmd("CLIENT KILL ID %s", buf));
    struct pollfd p = {.fd = nr_redis_context(h)->fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
}

/* A string reply's text, or fail. */
static inline void rt_expect_str(redisReply *r, const char *want)
{
    assert_non_null(r);
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
        fail_msg("reply type %d, expected a string '%s'", r->type, want);
    assert_string_equal(r->str, want);
}

#endif
