/* mock_script.c - what the mock is told to do: its faults, its health
 * scripts, and the checks a test makes on it at the end. */
#include <stdio.h>
#include <string.h>

#include "mock_internal.h"

void nr_mock_init(nr_mock *m)
{
    if (!m)
        return;
    memset(m, 0, sizeof(*m));
    atomic_store(&m->health, NR_HEALTH_HEALTHY);
}

static bool op_ok(nr_mock_op op)
{
    return (int)op >= 0 && op < NR_MOCK_OPS;
}

void nr_mock_fail_every(nr_mock *m, nr_mock_op op, int every)
{
    if (m && op_ok(op))
        atomic_store(&m->fault[op].every, every > 0 ? every : 0);
}

void nr_mock_fail_nth(nr_mock *m, nr_mock_op op, long nth)
{
    if (m && op_ok(op))
        atomic_store(&m->fault[op].nth, nth > 0 ? nth : 0);
}

int nr_mock_fail_rate(nr_mock *m, nr_mock_op op, int permille, uint64_t seed, nr_error *err)
{
    if (!m)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_mock_fail_rate: m: must not be NULL");
    if (!op_ok(op))
        return nr_error_set(err, NR_EINVAL, NULL, "nr_mock_fail_rate: op: must be an nr_mock_op");
    if (permille < 0 || permille > 1000)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_mock_fail_rate: permille: must be between 0 and 1000 (got %d)",
                            permille);
    /* seed first: a call that sees the new rate must see its seed
     * (release/acquire through permille) */
    atomic_store_explicit(&m->fault[op].seed, seed, memory_order_relaxed);
    atomic_store_explicit(&m->fault[op].permille, permille, memory_order_release);
    return NR_OK;
}

uint64_t nr__mock_mix(uint64_t x)
{
    /* splitmix64's finaliser */
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

bool nr_mock_would_fail(nr_mock *m, nr_mock_op op, long call)
{
    if (!m || !op_ok(op) || call <= 0)
        return false;
    nr_mock_fault *f = &m->fault[op];
    int every = atomic_load(&f->every);
    if (every > 0 && call % every == 0)
        return true;
    long nth = atomic_load(&f->nth);
    if (nth > 0 && call == nth)
        return true;
    int permille = atomic_load_explicit(&f->permille, memory_order_acquire);
    if (permille > 0) {
        uint64_t seed = atomic_load_explicit(&f->seed, memory_order_relaxed);
        uint64_t r = nr__mock_mix(seed ^ nr__mock_mix(((uint64_t)op << 56) ^ (uint64_t)call));
        if ((int)(r % 1000) < permille)
            return true;
    }
    return false;
}

void nr_mock_script(nr_mock *m, uint64_t serial, nr_health_state state)
{
    if (m)
        atomic_store(&m->health_of[serial % NR_MOCK_SCRIPTED], NR_MOCK_STATE(state));
}

void nr_mock_script_clear(nr_mock *m)
{
    if (!m)
        return;
    for (int i = 0; i < NR_MOCK_SCRIPTED; i++)
        atomic_store(&m->health_of[i], 0);
}

int nr_mock_health_sequence(nr_mock *m, const nr_health_state *states, int n, nr_error *err)
{
    if (!m)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_mock_health_sequence: m: must not be NULL");
    if (n < 0 || n > NR_MOCK_SEQ_MAX)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_mock_health_sequence: n: must be between 0 and %d (got %d)",
                            NR_MOCK_SEQ_MAX, n);
    if (n > 0 && !states)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_mock_health_sequence: states: must not be NULL when n > 0");
    for (int i = 0; i < n; i++) {
        if ((int)states[i] < NR_HEALTH_UNKNOWN || (int)states[i] > NR_HEALTH_UNHEALTHY)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "nr_mock_health_sequence: states[%d]: not an nr_health_state", i);
    }
    /* off while it is rewritten; the checks that read it then report the default */
    atomic_store(&m->health_seq_n, 0);
    for (int i = 0; i < n; i++)
        atomic_store(&m->health_seq[i], (int)states[i]);
    atomic_store(&m->health_seq_base, atomic_load(&m->health_checks));
    atomic_store(&m->health_seq_n, n); /* seq_cst: publishes the states and the base */
    return NR_OK;
}

int nr_mock_check_clean(nr_mock *m, nr_error *err)
{
    if (!m)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_mock_check_clean: m: must not be NULL");
    long c = atomic_load(&m->creates), d = atomic_load(&m->destroys), l = atomic_load(&m->live),
         st = atomic_load(&m->stale_calls);
    if (c != d || l != 0 || st != 0) {
        char stale[64] = "";
        if (st)
            snprintf(stale, sizeof(stale), ", %ld calls on stale handles", st);
        return nr_error_set(err, NR_ESTATE, NULL, "mock: %ld created, %ld destroyed, %ld live%s", c,
                            d, l, stale);
    }
    return NR_OK;
}

int nr_mock_hold(nr_mock_handle *h)
{
    return atomic_fetch_add(&h->holders, 1);
}

int nr_mock_unhold(nr_mock_handle *h)
{
    return atomic_fetch_sub(&h->holders, 1);
}

bool nr_mock_handle_alive(const nr_mock_handle *h)
{
    return h && h->magic == NR_MOCK_MAGIC;
}
