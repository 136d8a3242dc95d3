/*
 * redis_example.c - a pool of Redis connections: count page views.
 *
 * The server comes from the environment (the test wrapper sets these):
 *   NR_TEST_REDIS_HOST (default 127.0.0.1), NR_TEST_REDIS_PORT (default 6379),
 *   NR_TEST_REDIS_PASSWORD (default: no password).
 */
#include <stdio.h>
#include <stdlib.h>

#include "nebula/alloc.h"
#include "nebula/redis.h"
#include "nebula/resource.h"

int main(void)
{
    nr_error err = {0};
    const char *host = getenv("NR_TEST_REDIS_HOST");
    const char *port = getenv("NR_TEST_REDIS_PORT");
    const char *password = getenv("NR_TEST_REDIS_PASSWORD");

    nr_redis_config cfg;
    if (nr_config_init(&nr_redis_config_schema, &cfg, &err) != NR_OK)
        return 1;
    if (host) {
        nr_free(cfg.host);
        cfg.host = nr_strdup(host);
    }
    if (port)
        cfg.port = atoi(port);
    cfg.db = 2;

    nr_secret *secret = NULL; /* the password: a credential, never in the config */
    if (password && nr_secret_from_str(&secret, password, &err) != NR_OK)
        return 1;

    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;

    nr_pool *pool = NULL;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "page-views", .type = &nr_redis_type, .config = &cfg,
                                        .pool = &pc, .credential = secret /* copied by the pool */);
    int rc = nr_pool_create(&pool, &o, &err);
    nr_secret_free(secret);
    if (rc != NR_OK) {
        fprintf(stderr, "pool: %s\n", err.message);
        nr_config_free(&nr_redis_config_schema, &cfg);
        return 1;
    }

    long long views = 0;
    for (int i = 0; i < 3 && rc == NR_OK; i++) {
        nr_guard g = NR_GUARD_INIT;
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000));
        rc = nr_pool_acquire(pool, &ctx, &g, &err);
        if (rc != NR_OK)
            break;
        redisReply *r = NULL;
        rc = nr_redis_command(nr_guard_handle(&g), &r, &err, "INCR %s", "views:home");
        if (rc == NR_OK) {
            views = r->integer;
            freeReplyObject(r);
        }
        nr_guard_release(&g); /* reset (DISCARD, UNWATCH, SELECT 2) and back to the pool */
    }
    if (rc != NR_OK)
        fprintf(stderr, "redis: %s\n", err.message);
    else
        printf("home page views: %lld\n", views);

    nr_pool_destroy(pool, &err);
    nr_config_free(&nr_redis_config_schema, &cfg);
    return rc == NR_OK ? 0 : 1;
}
