/*
 * realhealth_test.c - the health pipeline, quarantine and recovery against
 * a real PostgreSQL and a real Redis, frozen with SIGSTOP.
 *
 * Run inside with-postgres.sh and with-redis.sh. A manager holds "pg" and
 * "cache", each with the stages [connectivity, performance] (degraded at a
 * p90 of 100 ms) and quarantine after 3 bad rounds. For each server in turn:
 *
 *   (a) slow: the test freezes the server 300 ms of every 400 ms (for
 *       PostgreSQL the postmaster and every backend: stopping the
 *       postmaster alone leaves existing connections answering), so the
 *       checks pass, slowly: the resource becomes degraded, and the
 *       performance stage says why;
 *   (b) stopped: frozen for good: checks time out, the resource becomes
 *       unhealthy, then quarantined; an acquire fails at once with
 *       NR_EUNAVAIL naming the quarantine;
 *   (c) thawed: a probe passes, half-open, the trial acquires, back in
 *       service and healthy.
 *
 * What is checked: the events of the resource (HealthChanged, Quarantined,
 * QuarantineReleased) in this order, attempts numbered 1, 2, ... and one
 * "back in service"; the other resource stays healthy; no acquire of a
 * background acquirer takes longer than its deadline plus a generous margin
 * (a bound on a hang, not a speed test); no password in any reason, event
 * text or error. Every wait is bounded polling; no time is asserted.
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/alloc.h"
#include "nebula/credential_sources.h"
#include "nebula/events.h"
#include "nebula/manager.h"
#include "nebula/postgres.h"
#include "nebula/redis.h"

#define ACQUIRE_DEADLINE_MS 2000
#define HANG_MARGIN_MS      5000 /* an acquire beyond deadline + this is a hang */
#define PHASE_MAX_MS        40000

static const char *pg_pw, *redis_pw;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        die("%s is not set (run under with-postgres.sh and with-redis.sh)", name);
    return v;
}

/* No password in text. */
static void no_secret(const char *where, const char *text)
{
    if (strstr(text, pg_pw) || strstr(text, redis_pw))
        die("a password appears in %s: %s", where, text);
}

/* ---- freezing a server ----------------------------------------------------------- */

/* The PID the wrapper's ctl prints. */
static pid_t server_pid(const char *ctl_env)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "%s pid", env(ctl_env));
    FILE *p = popen(cmd, "r");
    long pid = 0;
    if (!p || fscanf(p, "%ld", &pid) != 1 || pid <= 1)
        die("no PID from '%s'", cmd);
    pclose(p);
    return (pid_t)pid;
}

/* Signal pid and (children) every process whose parent it is. The parent
 * is stopped first and continued last, so that it starts nobody unseen. */
static void signal_tree(pid_t pid, int sig, bool children)
{
    if (sig == SIGSTOP)
        kill(pid, sig);
    DIR *d = children ? opendir("/proc") : NULL;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *close = strrchr(buf, ')'); /* "pid (comm) S ppid ..." */
        long ppid = 0;
        char state;
        if (close && sscanf(close + 1, " %c %ld", &state, &ppid) == 2 && ppid == pid)
            kill((pid_t)atol(de->d_name), sig);
    }
    if (d)
        closedir(d);
    if (sig == SIGCONT)
        kill(pid, sig);
}

typedef struct freezer {
    pid_t pid;
    bool children;
    atomic_int mode; /* 0 thawed, 1 alternating, 2 frozen; -1 quit */
    pthread_t thread;
} freezer;

static void *freezer_main(void *arg)
{
    freezer *z = arg;
    bool frozen = false;
    for (;;) {
        int mode = atomic_load(&z->mode);
        if (mode < 0)
            break;
        bool want = mode == 2 || (mode == 1 && !frozen);
        if (want != frozen) {
            signal_tree(z->pid, want ? SIGSTOP : SIGCONT, z->children);
            frozen = want;
        }
        nr_sleep_ns((mode == 1 ? (frozen ? 300 : 100) : 20) * NR_NS_PER_MS);
    }
    if (frozen)
        signal_tree(z->pid, SIGCONT, z->children);
    return NULL;
}

/* ---- a background acquirer ------------------------------------------------------- */

typedef struct acquirer {
    nr_manager *m;
    const char *id;
    atomic_bool stop;
    atomic_long ok, refused, other, hangs;
    int64_t worst_ns; /* acquirer thread only until joined */
    pthread_t thread;
} acquirer;

static void *acquirer_main(void *arg)
{
    acquirer *a = arg;
    while (!atomic_load(&a->stop)) {
        nr_ctx ctx =
            NR_CTX(.deadline = nr_deadline_in_ms(ACQUIRE_DEADLINE_MS), .caller = "acquirer");
        nr_guard g = NR_GUARD_INIT;
        nr_error err = {0};
        int64_t t0 = nr_now_ns();
        int rc = nr_manager_acquire(a->m, a->id, &ctx, &g, &err);
        int64_t took = nr_now_ns() - t0;
        if (took > a->worst_ns)
            a->worst_ns = took;
        if (took > (ACQUIRE_DEADLINE_MS + HANG_MARGIN_MS) * NR_NS_PER_MS)
            atomic_fetch_add(&a->hangs, 1);
        if (rc == NR_OK) {
            atomic_fetch_add(&a->ok, 1);
            nr_guard_release(&g);
        } else {
            no_secret("an acquire's error", err.message);
            atomic_fetch_add(rc == NR_EUNAVAIL ? &a->refused : &a->other, 1);
        }
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    return NULL;
}

/* ---- the events of one resource --------------------------------------------------- */

#define MAX_EVENTS 512

typedef struct evlog {
    nr_event_sub *sub;
    nr_event ev[MAX_EVENTS];
    size_t n;
} evlog;

/* Drain the bus into the log: the kinds this test follows, of either resource. */
static void drain(evlog *l)
{
    nr_event ev;
    while (nr_event_next(l->sub, &ev, NULL, nr_deadline_in_ns(-1)) == NR_OK) {
        no_secret("an event's text", ev.text);
        if ((ev.type == NR_EV_HEALTH_CHANGED || ev.type == NR_EV_QUARANTINED ||
             ev.type == NR_EV_QUARANTINE_RELEASED || ev.type == NR_EV_CASCADE_DETECTED) &&
            l->n < MAX_EVENTS)
            l->ev[l->n++] = ev;
    }
}

static nr_resource_info info_of(nr_manager *m, const char *id)
{
    nr_resource_info ri = NR_RESOURCE_INFO_INIT;
    nr_error err = {0};
    if (nr_manager_resource_info(m, id, &ri, &err) != NR_OK)
        die("info of %s: %s", id, err.message);
    no_secret("a health reason", ri.health_reason);
    return ri;
}

typedef bool (*cond_fn)(const nr_resource_info *ri);

static bool is_degraded(const nr_resource_info *ri)
{
    return ri->own_health == NR_HEALTH_DEGRADED;
}
static bool is_quarantined(const nr_resource_info *ri)
{
    return ri->quarantine == NR_QUARANTINE_ON;
}
static bool is_back(const nr_resource_info *ri)
{
    return ri->health == NR_HEALTH_HEALTHY && ri->quarantine == NR_QUARANTINE_NONE;
}

static void wait_until(nr_manager *m, evlog *l, const char *id, cond_fn ok, const char *what)
{
    for (int64_t end = nr_now_ns() + PHASE_MAX_MS * NR_NS_PER_MS; nr_now_ns() < end;) {
        drain(l);
        nr_resource_info ri = info_of(m, id);
        if (ok(&ri))
            return;
        nr_sleep_ns(50 * NR_NS_PER_MS);
    }
    nr_resource_info ri = info_of(m, id);
    die("%s never became %s (health %s: %s, quarantine %s)", id, what, nr_health_name(ri.health),
        ri.health_reason, nr_quarantine_state_name(ri.quarantine));
}

/* Find the next event of id at or after *at matching type (and, when not
 * NULL, to = the new health or text containing `has`); die when there is none. */
static const nr_event *expect(evlog *l, size_t *at, const char *id, nr_event_type type, int to,
                              const char *has)
{
    for (size_t i = *at; i < l->n; i++) {
        const nr_event *e = &l->ev[i];
        if (strcmp(e->resource_id, id) != 0 || e->type != type)
            continue;
        if (type == NR_EV_HEALTH_CHANGED && to >= 0 && (int)e->health_new != to)
            continue;
        if (has && !strstr(e->text, has))
            continue;
        *at = i + 1;
        return e;
    }
    die("%s: no %s%s%s%s after event %zu of %zu", id, nr_event_type_name(type),
        to >= 0 ? " to " : "", to >= 0 ? nr_health_name((nr_health_state)to) : "", has ? has : "",
        *at, l->n);
    return NULL;
}

/* ---- one server through the three phases ------------------------------------------- */

static void exercise(nr_manager *m, evlog *l, const char *id, const char *other, pid_t pid,
                     bool children)
{
    size_t first = l->n;
    freezer z = {.pid = pid, .children = children};
    atomic_init(&z.mode, 0);
    acquirer a = {.m = m, .id = id};
    if (pthread_create(&z.thread, NULL, freezer_main, &z) ||
        pthread_create(&a.thread, NULL, acquirer_main, &a))
        die("threads");
    wait_until(m, l, id, is_back, "healthy before the test");

    /* (a) slow */
    atomic_store(&z.mode, 1);
    wait_until(m, l, id, is_degraded, "degraded by its performance stage");
    nr_health_round_result rr;
    nr_error err = {0};
    /* the last round: degraded, by the performance stage (a round in between
     * may have had nothing to judge, so look again for a while) */
    for (int64_t end = nr_now_ns() + PHASE_MAX_MS * NR_NS_PER_MS;; nr_sleep_ns(20 * NR_NS_PER_MS)) {
        if (nr_manager_health_stages(m, id, &rr, &err) != NR_OK)
            die("health stages of %s: %s", id, err.message);
        no_secret("a stage's reason", rr.reason);
        if (rr.state == NR_HEALTH_DEGRADED && strcmp(rr.stage, "performance") == 0)
            break;
        if (nr_now_ns() > end)
            die("%s: the round is %s by '%s': %s", id, nr_health_name(rr.state), rr.stage,
                rr.reason);
    }
    if (!strstr(rr.reason, "p90 latency ") || !strstr(rr.reason, "(degraded at 100 ms)") ||
        strcmp(rr.stages[1].name, "performance") != 0 || rr.stages[1].state != NR_HEALTH_DEGRADED)
        die("%s: performance stage: %s", id, rr.reason);
    nr_resource_info ri = info_of(m, id);
    if (strcmp(ri.health_reason, "") == 0 || !strstr(ri.health_reason, "latency"))
        die("%s: degraded with the reason '%s'", id, ri.health_reason);

    /* (b) stopped */
    atomic_store(&z.mode, 2);
    wait_until(m, l, id, is_quarantined, "quarantined");
    nr_guard g = NR_GUARD_INIT;
    int rc = nr_manager_acquire(m, id, NULL, &g, &err);
    if (rc != NR_EUNAVAIL || !strstr(err.message, "quarantined") || !strstr(err.message, id))
        die("%s quarantined: acquire gave %s: %s", id, nr_err_name(rc), err.message);
    no_secret("the quarantine's error", err.message);

    /* (c) thawed */
    atomic_store(&z.mode, 0);
    wait_until(m, l, id, is_back, "healthy and in service again");
    atomic_store(&a.stop, true);
    atomic_store(&z.mode, -1);
    pthread_join(a.thread, NULL);
    pthread_join(z.thread, NULL);
    drain(l);

    /* the events, in order */
    size_t at = first;
    const nr_event *e = expect(l, &at, id, NR_EV_HEALTH_CHANGED, NR_HEALTH_DEGRADED, "p90 latency");
    if (e->health_old != NR_HEALTH_HEALTHY)
        die("%s: degraded from %s", id, nr_health_name(e->health_old));
    expect(l, &at, id, NR_EV_HEALTH_CHANGED, NR_HEALTH_UNHEALTHY, NULL);
    expect(l, &at, id, NR_EV_QUARANTINED, -1, "(attempt 1 of ");
    expect(l, &at, id, NR_EV_QUARANTINE_RELEASED, -1, "half-open: probe ");
    expect(l, &at, id, NR_EV_HEALTH_CHANGED, NR_HEALTH_HEALTHY, NULL);
    /* counts: attempts numbered 1, 2, ... in order; one return to service,
     * after the last half-open; the other resource never changed */
    long attempt = 0, back = 0, halfopen = 0;
    for (size_t i = first; i < l->n; i++) {
        const nr_event *x = &l->ev[i];
        if (strcmp(x->resource_id, other) == 0)
            die("%s changed while %s was frozen: %s %s", other, id, nr_event_type_name(x->type),
                x->text);
        if (strcmp(x->resource_id, id) != 0)
            continue;
        if (x->type == NR_EV_QUARANTINED && x->count != ++attempt)
            die("%s: quarantine attempt %lld, expected %ld", id, (long long)x->count, attempt);
        if (x->type == NR_EV_QUARANTINE_RELEASED && strstr(x->text, "half-open"))
            halfopen++;
        if (x->type == NR_EV_QUARANTINE_RELEASED && strcmp(x->text, "back in service") == 0 &&
            (++back, halfopen == 0))
            die("%s: back in service before half-open", id);
    }
    if (attempt < 1 || halfopen < 1 || back != 1)
        die("%s: %ld quarantine attempts, %ld half-open, %ld back in service", id, attempt,
            halfopen, back);
    if (atomic_load(&a.hangs))
        die("%s: %ld acquires took longer than %d ms + %d ms (worst %.0f ms)", id,
            atomic_load(&a.hangs), ACQUIRE_DEADLINE_MS, HANG_MARGIN_MS, (double)a.worst_ns / 1e6);
    if (!atomic_load(&a.refused) || !atomic_load(&a.ok))
        die("%s: the acquirer had %ld acquires and %ld refused", id, atomic_load(&a.ok),
            atomic_load(&a.refused));
    printf("ok: %s: degraded by performance, unhealthy, %ld quarantine attempts, %ld half-open, "
           "back in service; acquirer %ld ok, %ld refused, %ld other, worst %.0f ms\n",
           id, attempt, halfopen, atomic_load(&a.ok), atomic_load(&a.refused),
           atomic_load(&a.other), (double)a.worst_ns / 1e6);
}

/* ---- setup ---------------------------------------------------------------------------- */

static void add(nr_manager *m, const char *id, const nr_resource_type *type, const void *cfg,
                const char *cred)
{
    static const char health[] =
        "{\"stages\": [\"connectivity\", \"performance\"],"
        " \"performance\": {\"degraded_ms\": 100, \"unhealthy_ms\": 1000, \"window\": 4,"
        " \"min_samples\": 2}}";
    nr_health_config hc;
    nr_error err = {0};
    if (nr_health_config_parse(health, strlen(health), NULL, 0, &hc, NULL, &err) != NR_OK)
        die("health config: %s", err.message);
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.min_idle = 1;
    pc.max_size = 2;
    pc.acquire_timeout_ms = ACQUIRE_DEADLINE_MS;
    nr_resource_spec s = NR_RESOURCE_SPEC(.id = id, .type = type, .config = cfg, .pool = &pc,
                                          .credential_ref = cred, .health = &hc);
    if (nr_manager_register(m, &s, &err) != NR_OK)
        die("register %s: %s", id, err.message);
}

int main(void)
{
    pg_pw = env("NR_TEST_PG_PASSWORD");
    redis_pw = env("NR_TEST_REDIS_PASSWORD");
    nr_error err = {0};
    nr_event_bus *bus = NULL;
    if (nr_event_bus_create(&bus, 4096, &err) != NR_OK)
        die("bus: %s", err.message);
    nr_credential_provider creds = nr_credential_env_provider("NR_TEST_");
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 200;
    mo.health_interval_ms = 200;
    mo.health_timeout_ms = 1500;
    mo.failure_threshold = 2;
    mo.recovery_threshold = 2;
    mo.quarantine_after = 3;
    mo.quarantine_base_ms = 300;
    mo.quarantine_max_ms = 1200;
    mo.quarantine_jitter = 0;
    mo.quarantine_trials = 2;
    mo.credentials = &creds;
    mo.events = bus;
    nr_manager *m = NULL;
    if (nr_manager_create(&m, &mo, &err) != NR_OK)
        die("manager: %s", err.message);

    nr_postgres_config pg;
    nr_redis_config rd;
    if (nr_config_init(&nr_postgres_config_schema, &pg, &err) != NR_OK ||
        nr_config_init(&nr_redis_config_schema, &rd, &err) != NR_OK)
        die("configs: %s", err.message);
    nr_free(pg.host);
    nr_free(pg.dbname);
    nr_free(pg.user);
    pg.host = nr_strdup(env("NR_TEST_PG_HOST"));
    pg.port = atoi(env("NR_TEST_PG_PORT"));
    pg.dbname = nr_strdup(env("NR_TEST_PG_DB"));
    pg.user = nr_strdup(env("NR_TEST_PG_USER"));
    pg.connect_timeout_ms = 1000;
    pg.health_timeout_ms = 1000;
    nr_free(rd.host);
    rd.host = nr_strdup(env("NR_TEST_REDIS_HOST"));
    rd.port = atoi(env("NR_TEST_REDIS_PORT"));
    rd.connect_timeout_ms = 1000;
    rd.command_timeout_ms = 1000;
    rd.health_timeout_ms = 1000;
    add(m, "pg", &nr_postgres_type, &pg, "PG_PASSWORD");
    add(m, "cache", &nr_redis_type, &rd, "REDIS_PASSWORD");
    nr_config_free(&nr_postgres_config_schema, &pg);
    nr_config_free(&nr_redis_config_schema, &rd);

    evlog *l = calloc(1, sizeof(*l));
    if (!l || nr_event_subscribe(bus, &l->sub, &err) != NR_OK)
        die("subscribe: %s", err.message);
    if (nr_manager_start(m, nr_deadline_in_ms(20000), &err) != NR_OK)
        die("start: %s", err.message);

    exercise(m, l, "pg", "cache", server_pid("NR_TEST_PG_CTL"), true);
    exercise(m, l, "cache", "pg", server_pid("NR_TEST_REDIS_CTL"), false);

    nr_shutdown_report rep = NR_SHUTDOWN_REPORT_INIT;
    if (nr_manager_shutdown(m, NULL, &rep, &err) != NR_OK)
        die("shutdown: %s", err.message);
    nr_event_unsubscribe(l->sub);
    free(l);
    if (nr_manager_destroy(m, &err) != NR_OK)
        die("destroy: %s", err.message);
    nr_event_bus_destroy(bus);
    printf("ok: both servers slowed, stopped and thawed; the events in order\n");
    return 0;
}
