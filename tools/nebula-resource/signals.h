/*
 * signals.h - SIGINT and SIGTERM (stop) and SIGHUP (reload) handled on a
 * dedicated thread.
 *
 * cli_signals_block() must run in the main thread before any other thread
 * is created, so that every thread inherits the blocked mask and the
 * signals are only ever taken by sigtimedwait() on the signal thread: no
 * work happens in a signal handler.
 *
 * The first signal wakes cli_signals_wait(). A second one, while
 * cli_signals_arm_force() is on (a blocking shutdown is running), prints
 * that the shutdown is forced and exits the process at once with 128 +
 * the signal number; otherwise it is counted and wakes the waiter again.
 * SIGHUP is a reload request, counted apart (so is an admin server's
 * reload action, through cli_signals_request_reload).
 *
 * Thread safety: any thread may call cli_signals_count / _wait; start and
 * stop from the main thread.
 */
#ifndef NR_CLI_SIGNALS_H
#define NR_CLI_SIGNALS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cli_signals {
    pthread_t thread;
    bool running;
    atomic_bool stop;
    atomic_int count;   /* signals received */
    atomic_int last;    /* the last signal number */
    atomic_bool armed;  /* a second signal exits at once */
    atomic_int reloads; /* reload requests: SIGHUP, cli_signals_request_reload */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *prog; /* for the message */
} cli_signals;

/* Block SIGINT, SIGTERM and SIGHUP in the calling thread (and its future
 * threads), and ignore SIGPIPE. */
void cli_signals_block(void);

/* Start the signal thread. 0 or -1. */
int cli_signals_start(cli_signals *s, const char *prog);

/* Stop it (also when it never started). */
void cli_signals_stop(cli_signals *s);

int cli_signals_count(cli_signals *s);

/* Wait until at least `want` signals were received or timeout_ms passed
 * (< 0: no timeout). Returns the count. */
int cli_signals_wait(cli_signals *s, int want, int64_t timeout_ms);

/* The name of the last signal ("SIGINT", "SIGTERM"). */
const char *cli_signals_last_name(cli_signals *s);

void cli_signals_arm_force(cli_signals *s, bool on);

/* Count a reload request and wake the waiter. Any thread. */
void cli_signals_request_reload(cli_signals *s);

/* Wait for a stop signal (returns 1), a reload request newer than
 * *reloads_seen (returns 0 and updates *reloads_seen) or timeout_ms to pass
 * (returns -1; timeout_ms < 0: no timeout). A stop wins over a reload. */
int cli_signals_wait_stop_or_reload(cli_signals *s, int *reloads_seen, int64_t timeout_ms);

#endif
