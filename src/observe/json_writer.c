/*
 * json_writer.c - the bounded JSON writer (json_writer.h).
 */
#include <stdio.h>
#include <string.h>

#include "observe/json_writer.h"

void nr__jw_put(nr__jw *w, const char *s, size_t n)
{
    if (w->len < w->cap) {
        size_t room = w->cap - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

void nr__jw_lit(nr__jw *w, const char *s)
{
    nr__jw_put(w, s, strlen(s));
}

void nr__jw_int(nr__jw *w, long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    nr__jw_put(w, tmp, (size_t)n);
}

void nr__jw_uint(nr__jw *w, unsigned long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", v);
    nr__jw_put(w, tmp, (size_t)n);
}

void nr__jw_hex64(nr__jw *w, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    for (int i = 15; i >= 0; i--) {
        tmp[i] = digits[v & 0xF];
        v >>= 4;
    }
    nr__jw_put(w, tmp, sizeof tmp);
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
void nr__jw_str(nr__jw *w, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    if (!str) {
        nr__jw_lit(w, "null");
        return;
    }
    const unsigned char *s = (const unsigned char *)str;
    nr__jw_put(w, "\"", 1);
    while (*s) {
        const unsigned char *run = s;
        while (*s >= 0x20 && *s < 0x7F && *s != '"' && *s != '\\')
            s++;
        nr__jw_put(w, (const char *)run, (size_t)(s - run));
        unsigned char c = *s;
        if (c == 0)
            break;
        if (c == '"') {
            nr__jw_put(w, "\\\"", 2);
            s++;
        } else if (c == '\\') {
            nr__jw_put(w, "\\\\", 2);
            s++;
        } else if (c < 0x20 || c == 0x7F) {
            switch (c) {
            case '\n':
                nr__jw_put(w, "\\n", 2);
                break;
            case '\r':
                nr__jw_put(w, "\\r", 2);
                break;
            case '\t':
                nr__jw_put(w, "\\t", 2);
                break;
            case '\b':
                nr__jw_put(w, "\\b", 2);
                break;
            case '\f':
                nr__jw_put(w, "\\f", 2);
                break;
            default: {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                nr__jw_put(w, esc, sizeof esc);
            }
            }
            s++;
        } else {
            size_t n = utf8_seq_len(s);
            if (n) {
                nr__jw_put(w, (const char *)s, n);
                s += n;
            } else {
                nr__jw_put(w, "\\ufffd", 6); /* not UTF-8: the replacement character */
                s++;
            }
        }
    }
    nr__jw_put(w, "\"", 1);
}

void nr__jw_key(nr__jw *w, const char *k, bool first)
{
    if (!first)
        nr__jw_put(w, ",", 1);
    nr__jw_put(w, "\"", 1);
    nr__jw_lit(w, k); /* keys are fixed ASCII names */
    nr__jw_put(w, "\":", 2);
}
