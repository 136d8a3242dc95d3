/*
 * json_writer.h - a bounded JSON writer that counts what it could not write,
 * shared by the trace formatter (trace_jsonl.c) and the audit hook
 * (hooks/builtin_audit.c).
 *
 * It writes like snprintf: at most cap bytes go into buf, and len counts the
 * bytes the whole output needs, so a caller formats again into a buffer of
 * len + 1 bytes when the first one was too small. The caller writes the NUL.
 *
 * Thread safety: a writer belongs to one thread.
 */
#ifndef NR_OBSERVE_JSON_WRITER_H
#define NR_OBSERVE_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nr__jw {
    char *buf;
    size_t cap; /* writable bytes, the NUL excluded */
    size_t len; /* bytes the output needs so far */
} nr__jw;

void nr__jw_put(nr__jw *w, const char *s, size_t n);
void nr__jw_lit(nr__jw *w, const char *s); /* s as it is: literals and fixed ASCII */
void nr__jw_int(nr__jw *w, long long v);
void nr__jw_uint(nr__jw *w, unsigned long long v);
void nr__jw_hex64(nr__jw *w, uint64_t v); /* 16 lowercase hex digits */
/* A JSON string (quote, backslash and every control character escaped, DEL
 * too; bytes that are not UTF-8 become U+FFFD), or null for NULL. */
void nr__jw_str(nr__jw *w, const char *str);
/* ',' unless first, then "k": (k is a fixed ASCII name). */
void nr__jw_key(nr__jw *w, const char *k, bool first);

#endif
