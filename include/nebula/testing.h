/*
 * nebula/testing.h - the mock resource type: an in-memory resource type with
 * scripted behaviour, for people who write resource types and for tests of
 * code that uses pools and managers. Library nebula-resource-testing
 * (CMake component `testing`, target nebula::testing). C11 only: the shared
 * state is C11 atomics, read and written with <stdatomic.h>.
 *
 * One nr_mock is the state shared by every instance the type creates: pass
 * it as type_ud (nr_pool_options.type_ud, nr_resource_spec.type_ud) with
 * nr_mock_type. It counts every callback, fails or delays them as scripted,
 * and stamps each handle (nr_mock_handle) so that a double hand-out or a use
 * after destroy is caught.
 *
 * What can be scripted (each op is create, validate, recycle; see
 * nr_mock_fault):
 *   - fail every call while a flag is set, every n-th call, exactly the n-th
 *     call, or each call with a probability drawn from a seed: whether call
 *     k fails is a function of (seed, op, k) only, so the same seed gives
 *     the same sequence of failures by call number whatever the threads do;
 *   - create latency (cancellable: a create asleep gives up with
 *     NR_ECANCELED when its cancel token is set), a create that hangs until
 *     its cancel token is set (NR_ECANCELED) or its deadline passes
 *     (NR_ETIMEDOUT), destroy latency, health check latency;
 *   - health: a default state, a per-call sequence (the k-th check reports
 *     the k-th state), and a state per instance (by creation serial).
 * A failing create returns NR_EUNAVAIL with cause NR_OK and driver code 42
 * and the message "mock create refused (call N)"; validate and recycle
 * "mock validate refused" / "mock recycle refused" (NR_EUNAVAIL).
 *
 * Ownership: the caller owns the nr_mock (stack, static or heap) and must
 * keep it alive until every pool or manager that uses it is destroyed.
 * Handles are allocated by create and freed by destroy; a test may read and
 * stamp a handle it holds a lease on.
 *
 * Thread safety: every counter and every script field is atomic (any
 * thread, at any time: set them with atomic_store, read them with
 * atomic_load). nr_mock_init must be called before the mock is used and
 * while no pool uses it. on_call / on_call_arg are plain fields: set them
 * before the mock is used and leave them. The callbacks themselves run on
 * whichever thread the pool calls them on (nebula/pool.h, "Callbacks").
 * A callback given a handle that is not a live mock handle (destroyed
 * already, or never the mock's) touches nothing, counts it in stale_calls
 * and, but for destroy, fails with NR_ESTATE "mock OP: not a live mock
 * handle"; nr_mock_check_clean then fails. (A handle whose memory was freed
 * is found by its magic on a best-effort basis: the sanitizers see the read
 * as a use after free, which is the bug.)
 *
 * ABI: nr_mock and nr_mock_handle are transparent; their layout belongs to
 * the testing library's version (SOVERSION). Build the tests against the
 * header of the library they run with.
 */
#ifndef NEBULA_TESTING_H
#define NEBULA_TESTING_H

#ifdef __cplusplus
#error "nebula/testing.h is a C11 header (its shared state is C11 atomics)"
#endif

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nebula/config.h"
#include "nebula/export.h"
#include "nebula/health.h"
#include "nebula/manager.h"
#include "nebula/pool.h"
#include "nebula/resource_type.h"
#include "nebula/secret.h"

#define NR_MOCK_MAGIC    0x4D4F434B12345678ULL /* a live handle */
#define NR_MOCK_DEAD     0xDEADDEADDEADDEADULL /* a destroyed one (until its memory is reused) */
#define NR_MOCK_SCRIPTED 64                    /* slots of the per-instance health script */
#define NR_MOCK_LOG      256                   /* serials the check log keeps */
#define NR_MOCK_SEQ_MAX  64                    /* states a per-call health sequence may hold */
#define NR_MOCK_STATE(s) ((int)(s) + 1)

/* One instance. Alive while magic is NR_MOCK_MAGIC. */
typedef struct nr_mock_handle {
    uint64_t magic;      /* NR_MOCK_MAGIC while alive, NR_MOCK_DEAD after destroy */
    uint64_t serial;     /* 1-based creation number within its mock */
    int64_t weight;      /* the config's weight when it was created */
    atomic_int holders;  /* [atomic] tests (and the harness) stamp +1 while they hold it;
                            health checks stamp it too, and count an overlap */
    atomic_int dirty;    /* [atomic] set by a test; recycle clears it */
    int credential_len;  /* length of the credential create() saw; -1 when none */
    char credential[64]; /* its first 63 bytes, NUL-terminated ("" when none) */
} nr_mock_handle;

/* How one op (create, validate, recycle) fails besides its fail_* flag.
 * All [atomic]; 0 = off. A call fails when any rule says so. */
typedef struct nr_mock_fault {
    atomic_int every;    /* calls every, 2*every, ... fail */
    atomic_long nth;     /* exactly call nth fails (1-based) */
    atomic_int permille; /* each call fails with this probability (0..1000) ... */
    atomic_ullong seed;  /* ... decided by (seed, op, call number) */
} nr_mock_fault;

typedef enum nr_mock_op {
    NR_MOCK_CREATE = 0,
    NR_MOCK_VALIDATE,
    NR_MOCK_RECYCLE,
    NR_MOCK_OPS
} nr_mock_op;

/* The state one mock type shares between its instances (type_ud). */
typedef struct nr_mock {
    /* counts [atomic] */
    atomic_long creates;      /* successful creates */
    atomic_long create_calls; /* create calls, successful or not */
    atomic_long destroys;
    atomic_long validates, recycles, health_checks;
    atomic_long live;            /* creates - destroys */
    atomic_long create_canceled; /* creates that gave up because their token was set */
    atomic_long create_timedout; /* hanging creates that gave up at their deadline */
    atomic_long stale_calls;     /* callbacks given a handle that is not a live mock handle */
    /* faults [atomic]: every call of the op fails while its flag is set;
     * fault[op] scripts the others (nr_mock_fail_every, _nth, _rate) */
    atomic_int fail_create, fail_validate, fail_recycle;
    nr_mock_fault fault[NR_MOCK_OPS];
    atomic_int create_hang; /* creates block until cancelled, timed out or this is cleared */
    atomic_int health;      /* nr_health_state the check reports (unless scripted) */
    atomic_long create_delay_ns, destroy_delay_ns, health_delay_ns;
    atomic_int destroying_now, destroying_max; /* destroys running at once, and the peak */
    atomic_ullong health_serial;               /* serial of the instance the latest check is on (set
                                                  before on_call, so on_call can tell which one) */
    /* Per-instance health: health_of[serial % NR_MOCK_SCRIPTED] is 0 to report
     * the default, or NR_MOCK_STATE(state) (nr_mock_script). */
    atomic_int health_of[NR_MOCK_SCRIPTED];
    /* Per-call health: check k (0-based, counted by health_checks) reports
     * health_seq[k] while k < health_seq_n (nr_mock_health_sequence); it
     * wins over the per-instance script and the default. */
    atomic_int health_seq[NR_MOCK_SEQ_MAX];
    atomic_int health_seq_n;
    atomic_long health_seq_base; /* health_checks when the sequence was set */
    /* The serials checked, in order (the first NR_MOCK_LOG of them). */
    atomic_ullong check_log[NR_MOCK_LOG];
    atomic_int check_log_n;
    atomic_long check_overlaps; /* checks that found the handle stamped as held */
    /* Called at the start of every callback with its name ("create",
     * "destroy", "validate", "recycle", "health") on the callback's thread;
     * set before use (not atomic). May block; must not call back into the
     * pool that runs the callback. */
    void (*on_call)(const char *what, void *arg);
    void *on_call_arg;
} nr_mock;

/* The mock's config (JSON like any type's: nr_mock_config_schema):
 *   label  string, at most 32 bytes, default "mock"
 *   weight integer 0..100, default 1 (copied into each handle)
 *   token  secret, default none */
#define NR_MOCK_CONFIG_FIELDS(X, T)                                                                \
    X(T, STRING, label, 0, 32, "mock", 0, "free text")                                             \
    X(T, INT, weight, 0, 100, 1, 0, "a number with a range, copied into each handle")              \
    X(T, SECRET, token, 0, 0, NULL, 0, "a secret")
NR_CONFIG_STRUCT(nr_mock_config, NR_MOCK_CONFIG_FIELDS)

NR_API extern const nr_config_schema nr_mock_config_schema;
/* name "mock"; create, destroy, validate, recycle and health_check. */
NR_API extern const nr_resource_type nr_mock_type;

/* The defaults as a static config (label "mock", weight 1, no token) that
 * lives forever and needs no nr_config_free: for pools that do not care. */
NR_API const nr_mock_config *nr_mock_config_defaults(void);

/* Zero every count and script; health Healthy. NULL is a no-op. Only while
 * no pool uses the mock. */
NR_API void nr_mock_init(nr_mock *m);

/* Script op's failures (see nr_mock_fault): every n-th call (0 = off). */
NR_API void nr_mock_fail_every(nr_mock *m, nr_mock_op op, int every);
/* Exactly the nth call of op fails (1-based; 0 = off). */
NR_API void nr_mock_fail_nth(nr_mock *m, nr_mock_op op, long nth);
/* Each call fails with probability permille/1000, decided by (seed, op,
 * call number): the same seed fails the same call numbers. permille 0 =
 * off. NR_EINVAL naming "permille" when it is outside 0..1000, or op is not
 * an op. */
NR_API int nr_mock_fail_rate(nr_mock *m, nr_mock_op op, int permille, uint64_t seed, nr_error *err);
/* Whether call `call` (1-based) of op fails under the current script: what
 * the callback asks, exposed so that a test can predict a seeded sequence. */
NR_API bool nr_mock_would_fail(nr_mock *m, nr_mock_op op, long call);

/* Make the checks of instance `serial` report state (until scripted again). */
NR_API void nr_mock_script(nr_mock *m, uint64_t serial, nr_health_state state);
/* Forget every per-instance script: all report the default again. */
NR_API void nr_mock_script_clear(nr_mock *m);
/* Checks from the next one on report states[0], states[1], ... then fall
 * back to the per-instance script and the default. n = 0 clears it.
 * NR_EINVAL naming "n" when n > NR_MOCK_SEQ_MAX or states is NULL with
 * n > 0. The counting starts at the current health_checks. */
NR_API int nr_mock_health_sequence(nr_mock *m, const nr_health_state *states, int n, nr_error *err);

/* NR_OK when every instance created was destroyed (creates == destroys,
 * live == 0) and no callback was given a stale handle; NR_ESTATE
 * otherwise, the message saying "mock: C created, D destroyed, L live" (and
 * ", S calls on stale handles" when there were). */
NR_API int nr_mock_check_clean(nr_mock *m, nr_error *err);

/* Stamp a handle as held (+1) or given back (-1); returns the number of
 * holders before the stamp. A test that holds a lease stamps it, and a
 * stamp that finds another holder (hold returns non-zero) is a double
 * hand-out. nr_mock_handle_alive says whether h is a live mock handle. */
NR_API int nr_mock_hold(nr_mock_handle *h);
NR_API int nr_mock_unhold(nr_mock_handle *h);
NR_API bool nr_mock_handle_alive(const nr_mock_handle *h);

/* ---- pools and managers for tests ----------------------------------------
 * Helpers that return a status and fill err (they need no test framework):
 * a test asserts on what they return. Each may be called from any thread;
 * what they make is owned by the caller. */

/* pc = the defaults with min_idle and max_size. */
NR_API void nr_test_pool_config(nr_pool_config *pc, int64_t min_idle, int64_t max_size);

/* A pool of any type: id, type, type_ud, config (borrowed: must outlive the
 * pool), pc (NULL = defaults) and credential (NULL = none). What
 * nr_pool_create returns; err says what was refused. */
NR_API int nr_test_pool_of(nr_pool **out, const char *id, const nr_resource_type *type,
                           void *type_ud, const void *config, const nr_pool_config *pc,
                           const nr_secret *credential, nr_error *err);

/* A pool of the mock with the default config (nr_mock_config_defaults),
 * min_idle and max_size; the pool borrows m. */
NR_API int nr_test_pool_create(nr_pool **out, const char *id, nr_mock *m, int64_t min_idle,
                               int64_t max_size, nr_error *err);

/* A started manager with one resource of the mock, id `id`, default config
 * and pc (NULL = defaults); no background maintenance or health rounds
 * (the test drives them: nr_manager_tick, nr_manager_health_stages), 2
 * workers. The manager borrows m. On failure nothing is left behind. */
NR_API int nr_test_manager_create(nr_manager **out, const char *id, nr_mock *m,
                                  const nr_pool_config *pc, nr_error *err);

/* Acquire from p within within_ms. NR_OK, or the acquire's error with the
 * message prefixed "acquire within N ms". */
NR_API int nr_test_acquire(nr_pool *p, nr_guard *g, int64_t within_ms, nr_error *err);
/* The same through a manager's resource id. */
NR_API int nr_test_manager_acquire(nr_manager *m, const char *id, nr_guard *g, int64_t within_ms,
                                   nr_error *err);

/* The end of a pool: NR_EBUSY ("N leases still out") when a lease is out,
 * touching nothing; otherwise waits up to within_ms for creates still
 * running, destroys the pool and returns what that returned. */
NR_API int nr_test_pool_done(nr_pool *p, int64_t within_ms, nr_error *err);

/* nr_test_pool_done, then nr_mock_check_clean(m): NR_ESTATE when the mock
 * has instances left. */
NR_API int nr_test_pool_end(nr_pool *p, nr_mock *m, nr_error *err);

/* Shut the manager down, waiting up to within_ms for its leases, and
 * destroy it (NR_EBUSY when leases are still out: nothing is freed; give
 * them back and call again), then nr_mock_check_clean(m). */
NR_API int nr_test_manager_end(nr_manager *mgr, nr_mock *m, int64_t within_ms, nr_error *err);

#endif
