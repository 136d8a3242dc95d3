/*
 * nebula/resource.hpp - the C++17 layer over the C API, header-only.
 *
 *     #include <nebula/sqlite.hpp>
 *     using namespace std::chrono_literals;
 *
 *     auto pool = nebula::sqlite::open_or_throw("app-db", "app.db");  // a pool of connections
 *     nebula::Guard db = pool.acquire_or_throw(500ms);             // a lease, for this scope
 *     nebula::sqlite::exec_or_throw(db, "CREATE TABLE IF NOT EXISTS t(x)");
 *
 * What is here (docs/cpp.md says it at length):
 *   errc, error_category(), make_error_code   the library's NR_E* codes as std::error_code
 *   Error                                      a code with the library's whole message
 *   Exception                                  a std::system_error carrying an Error
 *   Result<T>, Result<void>                    a value or an Error (std::expected-like)
 *   Deadline                                   std::chrono durations and steady_clock points
 *                                              as the library's absolute deadlines
 *   Guard                                      a lease: move-only, released on scope exit
 *   Config                                     a config struct of a schema, owned, with
 *                                              the typed setters of nebula/config.h
 *   Secret, Cancel                             owners of an nr_secret and an nr_cancel
 *   Pool, Manager                              owners of an nr_pool and an nr_manager
 * Every call that fails returns an Error (in a Result) or a std::error_code;
 * the `_or_throw` variants throw Exception instead. Nothing here throws
 * otherwise, but Result::value() on an error (it throws Exception) and
 * std::bad_alloc from the strings an Error holds.
 *
 * Ownership: Pool, Manager, Guard, Config, Secret and Cancel each own one C
 * object, destroyed by their destructor; they move, never copy. A Guard must
 * be gone (released or destroyed) before its Pool or Manager is destroyed:
 * a pool or manager destroyed with leases still out is closed but not freed
 * (the C rule, nebula/pool.h), and its owner then gives up the memory rather
 * than free it under a lease.
 *
 * Thread safety: the C objects' rules hold. A Pool's or a Manager's member
 * functions may be called from any thread at once, except moving, assigning
 * and destroying the owner, which must not race with any other call on it.
 * A Guard, a Config and a Result belong to one thread at a time (a Guard may
 * be moved to another thread and released there).
 */
#ifndef NEBULA_RESOURCE_HPP
#define NEBULA_RESOURCE_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "nebula/resource.hpp needs C++17 or later"
#endif

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "nebula/resource.h"
#include "nebula/manager.h"

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define NEBULA_RESOURCE_HAS_EXCEPTIONS 1
#else
#define NEBULA_RESOURCE_HAS_EXCEPTIONS 0
#endif

namespace nebula
{

/* ---- error codes ---------------------------------------------------------------------- */

/* The library's codes (nebula/error.h), value for value. */
enum class errc : int {
    ok = NR_OK,
    config = NR_ECONFIG,
    init = NR_EINIT,
    unavailable = NR_EUNAVAIL,
    health = NR_EHEALTH,
    credential = NR_ECRED,
    cleanup = NR_ECLEANUP,
    timed_out = NR_ETIMEDOUT,
    cycle = NR_ECYCLE,
    state = NR_ESTATE,
    exhausted = NR_EEXHAUSTED,
    dependency_failed = NR_EDEPFAIL,
    canceled = NR_ECANCELED,
    shut_down = NR_ESHUTDOWN,
    not_found = NR_ENOTFOUND,
    invalid_argument = NR_EINVAL,
    out_of_memory = NR_ENOMEM,
    busy = NR_EBUSY,
    exists = NR_EEXIST,
    scope = NR_ESCOPE,
    internal = NR_EINTERNAL,
    not_permitted = NR_EPERM,
};
static_assert(NR_ERR_MIN == NR_EPERM, "a new NR_E* code needs its nebula::errc name");

namespace detail
{
class category_impl final : public std::error_category
{
  public:
    const char *name() const noexcept override
    {
        return "nebula";
    }
    /* The code's text, as nr_strerror says it ("timed out"). */
    std::string message(int code) const override
    {
        return nr_strerror(code);
    }
    /* The portable conditions the codes mean, so that
     * `ec == std::errc::timed_out` holds for errc::timed_out. */
    std::error_condition default_error_condition(int code) const noexcept override
    {
        switch (code) {
        case NR_ETIMEDOUT:
            return std::errc::timed_out;
        case NR_ECANCELED:
            return std::errc::operation_canceled;
        case NR_ENOMEM:
            return std::errc::not_enough_memory;
        case NR_EINVAL:
            return std::errc::invalid_argument;
        case NR_EBUSY:
            return std::errc::device_or_resource_busy;
        case NR_EPERM:
            return std::errc::operation_not_permitted;
        default:
            return std::error_condition(code, *this);
        }
    }
};
} // namespace detail

/* The category of every error_code this layer makes: name() "nebula",
 * message(c) nr_strerror(c). One object in the program. */
inline const std::error_category &error_category() noexcept
{
    static const detail::category_impl category;
    return category;
}

inline std::error_code make_error_code(errc e) noexcept
{
    return std::error_code(static_cast<int>(e), error_category());
}

/* An NR_OK / NR_E* return value as an error_code (NR_OK is no error). */
inline std::error_code to_error_code(int code) noexcept
{
    return std::error_code(code, error_category());
}

} // namespace nebula

namespace std
{
template <> struct is_error_code_enum<nebula::errc> : true_type {
};
} // namespace std

namespace nebula
{

/* A failed call's whole detail: the code, and the library's message and
 * resource id (nr_error). A default Error is "no error" (code 0). */
class Error
{
  public:
    Error() = default;
    /* Copy the detail of a C call (code, cause, driver code, message, id). */
    explicit Error(const nr_error &e)
        : code_(e.code), cause_(e.cause), driver_code_(e.driver_code), message_(e.message),
          resource_id_(e.resource_id), truncated_(e.truncated != 0)
    {
        if (code_ != NR_OK && message_.empty())
            message_ = nr_strerror(code_);
    }
    /* A code with a message of one's own (empty: the code's text). */
    Error(errc code, std::string message, std::string resource_id = {})
        : code_(static_cast<int>(code)), message_(std::move(message)),
          resource_id_(std::move(resource_id))
    {
        if (code_ != NR_OK && message_.empty())
            message_ = nr_strerror(code_);
    }
    /* A C return value with the detail filled by the same call. */
    static Error from(int rc, const nr_error &e)
    {
        Error out(e);
        if (out.code_ != rc) { /* a call that returned a code without filling err */
            out = Error();
            out.code_ = rc;
            out.message_ = rc == NR_OK ? std::string() : nr_strerror(rc);
        }
        return out;
    }

    bool ok() const noexcept
    {
        return code_ == NR_OK;
    }
    std::error_code code() const noexcept
    {
        return to_error_code(code_);
    }
    errc value() const noexcept
    {
        return static_cast<errc>(code_);
    }
    /* "NR_ETIMEDOUT"; "NR_OK" for no error. */
    const char *name() const noexcept
    {
        return nr_err_name(code_);
    }
    /* The library's message: "pool 'db': no instance became free in time ..." */
    const std::string &message() const noexcept
    {
        return message_;
    }
    /* The resource the error is about; "" when none. */
    const std::string &resource_id() const noexcept
    {
        return resource_id_;
    }
    /* The underlying cause (e.g. the last create's code behind a timeout). */
    std::error_code cause() const noexcept
    {
        return to_error_code(cause_);
    }
    /* The backend's own code (SQLite's extended result code, a SQLSTATE...). */
    long driver_code() const noexcept
    {
        return driver_code_;
    }
    /* The library cut the message or the id to fit its buffers. */
    bool truncated() const noexcept
    {
        return truncated_;
    }
    /* "NR_ETIMEDOUT: pool 'db': ..." */
    std::string to_string() const
    {
        return std::string(name()) + ": " + message_;
    }

  private:
    int code_ = NR_OK;
    int cause_ = NR_OK;
    long driver_code_ = 0;
    std::string message_;
    std::string resource_id_;
    bool truncated_ = false;
};

inline bool operator==(const Error &e, errc c) noexcept
{
    return e.value() == c;
}
inline bool operator!=(const Error &e, errc c) noexcept
{
    return e.value() != c;
}

/* What the _or_throw variants and Result::value() throw: code() is the
 * library's code in error_category(), what() is "<message>: <code's text>",
 * error() the whole detail. */
class Exception : public std::system_error
{
  public:
    explicit Exception(Error e)
        : std::system_error(e.code(), e.message()), error_(std::make_shared<Error>(std::move(e)))
    {
    }
    const Error &error() const noexcept
    {
        return *error_;
    }

  private:
    std::shared_ptr<const Error> error_; /* shared: copying an exception must not throw */
};

namespace detail
{
[[noreturn]] inline void fail(const Error &e)
{
#if NEBULA_RESOURCE_HAS_EXCEPTIONS
    throw Exception(e);
#else
    std::fprintf(stderr, "nebula: unchecked error: %s\n", e.to_string().c_str());
    std::abort();
#endif
}
} // namespace detail

/* ---- Result ------------------------------------------------------------------------------ */

/* A T or the Error that kept it from being made. */
template <class T> class [[nodiscard]] Result
{
  public:
    Result(T &&value) : value_(std::move(value))
    {
    }
    Result(const T &value) : value_(value)
    {
    }
    Result(Error error) : error_(std::move(error))
    {
        if (error_.ok()) /* an error that is none: keep the invariant "no value => error" */
            error_ = Error(errc::internal, "Result made from an Error that is no error");
    }

    bool ok() const noexcept
    {
        return value_.has_value();
    }
    explicit operator bool() const noexcept
    {
        return ok();
    }
    /* The value; throws Exception (without exceptions: aborts) on an error. */
    T &value() &
    {
        if (!ok())
            detail::fail(error_);
        return *value_;
    }
    const T &value() const &
    {
        if (!ok())
            detail::fail(error_);
        return *value_;
    }
    T &&value() &&
    {
        if (!ok())
            detail::fail(error_);
        return std::move(*value_);
    }
    template <class U> T value_or(U &&fallback) &&
    {
        return ok() ? std::move(*value_) : static_cast<T>(std::forward<U>(fallback));
    }
    /* Unchecked access: only after ok(). */
    T &operator*() &noexcept
    {
        return *value_;
    }
    T &&operator*() &&noexcept
    {
        return std::move(*value_);
    }
    T *operator->() noexcept
    {
        return &*value_;
    }
    const T *operator->() const noexcept
    {
        return &*value_;
    }
    /* The error; a default (ok) Error when there is a value. */
    const Error &error() const noexcept
    {
        return error_;
    }
    std::error_code code() const noexcept
    {
        return error_.code();
    }

  private:
    std::optional<T> value_;
    Error error_;
};

/* Success, or the Error of a call that makes nothing. */
template <> class [[nodiscard]] Result<void>
{
  public:
    Result() = default;
    Result(Error error) : error_(std::move(error))
    {
    }
    bool ok() const noexcept
    {
        return error_.ok();
    }
    explicit operator bool() const noexcept
    {
        return ok();
    }
    /* Throws Exception (without exceptions: aborts) on an error. */
    void value() const
    {
        if (!ok())
            detail::fail(error_);
    }
    const Error &error() const noexcept
    {
        return error_;
    }
    std::error_code code() const noexcept
    {
        return error_.code();
    }

  private:
    Error error_;
};

namespace detail
{
inline Result<void> check(int rc, const nr_error &err)
{
    if (rc == NR_OK)
        return {};
    return Error::from(rc, err);
}
} // namespace detail

/* ---- strings handed to C ----------------------------------------------------------------- */

/* A NUL-terminated string argument: a const char * or a std::string (not a
 * string_view, which need not end in NUL). Borrowed for the call. */
class CStr
{
  public:
    CStr(const char *s) noexcept : s_(s)
    {
    }
    CStr(const std::string &s) noexcept : s_(s.c_str())
    {
    }
    const char *c_str() const noexcept
    {
        return s_;
    }

  private:
    const char *s_;
};

/* ---- deadlines --------------------------------------------------------------------------- */

using Clock = std::chrono::steady_clock;

namespace detail
{
/* A duration in nanoseconds, saturated to the int64 range. */
template <class Rep, class Period> int64_t saturating_ns(std::chrono::duration<Rep, Period> d)
{
    constexpr long double limit = 9.2e18L; /* just below INT64_MAX, above any real wait */
    long double approx = static_cast<long double>(d.count()) *
                         static_cast<long double>(Period::num) * 1e9L /
                         static_cast<long double>(Period::den);
    if (approx != approx) /* NaN: no time at all */
        return 0;
    if (approx >= limit)
        return std::numeric_limits<int64_t>::max();
    if (approx <= -limit)
        return std::numeric_limits<int64_t>::min();
    if constexpr (std::is_floating_point_v<Rep>)
        return static_cast<int64_t>(approx);
    else
        return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}
} // namespace detail

/*
 * An absolute deadline on the library's monotonic clock (nr_deadline),
 * made from a std::chrono duration (from now) or a steady_clock time point:
 *
 *     pool.acquire(250ms);                                  // 250 ms from now
 *     pool.acquire(Clock::now() + 2s);                      // at that point
 *     pool.acquire(Deadline::never());                      // wait for ever
 *     pool.acquire();                                       // the pool's acquire_timeout_ms
 *
 * A zero or negative duration, or a point in the past, is already expired;
 * durations and points beyond the clock's range saturate to never. The
 * conversion reads both clocks once, so a point converts to within a few
 * microseconds. A default Deadline is unset (the call's default applies).
 */
class Deadline
{
  public:
    Deadline() noexcept = default;
    template <class Rep, class Period>
    Deadline(std::chrono::duration<Rep, Period> from_now) noexcept
        : d_(nr_deadline_in_ns(detail::saturating_ns(from_now)))
    {
    }
    template <class Duration> Deadline(std::chrono::time_point<Clock, Duration> at) noexcept
    {
        int64_t at_ns = detail::saturating_ns(at.time_since_epoch());
        if (at_ns == std::numeric_limits<int64_t>::max()) {
            d_ = nr_deadline_never();
            return;
        }
        int64_t now_ns = detail::saturating_ns(Clock::now().time_since_epoch());
        constexpr int64_t lo = std::numeric_limits<int64_t>::min();
        constexpr int64_t hi = std::numeric_limits<int64_t>::max();
        int64_t rel;
        if (now_ns > 0 && at_ns < lo + now_ns)
            rel = lo; /* saturated: long past */
        else if (now_ns < 0 && at_ns > hi + now_ns)
            rel = hi;
        else
            rel = at_ns - now_ns;
        d_ = nr_deadline_in_ns(rel);
    }
    static Deadline never() noexcept
    {
        return from_c(nr_deadline_never());
    }
    static Deadline from_c(nr_deadline d) noexcept
    {
        Deadline out;
        out.d_ = d;
        return out;
    }

    nr_deadline c() const noexcept
    {
        return d_;
    }
    bool is_set() const noexcept
    {
        return d_.at_ns != 0;
    }
    bool is_never() const noexcept
    {
        return d_.at_ns == NR_DEADLINE_NEVER;
    }
    bool expired() const noexcept
    {
        return nr_deadline_expired(d_);
    }
    /* Time left: zero when expired, nanoseconds::max() for never or unset. */
    std::chrono::nanoseconds remaining() const noexcept
    {
        return std::chrono::nanoseconds(nr_deadline_remaining_ns(d_));
    }
    /* The deadline as a steady_clock point: time_point::max() for never or
     * unset, now (or earlier) when expired. */
    Clock::time_point time_point() const noexcept
    {
        if (!is_set() || is_never())
            return Clock::time_point::max();
        int64_t rel = d_.at_ns - nr_now_ns();
        Clock::time_point now = Clock::now();
        auto room =
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::time_point::max() - now);
        if (rel >= room.count())
            return Clock::time_point::max();
        return now + std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(rel));
    }

  private:
    nr_deadline d_{0};
};

/* ---- handles ----------------------------------------------------------------------------- */

/* How Guard::handle<T>() turns the driver's handle into a T *. By default a
 * plain cast (the handle is a T *, as for a type of one's own); the driver
 * headers specialise it for what they give access to (nebula/sqlite.hpp:
 * handle<sqlite3>(), nebula/postgres.hpp: handle<PGconn>(),
 * nebula/redis.hpp: handle<redisContext>()). */
template <class T> struct handle_traits {
    static T *get(void *handle) noexcept
    {
        return static_cast<T *>(handle);
    }
};

/* ---- Guard ------------------------------------------------------------------------------- */

/*
 * A lease on one instance. Move-only; the lease is given back (released,
 * recycled first when the pool does) when the Guard is destroyed or assigned
 * over, unless release(), taint() or detach() gave it back before. An empty
 * Guard (default-made, moved from, given back) holds nothing.
 * Thread safety: one thread at a time; it may be moved to another thread.
 */
class Guard
{
  public:
    Guard() noexcept = default;
    /* Take over a lease obtained through the C API (g is left empty). */
    explicit Guard(nr_guard &&g) noexcept : g_(g)
    {
        g = nr_guard{nullptr, 0};
    }
    Guard(const Guard &) = delete;
    Guard &operator=(const Guard &) = delete;
    Guard(Guard &&other) noexcept : g_(other.g_)
    {
        other.g_ = nr_guard{nullptr, 0};
    }
    Guard &operator=(Guard &&other) noexcept
    {
        if (this != &other) {
            (void)release();
            g_ = other.g_;
            other.g_ = nr_guard{nullptr, 0};
        }
        return *this;
    }
    ~Guard()
    {
        (void)release();
    }

    /* Whether the Guard holds a lease. */
    bool held() const noexcept
    {
        return g_.inst != nullptr;
    }
    explicit operator bool() const noexcept
    {
        return held();
    }

    /* Give the instance back now (recycled first when configured). An empty
     * Guard: no error. errc::state for a lease already given back through
     * another copy of the C guard. The Guard is empty afterwards. */
    std::error_code release() noexcept
    {
        if (!held())
            return {};
        int rc = nr_guard_release(&g_);
        g_ = nr_guard{nullptr, 0};
        return to_error_code(rc);
    }
    /* Give the instance back to be destroyed (it is broken). Same rules. */
    std::error_code taint() noexcept
    {
        if (!held())
            return {};
        int rc = nr_guard_taint(&g_);
        g_ = nr_guard{nullptr, 0};
        return to_error_code(rc);
    }
    /* Take the instance out of the pool for good: the driver's handle is the
     * caller's now (nr_guard_detach). errc::invalid_argument for an empty
     * Guard. */
    Result<void *> detach()
    {
        void *handle = nullptr;
        int rc = nr_guard_detach(&g_, &handle);
        if (rc != NR_OK)
            return Error(static_cast<errc>(rc), std::string("detach: ") + nr_strerror(rc));
        return handle;
    }

    /* The driver's handle; nullptr for an empty Guard. */
    void *handle() const noexcept
    {
        return nr_guard_handle(&g_);
    }
    /* The handle as a T * (see handle_traits); nullptr for an empty Guard. */
    template <class T> T *handle() const noexcept
    {
        void *h = handle();
        return h ? handle_traits<T>::get(h) : nullptr;
    }

    /* The leased instance's id, state, age and use count. */
    Result<nr_instance_info> info() const
    {
        nr_instance_info out;
        int rc = nr_guard_info(&g_, &out);
        if (rc != NR_OK)
            return Error(static_cast<errc>(rc), std::string("info: ") + nr_strerror(rc));
        return out;
    }

    /* The C guard, for C calls that take one; it stays owned here. */
    nr_guard *c() noexcept
    {
        return &g_;
    }
    const nr_guard *c() const noexcept
    {
        return &g_;
    }
    /* Give the lease up to C code: the Guard is empty, the caller releases. */
    nr_guard disown() noexcept
    {
        nr_guard out = g_;
        g_ = nr_guard{nullptr, 0};
        return out;
    }

  private:
    nr_guard g_{nullptr, 0};
};

/* ---- Config ------------------------------------------------------------------------------- */

/*
 * A config struct of one schema, owned: made with the defaults
 * (nr_config_init) or from JSON, set field by field with the checked setters
 * of nebula/config.h, freed by the destructor (nr_config_free).
 *
 *     auto cfg = nebula::Config::make(nr_sqlite_config_schema).value();
 *     cfg.set("path", "app.db").value();              // a string field: copied
 *     cfg.set("busy_timeout_ms", 2000).value();        // integers, doubles, bools
 *     cfg.set("health_check", "write").value();        // an enum field, by name
 *     cfg.as<nr_sqlite_config>().wal = true;           // or the struct itself
 *
 * Never store a pointer of one's own in a string field through as<T>(): the
 * destructor frees every string (use set()).
 */
class Config
{
  public:
    Config() noexcept = default;
    static Result<Config> make(const nr_config_schema &schema)
    {
        Config c(schema);
        nr_error err{};
        int rc = nr_config_init(&schema, c.data_.get(), &err);
        if (rc != NR_OK) {
            c.schema_ = nullptr; /* nothing to free */
            return Error::from(rc, err);
        }
        return c;
    }
    /* From JSON text (defaults, then the keys given); the Error's message
     * summarises the problems and names the first, report (may be null)
     * gets all of them. */
    static Result<Config> parse(const nr_config_schema &schema, std::string_view json,
                                nr_config_report *report = nullptr)
    {
        Config c(schema);
        nr_error err{};
        int rc = nr_config_parse(&schema, json.data(), json.size(), c.data_.get(), report, &err);
        if (rc != NR_OK) {
            nr_config_free(&schema, c.data_.get());
            c.schema_ = nullptr;
            return Error::from(rc, err);
        }
        return c;
    }
    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;
    Config(Config &&other) noexcept
        : schema_(std::exchange(other.schema_, nullptr)), data_(std::move(other.data_))
    {
    }
    Config &operator=(Config &&other) noexcept
    {
        if (this != &other) {
            reset();
            schema_ = std::exchange(other.schema_, nullptr);
            data_ = std::move(other.data_);
        }
        return *this;
    }
    ~Config()
    {
        reset();
    }

    bool empty() const noexcept
    {
        return schema_ == nullptr;
    }
    const nr_config_schema *schema() const noexcept
    {
        return schema_;
    }
    /* The struct, for the C calls that take one (a pool's or a resource's config). */
    void *get() noexcept
    {
        return data_.get();
    }
    const void *get() const noexcept
    {
        return data_.get();
    }
    /* The struct as its C type; T must be the schema's struct (its size is
     * checked, the rest is the caller's word). */
    template <class T> T &as()
    {
        check_size(sizeof(T));
        return *static_cast<T *>(get());
    }
    template <class T> const T &as() const
    {
        check_size(sizeof(T));
        return *static_cast<const T *>(get());
    }

    /* Typed setters (nr_config_set_*): the field must exist and have that type. */
    Result<void> set_str(CStr field, const char *value)
    {
        nr_error err{};
        return detail::check(nr_config_set_str(schema_, data_.get(), field.c_str(), value, &err),
                             err);
    }
    Result<void> set_int(CStr field, int64_t value)
    {
        nr_error err{};
        return detail::check(nr_config_set_int(schema_, data_.get(), field.c_str(), value, &err),
                             err);
    }
    Result<void> set_bool(CStr field, bool value)
    {
        nr_error err{};
        return detail::check(nr_config_set_bool(schema_, data_.get(), field.c_str(), value, &err),
                             err);
    }
    Result<void> set_double(CStr field, double value)
    {
        nr_error err{};
        return detail::check(nr_config_set_double(schema_, data_.get(), field.c_str(), value, &err),
                             err);
    }
    Result<void> set_enum(CStr field, const char *name)
    {
        nr_error err{};
        return detail::check(nr_config_set_enum(schema_, data_.get(), field.c_str(), name, &err),
                             err);
    }
    Result<void> set_secret(CStr field, const char *value)
    {
        nr_error err{};
        return detail::check(nr_config_set_secret(schema_, data_.get(), field.c_str(), value, &err),
                             err);
    }
    /* One setter for every type, chosen by the value's C++ type: bool, an
     * integer, a floating-point number, or text (a string field, or an enum
     * field by name). A secret field takes set_secret only. */
    template <class V> Result<void> set(CStr field, const V &value)
    {
        if constexpr (std::is_same_v<V, bool>) {
            return set_bool(field, value);
        } else if constexpr (std::is_integral_v<V>) {
            if constexpr (std::is_unsigned_v<V> && sizeof(V) >= sizeof(int64_t)) {
                if (value > static_cast<V>(std::numeric_limits<int64_t>::max()))
                    return Error(errc::config,
                                 std::string(field.c_str()) + ": value beyond the int64 range");
            }
            return set_int(field, static_cast<int64_t>(value));
        } else if constexpr (std::is_floating_point_v<V>) {
            return set_double(field, static_cast<double>(value));
        } else if constexpr (std::is_same_v<V, std::nullptr_t>) {
            return set_str(field, nullptr);
        } else if constexpr (std::is_convertible_v<const V &, const char *>) {
            return set_text(field, value); /* a literal, a char pointer (null: unset) */
        } else if constexpr (std::is_convertible_v<const V &, std::string_view>) {
            std::string text{std::string_view(value)}; /* std::string and the like */
            return set_text(field, text.c_str());
        } else {
            static_assert(std::is_same_v<V, bool>, "Config::set takes bool, integers, "
                                                   "floating-point numbers and text");
            return {};
        }
    }

    /* Check every field's rule and the schema's cross-field check. */
    Result<void> validate(nr_config_report *report = nullptr) const
    {
        nr_error err{};
        return detail::check(nr_config_validate(schema_, data_.get(), "$", report, &err), err);
    }
    /* Compact JSON, secrets written "<redacted>" unless asked otherwise. */
    Result<std::string> to_json(nr_config_secrets secrets = NR_CONFIG_SECRETS_REDACT) const
    {
        nr_error err{};
        char *text = nr_config_serialize(schema_, data_.get(), secrets, &err);
        if (!text)
            return Error::from(err.code != NR_OK ? err.code : NR_ENOMEM, err);
        std::string out(text);
        nr_free(text);
        return out;
    }

  private:
    /* Text for a string field, or for an enum field by name. */
    Result<void> set_text(CStr field, const char *text)
    {
        const nr_field *f = nr_config_field(schema_, field.c_str());
        if (f && f->type == NR_FT_ENUM)
            return set_enum(field, text);
        return set_str(field, text);
    }
    struct free_storage {
        void operator()(void *p) const noexcept
        {
            ::operator delete(p);
        }
    };
    explicit Config(const nr_config_schema &schema)
        : schema_(&schema), data_(::operator new(schema.struct_size ? schema.struct_size : 1))
    {
        std::memset(data_.get(), 0, schema.struct_size);
    }
    void reset() noexcept
    {
        if (schema_ && data_)
            nr_config_free(schema_, data_.get());
        schema_ = nullptr;
        data_.reset();
    }
    void check_size(size_t size) const
    {
        if (!schema_ || schema_->struct_size != size)
            detail::fail(
                Error(errc::invalid_argument, "Config::as: the type is not the schema's struct"));
    }

    const nr_config_schema *schema_ = nullptr;
    std::unique_ptr<void, free_storage> data_;
};

/* ---- Secret and Cancel --------------------------------------------------------------------- */

/* An nr_secret, owned (zeroed and freed by the destructor). */
class Secret
{
  public:
    Secret() noexcept = default;
    static Result<Secret> from_str(CStr text)
    {
        Secret s;
        nr_error err{};
        int rc = nr_secret_from_str(&s.s_, text.c_str(), &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return s;
    }
    static Result<Secret> from_bytes(const void *data, size_t len)
    {
        Secret s;
        nr_error err{};
        int rc = nr_secret_create(&s.s_, data, len, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return s;
    }
    Secret(const Secret &) = delete;
    Secret &operator=(const Secret &) = delete;
    Secret(Secret &&o) noexcept : s_(std::exchange(o.s_, nullptr))
    {
    }
    Secret &operator=(Secret &&o) noexcept
    {
        if (this != &o) {
            nr_secret_free(s_);
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    ~Secret()
    {
        nr_secret_free(s_);
    }
    const nr_secret *get() const noexcept
    {
        return s_;
    }
    size_t size() const noexcept
    {
        return s_ ? nr_secret_len(s_) : 0;
    }

  private:
    nr_secret *s_ = nullptr;
};

/* An nr_cancel token, owned. It must outlive every call it was given to.
 * trigger() and is_set() may be called from any thread. */
class Cancel
{
  public:
    static Result<Cancel> make(Cancel *parent = nullptr)
    {
        Cancel c;
        nr_error err{};
        int rc = nr_cancel_create(&c.t_, parent ? parent->t_ : nullptr, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return c;
    }
    Cancel(const Cancel &) = delete;
    Cancel &operator=(const Cancel &) = delete;
    Cancel(Cancel &&o) noexcept : t_(std::exchange(o.t_, nullptr))
    {
    }
    Cancel &operator=(Cancel &&o) noexcept
    {
        if (this != &o) {
            nr_cancel_destroy(t_);
            t_ = std::exchange(o.t_, nullptr);
        }
        return *this;
    }
    ~Cancel()
    {
        nr_cancel_destroy(t_);
    }
    void trigger() noexcept
    {
        nr_cancel_trigger(t_);
    }
    bool is_set() const noexcept
    {
        return nr_cancel_is_set(t_);
    }
    const nr_cancel *get() const noexcept
    {
        return t_;
    }

  private:
    Cancel() noexcept = default;
    nr_cancel *t_ = nullptr;
};

/* ---- what an acquire carries -------------------------------------------------------------- */

/* nr_ctx with a Deadline: pool.acquire(Ctx(200ms).in(scope).with(cancel)). */
struct Ctx {
    Ctx() noexcept = default;
    Ctx(Deadline d) noexcept : deadline(d)
    {
    }
    Ctx &in(const nr_scope &s) noexcept
    {
        scope = &s;
        return *this;
    }
    Ctx &with(const Cancel &c) noexcept
    {
        cancel = c.get();
        return *this;
    }
    Ctx &tag(const char *t) noexcept
    {
        caller = t;
        return *this;
    }
    nr_ctx c() const noexcept
    {
        nr_ctx out{};
        out.deadline = deadline.c();
        out.cancel = cancel;
        out.scope = scope;
        out.caller = caller;
        return out;
    }

    Deadline deadline;                 /* unset: the pool's acquire_timeout_ms */
    const nr_cancel *cancel = nullptr; /* borrowed */
    const nr_scope *scope = nullptr;   /* borrowed; null: Global */
    const char *caller = nullptr;      /* a tag for traces */
};

#if defined(__GNUC__) || defined(__clang__)
#define NEBULA_RESOURCE_FILE_ __builtin_FILE()
#define NEBULA_RESOURCE_LINE_ __builtin_LINE()
#define NEBULA_RESOURCE_FUNC_ __builtin_FUNCTION()
#else
#define NEBULA_RESOURCE_FILE_ "?"
#define NEBULA_RESOURCE_LINE_ 0
#define NEBULA_RESOURCE_FUNC_ "?"
#endif

/* ---- Pool --------------------------------------------------------------------------------- */

/*
 * An nr_pool, owned: destroyed by the destructor (which frees nothing if
 * leases are still out; see the top of this file). A Pool made from a
 * Config owns the config too (a pool borrows its config for its whole life).
 * Every member function but the moves may be called from any thread.
 */
class Pool
{
  public:
    Pool() noexcept = default;

    /* A pool from the C options (every pointer in them as nebula/pool.h says:
     * the config and the type are borrowed and must outlive the pool). */
    static Result<Pool> create(const nr_pool_options &options)
    {
        Pool p;
        nr_error err{};
        int rc = nr_pool_create(&p.p_, &options, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return p;
    }
    /* The same with the driver's config in `config`, which the Pool keeps
     * (options.config is ignored). */
    static Result<Pool> create(nr_pool_options options, Config config)
    {
        auto owned = std::make_unique<Config>(std::move(config));
        options.config = owned->get();
        Result<Pool> r = create(options);
        if (r)
            r->config_ = std::move(owned);
        return r;
    }
    /* A pool of `type` with `config`, which the Pool keeps. pool_config and
     * credential may be null (defaults, none); both are copied. */
    static Result<Pool> create(CStr id, const nr_resource_type &type, Config config,
                               const nr_pool_config *pool_config = nullptr,
                               const Secret *credential = nullptr)
    {
        nr_pool_options o{};
        o.id = id.c_str();
        o.type = &type;
        o.pool = pool_config;
        o.credential = credential ? credential->get() : nullptr;
        return create(o, std::move(config));
    }
#if NEBULA_RESOURCE_HAS_EXCEPTIONS
    static Pool create_or_throw(const nr_pool_options &options)
    {
        return create(options).value();
    }
    static Pool create_or_throw(nr_pool_options options, Config config)
    {
        return create(options, std::move(config)).value();
    }
    static Pool create_or_throw(CStr id, const nr_resource_type &type, Config config,
                                const nr_pool_config *pool_config = nullptr,
                                const Secret *credential = nullptr)
    {
        return create(id, type, std::move(config), pool_config, credential).value();
    }
#endif

    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;
    Pool(Pool &&o) noexcept : p_(std::exchange(o.p_, nullptr)), config_(std::move(o.config_))
    {
    }
    Pool &operator=(Pool &&o) noexcept
    {
        if (this != &o) {
            dispose();
            p_ = std::exchange(o.p_, nullptr);
            config_ = std::move(o.config_);
        }
        return *this;
    }
    ~Pool()
    {
        dispose();
    }

    /*
     * Destroy the pool now (nr_pool_destroy). On success the Pool is empty.
     * errc::busy when leases are still out: the pool is closed (acquires
     * fail with errc::shut_down, leases given back are destroyed) and stays
     * owned here, so that a later destroy() can free it; the destructor
     * gives it up instead.
     */
    Result<void> destroy()
    {
        if (!p_)
            return {};
        nr_error err{};
        int rc = nr_pool_destroy(p_, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        p_ = nullptr;
        config_.reset();
        return {};
    }

    /* Lease an instance by the deadline (unset: the pool's acquire_timeout_ms);
     * see nr_pool_acquire for the codes. The caller's file, line and function
     * go to the leak report. */
    Result<Guard> acquire(const Ctx &ctx = {}, const char *file = NEBULA_RESOURCE_FILE_,
                          int line = NEBULA_RESOURCE_LINE_,
                          const char *func = NEBULA_RESOURCE_FUNC_)
    {
        if (!p_)
            return Error(errc::invalid_argument, "acquire: the Pool is empty");
        nr_ctx c = ctx.c();
        nr_guard g{nullptr, 0};
        nr_error err{};
        int rc = nr_pool_acquire_at(p_, &c, &g, &err, file, line, func);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return Guard(std::move(g));
    }
    Result<Guard> acquire(Deadline deadline, const char *file = NEBULA_RESOURCE_FILE_,
                          int line = NEBULA_RESOURCE_LINE_,
                          const char *func = NEBULA_RESOURCE_FUNC_)
    {
        return acquire(Ctx(deadline), file, line, func);
    }
#if NEBULA_RESOURCE_HAS_EXCEPTIONS
    Guard acquire_or_throw(const Ctx &ctx = {}, const char *file = NEBULA_RESOURCE_FILE_,
                           int line = NEBULA_RESOURCE_LINE_,
                           const char *func = NEBULA_RESOURCE_FUNC_)
    {
        return acquire(ctx, file, line, func).value();
    }
    Guard acquire_or_throw(Deadline deadline, const char *file = NEBULA_RESOURCE_FILE_,
                           int line = NEBULA_RESOURCE_LINE_,
                           const char *func = NEBULA_RESOURCE_FUNC_)
    {
        return acquire(Ctx(deadline), file, line, func).value();
    }
#endif

    /* Create instances until min_idle are idle (nr_pool_fill), or n (prime). */
    Result<void> fill(Deadline deadline)
    {
        nr_error err{};
        return detail::check(nr_pool_fill(p_, deadline.c(), &err), err);
    }
    Result<void> prime(uint32_t n, Deadline deadline)
    {
        nr_error err{};
        return detail::check(nr_pool_prime(p_, n, deadline.c(), &err), err);
    }
    Result<void> resize(int64_t min_idle, int64_t max_size)
    {
        nr_error err{};
        return detail::check(nr_pool_resize(p_, min_idle, max_size, &err), err);
    }
    void suspend() noexcept
    {
        nr_pool_suspend(p_);
    }
    void resume() noexcept
    {
        nr_pool_resume(p_);
    }
    uint32_t evict_all() noexcept
    {
        return nr_pool_evict_all(p_);
    }
    void close() noexcept
    {
        nr_pool_close(p_);
    }
    /* Close, then wait until every lease is back and destroyed. */
    Result<void> drain(Deadline deadline)
    {
        nr_error err{};
        return detail::check(nr_pool_drain(p_, deadline.c(), &err), err);
    }
    /* A snapshot of the statistics (all zero for an empty Pool). */
    nr_pool_stats stats() const noexcept
    {
        nr_pool_stats out;
        std::memset(&out, 0, sizeof(out));
        if (p_)
            nr_pool_stats_get(p_, &out);
        return out;
    }
    const char *id() const noexcept
    {
        return p_ ? nr_pool_id(p_) : "";
    }

    explicit operator bool() const noexcept
    {
        return p_ != nullptr;
    }
    nr_pool *get() const noexcept
    {
        return p_;
    }

  private:
    /* Destroy, or give the pool and its config up when leases are still out:
     * the closed pool stays alive for them, so its config must too. */
    void dispose() noexcept
    {
        if (p_ && nr_pool_destroy(p_, nullptr) != NR_OK)
            (void)config_.release();
        p_ = nullptr;
        config_.reset();
    }

    nr_pool *p_ = nullptr;
    std::unique_ptr<Config> config_; /* the config the pool borrows, when it is ours */
};

/* ---- Manager ------------------------------------------------------------------------------ */

/*
 * An nr_manager, owned: shut down with the default phase timeouts (when
 * shutdown() was not called) and destroyed by the destructor, which frees
 * nothing if leases are still out. The manager copies every resource's
 * config, so a Config given to register_resource may go right after.
 * Every member function but the moves may be called from any thread.
 */
class Manager
{
  public:
    Manager() noexcept = default;
    /* options null: the defaults (nr_manager_options_default). */
    static Result<Manager> create(const nr_manager_options *options = nullptr)
    {
        Manager m;
        nr_error err{};
        int rc = nr_manager_create(&m.m_, options, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return m;
    }
#if NEBULA_RESOURCE_HAS_EXCEPTIONS
    static Manager create_or_throw(const nr_manager_options *options = nullptr)
    {
        return create(options).value();
    }
#endif
    Manager(const Manager &) = delete;
    Manager &operator=(const Manager &) = delete;
    Manager(Manager &&o) noexcept : m_(std::exchange(o.m_, nullptr))
    {
    }
    Manager &operator=(Manager &&o) noexcept
    {
        if (this != &o) {
            dispose();
            m_ = std::exchange(o.m_, nullptr);
        }
        return *this;
    }
    ~Manager()
    {
        dispose();
    }

    /* Shut down if needed, then free (nr_manager_destroy); errc::busy with
     * leases out (nothing freed; call again once they are back). */
    Result<void> destroy()
    {
        if (!m_)
            return {};
        nr_error err{};
        int rc = nr_manager_destroy(m_, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        m_ = nullptr;
        return {};
    }

    /* Register a resource from the C spec (nr_manager_register). */
    Result<void> register_resource(const nr_resource_spec &spec)
    {
        nr_error err{};
        return detail::check(nr_manager_register(m_, &spec, &err), err);
    }
    /* Register resource `id` of `type` with `config` (copied), depending on
     * the resources named in depends_on; pool_config null: the defaults. */
    Result<void> register_resource(CStr id, const nr_resource_type &type, const Config &config,
                                   std::initializer_list<const char *> depends_on = {},
                                   const nr_pool_config *pool_config = nullptr)
    {
        std::vector<const char *> deps(depends_on);
        nr_resource_spec spec{};
        spec.id = id.c_str();
        spec.type = &type;
        spec.config = config.get();
        spec.pool = pool_config;
        spec.depends_on = deps.empty() ? nullptr : deps.data();
        spec.ndepends = deps.size();
        return register_resource(spec);
    }

    /* Start every resource in dependency order (nr_manager_start). */
    Result<void> start(Deadline deadline)
    {
        nr_error err{};
        return detail::check(nr_manager_start(m_, deadline.c(), &err), err);
    }
    Result<void> start(const Ctx &ctx)
    {
        nr_ctx c = ctx.c();
        nr_error err{};
        return detail::check(nr_manager_start_ctx(m_, &c, &err), err);
    }

    /* Lease an instance of resource id (nr_manager_acquire). */
    Result<Guard> acquire(CStr id, const Ctx &ctx = {})
    {
        if (!m_)
            return Error(errc::invalid_argument, "acquire: the Manager is empty");
        nr_ctx c = ctx.c();
        nr_guard g{nullptr, 0};
        nr_error err{};
        int rc = nr_manager_acquire(m_, id.c_str(), &c, &g, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return Guard(std::move(g));
    }
    Result<Guard> acquire(CStr id, Deadline deadline)
    {
        return acquire(id, Ctx(deadline));
    }
    /* Lease from the healthiest member of a group (nr_manager_acquire_group);
     * choice (may be null) says which member served. */
    Result<Guard> acquire_group(CStr group, const Ctx &ctx = {}, nr_group_choice *choice = nullptr)
    {
        if (!m_)
            return Error(errc::invalid_argument, "acquire_group: the Manager is empty");
        nr_ctx c = ctx.c();
        nr_guard g{nullptr, 0};
        nr_error err{};
        int rc = nr_manager_acquire_group(m_, group.c_str(), &c, &g, choice, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return Guard(std::move(g));
    }
    Result<Guard> acquire_group(CStr group, Deadline deadline, nr_group_choice *choice = nullptr)
    {
        return acquire_group(group, Ctx(deadline), choice);
    }
#if NEBULA_RESOURCE_HAS_EXCEPTIONS
    Guard acquire_or_throw(CStr id, const Ctx &ctx = {})
    {
        return acquire(id, ctx).value();
    }
    Guard acquire_or_throw(CStr id, Deadline deadline)
    {
        return acquire(id, Ctx(deadline)).value();
    }
    void register_resource_or_throw(const nr_resource_spec &spec)
    {
        register_resource(spec).value();
    }
    void register_resource_or_throw(CStr id, const nr_resource_type &type, const Config &config,
                                    std::initializer_list<const char *> depends_on = {},
                                    const nr_pool_config *pool_config = nullptr)
    {
        register_resource(id, type, config, depends_on, pool_config).value();
    }
    void start_or_throw(Deadline deadline)
    {
        start(deadline).value();
    }
#endif

    /* One resource's state, health and statistics. */
    Result<nr_resource_info> info(CStr id) const
    {
        nr_resource_info out;
        nr_error err{};
        int rc = nr_manager_resource_info(m_, id.c_str(), &out, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return out;
    }
    size_t count() const noexcept
    {
        return nr_manager_count(m_);
    }
    /* One maintenance and one health round now, on the calling thread. */
    void tick() noexcept
    {
        nr_manager_tick(m_);
    }

    /* Phased shutdown (drain, cleanup, terminate; nr_manager_shutdown) with
     * these phase timeouts; report (may be null) gets what each phase did
     * and what was still out, also on errc::timed_out. A second call
     * succeeds at once. */
    Result<void> shutdown(std::chrono::milliseconds drain = std::chrono::seconds(30),
                          std::chrono::milliseconds cleanup = std::chrono::seconds(10),
                          nr_shutdown_report *report = nullptr)
    {
        nr_shutdown_options so;
        nr_shutdown_options_default(&so);
        so.drain_timeout_ms = drain.count();
        so.cleanup_timeout_ms = cleanup.count();
        nr_error err{};
        return detail::check(nr_manager_shutdown(m_, &so, report, &err), err);
    }

    /* The provider port backed by this manager (valid while it lives). */
    nr_provider provider() noexcept
    {
        return nr_manager_provider(m_);
    }
    explicit operator bool() const noexcept
    {
        return m_ != nullptr;
    }
    nr_manager *get() const noexcept
    {
        return m_;
    }

  private:
    /* Destroy, or give the manager up when leases are still out. */
    void dispose() noexcept
    {
        if (m_)
            (void)nr_manager_destroy(m_, nullptr);
        m_ = nullptr;
    }

    nr_manager *m_ = nullptr;
};

} // namespace nebula

#endif
