/*
 * test_redis_async.c - nr_redis_async (nebula/redis_async.h) on
 * connections leased from a real pool, against a real redis-server
 * (with-redis.sh): commands on several connections at once driven by one
 * poll() loop on one thread, a deadline, a cancel token, error replies,
 * the connection given back in blocking mode, and the server killed while
 * commands wait.
 *
 * Every command the loop runs has a deadline (at most LONG_MS), so one that
 * never finishes shows up as NR_ETIMEDOUT, not as a hang.
 */
#define _POSIX_C_SOURCE 200809L
#include "redis_testenv.h"

#include <errno.h>
#include <fcntl.h>

#include "driver_pool.h"
#include "nebula/async.h"
#include "nebula/redis_async.h"

#define ID       "async-cache"
#define CONNS    4
#define COMMANDS 200
#define LONG_MS  60000

typedef struct fixture {
    nr_redis_config cfg;
    nr_secret *cred;
    nr_pool *pool;
    nr_guard g[CONNS];
    bool paused;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    rt_config(&f->cfg);
    f->cred = rt_secret(rt_env("NR_TEST_REDIS_PASSWORD"));
    nr_pool_config pc;
    nr_dt_pool_config(&pc, CONNS, 0);
    f->pool = nr_dt_pool(ID, &nr_redis_type, &f->cfg, &pc, f->cred);
    for (int i = 0; i < CONNS; i++)
        f->g[i] = (nr_guard)NR_GUARD_INIT;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->paused)
        rt_ctl("resume");
    for (int i = 0; i < CONNS; i++) {
        if (nr_guard_held(&f->g[i])) /* a lease a failed test left out */
            (void)nr_guard_taint(&f->g[i]);
    }
    nr_dt_pool_done(f->pool);
    nr_secret_free(f->cred);
    nr_config_free(&nr_redis_config_schema, &f->cfg);
    free(f);
    return 0;
}

static nr_redis_conn *conn_of(fixture *f, int i)
{
    return nr_guard_handle(&f->g[i]);
}

static void lease_all(fixture *f)
{
    for (int i = 0; i < CONNS; i++)
        nr_dt_acquire_ok(f->pool, &f->g[i]);
}

static nr_redis_async *start_ok(nr_redis_conn *h, int argc, const char **argv,
                                const size_t *argvlen, nr_deadline dl, const nr_cancel *cancel)
{
    nr_redis_async *q = NULL;
    nr_error err = {0};
    int rc = nr_redis_async_start(&q, h, argc, argv, argvlen, dl, cancel, &err);
    if (rc != NR_OK)
        fail_msg("start '%s': %s: %s", argv[0], nr_err_name(rc), err.message);
    assert_non_null(q);
    return q;
}

/* The connection is in blocking mode again, in step, and answers a
 * blocking command. */
static void blocking_ok(nr_redis_conn *h)
{
    redisContext *c = nr_redis_context(h);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    assert_true(c->flags & REDIS_BLOCK);
    assert_int_equal(fcntl(c->fd, F_GETFL) & O_NONBLOCK, 0);
    redisReply *r = NULL;
    nr_error err = {0};
    if (nr_redis_command(h, &r, &err, "ECHO %s", "still-usable") != NR_OK)
        fail_msg("blocking command: %s", err.message);
    rt_expect_str(r, "still-usable");
    freeReplyObject(r);
}

/* The context was marked broken and is back in blocking mode. */
static void marked_broken(nr_redis_conn *h)
{
    redisContext *c = nr_redis_context(h);
    assert_int_not_equal(c->err, 0);
    assert_true(c->flags & REDIS_BLOCK);
    assert_int_equal(fcntl(c->fd, F_GETFL) & O_NONBLOCK, 0);
    nr_error err = {0};
    assert_int_equal(nr_redis_command(h, NULL, &err, "PING"), NR_EUNAVAIL);
    assert_int_not_equal(nr_redis_type.validate(h, NULL, &err), NR_OK);
}

/* ---- the loop: what an event-loop adapter does, with poll() ---------------------------- */

/* Called when the command in slot i finished with rc (err describes a
 * failure); it may take the reply. Returns the command to run next in that
 * slot (NULL: none). The loop frees the finished one. */
typedef nr_redis_async *(*done_fn)(void *ud, int slot, nr_redis_async *q, int rc,
                                   const nr_error *err);

typedef struct loop_stats {
    int steps;
    int write_waits; /* polls that asked for NR_IO_WRITE */
} loop_stats;

static int timeout_ms(int64_t at_ns)
{
    if (at_ns == NR_DEADLINE_NEVER)
        return LONG_MS;
    int64_t left = at_ns - nr_now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + NR_NS_PER_MS - 1) / NR_NS_PER_MS;
    return ms > LONG_MS ? LONG_MS : (int)ms;
}

/* Step q until it has finished, polling its fd for what it wants, at most
 * until its deadline, between steps. */
static int run_to_end(nr_redis_async *q, nr_error *err)
{
    int rc;
    while ((rc = nr_redis_async_step(q, err)) == NR_PENDING) {
        struct pollfd p = {.fd = nr_redis_async_fd(q),
                           .events = nr_redis_async_wants(q) == NR_IO_WRITE ? POLLOUT : POLLIN};
        (void)poll(&p, 1, timeout_ms(nr_redis_async_deadline_ns(q)));
    }
    return rc;
}

/* Drive the commands in q[0..n) (NULL slots are empty) until every slot is
 * empty, on this thread, with one poll() per round over every fd. */
static void drive(nr_redis_async **q, int n, done_fn fn, void *ud, loop_stats *ls)
{
    for (;;) {
        struct pollfd p[CONNS];
        int slot[CONNS];
        int np = 0;
        int64_t next = NR_DEADLINE_NEVER;
        for (int i = 0; i < n; i++) {
            if (!q[i])
                continue;
            int w = nr_redis_async_wants(q[i]);
            assert_true(w == NR_IO_READ || w == NR_IO_WRITE);
            assert_true(nr_redis_async_fd(q[i]) >= 0);
            p[np] = (struct pollfd){.fd = nr_redis_async_fd(q[i]),
                                    .events = (short)(w == NR_IO_READ ? POLLIN : POLLOUT)};
            if (ls && w == NR_IO_WRITE)
                ls->write_waits++;
            slot[np++] = i;
            int64_t d = nr_redis_async_deadline_ns(q[i]);
            if (d < next)
                next = d;
        }
        if (np == 0)
            return;
        int r = poll(p, (nfds_t)np, timeout_ms(next));
        if (r < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        int64_t now = nr_now_ns();
        for (int k = 0; k < np; k++) {
            int i = slot[k];
            if (p[k].revents == 0 && now < nr_redis_async_deadline_ns(q[i]))
                continue; /* neither ready nor due */
            nr_error err = {0};
            int rc = nr_redis_async_step(q[i], &err);
            if (ls)
                ls->steps++;
            if (rc == NR_PENDING)
                continue;
            nr_redis_async *next_q = fn(ud, i, q[i], rc, &err);
            nr_redis_async_free(q[i]);
            q[i] = next_q;
        }
    }
}

/* One outcome per slot, no follow-up command. */
typedef struct outcome {
    int rc[CONNS];
    nr_error err[CONNS];
    redisReply *reply[CONNS];
} outcome;

static nr_redis_async *record(void *ud, int slot, nr_redis_async *q, int rc, const nr_error *err)
{
    outcome *o = ud;
    o->rc[slot] = rc;
    o->err[slot] = *err;
    o->reply[slot] = nr_redis_async_reply(q);
    if (rc == NR_OK)
        assert_non_null(o->reply[slot]);
    else
        assert_null(o->reply[slot]);
    assert_null(nr_redis_async_reply(q)); /* taken once */
    /* finished: the same outcome again, nothing left to wait for */
    nr_error again = {0};
    assert_int_equal(nr_redis_async_step(q, &again), rc);
    assert_int_equal(again.code, err->code);
    assert_int_equal(nr_redis_async_wants(q), 0);
    return NULL;
}

/* ---- one command, start to end: the README's example ------------------------------------ */

static void test_one_command(void **state)
{
    fixture *f = *state;
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_guard *g = &f->g[0];
    long long got = 0;

    const char *argv[3] = {"INCRBY", "async:counter", "42"};
    nr_redis_async *q = NULL;
    nr_error err = {0};
    int rc = nr_redis_async_start(&q, nr_guard_handle(g), 3, argv, NULL, nr_deadline_in_ms(2000),
                                  NULL, &err);
    if (rc == NR_OK) {
        rc = run_to_end(q, &err);
        redisReply *r = nr_redis_async_reply(q); /* NULL unless rc == NR_OK */
        if (r) {
            got = r->integer;
            freeReplyObject(r);
        }
        nr_redis_async_free(q);
    }
    if (rc == NR_OK || err.driver_code == REDIS_REPLY_ERROR) /* the reply was read */
        (void)nr_guard_release(g);
    else
        (void)nr_guard_taint(g); /* in doubt: the context is marked broken */

    assert_int_equal(rc, NR_OK);
    assert_int_equal(got, 42);
    assert_false(nr_guard_held(g));
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.recycle_failures, 0);
    assert_int_equal(st.idle, 1);
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    assert_int_equal(nr_redis_command(nr_guard_handle(g), NULL, &err, "DEL async:counter"), NR_OK);
    assert_int_equal(nr_guard_release(g), NR_OK);
}

/* ---- 200 commands over 4 connections, one thread ---------------------------------------- */

typedef struct many {
    fixture *f;
    int next;
    int answered[COMMANDS];
    char text[CONNS][24]; /* each slot's argument: "v<k>" and a NUL inside */
    size_t len[CONNS];
    long long client[CONNS];
} many;

static nr_redis_async *start_next(many *m, int slot)
{
    if (m->next >= COMMANDS)
        return NULL;
    int k = m->next++;
    /* binary-safe: the argument carries a NUL byte, then the number again */
    int n = snprintf(m->text[slot], sizeof(m->text[slot]), "v%d", k);
    m->text[slot][n] = '\0';
    int n2 = snprintf(m->text[slot] + n + 1, sizeof(m->text[slot]) - (size_t)n - 1, "%d", k);
    m->len[slot] = (size_t)n + 1 + (size_t)n2;
    const char *argv[2] = {"ECHO", m->text[slot]};
    size_t lens[2] = {4, m->len[slot]};
    return start_ok(conn_of(m->f, slot), 2, argv, lens, nr_deadline_in_ms(LONG_MS), NULL);
}

static nr_redis_async *many_done(void *ud, int slot, nr_redis_async *q, int rc, const nr_error *err)
{
    many *m = ud;
    if (rc != NR_OK)
        fail_msg("slot %d: %s: %s", slot, nr_err_name(rc), err->message);
    redisReply *r = nr_redis_async_reply(q);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    /* the reply to what this slot last sent, byte for byte */
    assert_int_equal(r->len, m->len[slot]);
    assert_memory_equal(r->str, m->text[slot], m->len[slot]);
    int k = atoi(r->str + 1);
    assert_true(k >= 0 && k < COMMANDS);
    assert_int_equal(atoi(r->str + strlen(r->str) + 1), k);
    freeReplyObject(r);
    m->answered[k]++;
    assert_int_equal(m->answered[k], 1);
    return start_next(m, slot);
}

static void test_many_commands_one_thread(void **state)
{
    fixture *f = *state;
    lease_all(f);
    many *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->f = f;
    for (int i = 0; i < CONNS; i++)
        m->client[i] = rt_client_id(conn_of(f, i));
    nr_redis_async *q[CONNS];
    for (int i = 0; i < CONNS; i++)
        q[i] = start_next(m, i);
    loop_stats ls = {0};
    drive(q, CONNS, many_done, m, &ls);
    assert_int_equal(m->next, COMMANDS);
    for (int k = 0; k < COMMANDS; k++)
        assert_int_equal(m->answered[k], 1);
    assert_true(ls.steps >= COMMANDS);
    /* each connection is the one it was (no reconnect), blocking, usable */
    for (int i = 0; i < CONNS; i++) {
        blocking_ok(conn_of(f, i));
        assert_int_equal(rt_client_id(conn_of(f, i)), m->client[i]);
        assert_int_equal(nr_guard_release(&f->g[i]), NR_OK);
    }
    free(m);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.recycle_failures, 0);
    assert_int_equal(st.creates, CONNS);
}

/* ---- a command larger than the socket takes at once: NR_IO_WRITE -------------------------- */

/* More than a socket's send and receive buffers hold together, even tuned. */
#define BIG_BYTES (64 * 1024 * 1024)

static void test_large_command_waits_for_write(void **state)
{
    fixture *f = *state;
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    char *big = malloc(BIG_BYTES);
    assert_non_null(big);
    memset(big, 'x', BIG_BYTES);
    const char *argv[3] = {"SET", "async:big", big};
    size_t lens[3] = {3, 9, BIG_BYTES};
    /* the server stopped: what the socket buffers do not take waits in hiredis */
    rt_ctl("pause");
    f->paused = true;
    nr_redis_async *q[CONNS] = {0};
    q[0] = start_ok(conn_of(f, 0), 3, argv, lens, nr_deadline_in_ms(LONG_MS), NULL);
    nr_error err = {0};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(nr_redis_async_wants(q[0]), NR_IO_WRITE);
        assert_int_equal(nr_redis_async_step(q[0], &err), NR_PENDING);
    }
    rt_ctl("resume");
    f->paused = false;
    outcome o = {0};
    loop_stats ls = {0};
    drive(q, 1, record, &o, &ls);
    free(big);
    if (o.rc[0] != NR_OK)
        fail_msg("%s", o.err[0].message);
    rt_expect_str(o.reply[0], "OK");
    freeReplyObject(o.reply[0]);
    assert_true(ls.write_waits > 0);
    blocking_ok(conn_of(f, 0));
    redisReply *r = NULL;
    assert_int_equal(nr_redis_command(conn_of(f, 0), &r, &err, "STRLEN async:big"), NR_OK);
    assert_int_equal(r->integer, BIG_BYTES);
    freeReplyObject(r);
    assert_int_equal(nr_redis_command(conn_of(f, 0), NULL, &err, "DEL async:big"), NR_OK);
    assert_int_equal(nr_guard_release(&f->g[0]), NR_OK);
}

/* ---- a deadline that expires ---------------------------------------------------------------- */

static void test_deadline_expires(void **state)
{
    fixture *f = *state;
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_dt_acquire_ok(f->pool, &f->g[1]);
    nr_redis_async *q[CONNS] = {0};
    nr_deadline dl = nr_deadline_in_ms(200);
    const char *blpop[3] = {"BLPOP", "async:nothing", "5"};
    q[0] = start_ok(conn_of(f, 0), 3, blpop, NULL, dl, NULL);
    const char *ping[1] = {"PING"};
    q[1] = start_ok(conn_of(f, 1), 1, ping, NULL, nr_deadline_in_ms(LONG_MS), NULL);
    assert_int_equal(nr_redis_async_deadline_ns(q[0]), dl.at_ns);
    assert_int_equal(nr_redis_async_wants(q[0]), NR_IO_READ);
    nr_error err = {0};
    assert_int_equal(nr_redis_async_step(q[0], &err), NR_PENDING);
    outcome o = {0};
    drive(q, 2, record, &o, NULL);
    NR_ASSERT_ERR(o.err[0], NR_ETIMEDOUT, "the deadline passed before the reply");
    assert_non_null(strstr(o.err[0].message, "'" ID "'"));
    assert_non_null(strstr(o.err[0].message, "taint"));
    assert_int_equal(o.rc[1], NR_OK);
    rt_expect_str(o.reply[1], "PONG");
    freeReplyObject(o.reply[1]);
    /* the reply would come unasked: the context refuses further use */
    marked_broken(conn_of(f, 0));
    assert_int_equal(nr_guard_taint(&f->g[0]), NR_OK);
    blocking_ok(conn_of(f, 1));
    assert_int_equal(nr_guard_release(&f->g[1]), NR_OK);

    /* a deadline already passed sends nothing */
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_redis_async *none = NULL;
    assert_int_equal(nr_redis_async_start(&none, conn_of(f, 0), 1, ping, NULL,
                                          nr_deadline_in_ns(-1), NULL, &err),
                     NR_ETIMEDOUT);
    assert_null(none);
    blocking_ok(conn_of(f, 0));

    /* no deadline: NR_DEADLINE_NEVER */
    q[0] = start_ok(conn_of(f, 0), 1, ping, NULL, (nr_deadline){0}, NULL);
    assert_true(nr_redis_async_deadline_ns(q[0]) == NR_DEADLINE_NEVER);
    outcome o2 = {0};
    drive(q, 1, record, &o2, NULL);
    assert_int_equal(o2.rc[0], NR_OK);
    freeReplyObject(o2.reply[0]);
    blocking_ok(conn_of(f, 0));
    assert_int_equal(nr_guard_release(&f->g[0]), NR_OK);
}

/* ---- a cancel token, and a free before the end ------------------------------------------------
 */

static void test_cancel_token_and_early_free(void **state)
{
    fixture *f = *state;
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_cancel *token = NULL;
    nr_error err = {0};
    assert_int_equal(nr_cancel_create(&token, NULL, &err), NR_OK);
    const char *blpop[3] = {"BLPOP", "async:nothing", "30"};
    nr_redis_async *q = start_ok(conn_of(f, 0), 3, blpop, NULL, nr_deadline_in_ms(LONG_MS), token);
    assert_int_equal(nr_redis_async_step(q, &err), NR_PENDING);
    nr_cancel_trigger(token);
    assert_int_equal(nr_redis_async_step(q, &err), NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, "canceled");
    assert_int_equal(nr_redis_async_wants(q), 0);
    assert_null(nr_redis_async_reply(q));
    nr_redis_async_free(q);
    marked_broken(conn_of(f, 0));
    assert_int_equal(nr_guard_taint(&f->g[0]), NR_OK);

    /* a token already set: nothing is sent, the connection is as it was */
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_redis_async *none = NULL;
    assert_int_equal(nr_redis_async_start(&none, conn_of(f, 0), 3, blpop, NULL,
                                          nr_deadline_in_ms(LONG_MS), token, &err),
                     NR_ECANCELED);
    assert_null(none);
    blocking_ok(conn_of(f, 0));
    nr_cancel_destroy(token);

    /* freed while pending: blocking mode back, the context marked broken */
    q = start_ok(conn_of(f, 0), 3, blpop, NULL, nr_deadline_in_ms(LONG_MS), NULL);
    assert_int_equal(nr_redis_async_step(q, &err), NR_PENDING);
    assert_int_equal(fcntl(nr_redis_context(conn_of(f, 0))->fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    nr_redis_async_free(q);
    marked_broken(conn_of(f, 0));
    assert_int_equal(nr_guard_taint(&f->g[0]), NR_OK);
}

/* ---- error replies, and bad arguments ---------------------------------------------------------
 */

static void test_error_reply(void **state)
{
    fixture *f = *state;
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_dt_acquire_ok(f->pool, &f->g[1]);
    nr_error err = {0};
    assert_int_equal(nr_redis_command(conn_of(f, 0), NULL, &err, "SET async:str v"), NR_OK);
    nr_redis_async *q[CONNS] = {0};
    const char *lpush[3] = {"LPUSH", "async:str", "x"};
    q[0] = start_ok(conn_of(f, 0), 3, lpush, NULL, nr_deadline_in_ms(LONG_MS), NULL);
    const char *bogus[1] = {"NO-SUCH-COMMAND"};
    q[1] = start_ok(conn_of(f, 1), 1, bogus, NULL, nr_deadline_in_ms(LONG_MS), NULL);
    outcome o = {0};
    drive(q, 2, record, &o, NULL);
    NR_ASSERT_ERR(o.err[0], NR_EINVAL, "WRONGTYPE Operation against a key holding the wrong kind");
    assert_int_equal(o.err[0].driver_code, REDIS_REPLY_ERROR);
    assert_string_equal(o.err[0].resource_id, ID);
    NR_ASSERT_ERR(o.err[1], NR_EINVAL, "ERR unknown command");
    assert_int_equal(o.err[1].driver_code, REDIS_REPLY_ERROR);
    /* the server answered: in step, blocking, usable */
    for (int i = 0; i < 2; i++)
        blocking_ok(conn_of(f, i));
    redisReply *r = NULL;
    assert_int_equal(nr_redis_command(conn_of(f, 0), &r, &err, "GET async:str"), NR_OK);
    rt_expect_str(r, "v");
    freeReplyObject(r);
    for (int i = 0; i < 2; i++)
        assert_int_equal(nr_guard_release(&f->g[i]), NR_OK);
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &st);
    assert_int_equal(st.recycle_failures, 0);

    /* bad arguments, refused without touching the connection */
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    nr_redis_conn *h = conn_of(f, 0);
    nr_redis_async *none = NULL;
    nr_deadline dl = nr_deadline_in_ms(LONG_MS);
    const char *ping[2] = {"PING", NULL};
    assert_int_equal(nr_redis_async_start(NULL, h, 1, ping, NULL, dl, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_redis_async_start(&none, NULL, 1, ping, NULL, dl, NULL, &err), NR_EINVAL);
    uint64_t foreign[16] = {0}; /* as large as a handle, without its magic */
    assert_int_equal(nr_redis_async_start(&none, (nr_redis_conn *)(void *)foreign, 1, ping, NULL,
                                          dl, NULL, &err),
                     NR_EINVAL);
    assert_int_equal(nr_redis_async_start(&none, h, 0, ping, NULL, dl, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_redis_async_start(&none, h, 1, NULL, NULL, dl, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_redis_async_start(&none, h, 2, ping, NULL, dl, NULL, &err), NR_EINVAL);
    assert_null(none);
    blocking_ok(h);
    /* a command appended on the raw context and never sent: out of step */
    assert_int_equal(redisAppendCommand(nr_redis_context(h), "PING"), REDIS_OK);
    assert_int_equal(nr_redis_async_start(&none, h, 1, ping, NULL, dl, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "unread replies or unsent commands");
    assert_null(none);
    assert_int_equal(nr_guard_taint(&f->g[0]), NR_OK);

    /* NULL everywhere */
    assert_int_equal(nr_redis_async_fd(NULL), -1);
    assert_int_equal(nr_redis_async_wants(NULL), 0);
    assert_true(nr_redis_async_deadline_ns(NULL) == NR_DEADLINE_NEVER);
    assert_int_equal(nr_redis_async_step(NULL, &err), NR_EINVAL);
    assert_null(nr_redis_async_reply(NULL));
    nr_redis_async_free(NULL);
}

/* ---- the whole path on one loop thread: acquire, command, give back, none blocking ---------- */

#define E2E_REQUESTS 40
#define E2E_POOL     2
#define E2E_BAD      5 /* this request gets an error reply: released as usual */
#define E2E_TIMEOUT  9 /* this one's deadline passes: tainted */

typedef enum e2e_state { E2E_LEASING = 0, E2E_RUNNING, E2E_DONE } e2e_state;

typedef struct e2e_req {
    int n;
    e2e_state state;
    nr_guard g;
    nr_redis_async *q;
    char text[16];
} e2e_req;

static void e2e_command(e2e_req *r)
{
    snprintf(r->text, sizeof(r->text), "%d", r->n);
    const char *echo[2] = {"ECHO", r->text};
    const char *bad[3] = {"INCRBY", "async:e2e", "not-a-number"};
    const char *blpop[3] = {"BLPOP", "async:nothing", "5"};
    const char **argv = r->n == E2E_BAD ? bad : r->n == E2E_TIMEOUT ? blpop : echo;
    int argc = r->n == E2E_BAD || r->n == E2E_TIMEOUT ? 3 : 2;
    nr_deadline dl = nr_deadline_in_ms(r->n == E2E_TIMEOUT ? 100 : LONG_MS);
    r->q = start_ok(nr_guard_handle(&r->g), argc, argv, NULL, dl, NULL);
    r->state = E2E_RUNNING;
}

/* The lease came through the completion queue, on the loop thread. */
static void e2e_leased(void *ud, int rc, nr_guard *guard, const nr_error *err)
{
    e2e_req *r = ud;
    if (rc != NR_OK)
        fail_msg("request %d: acquire: %s: %s", r->n, nr_err_name(rc), err ? err->message : "");
    r->g = *guard;
    e2e_command(r);
}

/* The command's end: check it, give the lease back without blocking. */
static void e2e_finished(e2e_req *r, int rc, const nr_error *err)
{
    redisReply *reply = nr_redis_async_reply(r->q);
    nr_redis_async_free(r->q);
    r->q = NULL;
    if (r->n == E2E_BAD) {
        NR_ASSERT_ERR(*err, NR_EINVAL, "ERR value is not an integer");
        assert_int_equal(err->driver_code, REDIS_REPLY_ERROR);
    } else if (r->n == E2E_TIMEOUT) {
        NR_ASSERT_ERR(*err, NR_ETIMEDOUT, "taint");
    } else {
        if (rc != NR_OK)
            fail_msg("request %d: %s: %s", r->n, nr_err_name(rc), err->message);
        rt_expect_str(reply, r->text);
    }
    if (reply)
        freeReplyObject(reply);
    if (rc == NR_OK || err->driver_code == REDIS_REPLY_ERROR)
        assert_int_equal(nr_guard_release_async(&r->g), NR_OK);
    else
        assert_int_equal(nr_guard_taint_async(&r->g), NR_OK);
    assert_false(nr_guard_held(&r->g));
    r->state = E2E_DONE;
}

static void test_event_loop_end_to_end(void **state)
{
    fixture *f = *state;
    nr_pool_config pc;
    nr_dt_pool_config(&pc, E2E_POOL, 0);
    nr_pool *pool = nr_dt_pool(ID "-loop", &nr_redis_type, &f->cfg, &pc, f->cred);
    nr_async_queue *cq = NULL;
    nr_error err = {0};
    assert_int_equal(nr_async_queue_create(&cq, &err), NR_OK);
    e2e_req *req = calloc(E2E_REQUESTS, sizeof(*req));
    assert_non_null(req);
    for (int i = 0; i < E2E_REQUESTS; i++) {
        req[i].n = i;
        req[i].g = (nr_guard)NR_GUARD_INIT;
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(LONG_MS));
        int rc = nr_pool_acquire_async(pool, &ctx, cq, e2e_leased, &req[i], &req[i].g, NULL, &err);
        if (rc == NR_OK)
            e2e_command(&req[i]);
        else if (rc != NR_PENDING)
            fail_msg("request %d: acquire: %s: %s", i, nr_err_name(rc), err.message);
    }
    int done = 0;
    while (done < E2E_REQUESTS) {
        struct pollfd p[E2E_REQUESTS + 1];
        int who[E2E_REQUESTS + 1];
        int np = 0;
        int64_t next = NR_DEADLINE_NEVER;
        p[np] = (struct pollfd){.fd = nr_async_queue_fd(cq), .events = POLLIN};
        who[np++] = -1;
        for (int i = 0; i < E2E_REQUESTS; i++) {
            if (req[i].state != E2E_RUNNING)
                continue;
            int w = nr_redis_async_wants(req[i].q);
            p[np] = (struct pollfd){.fd = nr_redis_async_fd(req[i].q),
                                    .events = (short)(w == NR_IO_WRITE ? POLLOUT : POLLIN)};
            who[np++] = i;
            int64_t d = nr_redis_async_deadline_ns(req[i].q);
            if (d < next)
                next = d;
        }
        int r = poll(p, (nfds_t)np, timeout_ms(next));
        if (r < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        int64_t now = nr_now_ns();
        for (int k = 0; k < np; k++) {
            if (who[k] < 0) {
                if (p[k].revents)
                    (void)nr_async_queue_dispatch(cq, 0); /* leases: their commands start */
                continue;
            }
            e2e_req *rq = &req[who[k]];
            if (rq->state != E2E_RUNNING ||
                (p[k].revents == 0 && now < nr_redis_async_deadline_ns(rq->q)))
                continue;
            nr_error qerr = {0};
            int rc = nr_redis_async_step(rq->q, &qerr);
            if (rc == NR_PENDING)
                continue;
            e2e_finished(rq, rc, &qerr);
            done++;
        }
    }
    for (int i = 0; i < E2E_REQUESTS; i++)
        assert_int_equal(req[i].state, E2E_DONE);
    free(req);
    /* the give-backs run on the pool's async worker: wait until every lease is in */
    nr_pool_stats st = NR_POOL_STATS_INIT;
    for (int i = 0; i < 6000; i++) {
        nr_pool_stats_get(pool, &st);
        if (st.in_use == 0)
            break;
        nr_sleep_ns(10 * NR_NS_PER_MS);
    }
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.recycle_failures, 0);
    nr_async_queue_destroy(cq);
    nr_dt_pool_done(pool);
}

/* ---- the server killed while commands wait -------------------------------------------------- */

static void test_server_killed(void **state)
{
    fixture *f = *state;
    lease_all(f);
    nr_redis_async *q[CONNS];
    const char *blpop[3] = {"BLPOP", "async:nothing", "30"};
    for (int i = 0; i < CONNS; i++)
        q[i] = start_ok(conn_of(f, i), 3, blpop, NULL, nr_deadline_in_ms(LONG_MS), NULL);
    for (int i = 0; i < CONNS; i++) {
        nr_error err = {0};
        assert_int_equal(nr_redis_async_step(q[i], &err), NR_PENDING);
    }
    rt_ctl("stop"); /* kill -9 */
    outcome o = {0};
    drive(q, CONNS, record, &o, NULL);
    rt_ctl("start");
    for (int i = 0; i < CONNS; i++) {
        if (o.rc[i] != NR_EUNAVAIL)
            fail_msg("slot %d: %s: %s", i, nr_err_name(o.rc[i]), o.err[i].message);
        NR_ASSERT_ERR(o.err[i], NR_EUNAVAIL, "async command on");
        assert_int_not_equal(o.err[i].driver_code, 0);
        redisContext *c = nr_redis_context(conn_of(f, i));
        assert_true(c->flags & REDIS_BLOCK);
        assert_int_equal(fcntl(c->fd, F_GETFL) & O_NONBLOCK, 0);
    }
    /* a command on a broken connection is refused at start */
    nr_redis_async *none = NULL;
    nr_error err = {0};
    const char *ping[1] = {"PING"};
    assert_int_equal(nr_redis_async_start(&none, conn_of(f, 0), 1, ping, NULL,
                                          nr_deadline_in_ms(LONG_MS), NULL, &err),
                     NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "the connection is broken");
    assert_null(none);
    for (int i = 0; i < CONNS; i++)
        assert_int_equal(nr_guard_taint(&f->g[i]), NR_OK);
    /* the pool connects to the restarted server */
    nr_dt_acquire_ok(f->pool, &f->g[0]);
    q[0] = start_ok(conn_of(f, 0), 1, ping, NULL, nr_deadline_in_ms(LONG_MS), NULL);
    outcome o2 = {0};
    drive(q, 1, record, &o2, NULL);
    assert_int_equal(o2.rc[0], NR_OK);
    rt_expect_str(o2.reply[0], "PONG");
    freeReplyObject(o2.reply[0]);
    blocking_ok(conn_of(f, 0));
    assert_int_equal(nr_guard_release(&f->g[0]), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_commands_one_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_command_waits_for_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_token_and_early_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_loop_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_killed, setup, teardown),
    };
    return cmocka_run_group_tests_name("redis_async", tests, NULL, NULL);
}
