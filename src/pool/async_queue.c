/*
 * async_queue.c - the completion queue of async acquires: a locked list of
 * delivered requests and an eventfd that is readable while it is not
 * empty (fd queues), or an executor each completion runs on.
 *
 * The queue's lock is a leaf: a giver may push while it holds a pool's.
 * The eventfd is written only when the list goes from empty to not empty,
 * so a burst of completions costs one write and one read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nebula/alloc.h"
#include "pool/pool_async.h"

struct nr_async_queue {
    pthread_mutex_t mu;
    struct nr_async_op *head, *tail; /* [mu] */
    size_t n;                        /* [mu] */
    int fd;                          /* constant: the eventfd; -1 for an executor queue */
    nr_executor ex;                  /* constant: submit NULL for an fd queue */
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
    pthread_mutex_init(&q->mu, NULL);
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
    op->next = NULL;
    pthread_mutex_lock(&q->mu);
    int was_empty = q->n == 0;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
    q->n++;
    pthread_mutex_unlock(&q->mu);
    if (was_empty)
        fd_signal(q->fd);
}

size_t nr_async_queue_dispatch(nr_async_queue *q, size_t max)
{
    if (!q || q->fd < 0)
        return 0;
    /* Clear first: a push after this makes the fd readable again. */
    fd_clear(q->fd);
    pthread_mutex_lock(&q->mu);
    size_t take = q->n;
    if (max && take > max)
        take = max;
    struct nr_async_op *batch = q->head, *last = NULL;
    for (size_t i = 0; i < take; i++)
        last = last ? last->next : q->head;
    if (last) {
        q->head = last->next;
        if (!q->head)
            q->tail = NULL;
        last->next = NULL;
    } else {
        batch = NULL;
    }
    q->n -= take;
    int left = q->n > 0;
    pthread_mutex_unlock(&q->mu);
    if (left)
        fd_signal(q->fd); /* what max left for the next round */
    size_t ran = 0;
    while (batch) {
        struct nr_async_op *next = batch->next;
        nr__async_op_run(batch);
        batch = next;
        ran++;
    }
    return ran;
}

size_t nr_async_queue_pending(nr_async_queue *q)
{
    if (!q)
        return 0;
    pthread_mutex_lock(&q->mu);
    size_t n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void nr_async_queue_destroy(nr_async_queue *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    struct nr_async_op *op = q->head;
    q->head = q->tail = NULL;
    q->n = 0;
    pthread_mutex_unlock(&q->mu);
    while (op) {
        struct nr_async_op *next = op->next;
        nr__async_op_drop(op);
        op = next;
    }
    if (q->fd >= 0)
        close(q->fd);
    pthread_mutex_destroy(&q->mu);
    nr_free(q);
}
