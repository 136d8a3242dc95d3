/* pg_redis_consumer.c - the PostgreSQL and Redis drivers as installed, from a
 * project that asked for those two components only: each driver's config
 * schema reads JSON and refuses a mistyped key with a hint, a PostgreSQL
 * error code turns back into its SQLSTATE, and a Redis pool whose server is
 * not there fails its acquire within the deadline instead of hanging. */
#include <nebula/postgres.h>
#include <nebula/redis.h>
#include <nebula/resource.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, const nr_error *err)
{
    fprintf(stderr, "pg_redis_consumer: %s: %s\n", what, err ? err->message : "");
    return 1;
}

/* A mistyped key is refused with NR_ECONFIG, naming the key and the right one. */
static int refuses_typo(const nr_config_schema *schema, void *cfg, const char *name)
{
    nr_error err = {0};
    const char bad[] = "{\"hots\": \"db.internal\"}";
    if (nr_config_parse(schema, bad, sizeof(bad) - 1, cfg, NULL, &err) != NR_ECONFIG)
        return fail(name, &err);
    if (!strstr(err.message, "hots") || !strstr(err.message, "\"host\""))
        return fail("the typo's message names neither the key nor the hint", &err);
    return 0;
}

int main(void)
{
    nr_error err = {0};
    nr_postgres_config pg;
    const char pg_text[] = "{\"host\": \"db.internal\", \"port\": 6543, \"dbname\": \"orders\"}";
    if (nr_config_parse(&nr_postgres_config_schema, pg_text, sizeof(pg_text) - 1, &pg, NULL,
                        &err) != NR_OK)
        return fail("postgres config", &err);
    int ok =
        pg.port == 6543 && strcmp(pg.host, "db.internal") == 0 && strcmp(pg.dbname, "orders") == 0;
    nr_config_free(&nr_postgres_config_schema, &pg);
    if (!ok)
        return fail("postgres config read back wrong", NULL);
    if (refuses_typo(&nr_postgres_config_schema, &pg, "postgres typo"))
        return 1;

    /* SQLSTATE 23505 (unique_violation) encoded as the server does
     * (PostgreSQL's MAKE_SQLSTATE: six bits a character, the first lowest)
     * reads back as its text; no code reads back as "". */
    char state[6];
    long code = 0;
    for (int i = 0; i < 5; i++)
        code |= (long)(("23505"[i] - '0') & 0x3F) << (6 * i);
    if (strcmp(nr_postgres_sqlstate(code, state), "23505") != 0 ||
        strcmp(nr_postgres_sqlstate(0, state), "") != 0)
        return fail("nr_postgres_sqlstate does not read SQLSTATE codes back", NULL);

    nr_redis_config rc;
    const char redis_text[] = "{\"host\": \"127.0.0.1\", \"port\": 1, \"connect_timeout_ms\": 500}";
    if (nr_config_parse(&nr_redis_config_schema, redis_text, sizeof(redis_text) - 1, &rc, NULL,
                        &err) != NR_OK)
        return fail("redis config", &err);
    if (rc.port != 1 || rc.connect_timeout_ms != 500)
        return fail("redis config read back wrong", NULL);

    /* Nothing listens on port 1: the acquire fails, and says so, by its deadline. */
    nr_pool *pool = NULL;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "cache", .type = &nr_redis_type, .config = &rc);
    if (nr_pool_create(&pool, &o, &err) != NR_OK)
        return fail("redis pool", &err);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(3000));
    int64_t t0 = nr_now_ns();
    int got = nr_pool_acquire(pool, &ctx, &g, &err);
    int64_t waited_ms = (nr_now_ns() - t0) / NR_NS_PER_MS;
    if (got == NR_OK)
        nr_guard_release(&g);
    nr_pool_destroy(pool, NULL);
    nr_config_free(&nr_redis_config_schema, &rc);
    if (got == NR_OK)
        return fail("an acquire from a Redis on port 1 succeeded", NULL);
    if (waited_ms > 10000)
        return fail("the acquire did not end by its deadline", &err);
    if (refuses_typo(&nr_redis_config_schema, &rc, "redis typo"))
        return 1;
    printf("postgres and redis drivers %s: ok (the acquire without a server: %s after %lld ms)\n",
           nr_version(), nr_err_name(got), (long long)waited_ms);
    return 0;
}
