/* time.c - monotonic clock and absolute deadlines. */
#define _GNU_SOURCE /* CLOCK_MONOTONIC_COARSE */
#include "nebula/time.h"

#include <errno.h>
#include <time.h>

int64_t nr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NR_NS_PER_S + ts.tv_nsec;
}

int64_t nr_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t nr_now_coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * NR_NS_PER_S + ts.tv_nsec;
}

nr_deadline nr_deadline_in_ns(int64_t rel_ns)
{
    int64_t now = nr_now_ns();
    nr_deadline d;
    if (rel_ns > 0 && now > INT64_MAX - rel_ns)
        d.at_ns = NR_DEADLINE_NEVER;
    else
        d.at_ns = now + rel_ns;
    if (d.at_ns == 0) /* 0 means "unset": keep an expired deadline expired */
        d.at_ns = 1;
    return d;
}

nr_deadline nr_deadline_in_ms(int64_t rel_ms)
{
    if (rel_ms > INT64_MAX / NR_NS_PER_MS)
        return nr_deadline_never();
    if (rel_ms < INT64_MIN / NR_NS_PER_MS)
        rel_ms = INT64_MIN / NR_NS_PER_MS;
    return nr_deadline_in_ns(rel_ms * NR_NS_PER_MS);
}

nr_deadline nr_deadline_never(void)
{
    nr_deadline d = {NR_DEADLINE_NEVER};
    return d;
}

bool nr_deadline_expired(nr_deadline d)
{
    if (d.at_ns == 0 || d.at_ns == NR_DEADLINE_NEVER)
        return false;
    return nr_now_ns() >= d.at_ns;
}

int64_t nr_deadline_remaining_ns(nr_deadline d)
{
    if (d.at_ns == 0 || d.at_ns == NR_DEADLINE_NEVER)
        return INT64_MAX;
    int64_t left = d.at_ns - nr_now_ns();
    return left > 0 ? left : 0;
}

nr_deadline nr_deadline_min(nr_deadline a, nr_deadline b)
{
    int64_t x = a.at_ns ? a.at_ns : NR_DEADLINE_NEVER;
    int64_t y = b.at_ns ? b.at_ns : NR_DEADLINE_NEVER;
    nr_deadline d = {x < y ? x : y};
    return d;
}

void nr_sleep_ns(int64_t rel_ns)
{
    if (rel_ns <= 0)
        return;
    struct timespec ts = {(time_t)(rel_ns / NR_NS_PER_S), (long)(rel_ns % NR_NS_PER_S)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
