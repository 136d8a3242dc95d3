/*
 * trace_span.c - the out-of-line halves of the span helpers in span.h, and
 * span and trace ids.
 *
 * Ids come from a per-thread splitmix64 generator: a counter advanced by an
 * odd constant and passed through a bijective mixer, so one thread never
 * repeats an id within 2^64 draws, and no lock or shared write is involved
 * after the first draw. Each thread's counter starts from both clocks, the
 * address of its own state and a process-wide sequence number, so threads
 * start far apart. Ids are for correlation, not for security.
 */
#define _POSIX_C_SOURCE 200809L
#include "observe/span.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "nebula/scope.h"
#include "nebula/time.h"
#include "nebula/trace.h"

static _Thread_local uint64_t rng_state;
static _Thread_local bool rng_seeded;

/* relaxed: only needs to hand each thread a different number. */
static atomic_uint_fast64_t seed_seq;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void seed_thread(void)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t seq = atomic_fetch_add_explicit(&seed_seq, 1, memory_order_relaxed);
    uint64_t s = mix64((uint64_t)wall.tv_sec * 1000000000ULL + (uint64_t)wall.tv_nsec);
    s ^= mix64((uint64_t)nr_now_ns() + 0x9E3779B97F4A7C15ULL * (seq + 1));
    s ^= mix64((uint64_t)(uintptr_t)&rng_state);
    rng_state = s;
    rng_seeded = true;
}

uint64_t nr__trace_random_id(void)
{
    if (!rng_seeded)
        seed_thread();
    uint64_t id;
    do {
        rng_state += 0x9E3779B97F4A7C15ULL;
        id = mix64(rng_state);
    } while (id == 0);
    return id;
}

uint64_t nr__span_start(nr__span *s, nr_trace_level level, const char *op, const char *resource_id,
                        const nr_scope *scope, uint64_t trace_id_hi, uint64_t trace_id_lo,
                        uint64_t parent_span_id)
{
    if (trace_id_hi == 0 && trace_id_lo == 0) {
        /* A root operation starts its own trace. */
        trace_id_hi = nr__trace_random_id();
        trace_id_lo = nr__trace_random_id();
        parent_span_id = 0;
    }
    s->trace_id_hi = trace_id_hi;
    s->trace_id_lo = trace_id_lo;
    s->parent_span_id = parent_span_id;
    s->span_id = nr__trace_random_id();
    s->op = op;
    s->resource_id = resource_id;
    s->scope = scope;
    s->level = level;
    s->open = true;
    s->start_ns = nr_now_ns();
    return s->span_id;
}

void nr__span_finish(nr__span *s, int code, const char *message, const nr_pool_stats *stats)
{
    int64_t end_ns = nr_now_ns();
    s->open = false;
    if (!nr__trace_enabled(s->level))
        return; /* the sink went away (or raised its level) meanwhile */

    char scope_text[NR_SCOPE_TEXT_MAX];
    const char *scope = NULL;
    if (s->scope) {
        /* NR_SCOPE_TEXT_MAX always fits a valid scope. */
        (void)nr_scope_format(s->scope, scope_text, sizeof scope_text);
        scope = scope_text;
    }
    int64_t duration = end_ns - s->start_ns;
    nr_trace_record r = {
        .level = s->level,
        .op = s->op,
        .message = message,
        .resource_id = s->resource_id,
        .scope = scope,
        .duration_ns = duration >= 0 ? duration : 0,
        .trace_id_hi = s->trace_id_hi,
        .trace_id_lo = s->trace_id_lo,
        .span_id = s->span_id,
        .parent_span_id = s->parent_span_id,
        .stats = stats,
        .code = code,
    };
    nr_trace_emit(&r);
}
