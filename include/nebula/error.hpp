/*
 * nebula/error.hpp - the library's error codes in C++ (part of the C++ layer,
 * nebula/resource.hpp; docs/cpp.md): errc and error_category() for
 * std::error_code, Error (a code with the library's whole message),
 * Exception (a std::system_error carrying an Error), Result<T> (a value or
 * an Error), and CStr (a NUL-terminated string argument).
 *
 * Thread safety: error_category() may be used from any thread; an Error, an
 * Exception and a Result are values owned by one thread at a time.
 */
#ifndef NEBULA_ERROR_HPP
#define NEBULA_ERROR_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "the C++ layer of Nebula Resource (nebula/*.hpp) needs C++17 or later"
#endif

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "nebula/error.h"

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

/* A sized struct of the C API (its leading size field, docs/ABI.md) zeroed
 * with its size set, as the C macros NR_*_INIT do (their designated
 * initialisers are C++20): `auto o = nebula::sized<nr_pool_options>();`. */
template <class T> inline T sized() noexcept
{
    T v{};
    v.size = sizeof(T);
    return v;
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

} // namespace nebula

#endif
