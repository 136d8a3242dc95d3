/* harness_internal.h - what the harness's files share: one run's state. */
#ifndef NR_HARNESS_INTERNAL_H
#define NR_HARNESS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "mock_internal.h"
#include "nebula/testing_harness.h"

/* A worker's cancel token, posted for the control thread to set. */
typedef struct nr__harness_slot {
    pthread_mutex_t mu;
    nr_cancel *token; /* [mu] the token of the acquire in progress, or NULL */
} nr__harness_slot;

typedef struct nr__harness_run {
    nr_harness_options o; /* with the defaults filled in */
    uint64_t seed;
    bool allow_unavail, allow_unhealthy;     /* errors the faults make legitimate */
    int64_t start_min, start_max;            /* the sizes at the start, restored at the end */
    uint64_t start_acquires, start_releases; /* a pool's counts at the start (pool runs) */
    nr__harness_slot *slots;                 /* one per worker */
    atomic_int workers_done;                 /* [atomic] workers that have finished */
    pthread_mutex_t mu;
    nr_harness_report *rep; /* [mu] violations, broken, first; the counts are added at the end */
    /* Without a mock (a pool of any type), the handles leased now: at most
     * one per worker. [mu] */
    void **held;
    uint32_t nheld;
} nr__harness_run;

/* Draw from a per-stream generator (splitmix64 over a counter). */
static inline uint64_t nr__harness_draw(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ULL;
    return nr__mock_mix(*state);
}

/* Record a break of inv (the first one's example is kept). */
void nr__harness_violation(nr__harness_run *run, nr_invariant inv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The lease count of the pool or the resource; -1 when it cannot be read. */
int64_t nr__harness_in_use(nr__harness_run *run);

/* A worker's loop (arg: nr__harness_worker) and the control thread's (arg: run). */
typedef struct nr__harness_worker {
    nr__harness_run *run;
    uint32_t index;
    pthread_t thread;
    bool started;
    nr_harness_report counts; /* this worker's counts only */
} nr__harness_worker;

void *nr__harness_worker_main(void *arg);
void *nr__harness_control_main(void *arg);

#endif
