/*
 * fleet_procs.c - see fleet_procs.h.
 */
#define _GNU_SOURCE
#include "fleet_procs.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *fp_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run through with-redis.sh and with-postgres.sh\n", name);
        exit(1);
    }
    return v;
}

void fp_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int64_t fp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the sampler ---- */

static atomic_int sampler_stop;
static atomic_int phase_max; /* the most seen since the last reset; default (seq_cst) order,
                                though any would do: one writer, one reader */
static atomic_long samples;
static pthread_t sampler_thread;

static void *sampler(void *arg)
{
    (void)arg;
    char conninfo[512];
    snprintf(conninfo, sizeof(conninfo), "host=%s port=%s user=postgres dbname=postgres",
             fp_env("NR_TEST_PG_SOCKDIR"), fp_env("NR_TEST_PG_PORT"));
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
        fp_sleep_ms(10);
    }
    PQfinish(pg);
    return NULL;
}

void fp_sampler_start(void)
{
    if (pthread_create(&sampler_thread, NULL, sampler, NULL) != 0) {
        fprintf(stderr, "cannot start the sampler\n");
        exit(1);
    }
}

void fp_sampler_stop(void)
{
    atomic_store(&sampler_stop, 1);
    pthread_join(sampler_thread, NULL);
}

int fp_phase_end(void)
{
    return atomic_exchange(&phase_max, 0);
}

long fp_samples(void)
{
    return atomic_load(&samples);
}

/* ---- workers ---- */

/* The next line of w's stdout into w->line, waiting until deadline (ms,
 * fp_now_ms; -1 = forever). 0, or -1 at EOF or when the time is up. */
static int read_line(fp_worker *w, int64_t deadline)
{
    for (;;) {
        char *nl = memchr(w->buf, '\n', w->len);
        if (nl) {
            size_t n = (size_t)(nl - w->buf);
            size_t keep = n < sizeof(w->line) - 1 ? n : sizeof(w->line) - 1;
            memcpy(w->line, w->buf, keep);
            w->line[keep] = '\0';
            memmove(w->buf, nl + 1, w->len - n - 1);
            w->len -= n + 1;
            return 0;
        }
        if (w->len == sizeof(w->buf)) /* a line longer than the buffer: drop it */
            w->len = 0;
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - fp_now_ms();
            if (left <= 0)
                return -1;
            wait = (int)left;
        }
        struct pollfd p = {.fd = w->out, .events = POLLIN};
        int rc = poll(&p, 1, wait);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t got = read(w->out, w->buf + w->len, sizeof(w->buf) - w->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        w->len += (size_t)got;
    }
}

int fp_worker_start(fp_worker *w, const char *path, const char *res, const char *proc,
                    const char *mode, int timeout_ms)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->proc, sizeof(w->proc), "%s", proc);
    int fd[2];
    if (pipe(fd) != 0)
        exit(1);
    w->pid = fork();
    if (w->pid < 0)
        exit(1);
    if (w->pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl(path, path, res, proc, mode, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    w->out = fd[0];
    if (read_line(w, fp_now_ms() + timeout_ms) == 0 && strcmp(w->line, "ready") == 0)
        return 0;
    fp_worker_kill(w);
    return -1;
}

void fp_worker_kill(fp_worker *w)
{
    if (!w->pid)
        return;
    kill(w->pid, SIGKILL);
    waitpid(w->pid, NULL, 0);
    close(w->out);
    w->pid = 0;
}

int fp_worker_progress(fp_worker *w, int timeout_ms)
{
    int64_t deadline = fp_now_ms() + timeout_ms;
    kill(w->pid, SIGUSR1);
    while (read_line(w, deadline) == 0)
        if (strncmp(w->line, "progress ", 9) == 0)
            return 0;
    return -1;
}

int fp_worker_finish(fp_worker *w)
{
    kill(w->pid, SIGTERM);
    int st = 0;
    waitpid(w->pid, &st, 0);
    char last[sizeof(w->line)] = "";
    while (read_line(w, -1) == 0)
        if (strncmp(w->line, "ok=", 3) == 0)
            memcpy(last, w->line, sizeof(last));
    memcpy(w->line, last, sizeof(last));
    close(w->out);
    w->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

long fp_field(const char *line, const char *name)
{
    char key[40];
    snprintf(key, sizeof(key), " %s=", name);
    if (strncmp(line, key + 1, strlen(key + 1)) == 0)
        return atol(line + strlen(key + 1));
    const char *at = strstr(line, key);
    return at ? atol(at + strlen(key)) : -1;
}

/* ---- Redis ---- */

redisContext *fp_redis(int timeout_ms)
{
    int t = timeout_ms > 0 ? timeout_ms : 5000;
    struct timeval tv = {t / 1000, (t % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(fp_env("NR_TEST_REDIS_HOST"),
                                              atoi(fp_env("NR_TEST_REDIS_PORT")), tv);
    redisReply *r = NULL;
    if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK)
        r = redisCommand(c, "AUTH %s", fp_env("NR_TEST_REDIS_PASSWORD"));
    int ok = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (ok)
        return c;
    redisFree(c);
    if (timeout_ms == 0) {
        fprintf(stderr, "cannot reach the test Redis\n");
        exit(1);
    }
    return NULL;
}

long fp_leases_of(redisContext *c, const char *res, const char *proc)
{
    redisReply *t = redisCommand(c, "TIME");
    if (!t || t->type != REDIS_REPLY_ARRAY || t->elements != 2) {
        freeReplyObject(t);
        return -1;
    }
    long long now = atoll(t->element[0]->str) * 1000 + atoll(t->element[1]->str) / 1000;
    freeReplyObject(t);
    redisReply *r = redisCommand(c, "ZRANGEBYSCORE nebula:%s:leases (%lld +inf", res, now);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    long n = 0;
    size_t len = strlen(proc);
    for (size_t i = 0; i < r->elements; i++)
        if (!len || (strncmp(r->element[i]->str, proc, len) == 0 && r->element[i]->str[len] == '/'))
            n++;
    freeReplyObject(r);
    return n;
}

void fp_redis_ctl(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s", fp_env("NR_TEST_REDIS_CTL"), what);
    if (system(cmd) != 0) {
        fprintf(stderr, "%s failed\n", cmd);
        exit(1);
    }
}
