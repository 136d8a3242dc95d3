/*
 * async_queue.c - the completion queue of async acquires: a locked list of
 * delivered requests and an eventfd that is readable while it is not
 * empty (fd queues), or an executor each completion runs on.
 *
 * A push is one CAS on the list's head (a giver pushes while it holds a
 * pool's lock, so it takes no lock of its own); the one dispatching thread
 * takes the whole list with one exchange and keeps, on a list of its own,
 * what max left for the next round. The eventfd is written only when the
 * shared list goes from empty to not empty, so a burst of completions
 * costs one write and one read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nebula/alloc.h"
#include "pool/pool_async.h"

struct nr_async_queue {
    _Atomic(struct nr_async_op *) pushed; /* newest first; acq_rel */
    struct nr_async_op *local;            /* [dispatcher] taken, oldest first, not yet run */
    atomic_size_t n;                      /* pushed and not yet run */
    int fd;                               /* constant: the eventfd; -1 for an executor queue */
    nr_executor ex;                       /* constant: submit NULL for an fd queue */
};

static int queue_make(nr_async_queue **out, const nr_executor *ex, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_async_queue_create: out must not be NULL");
    *out = NULL;
    if (ex && !ex->submit)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_async_queue_create_on: the executor's submit must be set");
    nr_async_queue *q = nr_calloc(1, sizeof(*q));
    if (!q)
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_async_queue_create: out of memory");
    q->fd = -1;
    if (ex) {
        q->ex = *ex;
    } else {
        q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (q->fd < 0) {
            int e = errno;
            nr_free(q);
            return nr_error_set(err, NR_EINIT, NULL, "nr_async_queue_create: eventfd: %s",
                                strerror(e));
        }
    }
    atomic_init(&q->pushed, NULL);
    atomic_init(&q->n, 0);
    *out = q;
    return NR_OK;
}

int nr_async_queue_create(nr_async_queue **out, nr_error *err)
{
    return queue_make(out, NULL, err);
}

int nr_async_queue_create_on(nr_async_queue **out, const nr_executor *ex, nr_error *err)
{
    if (!ex)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_async_queue_create_on: the executor must not be NULL");
    return queue_make(out, ex, err);
}

int nr_async_queue_fd(const nr_async_queue *q)
{
    return q ? q->fd : -1;
}

const nr_executor *nr__async_queue_executor(const nr_async_queue *q)
{
    return q->ex.submit ? &q->ex : NULL;
}

static void fd_signal(int fd)
{
    uint64_t one = 1;
    /* EAGAIN only when the counter is at its maximum: readable anyway */
    ssize_t w = write(fd, &one, sizeof(one));
    (void)w;
}

static void fd_clear(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v)); /* EAGAIN when already clear */
    (void)r;
}

void nr__async_queue_push(nr_async_queue *q, struct nr_async_op *op)
{
    atomic_fetch_add_explicit(&q->n, 1, memory_order_relaxed);
    struct nr_async_op *head = atomic_load_explicit(&q->pushed, memory_order_relaxed);
    do
        op->next = head;
    while (!atomic_compare_exchange_weak_explicit(&q->pushed, &head, op, memory_order_release,
                                                  memory_order_relaxed));
    if (!head)
        fd_signal(q->fd);
}

/* [dispatcher] Move what was pushed onto the local list, oldest first. */
static void take_pushed(nr_async_queue *q)
{
    struct nr_async_op *l = atomic_exchange_explicit(&q->pushed, NULL, memory_order_acquire);
    struct nr_async_op *rev = NULL;
    while (l) { /* newest first: reverse it */
        struct nr_async_op *next = l->next;
        l->next = rev;
        rev = l;
        l = next;
    }
    if (!rev)
        return;
    struct nr_async_op **end = &q->local;
    while (*end)
        end = &(*end)->next;
    *end = rev;
}

size_t nr_async_queue_dispatch(nr_async_queue *q, size_t max)
{
    if (!q || q->fd < 0)
        return 0;
    /* Clear first: a push after this makes the fd readable again. */
    fd_clear(q->fd);
    take_pushed(q);
    size_t ran = 0;
    while (q->local && (!max || ran < max)) {
        struct nr_async_op *op = q->local;
        q->local = op->next;
        atomic_fetch_sub_explicit(&q->n, 1, memory_order_relaxed);
        nr__async_op_run(op);
        ran++;
    }
    if (q->local)
        fd_signal(q->fd); /* what max left for the next round */
    return ran;
}

size_t nr_async_queue_pending(nr_async_queue *q)
{
    return q ? atomic_load_explicit(&q->n, memory_order_relaxed) : 0;
}

void nr_async_queue_destroy(nr_async_queue *q)
{
    if (!q)
        return;
    take_pushed(q);
    struct nr_async_op *op = q->local;
    q->local = NULL;
    while (op) {
        struct nr_async_op *next = op->next;
        nr__async_op_drop(op);
        op = next;
    }
    if (q->fd >= 0)
        close(q->fd);
    nr_free(q);
}
