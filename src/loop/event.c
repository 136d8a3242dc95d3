/*
 * event.c - the libevent adapter (nebula/loop_event.h): an fd completion
 * queue watched by a persistent read event, and step machines driven by an
 * io event and a timer event.
 *
 * A run's states and who moves it:
 *
 *     ARMED ---- fd ready / timer ----> STEPPING   (io_cb, timer_cb)
 *     STEPPING -- step: NR_PENDING ---> ARMED      (rearm)
 *     STEPPING -- step: done, error --> DONE       (finish)
 *     ARMED ---- nr_event_run_cancel -> CANCELLED  (the timer set to 0)
 *     CANCELLED -- timer -------------> DONE       (finish: NR_ECANCELED)
 *
 * finish frees both events (deleting them, so the fd is no longer watched),
 * runs the completion callback once and then frees the run: it is the last
 * thing the io or timer callback does, and libevent does not touch an
 * event after its callback returns.
 * Everything happens on the base's thread: no lock, no atomics.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "nebula/alloc.h"
#include "nebula/loop_event.h"

#include "loop_common.h"

/* ---- the completion queue --------------------------------------------------- */

struct nr_event_queue {
    uint32_t magic;
    struct event *ev;
    nr_async_queue *q;
    bool dispatching; /* inside nr_async_queue_dispatch: a detach is deferred */
    bool detached;
};

static void queue_free(nr_event_queue *a)
{
    event_free(a->ev);
    a->magic = 0;
    nr_free(a);
}

static void queue_cb(evutil_socket_t fd, short what, void *arg)
{
    nr_event_queue *a = arg;
    assert(a->magic == NR_LOOP_QUEUE_MAGIC && !a->detached);
    (void)fd;
    (void)what;
    a->dispatching = true;
    (void)nr_async_queue_dispatch(a->q, 0);
    a->dispatching = false;
    if (a->detached) {
        queue_free(a); /* detached by a completion callback */
    }
}

int nr_event_queue_attach(nr_event_queue **out, struct event_base *base, nr_async_queue *q,
                          nr_error *err)
{
    if (out == NULL || base == NULL || q == NULL) {
        return nr_error_set(err, NR_EINVAL, NULL, "nr_event_queue_attach: NULL argument");
    }
    *out = NULL;
    int fd = nr_async_queue_fd(q);
    if (fd < 0) {
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_event_queue_attach: the queue has no fd (an executor queue)");
    }
    nr_event_queue *a = nr_calloc(1, sizeof(*a));
    if (a == NULL) {
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_event_queue_attach: out of memory");
    }
    a->magic = NR_LOOP_QUEUE_MAGIC;
    a->q = q;
    a->ev = event_new(base, fd, EV_READ | EV_PERSIST, queue_cb, a);
    if (a->ev == NULL) {
        nr_free(a);
        return nr_error_set(err, NR_EINIT, NULL, "nr_event_queue_attach: event_new failed");
    }
    if (event_add(a->ev, NULL) != 0) {
        queue_free(a);
        return nr_error_set(err, NR_EINIT, NULL,
                            "nr_event_queue_attach: event_add on the queue's fd failed");
    }
    *out = a;
    return NR_OK;
}

void nr_event_queue_detach(nr_event_queue *a)
{
    if (a == NULL) {
        return;
    }
    assert(a->magic == NR_LOOP_QUEUE_MAGIC && !a->detached);
    (void)event_del(a->ev);
    a->detached = true;
    if (!a->dispatching) {
        queue_free(a);
    }
}

/* ---- running a step machine ------------------------------------------------- */

typedef enum run_state { RUN_ARMED, RUN_STEPPING, RUN_CANCELLED, RUN_DONE } run_state;

struct nr_event_run {
    uint32_t magic;
    run_state state;
    struct event_base *base;
    struct event *io;
    struct event *timer;
    int fd;
    int wants_now; /* what io was last set up for */
    const nr_loop_machine *ops;
    void *machine;
    nr_loop_done_fn done;
    void *ud;
};

static void io_cb(evutil_socket_t fd, short what, void *arg);
static void timer_cb(evutil_socket_t fd, short what, void *arg);

static void run_free(nr_event_run *r)
{
    event_free(r->io);
    event_free(r->timer);
    r->magic = 0;
    nr_free(r);
}

/* End the run: both events freed (which deletes them: the fd leaves the
 * base's epoll set now, before done may give the connection back to be
 * closed on a pool's thread), then done once, then the run freed. */
static void finish(nr_event_run *r, int rc, const nr_error *err)
{
    assert(r->state == RUN_STEPPING || r->state == RUN_CANCELLED);
    r->state = RUN_DONE;
    event_free(r->io);
    event_free(r->timer);
    r->io = r->timer = NULL;
    r->done(r->ud, rc, err);
    r->magic = 0;
    nr_free(r);
}

static void finish_with(nr_event_run *r, int code, const char *what)
{
    nr_error e;
    nr_error_clear(&e);
    nr_error_set(&e, code, NULL, "event loop (libevent): %s", what);
    finish(r, code, &e);
}

static int timer_in(nr_event_run *r, uint64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return event_add(r->timer, &tv);
}

/* Watch for what the machine wants now, and time its deadline: -1 when
 * libevent refuses. */
static int arm(nr_event_run *r, int wants)
{
    if (wants == 0) {
        (void)event_del(r->io);
        return timer_in(r, 0);
    }
    short events =
        (short)(((wants & NR_IO_READ) ? EV_READ : 0) | ((wants & NR_IO_WRITE) ? EV_WRITE : 0));
    if (wants != r->wants_now) {
        (void)event_del(r->io);
        if (event_assign(r->io, r->base, r->fd, events, io_cb, r) != 0) {
            return -1;
        }
        r->wants_now = wants;
    }
    if (event_add(r->io, NULL) != 0) {
        return -1;
    }
    int64_t at = r->ops->deadline_ns(r->machine);
    if (nr_loop__has_deadline(at)) {
        return timer_in(r, nr_loop__ms_until(at));
    }
    return event_del(r->timer);
}

/* After a step that answered NR_PENDING: arm again, or end the run. */
static void rearm(nr_event_run *r)
{
    assert(r->state == RUN_STEPPING);
    if (r->ops->fd(r->machine) != r->fd) {
        finish_with(r, NR_ESTATE, "the machine's fd changed during a run");
        return;
    }
    if (arm(r, r->ops->wants(r->machine)) != 0) {
        finish_with(r, NR_EUNAVAIL, "event_add on the machine's fd failed");
        return;
    }
    r->state = RUN_ARMED;
}

static void do_step(nr_event_run *r)
{
    assert(r->state == RUN_ARMED);
    r->state = RUN_STEPPING;
    nr_error e;
    nr_error_clear(&e);
    int rc = r->ops->step(r->machine, &e);
    if (rc != NR_PENDING) {
        finish(r, rc, rc == NR_OK ? NULL : &e);
        return;
    }
    if (nr_loop__deadline_passed(r->ops->deadline_ns(r->machine))) {
        finish_with(r, NR_ETIMEDOUT, "the operation's deadline passed");
        return;
    }
    rearm(r);
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
    nr_event_run *r = arg;
    assert(r->magic == NR_LOOP_RUN_MAGIC);
    (void)fd;
    (void)what;
    if (r->state == RUN_ARMED) {
        do_step(r);
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    nr_event_run *r = arg;
    assert(r->magic == NR_LOOP_RUN_MAGIC);
    (void)fd;
    (void)what;
    if (r->state == RUN_CANCELLED) {
        finish_with(r, NR_ECANCELED, "the run was cancelled");
    } else if (r->state == RUN_ARMED) {
        do_step(r);
    }
}

int nr_event_run_start(nr_event_run **out, struct event_base *base, const nr_loop_machine *ops,
                       void *machine, nr_loop_done_fn done, void *ud, nr_error *err)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (base == NULL || machine == NULL || done == NULL || !nr_loop__table_ok(ops)) {
        return nr_error_set(
            err, NR_EINVAL, NULL,
            "nr_event_run_start: NULL argument or incomplete nr_loop_machine table");
    }
    int fd = ops->fd(machine);
    if (fd < 0) {
        return nr_error_set(err, NR_EINVAL, NULL, "nr_event_run_start: the machine has no fd");
    }
    nr_event_run *r = nr_calloc(1, sizeof(*r));
    if (r == NULL) {
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_event_run_start: out of memory");
    }
    r->magic = NR_LOOP_RUN_MAGIC;
    r->base = base;
    r->fd = fd;
    r->ops = ops;
    r->machine = machine;
    r->done = done;
    r->ud = ud;
    r->wants_now = -1;
    /* Both made now (with a placeholder io set-up) so that arm only
     * re-assigns: no allocation once the run has started. */
    r->io = event_new(base, fd, EV_READ, io_cb, r);
    r->timer = evtimer_new(base, timer_cb, r);
    if (r->io == NULL || r->timer == NULL) {
        if (r->io != NULL) {
            event_free(r->io);
        }
        if (r->timer != NULL) {
            event_free(r->timer);
        }
        nr_free(r);
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_event_run_start: event_new failed");
    }
    r->state = RUN_STEPPING;
    if (arm(r, ops->wants(machine)) != 0) {
        run_free(r); /* event_free deletes what was added; done is never called */
        return nr_error_set(err, NR_EINIT, NULL, "nr_event_run_start: event_add on the fd failed");
    }
    r->state = RUN_ARMED;
    if (out != NULL) {
        *out = r;
    }
    return NR_OK;
}

int nr_event_run_cancel(nr_event_run *r)
{
    if (r == NULL) {
        return NR_EINVAL;
    }
    assert(r->magic == NR_LOOP_RUN_MAGIC);
    if (r->state != RUN_ARMED) {
        return NR_ESTATE;
    }
    r->state = RUN_CANCELLED;
    (void)event_del(r->io);
    (void)timer_in(r, 0);
    return NR_OK;
}
