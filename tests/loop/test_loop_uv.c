/*
 * test_loop_uv.c - the loop cases (loop_cases.c) on libuv, through
 * nebula/loop_uv.h. The watchdog is a uv_timer_t, unreferenced once a
 * case's work is over: the loop then ends by itself unless a handle of the
 * adapter is left behind, and the watchdog fails the case if one is.
 */
#define _DEFAULT_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "nebula/loop_uv.h"

#include "loop_cases.h"

typedef struct tl_uv {
    uv_loop_t loop;
    uv_timer_t watchdog;
    bool watchdog_on;
    bool *fired;
} tl_uv;

static void *uv_create(void)
{
    tl_uv *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    assert_int_equal(uv_loop_init(&w->loop), 0);
    return w;
}

static void uv_run_all(void *loop)
{
    tl_uv *w = loop;
    (void)uv_run(&w->loop, UV_RUN_DEFAULT);
}

static void print_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    fprintf(stderr, "  handle left: %s%s%s\n", uv_handle_type_name(uv_handle_get_type(h)),
            uv_is_active(h) ? " active" : "", uv_is_closing(h) ? " closing" : "");
}

static void uv_destroy(void *loop)
{
    tl_uv *w = loop;
    if (w->watchdog_on) {
        uv_close((uv_handle_t *)&w->watchdog, NULL);
        w->watchdog_on = false;
    }
    (void)uv_run(&w->loop, UV_RUN_DEFAULT); /* the close callbacks */
    if (uv_loop_close(&w->loop) != 0) {
        uv_walk(&w->loop, print_handle, NULL);
        fail_msg("uv_loop_close: handles are left on the loop");
    }
    free(w);
}

static int uv_attach(void *loop, nr_async_queue *q, void **att, nr_error *err)
{
    tl_uv *w = loop;
    nr_uv_queue *a = NULL;
    int rc = nr_uv_queue_attach(&a, &w->loop, q, err);
    *att = a;
    return rc;
}

static void uv_detach(void *att)
{
    nr_uv_queue_detach(att, NULL, NULL);
}

static int uv_run_machine(void *loop, const nr_loop_machine *ops, void *machine,
                          nr_loop_done_fn done, void *ud, void **run, nr_error *err)
{
    tl_uv *w = loop;
    nr_uv_run *r = NULL;
    int rc = nr_uv_run_start(&r, &w->loop, ops, machine, done, ud, err);
    if (run)
        *run = r;
    return rc;
}

static int uv_cancel_run(void *run)
{
    return nr_uv_run_cancel(run);
}

static void watchdog_cb(uv_timer_t *t)
{
    tl_uv *w = t->data;
    *w->fired = true;
    uv_stop(&w->loop);
}

static void uv_watchdog(void *loop, int64_t ms, bool *fired)
{
    tl_uv *w = loop;
    w->fired = fired;
    *fired = false;
    assert_int_equal(uv_timer_init(&w->loop, &w->watchdog), 0);
    w->watchdog.data = w;
    w->watchdog_on = true;
    assert_int_equal(uv_timer_start(&w->watchdog, watchdog_cb, (uint64_t)ms, 0), 0);
}

static void uv_work_done(void *loop)
{
    tl_uv *w = loop;
    uv_unref((uv_handle_t *)&w->watchdog);
}

int main(void)
{
    static const tl_loop uv = {
        .name = "libuv",
        .create = uv_create,
        .run = uv_run_all,
        .destroy = uv_destroy,
        .attach = uv_attach,
        .detach = uv_detach,
        .run_machine = uv_run_machine,
        .cancel_run = uv_cancel_run,
        .watchdog = uv_watchdog,
        .work_done = uv_work_done,
    };
    return tl_run_cases(&uv);
}
