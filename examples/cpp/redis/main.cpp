/*
 * main.cpp - Redis from C++: a pool of connections shared by four threads,
 * each lease given back when its Guard goes.
 *
 * The server comes from the environment (the test wrapper
 * drivers/redis/tests/with-redis.sh sets these): NR_TEST_REDIS_HOST,
 * NR_TEST_REDIS_PORT and NR_TEST_REDIS_PASSWORD, which becomes the pool's
 * credential (a Secret), never a config field.
 */
#include <nebula/redis.hpp>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

static const char *env(const char *name, const char *fallback)
{
    const char *v = std::getenv(name);
    return v ? v : fallback;
}

int main()
try {
    nebula::Config cfg = nebula::redis::config().value();
    cfg.set("host", env("NR_TEST_REDIS_HOST", "127.0.0.1")).value();
    cfg.set("port", std::atoll(env("NR_TEST_REDIS_PORT", "6379"))).value();
    cfg.set("db", 3).value();
    nebula::Secret password = nebula::Secret::from_str(env("NR_TEST_REDIS_PASSWORD", "")).value();

    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 2; /* fewer connections than threads: they take turns */
    nebula::Pool pool = nebula::Pool::create_or_throw("page-views", nebula::redis::type(),
                                                      std::move(cfg), &pc, &password);

    nebula::redis::command_or_throw(pool.acquire_or_throw(1s), "DEL %s", "views:cpp");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++)
        threads.emplace_back([&pool] {
            for (int i = 0; i < 25; i++) {
                nebula::Guard g = pool.acquire_or_throw(5s);
                nebula::redis::command_or_throw(g, "INCR %s", "views:cpp");
            }
        });
    for (auto &t : threads)
        t.join();

    nebula::Guard g = pool.acquire_or_throw(1s);
    nebula::redis::Reply views = nebula::redis::command_or_throw(g, "GET %s", "views:cpp");
    std::printf("page views: %s\n", views->str);

    nebula::Result<nebula::redis::Reply> r = nebula::redis::command(g, "NOSUCHCOMMAND");
    std::printf("expected error: %s\n", r.error().message().c_str());
    nr_pool_stats st = pool.stats();
    std::printf("connections: %u, acquires: %llu\n", st.total,
                static_cast<unsigned long long>(st.acquires));
    return r.code() == nebula::errc::invalid_argument ? 0 : 1;
} catch (const nebula::Exception &e) {
    std::fprintf(stderr, "%s: %s\n", e.error().name(), e.error().message().c_str());
    return 1;
}
