/*
 * nebula/testing_harness.h - run a pool, or a manager's resource, of the
 * mock type (nebula/testing.h) under scripted load and faults, then check
 * the invariants every correct pool keeps. Library nebula-resource-testing.
 *
 * A run: `threads` workers each do `ops` operations. An operation acquires
 * with a deadline of deadline_ms (some with a cancel token that the control
 * thread sets), stamps the handle it got (nr_mock_hold), runs the body (if
 * any), holds it for a drawn time up to hold_max_us, unstamps it and gives
 * it back (released, or tainted for a drawn share). Meanwhile one control
 * thread, every control_ms, sets the posted cancel tokens and, when asked,
 * resizes, evicts all, suspends and resumes, and flips the mock's health
 * and runs a health round. The harness sets the mock's faults that
 * `faults` names (non-zero) at the start and clears those, with the health
 * when it flipped it and the sizes when it resized, at the end; what the
 * test scripted on the mock itself is left as it was. It checks these,
 * the first four as each operation ends and the last two at the end (the
 * pool's counts for `lost` too), counts every break, and keeps the first
 * one seen (report.broken, report.first):
 *
 *   lost            every acquire either succeeded and was given back
 *                   (released or tainted, NR_OK), or failed with
 *                   NR_ETIMEDOUT, NR_ECANCELED or NR_EEXHAUSTED (and
 *                   NR_EUNAVAIL while create failures are scripted, here
 *                   or on the mock before the run, or NR_EUNAVAIL /
 *                   NR_EHEALTH while health flips are, or the mock's health
 *                   is not healthy at the start);
 *                   a body that takes the lease out of its guard, an
 *                   unexpected error or a failing release breaks it; on a
 *                   pool, its stats must also count as many acquires and
 *                   give-backs during the run as the workers saw
 *   double_handout  no handle was handed out while another lease held it
 *                   (its stamp was already set)
 *   stale_handle    every handle handed out was a live mock handle (not one
 *                   destroyed, nor one that is not the mock's)
 *   deadline        no acquire returned later than its deadline plus
 *                   slack_ms (default 1000 ms: the machine may be loaded;
 *                   the check is for waits that ignore their deadline)
 *   lease_left      no lease was out when the workers had finished
 *                   (nr_pool_stats.in_use, or the resource's, is 0)
 *   unbalanced      with `destroy`: after the pool (or the manager) was
 *                   destroyed, nr_mock_check_clean passes (creates ==
 *                   destroys, live == 0, no callback on a stale handle)
 *
 * A pool (or resource) of any type: with opts.mock NULL the harness only
 * watches. It keeps the set of handles leased at the moment itself, so
 * double_handout is checked by handle address; stale_handle and unbalanced
 * need the mock's stamps and counts and are not checked; faults and health
 * flips need the mock and are refused (NR_EINVAL naming the field). This is
 * how a driver's test runs its real type against a real server under the
 * same load and checks.
 *
 * Replay: the seed (options.seed; 0 = NR_TEST_SEED from the environment,
 * else one drawn from the clock) is in the report. Given the same seed, the
 * same options and a fresh mock, these are the same: which create, validate
 * and recycle calls fail (by call number, nr_mock_fail_rate), each worker's
 * sequence of hold times, taints and cancel choices (by thread and op
 * index), and the control thread's sequence of actions and their arguments.
 * Not replayable: the interleaving of the threads, hence which acquire gets
 * which call number, when a cancel lands and what an acquire returns.
 *
 * Ownership: the pool or manager and the mock are the caller's and must
 * outlive the call; with `destroy` the harness destroys the pool (or the
 * manager) at the end, when no lease is left (report.destroyed says it
 * did); otherwise the caller still owns it.
 *
 * Thread safety: nr_harness_run may be called from any thread; the pool
 * or manager must not be destroyed during the run. The body runs on the
 * worker threads, with no lock of the harness held.
 */
#ifndef NEBULA_TESTING_HARNESS_H
#define NEBULA_TESTING_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "nebula/testing.h"

typedef enum nr_invariant {
    NR_INV_NONE = 0,
    NR_INV_LOST,
    NR_INV_DOUBLE_HANDOUT,
    NR_INV_STALE_HANDLE,
    NR_INV_DEADLINE,
    NR_INV_LEASE_LEFT,
    NR_INV_UNBALANCED,
    NR_INV_COUNT
} nr_invariant;

/* "none", "lost", "double_handout", "stale_handle", "deadline",
 * "lease_left", "unbalanced"; "?" for anything else. */
NR_API const char *nr_invariant_name(nr_invariant inv);

/* What the body tells the harness to do with the lease. */
typedef enum nr_harness_verdict {
    NR_HARNESS_RELEASE = 0, /* give it back (or taint it, as drawn) */
    NR_HARNESS_TAINT,       /* taint it: the body found it broken */
} nr_harness_verdict;

/* The body of an operation: runs with the lease held and stamped, on a
 * worker thread. It must not release or taint g itself (it returns what the
 * harness should do); moving the lease out of g is a leak the harness
 * reports (lost, and lease_left unless the test gives it back first). */
typedef nr_harness_verdict (*nr_harness_body)(void *ud, nr_guard *g, uint32_t thread, uint32_t op);

/* The mock's faults for the run (0 = off). */
typedef struct nr_harness_faults {
    int create_fail_permille;   /* seeded (nr_mock_fail_rate) */
    int validate_fail_permille; /* seeded */
    int recycle_fail_permille;  /* seeded */
    int64_t create_delay_us;
    int64_t destroy_delay_us;
    int health_flip_permille; /* per control tick: a random health state, then a round */
} nr_harness_faults;

typedef struct nr_harness_options {
    size_t size; /* sizeof(nr_harness_options): NR_HARNESS_OPTIONS_INIT sets it */
    /* what runs: a pool, or a manager and one of its resources (not both) */
    nr_pool *pool;
    nr_manager *manager;
    const char *resource_id;
    nr_mock *mock;       /* the mock the pool or the resource uses; NULL: a pool of any
                            type, watched only (see above) */
    uint32_t threads;    /* 1..256; 0 = 4 */
    uint32_t ops;        /* per thread, 1..10000000; 0 = 100 */
    int64_t hold_max_us; /* 0..10000000; 0 = no hold */
    int64_t deadline_ms; /* of each acquire, 1..3600000; 0 = 500 */
    int cancel_permille; /* acquires given a token the control thread sets */
    int taint_permille;  /* leases tainted instead of released */
    nr_harness_faults faults;
    int64_t control_ms;   /* control thread period, 1..10000; 0 = 2 */
    bool resize;          /* the control thread resizes (max 1..the start's max) */
    bool evict_all;       /* ... calls evict-all */
    bool suspend;         /* ... suspends, and resumes a tick later */
    int64_t slack_ms;     /* 0 = 1000; negative = 0 */
    uint64_t seed;        /* 0 = NR_TEST_SEED, else drawn */
    nr_harness_body body; /* may be NULL */
    void *body_ud;
    bool destroy; /* destroy the pool (or the manager) at the end and check the mock */
} nr_harness_options;

#define NR_HARNESS_OPTIONS(...)                                                                    \
    {                                                                                              \
        .size = sizeof(nr_harness_options), __VA_ARGS__                                            \
    }
#define NR_HARNESS_OPTIONS_INIT NR_HARNESS_OPTIONS()

#define NR_HARNESS_EXAMPLE_MAX 256

typedef struct nr_harness_report {
    size_t size;   /* sizeof(nr_harness_report) as the caller was built: NR_HARNESS_REPORT_INIT
                      sets it; the harness writes up to it */
    uint64_t seed; /* the seed the run used */
    nr_invariant broken;                /* the first invariant broken; NONE = passed */
    char first[NR_HARNESS_EXAMPLE_MAX]; /* its first example */
    uint64_t violations[NR_INV_COUNT];  /* breaks of each invariant */
    uint64_t acquires, acquired;        /* attempts, and successes */
    uint64_t released, tainted;         /* leases given back each way */
    uint64_t timedout, canceled, exhausted, unavailable, unhealthy, other_errors;
    uint64_t controls; /* control-thread actions done */
    int64_t latest_ns; /* the most an acquire returned past its deadline */
    bool destroyed;    /* `destroy` was asked and done */
} nr_harness_report;

#define NR_HARNESS_REPORT_INIT                                                                     \
    {                                                                                              \
        .size = sizeof(nr_harness_report)                                                          \
    }

/*
 * Run, check, fill *report (required, its size set: NR_HARNESS_REPORT_INIT).
 * NR_OK: every invariant held.
 * NR_ESTATE: one broke; report->broken and report->first say which and
 * how, err's message is the formatted report. NR_EINVAL: bad options or
 * report size, err naming the field and the rule (nothing ran). NR_ENOMEM, NR_EINIT (threads).
 */
NR_API int nr_harness_run(const nr_harness_options *opts, nr_harness_report *report, nr_error *err);

/* The seed a run with options.seed = `seed` uses: seed itself, else
 * NR_TEST_SEED from the environment (decimal or 0x hex), else one drawn
 * from the clock. Never 0. */
NR_API uint64_t nr_harness_seed(uint64_t seed);

/* One line: "harness seed=S: passed (A acquires, ...)" or "harness seed=S:
 * invariant NAME broken (K times); first: EXAMPLE". Returns what
 * snprintf would (the length it needed). */
NR_API int nr_harness_report_format(const nr_harness_report *report, char *buf, size_t n);

#endif
