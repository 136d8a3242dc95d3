/*
 * fleet_procs.h - what the multi-process fleet tests share (fleet_procs.c):
 * test_fleet_processes.c and test_fleet_chaos.c run fleet_worker processes
 * against the real PostgreSQL and Redis the wrappers started
 * (drivers/postgres/tests/with-postgres.sh, drivers/redis/tests/with-redis.sh).
 *
 *   - a sampler thread: SELECT count(*) FROM pg_stat_activity of the
 *     workers' connections (application_name 'nr-fleet-test') every 10 ms,
 *     keeping the most seen since the last fp_phase_end
 *   - the workers: started with a pipe on their stdout, asked for their
 *     progress (SIGUSR1: one "progress ..." line), ended (SIGTERM: one
 *     "ok=..." line) or killed
 *   - Redis seen from outside: the live leases of a resource or of one
 *     process, by Redis TIME; the wrapper's ctl (stop, start, pause, resume)
 *
 * Nothing here is thread safe except the sampler's counters (atomics).
 */
#ifndef NR_FLEET_PROCS_H
#define NR_FLEET_PROCS_H

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <sys/types.h>

/* An environment variable the wrappers set; exits naming it when missing. */
const char *fp_env(const char *name);
void fp_sleep_ms(int ms);
int64_t fp_now_ms(void); /* monotonic */

/* ---- the sampler of pg_stat_activity ---- */
void fp_sampler_start(void);
void fp_sampler_stop(void);
/* The most connections seen since the last call (a new phase begins). */
int fp_phase_end(void);
long fp_samples(void);

/* ---- workers ---- */
typedef struct fp_worker {
    pid_t pid;      /* 0: not running */
    int out;        /* its stdout */
    char proc[32];  /* its process id in the fleet */
    char buf[1024]; /* bytes read, not yet a line */
    size_t len;     /* of buf */
    char line[256]; /* the last line read */
} fp_worker;

/* Start `fleet_worker RES PROC MODE` and wait (timeout_ms) for its "ready".
 * 0, or -1 when it exited or did not get ready in time (it is reaped;
 * whatever it printed went to stderr). */
int fp_worker_start(fp_worker *w, const char *path, const char *res, const char *proc,
                    const char *mode, int timeout_ms);
/* SIGKILL and reap it. */
void fp_worker_kill(fp_worker *w);
/* SIGUSR1 and read its "progress ..." line into w->line. 0, or -1 when none
 * came within timeout_ms. */
int fp_worker_progress(fp_worker *w, int timeout_ms);
/* SIGTERM, wait, read its summary (the "ok=..." line, into w->line); its
 * exit code (128 + signal when killed by one). */
int fp_worker_finish(fp_worker *w);
/* The number after "NAME=" in line, -1 when absent. */
long fp_field(const char *line, const char *name);

/* ---- Redis ---- */
/* A connection (AUTHed) with timeout_ms on connect and every command; NULL
 * when Redis cannot be reached (0: exit instead). */
redisContext *fp_redis(int timeout_ms);
/* Leases of process proc ("" = every process) in resource res that have not
 * expired by Redis TIME; -1 when Redis did not answer (c is then unusable). */
long fp_leases_of(redisContext *c, const char *res, const char *proc);
/* $NR_TEST_REDIS_CTL what (stop, start, pause, resume); exits when it fails. */
void fp_redis_ctl(const char *what);

#endif
