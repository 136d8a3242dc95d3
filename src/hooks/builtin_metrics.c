/*
 * builtin_metrics.c - the metrics hook: each operation's duration and
 * outcome, per resource and operation (nebula/hooks_builtin.h).
 *
 * A registry look-up (nr_metrics_histogram, nr_metrics_counter) takes the
 * registry's mutex and hashes the label values: too much for every acquire
 * of every thread. So the hook keeps a table of (resource, op) entries, each
 * with its histogram and one counter per outcome, that readers search
 * without a lock:
 *   - a slot goes from NULL to an entry once (compare-and-swap) and never
 *     changes again until destroy; an entry is complete before it is
 *     published (release) and read after an acquire load;
 *   - an entry's counter for an outcome is looked up the first time that
 *     outcome happens and stored (release); two threads that race store the
 *     same handle, since the registry always gives the same handle for the
 *     same labels;
 *   - a full table (HM_SLOTS pairs) makes the operations of further pairs
 *     look their series up in the registry each time: slower, still right.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "base/abi.h"
#include "nebula/alloc.h"
#include "nebula/hooks_builtin.h"

#define HM_SLOTS       1024u             /* a power of two */
#define HM_OUTCOMES    (-NR_ERR_MIN + 2) /* 0 ("ok"), each NR_E* code, then any other code */
#define HM_DURATION    "nr_hook_op_duration_seconds"
#define HM_OPS         "nr_hook_ops_total"
#define HM_UNKNOWN_IDX (HM_OUTCOMES - 1)

typedef struct hm_entry {
    uint64_t hash;
    nr_hook_op op;
    nr_histogram *duration;
    _Atomic(nr_counter *) outcome[HM_OUTCOMES];
    char resource[]; /* NUL-terminated */
} hm_entry;

struct nr_hook_metrics {
    nr_metrics *reg;
    _Atomic(hm_entry *) slots[HM_SLOTS];
};

static const double duration_buckets[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05,
                                          0.1,    0.5,    1,     2.5,   5,    10};

static uint64_t hash_of(const char *resource, nr_hook_op op)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *s = (const unsigned char *)resource; *s; s++) {
        h ^= *s;
        h *= 1099511628211ULL;
    }
    h ^= (uint64_t)op + 1;
    h *= 1099511628211ULL;
    return h;
}

static size_t outcome_index(int rc)
{
    if (rc <= 0 && rc >= NR_ERR_MIN)
        return (size_t)-rc;
    return HM_UNKNOWN_IDX;
}

static const char *outcome_name(int rc)
{
    return rc == NR_OK ? "ok" : nr_err_name(rc);
}

/* ---- registry look-ups ----------------------------------------------------- */

static nr_histogram *lookup_duration(nr_metrics *reg, const char *resource, nr_hook_op op)
{
    const char *labels[2] = {resource, nr_hook_op_name(op)};
    nr_histogram *h = NULL;
    (void)nr_metrics_histogram(reg, HM_DURATION, labels, 2, &h, NULL);
    return h; /* NULL (a no-op handle) only when out of memory */
}

static nr_counter *lookup_ops(nr_metrics *reg, const char *resource, nr_hook_op op, int rc)
{
    const char *labels[3] = {resource, nr_hook_op_name(op), outcome_name(rc)};
    nr_counter *c = NULL;
    (void)nr_metrics_counter(reg, HM_OPS, labels, 3, &c, NULL);
    return c;
}

/* ---- the table -------------------------------------------------------------- */

static bool entry_is(const hm_entry *e, uint64_t hash, const char *resource, nr_hook_op op)
{
    return e->hash == hash && e->op == op && strcmp(e->resource, resource) == 0;
}

static hm_entry *entry_new(nr_metrics *reg, uint64_t hash, const char *resource, nr_hook_op op)
{
    size_t n = strlen(resource) + 1;
    hm_entry *e = nr_malloc(sizeof(*e) + n);
    if (!e)
        return NULL;
    e->hash = hash;
    e->op = op;
    e->duration = lookup_duration(reg, resource, op);
    for (size_t i = 0; i < HM_OUTCOMES; i++)
        atomic_init(&e->outcome[i], NULL);
    memcpy(e->resource, resource, n);
    return e;
}

/* The entry of (resource, op), made when missing; NULL when the table is
 * full or memory ran out. */
static hm_entry *entry_find(nr_hook_metrics *m, const char *resource, nr_hook_op op)
{
    uint64_t hash = hash_of(resource, op);
    hm_entry *fresh = NULL;
    for (size_t k = 0; k < HM_SLOTS; k++) {
        _Atomic(hm_entry *) *slot = &m->slots[(hash + k) & (HM_SLOTS - 1)];
        /* acquire: pairs with the release of the publishing CAS below. */
        hm_entry *e = atomic_load_explicit(slot, memory_order_acquire);
        if (!e) {
            if (!fresh && !(fresh = entry_new(m->reg, hash, resource, op)))
                return NULL;
            hm_entry *expected = NULL;
            /* acq_rel: publishes fresh; on failure reads the winner's entry. */
            if (atomic_compare_exchange_strong_explicit(slot, &expected, fresh,
                                                        memory_order_acq_rel, memory_order_acquire))
                return fresh;
            e = expected;
        }
        if (entry_is(e, hash, resource, op)) {
            nr_free(fresh);
            return e;
        }
    }
    nr_free(fresh);
    return NULL;
}

static nr_counter *entry_counter(nr_hook_metrics *m, hm_entry *e, int rc)
{
    _Atomic(nr_counter *) *slot = &e->outcome[outcome_index(rc)];
    /* acquire/release: the handle is fully made by the registry before it
     * is stored; every racer stores the same handle. */
    nr_counter *c = atomic_load_explicit(slot, memory_order_acquire);
    if (!c) {
        c = lookup_ops(m->reg, e->resource, e->op, rc);
        atomic_store_explicit(slot, c, memory_order_release);
    }
    return c;
}

/* ---- the hook ---------------------------------------------------------------- */

static int metrics_after(void *ud, const nr_hook_call *call, nr_error *err)
{
    (void)err;
    nr_hook_metrics *m = ud;
    const char *resource = call->resource_id ? call->resource_id : "";
    double seconds = (double)(call->duration_ns > 0 ? call->duration_ns : 0) / 1e9;
    hm_entry *e = entry_find(m, resource, call->op);
    if (e) {
        nr_histogram_observe(e->duration, seconds);
        /* An unknown code's counter is shared by every unknown code ("NR_E?"). */
        nr_counter_add(entry_counter(m, e, call->rc), 1);
    } else {
        nr_histogram_observe(lookup_duration(m->reg, resource, call->op), seconds);
        nr_counter_add(lookup_ops(m->reg, resource, call->op, call->rc), 1);
    }
    return NR_OK;
}

int nr_hook_metrics_create(nr_hook_metrics **out, nr_metrics *reg, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics hook: out is NULL");
    *out = NULL;
    if (!reg)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics hook: the registry is NULL");
    static const char *const dur_labels[] = {"resource", "op"};
    static const char *const ops_labels[] = {"resource", "op", "outcome"};
    nr_metric_desc dur = {
        .name = HM_DURATION,
        .help = "Duration of each operation seen by the metrics hook",
        .type = NR_METRIC_HISTOGRAM,
        .label_names = dur_labels,
        .label_count = 2,
        .buckets = duration_buckets,
        .bucket_count = sizeof(duration_buckets) / sizeof(duration_buckets[0]),
    };
    nr_metric_desc ops = {
        .name = HM_OPS,
        .help = "Operations seen by the metrics hook, by outcome",
        .type = NR_METRIC_COUNTER,
        .label_names = ops_labels,
        .label_count = 3,
    };
    int rc = nr_metrics_register(reg, &dur, err);
    if (rc == NR_OK)
        rc = nr_metrics_register(reg, &ops, err);
    if (rc != NR_OK)
        return rc;
    nr_hook_metrics *m = nr_calloc(1, sizeof(*m));
    if (!m)
        return nr_error_set(err, NR_ENOMEM, NULL, "metrics hook: out of memory");
    m->reg = reg;
    for (size_t i = 0; i < HM_SLOTS; i++)
        atomic_init(&m->slots[i], NULL);
    *out = m;
    return NR_OK;
}

void nr_metrics_hook(nr_hook_metrics *m, nr_hook_def *def)
{
    if (!def)
        return;
    nr_hook_def d =
        NR_HOOK_DEF(.name = "metrics", .ops = NR_HOOK_OPS_ALL, .after = metrics_after, .ud = m);
    nr__abi_default(def, &d, sizeof(d));
}

void nr_hook_metrics_destroy(nr_hook_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < HM_SLOTS; i++)
        nr_free(atomic_load_explicit(&m->slots[i], memory_order_relaxed));
    nr_free(m);
}
