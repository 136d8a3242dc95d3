/* redis_internal.h - what the files of the Redis driver share. */
#ifndef NR_REDIS_INTERNAL_H
#define NR_REDIS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "nebula/redis.h"

#define NR__REDIS_MAGIC 0x4E52524544495321ULL /* "NRREDIS!" */
#define NR__REDIS_DEAD  0xDEADDEADDEADDEADULL

/* Room for the server as messages show it: "host:port" or "unix:path". */
#define NR__REDIS_SERVER_MAX 300
/* Room for a piece of server text quoted in a message. */
#define NR__REDIS_TEXT_MAX 160

struct nr_redis_conn {
    uint64_t magic; /* NR__REDIS_MAGIC while the instance lives */
    redisContext *c;
    int64_t db;
    int64_t command_timeout_ms; /* 0 = none */
    int64_t health_timeout_ms;
    uint64_t resets; /* numbers the nonce of each reset */
    char id[NR_ERROR_ID_MAX];
    char server[NR__REDIS_SERVER_MAX];
};

/* Whether h is a live instance with a context. */
bool nr__redis_conn_ok(const nr_redis_conn *h);

/* A timeval of ns nanoseconds, at least 1 ms (0 would mean "no timeout"). */
struct timeval nr__redis_tv_ns(int64_t ns);

/* Put the lease holder's socket timeout back (command_timeout_ms). */
void nr__redis_restore_timeout(nr_redis_conn *h);

/* The library's code for a hiredis failure (c->err) and the errno seen
 * right after it: a socket timeout is NR_ETIMEDOUT. */
int nr__redis_io_code(const redisContext *c, int saved_errno);

/* Whether the failure was a socket timeout (EAGAIN from a blocking read). */
bool nr__redis_io_timed_out(const redisContext *c, int saved_errno);

/* The library's code for an error reply, from its first word. */
int nr__redis_reply_code(const char *str, size_t len);

/* Copy server text for a message: control characters become spaces, every
 * occurrence of secret (when slen > 0) becomes "<redacted>", cut with "...". */
void nr__redis_text(char *dst, size_t n, const char *src, size_t len, const char *secret,
                    size_t slen);

/* Whether the context holds bytes not read as a reply yet, or commands
 * appended and never sent. */
bool nr__redis_out_of_step(const redisContext *c);

#endif
