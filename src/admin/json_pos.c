/*
 * json_pos.c - record the line and column of every value of a JSON text
 * under its JSON path. See json_pos.h.
 */
#define _DEFAULT_SOURCE
#include "json_pos.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scanner {
    const char *s;
    size_t len, i;
    int line, col;
    cf_pos_map *map;
    char *path; /* the current path, grown as needed */
    size_t plen, pcap;
    bool oom;
} scanner;

static int peek(const scanner *sc)
{
    return sc->i < sc->len ? (unsigned char)sc->s[sc->i] : -1;
}

static void advance(scanner *sc)
{
    if (sc->i >= sc->len)
        return;
    unsigned char c = (unsigned char)sc->s[sc->i++];
    if (c == '\n') {
        sc->line++;
        sc->col = 0;
    } else if ((c & 0xC0) != 0x80) {
        sc->col++; /* one per character, not per byte */
    }
}

static void skip_ws(scanner *sc)
{
    int c;
    while ((c = peek(sc)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        advance(sc);
}

static bool path_put(scanner *sc, const char *text, size_t n)
{
    if (sc->plen + n + 1 > sc->pcap) {
        size_t cap = (sc->plen + n + 1) * 2;
        char *p = realloc(sc->path, cap);
        if (!p) {
            sc->oom = true;
            return false;
        }
        sc->path = p;
        sc->pcap = cap;
    }
    memcpy(sc->path + sc->plen, text, n);
    sc->plen += n;
    sc->path[sc->plen] = '\0';
    return true;
}

/* Add the entry of the value starting here; its index, or SIZE_MAX when
 * memory ran out. Its end is set once the value is read. */
static size_t record(scanner *sc, int line, int col, int kline, int kcol)
{
    cf_pos_map *m = sc->map;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        cf_pos_entry *v = realloc(m->v, cap * sizeof(*v));
        if (!v) {
            sc->oom = true;
            return SIZE_MAX;
        }
        m->v = v;
        m->cap = cap;
    }
    char *p = strdup(sc->path);
    if (!p) {
        sc->oom = true;
        return SIZE_MAX;
    }
    m->v[m->n] = (cf_pos_entry){.path = p,
                                .line = line,
                                .col = col,
                                .kline = kline,
                                .kcol = kcol,
                                .start = sc->i,
                                .end = sc->i};
    return m->n++;
}

static unsigned hexval(int c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (unsigned)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (unsigned)(c - 'A' + 10);
    return 0;
}

static unsigned read_hex4(scanner *sc)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        v = v * 16 + hexval(peek(sc));
        advance(sc);
    }
    return v;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Read a string literal (at its opening quote); its decoded bytes go to
 * *out (malloc'd) when out is not NULL. */
static void read_string(scanner *sc, char **out, size_t *outlen)
{
    size_t cap = 16, n = 0;
    char *buf = out ? malloc(cap) : NULL;
    if (out && !buf)
        sc->oom = true;
    advance(sc); /* the quote */
    int c;
    while ((c = peek(sc)) != -1 && c != '"') {
        char tmp[8];
        size_t k = 1;
        tmp[0] = (char)c;
        advance(sc);
        if (c == '\\') {
            int e = peek(sc);
            advance(sc);
            switch (e) {
            case 'b':
                tmp[0] = '\b';
                break;
            case 'f':
                tmp[0] = '\f';
                break;
            case 'n':
                tmp[0] = '\n';
                break;
            case 'r':
                tmp[0] = '\r';
                break;
            case 't':
                tmp[0] = '\t';
                break;
            case 'u': {
                uint32_t cp = read_hex4(sc);
                if (cp >= 0xD800 && cp < 0xDC00 && peek(sc) == '\\') {
                    advance(sc);
                    advance(sc); /* 'u' */
                    uint32_t lo = read_hex4(sc);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                k = put_utf8(tmp, cp);
                break;
            }
            default:
                tmp[0] = (char)e;
            }
        }
        if (buf) {
            if (n + k + 1 > cap) {
                cap = (n + k + 1) * 2;
                char *b = realloc(buf, cap);
                if (!b) {
                    free(buf);
                    buf = NULL;
                    sc->oom = true;
                    continue;
                }
                buf = b;
            }
            memcpy(buf + n, tmp, k);
            n += k;
        }
    }
    advance(sc); /* the closing quote */
    if (out) {
        if (buf)
            buf[n] = '\0';
        *out = buf;
        *outlen = n;
    }
}

static bool plain_word(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Append the path segment of key, as the config report writes it. */
static void put_key(scanner *sc, const char *key, size_t len)
{
    if (plain_word(key, len)) {
        path_put(sc, ".", 1);
        path_put(sc, key, len);
        return;
    }
    path_put(sc, "[\"", 2);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        char esc[8];
        switch (c) {
        case '"':
            path_put(sc, "\\\"", 2);
            continue;
        case '\\':
            path_put(sc, "\\\\", 2);
            continue;
        case '\b':
            path_put(sc, "\\b", 2);
            continue;
        case '\f':
            path_put(sc, "\\f", 2);
            continue;
        case '\n':
            path_put(sc, "\\n", 2);
            continue;
        case '\r':
            path_put(sc, "\\r", 2);
            continue;
        case '\t':
            path_put(sc, "\\t", 2);
            continue;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                path_put(sc, esc, 6);
            } else {
                path_put(sc, (const char *)&key[i], 1);
            }
        }
    }
    path_put(sc, "\"]", 2);
}

static void value(scanner *sc, int kline, int kcol, int depth);

static void object(scanner *sc, int depth)
{
    advance(sc); /* '{' */
    skip_ws(sc);
    size_t base = sc->plen;
    while (peek(sc) == '"' && !sc->oom) {
        int kline = sc->line, kcol = sc->col + 1;
        char *key = NULL;
        size_t klen = 0;
        read_string(sc, &key, &klen);
        if (key)
            put_key(sc, key, klen);
        free(key);
        skip_ws(sc);
        advance(sc); /* ':' */
        skip_ws(sc);
        value(sc, kline, kcol, depth + 1);
        sc->plen = base;
        sc->path[base] = '\0';
        skip_ws(sc);
        if (peek(sc) != ',')
            break;
        advance(sc);
        skip_ws(sc);
    }
    advance(sc); /* '}' */
}

static void array(scanner *sc, int depth)
{
    advance(sc); /* '[' */
    skip_ws(sc);
    size_t base = sc->plen;
    for (size_t idx = 0; peek(sc) != ']' && peek(sc) != -1 && !sc->oom; idx++) {
        char seg[32];
        int n = snprintf(seg, sizeof(seg), "[%zu]", idx);
        path_put(sc, seg, (size_t)n);
        value(sc, 0, 0, depth + 1);
        sc->plen = base;
        sc->path[base] = '\0';
        skip_ws(sc);
        if (peek(sc) != ',')
            break;
        advance(sc);
        skip_ws(sc);
    }
    advance(sc); /* ']' */
}

static void value(scanner *sc, int kline, int kcol, int depth)
{
    int line = sc->line, col = sc->col + 1;
    size_t at = record(sc, line, col, kline ? kline : line, kline ? kcol : col);
    if (depth > 4096) {
        sc->oom = true; /* deeper than jansson accepts anyway */
        return;
    }
    int c = peek(sc);
    if (c == '{') {
        object(sc, depth);
    } else if (c == '[') {
        array(sc, depth);
    } else if (c == '"') {
        read_string(sc, NULL, NULL);
    } else {
        while ((c = peek(sc)) != -1 && c != ',' && c != '}' && c != ']' && c != ' ' && c != '\n' &&
               c != '\t' && c != '\r')
            advance(sc);
    }
    if (at != SIZE_MAX)
        sc->map->v[at].end = sc->i;
}

int cf_pos_scan(cf_pos_map *map, const char *text, size_t len)
{
    scanner sc = {.s = text, .len = len, .line = 1, .col = 0, .map = map};
    if (!path_put(&sc, "$", 1))
        return -1;
    skip_ws(&sc);
    value(&sc, 0, 0, 0);
    free(sc.path);
    return sc.oom ? -1 : 0;
}

const cf_pos_entry *cf_pos_find(const cf_pos_map *map, const char *path)
{
    const cf_pos_entry *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < map->n; i++) {
        const char *p = map->v[i].path;
        size_t n = strlen(p);
        if (strncmp(p, path, n) != 0)
            continue;
        char next = path[n];
        if (next != '\0' && next != '.' && next != '[')
            continue;
        if (!best || n > best_len) {
            best = &map->v[i];
            best_len = n;
        }
    }
    return best;
}

void cf_pos_free(cf_pos_map *map)
{
    for (size_t i = 0; i < map->n; i++)
        free(map->v[i].path);
    free(map->v);
    map->v = NULL;
    map->n = map->cap = 0;
}
