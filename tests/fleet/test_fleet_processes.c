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
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define BUDGET  30
#define TTL_MS  2000

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

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "%s is not set: run through with-redis.sh and with-postgres.sh\n", name);
        exit(1);
    }
    return v;
}

static void ms_sleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- the sampler ---- */

static atomic_int sampler_stop;
static atomic_int phase_max; /* the most connections seen since the last reset */
static atomic_long samples;

static void *sampler(void *arg)
{
    (void)arg;
    char conninfo[512];
    snprintf(conninfo, sizeof(conninfo), "host=%s port=%s user=postgres dbname=postgres",
             env("NR_TEST_PG_SOCKDIR"), env("NR_TEST_PG_PORT"));
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "sampler: %s\n", PQerrorMessage(pg));
        exit(1);
    }
    while (!atomic_load(&sampler_stop)) {
        PGresult *r = PQexec(pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name "
                                 "= 'nr-fleet-test'");
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            int n = atoi(PQgetvalue(r, 0, 0));
            int cur = atomic_load(&phase_max);
            while (n > cur && !atomic_compare_exchange_weak(&phase_max, &cur, n))
                ;
            atomic_fetch_add(&samples, 1);
        }
        PQclear(r);
        ms_sleep(10);
    }
    PQfinish(pg);
    return NULL;
}

/* The most seen since the last call (and a new phase begins). */
static int phase_end(void)
{
    return atomic_exchange(&phase_max, 0);
}

/* ---- workers ---- */

typedef struct worker {
    pid_t pid;
    int out; /* its stdout */
    char line[256];
} worker;

static void start(worker *w, const char *res, int i, const char *mode)
{
    int fd[2];
    if (pipe(fd) != 0)
        exit(1);
    char proc[16];
    snprintf(proc, sizeof(proc), "w%d", i);
    w->pid = fork();
    if (w->pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl(worker_path, worker_path, res, proc, mode, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    w->out = fd[0];
    char buf[16] = {0};
    ssize_t n = read(w->out, buf, 6); /* "ready\n" */
    if (n != 6 || strncmp(buf, "ready\n", 6) != 0) {
        fprintf(stderr, "worker %d did not start\n", i);
        exit(1);
    }
}

/* SIGTERM, wait, read its summary; returns its exit code. */
static int finish(worker *w)
{
    kill(w->pid, SIGTERM);
    int st = 0;
    waitpid(w->pid, &st, 0);
    ssize_t n = read(w->out, w->line, sizeof(w->line) - 1);
    w->line[n > 0 ? n : 0] = '\0';
    close(w->out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long field(const worker *w, const char *name)
{
    char key[32];
    snprintf(key, sizeof(key), "%s=", name);
    const char *at = strstr(w->line, key);
    return at ? atol(at + strlen(key)) : -1;
}

/* ---- Redis ---- */

static redisContext *redis(void)
{
    redisContext *c = redisConnect(env("NR_TEST_REDIS_HOST"), atoi(env("NR_TEST_REDIS_PORT")));
    if (!c || c->err)
        exit(1);
    redisReply *r = redisCommand(c, "AUTH %s", env("NR_TEST_REDIS_PASSWORD"));
    freeReplyObject(r);
    return c;
}

/* Leases of process proc ("" = all) in resource res, with expired ones
 * left out (by Redis TIME). */
static long leases_of(redisContext *c, const char *res, const char *proc)
{
    redisReply *t = redisCommand(c, "TIME");
    long long now = atoll(t->element[0]->str) * 1000 + atoll(t->element[1]->str) / 1000;
    freeReplyObject(t);
    redisReply *r = redisCommand(c, "ZRANGEBYSCORE nebula:%s:leases (%lld +inf", res, now);
    long n = 0;
    size_t len = strlen(proc);
    for (size_t i = 0; r && i < r->elements; i++)
        if (!len || (strncmp(r->element[i]->str, proc, len) == 0 && r->element[i]->str[len] == '/'))
            n++;
    freeReplyObject(r);
    return n;
}

static void redis_ctl(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s", env("NR_TEST_REDIS_CTL"), what);
    if (system(cmd) != 0) {
        fprintf(stderr, "%s failed\n", cmd);
        exit(1);
    }
}

/* ---- the runs ---- */

static void run(const char *mode)
{
    char res[32];
    snprintf(res, sizeof(res), "orders-%s", mode);
    int open = strcmp(mode, "open") == 0;
    worker w[WORKERS];
    redisContext *rc = redis();
    for (int i = 0; i < WORKERS; i++)
        start(&w[i], res, i, mode);
    phase_end();
    long max_leases = 0;
    for (int t = 0; t < 30; t++) { /* 3 s of load */
        long l = leases_of(rc, res, "");
        max_leases = l > max_leases ? l : max_leases;
        ms_sleep(100);
    }
    int m = phase_end();
    printf("%s: load: at most %d connections, %ld leases\n", mode, m, max_leases);
    CHECK(m <= BUDGET, "%s: load: %d connections seen, budget %d", mode, m, BUDGET);
    CHECK(max_leases <= BUDGET, "%s: load: %ld leases", mode, max_leases);
    CHECK(m >= BUDGET / 2, "%s: load: only %d connections: the load did not reach the budget", mode,
          m);

    int first = 0;
    if (!open) {
        /* kill -9: its places go to the others within the TTL */
        long dead = leases_of(rc, res, "w0");
        kill(w[0].pid, SIGKILL);
        waitpid(w[0].pid, NULL, 0);
        close(w[0].out);
        first = 1;
        int gone_ms = -1;
        for (int t = 0; t <= TTL_MS + 1500; t += 50) {
            if (leases_of(rc, res, "w0") == 0 &&
                leases_of(rc, res, "w1") + leases_of(rc, res, "w2") + leases_of(rc, res, "w3") ==
                    BUDGET) {
                gone_ms = t;
                break;
            }
            ms_sleep(50);
        }
        printf("closed: kill -9 of w0 (%ld leases): the others hold all %d after %d ms\n", dead,
               BUDGET, gone_ms);
        CHECK(dead > 0, "w0 held no lease before the kill");
        CHECK(gone_ms >= 0, "w0's leases were not taken over within TTL + 1.5 s");
        m = phase_end();
        CHECK(m <= BUDGET, "closed: after the kill: %d connections seen", m);
    }

    /* Redis stopped past the TTL, then continued */
    redis_ctl("pause");
    ms_sleep(TTL_MS + 1000);
    m = phase_end();
    printf("%s: Redis stopped: at most %d connections\n", mode, m);
    if (!open)
        CHECK(m <= BUDGET, "closed: Redis stopped: %d connections seen", m);
    redis_ctl("resume");
    ms_sleep(1500); /* re-established, the grace over, excess shed */
    phase_end();
    max_leases = 0;
    for (int t = 0; t < 20; t++) {
        long l = leases_of(rc, res, "");
        max_leases = l > max_leases ? l : max_leases;
        ms_sleep(100);
    }
    m = phase_end();
    printf("%s: after Redis came back: at most %d connections, %ld leases\n", mode, m, max_leases);
    CHECK(m <= BUDGET, "%s: after recovery: %d connections seen", mode, m);
    CHECK(max_leases <= BUDGET, "%s: after recovery: %ld leases", mode, max_leases);

    for (int i = first; i < WORKERS; i++) {
        int code = finish(&w[i]);
        printf("%s: w%d: exit %d: %s", mode, i, code, w[i].line);
        CHECK(code == 0, "%s: w%d exited %d", mode, i, code);
        CHECK(field(&w[i], "ok") > 0, "%s: w%d did no work", mode, i);
        CHECK(field(&w[i], "down") >= 1 && field(&w[i], "up") >= 1,
              "%s: w%d did not report Redis down and up", mode, i);
        long want = open ? BUDGET / (WORKERS - first) : 0;
        CHECK(field(&w[i], "fallback") >= 1 && field(&w[i], "fallback_limit") == want,
              "%s: w%d: fallback limit %ld, want %ld", mode, i, field(&w[i], "fallback_limit"),
              want);
    }
    CHECK(leases_of(rc, res, "") == 0, "%s: leases left after every worker ended", mode);
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
    pthread_t s;
    pthread_create(&s, NULL, sampler, NULL);
    run("closed");
    run("open");
    atomic_store(&sampler_stop, 1);
    pthread_join(s, NULL);
    printf("%ld samples of pg_stat_activity\n", atomic_load(&samples));
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
