/*
 * test_loop_event.c - the loop cases (loop_cases.c) on libevent, through
 * nebula/loop_event.h. The watchdog is a timer event. libevent has no
 * unreferenced events, so when a case's work is over the watchdog is
 * deleted and a check one loop turn later counts the events still added:
 * any (an event of the adapter left behind) puts the watchdog back, and it
 * fails the case.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "nebula/loop_event.h"

#include "loop_cases.h"

typedef struct tl_ev {
    struct event_base *base;
    struct event *watchdog;
    bool *fired;
} tl_ev;

static void *ev_create(void)
{
    tl_ev *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->base = event_base_new();
    assert_non_null(w->base);
    return w;
}

static void ev_run_all(void *loop)
{
    tl_ev *w = loop;
    assert_true(event_base_dispatch(w->base) >= 0);
}

static void ev_destroy(void *loop)
{
    tl_ev *w = loop;
    if (w->watchdog)
        event_free(w->watchdog);
    int left = event_base_get_num_events(w->base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE);
    if (left != 0)
        fail_msg("%d event(s) left on the base", left);
    event_base_free(w->base);
    free(w);
}

static int ev_attach(void *loop, nr_async_queue *q, void **att, nr_error *err)
{
    tl_ev *w = loop;
    nr_event_queue *a = NULL;
    int rc = nr_event_queue_attach(&a, w->base, q, err);
    *att = a;
    return rc;
}

static void ev_detach(void *att)
{
    nr_event_queue_detach(att);
}

static int ev_run_machine(void *loop, const nr_loop_machine *ops, void *machine,
                          nr_loop_done_fn done, void *ud, void **run, nr_error *err)
{
    tl_ev *w = loop;
    nr_event_run *r = NULL;
    int rc = nr_event_run_start(&r, w->base, ops, machine, done, ud, err);
    if (run)
        *run = r;
    return rc;
}

static int ev_cancel_run(void *run)
{
    return nr_event_run_cancel(run);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    tl_ev *w = arg;
    (void)fd;
    (void)what;
    *w->fired = true;
    event_base_loopbreak(w->base);
}

static void ev_watchdog(void *loop, int64_t ms, bool *fired)
{
    tl_ev *w = loop;
    w->fired = fired;
    *fired = false;
    w->watchdog = evtimer_new(w->base, watchdog_cb, w);
    assert_non_null(w->watchdog);
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    assert_int_equal(evtimer_add(w->watchdog, &tv), 0);
}

/* One turn after the work: nothing may be left but this check itself. */
static void leftover_check(evutil_socket_t fd, short what, void *arg)
{
    tl_ev *w = arg;
    (void)fd;
    (void)what;
    int left = event_base_get_num_events(w->base, EVENT_BASE_COUNT_ADDED);
    if (left > 0) {
        fprintf(stderr, "%d event(s) still added after the work ended\n", left);
        struct timeval tv = {.tv_sec = 10};
        (void)evtimer_add(w->watchdog, &tv);
    }
}

static void ev_work_done(void *loop)
{
    tl_ev *w = loop;
    (void)evtimer_del(w->watchdog);
    struct timeval zero = {0, 0};
    assert_int_equal(event_base_once(w->base, -1, EV_TIMEOUT, leftover_check, w, &zero), 0);
}

int main(void)
{
    static const tl_loop ev = {
        .name = "libevent",
        .create = ev_create,
        .run = ev_run_all,
        .destroy = ev_destroy,
        .attach = ev_attach,
        .detach = ev_detach,
        .run_machine = ev_run_machine,
        .cancel_run = ev_cancel_run,
        .watchdog = ev_watchdog,
        .work_done = ev_work_done,
    };
    return tl_run_cases(&ev);
}
