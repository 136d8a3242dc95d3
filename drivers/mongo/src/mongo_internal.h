/* mongo_internal.h - helpers shared by the MongoDB driver's files. */
#ifndef NR_MONGO_INTERNAL_H
#define NR_MONGO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Check a "host:port[,host:port...]" list. false with the rule broken in
 * why (n bytes) when it is not one. */
bool nr__mongo_hosts_ok(const char *hosts, char *why, size_t n);

/* Check that a URI carries no credentials and has a usable shape. false
 * with the rule broken in why (which never quotes the URI). */
bool nr__mongo_uri_ok(const char *uri, char *why, size_t n);

/* Check a database (or auth source) name: 1..63 bytes, none of / \ . " $
 * or space. false with the rule broken in why. */
bool nr__mongo_dbname_ok(const char *name, char *why, size_t n);

/* Replace every occurrence of secret (len bytes, len > 0) in s with
 * "<redacted>", in place within n bytes (cut with "..." when it grows). */
void nr__mongo_scrub(char *s, size_t n, const char *secret, size_t len);

#endif
