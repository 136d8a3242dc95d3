/*
 * manager_run_all.c - nr__run_all: a batch of jobs on the manager's workers,
 * waited for together (a start's level, a round over the resources).
 */
#define _POSIX_C_SOURCE 200809L
#include "manager/manager_internal.h"
#include "nebula/alloc.h"

/* ---- running jobs in parallel ------------------------------------------------------------ */

typedef struct run_all_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t left;
} run_all_state;

typedef struct run_all_job {
    void (*fn)(void *);
    void *arg;
    run_all_state *st;
} run_all_job;

static void run_all_one(void *p)
{
    run_all_job *j = p;
    j->fn(j->arg);
    pthread_mutex_lock(&j->st->mu);
    if (--j->st->left == 0)
        pthread_cond_signal(&j->st->cv);
    pthread_mutex_unlock(&j->st->mu);
}

void nr__run_all(nr_manager *m, void (*fn)(void *), void **args, size_t n)
{
    if (n == 0)
        return;
    run_all_job *jobs = nr_calloc(n, sizeof(*jobs));
    if (!jobs || n == 1 || nr__runtime_on_worker(m->rt)) {
        /* no memory, nothing to parallelise, or already on a worker (waiting
         * for our own workers could deadlock): run here */
        nr_free(jobs);
        for (size_t i = 0; i < n; i++)
            fn(args[i]);
        return;
    }
    run_all_state st = {.left = n};
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    for (size_t i = 0; i < n; i++) {
        jobs[i] = (run_all_job){fn, args[i], &st};
        if (nr__runtime_submit(m->rt, run_all_one, &jobs[i], NULL) != NR_OK)
            run_all_one(&jobs[i]);
    }
    pthread_mutex_lock(&st.mu);
    while (st.left)
        pthread_cond_wait(&st.cv, &st.mu);
    pthread_mutex_unlock(&st.mu);
    pthread_cond_destroy(&st.cv);
    pthread_mutex_destroy(&st.mu);
    nr_free(jobs);
}
