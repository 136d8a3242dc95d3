/*
 * http_ssrf.h - which addresses a request may connect to (internal).
 *
 * nr__http_addr_classify is a pure function of the address bytes: the
 * driver's socket callback uses it on every address curl is about to
 * connect to, and tests drive it with tables. Allow-list entries ("CIDR" or
 * "CIDR:port") are parsed once per instance and matched per connection.
 *
 * Thread safety: every function is pure or works on caller-owned memory.
 */
#ifndef NR_HTTP_SSRF_H
#define NR_HTTP_SSRF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum nr__http_addr_class {
    NR__HTTP_ADDR_PUBLIC = 0,
    NR__HTTP_ADDR_LOOPBACK,
    NR__HTTP_ADDR_PRIVATE,
    NR__HTTP_ADDR_LINK_LOCAL,
    NR__HTTP_ADDR_METADATA,
    NR__HTTP_ADDR_UNSPECIFIED,
    NR__HTTP_ADDR_CGNAT,
    NR__HTTP_ADDR_MULTICAST,
    NR__HTTP_ADDR_BROADCAST,
    NR__HTTP_ADDR_RESERVED,
} nr__http_addr_class;

/* An IPv4 (family 4, bytes b[0..3]) or IPv6 (family 6, b[0..15]) address. */
typedef struct nr__http_addr {
    int family;
    uint8_t b[16];
} nr__http_addr;

/*
 * The class of an address. IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
 * (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) IPv6 addresses take
 * the class of the IPv4 address they carry. An unknown family is RESERVED.
 */
nr__http_addr_class nr__http_addr_classify(const nr__http_addr *a);

/* "public", "loopback", "private", "link-local", "link-local/cloud-metadata",
 * "unspecified", "carrier-grade NAT", "multicast", "broadcast", "reserved". */
const char *nr__http_addr_class_name(nr__http_addr_class c);

/* Parse a numeric IPv4 or IPv6 address (no brackets). false when not one. */
bool nr__http_addr_parse(const char *text, nr__http_addr *out);

/* The address as text (inet_ntop) into buf. */
void nr__http_addr_format(const nr__http_addr *a, char *buf, size_t n);

/* An IPv4-mapped IPv6 address as the IPv4 address; anything else as is. */
nr__http_addr nr__http_addr_unmap(const nr__http_addr *a);

/* One allow-list entry: a network and, when port > 0, only that port. */
typedef struct nr__http_cidr {
    nr__http_addr net;
    int prefix;
    int port;
} nr__http_cidr;

/*
 * Parse a list of entries separated by commas or white space:
 *   a.b.c.d[/len][:port]   [v6addr][/len][:port]   v6addr[/len]
 * A missing /len is the whole address. Returns 0 and a list (nr_free it,
 * NULL when empty) or -1 with why filled (NR_EINVAL) or -2 (out of memory).
 * Entries whose host bits are set are refused.
 */
int nr__http_cidr_parse_list(const char *text, nr__http_cidr **out, size_t *n, char *why,
                             size_t whyn);

/* Whether an entry covers address a (unmapped first) on port. */
bool nr__http_cidr_match(const nr__http_cidr *list, size_t n, const nr__http_addr *a, int port);

#endif
