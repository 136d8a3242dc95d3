/*
 * fleet_testenv.c - see fleet_testenv.h.
 */
#define _GNU_SOURCE
#include "fleet_testenv.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/alloc.h"

const char *ft_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run through drivers/redis/tests/with-redis.sh\n", name);
        exit(1);
    }
    return v;
}

static int fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    if (strcmp(ref, "redis") != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "no credential '%s'", ref);
    return nr_secret_from_str(out, ft_env("NR_TEST_REDIS_PASSWORD"), err);
}

const nr_credential_provider ft_creds = {fetch, NULL, NULL};

nr_fleet_options ft_options(const char *res, const char *proc)
{
    nr_fleet_options o =
        NR_FLEET_OPTIONS(.resource = res, .process_id = proc,
                         .redis_host = ft_env("NR_TEST_REDIS_HOST"),
                         .redis_port = atoi(ft_env("NR_TEST_REDIS_PORT")), .credentials = &ft_creds,
                         .credential_ref = "redis", .lease_ttl_ms = 2000, .renew_interval_ms = 200,
                         .release_after_ms = 200, .redis_timeout_ms = 150);
    return o;
}

redisContext *ft_redis(void)
{
    redisContext *c =
        redisConnect(ft_env("NR_TEST_REDIS_HOST"), atoi(ft_env("NR_TEST_REDIS_PORT")));
    if (!c || c->err) {
        fprintf(stderr, "cannot reach the test Redis\n");
        exit(1);
    }
    redisReply *r = redisCommand(c, "AUTH %s", ft_env("NR_TEST_REDIS_PASSWORD"));
    if (!r || r->type != REDIS_REPLY_STATUS) {
        fprintf(stderr, "AUTH to the test Redis failed\n");
        exit(1);
    }
    freeReplyObject(r);
    return c;
}

redisReply *ft_cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r) {
        fprintf(stderr, "test Redis: %s\n", c->errstr);
        exit(1);
    }
    return r;
}

long long ft_int(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        fprintf(stderr, "test Redis: not an integer reply\n");
        exit(1);
    }
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

long long ft_redis_ms(redisContext *c)
{
    redisReply *r = ft_cmd(c, "TIME");
    long long ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
    freeReplyObject(r);
    return ms;
}

/* ---- the resource type ---- */

atomic_int ft_alive;

static const nr_config_schema ft_schema = {.name = "fleet_test", .struct_size = sizeof(int)};

static int ft_create(void **handle, const void *config, const nr_create_ctx *ctx, void *ud,
                     nr_error *err)
{
    (void)config;
    (void)ctx;
    (void)ud;
    int *h = nr_malloc(sizeof(int));
    if (!h)
        return nr_error_set(err, NR_ENOMEM, NULL, "out of memory");
    *h = atomic_fetch_add(&ft_alive, 1) + 1;
    *handle = h;
    return NR_OK;
}

static void ft_destroy(void *handle, void *ud)
{
    (void)ud;
    atomic_fetch_sub(&ft_alive, 1);
    nr_free(handle);
}

const nr_resource_type ft_type = {.version = NR_RESOURCE_TYPE_VERSION,
                                  .name = "fleet_test",
                                  .config_schema = &ft_schema,
                                  .create = ft_create,
                                  .destroy = ft_destroy};

/* ---- the executor ---- */

typedef struct job {
    void (*fn)(void *);
    void *arg;
    struct job *next;
} job;

struct ft_executor {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    int stop;
    pthread_t th;
};

static void *worker(void *arg)
{
    ft_executor *x = arg;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (!x->head && !x->stop)
            pthread_cond_wait(&x->cv, &x->mu);
        if (!x->head)
            break;
        job *j = x->head;
        x->head = j->next;
        if (!x->head)
            x->tail = NULL;
        pthread_mutex_unlock(&x->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&x->mu);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

static int submit(void *ud, void (*fn)(void *), void *arg)
{
    ft_executor *x = ud;
    job *j = malloc(sizeof(*j));
    if (!j)
        return -1;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&x->mu);
    int refused = x->stop;
    if (!refused) {
        if (x->tail)
            x->tail->next = j;
        else
            x->head = j;
        x->tail = j;
        pthread_cond_signal(&x->cv);
    }
    pthread_mutex_unlock(&x->mu);
    if (refused)
        free(j);
    return refused ? -1 : 0;
}

ft_executor *ft_executor_start(void)
{
    ft_executor *x = calloc(1, sizeof(*x));
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    pthread_create(&x->th, NULL, worker, x);
    return x;
}

void ft_executor_stop(ft_executor *x)
{
    pthread_mutex_lock(&x->mu);
    x->stop = 1;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->th, NULL);
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

nr_executor ft_executor_of(ft_executor *x)
{
    nr_executor e = {submit, x};
    return e;
}

nr_pool *ft_pool(const char *id, int64_t max_size, int64_t acquire_timeout_ms, ft_executor *x)
{
    static int cfg_dummy;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = max_size;
    pc.acquire_timeout_ms = acquire_timeout_ms;
    pc.validate_on_acquire = false;
    pc.recycle_on_release = false;
    nr_executor ex = ft_executor_of(x);
    nr_pool_options o = NR_POOL_OPTIONS(.id = id, .type = &ft_type, .config = &cfg_dummy,
                                        .pool = &pc, .executor = &ex);
    nr_pool *p = NULL;
    nr_error err = {0};
    if (nr_pool_create(&p, &o, &err) != NR_OK) {
        fprintf(stderr, "pool '%s': %s\n", id, err.message);
        exit(1);
    }
    return p;
}

void ft_shell(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "command failed: %s\n", cmd);
        exit(1);
    }
}
