/*
 * group_two_servers.c - a group of two real Redis servers (with-two-redis.sh)
 * under load: a few threads do group acquires plus one INCR each. One server
 * is killed; once its resource is marked unhealthy, every group acquire
 * succeeds and goes to the live one. Started again, both serve again. State
 * is waited for by bounded polling; nothing is timed.
 */
#define _POSIX_C_SOURCE 200809L
#include "redis_testenv.h"

#include <pthread.h>
#include <stdatomic.h>

#include "nebula/manager.h"

#define THREADS 3

enum { PHASE_BEFORE, PHASE_A_DOWN, PHASE_AFTER, PHASE_STOP };

typedef struct shared {
    nr_manager *m;
    atomic_int phase;
    /* acquires that began and ended in PHASE_A_DOWN: */
    atomic_long down_ok_b, down_served_a, down_failed;
    atomic_long after_a, after_b; /* served in PHASE_AFTER */
    atomic_long total;
    char first_failure[NR_ERROR_MESSAGE_MAX]; /* [failure_mu] */
    pthread_mutex_t failure_mu;
} shared;

static int fetch(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    (void)ud;
    const char *pw = strcmp(ref, "a/password") == 0   ? rt_env("NR_TEST_REDIS_A_PASSWORD")
                     : strcmp(ref, "b/password") == 0 ? rt_env("NR_TEST_REDIS_PASSWORD")
                                                      : NULL;
    if (!pw)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "no secret named '%s'", ref);
    return nr_secret_from_str(out, pw, err);
}

static void register_server(nr_manager *m, const char *id, const char *host, int port,
                            const char *ref)
{
    nr_redis_config cfg;
    rt_config(&cfg);
    rt_set_str(&cfg.host, host);
    cfg.port = port;
    cfg.health_timeout_ms = 1000;
    cfg.connect_timeout_ms = 1000;
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;
    pc.min_idle = 1;
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = id, .type = &nr_redis_type, .config = &cfg,
                                             .pool = &pc, .credential_ref = ref);
    nr_error err = {0};
    if (nr_manager_register(m, &spec, &err) != NR_OK)
        fail_msg("register %s: %s", id, err.message);
    nr_config_free(&nr_redis_config_schema, &cfg);
}

static void *worker(void *arg)
{
    shared *s = arg;
    for (;;) {
        int before = atomic_load(&s->phase);
        if (before == PHASE_STOP)
            return NULL;
        nr_guard g = NR_GUARD_INIT;
        nr_group_choice c;
        nr_error err = {0};
        nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(2000));
        int rc = nr_manager_acquire_group(s->m, "caches", &ctx, &g, &c, &err);
        if (rc == NR_OK) {
            redisReply *r = NULL;
            rc = nr_redis_command(nr_guard_handle(&g), &r, &err, "INCR group:uses");
            if (rc == NR_OK) {
                freeReplyObject(r);
                nr_guard_release(&g);
            } else {
                nr_guard_taint(&g); /* the connection is broken: not given back */
            }
        }
        int after = atomic_load(&s->phase);
        atomic_fetch_add(&s->total, 1);
        int served_a = rc == NR_OK && strcmp(c.member, "redis-a") == 0;
        if (before == PHASE_A_DOWN && after == PHASE_A_DOWN) {
            if (rc != NR_OK) {
                atomic_fetch_add(&s->down_failed, 1);
                pthread_mutex_lock(&s->failure_mu);
                if (!s->first_failure[0])
                    snprintf(s->first_failure, sizeof(s->first_failure), "%s", err.message);
                pthread_mutex_unlock(&s->failure_mu);
            } else if (served_a) {
                atomic_fetch_add(&s->down_served_a, 1);
            } else {
                atomic_fetch_add(&s->down_ok_b, 1);
            }
        } else if (before == PHASE_AFTER && after == PHASE_AFTER && rc == NR_OK) {
            atomic_fetch_add(served_a ? &s->after_a : &s->after_b, 1);
        }
    }
}

static nr_health_state health_of(nr_manager *m, const char *id)
{
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(m, id, &info, NULL), NR_OK);
    return info.health;
}

/* Poll (bounded, 50 ms steps) until id has health h. */
static int wait_health(nr_manager *m, const char *id, nr_health_state h)
{
    for (int i = 0; i < 1200; i++) {
        if (health_of(m, id) == h)
            return 1;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    return 0;
}

/* Poll (bounded, 50 ms steps) until *v reaches want. */
static int wait_count(atomic_long *v, long want)
{
    for (int i = 0; i < 1200; i++) {
        if (atomic_load(v) >= want)
            return 1;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    return 0;
}

static void ctl_a(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s", rt_env("NR_TEST_REDIS_A_CTL"), what);
    if (system(cmd) != 0)
        fail_msg("'%s' failed", cmd);
}

static void test_group_survives_a_server(void **state)
{
    (void)state;
    nr_credential_provider prov = {.fetch = fetch};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.workers = 2;
    mo.maintain_interval_ms = 100;
    mo.health_interval_ms = 100;
    mo.health_timeout_ms = 1000;
    mo.failure_threshold = 1;
    mo.recovery_threshold = 1;
    mo.credentials = &prov;
    shared s = {0};
    pthread_mutex_init(&s.failure_mu, NULL);
    nr_error err = {0};
    assert_int_equal(nr_manager_create(&s.m, &mo, &err), NR_OK);
    register_server(s.m, "redis-a", rt_env("NR_TEST_REDIS_A_HOST"),
                    atoi(rt_env("NR_TEST_REDIS_A_PORT")), "a/password");
    register_server(s.m, "redis-b", rt_env("NR_TEST_REDIS_HOST"), rt_port(), "b/password");
    const char *const members[] = {"redis-a", "redis-b"};
    nr_group_spec gs = NR_GROUP_SPEC_INIT;
    nr_group_spec_default(&gs);
    gs.name = "caches";
    gs.members = members;
    gs.nmembers = 2;
    gs.max_quarantine_percent = 50;
    assert_int_equal(nr_manager_register_group(s.m, &gs, &err), NR_OK);
    if (nr_manager_start(s.m, nr_deadline_in_ms(30000), &err) != NR_OK)
        fail_msg("start: %s", err.message);
    assert_true(wait_health(s.m, "redis-a", NR_HEALTH_HEALTHY));
    assert_true(wait_health(s.m, "redis-b", NR_HEALTH_HEALTHY));

    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &s), 0);
    assert_true(wait_count(&s.total, 50));

    ctl_a("stop"); /* kill -9 */
    assert_true(wait_health(s.m, "redis-a", NR_HEALTH_UNHEALTHY));
    atomic_store(&s.phase, PHASE_A_DOWN);
    /* a good many acquires while a is down and marked so */
    assert_true(wait_count(&s.down_ok_b, 300));
    nr_group_info gi;
    assert_int_equal(nr_manager_group_info(s.m, "caches", &gi, &err), NR_OK);
    assert_int_equal(gi.pick, 1);
    assert_false(gi.members[0].can_serve);
    atomic_store(&s.phase, PHASE_AFTER);

    ctl_a("start");
    assert_true(wait_health(s.m, "redis-a", NR_HEALTH_HEALTHY));
    /* both serve again: ties go by fewest in use, then the order */
    assert_true(wait_count(&s.after_a, 50));
    assert_true(wait_count(&s.after_b, 50));
    atomic_store(&s.phase, PHASE_STOP);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);

    if (atomic_load(&s.down_failed))
        fail_msg("%ld group acquires failed while redis-a was marked down; the first: %s",
                 atomic_load(&s.down_failed), s.first_failure);
    assert_int_equal(atomic_load(&s.down_served_a), 0);
    fprintf(stderr, "[info] %ld group acquires; while a was down: %ld to b; after: %ld a, %ld b\n",
            atomic_load(&s.total), atomic_load(&s.down_ok_b), atomic_load(&s.after_a),
            atomic_load(&s.after_b));
    assert_int_equal(nr_manager_destroy(s.m, &err), NR_OK);
    pthread_mutex_destroy(&s.failure_mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_survives_a_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
