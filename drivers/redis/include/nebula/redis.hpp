/*
 * nebula/redis.hpp - the Redis driver from C++ (nebula/resource.hpp).
 *
 *     auto cfg = nebula::redis::config().value();
 *     cfg.set("host", "cache.internal").value();
 *     auto pool = nebula::Pool::create_or_throw("cache", nebula::redis::type(), std::move(cfg),
 *                                               nullptr, &password);
 *     nebula::Guard g = pool.acquire_or_throw(1s);
 *     nebula::redis::Reply r = nebula::redis::command_or_throw(g, "INCR %s", key.c_str());
 *     long long n = r->integer;
 *     redisContext *ctx = g.handle<redisContext>();   // the raw context, during the lease
 *
 * command() formats as hiredis does ("%s", "%b" with a pointer and a size_t,
 * "%d"...): its arguments must be numbers or pointers (pass c_str(), not a
 * std::string). What nebula/redis.h says holds, SIGPIPE included: command()
 * guards against it, writes through the raw context must do it themselves.
 */
#ifndef NEBULA_REDIS_HPP
#define NEBULA_REDIS_HPP

#include "nebula/redis.h"
#include "nebula/resource.hpp"

namespace nebula
{

/* g.handle<redisContext>(): the hiredis context of a lease on a Redis pool. */
template <> struct handle_traits<redisContext> {
    static redisContext *get(void *handle) noexcept
    {
        return nr_redis_context(handle);
    }
};

namespace redis
{

inline const nr_resource_type &type() noexcept
{
    return nr_redis_type;
}

/* The driver's config with its defaults; set fields with Config::set. */
inline Result<Config> config()
{
    return Config::make(nr_redis_config_schema);
}

/* A reply, owned (freeReplyObject). */
struct ReplyDeleter {
    void operator()(redisReply *r) const noexcept
    {
        freeReplyObject(r);
    }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

/* Send one command and wait for its reply (nr_redis_command, whose codes
 * apply: an error reply is errc::invalid_argument, a broken connection
 * errc::unavailable, ...). */
template <class... Args> Result<Reply> command(const Guard &g, const char *fmt, Args... args)
{
    static_assert(((std::is_arithmetic_v<Args> || std::is_pointer_v<Args>)&&...),
                  "redis::command: pass numbers and pointers (c_str() for a std::string)");
    redisReply *r = nullptr;
    nr_error err{};
    int rc = nr_redis_command(g.handle(), &r, &err, fmt, args...);
    if (rc != NR_OK)
        return Error::from(rc, err);
    return Reply(r);
}

#if NEBULA_RESOURCE_HAS_EXCEPTIONS
template <class... Args> Reply command_or_throw(const Guard &g, const char *fmt, Args... args)
{
    return command(g, fmt, args...).value();
}
#endif

} // namespace redis
} // namespace nebula

#endif
