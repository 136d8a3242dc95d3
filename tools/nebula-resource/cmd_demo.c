/*
 * cmd_demo.c - `nebula-resource demo`: simulated workflow executions for
 * four tenants run through a manager of three SQLite resources:
 *
 *   orders-db     a WAL database file shared by every tenant
 *   audit-log     a second database file; depends on orders-db
 *   tenant-cache  private in-memory databases, one pool per tenant
 *                 (partitioned), so a busy tenant cannot starve another;
 *                 depends on orders-db
 *
 * The manager starts them in dependency order, keeps them at min_idle, retires
 * old connections and checks health in the background, and shuts them down in
 * phases at the end. A progress line shows the pools live; a table shows each
 * resource's statistics at the end. The demo checks itself: every order a
 * step committed is in the database, every transaction a step left open was
 * rolled back, no step saw an error, and every connection created was closed.
 *
 * Partway through (unless --no-outage), a batch job outside the pools takes
 * orders-db's write lock and stalls (demo_outage.c). orders-db checks its
 * health with the SQLite driver's "write" check, so its health rounds fail:
 * it becomes unhealthy, audit-log and tenant-cache are degraded by it (a
 * cascade), it is quarantined, and once the lock is free it comes back
 * through half-open. Acquires refused meanwhile, and writes that found the
 * database locked, are counted apart: they are what the outage costs, not
 * errors. The steps the manager took come from its events (demo_watch.c).
 *
 * While it runs, the status page and the endpoints of `run` are served on
 * loopback (a free port unless --port says otherwise; the URL is printed).
 * SIGINT or SIGTERM ends the work early and goes on to the shutdown.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "demo_opts.h"
#include "demo_outage.h"
#include "demo_watch.h"
#include "nebula/admin.h"
#include "nebula/manager.h"
#include "nebula/resource.h"
#include "nebula/sqlite.h"
#include "signals.h"

#define LAT_BUCKETS 48 /* log2 buckets of acquire latency in ns */
#define NTENANTS    4

/* A checkout waits at most this long for orders-db's write lock. */
#define STEP_LOCK_WAIT_MS 500
/* How long a worker waits before its next step after the outage refused
 * it: a refused acquire costs nothing, so a short pause; a write that found
 * the database locked held a connection for STEP_LOCK_WAIT_MS, so the pause
 * doubles with each one in a row (as a client's retries back off), which
 * leaves connections idle for the health checks to find the lock. */
#define BACKOFF_REFUSED_MS    50
#define BACKOFF_LOCKED_MS     1000
#define BACKOFF_LOCKED_MAX_MS 4000
/* After the run's time is up, how long the demo waits for an outage to end. */
#define RECOVERY_WAIT_MS 20000

static const char *const tenants[NTENANTS] = {"acme", "globex", "initech", "umbrella"};
static const char *const resources[] = {"orders-db", "audit-log", "tenant-cache"};
#define NRES 3

typedef struct demo {
    demo_opts o;
    nr_manager *m;
    nr_provider provider;
    atomic_bool stop;
    atomic_long committed, abandoned, tainted, audited, cached, errors, steps;
    atomic_long refused, locked; /* acquires and writes the outage cost */
    atomic_long contended;       /* writes that found the lock held by another checkout longer
                                    than they wait, outside the outage (a loaded machine) */
    demo_outage *outage;         /* NULL with --no-outage */
    demo_watch *watch;
    pthread_mutex_t lat_mu;
    uint64_t lat[LAT_BUCKETS];
    nr_error first_error;
    atomic_bool have_error;
    nr_event_bus *bus;
    nr_metrics *metrics;
    nr_admin *admin; /* NULL with --no-http */
    cli_signals sig;
} demo;

typedef struct worker {
    demo *d;
    int index;
    int backoff_ms; /* set when the outage refused a step */
    int locked_row; /* writes in a row that found the database locked */
    uint64_t lat[LAT_BUCKETS];
} worker;

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

/* A failure of an acquire (or, acquire false, of a write) that began at
 * outage epoch e0: what the outage costs is counted apart, the rest is an
 * error. */
static void note_failure(worker *w, const nr_error *err, uint64_t e0, bool acquire)
{
    demo *d = w->d;
    if (demo_outage_met(e0, demo_outage_epoch(d->outage))) {
        if (acquire && (err->code == NR_EUNAVAIL || err->code == NR_EDEPFAIL)) {
            atomic_fetch_add(&d->refused, 1); /* failed fast: unhealthy or quarantined */
            w->backoff_ms = BACKOFF_REFUSED_MS;
            return;
        }
        if (!acquire && err->code == NR_EBUSY) {
            atomic_fetch_add(&d->locked, 1); /* "database is locked": rolled back */
            int ms = BACKOFF_LOCKED_MS << (w->locked_row < 3 ? w->locked_row : 3);
            w->backoff_ms = ms < BACKOFF_LOCKED_MAX_MS ? ms : BACKOFF_LOCKED_MAX_MS;
            w->locked_row++;
            return;
        }
    } else if (!acquire && err->code == NR_EBUSY) {
        /* Another checkout held the write lock longer than a checkout waits
         * for it: on a loaded machine a writer can be descheduled that long.
         * Rolled back with nothing committed (the check counts what was),
         * so counted apart and shown, not an error. */
        atomic_fetch_add(&d->contended, 1);
        w->backoff_ms = BACKOFF_LOCKED_MS;
        return;
    }
    note_error(d, err);
}

/* Lease `id` for the execution, timing the acquire. */
static int lease(worker *w, const char *id, const nr_scope *exec, nr_guard *g)
{
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(10000), .scope = exec, .caller = id);
    nr_error err = {0};
    uint64_t e0 = demo_outage_epoch(w->d->outage);
    int64_t t0 = nr_now_ns();
    int rc = nr_provider_acquire(&w->d->provider, id, &ctx, g, &err);
    if (rc != NR_OK) {
        note_failure(w, &err, e0, true);
        return rc;
    }
    w->lat[bucket_of(nr_now_ns() - t0)]++;
    return NR_OK;
}

/* sqlite3_busy_handler of a checkout: look again every millisecond (a
 * waiter that sleeps longer loses the lock to the others every time), and
 * give up after about STEP_LOCK_WAIT_MS. */
static int step_busy(void *ud, int count)
{
    (void)ud;
    if (count >= STEP_LOCK_WAIT_MS)
        return 0;
    nr_sleep_ns(NR_NS_PER_MS);
    return 1;
}

/* One workflow step: write an order (sometimes crash half-way, sometimes
 * distrust the connection), look at the tenant's cache, and now and then
 * write an audit record. */
static void step(worker *w, uint64_t *rng, long execution)
{
    demo *d = w->d;
    const char *tenant = tenants[xorshift(rng) % NTENANTS];
    char run[32], sql[256];
    snprintf(run, sizeof(run), "run-%ld", execution);
    nr_scope exec;
    nr_scope_make(&exec, tenant, "checkout", run, NULL, NULL);
    nr_error err = {0};
    nr_guard g = NR_GUARD_INIT;
    uint64_t r = xorshift(rng) % 1000;
    long amount = (long)(xorshift(rng) % 10000);

    if (lease(w, "orders-db", &exec, &g) == NR_OK) {
        void *conn = nr_guard_handle(&g);
        /* a checkout does not wait long for the write lock (the pool puts
         * the configured busy timeout back at release) */
        sqlite3_busy_handler(nr_sqlite_db(conn), step_busy, NULL);
        uint64_t e0 = demo_outage_epoch(d->outage);
        if (r < 20) {
            /* crashes half-way: the pool's recycle must roll this back */
            snprintf(sql, sizeof(sql),
                     "BEGIN IMMEDIATE; INSERT INTO orders(tenant, amount, state) "
                     "VALUES ('%s', %ld, 'abandoned')",
                     tenant, amount);
            if (nr_sqlite_exec(conn, sql, &err) == NR_OK)
                atomic_fetch_add(&d->abandoned, 1);
            else
                note_failure(w, &err, e0, false);
            nr_guard_release(&g);
        } else {
            snprintf(sql, sizeof(sql),
                     "BEGIN IMMEDIATE; INSERT INTO orders(tenant, amount, state) "
                     "VALUES ('%s', %ld, 'committed'); COMMIT",
                     tenant, amount);
            if (nr_sqlite_exec(conn, sql, &err) == NR_OK) {
                atomic_fetch_add(&d->committed, 1);
                w->locked_row = 0;
            } else {
                note_failure(w, &err, e0, false);
                nr_sqlite_exec(conn, "ROLLBACK", NULL);
            }
            if (r < 25) {
                atomic_fetch_add(&d->tainted, 1);
                nr_guard_taint(&g); /* distrusted: the pool replaces it */
            } else {
                nr_guard_release(&g);
            }
        }
    }
    if (lease(w, "tenant-cache", &exec, &g) == NR_OK) {
        if (nr_sqlite_exec(nr_guard_handle(&g), "SELECT 1", &err) == NR_OK)
            atomic_fetch_add(&d->cached, 1);
        else
            note_error(d, &err);
        nr_guard_release(&g);
    }
    if (r % 10 == 0 && lease(w, "audit-log", &exec, &g) == NR_OK) {
        snprintf(sql, sizeof(sql), "INSERT INTO audit(tenant, what) VALUES ('%s', 'order')",
                 tenant);
        if (nr_sqlite_exec(nr_guard_handle(&g), sql, &err) == NR_OK)
            atomic_fetch_add(&d->audited, 1);
        else
            note_error(d, &err);
        nr_guard_release(&g);
    }
    atomic_fetch_add_explicit(&d->steps, 1, memory_order_relaxed);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    uint64_t rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(w->index + 1);
    for (long n = 0; !atomic_load_explicit(&w->d->stop, memory_order_relaxed); n++) {
        step(w, &rng, (long)w->index * 1000000 + n);
        if (w->backoff_ms) { /* the outage refused it: wait before trying again */
            nr_sleep_ns(w->backoff_ms * NR_NS_PER_MS);
            w->backoff_ms = 0;
        }
    }
    pthread_mutex_lock(&w->d->lat_mu);
    for (int i = 0; i < LAT_BUCKETS; i++)
        w->d->lat[i] += w->lat[i];
    pthread_mutex_unlock(&w->d->lat_mu);
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
    cli_fmt_ns(buf, n, ns);
}

static void progress(demo *d, double elapsed, bool tty)
{
    long steps = atomic_load(&d->steps);
    char line[256];
    int n = snprintf(line, sizeof(line), "[%5.1fs] %7ld steps %6.0f/s |", elapsed, steps,
                     elapsed > 0 ? (double)steps / elapsed : 0.0);
    for (int i = 0; i < NRES && n > 0 && (size_t)n < sizeof(line); i++) {
        nr_resource_info ri = NR_RESOURCE_INFO_INIT;
        if (nr_manager_resource_info(d->m, resources[i], &ri, NULL) != NR_OK)
            continue;
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %s %u/%u %s%s%s", resources[i],
                      ri.stats.in_use, ri.stats.max_size, nr_health_name(ri.health),
                      ri.quarantine != NR_QUARANTINE_NONE ? " " : "",
                      ri.quarantine != NR_QUARANTINE_NONE ? nr_quarantine_state_name(ri.quarantine)
                                                          : "");
    }
    long refused = atomic_load(&d->refused), locked = atomic_load(&d->locked);
    if ((refused || locked) && n > 0 && (size_t)n < sizeof(line))
        snprintf(line + n, sizeof(line) - (size_t)n, " | refused %ld locked %ld", refused, locked);
    if (tty)
        printf("\r%s\033[K", line);
    else
        printf("%s\n", line);
    fflush(stdout);
    nr_admin_set_note(d->admin, line);
}

static const char *outage_name(const demo *d)
{
    static const char *const names[] = {"scheduled", "lock held", "recovering", "over", "failed"};
    return d->outage ? names[demo_outage_state_now(d->outage)] : "off";
}

/* Steps and outcomes so far, for the /status document. */
static void status_extra(void *ud, void *json_object)
{
    demo *d = ud;
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "steps",
        (json_int_t)atomic_load(&d->steps), "committed", (json_int_t)atomic_load(&d->committed),
        "left_open", (json_int_t)atomic_load(&d->abandoned), "thrown_away",
        (json_int_t)atomic_load(&d->tainted), "cache_lookups", (json_int_t)atomic_load(&d->cached),
        "audited", (json_int_t)atomic_load(&d->audited), "errors",
        (json_int_t)atomic_load(&d->errors), "refused", (json_int_t)atomic_load(&d->refused),
        "contended", (json_int_t)atomic_load(&d->contended), "locked",
        (json_int_t)atomic_load(&d->locked), "outage", outage_name(d));
    if (o)
        json_object_set_new(json_object, "demo", o);
}

/* Run sql on one leased connection of `id`; count the first column of its
 * first row into *out when out is not NULL. */
static int run_sql(demo *d, const char *id, const char *sql, long *out, nr_error *err)
{
    nr_guard g = NR_GUARD_INIT;
    int rc = nr_manager_acquire(d->m, id, NULL, &g, err);
    if (rc != NR_OK)
        return rc;
    if (!out) {
        rc = nr_sqlite_exec(nr_guard_handle(&g), sql, err);
    } else {
        sqlite3 *db = nr_sqlite_db(nr_guard_handle(&g));
        sqlite3_stmt *st = NULL;
        rc = NR_EINVAL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = NR_OK;
        } else {
            nr_error_set(err, NR_EINVAL, id, "'%s' failed: %s", sql, sqlite3_errmsg(db));
        }
        sqlite3_finalize(st);
    }
    nr_guard_release(&g);
    return rc;
}

static int add_resource(demo *d, const char *id, const char *path, bool wal, int64_t max_size,
                        int64_t min_idle, const char *dep, nr_partition part, bool write_check,
                        nr_error *err)
{
    nr_sqlite_config cfg;
    if (nr_config_init(&nr_sqlite_config_schema, &cfg, err) != NR_OK)
        return err->code;
    nr_free(cfg.path);
    cfg.path = nr_strdup(path);
    cfg.wal = wal;
    cfg.busy_timeout_ms = 5000;
    if (write_check) /* a stuck writer shows as unhealthy, not only as slow writes */
        cfg.health_check = NR_SQLITE_HEALTH_WRITE;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = max_size;
    pc.min_idle = min_idle;
    pc.acquire_timeout_ms = 10000;
    pc.max_lifetime_ms = 1500; /* short, so the demo shows connections being retired */
    pc.idle_timeout_ms = 1000;
    const char *deps[] = {dep};
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = id, .type = &nr_sqlite_type, .config = &cfg,
                                          .pool = &pc, .partition = part,
                                          .depends_on = dep ? deps : NULL, .ndepends = dep ? 1 : 0);
    int rc = cfg.path ? nr_manager_register(d->m, &s, err)
                      : nr_error_set(err, NR_ENOMEM, id, "out of memory");
    nr_config_free(&nr_sqlite_config_schema, &cfg); /* the manager keeps its own copy */
    return rc;
}

static void print_summary(demo *d, double secs, const nr_shutdown_report *rep)
{
    long steps = atomic_load(&d->steps);
    char p50[32], p99[32], p999[32];
    fmt_ns(p50, sizeof(p50), percentile_ns(d->lat, 0.50));
    fmt_ns(p99, sizeof(p99), percentile_ns(d->lat, 0.99));
    fmt_ns(p999, sizeof(p999), percentile_ns(d->lat, 0.999));
    printf("\n%ld workflow steps in %.1f s (%.0f/s) on %lld threads; acquire latency p50 %s, "
           "p99 %s, p99.9 %s\n",
           steps, secs, secs > 0 ? (double)steps / secs : 0.0, (long long)d->o.threads, p50, p99,
           p999);
    printf("orders committed %ld, transactions left open %ld, connections thrown away %ld, "
           "cache look-ups %ld, audit records %ld, errors %ld\n\n",
           atomic_load(&d->committed), atomic_load(&d->abandoned), atomic_load(&d->tainted),
           atomic_load(&d->cached), atomic_load(&d->audited), atomic_load(&d->errors));
    printf("  %-13s %-8s %-8s %5s %9s %8s %8s %7s %8s %8s %8s\n", "resource", "state", "health",
           "pools", "acquires", "waited", "handoff", "created", "closed", "retired", "evicted");
    for (int i = 0; i < NRES; i++) {
        nr_resource_info ri = NR_RESOURCE_INFO_INIT;
        if (nr_manager_resource_info(d->m, resources[i], &ri, NULL) != NR_OK)
            continue;
        printf("  %-13s %-8s %-8s %5u %9llu %8llu %8llu %7llu %8llu %8llu %8llu\n", resources[i],
               nr_resource_state_name(ri.state), nr_health_name(ri.health), ri.pools,
               (unsigned long long)ri.stats.acquires, (unsigned long long)ri.stats.waits,
               (unsigned long long)ri.stats.handoffs, (unsigned long long)ri.stats.creates,
               (unsigned long long)ri.stats.destroys, (unsigned long long)ri.stats.evicted_lifetime,
               (unsigned long long)ri.stats.evicted_idle);
    }
    printf("\nshutdown: drain %.1f ms, cleanup %.1f ms (%u connections closed, dependents "
           "first), %zu resource(s) with leases left\n",
           (double)rep->drain_ns / 1e6, (double)rep->cleanup_ns / 1e6, rep->destroyed,
           rep->nleftovers);
}

static bool all_closed(demo *d)
{
    for (int i = 0; i < NRES; i++) {
        nr_resource_info ri = NR_RESOURCE_INFO_INIT;
        if (nr_manager_resource_info(d->m, resources[i], &ri, NULL) != NR_OK ||
            ri.stats.creates != ri.stats.destroys || ri.stats.acquires != ri.stats.releases)
            return false;
    }
    return true;
}

/* Schedule the outage and start the event watcher (each only when asked
 * for; a failure to start either is said and the demo goes on without it). */
static void start_outage(demo *d, const char *orders, int64_t start)
{
    char msg[256];
    if (d->o.http || d->o.outage)
        if (demo_watch_start(&d->watch, d->bus, start, msg, sizeof(msg)) != 0)
            fprintf(stderr, "nebula-resource demo: no event watcher: %s\n", msg);
    if (!d->o.outage)
        return;
    int64_t run_ms = d->o.seconds * 1000;
    int64_t at = d->o.outage_at_ms >= 0 ? d->o.outage_at_ms : run_ms / 5;
    int64_t hold = d->o.outage_for_ms >= 0 ? d->o.outage_for_ms : run_ms * 4 / 10;
    if (d->o.outage_at_ms < 0 && at < 1000)
        at = 1000;
    if (d->o.outage_for_ms < 0)
        hold = hold < 2000 ? 2000 : hold > 6000 ? 6000 : hold;
    if (demo_outage_start(&d->outage, orders, start + at * NR_NS_PER_MS, hold * NR_NS_PER_MS, msg,
                          sizeof(msg)) != 0) {
        fprintf(stderr, "nebula-resource demo: no outage: %s\n", msg);
        return;
    }
    printf("outage: at %.1f s a batch job takes orders-db's write lock for %.1f s "
           "(--no-outage: none)\n",
           (double)at / 1000, (double)hold / 1000);
}

/* Whether every resource is healthy and in service again. */
static bool all_healthy(demo *d)
{
    for (int i = 0; i < NRES; i++) {
        nr_resource_info ri = NR_RESOURCE_INFO_INIT;
        if (nr_manager_resource_info(d->m, resources[i], &ri, NULL) != NR_OK ||
            ri.health != NR_HEALTH_HEALTHY || ri.quarantine != NR_QUARANTINE_NONE)
            return false;
    }
    return true;
}

/* The main thread while the workers run: the live line, the manager's steps
 * as they come, the end of the outage. Runs for the run's length, then (an
 * outage still going on) until it is over, at most RECOVERY_WAIT_MS more.
 * Returns true when a signal ended it. */
static bool work(demo *d, int64_t start, bool tty)
{
    int64_t end = start + d->o.seconds * NR_NS_PER_S;
    int64_t last = end + RECOVERY_WAIT_MS * NR_NS_PER_MS;
    bool said = false;
    for (int tick = 0;;) {
        int64_t now = nr_now_ns();
        demo_outage_state os = demo_outage_state_now(d->outage);
        if (os == DEMO_OUTAGE_RECOVERING && all_healthy(d)) {
            demo_outage_recovered(d->outage, now);
            demo_watch_print_new(d->watch, stdout, tty);
            printf("%s[%5.1fs] everything healthy again\n", tty ? "\r\033[K" : "",
                   (double)(now - start) / 1e9);
        }
        bool going_on = os == DEMO_OUTAGE_HELD || os == DEMO_OUTAGE_RECOVERING;
        if (now >= end && (!going_on || now >= last))
            return false;
        if (now >= end && !said) {
            said = true;
            printf("%sthe run's time is up; waiting for the outage to end (at most %d s)\n",
                   tty ? "\r\033[K" : "", RECOVERY_WAIT_MS / 1000);
        }
        if (cli_signals_wait(&d->sig, 1, 200) > 0)
            return true;
        demo_watch_print_new(d->watch, stdout, tty);
        if (tty || ++tick % 5 == 0)
            progress(d, (double)(nr_now_ns() - start) / 1e9, tty);
    }
}

static int run(demo *d, const char *dir)
{
    nr_error err = {0};
    char orders[4200], audit[4200];
    snprintf(orders, sizeof(orders), "%s/orders.db", dir);
    snprintf(audit, sizeof(audit), "%s/audit.db", dir);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 100;
    /* quick enough that the outage is seen, quarantined and recovered from
     * within a few seconds: a bad round every 200 ms, unhealthy after two,
     * quarantined after three, probes after 0.4 s, 0.8 s, 1.6 s */
    mo.health_interval_ms = 200;
    mo.health_timeout_ms = 300;
    mo.failure_threshold = 2;
    mo.recovery_threshold = 2;
    mo.quarantine_after = 3;
    mo.quarantine_base_ms = 400;
    mo.quarantine_factor = 2;
    mo.quarantine_max_ms = 1600;
    /* room for the pools' events while the watcher reads the manager's */
    if (nr_event_bus_create(&d->bus, 8192, &err) != NR_OK ||
        nr_metrics_create(&d->metrics, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource demo: %s\n", err.message);
        return 1;
    }
    mo.events = d->bus;
    mo.metrics = d->metrics;
    if (nr_manager_create(&d->m, &mo, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource demo: %s\n", err.message);
        return 1;
    }
    if (d->o.http) {
        nr_admin_options ao = NR_ADMIN_OPTIONS_INIT;
        nr_admin_options_default(&ao);
        ao.listen = d->o.listen;
        ao.port = (int)d->o.port;
        ao.mode = "demo";
        ao.phase = NR_ADMIN_STARTING;
        ao.metrics = d->metrics;
        ao.events = d->bus;
        ao.status_extra = status_extra;
        ao.status_extra_ud = d;
        if (nr_admin_start(&d->admin, d->m, &ao, &err) != NR_OK) {
            fprintf(stderr, "nebula-resource demo: %s\n", err.message);
            nr_manager_destroy(d->m, NULL);
            return 1;
        }
        printf("status page: http://%s%s%s:%d/ (also /status /metrics /healthz /readyz)\n",
               strchr(d->o.listen, ':') ? "[" : "", d->o.listen,
               strchr(d->o.listen, ':') ? "]" : "", nr_admin_port(d->admin));
        fflush(stdout);
    }
    d->provider = nr_manager_provider(d->m);
    int64_t pool = d->o.pool_size;
    /* registered in any order: the manager sorts out the dependencies */
    if (add_resource(d, "tenant-cache", ":memory:", false, 2, 1, "orders-db", NR_PARTITION_TENANT,
                     false, &err) != NR_OK ||
        add_resource(d, "audit-log", audit, true, 2, 1, "orders-db", NR_PARTITION_NONE, false,
                     &err) != NR_OK ||
        add_resource(d, "orders-db", orders, true, pool, pool < 2 ? pool : 2, NULL,
                     NR_PARTITION_NONE, true, &err) != NR_OK ||
        nr_manager_start(d->m, nr_deadline_in_ms(10000), &err) != NR_OK ||
        run_sql(d, "orders-db",
                "CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, tenant TEXT NOT "
                "NULL, amount INTEGER NOT NULL, state TEXT NOT NULL); DELETE FROM orders",
                NULL, &err) != NR_OK ||
        run_sql(d, "audit-log",
                "CREATE TABLE IF NOT EXISTS audit(tenant TEXT, what TEXT); DELETE FROM audit", NULL,
                &err) != NR_OK) {
        fprintf(stderr, "nebula-resource demo: %s\n", err.message);
        nr_admin_stop(d->admin);
        d->admin = NULL;
        nr_manager_destroy(d->m, NULL);
        return 1;
    }
    nr_admin_set_phase(d->admin, NR_ADMIN_RUNNING);
    printf("started: orders-db, then audit-log and tenant-cache (one pool per tenant)\n");

    worker *ws = calloc((size_t)d->o.threads, sizeof(*ws));
    pthread_t *ts = calloc((size_t)d->o.threads, sizeof(*ts));
    if (!ws || !ts) {
        fprintf(stderr, "nebula-resource demo: out of memory\n");
        free(ws);
        free(ts);
        nr_admin_stop(d->admin);
        d->admin = NULL;
        nr_manager_destroy(d->m, NULL);
        return 1;
    }
    int64_t start = nr_now_ns();
    start_outage(d, orders, start);
    for (int i = 0; i < d->o.threads; i++) {
        ws[i] = (worker){.d = d, .index = i};
        pthread_create(&ts[i], NULL, worker_main, &ws[i]);
    }
    bool tty = isatty(STDOUT_FILENO);
    bool interrupted = work(d, start, tty);
    atomic_store(&d->stop, true);
    for (int i = 0; i < d->o.threads; i++)
        pthread_join(ts[i], NULL);
    double secs = (double)(nr_now_ns() - start) / 1e9;
    progress(d, secs, tty);
    demo_watch_print_new(d->watch, stdout, tty);
    if (tty)
        printf("\n");
    if (interrupted)
        printf("stopped early by %s\n", cli_signals_last_name(&d->sig));
    free(ws);
    free(ts);
    demo_outage_stop(d->outage); /* the lock is free from here on */

    long in_db = -1, left_open = -1, audit_rows = -1;
    int crc = run_sql(d, "orders-db", "SELECT count(*) FROM orders WHERE state = 'committed'",
                      &in_db, &err);
    if (crc == NR_OK)
        crc = run_sql(d, "orders-db", "SELECT count(*) FROM orders WHERE state = 'abandoned'",
                      &left_open, &err);
    if (crc == NR_OK)
        crc = run_sql(d, "audit-log", "SELECT count(*) FROM audit", &audit_rows, &err);
    if (crc != NR_OK)
        fprintf(stderr, "nebula-resource demo: counting: %s\n", err.message);

    printf("shutting down: drain, cleanup, terminate...\n");
    nr_admin_set_phase(d->admin, NR_ADMIN_SHUTTING_DOWN);
    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    int src = nr_manager_shutdown(d->m, NULL, &rep, &err);
    if (src != NR_OK)
        fprintf(stderr, "nebula-resource demo: %s\n", err.message);
    print_summary(d, secs, &rep);
    if (d->outage) {
        printf("\n");
        demo_watch_summary(d->watch, d->outage, stdout, atomic_load(&d->refused),
                           atomic_load(&d->locked));
    }

    long committed = atomic_load(&d->committed);
    bool closed = all_closed(d);
    bool ok = crc == NR_OK && src == NR_OK && in_db == committed && left_open == 0 &&
              audit_rows == atomic_load(&d->audited) && atomic_load(&d->errors) == 0 && closed;
    if (atomic_load(&d->contended))
        printf("\ncontended: %ld writes found orders-db locked by another checkout (held longer "
               "than a checkout waits; rolled back, nothing committed)\n",
               atomic_load(&d->contended));
    printf("\ncheck: %ld orders committed, %ld in the database; %ld of %ld left-open "
           "transactions survived; %ld audit records, %ld in the log; %ld errors; every "
           "connection closed: %s => %s\n",
           committed, in_db, left_open, atomic_load(&d->abandoned), atomic_load(&d->audited),
           audit_rows, atomic_load(&d->errors), closed ? "yes" : "no", ok ? "OK" : "FAILED");
    if (atomic_load(&d->have_error))
        printf("first error seen by a step: %s: %s\n", nr_err_name(d->first_error.code),
               d->first_error.message);
    nr_admin_set_phase(d->admin, NR_ADMIN_STOPPED);
    nr_admin_stop(d->admin);
    d->admin = NULL;
    if (nr_manager_destroy(d->m, &err) != NR_OK) {
        fprintf(stderr, "nebula-resource demo: %s\n", err.message);
        ok = false;
    }
    return ok ? 0 : 1;
}

int nr_cli_demo(int argc, char **argv)
{
    demo *d = calloc(1, sizeof(*d));
    if (!d) {
        fprintf(stderr, "nebula-resource demo: out of memory\n");
        return 1;
    }
    int prc = demo_parse_opts(argc, argv, &d->o);
    if (prc != 0) {
        free(d);
        return prc > 0 ? 0 : 2;
    }
    pthread_mutex_init(&d->lat_mu, NULL);
    /* before any thread exists, so that every thread inherits the mask */
    cli_signals_block();
    cli_signals_start(&d->sig, "nebula-resource");
    char tmp[] = "/tmp/nebula-demo.XXXXXX";
    const char *dir = d->o.db;
    if (!dir && !(dir = mkdtemp(tmp))) {
        perror("nebula-resource demo: mkdtemp");
        cli_signals_stop(&d->sig);
        free(d);
        return 1;
    }
    printf("nebula-resource %s demo: %lld threads, %lld s, orders-db pool of at most %lld\n",
           nr_version(), (long long)d->o.threads, (long long)d->o.seconds,
           (long long)d->o.pool_size);
    printf("databases in %s\n", dir);
    int status = run(d, dir);
    demo_watch_stop(d->watch); /* before its bus */
    demo_outage_free(d->outage);
    nr_metrics_destroy(d->metrics);
    nr_event_bus_destroy(d->bus);
    cli_signals_stop(&d->sig);
    if (!d->o.db) {
        const char *files[] = {"orders.db", "orders.db-wal", "orders.db-shm",
                               "audit.db",  "audit.db-wal",  "audit.db-shm"};
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            char f[4200];
            snprintf(f, sizeof(f), "%s/%s", dir, files[i]);
            unlink(f);
        }
        rmdir(dir);
    }
    pthread_mutex_destroy(&d->lat_mu);
    free(d);
    return status;
}
