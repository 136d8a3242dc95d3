/*
 * test_cpp.cpp - the C++ layer (nebula/resource.hpp): errors as error codes
 * and exceptions, Result, deadlines, Guard ownership (moves, release on scope
 * exit, taint, detach), the Config, Pool and Manager owners, across threads.
 *
 * The pools here use a resource type written in C++ in this file, which
 * counts its callbacks; with NR_CPP_WITH_SQLITE the SQLite header is tested
 * too. Every check prints what it expected and what it got, and the first
 * failure ends the program with status 1.
 */
#include "nebula/resource.hpp"
#ifdef NR_CPP_WITH_SQLITE
#include "nebula/sqlite.hpp"
#endif

#include "headers.hpp"

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

namespace
{

std::atomic<int> checks{0}; /* CHECKs passed (some run on other threads) */

template <class A, class B>
void check_eq(const A &got, const B &want, const char *got_text, const char *want_text,
              const char *file, int line)
{
    checks++;
    if (got == want)
        return;
    std::ostringstream g, w;
    g << got;
    w << want;
    std::fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed:\n    got:  %s\n    want: %s\n", file,
                 line, got_text, want_text, g.str().c_str(), w.str().c_str());
    std::exit(1);
}

void check_true(bool ok, const char *text, const char *file, int line)
{
    checks++;
    if (ok)
        return;
    std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", file, line, text);
    std::exit(1);
}

void check_has(const std::string &text, const std::string &needle, const char *what,
               const char *file, int line)
{
    checks++;
    if (text.find(needle) != std::string::npos)
        return;
    std::fprintf(stderr, "%s:%d: %s does not contain \"%s\":\n    \"%s\"\n", file, line, what,
                 needle.c_str(), text.c_str());
    std::exit(1);
}

#define CHECK(cond)             check_true((cond), #cond, __FILE__, __LINE__)
#define CHECK_EQ(got, want)     check_eq((got), (want), #got, #want, __FILE__, __LINE__)
#define CHECK_HAS(text, needle) check_has((text), (needle), #text, __FILE__, __LINE__)
/* a Result that must be ok: the error it holds is printed otherwise */
#define CHECK_OK(result)                                                                           \
    do {                                                                                           \
        const auto &r_ = (result);                                                                 \
        checks++;                                                                                  \
        if (!r_.ok()) {                                                                            \
            std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #result,            \
                         r_.error().to_string().c_str());                                          \
            std::exit(1);                                                                          \
        }                                                                                          \
    } while (0)

/* ---- a resource type written in C++ ------------------------------------------------------ */

struct Conn {
    uint64_t serial;
    std::string label;
    size_t credential_len; /* of the credential create() was given; 0 for none */
};

struct Counters {
    std::atomic<long> creates{0}, destroys{0}, recycles{0};
    std::atomic<int> fail_create{0};
    std::atomic<uint64_t> serial{0};
};

/* the counters of pools and resources made without a type_ud */
Counters fallback;
Counters *counters_of(void *ud)
{
    return ud ? static_cast<Counters *>(ud) : &fallback;
}

struct TestConfig {
    char *label;
    int64_t weight;
    double ratio;
    bool loud;
    int mode;
    nr_secret *token;
};

const char *const mode_names[] = {"fast", "safe", nullptr};

nr_field field(const char *name, nr_field_type type, size_t offset)
{
    nr_field f{};
    f.name = name;
    f.type = type;
    f.offset = offset;
    return f;
}

const nr_field *test_fields()
{
    static nr_field fields[6];
    static bool made = false;
    if (!made) {
        fields[0] = field("label", NR_FT_STRING, offsetof(TestConfig, label));
        fields[0].max = 16;
        fields[0].def_str = "plain";
        fields[1] = field("weight", NR_FT_INT, offsetof(TestConfig, weight));
        fields[1].min = 1;
        fields[1].max = 100;
        fields[1].def_int = 10;
        fields[2] = field("ratio", NR_FT_DOUBLE, offsetof(TestConfig, ratio));
        fields[2].dmin = 0;
        fields[2].dmax = 1;
        fields[2].def_double = 0.5;
        fields[3] = field("loud", NR_FT_BOOL, offsetof(TestConfig, loud));
        fields[4] = field("mode", NR_FT_ENUM, offsetof(TestConfig, mode));
        fields[4].enum_names = mode_names;
        fields[5] = field("token", NR_FT_SECRET, offsetof(TestConfig, token));
        fields[5].max = 8;
        made = true;
    }
    return fields;
}

nr_config_schema make_schema()
{
    nr_config_schema s{};
    s.name = "cpptest";
    s.struct_size = sizeof(TestConfig);
    s.fields = test_fields();
    s.nfields = 6;
    return s;
}
const nr_config_schema test_schema = make_schema();

int t_create(void **handle, const void *config, const nr_create_ctx *ctx, void *ud, nr_error *err)
{
    Counters *c = counters_of(ud);
    if (c->fail_create.load())
        return nr_error_set(err, NR_EUNAVAIL, ctx->resource_id, "cpptest '%s': server refused",
                            ctx->resource_id);
    const auto *cfg = static_cast<const TestConfig *>(config);
    try { /* no exception may cross the C frames */
        *handle = new Conn{++c->serial, cfg->label ? cfg->label : "",
                           ctx->credential ? nr_secret_len(ctx->credential) : 0};
    } catch (...) {
        return nr_error_set(err, NR_ENOMEM, ctx->resource_id, "cpptest: out of memory");
    }
    c->creates++;
    return NR_OK;
}

void t_destroy(void *handle, void *ud)
{
    delete static_cast<Conn *>(handle);
    counters_of(ud)->destroys++;
}

int t_recycle(void *, void *ud, nr_error *)
{
    counters_of(ud)->recycles++;
    return NR_OK;
}

nr_resource_type make_type()
{
    nr_resource_type t{};
    t.version = NR_RESOURCE_TYPE_VERSION;
    t.name = "cpptest";
    t.config_schema = &test_schema;
    t.create = t_create;
    t.destroy = t_destroy;
    t.recycle = t_recycle;
    return t;
}
const nr_resource_type test_type = make_type();

/* A pool of the test type: at most max_size instances, failed creates retried
 * soon and never opening the breaker; the Pool keeps its Config. */
nebula::Pool make_pool(Counters &counters, const char *id, int64_t max_size,
                       const char *label = nullptr)
{
    nebula::Config cfg = nebula::Config::make(test_schema).value();
    if (label)
        CHECK_OK(cfg.set("label", label));
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = max_size;
    pc.breaker_failures = 0;
    pc.create_backoff_ms = 10;
    nr_pool_options o = nebula::sized<nr_pool_options>();
    o.id = id;
    o.type = &test_type;
    o.type_ud = &counters;
    o.pool = &pc;
    nebula::Result<nebula::Pool> p = nebula::Pool::create(o, std::move(cfg));
    CHECK_OK(p);
    return std::move(p).value();
}

/* ---- errors ------------------------------------------------------------------------------ */

void test_error_category()
{
    const std::error_category &cat = nebula::error_category();
    CHECK_EQ(std::string(cat.name()), "nebula");
    CHECK(&cat == &nebula::error_category());     /* one object */
    std::error_code ec = nebula::errc::timed_out; /* is_error_code_enum */
    CHECK(&ec.category() == &cat);
    CHECK_EQ(ec.value(), NR_ETIMEDOUT);
    CHECK_EQ(ec.message(), "timed out");
    CHECK(ec == nebula::errc::timed_out);
    CHECK(ec != nebula::errc::canceled);
    CHECK(ec == std::errc::timed_out); /* the portable condition */
    CHECK(std::error_code(nebula::errc::canceled) == std::errc::operation_canceled);
    CHECK(std::error_code(nebula::errc::out_of_memory) == std::errc::not_enough_memory);
    CHECK(std::error_code(nebula::errc::config) != std::errc::invalid_argument);
    CHECK(!nebula::to_error_code(NR_OK)); /* NR_OK is no error */
    CHECK(static_cast<bool>(nebula::to_error_code(NR_EBUSY)));
    /* every code of the library: its text is nr_strerror's, its errc the same value */
    for (int c = NR_ERR_MIN; c <= 0; c++) {
        std::error_code e = nebula::to_error_code(c);
        CHECK_EQ(e.message(), std::string(nr_strerror(c)));
        CHECK_EQ(static_cast<int>(static_cast<nebula::errc>(c)), c);
        CHECK(std::string(nr_err_name(c)) != "NR_E?");
    }
    CHECK_EQ(nebula::make_error_code(nebula::errc::cycle).message(), "circular dependency");
    CHECK_EQ(nebula::make_error_code(nebula::errc::not_permitted).message(), "not permitted");
}

void test_error_value()
{
    nr_error e{};
    nr_error_set_cause(&e, NR_EUNAVAIL, NR_ECRED, 1234, "orders-db",
                       "pool '%s': login refused for user '%s'", "orders-db", "app");
    nebula::Error err(e);
    CHECK(!err.ok());
    CHECK(err == nebula::errc::unavailable);
    CHECK(err.code() == nebula::errc::unavailable);
    CHECK(err.cause() == nebula::errc::credential);
    CHECK_EQ(err.driver_code(), 1234L);
    CHECK_EQ(err.resource_id(), "orders-db");
    CHECK_EQ(err.message(), "pool 'orders-db': login refused for user 'app'");
    CHECK_EQ(std::string(err.name()), "NR_EUNAVAIL");
    CHECK_EQ(err.to_string(), "NR_EUNAVAIL: pool 'orders-db': login refused for user 'app'");
    CHECK(!err.truncated());

    /* a code whose call filled no detail: the code's text */
    nr_error empty{};
    nebula::Error bare = nebula::Error::from(NR_ESHUTDOWN, empty);
    CHECK(bare == nebula::errc::shut_down);
    CHECK_EQ(bare.message(), "shut down");
    CHECK(nebula::Error().ok());
    CHECK_EQ(nebula::Error(nebula::errc::busy, "").message(), "busy: still in use");

    /* a message the library cut to fit says so */
    nr_error longe{};
    nr_error_set(&longe, NR_EINVAL, nullptr, "%s", std::string(400, 'x').c_str());
    CHECK(nebula::Error(longe).truncated());
}

void test_result_and_exception()
{
    nebula::Result<int> ok = 7;
    CHECK(ok.ok());
    CHECK_EQ(*ok, 7);
    CHECK_EQ(ok.value(), 7);
    CHECK(ok.error().ok());
    CHECK(!ok.code());

    nebula::Result<int> bad = nebula::Error(nebula::errc::not_found, "no resource 'x'", "x");
    CHECK(!bad.ok());
    CHECK(!bad);
    CHECK(bad.code() == nebula::errc::not_found);
    CHECK_EQ(std::move(bad).value_or(-1), -1);

    nebula::Result<int> bad2 = nebula::Error(nebula::errc::not_found, "no resource 'x'", "x");
    bool thrown = false;
    try {
        (void)bad2.value();
    } catch (const std::system_error &e) { /* an Exception is a system_error */
        thrown = true;
        CHECK(e.code() == nebula::errc::not_found);
        CHECK(&e.code().category() == &nebula::error_category());
        CHECK_HAS(std::string(e.what()), "no resource 'x'");
        const auto *ne = dynamic_cast<const nebula::Exception *>(&e);
        CHECK(ne != nullptr);
        CHECK_EQ(ne->error().resource_id(), "x");
        nebula::Exception copy = *ne; /* copying shares the detail */
        CHECK(&copy.error() == &ne->error());
    }
    CHECK(thrown);

    nebula::Result<void> done;
    CHECK(done.ok());
    done.value(); /* does not throw */
    nebula::Result<void> failed = nebula::Error(nebula::errc::cycle, "a -> b -> a");
    thrown = false;
    try {
        failed.value();
    } catch (const nebula::Exception &e) {
        thrown = true;
        CHECK(e.code() == nebula::errc::cycle);
        CHECK_EQ(e.error().message(), "a -> b -> a");
    }
    CHECK(thrown);

    /* an "error" that is none cannot make a Result without a value */
    nebula::Result<int> odd = nebula::Error();
    CHECK(!odd.ok());
    CHECK(odd.error() == nebula::errc::internal);

    /* move-only values */
    nebula::Result<std::unique_ptr<int>> up = std::make_unique<int>(3);
    std::unique_ptr<int> taken = std::move(up).value();
    CHECK_EQ(*taken, 3);
}

/* ---- deadlines --------------------------------------------------------------------------- */

void test_deadlines()
{
    using std::chrono::nanoseconds;
    nebula::Deadline unset;
    CHECK(!unset.is_set());
    CHECK(unset.c().at_ns == 0);
    CHECK(unset.remaining() == nanoseconds::max());
    CHECK(unset.time_point() == nebula::Clock::time_point::max());

    /* a duration: from now, bracketed by the library's clock read around it */
    int64_t before = nr_now_ns();
    nebula::Deadline d = 250ms;
    int64_t after = nr_now_ns();
    CHECK(d.is_set());
    CHECK(d.c().at_ns >= before + 250 * NR_NS_PER_MS);
    CHECK(d.c().at_ns <= after + 250 * NR_NS_PER_MS);
    CHECK(d.remaining() <= 250ms);

    /* other units and representations, the same way */
    before = nr_now_ns();
    nebula::Deadline frac = std::chrono::duration<double>(0.5);
    nebula::Deadline mins = std::chrono::minutes(2);
    nebula::Deadline micro = std::chrono::microseconds(1500);
    after = nr_now_ns();
    CHECK(frac.c().at_ns >= before + 500 * NR_NS_PER_MS &&
          frac.c().at_ns <= after + 500 * NR_NS_PER_MS);
    CHECK(mins.c().at_ns >= before + 120 * NR_NS_PER_S &&
          mins.c().at_ns <= after + 120 * NR_NS_PER_S);
    CHECK(micro.c().at_ns >= before + 1500 * NR_NS_PER_US &&
          micro.c().at_ns <= after + 1500 * NR_NS_PER_US);

    /* a steady_clock point lands on the same instant of the library's clock
     * (both are CLOCK_MONOTONIC here): never before it, and only by the time
     * between two clock reads after it */
    auto tp = nebula::Clock::now() + 1500ms;
    int64_t tp_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
    nebula::Deadline at = tp;
    CHECK(at.c().at_ns >= tp_ns);
    CHECK(at.c().at_ns - tp_ns < NR_NS_PER_S);
    CHECK(at.remaining() <= 1500ms);
    auto back = at.time_point(); /* and back */
    CHECK(back >= tp);
    CHECK(back - tp < 1s);
    auto coarse_tp = std::chrono::time_point_cast<std::chrono::seconds>(nebula::Clock::now() + 10s);
    nebula::Deadline coarse = coarse_tp;
    int64_t coarse_ns = static_cast<int64_t>(coarse_tp.time_since_epoch().count()) * NR_NS_PER_S;
    CHECK(coarse.c().at_ns >= coarse_ns && coarse.c().at_ns - coarse_ns < NR_NS_PER_S);

    /* zero, negative and past: expired */
    CHECK(nebula::Deadline(0ms).expired());
    CHECK(nebula::Deadline(-5s).expired());
    CHECK(nebula::Deadline(nebula::Clock::now() - 1s).expired());
    CHECK(nebula::Deadline(nebula::Clock::time_point::min()).expired());
    CHECK(nebula::Deadline(-5s).remaining() == nanoseconds(0));

    /* beyond the range: never */
    CHECK(nebula::Deadline::never().is_never());
    CHECK(nebula::Deadline(nanoseconds::max()).is_never());
    CHECK(nebula::Deadline(std::chrono::hours::max()).is_never());
    CHECK(nebula::Deadline(nebula::Clock::time_point::max()).is_never());
    CHECK(nebula::Deadline(std::chrono::duration<double>(1e300)).is_never());
    CHECK(nebula::Deadline::never().time_point() == nebula::Clock::time_point::max());
    CHECK(!nebula::Deadline::never().expired());

    /* the C value round trip */
    nr_deadline c = nr_deadline_in_ms(300);
    CHECK_EQ(nebula::Deadline::from_c(c).c().at_ns, c.at_ns);

    /* a point in time as an acquire's deadline: it times out then, not before */
    Counters counters;
    nebula::Pool pool = make_pool(counters, "cpp-deadline", 1);
    nebula::Guard held = pool.acquire(2s).value();
    auto t0 = nebula::Clock::now();
    nebula::Result<nebula::Guard> r = pool.acquire(nebula::Clock::now() + 100ms);
    auto waited = nebula::Clock::now() - t0;
    CHECK(r.code() == nebula::errc::timed_out);
    CHECK(waited >= 100ms); /* not before the deadline */
}

/* ---- Guard ------------------------------------------------------------------------------- */

static_assert(!std::is_copy_constructible_v<nebula::Guard>, "a Guard is never copied");
static_assert(!std::is_copy_assignable_v<nebula::Guard>, "a Guard is never copied");
static_assert(std::is_nothrow_move_constructible_v<nebula::Guard>, "a Guard moves");
static_assert(std::is_nothrow_move_assignable_v<nebula::Guard>, "a Guard moves");
static_assert(!std::is_copy_constructible_v<nebula::Pool>, "a Pool is never copied");
static_assert(std::is_nothrow_move_constructible_v<nebula::Pool>, "a Pool moves");
static_assert(!std::is_copy_constructible_v<nebula::Manager>, "a Manager is never copied");
static_assert(std::is_nothrow_move_constructible_v<nebula::Manager>, "a Manager moves");
static_assert(!std::is_copy_constructible_v<nebula::Config>, "a Config is never copied");

void test_guard_scope_and_moves()
{
    Counters counters;
    nebula::Pool pool = make_pool(counters, "cpp-guard", 2, "tagged");
    {
        nebula::Guard g = pool.acquire(1s).value();
        CHECK(g.held());
        CHECK(static_cast<bool>(g));
        CHECK_EQ(pool.stats().in_use, 1u);
        Conn *c = g.handle<Conn>(); /* typed handle */
        CHECK(c != nullptr);
        CHECK_EQ(c->label, "tagged"); /* made from the Config the pool was given */
        CHECK(g.handle() == static_cast<void *>(c));
        nr_instance_info info = g.info().value();
        CHECK_EQ(info.id, c->serial);
        CHECK_EQ(info.use_count, 1u);

        /* move construction: the lease moves, the source is empty */
        nebula::Guard moved(std::move(g));
        CHECK(!g.held()); // NOLINT(bugprone-use-after-move): tested on purpose
        CHECK(g.handle() == nullptr);
        CHECK(g.handle<Conn>() == nullptr);
        CHECK(moved.held());
        CHECK(moved.handle<Conn>() == c);
        CHECK_EQ(pool.stats().in_use, 1u);

        /* move assignment over a held guard gives the old lease back first */
        nebula::Guard other = pool.acquire(1s).value();
        CHECK_EQ(pool.stats().in_use, 2u);
        long releases_before = static_cast<long>(pool.stats().releases);
        other = std::move(moved);
        CHECK_EQ(pool.stats().in_use, 1u);
        CHECK_EQ(static_cast<long>(pool.stats().releases), releases_before + 1);
        CHECK(other.handle<Conn>() == c);
        CHECK(!moved.held());
        /* self-move keeps the lease */
        nebula::Guard &alias = other;
        other = std::move(alias);
        CHECK(other.held());
        CHECK_EQ(pool.stats().in_use, 1u);
    } /* scope exit: released */
    nr_pool_stats st = pool.stats();
    CHECK_EQ(st.in_use, 0u);
    CHECK_EQ(st.releases, 2u);
    CHECK_EQ(counters.recycles.load(), 2L); /* released (recycled), not destroyed */
    CHECK_EQ(counters.destroys.load(), 0L);

    /* explicit release, twice: the second is a no-op */
    nebula::Guard g = pool.acquire(1s).value();
    CHECK(!g.release());
    CHECK(!g.held());
    CHECK(!g.release());
    CHECK(!g.taint());
    CHECK_EQ(pool.stats().in_use, 0u);

    /* guards in a container, released when it is cleared */
    std::vector<nebula::Guard> leases;
    leases.push_back(pool.acquire(1s).value());
    leases.push_back(pool.acquire(1s).value());
    leases.reserve(16); /* the vector moves them */
    CHECK_EQ(pool.stats().in_use, 2u);
    CHECK(leases[0].held() && leases[1].held());
    leases.clear();
    CHECK_EQ(pool.stats().in_use, 0u);

    /* a C guard adopted, and one given up to C */
    nr_guard cg = NR_GUARD_INIT;
    nr_error err{};
    CHECK_EQ(nr_pool_acquire(pool.get(), nullptr, &cg, &err), NR_OK);
    {
        nebula::Guard adopted(std::move(cg));
        CHECK(cg.inst == nullptr);
        CHECK(adopted.held());
        CHECK_EQ(pool.stats().in_use, 1u);
        nr_guard back = adopted.disown();
        CHECK(!adopted.held());
        CHECK_EQ(nr_guard_release(&back), NR_OK);
    }
    CHECK_EQ(pool.stats().in_use, 0u);

    /* the C API's own scoped guard, from C++ */
    CHECK(nr_cpp_scoped_lease(pool.get()));
    CHECK_EQ(pool.stats().in_use, 0u);
}

void test_guard_taint_and_detach()
{
    Counters counters;
    nebula::Pool pool = make_pool(counters, "cpp-taint", 2);
    nebula::Guard g = pool.acquire(1s).value();
    uint64_t serial = g.handle<Conn>()->serial;
    CHECK(!g.taint()); /* broken: destroyed, not recycled */
    CHECK(!g.held());
    nr_pool_stats st = pool.stats();
    CHECK_EQ(st.taints, 1u);
    CHECK_EQ(st.in_use, 0u);
    CHECK_EQ(counters.destroys.load(), 1L);
    CHECK_EQ(counters.recycles.load(), 0L);
    /* the next lease is a new instance */
    nebula::Guard next = pool.acquire(1s).value();
    CHECK(next.handle<Conn>()->serial != serial);

    /* detach: the handle is ours, the pool counts it gone */
    nebula::Result<void *> h = next.detach();
    CHECK_OK(h);
    CHECK(!next.held());
    CHECK_EQ(pool.stats().detached, 1u);
    t_destroy(*h, &counters); /* ours to destroy */
    nebula::Result<void *> none = next.detach();
    CHECK(none.code() == nebula::errc::invalid_argument);
    CHECK(next.info().code() == nebula::errc::invalid_argument);
}

/* ---- Pool -------------------------------------------------------------------------------- */

void test_pool_owner()
{
    Counters counters;
    nebula::Pool pool = make_pool(counters, "cpp-pool", 1);
    CHECK(static_cast<bool>(pool));
    CHECK_EQ(std::string(pool.id()), "cpp-pool");

    /* exhausted: one instance, held */
    nebula::Guard g = pool.acquire(1s).value();
    nebula::Result<nebula::Guard> r = pool.acquire(50ms);
    CHECK(!r.ok());
    CHECK(r.code() == nebula::errc::timed_out);
    CHECK_EQ(r.error().resource_id(), "cpp-pool");
    CHECK_HAS(r.error().message(), "cpp-pool");

    /* destroy with a lease out: busy, closed, still owned */
    nebula::Result<void> busy = pool.destroy();
    CHECK(busy.code() == nebula::errc::busy);
    CHECK(static_cast<bool>(pool));
    CHECK(pool.acquire(10ms).code() == nebula::errc::shut_down);
    CHECK(!g.release());
    CHECK_OK(pool.destroy());
    CHECK(!pool);
    CHECK_OK(pool.destroy()); /* an empty Pool: nothing to do */
    CHECK_EQ(counters.destroys.load(), counters.creates.load());

    /* moves: the source is empty, the target owns the pool */
    nebula::Pool a = make_pool(counters, "cpp-move", 2);
    nebula::Pool b(std::move(a));
    CHECK(!a); // NOLINT(bugprone-use-after-move): tested on purpose
    CHECK(a.acquire(10ms).code() == nebula::errc::invalid_argument);
    CHECK_EQ(a.stats().total, 0u);
    CHECK(static_cast<bool>(b));
    {
        nebula::Guard lease = b.acquire(1s).value();
        CHECK(lease.held());
    }
    nebula::Pool c = make_pool(counters, "cpp-other", 2);
    c = std::move(b); /* destroys what c held first */
    CHECK_EQ(std::string(c.id()), "cpp-move");
    CHECK_OK(c.fill(1s));
    CHECK_OK(c.resize(1, 3));
    CHECK_EQ(c.stats().max_size, 3u);
    nebula::Result<void> bad = c.resize(5, 3);
    CHECK(bad.code() == nebula::errc::config);
    CHECK_HAS(bad.error().message(), "min_idle");

    /* a pool made from a Config it keeps: the caller's is moved from */
    nebula::Config cfg = nebula::Config::make(test_schema).value();
    CHECK_OK(cfg.set("label", "owned"));
    nebula::Pool owned = nebula::Pool::create("cpp-owned", test_type, std::move(cfg)).value();
    CHECK(cfg.empty()); // NOLINT(bugprone-use-after-move): tested on purpose
    {
        nebula::Guard og = owned.acquire(1s).value();
        CHECK_EQ(og.handle<Conn>()->label, "owned");
    }

    /* a credential: a Secret the pool copies, given to every create */
    nebula::Secret secret = nebula::Secret::from_str("s3cret").value();
    CHECK_EQ(secret.size(), 6u);
    nebula::Secret moved_secret = std::move(secret);
    CHECK(secret.get() == nullptr); // NOLINT(bugprone-use-after-move): tested on purpose
    nebula::Pool with_cred =
        nebula::Pool::create("cpp-cred", test_type, nebula::Config::make(test_schema).value(),
                             nullptr, &moved_secret)
            .value();
    {
        nebula::Guard cg = with_cred.acquire(1s).value();
        CHECK_EQ(cg.handle<Conn>()->credential_len, 6u);
    }
    nebula::Secret bytes = nebula::Secret::from_bytes("a\0b", 3).value();
    CHECK_EQ(bytes.size(), 3u);

    /* bad options: the error names the field */
    nr_pool_options o = nebula::sized<nr_pool_options>();
    o.id = "bad id with spaces";
    o.type = &test_type;
    o.config = nullptr;
    nebula::Result<nebula::Pool> badpool = nebula::Pool::create(o);
    CHECK(!badpool.ok());
    CHECK(badpool.code() == nebula::errc::invalid_argument ||
          badpool.code() == nebula::errc::config);
}

/* The type's create fails: the acquire times out and names the cause. */
void test_pool_create_failure()
{
    Counters counters;
    counters.fail_create = 1;
    nebula::Pool pool = make_pool(counters, "cpp-failing", 2);
    nebula::Result<nebula::Guard> r = pool.acquire(300ms);
    CHECK(r.code() == nebula::errc::timed_out);
    CHECK(r.error().cause() == nebula::errc::unavailable);
    CHECK_HAS(r.error().message(), "server refused");
    counters.fail_create = 0;
    nebula::Result<nebula::Guard> ok = pool.acquire(5s);
    CHECK_OK(ok);
}

/* ---- Config ------------------------------------------------------------------------------ */

void test_config_owner()
{
    nebula::Config cfg = nebula::Config::make(test_schema).value();
    CHECK(!cfg.empty());
    CHECK(cfg.schema() == &test_schema);
    TestConfig &tc = cfg.as<TestConfig>();
    CHECK_EQ(std::string(tc.label), "plain");
    CHECK_EQ(tc.weight, 10);

    CHECK_OK(cfg.set("label", "db"));               /* a literal: copied */
    CHECK_OK(cfg.set("label", std::string("db2"))); /* overwrite: the old copy freed */
    CHECK_OK(cfg.set("weight", 42));
    CHECK_OK(cfg.set("ratio", 0.25));
    CHECK_OK(cfg.set("ratio", 1)); /* an integer for a number field */
    CHECK_OK(cfg.set("loud", true));
    CHECK_OK(cfg.set("mode", "safe")); /* an enum field, by name */
    CHECK_EQ(std::string(tc.label), "db2");
    CHECK_EQ(tc.weight, 42);
    CHECK(tc.ratio == 1.0);
    CHECK(tc.loud);
    CHECK_EQ(tc.mode, 1);
    CHECK_OK(cfg.validate());
    CHECK_EQ(cfg.to_json().value(),
             "{\"label\":\"db2\",\"weight\":42,\"ratio\":1.0,\"loud\":true,\"mode\":\"safe\","
             "\"token\":null}");

    nebula::Result<void> r = cfg.set("wieght", 3);
    CHECK(r.code() == nebula::errc::config);
    CHECK_HAS(r.error().message(), "cpptest config: no field \"wieght\"; did you mean \"weight\"?");
    r = cfg.set("weight", 1000);
    CHECK(r.code() == nebula::errc::config);
    CHECK_HAS(r.error().message(), "cpptest config: weight: must be between 1 and 100 (got 1000)");
    CHECK_EQ(tc.weight, 42);
    r = cfg.set("weight", "heavy");
    CHECK_HAS(r.error().message(), "weight is an integer field, not a string");
    r = cfg.set("mode", "slow");
    CHECK_HAS(r.error().message(), "mode: must be one of: fast, safe (got \"slow\")");
    r = cfg.set("weight", uint64_t(1) << 63);
    CHECK(r.code() == nebula::errc::config);
    r = cfg.set("token", "abc"); /* a secret field takes set_secret only */
    CHECK_HAS(r.error().message(),
              "token is a secret field, not a string (use nr_config_set_secret)");
    CHECK_OK(cfg.set_secret("token", "abc"));
    CHECK_EQ(std::string(nr_secret_reveal(tc.token, nullptr)), "abc");
    r = cfg.set_secret("token", "much-too-long-token");
    CHECK_HAS(r.error().message(), "token: must be at most 8 bytes (got <redacted>)");
    CHECK(r.error().message().find("much-too-long") == std::string::npos);
    CHECK_HAS(cfg.to_json().value(), "\"token\":\"<redacted>\"");
    CHECK_OK(cfg.set_secret("token", nullptr));
    r = cfg.set("label", nullptr); /* unset an optional string */
    CHECK_OK(r);
    CHECK(tc.label == nullptr);

    /* moves */
    nebula::Config moved = std::move(cfg);
    CHECK(cfg.empty()); // NOLINT(bugprone-use-after-move): tested on purpose
    CHECK(!moved.empty());
    CHECK(cfg.set("weight", 5).code() == nebula::errc::invalid_argument);

    /* from JSON, with every problem */
    nr_config_report rep;
    nebula::Result<nebula::Config> bad =
        nebula::Config::parse(test_schema, "{\"weight\": 0, \"colour\": 1}", &rep);
    CHECK(bad.code() == nebula::errc::config);
    CHECK_EQ(rep.count, 2u);
    CHECK_HAS(bad.error().message(), "2 problems");
    nebula::Config good = nebula::Config::parse(test_schema, "{\"weight\": 7}").value();
    CHECK_EQ(good.as<TestConfig>().weight, 7);

    /* as<T>() refuses a type of another size */
    bool thrown = false;
    try {
        (void)good.as<int>();
    } catch (const nebula::Exception &e) {
        thrown = true;
        CHECK(e.code() == nebula::errc::invalid_argument);
    }
    CHECK(thrown);
}

/* ---- Manager ----------------------------------------------------------------------------- */

void test_manager_owner()
{
    Counters counters;
    nebula::Manager m = nebula::Manager::create().value();
    nebula::Config cfg = nebula::Config::make(test_schema).value();
    CHECK_OK(cfg.set("label", "from-manager"));

    nr_resource_spec base = nebula::sized<nr_resource_spec>();
    base.id = "cpp-base";
    base.type = &test_type;
    base.type_ud = &counters;
    base.config = cfg.get();
    CHECK_OK(m.register_resource(base));
    nr_resource_spec top = base;
    const char *deps[] = {"cpp-base"};
    top.id = "cpp-top";
    top.depends_on = deps;
    top.ndepends = 1;
    CHECK_OK(m.register_resource(top));
    CHECK_EQ(m.count(), 2u);

    nebula::Result<void> dup = m.register_resource(base);
    CHECK(dup.code() == nebula::errc::exists);
    CHECK_HAS(dup.error().message(), "cpp-base");

    CHECK_OK(m.start(10s));
    CHECK(m.start(10s).code() == nebula::errc::state);
    {
        nebula::Guard g = m.acquire("cpp-top", 1s).value();
        CHECK_EQ(g.handle<Conn>()->label, "from-manager"); /* the manager's copy */
        nr_resource_info info = m.info("cpp-top").value();
        CHECK_EQ(info.state, NR_RS_RUNNING);
        CHECK_EQ(info.stats.in_use, 1u);
        std::string id = "cpp-base";
        nebula::Guard g2 = m.acquire(id).value(); /* a std::string id, default ctx */
        CHECK(g2.held());
    }
    CHECK_EQ(m.info("cpp-top").value().stats.in_use, 0u);
    CHECK_EQ(nr_cpp_provider_lease(m.get(), "cpp-top"), NR_OK); /* the provider port */
    nebula::Result<nebula::Guard> missing = m.acquire("nope", 100ms);
    CHECK(missing.code() == nebula::errc::not_found);
    CHECK(m.info("nope").code() == nebula::errc::not_found);

    nr_shutdown_report rep = nebula::sized<nr_shutdown_report>();
    CHECK_OK(m.shutdown(2s, 2s, &rep));
    CHECK_EQ(rep.nleftovers, 0u);
    CHECK(m.acquire("cpp-top", 100ms).code() == nebula::errc::shut_down);
    CHECK_OK(m.destroy());
    CHECK(!m);
    CHECK_EQ(counters.creates.load(), counters.destroys.load());

    /* a cycle: start fails and says where */
    nebula::Manager cyc = nebula::Manager::create().value();
    const char *needs_b[] = {"b"};
    const char *needs_a[] = {"a"};
    nr_resource_spec a = base, b = base;
    a.id = "a";
    a.depends_on = needs_b;
    a.ndepends = 1;
    b.id = "b";
    b.depends_on = needs_a;
    b.ndepends = 1;
    CHECK_OK(cyc.register_resource(a));
    CHECK_OK(cyc.register_resource(b));
    nebula::Result<void> started = cyc.start(5s);
    CHECK(started.code() == nebula::errc::cycle);
    CHECK_HAS(started.error().message(), "circular dependency");

    /* the convenience register: id, type, config (copied), dependencies */
    nebula::Manager m2 = nebula::Manager::create().value();
    {
        nebula::Config c2 = nebula::Config::make(test_schema).value();
        CHECK_OK(m2.register_resource("first", test_type, c2));
        CHECK_OK(m2.register_resource("second", test_type, c2, {"first"}));
    } /* the Config may go: the manager copied it */
    CHECK_OK(m2.start(10s));
    nebula::Guard g = m2.acquire("second", 1s).value();
    CHECK_EQ(g.handle<Conn>()->label, "plain");
    CHECK(!g.release());
    /* a group of the two: the healthiest member serves */
    const char *members[] = {"first", "second"};
    nr_group_spec gs = nebula::sized<nr_group_spec>();
    nr_group_spec_default(&gs);
    gs.name = "pair";
    gs.members = members;
    gs.nmembers = 2;
    nr_error gerr{};
    CHECK_EQ(nr_manager_register_group(m2.get(), &gs, &gerr), NR_OK);
    nr_group_choice choice;
    nebula::Result<nebula::Guard> member = m2.acquire_group("pair", 1s, &choice);
    CHECK_OK(member);
    CHECK(std::string(choice.member) == "first" || std::string(choice.member) == "second");
    CHECK(m2.acquire_group("nope", 100ms).code() == nebula::errc::not_found);
    CHECK(!member->release());

    /* moves */
    nebula::Manager m3(std::move(m2));
    CHECK(!m2); // NOLINT(bugprone-use-after-move): tested on purpose
    CHECK(m2.acquire("second").code() == nebula::errc::invalid_argument);
    CHECK_OK(m3.acquire("second", 1s));
}

/* ---- the exception layer ----------------------------------------------------------------- */

void test_or_throw()
{
    Counters counters;
    nebula::Pool pool = make_pool(counters, "cpp-throw", 1);
    nebula::Guard g = pool.acquire_or_throw(1s);
    CHECK(g.held());
    bool thrown = false;
    try {
        nebula::Guard again = pool.acquire_or_throw(30ms);
        std::fprintf(stderr, "acquire_or_throw returned on an exhausted pool\n");
        std::exit(1);
    } catch (const nebula::Exception &e) {
        thrown = true;
        CHECK(e.code() == nebula::errc::timed_out);
        CHECK(e.code() == std::errc::timed_out);
        CHECK_EQ(e.error().resource_id(), "cpp-throw");
        CHECK_HAS(std::string(e.what()), "cpp-throw");
        CHECK_HAS(std::string(e.what()), "timed out");
    }
    CHECK(thrown);

    nr_pool_options o = nebula::sized<nr_pool_options>();
    o.id = "";
    o.type = &test_type;
    thrown = false;
    try {
        nebula::Pool bad = nebula::Pool::create_or_throw(o);
    } catch (const std::system_error &e) {
        thrown = true;
        CHECK(&e.code().category() == &nebula::error_category());
    }
    CHECK(thrown);

    nebula::Manager m = nebula::Manager::create_or_throw();
    thrown = false;
    try {
        (void)m.acquire_or_throw("absent");
    } catch (const nebula::Exception &e) {
        thrown = true;
        CHECK(e.code() == nebula::errc::not_found);
    }
    CHECK(thrown);
    nebula::Config cfg = nebula::Config::make(test_schema).value();
    m.register_resource_or_throw("present", test_type, cfg);
    m.start_or_throw(5s);
    CHECK(m.acquire_or_throw("present", 1s).held());
}

/* ---- threads ----------------------------------------------------------------------------- */

void test_threads()
{
    Counters counters;
    nebula::Pool pool = make_pool(counters, "cpp-threads", 3);

    /* a Guard moved to another thread and released there */
    nebula::Guard g = pool.acquire(1s).value();
    std::thread t([lease = std::move(g)]() mutable { CHECK(!lease.release()); });
    t.join();
    CHECK_EQ(pool.stats().in_use, 0u);

    /* many threads through one Pool */
    std::atomic<int> ok{0}, failed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 6; i++) {
        threads.emplace_back([&pool, &ok, &failed] {
            for (int k = 0; k < 200; k++) {
                nebula::Result<nebula::Guard> r = pool.acquire(5s);
                if (!r) {
                    failed++;
                    continue;
                }
                Conn *c = r->handle<Conn>();
                if (c && c->serial > 0)
                    ok++;
            } /* each lease released at the end of its iteration */
        });
    }
    for (auto &th : threads)
        th.join();
    CHECK_EQ(failed.load(), 0);
    CHECK_EQ(ok.load(), 1200);
    nr_pool_stats st = pool.stats();
    CHECK_EQ(st.in_use, 0u);
    CHECK(st.total <= 3u);

    /* a cancel token set by another thread wakes a waiting acquire */
    nebula::Guard hold1 = pool.acquire(1s).value();
    nebula::Guard hold2 = pool.acquire(1s).value();
    nebula::Guard hold3 = pool.acquire(1s).value();
    nebula::Cancel cancel = nebula::Cancel::make().value();
    std::thread trigger([&cancel] {
        std::this_thread::sleep_for(50ms);
        cancel.trigger();
    });
    nebula::Result<nebula::Guard> r = pool.acquire(nebula::Ctx(10s).with(cancel).tag("test"));
    trigger.join();
    CHECK(r.code() == nebula::errc::canceled); /* not timed out: woken by the token */
    CHECK(r.code() == std::errc::operation_canceled);
    CHECK(cancel.is_set());
}

#ifdef NR_CPP_WITH_SQLITE
void test_sqlite()
{
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 2;
    nebula::Pool pool =
        nebula::sqlite::open_or_throw("cpp-sqlite", "file:cpptest?mode=memory&cache=shared", &pc);
    nebula::Guard a = pool.acquire_or_throw(1s);
    nebula::sqlite::exec_or_throw(a, "CREATE TABLE t(x); INSERT INTO t VALUES (41), (1)");
    sqlite3 *db = a.handle<sqlite3>();
    CHECK(db != nullptr);
    CHECK(db == nebula::sqlite::db(a));
    sqlite3_stmt *st = nullptr;
    CHECK_EQ(sqlite3_prepare_v2(db, "SELECT sum(x) FROM t", -1, &st, nullptr), SQLITE_OK);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ(sqlite3_column_int(st, 0), 42);
    sqlite3_finalize(st);
    nebula::Result<void> bad = nebula::sqlite::exec(a, "SELEKT 1");
    CHECK(bad.code() == nebula::errc::invalid_argument);
    CHECK_HAS(bad.error().message(), "syntax error");
    CHECK_EQ(bad.error().resource_id(), "cpp-sqlite");
    CHECK(bad.error().driver_code() != 0);
    /* a second connection sees the shared database */
    nebula::Guard b = pool.acquire_or_throw(1s);
    CHECK(b.handle<sqlite3>() != db);
    nebula::sqlite::exec_or_throw(b, "INSERT INTO t VALUES (0)");

    nebula::Result<nebula::Config> cfg = nebula::sqlite::config();
    CHECK_OK(cfg);
    CHECK_EQ(std::string(cfg->as<nr_sqlite_config>().path), ":memory:");
    CHECK(cfg->set("busy_timeout_ms", -1).code() == nebula::errc::config);
    CHECK_OK(cfg->set("health_check", "write"));
    CHECK_EQ(cfg->as<nr_sqlite_config>().health_check, static_cast<int>(NR_SQLITE_HEALTH_WRITE));
    nebula::Result<nebula::Pool> bad_path = nebula::sqlite::open("cpp-bad", "");
    CHECK(bad_path.code() == nebula::errc::config);
    CHECK_HAS(bad_path.error().message(), "path");
}
#endif

} // namespace

int main()
{
    test_error_category();
    test_error_value();
    test_result_and_exception();
    test_deadlines();
    test_guard_scope_and_moves();
    test_guard_taint_and_detach();
    test_pool_owner();
    test_pool_create_failure();
    test_config_owner();
    test_manager_owner();
    test_or_throw();
    test_threads();
#ifdef NR_CPP_WITH_SQLITE
    test_sqlite();
#endif
    std::printf("test_cpp: %d checks passed\n", checks.load());
    return 0;
}
