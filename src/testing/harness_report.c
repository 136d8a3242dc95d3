/* harness_report.c - the harness's names, seed and report line. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_internal.h"

const char *nr_invariant_name(nr_invariant inv)
{
    switch (inv) {
    case NR_INV_NONE:
        return "none";
    case NR_INV_LOST:
        return "lost";
    case NR_INV_DOUBLE_HANDOUT:
        return "double_handout";
    case NR_INV_STALE_HANDLE:
        return "stale_handle";
    case NR_INV_DEADLINE:
        return "deadline";
    case NR_INV_LEASE_LEFT:
        return "lease_left";
    case NR_INV_UNBALANCED:
        return "unbalanced";
    default:
        return "?";
    }
}

uint64_t nr_harness_seed(uint64_t seed)
{
    if (seed)
        return seed;
    const char *env = getenv("NR_TEST_SEED");
    if (env && *env) {
        char *end = NULL;
        unsigned long long v = strtoull(env, &end, 0);
        if (end && *end == '\0' && v != 0)
            return (uint64_t)v;
    }
    uint64_t s = nr__mock_mix((uint64_t)nr_now_ns() ^ ((uint64_t)getpid() << 32));
    return s ? s : 1;
}

void nr__harness_violation(nr__harness_run *run, nr_invariant inv, const char *fmt, ...)
{
    pthread_mutex_lock(&run->mu);
    nr_harness_report *r = run->rep;
    r->violations[inv]++;
    if (r->broken == NR_INV_NONE) {
        r->broken = inv;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->first, sizeof(r->first), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&run->mu);
}

int nr_harness_report_format(const nr_harness_report *r, char *buf, size_t n)
{
    if (!r)
        return snprintf(buf, n, "harness: no report");
    if (r->broken == NR_INV_NONE)
        return snprintf(
            buf, n,
            "harness seed=%" PRIu64 ": passed (%" PRIu64 " acquires, %" PRIu64 " leased, %" PRIu64
            " timed out, %" PRIu64 " canceled, %" PRIu64 " exhausted, %" PRIu64 " controls)",
            r->seed, r->acquires, r->acquired, r->timedout, r->canceled, r->exhausted, r->controls);
    return snprintf(buf, n,
                    "harness seed=%" PRIu64 ": invariant %s broken (%" PRIu64
                    " times); first: %s (replay with NR_TEST_SEED=%" PRIu64 ")",
                    r->seed, nr_invariant_name(r->broken), r->violations[r->broken], r->first,
                    r->seed);
}
