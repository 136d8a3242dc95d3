/*
 * span.h - internal tracing helpers for the pool and the manager: the
 * enabled check, spans (an operation with a duration and ids) and one-off
 * records.
 *
 * Cost: every helper starts with nr__trace_enabled(level), one relaxed load
 * of nr__trace_threshold and a branch. Only when a sink is installed and
 * wants the level does anything else run (reading the clock, drawing an id,
 * formatting the scope), and that part lives out of line.
 *
 * Use:
 *     nr__span sp;
 *     nr__span_begin(&sp, NR_TRACE_LEVEL_TRACE, "acquire", pool->id, &pool->scope, ctx);
 *     ... the operation ...
 *     nr_pool_stats st;
 *     if (nr__span_active(&sp))          // take a stats snapshot only when traced
 *         nr_pool_stats_get(pool, &st);
 *     nr__span_end_err(&sp, rc, err, nr__span_active(&sp) ? &st : NULL);
 *
 * Every string given to a span must outlive the span, and must hold no
 * secret (ids, fixed text, nr_error messages).
 *
 * Thread safety: a span belongs to one thread (or is handed over with the
 * operation); the functions may run on any thread.
 */
#ifndef NR_OBSERVE_SPAN_H
#define NR_OBSERVE_SPAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nebula/error.h"
#include "nebula/ctx.h"
#include "nebula/pool_stats.h"
#include "nebula/scope.h"
#include "nebula/trace.h"

/* Threshold meaning "no sink": above every level. */
#define NR__TRACE_OFF (NR_TRACE_LEVEL_ERROR + 1)

/*
 * The lowest level the installed sink wants, NR__TRACE_OFF without a sink
 * (always so in a build without NR_HAVE_TRACING). Written by
 * nr_trace_set_sink; read relaxed by nr__trace_enabled. It is only a hint:
 * the emit path checks the sink again under its own protocol, so a stale
 * value can at worst drop or skip one record around a sink change.
 */
extern atomic_int nr__trace_threshold;

/* Whether a record of this level would reach a sink now. */
static inline bool nr__trace_enabled(nr_trace_level level)
{
    /* relaxed: a hint only, see nr__trace_threshold. */
    return (int)level >= atomic_load_explicit(&nr__trace_threshold, memory_order_relaxed);
}

/* Whether (emit, ud) is the installed sink (for nr_trace_jsonl_destroy). */
bool nr__trace_sink_is(void (*emit)(void *ud, const nr_trace_record *r), const void *ud);

/* A random non-zero 64-bit id from a per-thread PRNG (splitmix64, seeded
 * once per thread from the clocks, the thread and a process-wide counter). */
uint64_t nr__trace_random_id(void);

/* ---- spans ---------------------------------------------------------------- */

typedef struct nr__span {
    uint64_t trace_id_hi, trace_id_lo; /* from the context, or a fresh trace for a root span */
    uint64_t span_id;                  /* non-zero while active or after end; 0 when not traced */
    uint64_t parent_span_id;           /* the context's span id, 0 for a root span */
    int64_t start_ns;                  /* nr_now_ns() at begin */
    const char *op;
    const char *resource_id;
    const nr_scope *scope; /* formatted at end; may be NULL */
    nr_trace_level level;
    bool open; /* begun while traced and not yet ended */
} nr__span;

/* Out-of-line halves of the helpers below; call those instead. */
uint64_t nr__span_start(nr__span *s, nr_trace_level level, const char *op, const char *resource_id,
                        const nr_scope *scope, uint64_t trace_id_hi, uint64_t trace_id_lo,
                        uint64_t parent_span_id);
void nr__span_finish(nr__span *s, int code, const char *message, const nr_pool_stats *stats);
void nr__trace_log_slow(nr_trace_level level, const char *op, const char *resource_id, int code,
                        const char *message);

/*
 * Begin a span of op on resource_id (borrowed, may be NULL) in scope (may be
 * NULL). ctx (may be NULL) gives the trace id and the parent span; a context
 * without a trace id starts a new trace. Returns the span's id, non-zero,
 * when a sink wants level; otherwise 0, and the span stays inactive (end
 * does nothing). Always initialises *s.
 */
static inline uint64_t nr__span_begin(nr__span *s, nr_trace_level level, const char *op,
                                      const char *resource_id, const nr_scope *scope,
                                      const nr_ctx *ctx)
{
    s->span_id = 0;
    s->open = false;
    if (!nr__trace_enabled(level))
        return 0;
    return nr__span_start(s, level, op, resource_id, scope, ctx ? ctx->trace_id_hi : 0,
                          ctx ? ctx->trace_id_lo : 0, ctx ? ctx->span_id : 0);
}

/* Whether s was begun while traced and has not ended: only then is a stats
 * snapshot for nr__span_end worth taking. */
static inline bool nr__span_active(const nr__span *s)
{
    return s->open;
}

/*
 * End s: emit one record of the span's level with its duration (>= 0), ids,
 * op, resource, scope text, code and stats (may be NULL; read during the
 * call only). An inactive or already ended span: no-op.
 */
static inline void nr__span_end(nr__span *s, int code, const nr_pool_stats *stats)
{
    if (s->open)
        nr__span_finish(s, code, NULL, stats);
}

/* nr__span_end with err->message as the record's message when code != NR_OK
 * and err != NULL (nr_error messages never hold secrets). */
static inline void nr__span_end_err(nr__span *s, int code, const nr_error *err,
                                    const nr_pool_stats *stats)
{
    if (s->open)
        nr__span_finish(s, code, (code != NR_OK && err) ? err->message : NULL, stats);
}

/* A context for a child operation: the same trace, with s as the parent.
 * Other fields of *child are left as they are. */
static inline void nr__span_child_ctx(const nr__span *s, nr_ctx *child)
{
    child->trace_id_hi = s->trace_id_hi;
    child->trace_id_lo = s->trace_id_lo;
    child->span_id = s->span_id;
}

/* ---- one-off records ---------------------------------------------------------- */

/* Emit a record that is not a span (duration_ns -1, no ids). message: fixed
 * text or an nr_error message; may be NULL. */
static inline void nr__trace_log(nr_trace_level level, const char *op, const char *resource_id,
                                 int code, const char *message)
{
    if (nr__trace_enabled(level))
        nr__trace_log_slow(level, op, resource_id, code, message);
}

/* Emit err (code, resource id and message) as a record of op. NULL: no-op. */
static inline void nr__trace_err(nr_trace_level level, const char *op, const nr_error *err)
{
    if (err && nr__trace_enabled(level))
        nr__trace_log_slow(level, op, err->resource_id[0] ? err->resource_id : NULL, err->code,
                           err->message);
}

#endif
