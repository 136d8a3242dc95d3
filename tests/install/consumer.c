/* consumer.c - a program built against the installed library, the way a user would. */
#include <nebula/resource.h>
#include <nebula/sqlite.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    nr_error err = {0};
    nr_sqlite_config cfg;
    if (nr_config_init(&nr_sqlite_config_schema, &cfg, &err) != NR_OK)
        return 1;
    nr_pool *pool = NULL;
    nr_pool_options o = NR_POOL_OPTIONS(.id = "consumer", .type = &nr_sqlite_type, .config = &cfg);
    nr_guard g = NR_GUARD_INIT;
    int ok = nr_pool_create(&pool, &o, &err) == NR_OK &&
             nr_pool_acquire(pool, NULL, &g, &err) == NR_OK &&
             nr_sqlite_exec(nr_guard_handle(&g), "SELECT 1", &err) == NR_OK;
    nr_guard_release(&g);
    nr_pool_destroy(pool, NULL);
    nr_config_free(&nr_sqlite_config_schema, &cfg);
    printf("nebula-resource %s: %s\n", nr_version(), ok ? "ok" : err.message);
    return ok ? 0 : 1;
}
