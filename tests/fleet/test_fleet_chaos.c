/*
 * test_fleet_chaos.c - four fleet_worker processes (ten threads each
 * acquiring, querying and giving back a real PostgreSQL connection, pools
 * of max_size 20) share a fleet budget of 30 in fail_closed mode while, for
 * SECONDS, rounds of chaos follow each other at random (the seed is
 * printed; NR_CHAOS_SEED repeats a run):
 *   - kill -9 of one or two workers, restarted (under a new process id)
 *     after 0-800 ms;
 *   - the redis-server killed (kill -9: its keys are gone, nothing is
 *     saved) for 0.1-2.5 s, then started again on the same port;
 *   - the redis-server SIGSTOPped for 0.1-3 s (past the lease TTL of 2 s
 *     about a third of the time), then SIGCONTed;
 * and in half of the Redis rounds a worker killed during the outage too.
 * The dead are started again at once, right after Redis is back too, while
 * the others may not have re-established their leases yet.
 *
 * Checked throughout (docs/fleet.md, "Guarantees", "When Redis is
 * unreachable": fail_closed never exceeds the budget because of an outage
 * everyone sees; fail_open may, so it is not run here):
 *   - a sampler of pg_stat_activity (every 10 ms) never sees more than 30
 *     of the workers' connections, in any round;
 *   - a sampler of Redis (every 20 ms, on a connection of its own) never
 *     sees more than 30 live leases;
 *   - after every round, every worker (a restarted one too) has Redis up,
 *     no fallback, completes new acquires, and no acquire or query of any
 *     worker has taken or is taking longer than the acquire timeout (1.5 s)
 *     plus a margin: no hang; every acquire succeeds or times out naming the
 *     resource (a worker counts anything else as bad and exits 1);
 *   - within 3 TTLs of a round's end every worker, a restarted one too (it
 *     started into a full fleet whose places the others keep busy), holds
 *     at least its min_per_process (2) leases and gets acquires through.
 * After the chaos, with Redis up and left alone: the fleet uses its budget
 * again (30 live leases in Redis, all of them the live workers', each
 * worker's count in Redis equal to the one it believes it holds: nothing
 * counted twice, nothing of a dead worker left) and its connections get
 * near the budget without passing it; every worker ends cleanly, and no
 * lease is left in Redis.
 *
 * Run as: with-redis.sh with-postgres.sh test_fleet_chaos FLEET_WORKER SECONDS SLOW
 * (SLOW: a factor on every wait for progress, for the sanitizer builds).
 */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleet_procs.h"

#define WORKERS         4
#define BUDGET          30
#define RES             "orders-chaos"
#define ACQUIRE_MS      1500         /* fleet_worker's acquire_timeout_ms */
#define MIN_PER_PROCESS 2            /* fleet_worker's min_per_process */
#define TTL_MS          2000         /* fleet_worker's lease_ttl_ms */
#define MIN_WITHIN_MS   (3 * TTL_MS) /* a worker has its minimum this long after a round at most */

static const char *worker_path;
static int slow = 1;
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

/* ---- a seeded PRNG (xorshift64*) ---- */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)((rng_state * 2685821657736338717ULL) >> 33) % n;
}

/* ---- the sampler of Redis: the live leases, every 20 ms ---- */

static atomic_int leases_stop;
static atomic_long lease_phase_max; /* the most live leases since the last reset */
static atomic_long lease_samples;
static pthread_t leases_thread;

static void *lease_sampler(void *arg)
{
    (void)arg;
    redisContext *c = NULL;
    while (!atomic_load(&leases_stop)) {
        if (!c)
            c = fp_redis(200);
        long n = c ? fp_leases_of(c, RES, "") : -1;
        if (n < 0 && c) { /* Redis went away mid-command: a new connection next time */
            redisFree(c);
            c = NULL;
        }
        if (n >= 0) {
            long cur = atomic_load(&lease_phase_max);
            while (n > cur && !atomic_compare_exchange_weak(&lease_phase_max, &cur, n))
                ;
            atomic_fetch_add(&lease_samples, 1);
        }
        fp_sleep_ms(n < 0 ? 50 : 20);
    }
    redisFree(c);
    return NULL;
}

static long lease_phase_end(void)
{
    return atomic_exchange(&lease_phase_max, 0);
}

/* ---- the workers ---- */

static fp_worker w[WORKERS];
static int generation[WORKERS];
static int kills, restarts;

static int start_worker(int i)
{
    char proc[32];
    snprintf(proc, sizeof(proc), "w%d.%d", i, generation[i]++);
    for (int attempt = 0; attempt < 3; attempt++) {
        if (fp_worker_start(&w[i], worker_path, RES, proc, "closed", 30000 * slow) == 0)
            return 0;
        fprintf(stderr, "worker %s did not start (attempt %d)\n", proc, attempt + 1);
        fp_sleep_ms(500);
    }
    CHECK(0, "worker %s could not be started", proc);
    return -1;
}

static void kill_worker(int i)
{
    if (!w[i].pid)
        return;
    fp_worker_kill(&w[i]);
    kills++;
}

static void restart_dead(void)
{
    for (int i = 0; i < WORKERS; i++)
        if (!w[i].pid && start_worker(i) == 0)
            restarts++;
}

/* Calls done: acquires that succeeded or timed out naming the resource. */
static long calls(const fp_worker *x)
{
    return fp_field(x->line, "ok") + fp_field(x->line, "timeouts");
}

/*
 * After a round: every live worker has Redis up and no fallback, completed
 * calls since the round ended (succeeded, or timed out naming the resource:
 * nothing hangs), and no call of its own took or is taking much longer than
 * the acquire timeout; polled until then (at most 10 s, times slow). And
 * every worker, a restarted one too (it started into a fleet whose places
 * the others hold busy, a dead one's leases still among them), holds at
 * least its min_per_process leases and gets an acquire through within
 * MIN_WITHIN_MS of the round's end (docs/fleet.md, "The cap").
 */
static void check_recovered(int round)
{
    long base[WORKERS], base_ok[WORKERS];
    int64_t t0 = fp_now_ms();
    for (int i = 0; i < WORKERS; i++) {
        base[i] = base_ok[i] = -1;
        if (w[i].pid && fp_worker_progress(&w[i], 5000 * slow) == 0) {
            base[i] = calls(&w[i]);
            base_ok[i] = fp_field(w[i].line, "ok");
        }
        CHECK(!w[i].pid || base[i] >= 0, "round %d: %s did not answer", round, w[i].proc);
    }
    int64_t deadline = t0 + 10000 * slow, served_by = t0 + MIN_WITHIN_MS * slow;
    for (int i = 0; i < WORKERS; i++) {
        if (!w[i].pid || base[i] < 0)
            continue;
        int up = 0, served = 0;
        while (!(up && served) && fp_now_ms() < (up ? served_by : deadline)) {
            fp_sleep_ms(100);
            if (fp_worker_progress(&w[i], 5000 * slow) != 0)
                break;
            up = up || (fp_field(w[i].line, "redis_up") == 1 &&
                        fp_field(w[i].line, "fallback") == 0 && calls(&w[i]) > base[i]);
            served = served || (fp_field(w[i].line, "leases") >= MIN_PER_PROCESS &&
                                fp_field(w[i].line, "ok") > base_ok[i]);
        }
        CHECK(up, "round %d: %s completed no call with Redis up after the round: %s", round,
              w[i].proc, w[i].line);
        CHECK(served,
              "round %d: %s: not its minimum of %d leases and an acquire through within %d ms: "
              "%s",
              round, w[i].proc, MIN_PER_PROCESS, MIN_WITHIN_MS * slow, w[i].line);
        long longest = fp_field(w[i].line, "longest_ms");
        CHECK(longest >= 0 && longest <= ACQUIRE_MS + 2500 * slow,
              "round %d: %s: an acquire and its query took %ld ms (acquire timeout %d ms)", round,
              w[i].proc, longest, ACQUIRE_MS);
        CHECK(fp_field(w[i].line, "bad") == 0, "round %d: %s: an acquire failed unclearly: %s",
              round, w[i].proc, w[i].line);
    }
}

/* ---- the rounds ---- */

static const char *round_kill(void)
{
    int k = 1 + (int)rnd(2);
    for (int j = 0; j < k; j++)
        kill_worker((int)rnd(WORKERS));
    fp_sleep_ms((int)rnd(800));
    restart_dead();
    return "kill -9 of workers";
}

/* Redis away (killed and started again, or stopped and continued), with a
 * worker killed meanwhile half of the time; the dead started again at once,
 * while the others may not have re-established their leases yet (the grace,
 * docs/fleet.md, keeps it from growing into their places). */
static const char *round_redis(int restart)
{
    int away = restart ? 100 + (int)rnd(2400) : 100 + (int)rnd(2900);
    int victim = rnd(2) ? (int)rnd(WORKERS) : -1;
    fp_redis_ctl(restart ? "stop" : "pause");
    if (victim >= 0) {
        int at = (int)rnd((unsigned)away);
        fp_sleep_ms(at);
        kill_worker(victim);
        fp_sleep_ms(away - at);
    } else {
        fp_sleep_ms(away);
    }
    fp_redis_ctl(restart ? "start" : "resume");
    restart_dead();
    if (restart)
        return victim >= 0 ? "Redis killed and started again, a worker killed meanwhile"
                           : "Redis killed and started again";
    return victim >= 0 ? "Redis stopped and continued, a worker killed meanwhile"
                       : "Redis stopped and continued";
}

/* ---- after the chaos ---- */

/*
 * With Redis left alone: 30 live leases, all the live workers', and each
 * worker's count in Redis the one it believes it holds. Polled (at most
 * 15 s, times slow: a dead worker's leases expire within the TTL).
 */
static void check_settled(void)
{
    int64_t deadline = fp_now_ms() + 15000 * slow;
    char why[512] = "";
    int ok = 0;
    redisContext *rc = fp_redis(0);
    while (!ok && fp_now_ms() < deadline) {
        fp_sleep_ms(200);
        long total = fp_leases_of(rc, RES, ""), sum_redis = 0, sum_own = 0;
        int consistent = total >= 0;
        for (int i = 0; i < WORKERS && consistent; i++) {
            long in_redis = fp_leases_of(rc, RES, w[i].proc);
            if (fp_worker_progress(&w[i], 5000 * slow) != 0) {
                snprintf(why, sizeof(why), "%s did not answer", w[i].proc);
                consistent = 0;
                break;
            }
            long own = fp_field(w[i].line, "leases");
            if (in_redis != own) {
                snprintf(why, sizeof(why), "%s: %ld leases in Redis, it believes %ld (%s)",
                         w[i].proc, in_redis, own, w[i].line);
                consistent = 0;
            }
            sum_redis += in_redis;
            sum_own += own;
        }
        if (consistent && (total != BUDGET || sum_redis != total)) {
            snprintf(why, sizeof(why),
                     "%ld live leases in Redis, %ld of them the live workers' (who believe %ld), "
                     "budget %d",
                     total, sum_redis, sum_own, BUDGET);
            consistent = 0;
        }
        ok = consistent;
    }
    redisFree(rc);
    CHECK(ok, "after the chaos: the fleet did not settle on its budget: %s", why);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_fleet_chaos FLEET_WORKER SECONDS SLOW\n");
        return 2;
    }
    worker_path = argv[1];
    int seconds = atoi(argv[2]);
    slow = atoi(argv[3]) > 0 ? atoi(argv[3]) : 1;
    const char *s = getenv("NR_CHAOS_SEED");
    uint64_t seed =
        s && *s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    rng_state = seed ? seed : 1;
    printf("seed %llu (NR_CHAOS_SEED=%llu repeats it), %d s of chaos\n", (unsigned long long)seed,
           (unsigned long long)seed, seconds);
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    fp_sampler_start();
    pthread_create(&leases_thread, NULL, lease_sampler, NULL);

    for (int i = 0; i < WORKERS; i++)
        if (start_worker(i) != 0)
            return 1;
    fp_sleep_ms(2000);
    check_recovered(0);
    int m = fp_phase_end();
    long l = lease_phase_end();
    printf("load: at most %d connections, %ld leases\n", m, l);
    CHECK(m <= BUDGET && l <= BUDGET, "load: %d connections, %ld leases: budget %d", m, l, BUDGET);

    int64_t end = fp_now_ms() + (int64_t)seconds * 1000;
    int round = 0, max_conns = 0;
    long max_leases = 0;
    while (fp_now_ms() < end) {
        round++;
        int64_t t0 = fp_now_ms();
        unsigned what = rnd(3);
        const char *did = what == 0 ? round_kill() : round_redis(what == 1);
        check_recovered(round);
        m = fp_phase_end();
        l = lease_phase_end();
        max_conns = m > max_conns ? m : max_conns;
        max_leases = l > max_leases ? l : max_leases;
        printf("round %d (%lld ms): %s: at most %d connections, %ld leases\n", round,
               (long long)(fp_now_ms() - t0), did, m, l);
        fflush(stdout);
        CHECK(m <= BUDGET, "round %d (%s): %d connections seen, budget %d", round, did, m, BUDGET);
        CHECK(l <= BUDGET, "round %d (%s): %ld live leases seen, budget %d", round, did, l, BUDGET);
    }
    printf("%d rounds: %d kill -9, %d restarts of workers; at most %d connections, %ld leases\n",
           round, kills, restarts, max_conns, max_leases);
    CHECK(round >= 3, "only %d rounds of chaos", round);

    /* Redis left alone: the budget used again, nothing counted twice */
    check_settled();
    fp_phase_end();
    lease_phase_end();
    fp_sleep_ms(3000);
    m = fp_phase_end();
    l = lease_phase_end();
    printf("settled: at most %d connections, %ld leases\n", m, l);
    CHECK(m <= BUDGET && l <= BUDGET, "settled: %d connections, %ld leases: budget %d", m, l,
          BUDGET);
    CHECK(m >= BUDGET * 2 / 3, "settled: only %d connections: the budget is not used again", m);

    for (int i = 0; i < WORKERS; i++) {
        char proc[32];
        snprintf(proc, sizeof(proc), "%s", w[i].proc);
        int code = fp_worker_finish(&w[i]);
        printf("%s: exit %d: %s\n", proc, code, w[i].line);
        CHECK(code == 0, "%s exited %d", proc, code);
        CHECK(fp_field(w[i].line, "ok") > 0, "%s did no work", proc);
        CHECK(fp_field(w[i].line, "bad") == 0, "%s: acquires that failed unclearly", proc);
    }
    redisContext *rc = fp_redis(0);
    CHECK(fp_leases_of(rc, RES, "") == 0, "leases left after every worker ended");
    redisFree(rc);
    atomic_store(&leases_stop, 1);
    pthread_join(leases_thread, NULL);
    fp_sampler_stop();
    printf("%ld samples of pg_stat_activity, %ld of the leases in Redis\n", fp_samples(),
           atomic_load(&lease_samples));
    if (failures)
        fprintf(stderr, "%d check(s) failed (seed %llu)\n", failures, (unsigned long long)seed);
    return failures ? 1 : 0;
}
