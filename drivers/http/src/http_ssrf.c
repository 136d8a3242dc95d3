/*
 * http_ssrf.c - address classes for SSRF protection, and allow-list entries.
 *
 * Everything here is a pure function of its arguments, so that the tables of
 * tests/test_http_ssrf.c can check it without a network.
 */
#define _POSIX_C_SOURCE 200809L
#include "http_ssrf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/alloc.h"

static nr__http_addr_class classify4(const uint8_t *b)
{
    uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
#define IN4(net, len) ((a >> (32 - (len))) == ((uint32_t)(net) >> (32 - (len))))
    /* the single cloud metadata addresses first: they sit inside wider classes */
    if (a == 0xA9FEA9FEu     /* 169.254.169.254: AWS, GCP, Azure, OCI, ... */
        || a == 0x646464C8u  /* 100.100.100.200: Alibaba Cloud */
        || a == 0xA83F8110u) /* 168.63.129.16: Azure wire server */
        return NR__HTTP_ADDR_METADATA;
    if (a == 0xFFFFFFFFu)
        return NR__HTTP_ADDR_BROADCAST;
    if (IN4(0x00000000u, 8)) /* 0.0.0.0/8 "this network" */
        return NR__HTTP_ADDR_UNSPECIFIED;
    if (IN4(0x7F000000u, 8))
        return NR__HTTP_ADDR_LOOPBACK;
    if (IN4(0x0A000000u, 8) || IN4(0xAC100000u, 12) || IN4(0xC0A80000u, 16))
        return NR__HTTP_ADDR_PRIVATE;
    if (IN4(0xA9FE0000u, 16))
        return NR__HTTP_ADDR_LINK_LOCAL;
    if (IN4(0x64400000u, 10))
        return NR__HTTP_ADDR_CGNAT;
    if (IN4(0xE0000000u, 4))
        return NR__HTTP_ADDR_MULTICAST;
    if (IN4(0xF0000000u, 4) || IN4(0xC0000000u, 24)) /* class E; IETF protocol assignments */
        return NR__HTTP_ADDR_RESERVED;
#undef IN4
    return NR__HTTP_ADDR_PUBLIC;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static nr__http_addr_class classify6(const uint8_t *b)
{
    static const uint8_t metadata6[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0,    0,
                                          0,    0,    0,    0,    0, 0, 0x02, 0x54};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (all_zero(b, 16))
        return NR__HTTP_ADDR_UNSPECIFIED;
    if (all_zero(b, 15) && b[15] == 1)
        return NR__HTTP_ADDR_LOOPBACK;
    if (all_zero(b, 10) && b[10] == 0xff && b[11] == 0xff) /* ::ffff:a.b.c.d */
        return classify4(b + 12);
    if (all_zero(b, 12)) /* ::a.b.c.d, deprecated IPv4-compatible */
        return classify4(b + 12);
    if (memcmp(b, nat64, sizeof(nat64)) == 0) /* 64:ff9b::a.b.c.d */
        return classify4(b + 12);
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 &&
        b[5] == 0x01) /* 64:ff9b:1::/48, local-use NAT64 */
        return NR__HTTP_ADDR_PRIVATE;
    if (b[0] == 0x20 && b[1] == 0x02) /* 2002:aabb:ccdd::/48, 6to4 */
        return classify4(b + 2);
    if (memcmp(b, metadata6, 16) == 0) /* fd00:ec2::254: AWS over IPv6 */
        return NR__HTTP_ADDR_METADATA;
    if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
        return NR__HTTP_ADDR_PRIVATE;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 */
        return NR__HTTP_ADDR_LINK_LOCAL;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10, deprecated site-local */
        return NR__HTTP_ADDR_PRIVATE;
    if (b[0] == 0xff)
        return NR__HTTP_ADDR_MULTICAST;
    if (b[0] == 0x01 && b[1] == 0x00 && all_zero(b + 2, 6)) /* 100::/64 discard-only */
        return NR__HTTP_ADDR_RESERVED;
    return NR__HTTP_ADDR_PUBLIC;
}

nr__http_addr_class nr__http_addr_classify(const nr__http_addr *a)
{
    if (!a)
        return NR__HTTP_ADDR_RESERVED;
    if (a->family == 4)
        return classify4(a->b);
    if (a->family == 6)
        return classify6(a->b);
    return NR__HTTP_ADDR_RESERVED;
}

const char *nr__http_addr_class_name(nr__http_addr_class c)
{
    switch (c) {
    case NR__HTTP_ADDR_PUBLIC:
        return "public";
    case NR__HTTP_ADDR_LOOPBACK:
        return "loopback";
    case NR__HTTP_ADDR_PRIVATE:
        return "private";
    case NR__HTTP_ADDR_LINK_LOCAL:
        return "link-local";
    case NR__HTTP_ADDR_METADATA:
        return "link-local/cloud-metadata";
    case NR__HTTP_ADDR_UNSPECIFIED:
        return "unspecified";
    case NR__HTTP_ADDR_CGNAT:
        return "carrier-grade NAT";
    case NR__HTTP_ADDR_MULTICAST:
        return "multicast";
    case NR__HTTP_ADDR_BROADCAST:
        return "broadcast";
    case NR__HTTP_ADDR_RESERVED:
        return "reserved";
    }
    return "reserved";
}

bool nr__http_addr_parse(const char *text, nr__http_addr *out)
{
    if (!text || !out)
        return false;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, text, out->b) == 1) {
        out->family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, text, out->b) == 1) {
        out->family = 6;
        return true;
    }
    return false;
}

void nr__http_addr_format(const nr__http_addr *a, char *buf, size_t n)
{
    if (!buf || n == 0)
        return;
    buf[0] = '\0';
    if (!a || (a->family != 4 && a->family != 6) ||
        !inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->b, buf, (socklen_t)n))
        snprintf(buf, n, "(unknown address)");
}

nr__http_addr nr__http_addr_unmap(const nr__http_addr *a)
{
    nr__http_addr r = *a;
    if (a->family == 6 && all_zero(a->b, 10) && a->b[10] == 0xff && a->b[11] == 0xff) {
        memset(&r, 0, sizeof(r));
        r.family = 4;
        memcpy(r.b, a->b + 12, 4);
    }
    return r;
}

/* ---- allow-list entries ------------------------------------------------------------- */

static bool parse_uint(const char *s, size_t len, long max, long *out)
{
    if (len == 0 || len > 10)
        return false;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* One entry of len bytes at s. */
static bool parse_entry(const char *s, size_t len, nr__http_cidr *e, char *why, size_t whyn)
{
    char addr[64];
    const char *end = s + len;
    const char *a = s, *a_end;
    const char *rest;
    memset(e, 0, sizeof(*e));
    if (*s == '[') {
        a = s + 1;
        a_end = memchr(a, ']', (size_t)(end - a));
        if (!a_end) {
            snprintf(why, whyn, "'%.*s': missing ']'", (int)len, s);
            return false;
        }
        rest = a_end + 1;
    } else {
        /* IPv4 stops at '/' or ':'; bare IPv6 (two colons or more) has no port */
        const char *colon = memchr(s, ':', len);
        bool v6 = colon && memchr(colon + 1, ':', (size_t)(end - colon - 1));
        a_end = s;
        while (a_end < end && *a_end != '/' && (v6 || *a_end != ':'))
            a_end++;
        rest = a_end;
    }
    size_t alen = (size_t)(a_end - a);
    if (alen == 0 || alen >= sizeof(addr)) {
        snprintf(why, whyn, "'%.*s': not an IP address", (int)len, s);
        return false;
    }
    memcpy(addr, a, alen);
    addr[alen] = '\0';
    if (!nr__http_addr_parse(addr, &e->net)) {
        snprintf(why, whyn, "'%.*s': '%s' is not a numeric IP address", (int)len, s, addr);
        return false;
    }
    int bits = e->net.family == 4 ? 32 : 128;
    e->prefix = bits;
    if (rest < end && *rest == '/') {
        const char *p = rest + 1, *q = p;
        while (q < end && *q != ':')
            q++;
        long v;
        if (!parse_uint(p, (size_t)(q - p), bits, &v)) {
            snprintf(why, whyn, "'%.*s': prefix length must be 0..%d", (int)len, s, bits);
            return false;
        }
        e->prefix = (int)v;
        rest = q;
    }
    if (rest < end && *rest == ':') {
        long v;
        if (!parse_uint(rest + 1, (size_t)(end - rest - 1), 65535, &v) || v == 0) {
            snprintf(why, whyn, "'%.*s': port must be 1..65535", (int)len, s);
            return false;
        }
        e->port = (int)v;
        rest = end;
    }
    if (rest != end) {
        snprintf(why, whyn, "'%.*s': unexpected text after the address", (int)len, s);
        return false;
    }
    for (int i = e->prefix; i < bits; i++) {
        if (e->net.b[i / 8] & (0x80 >> (i % 8))) {
            snprintf(why, whyn, "'%.*s': host bits set beyond /%d", (int)len, s, e->prefix);
            return false;
        }
    }
    return true;
}

static bool is_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int nr__http_cidr_parse_list(const char *text, nr__http_cidr **out, size_t *n, char *why,
                             size_t whyn)
{
    *out = NULL;
    *n = 0;
    if (why && whyn)
        why[0] = '\0';
    if (!text)
        return 0;
    size_t cap = 0;
    for (const char *p = text; *p; p++)
        cap += !is_sep(*p) && (p == text || is_sep(p[-1]));
    if (cap == 0)
        return 0;
    nr__http_cidr *list = nr_calloc(cap, sizeof(*list));
    if (!list)
        return -2;
    size_t k = 0;
    const char *p = text;
    while (*p) {
        while (*p && is_sep(*p))
            p++;
        const char *s = p;
        while (*p && !is_sep(*p))
            p++;
        if (p == s)
            break;
        if (!parse_entry(s, (size_t)(p - s), &list[k], why, whyn)) {
            nr_free(list);
            return -1;
        }
        k++;
    }
    *out = list;
    *n = k;
    return 0;
}

static bool prefix_match(const uint8_t *net, const uint8_t *a, int prefix)
{
    int full = prefix / 8, rem = prefix % 8;
    if (memcmp(net, a, (size_t)full) != 0)
        return false;
    if (rem == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rem));
    return (net[full] & mask) == (a[full] & mask);
}

bool nr__http_cidr_match(const nr__http_cidr *list, size_t n, const nr__http_addr *a, int port)
{
    if (!a)
        return false;
    nr__http_addr u = nr__http_addr_unmap(a);
    for (size_t i = 0; i < n; i++) {
        nr__http_addr net = list[i].net;
        int prefix = list[i].prefix;
        if (net.family == 6 && prefix >= 96) { /* written as ::ffff:a.b.c.d/len */
            nr__http_addr m = nr__http_addr_unmap(&net);
            if (m.family == 4) {
                net = m;
                prefix -= 96;
            }
        }
        if (net.family != u.family)
            continue;
        if (list[i].port > 0 && list[i].port != port)
            continue;
        if (prefix_match(net.b, u.b, prefix))
            return true;
    }
    return false;
}
