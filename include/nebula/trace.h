/*
 * nebula/trace.h - structured trace records, a pluggable sink, and a
 * JSON-lines sink.
 *
 * The library describes what it does (an acquire that waited, a create that
 * failed, a health transition) as nr_trace_record values and hands each one
 * to the sink installed with nr_trace_set_sink. With no sink installed an
 * instrumented call costs one relaxed atomic load and a branch, and builds
 * nothing. A build made with NR_WITH_TRACING=OFF keeps these functions, but
 * nr_trace_set_sink refuses a sink with NR_EUNAVAIL, so no record is ever
 * made.
 *
 * Secrets: a record carries only what the library puts in it: ids, the
 * scope, counters, codes and messages. Messages are nr_error messages (or
 * fixed text), which never hold secret values (see nebula/error.h), so a
 * sink never sees a credential.
 *
 * Thread safety: every function may be called from any thread at any time.
 * nr_trace_set_sink waits for emits in flight on the sink it replaces, so
 * once it returns the old sink is never called again. A sink's emit runs on
 * the thread that made the record, possibly on many threads at once, with
 * no library lock held.
 */
#ifndef NEBULA_TRACE_H
#define NEBULA_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nebula/error.h"
#include "nebula/ctx.h"
#include "nebula/pool_stats.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Severity, lowest first. */
typedef enum nr_trace_level {
    NR_TRACE_LEVEL_TRACE = 0, /* every operation (spans of acquire, release, ...) */
    NR_TRACE_LEVEL_DEBUG = 1,
    NR_TRACE_LEVEL_INFO = 2,
    NR_TRACE_LEVEL_WARN = 3,
    NR_TRACE_LEVEL_ERROR = 4,
} nr_trace_level;

/* "trace", "debug", "info", "warn", "error"; "invalid" otherwise. */
NR_API const char *nr_trace_level_name(nr_trace_level level);

/*
 * One record. Every pointer in it (strings and stats) is valid only during
 * the emit call that receives it: a sink that keeps anything copies it.
 */
typedef struct nr_trace_record {
    nr_trace_level level;
    const char *op;          /* what happened: "acquire", "release", "create", ...; may be NULL */
    const char *message;     /* an nr_error message or fixed text; may be NULL */
    const char *resource_id; /* the pool or resource id; may be NULL */
    const char *scope;       /* scope text, "tenant:acme/workflow:billing"; may be NULL */
    int64_t ts_ns;           /* wall clock (CLOCK_REALTIME) in ns since the Unix epoch;
                                0 in a record given to nr_trace_emit = stamp it now */
    int64_t duration_ns;     /* a span's duration; -1 when the record is not a span */
    uint64_t trace_id_hi, trace_id_lo; /* 128-bit trace id; both 0 = none */
    uint64_t span_id;                  /* 0 when the record is not a span */
    uint64_t parent_span_id;           /* 0 for a root span or no span */
    const nr_pool_stats *stats;        /* the pool's stats at the end of the span; may be NULL */
    int code;                          /* NR_OK or the NR_E* code the operation returned */
} nr_trace_record;

/* Where records go. emit is called with ud and the record. */
typedef struct nr_trace_sink {
    void (*emit)(void *ud, const nr_trace_record *r);
    void *ud;
} nr_trace_sink;

/*
 * Install s (copied) to receive every record of level >= min_level; NULL
 * removes the sink, and tracing costs nothing again.
 *
 * Lifetime: the sink (its ud included) must stay valid until a later
 * nr_trace_set_sink call replaces or removes it and returns. That call waits
 * for every emit already running on the old sink, so the old ud may be freed
 * as soon as it returns. Records made while the call runs go to the old
 * sink, to the new one, or (while a sink is being installed or removed) to
 * none.
 *
 * A sink's emit must not block indefinitely (the next nr_trace_set_sink
 * waits for it), and must not call nr_trace_set_sink (NR_EBUSY). Records the
 * emitting thread makes while inside emit are dropped, so a sink that calls
 * the library cannot recurse.
 *
 * Returns NR_OK; NR_EINVAL when s->emit is NULL or min_level is not a level;
 * NR_EBUSY when called from inside a sink's emit; NR_EUNAVAIL when the
 * library was built with NR_WITH_TRACING=OFF (removing, s == NULL, is then
 * NR_OK).
 */
NR_API int nr_trace_set_sink(const nr_trace_sink *s, nr_trace_level min_level);

/*
 * Hand r to the installed sink when its level passes the sink's min_level
 * (nothing happens otherwise). r->ts_ns == 0 is stamped with the current
 * wall clock; the sink receives a copy, so r itself is not changed. The
 * library uses this for its own records; a driver may use it too, with the
 * same rule: no secret in any field. r == NULL or an invalid level: no-op.
 */
NR_API void nr_trace_emit(const nr_trace_record *r);

/* ---- JSON lines ---------------------------------------------------------- */

/*
 * Format r as one JSON object (no newline) into buf, like snprintf: at most
 * len - 1 characters and a NUL are written (nothing when len == 0), and the
 * length the whole object needs, without the NUL, comes back.
 *
 * Keys, always all present and in this order:
 *   ts_ns           integer
 *   level           "trace" | "debug" | "info" | "warn" | "error"
 *   op, message, resource, scope      string, or null when NULL
 *   duration_ns     integer, or null when < 0 (not a span)
 *   trace_id        32 lowercase hex digits (hi then lo), or null when both are 0
 *   span_id, parent_span_id           16 lowercase hex digits, or null when 0
 *   code            integer (0 or an NR_E* code)
 *   error           nr_err_name(code), e.g. "NR_ETIMEDOUT", or null when code is 0
 *   pool            present only when stats != NULL: an object with the integer
 *                   members total, idle, in_use, creating, waiters, max_size,
 *                   min_idle, acquires, releases, timeouts, exhausted, creates,
 *                   create_failures, destroys, wait_ns_max and the boolean closed
 * Strings are escaped as JSON requires (quote, backslash and every control
 * character, DEL too); bytes that are not valid UTF-8 become U+FFFD, so the
 * output is always valid UTF-8 JSON.
 */
NR_API size_t nr_trace_format_json(const nr_trace_record *r, char *buf, size_t len);

/* A sink writing one JSON object per line to a FILE. */
typedef struct nr_trace_jsonl nr_trace_jsonl;

/* Flags for nr_trace_jsonl_create. */
#define NR_TRACE_JSONL_FLUSH 1u /* fflush after every line */

/*
 * Create a JSON-lines sink writing to fp (borrowed: it must stay open until
 * the sink is destroyed). Each record becomes one line written with a single
 * fwrite under the FILE's lock (flockfile), so lines never interleave, also
 * not with other stdio writes to fp from this process. flags: 0 or
 * NR_TRACE_JSONL_FLUSH. NR_EINVAL (out or fp NULL, unknown flag), NR_ENOMEM.
 */
NR_API int nr_trace_jsonl_create(nr_trace_jsonl **out, FILE *fp, unsigned flags, nr_error *err);

/* Fill *out_sink with the sink that writes to j, ready for nr_trace_set_sink. */
NR_API void nr_trace_jsonl_sink(nr_trace_jsonl *j, nr_trace_sink *out_sink);

typedef struct nr_trace_jsonl_stats {
    uint64_t lines;        /* lines written */
    uint64_t dropped;      /* records not written: a line buffer could not be allocated */
    uint64_t write_errors; /* records whose fwrite (or fflush) failed */
} nr_trace_jsonl_stats;

NR_API void nr_trace_jsonl_stats_get(const nr_trace_jsonl *j, nr_trace_jsonl_stats *out);

/*
 * Destroy j. NR_EBUSY, freeing nothing, while j is the installed sink:
 * remove or replace it first. fp is not closed. NULL is a no-op (NR_OK).
 */
NR_API int nr_trace_jsonl_destroy(nr_trace_jsonl *j);

#ifdef __cplusplus
}
#endif
#endif
