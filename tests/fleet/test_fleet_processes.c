/*
 * test_fleet_processes.c - four processes (fleet_worker), each with a pool
 * of max_size 20 on a real PostgreSQL (max_connections 60, below their 80),
 * share a fleet budget of 30 under load. A sampler reads pg_stat_activity
 * every 10 ms and must never see more than 30 of their connections, except
 * while Redis is stopped in fail_open mode (documented: docs/fleet.md).
 *
 *   fail_closed run: load; kill -9 of one worker (its leases are gone and
 *   used by the others within the TTL); Redis SIGSTOPped past the TTL (each
 *   worker reports the fallback to limit 0) and continued (each reports
 *   Redis up again); load after recovery.
 *   fail_open run: load; Redis SIGSTOPped (each worker falls back to
 *   budget / processes = 7) and continued; load after recovery.
 * Every acquire succeeds or times out naming the resource (the workers
 * exit 1 otherwise).
 *
 * Run as: with-redis.sh with-postgres.sh test_fleet_processes FLEET_WORKER
 */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleet_procs.h"

#define WORKERS  4
#define BUDGET   30
#define TTL_MS   2000
#define START_MS 60000 /* a worker's start, at most */

static const char *worker_path;
static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static void start(fp_worker *w, const char *res, int i, const char *mode)
{
    char proc[16];
    snprintf(proc, sizeof(proc), "w%d", i);
    if (fp_worker_start(w, worker_path, res, proc, mode, START_MS) != 0) {
        fprintf(stderr, "worker %d did not start\n", i);
        exit(1);
    }
}

/* ---- the runs ---- */

static void run(const char *mode)
{
    char res[32];
    snprintf(res, sizeof(res), "orders-%s", mode);
    int open = strcmp(mode, "open") == 0;
    fp_worker w[WORKERS];
    redisContext *rc = fp_redis(0);
    for (int i = 0; i < WORKERS; i++)
        start(&w[i], res, i, mode);
    fp_phase_end();
    long max_leases = 0;
    for (int t = 0; t < 30; t++) { /* 3 s of load */
        long l = fp_leases_of(rc, res, "");
        max_leases = l > max_leases ? l : max_leases;
        fp_sleep_ms(100);
    }
    int m = fp_phase_end();
    printf("%s: load: at most %d connections, %ld leases\n", mode, m, max_leases);
    CHECK(m <= BUDGET, "%s: load: %d connections seen, budget %d", mode, m, BUDGET);
    CHECK(max_leases <= BUDGET, "%s: load: %ld leases", mode, max_leases);
    CHECK(m >= BUDGET / 2, "%s: load: only %d connections: the load did not reach the budget", mode,
          m);

    int first = 0;
    if (!open) {
        /* kill -9: its places go to the others within the TTL */
        long dead = fp_leases_of(rc, res, "w0");
        fp_worker_kill(&w[0]);
        first = 1;
        int gone_ms = -1;
        for (int t = 0; t <= TTL_MS + 1500; t += 50) {
            if (fp_leases_of(rc, res, "w0") == 0 && fp_leases_of(rc, res, "w1") +
                                                            fp_leases_of(rc, res, "w2") +
                                                            fp_leases_of(rc, res, "w3") ==
                                                        BUDGET) {
                gone_ms = t;
                break;
            }
            fp_sleep_ms(50);
        }
        printf("closed: kill -9 of w0 (%ld leases): the others hold all %d after %d ms\n", dead,
               BUDGET, gone_ms);
        CHECK(dead > 0, "w0 held no lease before the kill");
        CHECK(gone_ms >= 0, "w0's leases were not taken over within TTL + 1.5 s");
        m = fp_phase_end();
        CHECK(m <= BUDGET, "closed: after the kill: %d connections seen", m);
    }

    /* Redis stopped past the TTL, then continued */
    fp_redis_ctl("pause");
    fp_sleep_ms(TTL_MS + 1000);
    m = fp_phase_end();
    printf("%s: Redis stopped: at most %d connections\n", mode, m);
    if (!open)
        CHECK(m <= BUDGET, "closed: Redis stopped: %d connections seen", m);
    fp_redis_ctl("resume");
    fp_sleep_ms(1500); /* re-established, the grace over, excess shed */
    fp_phase_end();
    max_leases = 0;
    for (int t = 0; t < 20; t++) {
        long l = fp_leases_of(rc, res, "");
        max_leases = l > max_leases ? l : max_leases;
        fp_sleep_ms(100);
    }
    m = fp_phase_end();
    printf("%s: after Redis came back: at most %d connections, %ld leases\n", mode, m, max_leases);
    CHECK(m <= BUDGET, "%s: after recovery: %d connections seen", mode, m);
    CHECK(max_leases <= BUDGET, "%s: after recovery: %ld leases", mode, max_leases);

    for (int i = first; i < WORKERS; i++) {
        int code = fp_worker_finish(&w[i]);
        printf("%s: w%d: exit %d: %s\n", mode, i, code, w[i].line);
        CHECK(code == 0, "%s: w%d exited %d", mode, i, code);
        CHECK(fp_field(w[i].line, "ok") > 0, "%s: w%d did no work", mode, i);
        CHECK(fp_field(w[i].line, "down") >= 1 && fp_field(w[i].line, "up") >= 1,
              "%s: w%d did not report Redis down and up", mode, i);
        long want = open ? BUDGET / (WORKERS - first) : 0;
        CHECK(fp_field(w[i].line, "fallback") >= 1 && fp_field(w[i].line, "fallback_limit") == want,
              "%s: w%d: fallback limit %ld, want %ld", mode, i,
              fp_field(w[i].line, "fallback_limit"), want);
    }
    CHECK(fp_leases_of(rc, res, "") == 0, "%s: leases left after every worker ended", mode);
    redisFree(rc);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_fleet_processes FLEET_WORKER\n");
        return 2;
    }
    worker_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    fp_sampler_start();
    run("closed");
    run("open");
    fp_sampler_stop();
    printf("%ld samples of pg_stat_activity\n", fp_samples());
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
