/* pg_consumer.c - the PostgreSQL driver as installed, alone: a config read
 * and a mistyped key refused, a pool whose acquire fails by its deadline
 * when nothing listens (no server needed). */
#include <nebula/postgres.h>
#include <nebula/resource.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, const nr_error *err)
{
    fprintf(stderr, "pg_consumer: %s: %s\n", what, err ? err->message : "");
    return 1;
}

int main(void)
{
    nr_error err = {0};
    nr_postgres_config pg;
    const char text[] = "{\"host\": \"127.0.0.1\", \"port\": 1, \"dbname\": \"orders\", "
                        "\"connect_timeout_ms\": 1000}";
    if (nr_config_parse(&nr_postgres_config_schema, text, sizeof(text) - 1, &pg, NULL, &err) !=
        NR_OK)
        return fail("postgres config", &err);
    if (pg.port != 1 || strcmp(pg.dbname, "orders") != 0)
        return fail("postgres config read back wrong", NULL);
    nr_postgres_config typo;
    const char bad[] = "{\"hots\": \"db.internal\"}";
    if (nr_config_parse(&nr_postgres_config_schema, bad, sizeof(bad) - 1, &typo, NULL, &err) !=
            NR_ECONFIG ||
        !strstr(err.message, "\"host\""))
        return fail("a mistyped key was not refused with its hint", &err);

    /* Nothing listens on port 1: the acquire fails by its deadline. */
    nr_pool *pool = NULL;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "orders", .type = &nr_postgres_type, .config = &pg);
    if (nr_pool_create(&pool, &o, &err) != NR_OK)
        return fail("postgres pool", &err);
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(3000));
    int64_t t0 = nr_now_ns();
    int got = nr_pool_acquire(pool, &ctx, &g, &err);
    int64_t waited_ms = (nr_now_ns() - t0) / NR_NS_PER_MS;
    if (got == NR_OK)
        nr_guard_release(&g);
    nr_pool_destroy(pool, NULL);
    nr_config_free(&nr_postgres_config_schema, &pg);
    if (got == NR_OK)
        return fail("an acquire from a PostgreSQL on port 1 succeeded", NULL);
    if (waited_ms > 10000)
        return fail("the acquire did not end by its deadline", &err);
    printf("postgres driver %s alone: ok (the acquire without a server: %s after %lld ms)\n",
           nr_version(), nr_err_name(got), (long long)waited_ms);
    return 0;
}
