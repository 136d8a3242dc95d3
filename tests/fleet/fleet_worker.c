/*
 * fleet_worker.c - one process of the fleet test (test_fleet_processes.c
 * starts four): a manager with one PostgreSQL resource (max_size 20) in a
 * fleet budget, and THREADS threads that acquire, run a short query and
 * give back, until SIGTERM. Then it prints one line:
 *     ok=N timeouts=N bad=N down=N up=N fallback=N fallback_limit=N
 * and exits 0, or 1 when an acquire failed other than by a clear timeout
 * (NR_ETIMEDOUT naming the resource) or something could not be set up.
 * On SIGUSR1 it prints where it is (within 100 ms, from nr_fleet_get_stats):
 *     progress ok=N timeouts=N bad=N leases=N limit=N held=N redis_up=0|1
 *     fallback=0|1 longest_ms=N
 * longest_ms: the longest one acquire and its query took so far, or the one
 * under way has been taking (a call that hangs shows here).
 *
 *     fleet_worker RESOURCE PROCESS closed|open
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nebula/alloc.h"
#include "nebula/fleet.h"
#include "nebula/manager.h"
#include "nebula/postgres.h"

#define THREADS 10

static atomic_int stop, report;
static atomic_long n_ok, n_timeout, n_bad;
static _Atomic int64_t call_since_ns[THREADS]; /* 0: between calls */
static _Atomic int64_t longest_ns;             /* of the calls done */
static nr_manager *mgr;
static nr_fleet *fleet;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "%s is not set\n", name);
        exit(1);
    }
    return v;
}

static int fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    if (strcmp(ref, "redis") == 0)
        return nr_secret_from_str(out, env("NR_TEST_REDIS_PASSWORD"), err);
    if (strcmp(ref, "pg") == 0)
        return nr_secret_from_str(out, env("NR_TEST_PG_PASSWORD"), err);
    return nr_error_set(err, NR_ENOTFOUND, NULL, "no credential '%s'", ref);
}

static const nr_credential_provider creds = {fetch, NULL, NULL};

static void on_term(int sig)
{
    (void)sig;
    atomic_store(&stop, 1);
}

static void on_usr1(int sig)
{
    (void)sig;
    atomic_store(&report, 1);
}

/* The "progress" line (SIGUSR1). */
static void print_progress(void)
{
    nr_fleet_stats st = NR_FLEET_STATS_INIT;
    nr_fleet_get_stats(fleet, &st);
    int64_t longest = atomic_load(&longest_ns), now = nr_now_ns();
    for (int i = 0; i < THREADS; i++) {
        int64_t since = atomic_load(&call_since_ns[i]);
        if (since && now - since > longest)
            longest = now - since;
    }
    printf("progress ok=%ld timeouts=%ld bad=%ld leases=%u limit=%u held=%u redis_up=%d "
           "fallback=%d longest_ms=%lld\n",
           atomic_load(&n_ok), atomic_load(&n_timeout), atomic_load(&n_bad), st.leases,
           st.local_limit, st.local_held, st.redis_up ? 1 : 0, st.fallback ? 1 : 0,
           (long long)(longest / NR_NS_PER_MS));
    fflush(stdout);
}

/* One call done (or begun, 0): its time into longest_ns. */
static void call_mark(int i, int64_t start)
{
    int64_t now = nr_now_ns();
    int64_t since = atomic_exchange(&call_since_ns[i], start ? now : 0);
    if (start || !since)
        return;
    int64_t cur = atomic_load(&longest_ns);
    while (now - since > cur && !atomic_compare_exchange_weak(&longest_ns, &cur, now - since))
        ;
}

static void *load(void *arg)
{
    int i = (int)(intptr_t)arg;
    while (!atomic_load(&stop)) {
        call_mark(i, 1);
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        int rc = nr_manager_acquire(mgr, "db", NULL, &g, &err);
        if (rc == NR_OK) {
            nr_error e2 = {0};
            if (nr_postgres_exec(nr_guard_handle(&g), "SELECT pg_sleep(0.02)", &e2) != NR_OK) {
                fprintf(stderr, "query: %s\n", e2.message);
                nr_guard_taint(&g);
                atomic_fetch_add(&n_bad, 1);
            } else {
                nr_guard_release(&g);
                atomic_fetch_add(&n_ok, 1);
            }
        } else if (rc == NR_ETIMEDOUT && strstr(err.message, "'db'")) {
            atomic_fetch_add(&n_timeout, 1);
        } else {
            fprintf(stderr, "acquire: %s: %s\n", nr_err_name(rc), err.message);
            atomic_fetch_add(&n_bad, 1);
            usleep(10000);
        }
        call_mark(i, 0);
    }
    return NULL;
}

typedef struct seen {
    long down, up, fallback, fallback_limit;
} seen;

static void *watch(void *arg)
{
    nr_event_sub *sub = arg;
    seen *s = nr_calloc(1, sizeof(*s));
    s->fallback_limit = -1;
    nr_event ev;
    while (!atomic_load(&stop)) {
        if (atomic_exchange(&report, 0))
            print_progress();
        if (nr_event_next(sub, &ev, NULL, nr_deadline_in_ms(100)) != NR_OK)
            continue;
        if (ev.type == NR_EV_FLEET_REDIS_DOWN)
            s->down++;
        else if (ev.type == NR_EV_FLEET_REDIS_UP)
            s->up++;
        else if (ev.type == NR_EV_FLEET_FALLBACK) {
            s->fallback++;
            s->fallback_limit = ev.count;
        }
    }
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fleet_worker RESOURCE PROCESS closed|open\n");
        return 2;
    }
    signal(SIGTERM, on_term);
    signal(SIGUSR1, on_usr1);
    nr_error err = {0};
    nr_event_bus *bus = NULL;
    nr_event_sub *sub = NULL;
    if (nr_event_bus_create(&bus, 256, &err) || nr_event_subscribe(bus, &sub, &err))
        return fprintf(stderr, "events: %s\n", err.message), 1;

    nr_fleet_options fo =
        NR_FLEET_OPTIONS(.resource = argv[1], .process_id = argv[2], .budget = 30,
                         .min_per_process = 2, .redis_host = env("NR_TEST_REDIS_HOST"),
                         .redis_port = atoi(env("NR_TEST_REDIS_PORT")), .credentials = &creds,
                         .credential_ref = "redis", .lease_ttl_ms = 2000, .renew_interval_ms = 400,
                         .release_after_ms = 500, .redis_timeout_ms = 250,
                         .on_redis_down = strcmp(argv[3], "open") == 0 ? NR_FLEET_FAIL_OPEN
                                                                       : NR_FLEET_FAIL_CLOSED,
                         .events = bus);
    if (nr_fleet_create(&fleet, &fo, &err) != NR_OK)
        return fprintf(stderr, "fleet: %s\n", err.message), 1;

    nr_postgres_config pc;
    if (nr_config_init(&nr_postgres_config_schema, &pc, &err) ||
        nr_config_set_str(&nr_postgres_config_schema, &pc, "host", env("NR_TEST_PG_HOST"), &err) ||
        nr_config_set_str(&nr_postgres_config_schema, &pc, "dbname", env("NR_TEST_PG_DB"), &err) ||
        nr_config_set_str(&nr_postgres_config_schema, &pc, "user", env("NR_TEST_PG_USER"), &err) ||
        nr_config_set_str(&nr_postgres_config_schema, &pc, "application_name", "nr-fleet-test",
                          &err))
        return fprintf(stderr, "config: %s\n", err.message), 1;
    pc.port = atoi(env("NR_TEST_PG_PORT"));
    nr_pool_config pool;
    nr_pool_config_default(&pool);
    pool.max_size = 20;
    pool.acquire_timeout_ms = 1500;
    pool.max_connecting = 4;
    pool.validate_bypass_ms = 60000;

    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.credentials = &creds;
    mo.health_interval_ms = 0;
    nr_resource_spec spec =
        NR_RESOURCE_SPEC(.id = "db", .type = &nr_postgres_type, .config = &pc, .pool = &pool,
                         .credential_ref = "pg", .budget = nr_fleet_budget(fleet));
    if (nr_manager_create(&mgr, &mo, &err) || nr_manager_register(mgr, &spec, &err) ||
        nr_manager_start(mgr, nr_deadline_in_ms(30000), &err))
        return fprintf(stderr, "manager: %s\n", err.message), 1;

    pthread_t th[THREADS], w;
    pthread_create(&w, NULL, watch, sub);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, load, (void *)(intptr_t)i);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    void *res = NULL;
    pthread_join(w, &res);
    seen *s = res;

    nr_shutdown_options so = NR_SHUTDOWN_OPTIONS_INIT;
    nr_shutdown_options_default(&so);
    so.drain_timeout_ms = 5000;
    nr_manager_shutdown(mgr, &so, NULL, &err);
    int bad = nr_manager_destroy(mgr, &err) != NR_OK;
    if (bad)
        fprintf(stderr, "manager destroy: %s\n", err.message);
    if (nr_fleet_destroy(fleet, &err) != NR_OK) {
        fprintf(stderr, "fleet destroy: %s\n", err.message);
        bad = 1;
    }
    printf("ok=%ld timeouts=%ld bad=%ld down=%ld up=%ld fallback=%ld fallback_limit=%ld\n",
           atomic_load(&n_ok), atomic_load(&n_timeout), atomic_load(&n_bad), s->down, s->up,
           s->fallback, s->fallback_limit);
    fflush(stdout);
    nr_free(s);
    nr_config_free(&nr_postgres_config_schema, &pc);
    nr_event_unsubscribe(sub);
    nr_event_bus_destroy(bus);
    return bad || atomic_load(&n_bad) ? 1 : 0;
}
