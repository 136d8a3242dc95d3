/* config_text.c - paths, JSON string literals, numbers and UTF-8 for config text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config_internal.h"

const char *nr__config_prefix(const char *prefix)
{
    return prefix && *prefix ? prefix : "$";
}

static bool plain_word(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

void nr__config_path(char *out, size_t cap, const char *prefix, const char *name, size_t name_len)
{
    prefix = nr__config_prefix(prefix);
    if (plain_word(name, name_len)) {
        snprintf(out, cap, "%s.%.*s", prefix, (int)name_len, name);
        return;
    }
    int n = snprintf(out, cap, "%s[", prefix);
    if (n < 0 || (size_t)n >= cap)
        return;
    nr__config_quote(out + n, cap - (size_t)n, name, name_len);
    size_t used = strlen(out);
    if (used + 1 < cap)
        memcpy(out + used, "]", 2);
}

/* The escape of byte c as jansson writes it (c itself when none is needed). */
static void escape_byte(unsigned char c, char buf[8])
{
    switch (c) {
    case '"':
        memcpy(buf, "\\\"", 3);
        return;
    case '\\':
        memcpy(buf, "\\\\", 3);
        return;
    case '\b':
        memcpy(buf, "\\b", 3);
        return;
    case '\f':
        memcpy(buf, "\\f", 3);
        return;
    case '\n':
        memcpy(buf, "\\n", 3);
        return;
    case '\r':
        memcpy(buf, "\\r", 3);
        return;
    case '\t':
        memcpy(buf, "\\t", 3);
        return;
    default:
        if (c < 0x20) {
            snprintf(buf, 8, "\\u%04x", c);
        } else {
            buf[0] = (char)c;
            buf[1] = '\0';
        }
    }
}

void nr__config_quote(char *out, size_t cap, const char *s, size_t len)
{
    if (cap == 0)
        return;
    size_t n = 0;
    char buf[8];
    out[0] = '\0';
    if (cap < 2)
        return;
    out[n++] = '"';
    for (size_t i = 0; i <= len; i++) {
        if (i == len)
            memcpy(buf, "\"", 2);
        else
            escape_byte((unsigned char)s[i], buf);
        size_t k = strlen(buf);
        if (n + k >= cap)
            break; /* full: the text stays cut, and long enough to show it */
        memcpy(out + n, buf, k);
        n += k;
    }
    out[n] = '\0';
}

void nr__config_quote_file(FILE *out, const char *s, size_t len)
{
    char buf[8];
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        escape_byte((unsigned char)s[i], buf);
        fputs(buf, out);
    }
    fputc('"', out);
}

int nr__config_double_precision(double d)
{
    char buf[40];
    int p = 1;
    while (p < 17) {
        snprintf(buf, sizeof(buf), "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            break;
        p++;
    }
    /* Below 1e17, give every integer digit so that "%g" writes 100, not 1e+02. */
    double a = d < 0 ? -d : d;
    int digits = 1;
    while (a >= 10 && digits < 17) {
        a /= 10;
        digits++;
    }
    if (a < 10 && digits > p)
        p = digits;
    return p;
}

void nr__config_double_text(char *out, size_t cap, double d)
{
    snprintf(out, cap, "%.*g", nr__config_double_precision(d), d);
}

/* Length of the UTF-8 sequence starting at s[0..avail), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

bool nr__config_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(u + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

int64_t nr__config_enum_count(const nr_field *f)
{
    int64_t n = 0;
    if (f->enum_names)
        while (f->enum_names[n])
            n++;
    return n;
}

void nr__config_enum_list(char *out, size_t cap, const nr_field *f)
{
    size_t n = 0;
    out[0] = '\0';
    for (int64_t i = 0; f->enum_names && f->enum_names[i]; i++) {
        int w = snprintf(out + n, cap - n, "%s%s", i ? ", " : "", f->enum_names[i]);
        if (w < 0 || (size_t)w >= cap - n) {
            if (cap >= 4)
                memcpy(out + cap - 4, "...", 4);
            return;
        }
        n += (size_t)w;
    }
}
