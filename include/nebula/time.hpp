/*
 * nebula/time.hpp - std::chrono durations and steady_clock time points as the
 * library's absolute deadlines (part of the C++ layer, nebula/resource.hpp;
 * docs/cpp.md, "Deadlines").
 *
 * Thread safety: a Deadline is a value; any thread.
 */
#ifndef NEBULA_TIME_HPP
#define NEBULA_TIME_HPP

#include <chrono>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "nebula/error.hpp"
#include "nebula/time.h"

namespace nebula
{

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

} // namespace nebula

#endif
