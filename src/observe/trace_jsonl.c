/*
 * trace_jsonl.c - records as JSON objects, and the JSON-lines sink.
 *
 * The formatter writes like snprintf: into a bounded buffer, counting the
 * length the whole object needs. The sink formats into a stack buffer and
 * only when a line does not fit there formats again into one allocated
 * (through nr_malloc) to the exact size. Each line, newline included, goes
 * out in one fwrite between flockfile and funlockfile, so lines from
 * different threads never interleave.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nebula/alloc.h"
#include "nebula/error.h"
#include "nebula/trace.h"
#include "observe/json_writer.h"
#include "observe/span.h"

static void put_pool(nr__jw *w, const nr_pool_stats *st)
{
    nr__jw_put(w, "{", 1);
    nr__jw_key(w, "total", true);
    nr__jw_uint(w, st->total);
    nr__jw_key(w, "idle", false);
    nr__jw_uint(w, st->idle);
    nr__jw_key(w, "in_use", false);
    nr__jw_uint(w, st->in_use);
    nr__jw_key(w, "creating", false);
    nr__jw_uint(w, st->creating);
    nr__jw_key(w, "waiters", false);
    nr__jw_uint(w, st->waiters);
    nr__jw_key(w, "max_size", false);
    nr__jw_uint(w, st->max_size);
    nr__jw_key(w, "min_idle", false);
    nr__jw_uint(w, st->min_idle);
    nr__jw_key(w, "closed", false);
    nr__jw_lit(w, st->closed ? "true" : "false");
    nr__jw_key(w, "acquires", false);
    nr__jw_uint(w, st->acquires);
    nr__jw_key(w, "releases", false);
    nr__jw_uint(w, st->releases);
    nr__jw_key(w, "timeouts", false);
    nr__jw_uint(w, st->timeouts);
    nr__jw_key(w, "exhausted", false);
    nr__jw_uint(w, st->exhausted);
    nr__jw_key(w, "creates", false);
    nr__jw_uint(w, st->creates);
    nr__jw_key(w, "create_failures", false);
    nr__jw_uint(w, st->create_failures);
    nr__jw_key(w, "destroys", false);
    nr__jw_uint(w, st->destroys);
    nr__jw_key(w, "wait_ns_max", false);
    nr__jw_int(w, st->wait_ns_max);
    nr__jw_put(w, "}", 1);
}

size_t nr_trace_format_json(const nr_trace_record *r, char *buf, size_t len)
{
    nr__jw w = {buf, len ? len - 1 : 0, 0};
    nr__jw_put(&w, "{", 1);
    nr__jw_key(&w, "ts_ns", true);
    nr__jw_int(&w, r->ts_ns);
    nr__jw_key(&w, "level", false);
    nr__jw_str(&w, nr_trace_level_name(r->level));
    nr__jw_key(&w, "op", false);
    nr__jw_str(&w, r->op);
    nr__jw_key(&w, "message", false);
    nr__jw_str(&w, r->message);
    nr__jw_key(&w, "resource", false);
    nr__jw_str(&w, r->resource_id);
    nr__jw_key(&w, "scope", false);
    nr__jw_str(&w, r->scope);
    nr__jw_key(&w, "duration_ns", false);
    if (r->duration_ns >= 0)
        nr__jw_int(&w, r->duration_ns);
    else
        nr__jw_lit(&w, "null");
    nr__jw_key(&w, "trace_id", false);
    if (r->trace_id_hi || r->trace_id_lo) {
        nr__jw_put(&w, "\"", 1);
        nr__jw_hex64(&w, r->trace_id_hi);
        nr__jw_hex64(&w, r->trace_id_lo);
        nr__jw_put(&w, "\"", 1);
    } else {
        nr__jw_lit(&w, "null");
    }
    nr__jw_key(&w, "span_id", false);
    if (r->span_id) {
        nr__jw_put(&w, "\"", 1);
        nr__jw_hex64(&w, r->span_id);
        nr__jw_put(&w, "\"", 1);
    } else {
        nr__jw_lit(&w, "null");
    }
    nr__jw_key(&w, "parent_span_id", false);
    if (r->parent_span_id) {
        nr__jw_put(&w, "\"", 1);
        nr__jw_hex64(&w, r->parent_span_id);
        nr__jw_put(&w, "\"", 1);
    } else {
        nr__jw_lit(&w, "null");
    }
    nr__jw_key(&w, "code", false);
    nr__jw_int(&w, r->code);
    nr__jw_key(&w, "error", false);
    nr__jw_str(&w, r->code ? nr_err_name(r->code) : NULL);
    if (r->stats) {
        nr__jw_key(&w, "pool", false);
        put_pool(&w, r->stats);
    }
    nr__jw_put(&w, "}", 1);
    if (len)
        buf[w.len < w.cap ? w.len : w.cap] = '\0';
    return w.len;
}

/* ---- the JSON-lines sink ----------------------------------------------------- */

struct nr_trace_jsonl {
    FILE *fp;
    unsigned flags;
    /* relaxed: statistics only, read after the fact. */
    atomic_uint_fast64_t lines, dropped, write_errors;
};

/* Lines up to this long (newline included) are formatted on the stack. */
#define JSONL_STACK_LINE 2048

static void jsonl_emit(void *ud, const nr_trace_record *r)
{
    nr_trace_jsonl *j = ud;
    char stack[JSONL_STACK_LINE];
    char *line = stack;
    /* Leave room for the newline: format into all but the last byte. */
    size_t n = nr_trace_format_json(r, stack, sizeof stack - 1);
    if (n + 2 > sizeof stack) {
        line = nr_malloc(n + 2);
        if (!line) {
            atomic_fetch_add_explicit(&j->dropped, 1, memory_order_relaxed);
            return;
        }
        (void)nr_trace_format_json(r, line, n + 1);
    }
    line[n] = '\n';

    flockfile(j->fp);
    bool ok = fwrite(line, 1, n + 1, j->fp) == n + 1;
    if (ok && (j->flags & NR_TRACE_JSONL_FLUSH))
        ok = fflush(j->fp) == 0;
    funlockfile(j->fp);

    if (line != stack)
        nr_free(line);
    if (ok)
        atomic_fetch_add_explicit(&j->lines, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&j->write_errors, 1, memory_order_relaxed);
}

int nr_trace_jsonl_create(nr_trace_jsonl **out, FILE *fp, unsigned flags, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "trace jsonl: out must not be NULL");
    *out = NULL;
    if (!fp)
        return nr_error_set(err, NR_EINVAL, NULL, "trace jsonl: fp must not be NULL");
    if (flags & ~NR_TRACE_JSONL_FLUSH)
        return nr_error_set(err, NR_EINVAL, NULL, "trace jsonl: unknown flags 0x%x",
                            flags & ~NR_TRACE_JSONL_FLUSH);
    nr_trace_jsonl *j = nr_malloc(sizeof *j);
    if (!j)
        return nr_error_set(err, NR_ENOMEM, NULL, "trace jsonl: out of memory");
    j->fp = fp;
    j->flags = flags;
    atomic_init(&j->lines, 0);
    atomic_init(&j->dropped, 0);
    atomic_init(&j->write_errors, 0);
    *out = j;
    return NR_OK;
}

void nr_trace_jsonl_sink(nr_trace_jsonl *j, nr_trace_sink *out_sink)
{
    out_sink->emit = jsonl_emit;
    out_sink->ud = j;
}

void nr_trace_jsonl_stats_get(const nr_trace_jsonl *j, nr_trace_jsonl_stats *out)
{
    /* relaxed: statistics only. */
    out->lines = atomic_load_explicit(&j->lines, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&j->dropped, memory_order_relaxed);
    out->write_errors = atomic_load_explicit(&j->write_errors, memory_order_relaxed);
}

int nr_trace_jsonl_destroy(nr_trace_jsonl *j)
{
    if (!j)
        return NR_OK;
    if (nr__trace_sink_is(jsonl_emit, j))
        return NR_EBUSY;
    nr_free(j);
    return NR_OK;
}
