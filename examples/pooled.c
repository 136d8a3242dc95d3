/*
 * pooled.c - a pool of SQLite connections shared by four threads: each
 * acquires (waiting up to its deadline), uses the connection and gives it
 * back; the pool makes at most max_size connections, on its own creator
 * thread, and its statistics say what happened.
 */
#include <pthread.h>
#include <stdio.h>

#include "nebula/resource.h"
#include "nebula/sqlite.h"

enum { THREADS = 4, ROUNDS = 200 };

static nr_pool *pool;

static void *worker(void *arg)
{
    long *failed = arg;
    for (int i = 0; i < ROUNDS; i++) {
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(2000));
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        /* NR_POOL_ACQUIRE records the call site for leak reports */
        if (NR_POOL_ACQUIRE(pool, &ctx, &g, &err) != NR_OK) {
            fprintf(stderr, "acquire: %s\n", err.message);
            (*failed)++;
            continue;
        }
        if (nr_sqlite_exec(nr_guard_handle(&g), "SELECT 1", &err) != NR_OK) {
            fprintf(stderr, "query: %s\n", err.message);
            nr_guard_taint(&g); /* do not trust it: destroyed, not reused */
            (*failed)++;
            continue;
        }
        nr_guard_release(&g);
    }
    return NULL;
}

int main(void)
{
    nr_error err = {0};
    nr_sqlite_config cfg;
    if (nr_config_init(&nr_sqlite_config_schema, &cfg, &err) != NR_OK ||
        nr_config_set_str(&nr_sqlite_config_schema, &cfg, "path", ":memory:", &err) != NR_OK)
        return 1;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.min_idle = 1;
    pc.max_size = 2; /* four threads, two connections: they take turns, FIFO */
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = "cache", .type = &nr_sqlite_type, .config = &cfg, .pool = &pc);
    if (nr_pool_create(&pool, &o, &err) != NR_OK ||
        nr_pool_fill(pool, nr_deadline_in_ms(2000), &err) != NR_OK) {
        fprintf(stderr, "pool: %s\n", err.message);
        return 1;
    }
    pthread_t th[THREADS];
    long failed[THREADS] = {0};
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, worker, &failed[i]);
    long fails = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        fails += failed[i];
    }
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(pool, &st);
    printf("%llu acquires, %ld failed, %llu connection(s) made (max_size %u), %llu waits, "
           "%u in use now\n",
           (unsigned long long)st.acquires, fails, (unsigned long long)st.creates, st.max_size,
           (unsigned long long)st.waits, st.in_use);
    int ok = fails == 0 && st.acquires == THREADS * ROUNDS && st.creates <= 2 && st.in_use == 0;
    nr_pool_close(pool); /* no new leases; idle connections closed */
    if (nr_pool_destroy(pool, &err) != NR_OK) {
        fprintf(stderr, "destroy: %s\n", err.message);
        ok = 0;
    }
    nr_config_free(&nr_sqlite_config_schema, &cfg); /* the pool borrowed it until now */
    return ok ? 0 : 1;
}
