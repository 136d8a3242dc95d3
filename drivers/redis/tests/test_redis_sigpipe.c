/*
 * test_redis_sigpipe.c - SIGPIPE never kills the program: the driver's calls
 * that write keep it away, with SIGPIPE left at its default disposition
 * (which terminates the process). A forked child shows that the same
 * sequence without the guard does die of SIGPIPE.
 */
#define _POSIX_C_SOURCE 200809L
#include "redis_testenv.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ID "pipe"

typedef struct fixture {
    nr_redis_config cfg;
    nr_secret *cred;
    void *h;
} fixture;

static int setup(void **state)
{
    /* the default disposition, whatever the test runner inherited */
    signal(SIGPIPE, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    rt_config(&f->cfg);
    f->cred = rt_secret(rt_env("NR_TEST_REDIS_PASSWORD"));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->h)
        nr_redis_type.destroy(f->h, NULL);
    nr_secret_free(f->cred);
    nr_config_free(&nr_redis_config_schema, &f->cfg);
    free(f);
    return 0;
}

static void create_ok(fixture *f)
{
    nr_error err = {0};
    nr_create_ctx ctx = {
        .resource_id = ID, .deadline = nr_deadline_in_ms(30000), .credential = f->cred};
    int rc = nr_redis_type.create(&f->h, &f->cfg, &ctx, NULL, &err);
    if (rc != NR_OK)
        fail_msg("create: %s: %s", nr_err_name(rc), err.message);
}

static bool pipe_pending(void)
{
    sigset_t p;
    sigemptyset(&p);
    sigpending(&p);
    return sigismember(&p, SIGPIPE) == 1;
}

static bool pipe_blocked(void)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, SIGPIPE) == 1;
}

/* ---- the guard itself ----------------------------------------------------------------- */

static void test_guard_consumes_its_own_sigpipe(void **state)
{
    (void)state;
    nr_redis_sigpipe_guard g;
    nr_redis_sigpipe_block(&g);
    assert_true(pipe_blocked());
    raise(SIGPIPE); /* to this thread: pending while blocked */
    assert_true(pipe_pending());
    errno = 1234;
    nr_redis_sigpipe_restore(&g);
    assert_int_equal(errno, 1234); /* kept for the caller */
    assert_false(pipe_pending());
    assert_false(pipe_blocked());
    /* nested guards */
    nr_redis_sigpipe_guard outer, inner;
    nr_redis_sigpipe_block(&outer);
    nr_redis_sigpipe_block(&inner);
    raise(SIGPIPE);
    nr_redis_sigpipe_restore(&inner);
    assert_true(pipe_blocked());
    assert_false(pipe_pending());
    nr_redis_sigpipe_restore(&outer);
    assert_false(pipe_blocked());
    nr_redis_sigpipe_block(NULL);
    nr_redis_sigpipe_restore(NULL);
}

static void test_guard_leaves_a_pending_sigpipe_alone(void **state)
{
    (void)state;
    sigset_t pipe, old;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    raise(SIGPIPE); /* someone else's, pending before the guard */
    nr_redis_sigpipe_guard g;
    nr_redis_sigpipe_block(&g);
    nr_redis_sigpipe_restore(&g);
    assert_true(pipe_blocked());
    assert_true(pipe_pending()); /* still there */
    const struct timespec zero = {0, 0};
    assert_int_equal(sigtimedwait(&pipe, NULL, &zero), SIGPIPE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- real writes to a connection the server closed ----------------------------------------- */

/* Kill the connection, then write once through the raw context so that the
 * server's side answers with a reset; wait until the reset arrived. The next
 * write on the socket raises SIGPIPE (EPIPE). */
static void provoke_reset(void *h)
{
    rt_kill_client(h);
    redisContext *c = nr_redis_context(h);
    nr_redis_sigpipe_guard g;
    nr_redis_sigpipe_block(&g);
    int done = 0;
    assert_int_equal(redisAppendCommand(c, "PING"), REDIS_OK);
    assert_int_equal(redisBufferWrite(c, &done), REDIS_OK); /* accepted locally */
    nr_redis_sigpipe_restore(&g);
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    for (int i = 0; i < 1000 && !(p.revents & POLLERR); i++) {
        assert_int_equal(poll(&p, 1, 10000), 1);
        if (!(p.revents & POLLERR))
            nr_sleep_ns(NR_NS_PER_MS);
    }
    assert_true(p.revents & POLLERR);
}

static void test_unguarded_write_dies_of_sigpipe(void **state)
{
    fixture *f = *state;
    create_ok(f);
    provoke_reset(f->h);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the same write as the next test, without the guard */
        redisReply *r = redisCommand(nr_redis_context(f->h), "PING");
        (void)r;
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGPIPE);
}

static void test_command_survives_sigpipe(void **state)
{
    fixture *f = *state;
    create_ok(f);
    provoke_reset(f->h);
    nr_error err = {0};
    assert_int_equal(nr_redis_command(f->h, NULL, &err, "PING"), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "Broken pipe");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "'pipe'");
    assert_false(pipe_pending());
    assert_false(pipe_blocked());
}

static void test_health_and_recycle_survive_sigpipe(void **state)
{
    fixture *f = *state;
    create_ok(f);
    provoke_reset(f->h);
    nr_error err = {0};
    nr_health_report rep = {0};
    /* health writes its PING to the reset socket */
    assert_int_equal(nr_redis_type.health_check(f->h, NULL, nr_deadline_in_ms(5000), &rep, &err),
                     NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_UNHEALTHY);
    nr_redis_type.destroy(f->h, NULL);
    f->h = NULL;

    /* recycle writes its reset pipeline to a reset socket */
    create_ok(f);
    rt_kill_client(f->h);
    redisContext *c = nr_redis_context(f->h);
    nr_redis_sigpipe_guard g;
    nr_redis_sigpipe_block(&g);
    /* write bytes the server never reads, straight on the socket, so that
     * hiredis' own state stays clean and recycle is the one to write next */
    assert_int_equal(write(c->fd, "PING\r\n", 6), 6);
    nr_redis_sigpipe_restore(&g);
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    for (int i = 0; i < 1000 && !(p.revents & POLLERR); i++) {
        assert_int_equal(poll(&p, 1, 10000), 1);
        if (!(p.revents & POLLERR))
            nr_sleep_ns(NR_NS_PER_MS);
    }
    assert_int_equal(nr_redis_type.recycle(f->h, NULL, &err), NR_ECLEANUP);
    NR_ASSERT_ERR(err, NR_ECLEANUP, "reset at release");
    assert_false(pipe_pending());
}

/* maxclients reached: the server answers the first command with an error
 * and closes; create fails cleanly, and a write after it does not kill. */
static void test_maxclients(void **state)
{
    fixture *f = *state;
    redisContext *admin = rt_admin();
    redisReply *r = redisCommand(admin, "CONFIG SET maxclients 1");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    nr_error err = {0};
    nr_create_ctx ctx = {
        .resource_id = ID, .deadline = nr_deadline_in_ms(30000), .credential = f->cred};
    int rc = nr_redis_type.create(&f->h, &f->cfg, &ctx, NULL, &err);
    /* the same with no AUTH, SELECT or name: create's first write is then a
     * lease holder's command */
    rt_set_str(&f->cfg.client_name, "");
    nr_create_ctx bare = {.resource_id = ID, .deadline = nr_deadline_in_ms(30000)};
    void *h2 = NULL;
    int rc2 = nr_redis_type.create(&h2, &f->cfg, &bare, NULL, &err);
    int rc3 = NR_OK, rc4 = NR_OK;
    if (rc2 == NR_OK) {
        nr_error e2 = {0};
        rc3 = nr_redis_command(h2, NULL, &e2, "PING");
        rc4 = nr_redis_command(h2, NULL, &e2, "PING");
        nr_redis_type.destroy(h2, NULL);
    }
    r = redisCommand(admin, "CONFIG SET maxclients 10000");
    freeReplyObject(r);
    redisFree(admin);
    assert_int_equal(rc, NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "max number of clients");
    assert_null(f->h);
    assert_int_equal(rc2, NR_OK);
    /* the error reply first, then a write to the closed connection */
    assert_int_equal(rc3, NR_EUNAVAIL);
    assert_int_equal(rc4, NR_EUNAVAIL);
    assert_false(pipe_pending());
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_guard_consumes_its_own_sigpipe),     T(test_guard_leaves_a_pending_sigpipe_alone),
        T(test_unguarded_write_dies_of_sigpipe),    T(test_command_survives_sigpipe),
        T(test_health_and_recycle_survive_sigpipe), T(test_maxclients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
