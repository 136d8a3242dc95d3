/* harness.c - a harness run (nebula/testing_harness.h): check the options,
 * script the mock, run the workers and the control thread, then check what
 * is left. */
#include <stdlib.h>
#include <string.h>

#include "harness_internal.h"

#define OPT "nr_harness_options."

static int range(nr_error *err, const char *field, int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo || v > hi)
        return nr_error_set(err, NR_EINVAL, NULL,
                            OPT "%s: must be between %lld and %lld (got %lld)", field,
                            (long long)lo, (long long)hi, (long long)v);
    return NR_OK;
}

/* Copy the options with their defaults in, and check them. */
static int take_options(nr__harness_run *run, const nr_harness_options *in, nr_error *err)
{
    if (!in)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_harness_run: opts: must not be NULL");
    if (in->size == 0 || in->size > sizeof(nr_harness_options))
        return nr_error_set(err, NR_EINVAL, NULL,
                            OPT "size: must be set by NR_HARNESS_OPTIONS_INIT (got %zu)", in->size);
    nr_harness_options *o = &run->o;
    memset(o, 0, sizeof(*o));
    memcpy(o, in, in->size);
    if (!o->pool == !o->manager)
        return nr_error_set(err, NR_EINVAL, NULL, OPT "pool: give a pool or a manager, not %s",
                            o->pool ? "both" : "neither");
    if (o->manager && !o->resource_id)
        return nr_error_set(err, NR_EINVAL, NULL, OPT "resource_id: is required with a manager");
    o->threads = o->threads ? o->threads : 4;
    o->ops = o->ops ? o->ops : 100;
    o->deadline_ms = o->deadline_ms ? o->deadline_ms : 500;
    o->control_ms = o->control_ms ? o->control_ms : 2;
    o->slack_ms = o->slack_ms == 0 ? 1000 : (o->slack_ms < 0 ? 0 : o->slack_ms);
    const nr_harness_faults *f = &o->faults;
    int rc;
    if ((rc = range(err, "threads", o->threads, 1, 256)) ||
        (rc = range(err, "ops", o->ops, 1, 10000000)) ||
        (rc = range(err, "hold_max_us", o->hold_max_us, 0, 10000000)) ||
        (rc = range(err, "deadline_ms", o->deadline_ms, 1, 3600000)) ||
        (rc = range(err, "cancel_permille", o->cancel_permille, 0, 1000)) ||
        (rc = range(err, "taint_permille", o->taint_permille, 0, 1000)) ||
        (rc = range(err, "control_ms", o->control_ms, 1, 10000)) ||
        (rc = range(err, "faults.create_fail_permille", f->create_fail_permille, 0, 1000)) ||
        (rc = range(err, "faults.validate_fail_permille", f->validate_fail_permille, 0, 1000)) ||
        (rc = range(err, "faults.recycle_fail_permille", f->recycle_fail_permille, 0, 1000)) ||
        (rc = range(err, "faults.create_delay_us", f->create_delay_us, 0, 10000000)) ||
        (rc = range(err, "faults.destroy_delay_us", f->destroy_delay_us, 0, 10000000)) ||
        (rc = range(err, "faults.health_flip_permille", f->health_flip_permille, 0, 1000)))
        return rc;
    /* without a mock the harness can only watch: it cannot script faults */
    if (!o->mock) {
        static const char *const names[] = {"create_fail_permille",  "validate_fail_permille",
                                            "recycle_fail_permille", "create_delay_us",
                                            "destroy_delay_us",      "health_flip_permille"};
        const int64_t values[] = {f->create_fail_permille,  f->validate_fail_permille,
                                  f->recycle_fail_permille, f->create_delay_us,
                                  f->destroy_delay_us,      f->health_flip_permille};
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
            if (values[i])
                return nr_error_set(err, NR_EINVAL, NULL,
                                    OPT "faults.%s: needs a mock (opts.mock is NULL)", names[i]);
    }
    return NR_OK;
}

int64_t nr__harness_in_use(nr__harness_run *run)
{
    if (run->o.pool) {
        nr_pool_stats st = NR_POOL_STATS_INIT;
        if (nr_pool_stats_get(run->o.pool, &st) != NR_OK)
            return -1;
        return st.in_use;
    }
    nr_resource_info info = NR_RESOURCE_INFO_INIT;
    if (nr_manager_resource_info(run->o.manager, run->o.resource_id, &info, NULL) != NR_OK)
        return -1;
    return info.stats.in_use;
}

static int read_sizes(nr__harness_run *run, nr_error *err)
{
    nr_pool_stats st = NR_POOL_STATS_INIT;
    if (run->o.pool) {
        int rc = nr_pool_stats_get(run->o.pool, &st);
        if (rc != NR_OK)
            return nr_error_set(err, rc, NULL, "nr_harness_run: the pool's stats");
    } else {
        nr_resource_info info = NR_RESOURCE_INFO_INIT;
        int rc = nr_manager_resource_info(run->o.manager, run->o.resource_id, &info, err);
        if (rc != NR_OK) {
            nr_error_prefix(err, OPT "resource_id");
            return rc;
        }
        st = info.stats;
    }
    run->start_acquires = st.acquires;
    run->start_releases = st.releases;
    run->start_min = st.min_idle;
    run->start_max = st.max_size ? st.max_size : 1;
    return NR_OK;
}

/* The mock's faults from the options, each op seeded apart: only those the
 * options set (non-zero) are touched, set at the start (on) and cleared at
 * the end; what the test scripted on the mock itself stays. */
static void script_mock(nr__harness_run *run, bool on)
{
    nr_mock *m = run->o.mock;
    if (!m)
        return; /* a pool of any type: nothing scripted */
    const nr_harness_faults *f = &run->o.faults;
    const int rates[NR_MOCK_OPS] = {
        [NR_MOCK_CREATE] = f->create_fail_permille,
        [NR_MOCK_VALIDATE] = f->validate_fail_permille,
        [NR_MOCK_RECYCLE] = f->recycle_fail_permille,
    };
    for (int op = 0; op < NR_MOCK_OPS; op++) {
        if (rates[op])
            (void)nr_mock_fail_rate(m, (nr_mock_op)op, on ? rates[op] : 0,
                                    nr__mock_mix(run->seed + 1 + (uint64_t)op), NULL);
    }
    if (f->create_delay_us)
        atomic_store(&m->create_delay_ns, on ? (long)(f->create_delay_us * NR_NS_PER_US) : 0);
    if (f->destroy_delay_us)
        atomic_store(&m->destroy_delay_ns, on ? (long)(f->destroy_delay_us * NR_NS_PER_US) : 0);
    if (!on) {
        if (f->health_flip_permille)
            atomic_store(&m->health, NR_HEALTH_HEALTHY);
        return;
    }
    /* creates that fail, scripted here or by the test before the run, may
     * open the breaker: NR_EUNAVAIL is then an answer, not a loss; so are
     * NR_EUNAVAIL and NR_EHEALTH from a resource whose checks fail */
    const nr_mock_fault *cf = &m->fault[NR_MOCK_CREATE];
    run->allow_unavail = f->create_fail_permille > 0 || atomic_load(&m->fail_create) ||
                         atomic_load(&cf->every) > 0 || atomic_load(&cf->nth) > 0 ||
                         atomic_load(&cf->permille) > 0;
    run->allow_unhealthy = f->health_flip_permille > 0 ||
                           atomic_load(&m->health) != NR_HEALTH_HEALTHY ||
                           atomic_load(&m->health_seq_n) > 0;
}

/* Start the workers and the control thread, wait for all of them. */
static int run_threads(nr__harness_run *run, nr_harness_report *rep, nr_error *err)
{
    uint32_t n = run->o.threads;
    nr__harness_worker *w = calloc(n, sizeof(*w));
    run->slots = calloc(n, sizeof(*run->slots));
    run->held = calloc(n, sizeof(*run->held));
    if (!w || !run->slots || !run->held) {
        free(w);
        free(run->slots);
        run->slots = NULL;
        free(run->held);
        run->held = NULL;
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_harness_run: workers");
    }
    for (uint32_t i = 0; i < n; i++)
        pthread_mutex_init(&run->slots[i].mu, NULL);
    int rc = NR_OK;
    for (uint32_t i = 0; i < n; i++) {
        w[i].run = run;
        w[i].index = i;
        if (pthread_create(&w[i].thread, NULL, nr__harness_worker_main, &w[i]) != 0) {
            rc = nr_error_set(err, NR_EINIT, NULL, "nr_harness_run: worker thread %u", i);
            atomic_fetch_add(&run->workers_done, (int)(n - i)); /* those never started */
            break;
        }
        w[i].started = true;
    }
    pthread_t control;
    bool control_started = pthread_create(&control, NULL, nr__harness_control_main, run) == 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!w[i].started)
            continue;
        pthread_join(w[i].thread, NULL);
        const nr_harness_report *c = &w[i].counts;
        rep->acquires += c->acquires;
        rep->acquired += c->acquired;
        rep->released += c->released;
        rep->tainted += c->tainted;
        rep->timedout += c->timedout;
        rep->canceled += c->canceled;
        rep->exhausted += c->exhausted;
        rep->unavailable += c->unavailable;
        rep->unhealthy += c->unhealthy;
        rep->other_errors += c->other_errors;
        if (c->latest_ns > rep->latest_ns)
            rep->latest_ns = c->latest_ns;
    }
    if (control_started)
        pthread_join(control, NULL);
    else if (rc == NR_OK)
        rc = nr_error_set(err, NR_EINIT, NULL, "nr_harness_run: control thread");
    for (uint32_t i = 0; i < n; i++)
        pthread_mutex_destroy(&run->slots[i].mu);
    free(run->slots);
    run->slots = NULL;
    free(run->held);
    run->held = NULL;
    free(w);
    return rc;
}

/* A pool run: the pool counted the leases the workers saw, no more and no
 * fewer (a manager's resource is left out: its health probes acquire too). */
static void pool_counts(nr__harness_run *run, const nr_harness_report *rep)
{
    nr_pool_stats st = NR_POOL_STATS_INIT;
    if (nr_pool_stats_get(run->o.pool, &st) != NR_OK)
        return;
    uint64_t acquires = st.acquires - run->start_acquires;
    uint64_t releases = st.releases - run->start_releases;
    if (acquires != rep->acquired)
        nr__harness_violation(run, NR_INV_LOST,
                              "the pool counted %llu acquires, the workers got %llu leases",
                              (unsigned long long)acquires, (unsigned long long)rep->acquired);
    if (releases != rep->released + rep->tainted)
        nr__harness_violation(
            run, NR_INV_LOST, "the pool counted %llu leases given back, the workers gave back %llu",
            (unsigned long long)releases, (unsigned long long)(rep->released + rep->tainted));
}

/* After the workers: put the sizes back, look for leases left, and with
 * `destroy` destroy and check the mock's balance. */
static void finish(nr__harness_run *run, nr_harness_report *rep)
{
    if (run->o.resize) {
        if (run->o.pool)
            (void)nr_pool_resize(run->o.pool, run->start_min, run->start_max, NULL);
        else
            (void)nr_manager_resize(run->o.manager, run->o.resource_id, run->start_min,
                                    run->start_max, NULL);
    }
    if (run->o.pool)
        pool_counts(run, rep);
    int64_t left = nr__harness_in_use(run);
    if (left != 0) {
        nr__harness_violation(run, NR_INV_LEASE_LEFT,
                              "%lld lease(s) still out when every worker had finished",
                              (long long)left);
        return;
    }
    if (!run->o.destroy)
        return;
    nr_error e = {0};
    int rc;
    if (run->o.pool) {
        rc = nr_pool_drain(run->o.pool, nr_deadline_in_ms(60000), &e);
        if (rc == NR_OK)
            rc = nr_pool_destroy(run->o.pool, &e);
    } else {
        rc = nr_manager_destroy(run->o.manager, &e);
    }
    if (rc != NR_OK) {
        nr__harness_violation(run, NR_INV_LEASE_LEFT, "destroy at the end: %s: %s", nr_err_name(rc),
                              e.message);
        return;
    }
    rep->destroyed = true;
    if (run->o.mock && nr_mock_check_clean(run->o.mock, &e) != NR_OK)
        nr__harness_violation(run, NR_INV_UNBALANCED, "after destroy: %s", e.message);
}

int nr_harness_run(const nr_harness_options *opts, nr_harness_report *out, nr_error *err)
{
    nr_harness_report *report = out;
    if (!report)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_harness_run: report: must not be NULL");
    size_t size = report->size;
    if (size == 0 || size > sizeof(nr_harness_report))
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_harness_report.size: must be set by NR_HARNESS_REPORT_INIT "
                            "(got %zu)",
                            size);
    nr__harness_run *run = calloc(1, sizeof(*run));
    if (!run)
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_harness_run");
    int rc = take_options(run, opts, err);
    if (rc == NR_OK)
        rc = read_sizes(run, err);
    if (rc != NR_OK) {
        free(run);
        return rc;
    }
    /* the whole report here, the caller's size of it copied out at the end */
    nr_harness_report full;
    memset(&full, 0, sizeof(full));
    report = &full;
    run->seed = nr_harness_seed(run->o.seed);
    report->seed = run->seed;
    run->rep = report;
    pthread_mutex_init(&run->mu, NULL);
    script_mock(run, true);
    rc = run_threads(run, report, err);
    script_mock(run, false);
    if (rc == NR_OK) {
        finish(run, report);
        if (report->broken != NR_INV_NONE) {
            char line[NR_ERROR_MESSAGE_MAX];
            nr_harness_report_format(report, line, sizeof(line));
            rc = nr_error_set(err, NR_ESTATE, NULL, "%s", line);
        }
    }
    pthread_mutex_destroy(&run->mu);
    free(run);
    full.size = size;
    memcpy(out, &full, size);
    return rc;
}
