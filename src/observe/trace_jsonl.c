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
#include "observe/span.h"

/* ---- a bounded writer that counts what it could not write ------------------ */

typedef struct jw {
    char *buf;
    size_t cap; /* writable bytes, the NUL excluded */
    size_t len; /* bytes the output needs so far */
} jw;

static void put(jw *w, const char *s, size_t n)
{
    if (w->len < w->cap) {
        size_t room = w->cap - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static void puts_lit(jw *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_int(jw *w, long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    put(w, tmp, (size_t)n);
}

static void put_uint(jw *w, unsigned long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", v);
    put(w, tmp, (size_t)n);
}

static void put_hex64(jw *w, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    for (int i = 15; i >= 0; i--) {
        tmp[i] = digits[v & 0xF];
        v >>= 4;
    }
    put(w, tmp, sizeof tmp);
}

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 when the
 * bytes there are not one (overlong forms, surrogates and values above
 * U+10FFFF included). s[0] >= 0x80. */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c >= 0xC2 && c <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
        if (s[1] < lo || s[1] > hi)
            return 0;
        return (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
        if (s[1] < lo || s[1] > hi)
            return 0;
        if ((s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* A JSON string, or null for NULL. A NUL byte ends every check above early,
 * since it is never a continuation byte, so no read passes the terminator. */
static void put_str(jw *w, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    if (!str) {
        puts_lit(w, "null");
        return;
    }
    const unsigned char *s = (const unsigned char *)str;
    put(w, "\"", 1);
    while (*s) {
        const unsigned char *run = s;
        while (*s >= 0x20 && *s < 0x7F && *s != '"' && *s != '\\')
            s++;
        put(w, (const char *)run, (size_t)(s - run));
        unsigned char c = *s;
        if (c == 0)
            break;
        if (c == '"') {
            put(w, "\\\"", 2);
            s++;
        } else if (c == '\\') {
            put(w, "\\\\", 2);
            s++;
        } else if (c < 0x20 || c == 0x7F) {
            switch (c) {
            case '\n':
                put(w, "\\n", 2);
                break;
            case '\r':
                put(w, "\\r", 2);
                break;
            case '\t':
                put(w, "\\t", 2);
                break;
            case '\b':
                put(w, "\\b", 2);
                break;
            case '\f':
                put(w, "\\f", 2);
                break;
            default: {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                put(w, esc, sizeof esc);
            }
            }
            s++;
        } else {
            size_t n = utf8_seq_len(s);
            if (n) {
                put(w, (const char *)s, n);
                s += n;
            } else {
                put(w, "\\ufffd", 6); /* not UTF-8: the replacement character */
                s++;
            }
        }
    }
    put(w, "\"", 1);
}

static void key(jw *w, const char *k, bool first)
{
    if (!first)
        put(w, ",", 1);
    put(w, "\"", 1);
    puts_lit(w, k); /* keys are fixed ASCII names */
    put(w, "\":", 2);
}

static void put_pool(jw *w, const nr_pool_stats *st)
{
    put(w, "{", 1);
    key(w, "total", true);
    put_uint(w, st->total);
    key(w, "idle", false);
    put_uint(w, st->idle);
    key(w, "in_use", false);
    put_uint(w, st->in_use);
    key(w, "creating", false);
    put_uint(w, st->creating);
    key(w, "waiters", false);
    put_uint(w, st->waiters);
    key(w, "max_size", false);
    put_uint(w, st->max_size);
    key(w, "min_idle", false);
    put_uint(w, st->min_idle);
    key(w, "closed", false);
    puts_lit(w, st->closed ? "true" : "false");
    key(w, "acquires", false);
    put_uint(w, st->acquires);
    key(w, "releases", false);
    put_uint(w, st->releases);
    key(w, "timeouts", false);
    put_uint(w, st->timeouts);
    key(w, "exhausted", false);
    put_uint(w, st->exhausted);
    key(w, "creates", false);
    put_uint(w, st->creates);
    key(w, "create_failures", false);
    put_uint(w, st->create_failures);
    key(w, "destroys", false);
    put_uint(w, st->destroys);
    key(w, "wait_ns_max", false);
    put_int(w, st->wait_ns_max);
    put(w, "}", 1);
}

size_t nr_trace_format_json(const nr_trace_record *r, char *buf, size_t len)
{
    jw w = {buf, len ? len - 1 : 0, 0};
    put(&w, "{", 1);
    key(&w, "ts_ns", true);
    put_int(&w, r->ts_ns);
    key(&w, "level", false);
    put_str(&w, nr_trace_level_name(r->level));
    key(&w, "op", false);
    put_str(&w, r->op);
    key(&w, "message", false);
    put_str(&w, r->message);
    key(&w, "resource", false);
    put_str(&w, r->resource_id);
    key(&w, "scope", false);
    put_str(&w, r->scope);
    key(&w, "duration_ns", false);
    if (r->duration_ns >= 0)
        put_int(&w, r->duration_ns);
    else
        puts_lit(&w, "null");
    key(&w, "trace_id", false);
    if (r->trace_id_hi || r->trace_id_lo) {
        put(&w, "\"", 1);
        put_hex64(&w, r->trace_id_hi);
        put_hex64(&w, r->trace_id_lo);
        put(&w, "\"", 1);
    } else {
        puts_lit(&w, "null");
    }
    key(&w, "span_id", false);
    if (r->span_id) {
        put(&w, "\"", 1);
        put_hex64(&w, r->span_id);
        put(&w, "\"", 1);
    } else {
        puts_lit(&w, "null");
    }
    key(&w, "parent_span_id", false);
    if (r->parent_span_id) {
        put(&w, "\"", 1);
        put_hex64(&w, r->parent_span_id);
        put(&w, "\"", 1);
    } else {
        puts_lit(&w, "null");
    }
    key(&w, "code", false);
    put_int(&w, r->code);
    key(&w, "error", false);
    put_str(&w, r->code ? nr_err_name(r->code) : NULL);
    if (r->stats) {
        key(&w, "pool", false);
        put_pool(&w, r->stats);
    }
    put(&w, "}", 1);
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
