/*
 * cmd_demo.c - `nebula-resource demo`: several threads run small workflow
 * steps through one pool of SQLite connections while a maintenance thread
 * keeps the pool healthy; a progress line shows the pool live and a table
 * shows its statistics at the end. The demo checks itself: every order a
 * worker committed must be in the database, every order a worker abandoned
 * (transaction left open on release) must have been rolled back, and every
 * connection created must have been closed.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "nebula/resource.h"
#include "nebula/sqlite.h"

#define LAT_BUCKETS 48 /* log2 buckets of acquire latency in ns */

typedef struct demo_opts {
    int64_t threads, seconds, pool_size;
    const char *db;
} demo_opts;

typedef struct demo {
    demo_opts o;
    nr_pool *pool;
    atomic_bool stop;
    atomic_long committed, abandoned, tainted, errors, ops;
    pthread_mutex_t lat_mu;
    uint64_t lat[LAT_BUCKETS];
    nr_error first_error;
    atomic_bool have_error;
} demo;

typedef struct worker {
    demo *d;
    int index;
    uint64_t lat[LAT_BUCKETS];
} worker;

static const char *const tenants[] = {"acme", "globex", "initech", "umbrella"};

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int bucket_of(int64_t ns)
{
    int b = 0;
    while (ns > 1 && b < LAT_BUCKETS - 1) {
        ns >>= 1;
        b++;
    }
    return b;
}

static void note_error(demo *d, const nr_error *err)
{
    atomic_fetch_add(&d->errors, 1);
    bool expected = false;
    if (atomic_compare_exchange_strong(&d->have_error, &expected, true))
        d->first_error = *err;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    demo *d = w->d;
    uint64_t rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(w->index + 1);
    char sql[256];
    while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
        const char *tenant = tenants[xorshift(&rng) % 4];
        char caller[32];
        snprintf(caller, sizeof(caller), "worker-%d", w->index);
        nr_ctx ctx = {.deadline = nr_deadline_in_ms(10000), .caller = caller};
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        int64_t t0 = nr_now_ns();
        if (nr_pool_acquire(d->pool, &ctx, &g, &err) != NR_OK) {
            note_error(d, &err);
            continue;
        }
        w->lat[bucket_of(nr_now_ns() - t0)]++;
        void *conn = nr_guard_handle(&g);
        uint64_t r = xorshift(&rng) % 1000;
        long amount = (long)(xorshift(&rng) % 10000);
        if (r < 20) {
            /* A step that crashes half-way: its transaction is left open and
             * the pool's recycle must roll it back. */
            snprintf(sql, sizeof(sql),
                     "BEGIN IMMEDIATE; INSERT INTO orders(tenant, worker, amount, state) "
                     "VALUES ('%s', %d, %ld, 'abandoned')",
                     tenant, w->index, amount);
            if (nr_sqlite_exec(conn, sql, &err) == NR_OK)
                atomic_fetch_add(&d->abandoned, 1);
            else
                note_error(d, &err);
            nr_guard_release(&g);
        } else {
            snprintf(sql, sizeof(sql),
                     "BEGIN IMMEDIATE; INSERT INTO orders(tenant, worker, amount, state) "
                     "VALUES ('%s', %d, %ld, 'committed'); COMMIT",
                     tenant, w->index, amount);
            if (nr_sqlite_exec(conn, sql, &err) == NR_OK) {
                atomic_fetch_add(&d->committed, 1);
            } else {
                note_error(d, &err);
                nr_sqlite_exec(conn, "ROLLBACK", NULL);
            }
            if (r < 25) {
                /* The step decides its connection is suspect: throw it away. */
                atomic_fetch_add(&d->tainted, 1);
                nr_guard_taint(&g);
            } else {
                nr_guard_release(&g);
            }
        }
        atomic_fetch_add_explicit(&d->ops, 1, memory_order_relaxed);
    }
    pthread_mutex_lock(&d->lat_mu);
    for (int i = 0; i < LAT_BUCKETS; i++)
        d->lat[i] += w->lat[i];
    pthread_mutex_unlock(&d->lat_mu);
    return NULL;
}

/* Keeps min_idle ready, evicts idle and old connections, checks health. */
static void *maintenance_main(void *arg)
{
    demo *d = arg;
    int tick = 0;
    while (!atomic_load(&d->stop)) {
        nr_sleep_ns(100 * NR_NS_PER_MS);
        nr_pool_maintain(d->pool, NULL, NULL);
        if (++tick % 5 == 0)
            nr_pool_check_health(d->pool, NR_NS_PER_S, NULL, NULL);
    }
    return NULL;
}

static int64_t percentile_ns(const uint64_t *lat, double q)
{
    uint64_t total = 0, seen = 0;
    for (int i = 0; i < LAT_BUCKETS; i++)
        total += lat[i];
    if (!total)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)total);
    if (rank < 1)
        rank = 1;
    for (int i = 0; i < LAT_BUCKETS; i++) {
        seen += lat[i];
        if (seen >= rank)
            return (int64_t)1 << i; /* upper bound of the bucket */
    }
    return 0;
}

static void fmt_ns(char *buf, size_t n, int64_t ns)
{
    if (ns < 10 * NR_NS_PER_US)
        snprintf(buf, n, "%lld ns", (long long)ns);
    else if (ns < 10 * NR_NS_PER_MS)
        snprintf(buf, n, "%.1f us", (double)ns / 1e3);
    else
        snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
}

static void progress(demo *d, double elapsed, bool tty)
{
    nr_pool_stats s;
    nr_pool_stats_get(d->pool, &s);
    long ops = atomic_load(&d->ops);
    char line[200];
    snprintf(line, sizeof(line),
             "[%5.1fs] %8ld steps %8.0f/s | in use %u/%u idle %u waiting %2u | created %llu "
             "closed %llu",
             elapsed, ops, elapsed > 0 ? (double)ops / elapsed : 0.0, s.in_use, s.max_size, s.idle,
             s.waiters, (unsigned long long)s.creates, (unsigned long long)s.destroys);
    if (tty)
        printf("\r%s\033[K", line);
    else
        printf("%s\n", line);
    fflush(stdout);
}

static void demo_usage(FILE *out)
{
    fprintf(out, "Usage: nebula-resource demo [--threads N] [--seconds S] [--pool-size M] "
                 "[--db PATH]\n"
                 "\n"
                 "Runs N worker threads for S seconds. Each step leases a connection from a\n"
                 "pool of at most M SQLite connections and writes an order for one of four\n"
                 "tenants; now and then a step leaves its transaction open (the pool rolls it\n"
                 "back on release) or throws its connection away (the pool replaces it).\n"
                 "A maintenance thread keeps connections ready, retires old ones and checks\n"
                 "their health. At the end the demo checks that no committed order was lost.\n"
                 "\n"
                 "  --threads N    worker threads, 1..256 (default 8)\n"
                 "  --seconds S    how long to run, 1..3600 (default 5)\n"
                 "  --pool-size M  most connections at once, 1..64 (default 4)\n"
                 "  --db PATH      database file (default: a new file in a temporary folder,\n"
                 "                 removed at the end); its orders table is emptied first\n");
}

static int parse_opts(int argc, char **argv, demo_opts *o)
{
    o->threads = 8;
    o->seconds = 5;
    o->pool_size = 4;
    o->db = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            demo_usage(stdout);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "nebula-resource demo: unknown option or missing value: '%s'\n", a);
            return -1;
        }
        const char *v = argv[++i];
        bool ok;
        if (!strcmp(a, "--threads"))
            ok = nr_cli_parse_int("--threads", v, 1, 256, &o->threads);
        else if (!strcmp(a, "--seconds"))
            ok = nr_cli_parse_int("--seconds", v, 1, 3600, &o->seconds);
        else if (!strcmp(a, "--pool-size"))
            ok = nr_cli_parse_int("--pool-size", v, 1, 64, &o->pool_size);
        else if (!strcmp(a, "--db")) {
            o->db = v;
            ok = *v != '\0';
            if (!ok)
                fprintf(stderr, "nebula-resource demo: --db must not be empty\n");
        } else {
            fprintf(stderr, "nebula-resource demo: unknown option '%s'\n", a);
            ok = false;
        }
        if (!ok)
            return -1;
    }
    return 0;
}

/* Count rows by state with one leased connection. */
static int count_orders(demo *d, const char *state, long *out, nr_error *err)
{
    nr_guard g = NR_GUARD_INIT;
    int rc = nr_pool_acquire(d->pool, NULL, &g, err);
    if (rc != NR_OK)
        return rc;
    sqlite3 *db = nr_sqlite_db(nr_guard_handle(&g));
    sqlite3_stmt *st = NULL;
    rc = NR_EINVAL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM orders WHERE state = ?1", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = NR_OK;
    } else {
        nr_error_set(err, NR_EINVAL, "orders-db", "count query failed: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    nr_guard_release(&g);
    return rc;
}

static void print_summary(demo *d, const nr_pool_stats *s, double secs)
{
    char p50[32], p99[32], p999[32], avgw[32], maxw[32];
    fmt_ns(p50, sizeof(p50), percentile_ns(d->lat, 0.50));
    fmt_ns(p99, sizeof(p99), percentile_ns(d->lat, 0.99));
    fmt_ns(p999, sizeof(p999), percentile_ns(d->lat, 0.999));
    fmt_ns(avgw, sizeof(avgw), s->waits ? s->wait_ns_total / (int64_t)s->waits : 0);
    fmt_ns(maxw, sizeof(maxw), s->wait_ns_max);
    long ops = atomic_load(&d->ops);
    printf("\n"
           "Pool 'orders-db' (sqlite, max_size %u, min_idle %u) after %.1f s, %lld threads\n"
           "  +------------------------------+--------------+\n",
           s->max_size, s->min_idle, secs, (long long)d->o.threads);
#define ROW(name, fmt, val) printf("  | %-28s | %12" fmt " |\n", name, val)
    ROW("workflow steps", "ld", ops);
    ROW("steps per second", ".0f", secs > 0 ? (double)ops / secs : 0.0);
    ROW("orders committed", "ld", atomic_load(&d->committed));
    ROW("transactions left open", "ld", atomic_load(&d->abandoned));
    ROW("connections thrown away", "ld", atomic_load(&d->tainted));
    ROW("errors", "ld", atomic_load(&d->errors));
    ROW("acquires", "llu", (unsigned long long)s->acquires);
    ROW("releases", "llu", (unsigned long long)s->releases);
    ROW("handed straight to a waiter", "llu", (unsigned long long)s->handoffs);
    ROW("acquires that waited", "llu", (unsigned long long)s->waits);
    ROW("acquire timeouts", "llu", (unsigned long long)s->timeouts);
    ROW("connections created", "llu", (unsigned long long)s->creates);
    ROW("connections closed", "llu", (unsigned long long)s->destroys);
    ROW("retired by max_lifetime", "llu", (unsigned long long)s->evicted_lifetime);
    ROW("evicted by idle_timeout", "llu", (unsigned long long)s->evicted_idle);
    ROW("failed health checks", "llu", (unsigned long long)s->health_discards);
    ROW("acquire latency p50", "s", p50);
    ROW("acquire latency p99", "s", p99);
    ROW("acquire latency p99.9", "s", p999);
    ROW("average wait when waiting", "s", avgw);
    ROW("longest wait", "s", maxw);
#undef ROW
    printf("  +------------------------------+--------------+\n");
}

int nr_cli_demo(int argc, char **argv)
{
    demo *d = calloc(1, sizeof(*d));
    if (!d) {
        fprintf(stderr, "nebula-resource demo: out of memory\n");
        return 1;
    }
    int status = 1;
    int prc = parse_opts(argc, argv, &d->o);
    if (prc != 0) {
        free(d);
        return prc > 0 ? 0 : 2;
    }
    pthread_mutex_init(&d->lat_mu, NULL);

    char dir[] = "/tmp/nebula-demo.XXXXXX";
    char path[4096];
    bool own_dir = false;
    if (d->o.db) {
        snprintf(path, sizeof(path), "%s", d->o.db);
    } else {
        if (!mkdtemp(dir)) {
            perror("nebula-resource demo: mkdtemp");
            free(d);
            return 1;
        }
        own_dir = true;
        snprintf(path, sizeof(path), "%s/orders.db", dir);
    }

    nr_error err = {0};
    nr_sqlite_config cfg;
    nr_config_init(&nr_sqlite_config_schema, &cfg, NULL);
    nr_free(cfg.path);
    cfg.path = nr_strdup(path);
    cfg.wal = true;
    cfg.busy_timeout_ms = 5000;

    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = d->o.pool_size;
    pc.min_idle = d->o.pool_size < 2 ? d->o.pool_size : 2;
    pc.acquire_timeout_ms = 10000;
    pc.max_lifetime_ms = 1500; /* short, so the demo shows connections being retired */
    pc.idle_timeout_ms = 1000;
    nr_pool_options po = {.id = "orders-db", .type = &nr_sqlite_type, .config = &cfg, .pool = &pc};

    printf("nebula-resource %s demo: %lld threads, pool of at most %lld SQLite connections, "
           "%lld s\n",
           nr_version(), (long long)d->o.threads, (long long)d->o.pool_size,
           (long long)d->o.seconds);
    printf("database: %s (WAL)\n", path);

    if (!cfg.path || nr_pool_create(&d->pool, &po, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource demo: %s\n", cfg.path ? err.message : "out of memory");
        goto out_cfg;
    }
    if (nr_pool_fill(d->pool, nr_deadline_in_ms(5000), &err) != NR_OK) {
        fprintf(stderr, "nebula-resource demo: warming the pool: %s\n", err.message);
        goto out_pool;
    }
    {
        nr_guard g = NR_GUARD_INIT;
        if (nr_pool_acquire(d->pool, NULL, &g, &err) != NR_OK ||
            nr_sqlite_exec(nr_guard_handle(&g),
                           "CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, "
                           "tenant TEXT NOT NULL, worker INTEGER NOT NULL, amount INTEGER NOT "
                           "NULL, state TEXT NOT NULL); DELETE FROM orders",
                           &err) != NR_OK) {
            fprintf(stderr, "nebula-resource demo: creating the table: %s\n", err.message);
            nr_guard_release(&g);
            goto out_pool;
        }
        nr_guard_release(&g);
    }

    worker *ws = calloc((size_t)d->o.threads, sizeof(*ws));
    pthread_t *ts = calloc((size_t)d->o.threads, sizeof(*ts));
    pthread_t mt;
    if (!ws || !ts) {
        fprintf(stderr, "nebula-resource demo: out of memory\n");
        free(ws);
        free(ts);
        goto out_pool;
    }
    int64_t start = nr_now_ns();
    pthread_create(&mt, NULL, maintenance_main, d);
    for (int i = 0; i < d->o.threads; i++) {
        ws[i] = (worker){.d = d, .index = i};
        pthread_create(&ts[i], NULL, worker_main, &ws[i]);
    }
    bool tty = isatty(STDOUT_FILENO);
    int64_t end = start + d->o.seconds * NR_NS_PER_S;
    int tick = 0;
    while (nr_now_ns() < end) {
        nr_sleep_ns(200 * NR_NS_PER_MS);
        if (tty || ++tick % 5 == 0)
            progress(d, (double)(nr_now_ns() - start) / 1e9, tty);
    }
    atomic_store(&d->stop, true);
    for (int i = 0; i < d->o.threads; i++)
        pthread_join(ts[i], NULL);
    pthread_join(mt, NULL);
    double secs = (double)(nr_now_ns() - start) / 1e9;
    progress(d, secs, tty);
    if (tty)
        printf("\n");
    free(ws);
    free(ts);

    long in_db = -1, abandoned_in_db = -1;
    int crc = count_orders(d, "committed", &in_db, &err);
    if (crc == NR_OK)
        crc = count_orders(d, "abandoned", &abandoned_in_db, &err);
    if (crc != NR_OK)
        fprintf(stderr, "nebula-resource demo: counting orders: %s\n", err.message);

    printf("shutting down: draining the pool...\n");
    if (nr_pool_drain(d->pool, nr_deadline_in_ms(5000), &err) != NR_OK)
        fprintf(stderr, "nebula-resource demo: %s\n", err.message);
    nr_pool_stats s;
    nr_pool_stats_get(d->pool, &s);
    print_summary(d, &s, secs);

    long committed = atomic_load(&d->committed);
    bool ok = crc == NR_OK && in_db == committed && abandoned_in_db == 0 &&
              atomic_load(&d->errors) == 0 && s.creates == s.destroys && s.acquires == s.releases &&
              s.total == 0;
    printf("\ncheck: %ld orders committed, %ld in the database; %ld of %ld left-open "
           "transactions survived; %ld errors; %llu connections created, %llu closed: %s\n",
           committed, in_db, abandoned_in_db, atomic_load(&d->abandoned), atomic_load(&d->errors),
           (unsigned long long)s.creates, (unsigned long long)s.destroys, ok ? "OK" : "FAILED");
    if (atomic_load(&d->have_error))
        printf("first error seen by a worker: %s: %s\n", nr_err_name(d->first_error.code),
               d->first_error.message);
    status = ok ? 0 : 1;

out_pool:
    if (nr_pool_destroy(d->pool, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource demo: %s\n", err.message);
        status = 1;
    }
out_cfg:
    nr_config_free(&nr_sqlite_config_schema, &cfg);
    if (own_dir) {
        const char *suffix[] = {"", "-wal", "-shm", "-journal"};
        for (int i = 0; i < 4; i++) {
            char f[4200];
            snprintf(f, sizeof(f), "%s%s", path, suffix[i]);
            unlink(f);
        }
        rmdir(dir);
    }
    pthread_mutex_destroy(&d->lat_mu);
    free(d);
    return status;
}
