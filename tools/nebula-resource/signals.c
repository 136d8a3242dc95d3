/*
 * signals.c - SIGINT, SIGTERM and SIGHUP taken by sigtimedwait() on their
 * own thread. See signals.h.
 */
#define _DEFAULT_SOURCE
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void wanted(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

void cli_signals_block(void)
{
    sigset_t set;
    wanted(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* A shell starts background jobs with SIGINT ignored, and an ignored
     * signal is discarded even while blocked: take both back (blocked, the
     * default action never runs). */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
}

static const char *sig_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal";
}

static void *sig_main(void *arg)
{
    cli_signals *s = arg;
    sigset_t set;
    wanted(&set);
    while (!atomic_load(&s->stop)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig < 0)
            continue; /* EAGAIN (timeout) or EINTR */
        if (sig == SIGHUP) {
            cli_signals_request_reload(s);
            continue;
        }
        atomic_store(&s->last, sig);
        int n = atomic_fetch_add(&s->count, 1) + 1;
        if (n >= 2 && atomic_load(&s->armed)) {
            /* a blocking shutdown is running: do not wait for it */
            char msg[200];
            int len = snprintf(msg, sizeof(msg),
                               "%s: second %s during shutdown: forced exit now, without "
                               "waiting for the remaining phases\n",
                               s->prog, sig_name(sig));
            fflush(stdout);
            if (len > 0 && write(STDERR_FILENO, msg, (size_t)len) < 0)
                (void)0;
            _exit(128 + sig);
        }
        pthread_mutex_lock(&s->mu);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

int cli_signals_start(cli_signals *s, const char *prog)
{
    memset(s, 0, sizeof(*s));
    s->prog = prog;
    atomic_init(&s->stop, false);
    atomic_init(&s->count, 0);
    atomic_init(&s->last, 0);
    atomic_init(&s->armed, false);
    atomic_init(&s->reloads, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, sig_main, s) != 0)
        return -1;
    s->running = true;
    return 0;
}

void cli_signals_stop(cli_signals *s)
{
    if (s->running) {
        atomic_store(&s->stop, true);
        pthread_join(s->thread, NULL);
        s->running = false;
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

int cli_signals_count(cli_signals *s)
{
    return atomic_load(&s->count);
}

/* now + ms on the monotonic clock (the condition variable's) */
static struct timespec after_ms(int64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

int cli_signals_wait(cli_signals *s, int want, int64_t timeout_ms)
{
    struct timespec until = after_ms(timeout_ms >= 0 ? timeout_ms : 0);
    pthread_mutex_lock(&s->mu);
    while (atomic_load(&s->count) < want) {
        if (timeout_ms < 0) {
            /* wake now and then: the signal thread broadcasts, but a
             * bounded wait keeps this robust */
            struct timespec t = after_ms(1000);
            pthread_cond_timedwait(&s->cv, &s->mu, &t);
        } else if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return atomic_load(&s->count);
}

const char *cli_signals_last_name(cli_signals *s)
{
    return sig_name(atomic_load(&s->last));
}

void cli_signals_arm_force(cli_signals *s, bool on)
{
    atomic_store(&s->armed, on);
}

void cli_signals_request_reload(cli_signals *s)
{
    pthread_mutex_lock(&s->mu);
    atomic_fetch_add(&s->reloads, 1);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int cli_signals_wait_stop_or_reload(cli_signals *s, int *reloads_seen, int64_t timeout_ms)
{
    struct timespec until = after_ms(timeout_ms >= 0 ? timeout_ms : 0);
    int timed_out = 0;
    pthread_mutex_lock(&s->mu);
    while (!timed_out && atomic_load(&s->count) < 1 && atomic_load(&s->reloads) == *reloads_seen) {
        if (timeout_ms < 0) {
            struct timespec t = after_ms(1000); /* bounded, as above */
            pthread_cond_timedwait(&s->cv, &s->mu, &t);
        } else {
            timed_out = pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT;
        }
    }
    int r = atomic_load(&s->count) >= 1 ? 1 : atomic_load(&s->reloads) != *reloads_seen ? 0 : -1;
    if (r == 0)
        *reloads_seen = atomic_load(&s->reloads);
    pthread_mutex_unlock(&s->mu);
    return r;
}
