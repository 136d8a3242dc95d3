/*
 * redis_sigpipe.c - keep SIGPIPE from killing the program while hiredis
 * writes.
 *
 * hiredis 0.14 writes with write(), not send(..., MSG_NOSIGNAL), so a write
 * to a socket the server has closed raises SIGPIPE in the writing thread.
 * The guard blocks SIGPIPE in that thread for the call; a SIGPIPE raised
 * meanwhile stays pending and is consumed with sigtimedwait (zero timeout)
 * before the old mask comes back, unless one was already pending when the
 * guard started (that one belongs to someone else and is left alone). The
 * same technique libpq uses around its own sends.
 */
#define _POSIX_C_SOURCE 200809L
#include "nebula/redis.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

typedef struct sigpipe_state {
    sigset_t old;     /* the thread's mask before the guard */
    bool was_pending; /* a SIGPIPE was pending when the guard started */
} sigpipe_state;

_Static_assert(sizeof(sigpipe_state) <= sizeof(((nr_redis_sigpipe_guard *)0)->opaque_),
               "nr_redis_sigpipe_guard too small for the saved signal mask");

static void pipe_set(sigset_t *s)
{
    sigemptyset(s);
    sigaddset(s, SIGPIPE);
}

static bool pipe_pending(void)
{
    sigset_t pending;
    sigemptyset(&pending);
    return sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

void nr_redis_sigpipe_block(nr_redis_sigpipe_guard *g)
{
    if (!g)
        return;
    int saved = errno;
    sigpipe_state *st = (sigpipe_state *)(void *)g->opaque_;
    sigset_t pipe;
    pipe_set(&pipe);
    pthread_sigmask(SIG_BLOCK, &pipe, &st->old);
    st->was_pending = pipe_pending();
    errno = saved;
}

void nr_redis_sigpipe_restore(nr_redis_sigpipe_guard *g)
{
    if (!g)
        return;
    int saved = errno;
    sigpipe_state *st = (sigpipe_state *)(void *)g->opaque_;
    sigset_t pipe;
    pipe_set(&pipe);
    if (!st->was_pending && pipe_pending()) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &st->old, NULL);
    errno = saved;
}
