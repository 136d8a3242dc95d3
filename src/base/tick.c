/* tick.c - the ticker behind nr__tick_ns() (see tick.h). */
#define _GNU_SOURCE /* CLOCK_MONOTONIC_COARSE */
#include "base/tick.h"

#include <pthread.h>
#include <time.h>

#include "nebula/time.h"

#define TICK_NS (1 * NR_NS_PER_MS)
/* Slow reads closer together than this wake the ticker. */
#define WAKE_GAP_NS (10 * NR_NS_PER_MS)
/* Ticks in a row with no reader before the ticker sleeps. */
#define IDLE_TICKS 100

enum { T_NONE, T_RUNNING, T_ASLEEP, T_FAILED };

nr__tick_cell nr__tick;

static _Atomic int state = T_NONE;
static _Atomic int64_t last_slow_ns;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void)
{
    /* The ticker did not come along: read the clock until a new one runs. */
    atomic_store_explicit(&nr__tick.now_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&state, T_NONE, memory_order_relaxed);
    atomic_store_explicit(&last_slow_ns, 0, memory_order_relaxed);
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&cv, NULL);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

static void *ticker_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "nr-tick"); /* as ps and top show it */
    const struct timespec tick = {0, TICK_NS};
    for (;;) {
        int idle = 0;
        atomic_store_explicit(&nr__tick.used, 1, memory_order_relaxed);
        while (idle < IDLE_TICKS) {
            atomic_store_explicit(&nr__tick.now_ns, nr_now_coarse_ns(), memory_order_relaxed);
            nanosleep(&tick, NULL);
            if (atomic_exchange_explicit(&nr__tick.used, 0, memory_order_relaxed))
                idle = 0;
            else
                idle++;
        }
        /* Nobody reads the cell: stop keeping it, and sleep until woken. */
        atomic_store_explicit(&nr__tick.now_ns, 0, memory_order_relaxed);
        pthread_mutex_lock(&mu);
        atomic_store_explicit(&state, T_ASLEEP, memory_order_seq_cst);
        while (atomic_load_explicit(&state, memory_order_seq_cst) == T_ASLEEP)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void wake(void)
{
    int s = atomic_load_explicit(&state, memory_order_relaxed);
    if (s == T_NONE) {
        if (!atomic_compare_exchange_strong(&state, &s, T_RUNNING))
            return; /* another reader is starting it */
        pthread_once(&atfork_once, register_atfork);
        pthread_t tid;
        pthread_attr_t attr;
        int ok = pthread_attr_init(&attr) == 0;
        if (ok) {
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&attr, 64 * 1024);
            ok = pthread_create(&tid, &attr, ticker_main, NULL) == 0;
            pthread_attr_destroy(&attr);
        }
        if (!ok) /* no thread: every read stays a clock read */
            atomic_store_explicit(&state, T_FAILED, memory_order_relaxed);
        return;
    }
    if (s == T_ASLEEP && atomic_compare_exchange_strong_explicit(
                             &state, &s, T_RUNNING, memory_order_seq_cst, memory_order_relaxed)) {
        pthread_mutex_lock(&mu);
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
    }
}

int64_t nr__tick_slow_ns(void)
{
    int64_t t = nr_now_coarse_ns();
    if (atomic_load_explicit(&state, memory_order_relaxed) == T_FAILED)
        return t;
    int64_t prev = atomic_exchange_explicit(&last_slow_ns, t, memory_order_relaxed);
    if (prev && t - prev < WAKE_GAP_NS)
        wake();
    return t;
}
