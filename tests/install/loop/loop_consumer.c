/* loop_consumer.c - the loop adapters as installed: 20 async acquires of a
 * pool of 2 mock instances, completed on a libuv loop and then on a
 * libevent base, each lease given back from its callback; then one step
 * machine (wants 0) run on each loop. No test framework. */
#define _DEFAULT_SOURCE /* uv.h */
#include <nebula/loop_event.h>
#include <nebula/loop_uv.h>
#include <nebula/testing.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define N 20

typedef struct state {
    int done;
    nr_uv_queue *uq;
    nr_event_queue *eq;
} state;

static void on_lease(void *ud, int rc, nr_guard *g, const nr_error *err)
{
    state *s = ud;
    (void)err;
    if (rc == NR_OK && nr_guard_release_async(g) == NR_OK)
        s->done++;
    if (s->done == N && s->uq) {
        nr_uv_queue_detach(s->uq, NULL, NULL);
        s->uq = NULL;
    }
    if (s->done == N && s->eq) {
        nr_event_queue_detach(s->eq);
        s->eq = NULL;
    }
}

static int acquire_all(nr_pool *p, nr_async_queue *q, state *s)
{
    for (int i = 0; i < N; i++) {
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        int rc = nr_pool_acquire_async(p, NULL, q, on_lease, s, &g, NULL, &err);
        if (rc == NR_OK)
            on_lease(s, rc, &g, NULL);
        else if (rc != NR_PENDING) {
            fprintf(stderr, "loop consumer: %s\n", err.message);
            return -1;
        }
    }
    return 0;
}

static int sv[2];
static int m_fd(void *m)
{
    (void)m;
    return sv[0];
}
static int m_wants(void *m)
{
    (void)m;
    return 0;
}
static int64_t m_deadline(void *m)
{
    (void)m;
    return NR_DEADLINE_NEVER;
}
static int m_step(void *m, nr_error *err)
{
    (void)m;
    (void)err;
    return NR_OK;
}
static const nr_loop_machine machine =
    NR_LOOP_MACHINE(.fd = m_fd, .wants = m_wants, .deadline_ns = m_deadline, .step = m_step);

static void on_done(void *ud, int rc, const nr_error *err)
{
    (void)err;
    *(int *)ud = rc == NR_OK ? 1 : -1;
}

int main(void)
{
    nr_mock m;
    nr_mock_init(&m);
    nr_pool *p = NULL;
    nr_error err = {0};
    nr_async_queue *q = NULL;
    if (nr_test_pool_create(&p, "loop-consumer", &m, 0, 2, &err) != NR_OK ||
        nr_async_queue_create(&q, &err) != NR_OK || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        fprintf(stderr, "loop consumer: %s\n", err.message);
        return 1;
    }
    int uv_ran = 0, ev_ran = 0;

    state su = {0};
    uv_loop_t loop;
    uv_loop_init(&loop);
    if (nr_uv_queue_attach(&su.uq, &loop, q, &err) != NR_OK || acquire_all(p, q, &su) != 0 ||
        nr_uv_run_start(NULL, &loop, &machine, &m, on_done, &uv_ran, &err) != NR_OK)
        return 1;
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        return 1;

    state se = {0};
    struct event_base *base = event_base_new();
    if (base == NULL || nr_event_queue_attach(&se.eq, base, q, &err) != NR_OK ||
        acquire_all(p, q, &se) != 0 ||
        nr_event_run_start(NULL, base, &machine, &m, on_done, &ev_ran, &err) != NR_OK)
        return 1;
    event_base_dispatch(base);
    event_base_free(base);

    nr_async_queue_destroy(q);
    close(sv[0]);
    close(sv[1]);
    if (nr_pool_destroy(p, &err) != NR_OK || nr_mock_check_clean(&m, &err) != NR_OK) {
        fprintf(stderr, "loop consumer: %s\n", err.message);
        return 1;
    }
    if (su.done != N || se.done != N || uv_ran != 1 || ev_ran != 1) {
        fprintf(stderr, "loop consumer: libuv %d/%d, libevent %d/%d, machines %d %d\n", su.done, N,
                se.done, N, uv_ran, ev_ran);
        return 1;
    }
    printf("loop consumer: %d leases on libuv, %d on libevent\n", su.done, se.done);
    return 0;
}
