/*
 * test_fleet.c - the fleet budget's agent against a real Redis (run through
 * drivers/redis/tests/with-redis.sh). Several nr_fleet objects with
 * different process ids stand for processes; dead processes are members
 * written into Redis by the test.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet_testenv.h"
#include "nebula/alloc.h"

static ft_executor *ex;
static redisContext *rc_;

static int setup(void **state)
{
    (void)state;
    ex = ft_executor_start();
    rc_ = ft_redis();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ft_executor_stop(ex);
    redisFree(rc_);
    return 0;
}

/* A fleet budget: nr_fleet_create waits its first grace (fleet_agent.c),
 * then its minimum is granted when there is room. */
static nr_fleet *make_fleet(nr_fleet_options o)
{
    nr_fleet *f = NULL;
    nr_error err = {0};
    int rc = nr_fleet_create(&f, &o, &err);
    if (rc != NR_OK)
        fail_msg("nr_fleet_create: %s", err.message);
    return f;
}

static nr_pool *pool_in(nr_fleet *f, const char *id, int64_t max, int64_t timeout_ms)
{
    nr_pool *p = ft_pool(id, max, timeout_ms, ex);
    nr_error err = {0};
    assert_int_equal(nr_budget_add_pool(nr_fleet_budget(f), p, &err), NR_OK);
    return p;
}

/* Acquire into g[0..n), each waiting up to ms, until one fails; returns
 * how many succeeded. */
static int take_ms(nr_pool *p, nr_guard *g, int n, int64_t ms, nr_error *last)
{
    int k = 0;
    while (k < n) {
        nr_error_clear(last);
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(ms));
        if (nr_pool_acquire(p, &ctx, &g[k], last) != NR_OK)
            break;
        k++;
    }
    return k;
}

#define take_all(p, g, n, last) take_ms((p), (g), (n), 300, (last))

static void give_back(nr_guard *g, int n)
{
    for (int i = 0; i < n; i++)
        nr_guard_release(&g[i]);
}

static void end(nr_pool *p, nr_fleet *f)
{
    assert_int_equal(nr_pool_destroy(p, NULL), NR_OK);
    assert_int_equal(nr_fleet_destroy(f, NULL), NR_OK);
}

static long long leases(const char *res)
{
    return ft_int(rc_, "ZCARD nebula:%s:leases", res);
}

/* Two processes under one budget of 5: together they get 5 places, never
 * more; the one refused times out naming the pool; once the other gives its
 * places back (after release_after_ms), it gets them. */
static void test_grants_up_to_budget(void **state)
{
    (void)state;
    const char *res = "grants";
    nr_fleet_options oa = ft_options(res, "a"), ob = ft_options(res, "b");
    oa.budget = ob.budget = 5;
    nr_fleet *a = make_fleet(oa), *b = make_fleet(ob);
    nr_pool *pa = pool_in(a, "pa", 10, 1500), *pb = pool_in(b, "pb", 10, 300);
    nr_guard ga[10], gb[10];
    nr_error err;
    int na = take_all(pa, ga, 10, &err);
    assert_int_equal(na, 5);
    assert_int_equal(err.code, NR_ETIMEDOUT);
    assert_true(strstr(err.message, "pool 'pa'") != NULL);
    assert_int_equal(leases(res), 5);
    int nb = take_all(pb, gb, 10, &err);
    assert_int_equal(nb, 0);
    assert_int_equal(err.code, NR_ETIMEDOUT);
    assert_int_equal(leases(res), 5);
    nr_fleet_stats st = NR_FLEET_STATS_INIT;
    assert_int_equal(nr_fleet_get_stats(a, &st), NR_OK);
    assert_int_equal(st.leases, 5);
    assert_int_equal(st.local_limit, 5);
    assert_int_equal(st.budget, 5);

    give_back(ga, na);
    assert_int_equal(nr_pool_evict_all(pa), 5); /* idle instances hold their places */
    nr_pool_destroy(pb, NULL);
    pb = pool_in(b, "pb2", 10, 3000);
    nb = take_ms(pb, gb, 5, 3000, &err); /* waits past a's release_after_ms */
    assert_int_equal(nb, 5);
    assert_true(leases(res) <= 5);
    give_back(gb, nb);
    end(pa, a);
    end(pb, b);
    assert_int_equal(leases(res), 0);
}

typedef struct churn {
    nr_pool *pool;
    atomic_int *stop;
    long ok;
} churn;

static void *churn_thread(void *arg)
{
    churn *c = arg;
    while (!atomic_load(c->stop)) {
        nr_guard g = NR_GUARD_INIT;
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(200));
        if (nr_pool_acquire(c->pool, &ctx, &g, NULL) == NR_OK) {
            usleep(2000);
            nr_guard_release(&g);
            c->ok++;
        }
    }
    return NULL;
}

/* Three processes, four threads each, churning over a budget of 7 while
 * leases come and go (release_after_ms 0 gives them back at once): the
 * instances alive in all of them and the leases in Redis are never above
 * 7 at any sample. */
static void test_concurrent_never_beyond(void **state)
{
    (void)state;
    const char *res = "churn";
    enum { P = 3, T = 4, BUDGET = 7 };
    nr_fleet *f[P];
    nr_pool *p[P];
    churn c[P][T];
    pthread_t th[P][T];
    atomic_int stop = 0;
    char id[8];
    for (int i = 0; i < P; i++) {
        snprintf(id, sizeof(id), "p%d", i);
        nr_fleet_options o = ft_options(res, id);
        o.budget = BUDGET;
        o.release_after_ms = -1;
        f[i] = make_fleet(o);
        p[i] = pool_in(f[i], id, 10, 200);
    }
    int base = atomic_load(&ft_alive);
    for (int i = 0; i < P; i++)
        for (int k = 0; k < T; k++) {
            c[i][k] = (churn){p[i], &stop, 0};
            pthread_create(&th[i][k], NULL, churn_thread, &c[i][k]);
        }
    int most = 0;
    long long most_leases = 0;
    for (int t = 0; t < 300; t++) { /* 3 s */
        int a = atomic_load(&ft_alive) - base;
        long long l = leases(res);
        most = a > most ? a : most;
        most_leases = l > most_leases ? l : most_leases;
        if (t % 50 == 0) /* idle instances go: their leases come and go too */
            for (int i = 0; i < P; i++)
                nr_pool_evict_all(p[i]);
        usleep(10000);
    }
    atomic_store(&stop, 1);
    long ok = 0;
    for (int i = 0; i < P; i++)
        for (int k = 0; k < T; k++) {
            pthread_join(th[i][k], NULL);
            ok += c[i][k].ok;
        }
    assert_true(most <= BUDGET);
    assert_true(most_leases <= BUDGET);
    assert_true(most >= 2); /* the load did reach the budget's machinery */
    assert_true(ok > 0);
    for (int i = 0; i < P; i++)
        end(p[i], f[i]);
    assert_int_equal(leases(res), 0);
}

/* A holder that died (its leases are in Redis, nobody renews them) keeps
 * its places until their TTL only. */
static void test_dead_holder_expires(void **state)
{
    (void)state;
    const char *res = "dead";
    long long now = ft_redis_ms(rc_);
    for (int s = 0; s < 3; s++)
        freeReplyObject(ft_cmd(rc_, "ZADD nebula:%s:leases %lld gone/%d", res, now + 1500, s));
    nr_fleet_options o = ft_options(res, "alive");
    o.budget = 3;
    nr_fleet *f = make_fleet(o);
    nr_pool *p = pool_in(f, "p", 5, 200);
    nr_guard g[3];
    nr_error err;
    assert_int_equal(take_all(p, g, 1, &err), 0); /* all three are the dead one's */
    assert_int_equal(err.code, NR_ETIMEDOUT);
    nr_pool_destroy(p, NULL);
    p = pool_in(f, "p2", 5, 5000);
    assert_int_equal(take_ms(p, g, 3, 5000, &err), 3);
    redisReply *r = ft_cmd(rc_, "ZSCORE nebula:%s:leases gone/0", res);
    assert_int_equal(r->type, REDIS_REPLY_NIL); /* removed by a script, expired */
    freeReplyObject(r);
    give_back(g, 3);
    end(p, f);
}

/* min_per_process: a live process (registered, holding nothing) keeps
 * its minimum reserved from the others' growth. */
static void test_min_per_process(void **state)
{
    (void)state;
    const char *res = "minimum";
    nr_fleet_options ob = ft_options(res, "b");
    ob.budget = 6;
    ob.min_per_process = 2;
    nr_fleet *b = make_fleet(ob); /* takes its 2 at once */
    long long now = ft_redis_ms(rc_);
    freeReplyObject(ft_cmd(rc_, "ZADD nebula:%s:procs %lld c", res, now + 60000));
    nr_fleet_options oa = ob;
    oa.process_id = "a";
    nr_fleet *a = make_fleet(oa);
    nr_pool *pa = pool_in(a, "pa", 10, 400);
    nr_guard g[10];
    nr_error err;
    /* 6 - b's 2 - c's reserved 2 */
    assert_int_equal(take_all(pa, g, 10, &err), 2);
    assert_int_equal(err.code, NR_ETIMEDOUT);
    nr_fleet_stats st = NR_FLEET_STATS_INIT;
    nr_fleet_get_stats(b, &st);
    assert_int_equal(st.leases, 2);
    assert_int_equal(leases(res), 4);
    give_back(g, 2);
    end(pa, a);
    assert_int_equal(nr_fleet_destroy(b, NULL), NR_OK);
}

/* The budget changed at runtime: raised, the queued pool gets the new
 * places; lowered below what is held, nothing in use is taken, and the
 * places go back as they free up. */
static void test_budget_changed(void **state)
{
    (void)state;
    const char *res = "runtime";
    nr_fleet_options o = ft_options(res, "a");
    o.budget = 4;
    nr_fleet *f = make_fleet(o);
    nr_pool *p = pool_in(f, "p", 10, 300);
    nr_guard g[10];
    nr_error err;
    int n = take_all(p, g, 10, &err);
    assert_int_equal(n, 4);
    assert_int_equal(nr_fleet_set_budget(f, 8, &err), NR_OK);
    n += take_ms(p, g + n, 10 - n, 3000, &err);
    assert_int_equal(n, 8);
    assert_int_equal(err.code, NR_ETIMEDOUT); /* the ninth */
    assert_int_equal(leases(res), 8);

    assert_int_equal(nr_fleet_set_budget(f, 3, &err), NR_OK);
    usleep(600 * 1000); /* three renewals: nothing in use is taken */
    assert_int_equal(atomic_load(&ft_alive), 8);
    assert_int_equal(leases(res), 8);
    give_back(g + 2, 6); /* g[0], g[1] stay in use */
    nr_pool_evict_all(p);
    FT_WAIT_UNTIL(leases(res) == 2, 3000);
    assert_int_equal(leases(res), 2);
    n = 2 + take_ms(p, g + 2, 8, 3000, &err);
    assert_int_equal(n, 3); /* back under the budget of 3 */
    assert_int_equal(leases(res), 3);
    give_back(g, n);
    end(p, f);
}

/* Leases lost in Redis (a failover, a flush) come back under the same ids
 * at the next renewal (the script loaded again, its cache emptied too);
 * renewals never add a second member. */
static void test_leases_reestablished(void **state)
{
    (void)state;
    const char *res = "again";
    nr_fleet_options o = ft_options(res, "a");
    o.budget = 5;
    nr_fleet *f = make_fleet(o);
    nr_pool *p = pool_in(f, "p", 10, 2000);
    nr_guard g[3];
    nr_error err;
    assert_int_equal(take_ms(p, g, 3, 2000, &err), 3);
    usleep(500 * 1000); /* renewals */
    assert_int_equal(leases(res), 3);
    freeReplyObject(ft_cmd(rc_, "DEL nebula:%s:leases nebula:%s:procs", res, res));
    freeReplyObject(ft_cmd(rc_, "SCRIPT FLUSH")); /* as after a restart: NOSCRIPT, loaded again */
    FT_WAIT_UNTIL(leases(res) == 3, 2000);
    usleep(500 * 1000);
    redisReply *r = ft_cmd(rc_, "ZRANGE nebula:%s:leases 0 -1", res);
    assert_int_equal(r->elements, 3);
    assert_string_equal(r->element[0]->str, "a/0");
    assert_string_equal(r->element[1]->str, "a/1");
    assert_string_equal(r->element[2]->str, "a/2");
    freeReplyObject(r);
    assert_int_equal(ft_int(rc_, "ZCARD nebula:%s:procs", res), 1);
    give_back(g, 3);
    end(p, f);
}

/* A malformed value in Redis is an error naming the key: at create, and
 * at runtime (stats and the event say so); never a crash. */
static void test_malformed_value(void **state)
{
    (void)state;
    const char *res = "malformed";
    freeReplyObject(ft_cmd(rc_, "SET nebula:%s:budget 12abc", res));
    nr_fleet_options o = ft_options(res, "a");
    nr_fleet *f = NULL;
    nr_error err = {0};
    assert_int_equal(nr_fleet_create(&f, &o, &err), NR_EUNAVAIL);
    assert_null(f);
    assert_non_null(strstr(err.message, "nebula:malformed:budget"));
    assert_non_null(strstr(err.message, "not a decimal integer"));

    freeReplyObject(ft_cmd(rc_, "SET nebula:%s:budget 4", res));
    freeReplyObject(ft_cmd(rc_, "SET nebula:%s:leases oops", res));
    nr_error_clear(&err);
    assert_int_equal(nr_fleet_create(&f, &o, &err), NR_EUNAVAIL);
    assert_non_null(strstr(err.message, "nebula:malformed:leases"));
    freeReplyObject(ft_cmd(rc_, "DEL nebula:%s:leases", res));

    nr_event_bus *bus = NULL;
    nr_event_sub *sub = NULL;
    assert_int_equal(nr_event_bus_create(&bus, 64, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(bus, &sub, NULL), NR_OK);
    o.events = bus;
    f = make_fleet(o);
    freeReplyObject(ft_cmd(rc_, "ZADD nebula:%s:leases 99999999999999 no-slot", res));
    nr_fleet_stats st = NR_FLEET_STATS_INIT;
    /* until a script failed on it (one may time out before, on a loaded machine) */
    FT_WAIT_UNTIL((nr_fleet_get_stats(f, &st),
                   !st.redis_up && strstr(st.last_error, "nebula:malformed:leases")),
                  3000);
    assert_false(st.redis_up);
    assert_non_null(strstr(st.last_error, "nebula:malformed:leases"));
    nr_event ev;
    int seen = 0;
    while (nr_event_next(sub, &ev, NULL, nr_deadline_in_ms(500)) == NR_OK)
        if (ev.type == NR_EV_FLEET_REDIS_DOWN && strstr(ev.text, "nebula:malformed:leases"))
            seen = 1;
    assert_true(seen);
    freeReplyObject(ft_cmd(rc_, "ZREM nebula:%s:leases no-slot", res));
    FT_WAIT_UNTIL((nr_fleet_get_stats(f, &st), st.redis_up), 3000);
    assert_true(st.redis_up);
    assert_int_equal(nr_fleet_destroy(f, NULL), NR_OK);
    nr_event_unsubscribe(sub);
    nr_event_bus_destroy(bus);
}

/* Key names are escaped: ':' and '/' in a resource or process never split. */
static void test_keys_escaped(void **state)
{
    (void)state;
    nr_fleet_options o = ft_options("a:b/c", "host:1/2");
    o.budget = 2;
    o.min_per_process = 1;
    nr_fleet *f = make_fleet(o);
    assert_int_equal(ft_int(rc_, "EXISTS nebula:a%%3Ab%%2Fc:budget"), 1);
    assert_int_equal(ft_int(rc_, "ZCARD nebula:a%%3Ab%%2Fc:leases"), 1);
    assert_int_not_equal(ft_int(rc_, "EXISTS nebula:a%%3Ab%%2Fc:procs"), 0);
    redisReply *r = ft_cmd(rc_, "ZRANGE nebula:a%%3Ab%%2Fc:leases 0 -1");
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->str, "host%3A1%2F2/0");
    freeReplyObject(r);
    assert_int_equal(nr_fleet_destroy(f, NULL), NR_OK);
    assert_int_equal(ft_int(rc_, "ZCARD nebula:a%%3Ab%%2Fc:leases"), 0);
}

/* Bad options name the field and the rule; a wrong password is refused
 * without the password in the message; no budget at all is an error. */
static void test_options_checked(void **state)
{
    (void)state;
    nr_fleet *f = NULL;
    nr_error err = {0};
    nr_fleet_options o = ft_options("opts", "a");
    o.lease_ttl_ms = 10;
    assert_int_equal(nr_fleet_create(&f, &o, &err), NR_ECONFIG);
    assert_non_null(strstr(err.message, "fleet 'opts': lease_ttl_ms: must be between 1000"));
    o = ft_options("opts", "a");
    o.renew_interval_ms = 1500;
    assert_int_equal(nr_fleet_create(&f, &o, &err), NR_ECONFIG);
    assert_non_null(strstr(err.message, "renew_interval_ms"));
    o = ft_options(NULL, "a");
    assert_int_equal(nr_fleet_create(&f, &o, &err), NR_ECONFIG);
    assert_non_null(strstr(err.message, "resource: required"));

    o = ft_options("opts", "a");
    assert_int_equal(nr_fleet_create(&f, &o, &err), NR_EUNAVAIL); /* no budget key, none given */
    assert_non_null(strstr(err.message, "no budget at key nebula:opts:budget"));

    nr_secret *bad = NULL;
    assert_int_equal(nr_secret_from_str(&bad, "wrong-password-xyz", NULL), NR_OK);
    o = ft_options("opts", "a");
    o.budget = 1;
    o.credential_ref = NULL;
    o.credentials = NULL;
    o.redis_password = bad;
    assert_int_equal(nr_fleet_create(&f, &o, &err), NR_EUNAVAIL);
    assert_non_null(strstr(err.message, "AUTH"));
    assert_null(strstr(err.message, "wrong-password-xyz"));
    nr_secret_free(bad);
    assert_null(f);
}

/* ---- the windows after Redis lost the keys, and the minimum taken back ---- */

/* Samples every 2 ms, on a thread and a Redis connection of its own, the
 * instances alive in the whole test process (beyond base) and the leases
 * of res. */
typedef struct sampler {
    const char *res;
    int base; /* instances alive before the test (another test's, left by a failure) */
    atomic_int stop;
    int most_alive;
    long long most_leases;
    pthread_t th;
} sampler;

static void *sample_thread(void *arg)
{
    sampler *s = arg;
    redisContext *c = ft_redis();
    while (!atomic_load(&s->stop)) {
        int a = atomic_load(&ft_alive) - s->base;
        long long l = ft_int(c, "ZCARD nebula:%s:leases", s->res);
        s->most_alive = a > s->most_alive ? a : s->most_alive;
        s->most_leases = l > s->most_leases ? l : s->most_leases;
        usleep(2000);
    }
    redisFree(c);
    return NULL;
}

static void sampler_start(sampler *s, const char *res, int base)
{
    *s = (sampler){.res = res, .base = base};
    pthread_create(&s->th, NULL, sample_thread, s);
}

static void sampler_stop(sampler *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
}

typedef struct taker {
    nr_pool *pool;
    int64_t ms;
    int rc;
    nr_guard g;
} taker;

/* One acquire, waiting up to ms, on a thread: the pool queues meanwhile. */
static void *take_thread(void *arg)
{
    taker *t = arg;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(t->ms));
    t->g = (nr_guard)NR_GUARD_INIT;
    t->rc = nr_pool_acquire(t->pool, &ctx, &t->g, NULL);
    return NULL;
}

/*
 * Redis lost the keys (a restart without persistence) while a and b hold
 * 3 places each of 6, in use, and a's pool queues for a fourth: a, up all
 * along, is the first to run its script again. It re-establishes its 3 and
 * takes nothing more (the script answers lost, a grace starts) until b had
 * the time to re-establish its own: b gets its 3 back, a's fourth times out,
 * and the instances alive are never more than 6. Without the
 * script's loss answer a takes b's place at once and 7 are alive.
 */
static void test_lost_keys_survivor_waits(void **state)
{
    (void)state;
    int base = atomic_load(&ft_alive);
    const char *res = "lostkeys";
    nr_fleet_options oa = ft_options(res, "a"), ob = ft_options(res, "b");
    oa.budget = ob.budget = 6;
    nr_fleet *a = make_fleet(oa), *b = make_fleet(ob);
    nr_pool *pa = pool_in(a, "pa", 10, 300), *pb = pool_in(b, "pb", 10, 300);
    nr_guard ga[3], gb[3];
    nr_error err;
    assert_int_equal(take_ms(pa, ga, 3, 2000, &err), 3);
    assert_int_equal(take_ms(pb, gb, 3, 2000, &err), 3);
    taker t = {.pool = pa, .ms = 1500};
    pthread_t th;
    pthread_create(&th, NULL, take_thread, &t); /* a queues: its agent asks every 100 ms */
    usleep(150 * 1000);
    sampler s;
    sampler_start(&s, res, base);
    /* right after b renewed: a asks again (100 ms) well before b renews (200 ms) */
    char *score = NULL;
    redisReply *r = ft_cmd(rc_, "ZSCORE nebula:%s:leases b/0", res);
    score = strdup(r->str ? r->str : "");
    freeReplyObject(r);
    for (int i = 0; i < 1000; i++) {
        r = ft_cmd(rc_, "ZSCORE nebula:%s:leases b/0", res);
        int moved = r->str && strcmp(r->str, score) != 0;
        freeReplyObject(r);
        if (moved)
            break;
        usleep(500);
    }
    free(score);
    freeReplyObject(ft_cmd(rc_, "DEL nebula:%s:leases nebula:%s:procs", res, res));
    pthread_join(th, NULL);
    usleep(300 * 1000);
    sampler_stop(&s);
    assert_int_equal(t.rc, NR_ETIMEDOUT);
    assert_true(s.most_alive <= 6);
    assert_true(s.most_leases <= 6);
    assert_int_equal(ft_int(rc_, "ZCOUNT nebula:%s:leases -inf +inf", res), 6);
    nr_fleet_stats st = NR_FLEET_STATS_INIT;
    nr_fleet_get_stats(b, &st);
    assert_int_equal(st.leases, 3);
    nr_fleet_get_stats(a, &st);
    assert_int_equal(st.leases, 3);
    give_back(ga, 3);
    give_back(gb, 3);
    end(pa, a);
    end(pb, b);
}

/*
 * A process that starts right after Redis lost the keys, while a and b
 * still hold 3 places each of 6 and have not re-established them: its
 * first script starts a grace, so it grows into none of them (its acquire
 * times out), a and b get their 3 back, and never more than 6 instances
 * are alive. Without a grace at the first script the newcomer takes places at
 * once and up to 9 are alive.
 */
static void test_lost_keys_newcomer_waits(void **state)
{
    (void)state;
    int base = atomic_load(&ft_alive);
    const char *res = "newcomer";
    nr_fleet_options oa = ft_options(res, "a"), ob = ft_options(res, "b");
    oa.budget = ob.budget = 6;
    nr_fleet *a = make_fleet(oa), *b = make_fleet(ob);
    nr_pool *pa = pool_in(a, "pa", 10, 300), *pb = pool_in(b, "pb", 10, 300);
    nr_guard ga[3], gb[3], gc[3];
    nr_error err;
    assert_int_equal(take_ms(pa, ga, 3, 2000, &err), 3);
    assert_int_equal(take_ms(pb, gb, 3, 2000, &err), 3);
    sampler s;
    sampler_start(&s, res, base);
    freeReplyObject(ft_cmd(rc_, "DEL nebula:%s:leases nebula:%s:procs", res, res));
    nr_fleet_options oc = ft_options(res, "c");
    oc.budget = 6;
    nr_fleet *c = make_fleet(oc);
    nr_pool *pc = pool_in(c, "pc", 10, 1500);
    int nc = take_ms(pc, gc, 3, 1500, &err);
    usleep(300 * 1000);
    sampler_stop(&s);
    assert_int_equal(nc, 0);
    assert_int_equal(err.code, NR_ETIMEDOUT);
    assert_true(s.most_alive <= 6);
    assert_true(s.most_leases <= 6);
    nr_fleet_stats st = NR_FLEET_STATS_INIT;
    nr_fleet_get_stats(a, &st);
    assert_int_equal(st.leases, 3);
    nr_fleet_get_stats(b, &st);
    assert_int_equal(st.leases, 3);
    give_back(ga, 3);
    give_back(gb, 3);
    end(pc, c);
    end(pa, a);
    end(pb, b);
}

/*
 * min_per_process taken back: a holds 3 places of 6 in use (the test's
 * guards), b keeps the other 3 busy (four threads acquiring and giving back
 * without a pause long enough for a lease to go), then c starts with the
 * same minimum of 2. The script caps a and b at their share
 * (max(2, 6 / 3)): b sheds as its instances come back and c gets one
 * place; a's are in use, so its leases stay and c gets no second place
 * until one of a's instances is given back (then destroyed, its lease
 * after it). The instances alive and the leases are never more than 6.
 * Without the cap c gets nothing; with the leases given back before the
 * instances, a's leases fall below the places it holds.
 */
static void test_min_taken_back(void **state)
{
    (void)state;
    int base = atomic_load(&ft_alive);
    const char *res = "takeback";
    enum { T = 4, BUDGET = 6 };
    nr_fleet_options o[3] = {ft_options(res, "a"), ft_options(res, "b"), ft_options(res, "c")};
    nr_fleet *f[3];
    nr_pool *p[3];
    for (int i = 0; i < 3; i++) {
        o[i].budget = BUDGET;
        o[i].min_per_process = 2;
    }
    f[0] = make_fleet(o[0]);
    p[0] = pool_in(f[0], "pa", 10, 2000);
    nr_guard ga[3];
    nr_error err;
    assert_int_equal(take_ms(p[0], ga, 3, 2000, &err), 3);
    f[1] = make_fleet(o[1]);
    p[1] = pool_in(f[1], "pb", 10, 200);
    atomic_int stop = 0;
    churn c[T];
    pthread_t th[T];
    for (int k = 0; k < T; k++) {
        c[k] = (churn){p[1], &stop, 0};
        pthread_create(&th[k], NULL, churn_thread, &c[k]);
    }
    FT_WAIT_UNTIL(leases(res) == BUDGET, 3000);
    assert_int_equal(leases(res), BUDGET);
    usleep(500 * 1000); /* past release_after_ms: the places stay busy */
    assert_int_equal(leases(res), BUDGET);
    sampler s;
    sampler_start(&s, res, base);
    f[2] = make_fleet(o[2]);
    p[2] = pool_in(f[2], "pc", 10, 6000);
    nr_guard g = NR_GUARD_INIT;
    int64_t t0 = nr_now_ns();
    assert_int_equal(take_ms(p[2], &g, 1, 6000, &err), 1); /* b's shed place; 3 TTLs at most */
    print_message("c got its first place in %lld ms\n",
                  (long long)((nr_now_ns() - t0) / NR_NS_PER_MS));
    taker t = {.pool = p[2], .ms = 6000};
    pthread_t tt;
    pthread_create(&tt, NULL, take_thread, &t);
    usleep(1000 * 1000);
    nr_fleet_stats st = NR_FLEET_STATS_INIT;
    nr_fleet_get_stats(f[0], &st);
    assert_int_equal(st.leases, 3); /* a's three are in use: their leases stay */
    assert_int_equal(st.local_limit, 2);
    nr_guard_release(&ga[2]); /* given back: destroyed, its lease after it */
    pthread_join(tt, NULL);
    assert_int_equal(t.rc, NR_OK);
    FT_WAIT_UNTIL((nr_fleet_get_stats(f[2], &st), st.leases >= 2), 1000);
    assert_true(st.leases >= 2);
    usleep(500 * 1000); /* a and b at their shares, not beyond */
    sampler_stop(&s);
    print_message("at most %d instances alive, %lld leases\n", s.most_alive, s.most_leases);
    assert_true(s.most_alive <= BUDGET);
    assert_true(s.most_leases <= BUDGET);
    for (int i = 0; i < 2; i++) {
        nr_fleet_get_stats(f[i], &st);
        assert_true(st.leases >= 2); /* nobody starved in turn */
    }
    atomic_store(&stop, 1);
    long ok = 0;
    for (int k = 0; k < T; k++) {
        pthread_join(th[k], NULL);
        ok += c[k].ok;
    }
    assert_true(ok > 0);
    nr_guard_release(&g);
    nr_guard_release(&t.g);
    give_back(ga, 2);
    for (int i = 0; i < 3; i++)
        end(p[i], f[i]);
    assert_int_equal(leases(res), 0);
}

/* Metrics: the families of nebula/fleet.h, with the resource label. */
static void test_metrics(void **state)
{
    (void)state;
    nr_metrics *reg = NULL;
    assert_int_equal(nr_metrics_create(&reg, NULL), NR_OK);
    nr_fleet_options o = ft_options("metered", "a");
    o.budget = 7;
    o.min_per_process = 3;
    o.metrics = reg;
    nr_fleet *f = make_fleet(o);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(nr_metrics_format(reg, &text, &len, NULL), NR_OK);
    assert_non_null(strstr(text, "nr_fleet_budget{resource=\"metered\"} 7"));
    assert_non_null(strstr(text, "nr_fleet_leases{resource=\"metered\"} 3"));
    assert_non_null(strstr(text, "nr_fleet_local_limit{resource=\"metered\"} 3"));
    assert_non_null(strstr(text, "nr_fleet_redis_up{resource=\"metered\"} 1"));
    assert_non_null(strstr(text, "nr_fleet_renew_failures_total{resource=\"metered\"} 0"));
    nr_free(text);
    nr_fleet_stats unsized = {0}; /* size 0: refused, nothing written */
    assert_int_equal(nr_fleet_get_stats(f, &unsized), NR_EINVAL);
    assert_int_equal(unsized.leases, 0);
    assert_int_equal(nr_fleet_destroy(f, NULL), NR_OK);
    nr_metrics_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grants_up_to_budget),
        cmocka_unit_test(test_concurrent_never_beyond),
        cmocka_unit_test(test_dead_holder_expires),
        cmocka_unit_test(test_min_per_process),
        cmocka_unit_test(test_budget_changed),
        cmocka_unit_test(test_leases_reestablished),
        cmocka_unit_test(test_malformed_value),
        cmocka_unit_test(test_keys_escaped),
        cmocka_unit_test(test_options_checked),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_lost_keys_survivor_waits),
        cmocka_unit_test(test_lost_keys_newcomer_waits),
        cmocka_unit_test(test_min_taken_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
