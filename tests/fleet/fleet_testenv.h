/*
 * fleet_testenv.h - what the fleet budget's tests share (fleet_testenv.c):
 * the Redis the wrapper started (drivers/redis/tests/with-redis.sh), a raw
 * connection to look at the keys, a resource type whose instances are
 * counted, and an executor of one worker thread for the pools.
 */
#ifndef NR_FLEET_TESTENV_H
#define NR_FLEET_TESTENV_H

#include <hiredis/hiredis.h>
#include <stdatomic.h>

#include "nebula/budget.h"
#include "nebula/fleet.h"
#include "nebula/pool.h"

/* An environment variable the wrapper sets; exits naming it when missing. */
const char *ft_env(const char *name);

/* The credential provider of the tests: "redis" -> the server's password. */
extern const nr_credential_provider ft_creds;

/* Options pointed at the test server, for resource res, process proc. */
nr_fleet_options ft_options(const char *res, const char *proc);

/* A raw connection (AUTHed) and a command on it; the reply is freed by the caller. */
redisContext *ft_redis(void);
redisReply *ft_cmd(redisContext *c, const char *fmt, ...);
long long ft_int(redisContext *c, const char *fmt, ...); /* an integer reply */
long long ft_redis_ms(redisContext *c);                  /* Redis TIME, in ms */

/* Instances of ft_type alive now (created, not yet destroyed). */
extern atomic_int ft_alive;
extern const nr_resource_type ft_type;

/* An executor: jobs run in order on one thread of its own. */
typedef struct ft_executor ft_executor;
ft_executor *ft_executor_start(void);
void ft_executor_stop(ft_executor *x); /* after the pools that use it are gone */
nr_executor ft_executor_of(ft_executor *x);

/* A pool of ft_type of max_size, acquire_timeout_ms, on x. */
nr_pool *ft_pool(const char *id, int64_t max_size, int64_t acquire_timeout_ms, ft_executor *x);

/* Run cmd through the shell ($NR_TEST_REDIS_CTL pause, ...); asserts it succeeds. */
void ft_shell(const char *cmd);

/* Poll every 10 ms until cond (an expression) holds, at most ms; assert it after. */
#define FT_WAIT_UNTIL(cond, ms)                                                                    \
    for (int i_ = 0; i_ < (ms) / 10 && !(cond); i_++)                                              \
    usleep(10000)

#endif
