/*
 * loop_cases.c - see loop_cases.h. The cases:
 *
 *   machines          step machines of the test's own on socketpairs, no
 *                     server: wants that change (write, then read), two runs
 *                     at once, a deadline that passes, a cancel, wants 0, a
 *                     step's error passed through with its message, the fd's
 *                     flags as they were, a bad table refused without a call
 *   many_requests     1000 requests on one loop thread over 4 PostgreSQL and
 *                     4 Redis connections: each acquired with
 *                     nr_pool_acquire_async, queried with the non-blocking
 *                     helpers, given back with nr_guard_release_async;
 *                     every one answered with its own value, exactly once
 *   postgres_killed   1000 PostgreSQL requests, the server killed after the
 *                     100th answer: each request still ends exactly once,
 *                     the later ones with errors, and the loop ends by itself
 *   redis_killed      the same with Redis
 *
 * Each request carries a flag set by its completion: a second completion,
 * or none, fails the case. A watchdog timer on the loop (60 s) fails a case
 * whose loop does not end.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nebula/postgres.h"
#include "nebula/postgres_async.h"
#include "nebula/redis.h"
#include "nebula/redis_async.h"

#include "loop_cases.h"
#include "pg_machine.h"
#include "redis_machine.h"

#define NREQ        1000
#define NCONN       4
#define KILL_AFTER  100
#define WATCHDOG_MS 60000

static const tl_loop *L;

/* ---- environment ------------------------------------------------------------ */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !v[0])
        fail_msg("%s is not set: run through with-postgres.sh and with-redis.sh", name);
    return v;
}

static void set_str(char **field, const char *value)
{
    nr_free(*field);
    *field = nr_strdup(value);
    assert_non_null(*field);
}

static void ctl(const char *var, const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s", env(var), what);
    if (system(cmd) != 0)
        fail_msg("%s failed", cmd);
}

static nr_pool_config pool_config(void)
{
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = NCONN;
    pc.acquire_timeout_ms = 20000;
    pc.create_timeout_ms = 5000;
    return pc;
}

typedef struct pg_env {
    nr_postgres_config cfg;
    nr_secret *pw;
    nr_pool *pool;
} pg_env;

static void pg_open(pg_env *e)
{
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_postgres_config_schema, &e->cfg, &err), NR_OK);
    set_str(&e->cfg.host, env("NR_TEST_PG_HOST"));
    e->cfg.port = atoi(env("NR_TEST_PG_PORT"));
    set_str(&e->cfg.user, env("NR_TEST_PG_USER"));
    set_str(&e->cfg.dbname, env("NR_TEST_PG_DB"));
    e->cfg.sslmode = NR_PG_SSL_DISABLE;
    e->cfg.connect_timeout_ms = 5000;
    assert_int_equal(nr_secret_from_str(&e->pw, env("NR_TEST_PG_PASSWORD"), &err), NR_OK);
    nr_pool_config pc = pool_config();
    nr_pool_options o = NR_POOL_OPTIONS(.id = "loop-pg", .type = &nr_postgres_type,
                                        .config = &e->cfg, .pool = &pc, .credential = e->pw);
    if (nr_pool_create(&e->pool, &o, &err) != NR_OK)
        fail_msg("postgres pool: %s", err.message);
}

typedef struct redis_env {
    nr_redis_config cfg;
    nr_secret *pw;
    nr_pool *pool;
} redis_env;

static void redis_open(redis_env *e)
{
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_redis_config_schema, &e->cfg, &err), NR_OK);
    set_str(&e->cfg.host, env("NR_TEST_REDIS_HOST"));
    e->cfg.port = atoi(env("NR_TEST_REDIS_PORT"));
    assert_int_equal(nr_secret_from_str(&e->pw, env("NR_TEST_REDIS_PASSWORD"), &err), NR_OK);
    nr_pool_config pc = pool_config();
    nr_pool_options o = NR_POOL_OPTIONS(.id = "loop-redis", .type = &nr_redis_type,
                                        .config = &e->cfg, .pool = &pc, .credential = e->pw);
    if (nr_pool_create(&e->pool, &o, &err) != NR_OK)
        fail_msg("redis pool: %s", err.message);
}

/* Destroy a pool whose leases are all given back; a release still being
 * finished on the pool's worker makes destroy answer NR_EBUSY for a moment. */
static void pool_close(nr_pool *pool)
{
    nr_error err = {0};
    int rc;
    for (int i = 0; (rc = nr_pool_destroy(pool, &err)) == NR_EBUSY && i < 1000; i++)
        nr_sleep_ns(10 * NR_NS_PER_MS);
    if (rc != NR_OK)
        fail_msg("nr_pool_destroy: %s: %s", nr_err_name(rc), err.message);
}

/* ---- requests ----------------------------------------------------------------- */

enum { KIND_PG, KIND_REDIS };

typedef struct tcase tcase;

typedef struct req {
    tcase *t;
    int i;
    int kind;
    nr_guard g;
    nr_pg_async *pq;
    nr_redis_async *rq;
    char arg[16];
    int completions; /* must end at exactly 1 */
    int rc;
    bool value_ok;
} req;

struct tcase {
    void *loop;
    nr_async_queue *q;
    void *att;
    nr_pool *pg, *redis;
    req reqs[NREQ];
    int n;
    int completed, ok, failed, twice, wrong;
    int64_t wait_ms;      /* each request's acquire deadline, from its start */
    int kill_after;       /* kill the server at this many completions; 0 = never */
    const char *kill_ctl; /* NR_TEST_PG_CTL or NR_TEST_REDIS_CTL */
    bool killed;
    bool fired;
};

static void complete(req *r, int rc)
{
    tcase *t = r->t;
    if (++r->completions > 1) {
        t->twice++;
        return;
    }
    r->rc = rc;
    t->completed++;
    if (rc == NR_OK && r->value_ok)
        t->ok++;
    else if (rc == NR_OK)
        t->wrong++;
    else
        t->failed++;
    if (t->kill_after > 0 && !t->killed && t->completed == t->kill_after) {
        t->killed = true;
        ctl(t->kill_ctl, "stop"); /* blocks the loop for a moment: fine here */
    }
    if (t->completed == t->n) {
        L->detach(t->att);
        t->att = NULL;
        L->work_done(t->loop);
    }
}

/* A lease back: given back when the connection is known to be clean, else
 * tainted (the helpers' rule: NR_OK, or an error the server sent). */
static void give_back(req *r, bool clean)
{
    int rc = clean ? nr_guard_release_async(&r->g) : nr_guard_taint_async(&r->g);
    assert_int_equal(rc, NR_OK);
}

static void pg_done(void *ud, int rc, const nr_error *err)
{
    req *r = ud;
    if (rc == NR_OK) {
        PGresult *res = nr_pg_async_result(r->pq);
        r->value_ok =
            res != NULL && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), r->arg) == 0;
        PQclear(res);
    }
    nr_pg_async_free(r->pq);
    r->pq = NULL;
    give_back(r, rc == NR_OK || (err != NULL && err->driver_code != 0));
    complete(r, rc);
}

static void redis_done(void *ud, int rc, const nr_error *err)
{
    req *r = ud;
    if (rc == NR_OK) {
        redisReply *rep = nr_redis_async_reply(r->rq);
        r->value_ok =
            rep != NULL && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, r->arg) == 0;
        freeReplyObject(rep);
    }
    nr_redis_async_free(r->rq);
    r->rq = NULL;
    give_back(r, rc == NR_OK || (err != NULL && err->driver_code == REDIS_REPLY_ERROR));
    complete(r, rc);
}

/* The lease is there: start the query and put it on the loop. */
static void leased(req *r)
{
    nr_error err = {0};
    nr_deadline dl = nr_deadline_in_ms(10000);
    int rc;
    if (r->kind == KIND_PG) {
        const char *values[1] = {r->arg};
        rc = nr_pg_async_start(&r->pq, nr_postgres_conn(nr_guard_handle(&r->g)), "SELECT $1::text",
                               1, values, dl, NULL, &err);
        if (rc == NR_OK) {
            rc = L->run_machine(r->t->loop, &pg_machine, r->pq, pg_done, r, NULL, &err);
            if (rc != NR_OK) {
                nr_pg_async_free(r->pq);
                r->pq = NULL;
            }
        }
    } else {
        const char *argv[2] = {"ECHO", r->arg};
        rc = nr_redis_async_start(&r->rq, nr_guard_handle(&r->g), 2, argv, NULL, dl, NULL, &err);
        if (rc == NR_OK) {
            rc = L->run_machine(r->t->loop, &redis_machine, r->rq, redis_done, r, NULL, &err);
            if (rc != NR_OK) {
                nr_redis_async_free(r->rq);
                r->rq = NULL;
            }
        }
    }
    if (rc != NR_OK) {
        give_back(r, false);
        complete(r, rc);
    }
}

static void acquired(void *ud, int rc, nr_guard *guard, const nr_error *err)
{
    req *r = ud;
    if (rc != NR_OK) {
        assert_false(nr_guard_held(guard));
        complete(r, rc);
        return;
    }
    r->g = *guard;
    leased(r);
}

static void start(req *r)
{
    tcase *t = r->t;
    nr_error err = {0};
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(t->wait_ms), .caller = "loop-test");
    nr_pool *pool = r->kind == KIND_PG ? t->pg : t->redis;
    int rc = nr_pool_acquire_async(pool, &ctx, t->q, acquired, r, &r->g, NULL, &err);
    if (rc == NR_OK)
        leased(r);
    else if (rc != NR_PENDING)
        complete(r, rc);
}

/* n requests (kinds chosen by kind_of) on a fresh loop, run to the end. */
static void run_requests(tcase *t, int n, int (*kind_of)(int i))
{
    nr_error err = {0};
    t->n = n;
    if (t->wait_ms == 0)
        t->wait_ms = 20000;
    t->loop = L->create();
    assert_int_equal(nr_async_queue_create(&t->q, &err), NR_OK);
    assert_int_equal(L->attach(t->loop, t->q, &t->att, &err), NR_OK);
    L->watchdog(t->loop, WATCHDOG_MS, &t->fired);
    for (int i = 0; i < n; i++) {
        req *r = &t->reqs[i];
        r->t = t;
        r->i = i;
        r->kind = kind_of(i);
        r->g = (nr_guard)NR_GUARD_INIT;
        snprintf(r->arg, sizeof(r->arg), "v%d", i);
        start(r);
    }
    L->run(t->loop);
    if (t->fired)
        fail_msg("%s: the loop did not end within %d ms: %d of %d requests completed", L->name,
                 WATCHDOG_MS, t->completed, n);
    L->destroy(t->loop);
    nr_async_queue_destroy(t->q);
    int never = 0;
    for (int i = 0; i < n; i++)
        never += t->reqs[i].completions == 0;
    printf(
        "%s: %d requests: %d answered, %d failed, %d wrong value, %d completed twice, %d never\n",
        L->name, n, t->ok, t->failed, t->wrong, t->twice, never);
    /* what the failures were: one line per code */
    for (int code = -1; code >= NR_ERR_MIN; code--) {
        int k = 0;
        for (int i = 0; i < n; i++)
            k += t->reqs[i].completions > 0 && t->reqs[i].rc == code;
        if (k > 0)
            printf("  %s: %d\n", nr_err_name(code), k);
    }
    assert_int_equal(t->twice, 0);
    assert_int_equal(never, 0);
    assert_int_equal(t->wrong, 0);
    assert_int_equal(t->completed, n);
}

static int kind_mixed(int i)
{
    return i % 2 ? KIND_REDIS : KIND_PG;
}

static int kind_pg(int i)
{
    (void)i;
    return KIND_PG;
}

static int kind_redis(int i)
{
    (void)i;
    return KIND_REDIS;
}

static void many_requests(void **state)
{
    (void)state;
    pg_env pe = {0};
    redis_env re = {0};
    pg_open(&pe);
    redis_open(&re);
    tcase *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->pg = pe.pool;
    t->redis = re.pool;
    run_requests(t, NREQ, kind_mixed);
    assert_int_equal(t->ok, NREQ);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    assert_int_equal(nr_pool_stats_get(pe.pool, &st), NR_OK);
    assert_true(st.creates <= NCONN);
    pool_close(pe.pool);
    pool_close(re.pool);
    free(t);
    nr_secret_free(pe.pw);
    nr_secret_free(re.pw);
    nr_config_free(&nr_postgres_config_schema, &pe.cfg);
    nr_config_free(&nr_redis_config_schema, &re.cfg);
}

static void killed(int kind, const char *ctl_var)
{
    pg_env pe = {0};
    redis_env re = {0};
    tcase *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    if (kind == KIND_PG) {
        pg_open(&pe);
        t->pg = pe.pool;
    } else {
        redis_open(&re);
        t->redis = re.pool;
    }
    t->kill_after = KILL_AFTER;
    t->wait_ms = 5000; /* the requests queued when the server dies wait this long at most */
    t->kill_ctl = ctl_var;
    run_requests(t, NREQ, kind == KIND_PG ? kind_pg : kind_redis);
    ctl(ctl_var, "start");
    assert_true(t->killed);
    assert_true(t->ok >= KILL_AFTER - NCONN * 2); /* those before the kill, give or take */
    assert_true(t->failed > 0);                   /* the kill surfaced as errors */
    for (int i = 0; i < NREQ; i++) {
        int rc = t->reqs[i].rc;
        assert_true(rc == NR_OK || (rc < 0 && rc >= NR_ERR_MIN));
    }
    pool_close(kind == KIND_PG ? pe.pool : re.pool);
    free(t);
    if (kind == KIND_PG) {
        nr_secret_free(pe.pw);
        nr_config_free(&nr_postgres_config_schema, &pe.cfg);
    } else {
        nr_secret_free(re.pw);
        nr_config_free(&nr_redis_config_schema, &re.cfg);
    }
}

static void postgres_killed(void **state)
{
    (void)state;
    killed(KIND_PG, "NR_TEST_PG_CTL");
}

static void redis_killed(void **state)
{
    (void)state;
    killed(KIND_REDIS, "NR_TEST_REDIS_CTL");
}

/* ---- machines of the test's own ---------------------------------------------- */

/* A machine on one end of a socketpair. mode:
 *   PING   write "p", then wait for the answer "a": NR_OK
 *   ECHO   wait for "p", answer "a": NR_OK
 *   SILENT wait for data that never comes (a deadline or a cancel ends it)
 *   NOW    wants 0: the first step gives NR_OK
 *   FAIL   wants 0: the first step fails with NR_ECONFIG and a message */
enum { PING, ECHO, SILENT, NOW, FAIL };

typedef struct fake {
    int fd;
    int mode;
    int phase;
    int64_t deadline;
    int steps;
    int completions;
    int rc;
    char msg[NR_ERROR_MESSAGE_MAX];
    int flags_after; /* the fd's flags when done ran */
    int *left;
    void *loop;
} fake;

static int fake_fd(void *m)
{
    return ((fake *)m)->fd;
}

static int fake_wants(void *m)
{
    fake *f = m;
    if (f->mode == NOW || f->mode == FAIL)
        return 0;
    if (f->mode == PING && f->phase == 0)
        return NR_IO_WRITE;
    return NR_IO_READ;
}

static int64_t fake_deadline(void *m)
{
    return ((fake *)m)->deadline;
}

static int fake_step(void *m, nr_error *err)
{
    fake *f = m;
    char c;
    f->steps++;
    switch (f->mode) {
    case NOW:
        return NR_OK;
    case FAIL:
        return nr_error_set(err, NR_ECONFIG, NULL, "the fake machine failed");
    case PING:
        if (f->phase == 0) {
            if (write(f->fd, "p", 1) != 1)
                return NR_PENDING;
            f->phase = 1;
            return NR_PENDING;
        }
        if (read(f->fd, &c, 1) == 1)
            return c == 'a' ? NR_OK : NR_EINTERNAL;
        return NR_PENDING;
    case ECHO:
        if (read(f->fd, &c, 1) == 1 && c == 'p')
            return write(f->fd, "a", 1) == 1 ? NR_OK : NR_EINTERNAL;
        return NR_PENDING;
    default:
        return NR_PENDING;
    }
}

static const nr_loop_machine fake_machine =
    NR_LOOP_MACHINE(.fd = fake_fd, .wants = fake_wants, .deadline_ns = fake_deadline,
                    .step = fake_step);

static bool g_fired;

static void fake_done(void *ud, int rc, const nr_error *err)
{
    fake *f = ud;
    f->completions++;
    f->rc = rc;
    f->flags_after = fcntl(f->fd, F_GETFL);
    if (err)
        snprintf(f->msg, sizeof(f->msg), "%s", err->message);
    if (--*f->left == 0)
        L->work_done(f->loop);
}

static void never_called(void *ud, int rc, const nr_error *err)
{
    (void)ud;
    (void)rc;
    (void)err;
    fail_msg("a refused run called its callback");
}

static void machines(void **state)
{
    (void)state;
    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0); /* blocking */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    void *loop = L->create();
    int left = 4; /* the runs of the first loop */
    fake f[6] = {
        {.fd = a[0], .mode = PING},
        {.fd = a[1], .mode = ECHO},
        {.fd = b[0], .mode = SILENT, .deadline = nr_deadline_in_ms(50).at_ns},
        {.fd = b[1], .mode = SILENT, .deadline = NR_DEADLINE_NEVER},
        {.fd = a[0], .mode = NOW},
        {.fd = b[0], .mode = FAIL},
    };
    nr_error err = {0};
    /* a bad table, a negative fd: refused, no callback */
    nr_loop_machine bad = fake_machine;
    bad.step = NULL;
    assert_int_equal(L->run_machine(loop, &bad, &f[0], never_called, NULL, NULL, &err), NR_EINVAL);
    fake neg = {.fd = -1, .mode = NOW};
    assert_int_equal(L->run_machine(loop, &fake_machine, &neg, never_called, NULL, NULL, &err),
                     NR_EINVAL);
    /* Two runs on one fd at once are not allowed: the NOW and FAIL machines
     * start after the ones on their fd are done, from the loop. */
    void *runs[4] = {0};
    for (int i = 0; i < 4; i++) {
        f[i].left = &left;
        f[i].loop = loop;
        assert_int_equal(
            L->run_machine(loop, &fake_machine, &f[i], fake_done, &f[i], &runs[i], &err), NR_OK);
    }
    assert_int_equal(L->cancel_run(runs[3]), NR_OK);
    assert_int_equal(L->cancel_run(runs[3]), NR_ESTATE);
    assert_int_equal(f[3].completions, 0); /* never inside the cancel */
    L->watchdog(loop, WATCHDOG_MS, &g_fired);
    L->run(loop);
    if (g_fired)
        fail_msg("%s: the loop did not end within %d ms (a run not finished, or a handle left)",
                 L->name, WATCHDOG_MS);
    L->destroy(loop);

    loop = L->create();
    left = 2;
    for (int i = 4; i < 6; i++) {
        f[i].left = &left;
        f[i].loop = loop;
        assert_int_equal(L->run_machine(loop, &fake_machine, &f[i], fake_done, &f[i], NULL, &err),
                         NR_OK);
        assert_int_equal(f[i].completions, 0); /* wants 0: the step comes on the loop's turn */
    }
    L->watchdog(loop, WATCHDOG_MS, &g_fired);
    L->run(loop);
    if (g_fired)
        fail_msg("%s: the loop did not end within %d ms (a run not finished, or a handle left)",
                 L->name, WATCHDOG_MS);
    L->destroy(loop);

    for (int i = 0; i < 6; i++)
        assert_int_equal(f[i].completions, 1);
    assert_int_equal(f[0].rc, NR_OK);
    assert_int_equal(f[1].rc, NR_OK);
    assert_true(f[0].steps >= 2); /* a write, then a read */
    assert_int_equal(f[2].rc, NR_ETIMEDOUT);
    assert_int_equal(f[3].rc, NR_ECANCELED);
    assert_int_equal(f[3].steps, 0);
    assert_int_equal(f[4].rc, NR_OK);
    assert_int_equal(f[4].steps, 1);
    assert_int_equal(f[5].rc, NR_ECONFIG);
    assert_string_equal(f[5].msg, "the fake machine failed");
    /* blocking sockets stay blocking */
    for (int i = 0; i < 6; i++)
        assert_int_equal(f[i].flags_after & O_NONBLOCK, 0);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
}

int tl_run_cases(const tl_loop *loop)
{
    L = loop;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(machines),
        cmocka_unit_test(many_requests),
        cmocka_unit_test(postgres_killed),
        cmocka_unit_test(redis_killed),
    };
    return cmocka_run_group_tests_name(loop->name, tests, NULL, NULL);
}
