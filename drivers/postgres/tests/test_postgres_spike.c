/*
 * test_postgres_spike.c - a burst of acquires against a real server that
 * has few connection slots to give (tests/with-postgres.sh).
 *
 * The test's own role is created with CONNECTION LIMIT SPIKE_LIMIT, so the
 * server refuses the (SPIKE_LIMIT + 1)-th session of that role with
 * "too many connections for role" (SQLSTATE 53300), whatever the rest of
 * the server does. A pool far bigger than that (max_size 20, min_idle 2,
 * warmed) then takes a spike of SPIKE_THREADS callers released at once,
 * each acquiring (generous deadline), running one short query and giving
 * the connection back.
 *
 * What must hold: every acquire succeeds (none fails for lack of a server
 * slot), the pool never has more instances (and never made more) than the
 * role may open, and the server never shows more sessions of the role than
 * that either (a side connection counts them in pg_stat_activity during the
 * spike and after it). A pool that serves a spike with the connections it
 * has plus a bounded number of new ones passes; a pool in which every
 * caller that finds nothing idle opens a connection of its own does not.
 *
 * Only counts are asserted, never times: the deadline is generous and the
 * machine may be busy.
 *
 * The same spike runs on a bare pool and through a manager, each with a
 * role of its own (created at the start of the test, dropped at its end).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nebula/manager.h"
#include "pg_testlib.h"

#define SPIKE_LIMIT      6  /* the role's CONNECTION LIMIT */
#define SPIKE_THREADS    30 /* callers released at once */
#define SPIKE_MAX_SIZE   20
#define SPIKE_MIN_IDLE   2
#define SPIKE_ACQUIRE_MS 30000
#define SPIKE_QUERY      "SELECT 1"
#define SPIKE_REF        "spike/password"

/* ---- the role ---- */

typedef struct role {
    char name[32];
    char password[40];
} role;

/* Create a LOGIN role limited to SPIKE_LIMIT sessions, with a fresh password. */
static void role_create(role *r, const char *name)
{
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->password, sizeof(r->password), "Spike-%lx-%lx", (unsigned long)getpid(),
             (unsigned long)nr_now_ns());
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", r->name);
    pgt_admin_exec(sql);
    snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN CONNECTION LIMIT %d PASSWORD '%s'", r->name,
             SPIKE_LIMIT, r->password);
    pgt_admin_exec(sql);
}

static void role_count_sql(const role *r, char *sql, size_t n)
{
    snprintf(sql, n, "SELECT count(*) FROM pg_stat_activity WHERE usename = '%s'", r->name);
}

/* Drop the role once its last session is gone (teardown: no cmocka asserts). */
static int role_drop(const role *r)
{
    if (!r->name[0])
        return 0;
    const char *kw[] = {"host", "port", "user", "dbname", NULL};
    const char *val[] = {getenv("NR_TEST_PG_SOCKDIR"), getenv("NR_TEST_PG_PORT"), "postgres",
                         getenv("NR_TEST_PG_DB"), NULL};
    if (!val[0] || !val[1] || !val[3])
        return 0;
    PGconn *pg = PQconnectdbParams(kw, val, 0);
    int rc = 0;
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "teardown: admin connection: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return -1;
    }
    char sql[256];
    role_count_sql(r, sql, sizeof(sql));
    for (int i = 0; i < 200; i++) {
        PGresult *res = PQexec(pg, sql);
        int left = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                       ? atoi(PQgetvalue(res, 0, 0))
                       : -1;
        PQclear(res);
        if (left == 0)
            break;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", r->name);
    PGresult *res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "teardown: %s: %s", sql, PQresultErrorMessage(res));
        rc = -1;
    }
    PQclear(res);
    PQfinish(pg);
    return rc;
}

/* ---- fixture ---- */

/* A credential provider for the manager: the role's password under SPIKE_REF. */
static int vault_fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    const role *r = ud;
    if (strcmp(ref, SPIKE_REF) != 0)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "credential '%s': unknown", ref);
    return nr_secret_from_str(out, r->password, err);
}

typedef struct spike spike;

typedef struct fixture {
    role role;
    nr_postgres_config cfg;
    nr_pool_config pc;
    nr_secret *pw;
    nr_pool *pool;
    nr_credential_provider cp;
    nr_manager *m;
    spike *s; /* the running spike's state (freed by teardown) */
} fixture;

static void spike_free(spike *s);

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    pgt_config(&f->cfg);
    f->cfg.connect_timeout_ms = SPIKE_ACQUIRE_MS;
    nr_pool_config_default(&f->pc);
    f->pc.max_size = SPIKE_MAX_SIZE;
    f->pc.min_idle = SPIKE_MIN_IDLE;
    f->pc.acquire_timeout_ms = SPIKE_ACQUIRE_MS;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;
    nr_error err = {0};
    spike_free(f->s);
    if (f->pool && nr_pool_destroy(f->pool, &err) != NR_OK) {
        fprintf(stderr, "teardown: pool still busy: %s\n", err.message);
        rc = -1;
    }
    if (f->m) {
        nr_shutdown_options so =
            NR_SHUTDOWN_OPTIONS(.drain_timeout_ms = 10000, .cleanup_timeout_ms = 10000);
        nr_manager_shutdown(f->m, &so, NULL, &err);
        if (nr_manager_destroy(f->m, &err) != NR_OK) {
            fprintf(stderr, "teardown: %s\n", err.message);
            rc = -1;
        }
    }
    if (role_drop(&f->role) != 0)
        rc = -1;
    nr_secret_free(f->pw);
    nr_config_free(&nr_postgres_config_schema, &f->cfg);
    free(f);
    return rc;
}

/* Point the config at the role (a new role for each test). */
static void use_role(fixture *f, const char *name)
{
    role_create(&f->role, name);
    nr_free(f->cfg.user);
    f->cfg.user = nr_strdup(f->role.name);
    assert_non_null(f->cfg.user);
    f->pw = pgt_secret(f->role.password);
}

/* ---- the spike ---- */

/* How a caller leases (pool or manager), and how the pool's stats are read. */
typedef int (*acquire_fn)(spike *s, const nr_ctx *ctx, nr_guard *g, nr_error *err);
typedef void (*stats_fn)(spike *s, nr_pool_stats *st);

typedef struct worker {
    spike *s;
    int rc;       /* the acquire's */
    int query_rc; /* the query's (NR_OK when the acquire failed) */
    nr_error err;
} worker;

struct spike {
    fixture *f;
    acquire_fn acquire;
    stats_fn stats;
    /* the start gate: every caller waits until all of them are ready */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
    bool open;
    bool abort;
    /* the watcher: samples the server and the pool until told to stop */
    PGconn *admin;
    char count_sql[256];
    atomic_bool stop;
    long max_server; /* most sessions of the role seen on the server */
    uint32_t max_total;
    uint32_t max_creating;
    int samples;
    int sample_errors;
    char sample_error[256];
    worker w[SPIKE_THREADS];
};

static void spike_free(spike *s)
{
    if (!s)
        return;
    PQfinish(s->admin);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void *spike_worker(void *arg)
{
    worker *w = arg;
    spike *s = w->s;
    pthread_mutex_lock(&s->mu);
    s->ready++;
    pthread_cond_broadcast(&s->cv);
    while (!s->open && !s->abort)
        pthread_cond_wait(&s->cv, &s->mu);
    bool go = !s->abort;
    pthread_mutex_unlock(&s->mu);
    if (!go)
        return NULL;

    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(SPIKE_ACQUIRE_MS));
    w->rc = s->acquire(s, &ctx, &g, &w->err);
    if (w->rc != NR_OK)
        return NULL;
    w->query_rc = nr_postgres_exec(nr_guard_handle(&g), SPIKE_QUERY, &w->err);
    if (w->query_rc == NR_OK)
        nr_guard_release(&g);
    else
        nr_guard_taint(&g);
    return NULL;
}

static void sample(spike *s)
{
    PGresult *r = PQexec(s->admin, s->count_sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        long n = atol(PQgetvalue(r, 0, 0));
        if (n > s->max_server)
            s->max_server = n;
    } else if (s->sample_errors++ == 0) {
        snprintf(s->sample_error, sizeof(s->sample_error), "%s", PQresultErrorMessage(r));
    }
    PQclear(r);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    s->stats(s, &st);
    if (st.total > s->max_total)
        s->max_total = st.total;
    if (st.creating > s->max_creating)
        s->max_creating = st.creating;
    s->samples++;
}

static void *spike_watcher(void *arg)
{
    spike *s = arg;
    while (!atomic_load(&s->stop)) {
        sample(s);
        nr_sleep_ns(NR_NS_PER_MS);
    }
    sample(s);
    return NULL;
}

/* The first failed acquire or query, with its SQLSTATE, for the messages. */
static const worker *first_failure(const spike *s)
{
    for (int i = 0; i < SPIKE_THREADS; i++)
        if (s->w[i].rc != NR_OK || s->w[i].query_rc != NR_OK)
            return &s->w[i];
    return NULL;
}

/* Release SPIKE_THREADS callers at once, wait for all of them, then check
 * the counts. The pool (or manager) is warm when this is called. */
static void run_spike(fixture *f, acquire_fn acquire, stats_fn stats, const char *what)
{
    spike *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    f->s = s;
    s->f = f;
    s->acquire = acquire;
    s->stats = stats;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->stop, false);
    role_count_sql(&f->role, s->count_sql, sizeof(s->count_sql));
    s->admin = pgt_admin();

    nr_pool_stats before = NR_POOL_STATS_INIT;
    stats(s, &before);
    /* warm: min_idle connections, and the server sees exactly those */
    assert_int_equal(before.total, SPIKE_MIN_IDLE);
    assert_int_equal(before.idle, SPIKE_MIN_IDLE);
    assert_true(pgt_wait_admin_long(s->count_sql, SPIKE_MIN_IDLE));

    pthread_t watcher;
    assert_int_equal(pthread_create(&watcher, NULL, spike_watcher, s), 0);
    pthread_t t[SPIKE_THREADS];
    int started = 0;
    for (; started < SPIKE_THREADS; started++) {
        s->w[started].s = s;
        if (pthread_create(&t[started], NULL, spike_worker, &s->w[started]) != 0)
            break;
    }
    /* open the gate once every caller waits at it (or, when a thread could
     * not be started, send the started ones home) */
    pthread_mutex_lock(&s->mu);
    while (s->ready < started)
        pthread_cond_wait(&s->cv, &s->mu);
    if (started == SPIKE_THREADS)
        s->open = true;
    else
        s->abort = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    /* a create begun for a caller that was served otherwise may still run:
     * let it finish (10 s at most), so that the counts below are final */
    nr_pool_stats st = NR_POOL_STATS_INIT;
    for (int i = 0; i < 200; i++) {
        stats(s, &st);
        if (st.creating == 0)
            break;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    atomic_store(&s->stop, true);
    pthread_join(watcher, NULL);
    assert_int_equal(started, SPIKE_THREADS);
    stats(s, &st);
    int failed = 0, no_slot = 0;
    for (int i = 0; i < SPIKE_THREADS; i++) {
        const worker *w = &s->w[i];
        if (w->rc == NR_OK && w->query_rc == NR_OK)
            continue;
        failed++;
        char code[6];
        if (strstr(w->err.message, "too many connections") ||
            strcmp(nr_postgres_sqlstate(w->err.driver_code, code), "53300") == 0)
            no_slot++;
    }
    print_message("%s spike: %d callers, %d failed (%d for lack of a server slot); role limit %d; "
                  "pool: creates %llu, create failures %llu, total now %u, most seen %u "
                  "(most creating at once %u), waits %llu, handoffs %llu; server: most sessions "
                  "of the role seen %ld (%d samples)\n",
                  what, SPIKE_THREADS, failed, no_slot, SPIKE_LIMIT, (unsigned long long)st.creates,
                  (unsigned long long)st.create_failures, st.total, s->max_total, s->max_creating,
                  (unsigned long long)st.waits, (unsigned long long)st.handoffs, s->max_server,
                  s->samples);

    const worker *bad = first_failure(s);
    if (bad) {
        char code[6];
        fail_msg("%s spike: %d of %d callers failed (%d for lack of a server slot); the first: "
                 "%s %s (SQLSTATE %s): %s",
                 what, failed, SPIKE_THREADS, no_slot, bad->rc != NR_OK ? "acquire" : "query",
                 nr_err_name(bad->rc != NR_OK ? bad->rc : bad->query_rc),
                 nr_postgres_sqlstate(bad->err.driver_code, code), bad->err.message);
    }
    assert_int_equal(s->sample_errors, 0);
    /* the pool stayed within what the server gives the role ... */
    assert_int_equal(st.create_failures, 0);
    assert_true(st.creates <= SPIKE_LIMIT);
    assert_true(st.total <= SPIKE_LIMIT);
    assert_true(s->max_total <= SPIKE_LIMIT);
    /* ... and so did the server's count of the role's sessions */
    assert_true(s->max_server <= SPIKE_LIMIT);
    /* every lease came back; what is left open is what the pool holds */
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.acquires - before.acquires, SPIKE_THREADS);
    assert_true(pgt_wait_admin_long(s->count_sql, (long)st.total));
    assert_true(pgt_admin_long(s->count_sql) <= SPIKE_LIMIT);
}

/* ---- on a bare pool ---- */

static int pool_acquire(spike *s, const nr_ctx *ctx, nr_guard *g, nr_error *err)
{
    return nr_pool_acquire(s->f->pool, ctx, g, err);
}

static void pool_stats(spike *s, nr_pool_stats *st)
{
    nr_pool_stats_get(s->f->pool, st);
}

static void test_spike_pool(void **state)
{
    fixture *f = *state;
    use_role(f, "spike_pool");
    nr_error err = {0};
    nr_pool_options o = NR_POOL_OPTIONS(.id = "spike-db", .type = &nr_postgres_type,
                                        .config = &f->cfg, .pool = &f->pc, .credential = f->pw);
    if (nr_pool_create(&f->pool, &o, &err) != NR_OK)
        fail_msg("pool: %s", err.message);
    if (nr_pool_fill(f->pool, nr_deadline_in_ms(SPIKE_ACQUIRE_MS), &err) != NR_OK)
        fail_msg("fill: %s", err.message);
    run_spike(f, pool_acquire, pool_stats, "pool");
}

/* ---- through a manager ---- */

#define MANAGER_ID "spike-db"

static int manager_acquire(spike *s, const nr_ctx *ctx, nr_guard *g, nr_error *err)
{
    return nr_manager_acquire(s->f->m, MANAGER_ID, ctx, g, err);
}

static void manager_stats(spike *s, nr_pool_stats *st)
{
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(s->f->m, MANAGER_ID, &info, &err) != NR_OK) {
        memset(st, 0, sizeof(*st));
        return;
    }
    *st = info.stats;
}

static void test_spike_manager(void **state)
{
    fixture *f = *state;
    use_role(f, "spike_manager");
    f->cp = (nr_credential_provider){.fetch = vault_fetch, .ud = &f->role};
    nr_error err = {0};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    /* no periodic maintenance or health round: the connections counted are
     * the start's (min_idle) and whatever the spike itself makes */
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.credentials = &f->cp;
    assert_int_equal(nr_manager_create(&f->m, &mo, &err), NR_OK);
    nr_resource_spec spec =
        NR_RESOURCE_SPEC(.id = MANAGER_ID, .type = &nr_postgres_type, .config = &f->cfg,
                         .pool = &f->pc, .credential_ref = SPIKE_REF);
    if (nr_manager_register(f->m, &spec, &err) != NR_OK)
        fail_msg("register: %s", err.message);
    if (nr_manager_start(f->m, nr_deadline_in_ms(SPIKE_ACQUIRE_MS), &err) != NR_OK)
        fail_msg("start: %s", err.message);
    run_spike(f, manager_acquire, manager_stats, "manager");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spike_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spike_manager, setup, teardown),
    };
    return cmocka_run_group_tests_name("postgres_spike", tests, NULL, NULL);
}
