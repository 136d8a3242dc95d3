/*
 * memcached_type.h - a resource type for memcached on libmemcached: the
 * small driver docs/writing-a-driver.md builds, end to end.
 *
 * One instance is one memcached_st connected to one server. The pool hands
 * it out; the caller uses it with libmemcached's own calls (memcached_set,
 * memcached_get, ...) through mc_client(), from one thread at a time (a
 * memcached_st is not thread-safe, and a lease is one thread's), and gives
 * it back. Nothing of it may be kept past the release.
 *
 *   create        memcached_create, the timeouts, the server, then one
 *                 round trip (a get of a probe key): a server that does not
 *                 answer is a failed create (NR_EUNAVAIL), not an instance
 *                 that fails later
 *   health_check  the same round trip within the check's deadline: unhealthy
 *                 with libmemcached's message when the server does not answer
 *   destroy       memcached_free
 *   validate, recycle: none. memcached keeps no session state to reset, and
 *                 libmemcached reconnects a server it lost by itself, on the
 *                 next call after retry_timeout_s
 *
 * memcached's text protocol has no login, so a resource given a credential
 * is refused (NR_ECRED) rather than silently unauthenticated.
 */
#ifndef MEMCACHED_TYPE_H
#define MEMCACHED_TYPE_H

#include <libmemcached/memcached.h>

#include "nebula/config_fields.h"
#include "nebula/resource.h"

/* The config: one list gives the struct, the schema (types, defaults,
 * ranges), the JSON parser and printer, and the README table. */
#define MC_CONFIG_FIELDS(X, T)                                                                     \
    X(T, STRING, host, 1, 255, "127.0.0.1", 0, "server host name or IP address")                   \
    X(T, INT, port, 1, 65535, 11211, 0, "server TCP port")                                         \
    X(T, INT, connect_timeout_ms, 1, 60000, 2000, 0,                                               \
      "longest a connect may take (the create deadline wins when earlier)")                        \
    X(T, INT, io_timeout_ms, 1, 60000, 1000, 0,                                                    \
      "longest wait for an answer to one call (the health check's deadline wins when earlier)")    \
    X(T, INT, retry_timeout_s, 0, 3600, 2, 0,                                                      \
      "seconds libmemcached waits before it tries a lost server again")                            \
    X(T, BOOL, binary_protocol, 0, 1, 0, 0, "speak memcached's binary protocol instead of text")   \
    X(T, STRING, key_prefix, 0, 128, NULL, 0,                                                      \
      "prepended to every key by libmemcached (a namespace; none by default)")

NR_CONFIG_STRUCT(mc_config, MC_CONFIG_FIELDS)

/* The schema of mc_config (name "memcached"). */
extern const nr_config_schema mc_config_schema;

/* The resource type (name "memcached"); instances are memcached_st *. */
extern const nr_resource_type mc_type;

/* The client of a lease: nr_guard_handle() as what it is. */
static inline memcached_st *mc_client(void *handle)
{
    return (memcached_st *)handle;
}

#endif
