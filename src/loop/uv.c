/*
 * uv.c - the libuv adapter (nebula/loop_uv.h): an fd completion queue
 * watched by a uv_poll_t, and step machines driven by a uv_poll_t and a
 * uv_timer_t.
 *
 * A run's states and who moves it:
 *
 *     ARMED ---- fd ready / timer ----> STEPPING   (poll_cb, timer_cb)
 *     STEPPING -- step: NR_PENDING ---> ARMED      (rearm)
 *     STEPPING -- step: done, error --> DONE       (finish)
 *     ARMED ---- nr_uv_run_cancel ----> CANCELLED  (the timer set to 0)
 *     CANCELLED -- timer -------------> DONE       (finish: NR_ECANCELED)
 *     DONE ------ both handles closed -> freed     (run_closed)
 *
 * A run in DONE polls nothing and its timer is stopped; the completion
 * callback runs once, in finish, after both handles are closing and the
 * fd's flags are given back: the adapter never touches the fd after it.
 * Everything happens on the loop's thread: no lock, no atomics.
 */
#define _DEFAULT_SOURCE /* uv.h: pthread_rwlock_t, struct sockaddr_storage */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "nebula/alloc.h"
#include "nebula/loop_uv.h"

#include "loop_common.h"

/* ---- the completion queue --------------------------------------------------- */

struct nr_uv_queue {
    uint32_t magic;
    uv_poll_t poll;
    nr_async_queue *q;
    void (*closed)(void *ud);
    void *closed_ud;
    bool detached;
};

static void queue_poll_cb(uv_poll_t *h, int status, int events)
{
    nr_uv_queue *a = h->data;
    assert(a->magic == NR_LOOP_QUEUE_MAGIC);
    (void)status; /* an eventfd does not fail; dispatch finds what there is */
    (void)events;
    if (a->detached) {
        return;
    }
    /* May detach a: its memory lives until the close callback, a later turn. */
    (void)nr_async_queue_dispatch(a->q, 0);
}

static void queue_closed(uv_handle_t *h)
{
    nr_uv_queue *a = h->data;
    assert(a->magic == NR_LOOP_QUEUE_MAGIC && a->detached);
    void (*closed)(void *) = a->closed;
    void *ud = a->closed_ud;
    a->magic = 0;
    nr_free(a);
    if (closed != NULL) {
        closed(ud);
    }
}

int nr_uv_queue_attach(nr_uv_queue **out, uv_loop_t *loop, nr_async_queue *q, nr_error *err)
{
    if (out == NULL || loop == NULL || q == NULL) {
        return nr_error_set(err, NR_EINVAL, NULL, "nr_uv_queue_attach: NULL argument");
    }
    *out = NULL;
    int fd = nr_async_queue_fd(q);
    if (fd < 0) {
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_uv_queue_attach: the queue has no fd (an executor queue)");
    }
    nr_uv_queue *a = nr_calloc(1, sizeof(*a));
    if (a == NULL) {
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_uv_queue_attach: out of memory");
    }
    a->magic = NR_LOOP_QUEUE_MAGIC;
    a->q = q;
    int rc = uv_poll_init(loop, &a->poll, fd);
    if (rc != 0) {
        nr_free(a);
        return nr_error_set_cause(err, NR_EINIT, NR_OK, rc, NULL,
                                  "nr_uv_queue_attach: uv_poll_init on the queue's fd: %s",
                                  uv_strerror(rc));
    }
    a->poll.data = a;
    rc = uv_poll_start(&a->poll, UV_READABLE, queue_poll_cb);
    if (rc != 0) {
        a->detached = true;
        uv_close((uv_handle_t *)&a->poll, queue_closed);
        return nr_error_set_cause(err, NR_EINIT, NR_OK, rc, NULL,
                                  "nr_uv_queue_attach: uv_poll_start on the queue's fd: %s",
                                  uv_strerror(rc));
    }
    /* Completions queued before the attach made the fd readable already:
     * the first poll sees them. */
    *out = a;
    return NR_OK;
}

void nr_uv_queue_detach(nr_uv_queue *a, void (*closed)(void *ud), void *ud)
{
    if (a == NULL) {
        return;
    }
    assert(a->magic == NR_LOOP_QUEUE_MAGIC && !a->detached);
    a->detached = true;
    a->closed = closed;
    a->closed_ud = ud;
    uv_close((uv_handle_t *)&a->poll, queue_closed); /* stops the poll first */
}

/* ---- running a step machine ------------------------------------------------- */

typedef enum run_state { RUN_ARMED, RUN_STEPPING, RUN_CANCELLED, RUN_DONE } run_state;

struct nr_uv_run {
    uint32_t magic;
    run_state state;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles; /* handles not closed yet: freed at 0 */
    int fd;
    int fd_flags; /* before uv_poll_init changed them; -1 unknown */
    int64_t deadline_ns;
    const nr_loop_machine *ops;
    void *machine;
    nr_loop_done_fn done;
    void *ud;
};

static void run_poll_cb(uv_poll_t *h, int status, int events);
static void run_timer_cb(uv_timer_t *h);

static void run_closed(uv_handle_t *h)
{
    nr_uv_run *r = h->data;
    assert(r->magic == NR_LOOP_RUN_MAGIC && r->state == RUN_DONE && r->open_handles > 0);
    if (--r->open_handles == 0) {
        r->magic = 0;
        nr_free(r);
    }
}

/* End the run: handles closed, flags back, then done once. The handles
 * are closed first because closing a uv_poll_t removes its fd from the
 * loop's epoll set again: after done the fd may be closed (a connection
 * given back and destroyed on a pool's thread) and even reused by another
 * connection. Only r's memory outlives done, until the close callbacks. */
static void finish(nr_uv_run *r, int rc, const nr_error *err)
{
    assert(r->state == RUN_STEPPING || r->state == RUN_CANCELLED);
    r->state = RUN_DONE;
    uv_close((uv_handle_t *)&r->poll, run_closed);
    uv_close((uv_handle_t *)&r->timer, run_closed);
    nr_loop__fd_restore(r->fd, r->fd_flags);
    r->done(r->ud, rc, err);
}

static void finish_with(nr_uv_run *r, int code, const char *what)
{
    nr_error e;
    nr_error_clear(&e);
    nr_error_set(&e, code, NULL, "event loop (libuv): %s", what);
    finish(r, code, &e);
}

/* Poll for what the machine wants now, and time its deadline: libuv's
 * code when it refuses the poll (0 otherwise). */
static int arm(nr_uv_run *r, int wants)
{
    if (wants == 0) {
        (void)uv_poll_stop(&r->poll);
        return uv_timer_start(&r->timer, run_timer_cb, 0, 0);
    }
    int events =
        ((wants & NR_IO_READ) ? UV_READABLE : 0) | ((wants & NR_IO_WRITE) ? UV_WRITABLE : 0);
    int rc = uv_poll_start(&r->poll, events, run_poll_cb);
    if (rc != 0) {
        return rc;
    }
    r->deadline_ns = r->ops->deadline_ns(r->machine);
    if (nr_loop__has_deadline(r->deadline_ns)) {
        return uv_timer_start(&r->timer, run_timer_cb, nr_loop__ms_until(r->deadline_ns), 0);
    }
    return uv_timer_stop(&r->timer);
}

/* After a step that answered NR_PENDING: arm again, or end the run. */
static void rearm(nr_uv_run *r)
{
    assert(r->state == RUN_STEPPING);
    if (r->ops->fd(r->machine) != r->fd) {
        finish_with(r, NR_ESTATE, "the machine's fd changed during a run");
        return;
    }
    int rc = arm(r, r->ops->wants(r->machine));
    if (rc != 0) {
        nr_error e;
        nr_error_clear(&e);
        nr_error_set_cause(&e, NR_EUNAVAIL, NR_OK, rc, NULL,
                           "event loop (libuv): polling the machine's fd: %s", uv_strerror(rc));
        finish(r, NR_EUNAVAIL, &e);
        return;
    }
    r->state = RUN_ARMED;
}

static void do_step(nr_uv_run *r, int poll_status)
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
    if (poll_status < 0) {
        nr_error_set_cause(&e, NR_EUNAVAIL, NR_OK, poll_status, NULL,
                           "event loop (libuv): polling the machine's fd failed: %s",
                           uv_strerror(poll_status));
        finish(r, NR_EUNAVAIL, &e);
        return;
    }
    rearm(r);
}

static void run_poll_cb(uv_poll_t *h, int status, int events)
{
    nr_uv_run *r = h->data;
    assert(r->magic == NR_LOOP_RUN_MAGIC);
    (void)events;
    if (r->state != RUN_ARMED) {
        return; /* cancelled: the timer ends it */
    }
    do_step(r, status);
}

static void run_timer_cb(uv_timer_t *h)
{
    nr_uv_run *r = h->data;
    assert(r->magic == NR_LOOP_RUN_MAGIC);
    if (r->state == RUN_CANCELLED) {
        finish_with(r, NR_ECANCELED, "the run was cancelled");
        return;
    }
    if (r->state == RUN_ARMED) {
        do_step(r, 0);
    }
}

int nr_uv_run_start(nr_uv_run **out, uv_loop_t *loop, const nr_loop_machine *ops, void *machine,
                    nr_loop_done_fn done, void *ud, nr_error *err)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (loop == NULL || machine == NULL || done == NULL || !nr_loop__table_ok(ops)) {
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_uv_run_start: NULL argument or incomplete nr_loop_machine table");
    }
    int fd = ops->fd(machine);
    if (fd < 0) {
        return nr_error_set(err, NR_EINVAL, NULL, "nr_uv_run_start: the machine has no fd");
    }
    nr_uv_run *r = nr_calloc(1, sizeof(*r));
    if (r == NULL) {
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_uv_run_start: out of memory");
    }
    r->magic = NR_LOOP_RUN_MAGIC;
    r->fd = fd;
    r->fd_flags = nr_loop__fd_flags(fd);
    r->ops = ops;
    r->machine = machine;
    r->done = done;
    r->ud = ud;
    int rc = uv_poll_init(loop, &r->poll, fd);
    if (rc != 0) {
        nr_loop__fd_restore(fd, r->fd_flags);
        nr_free(r);
        return nr_error_set_cause(err, NR_EINIT, NR_OK, rc, NULL,
                                  "nr_uv_run_start: uv_poll_init on the machine's fd: %s",
                                  uv_strerror(rc));
    }
    r->poll.data = r;
    (void)uv_timer_init(loop, &r->timer); /* cannot fail on Unix */
    r->timer.data = r;
    r->open_handles = 2;
    rc = arm(r, ops->wants(machine));
    if (rc != 0) {
        /* done is never called: the handles close and free r. */
        r->state = RUN_DONE;
        nr_loop__fd_restore(fd, r->fd_flags);
        uv_close((uv_handle_t *)&r->poll, run_closed);
        uv_close((uv_handle_t *)&r->timer, run_closed);
        return nr_error_set_cause(err, NR_EINIT, NR_OK, rc, NULL,
                                  "nr_uv_run_start: polling the machine's fd: %s", uv_strerror(rc));
    }
    r->state = RUN_ARMED;
    if (out != NULL) {
        *out = r;
    }
    return NR_OK;
}

int nr_uv_run_cancel(nr_uv_run *r)
{
    if (r == NULL) {
        return NR_EINVAL;
    }
    assert(r->magic == NR_LOOP_RUN_MAGIC);
    if (r->state != RUN_ARMED) {
        return NR_ESTATE;
    }
    r->state = RUN_CANCELLED;
    (void)uv_poll_stop(&r->poll);
    (void)uv_timer_start(&r->timer, run_timer_cb, 0, 0);
    return NR_OK;
}
