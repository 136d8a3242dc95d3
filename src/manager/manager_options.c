/*
 * manager_options.c - the manager's options: defaults and their rules.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "base/abi.h"
#include "manager/manager_internal.h"

static void defaults(nr_manager_options *o)
{
    memset(o, 0, sizeof(*o));
    o->size = sizeof(*o);
    o->workers = 4;
    o->creators = 4;
    o->maintain_interval_ms = 1000;
    o->health_interval_ms = 10000;
    o->health_timeout_ms = 5000;
    o->failure_threshold = 3;
    o->recovery_threshold = 2;
    o->quarantine_after = 0;
    o->quarantine_base_ms = 1000;
    o->quarantine_factor = 2.0;
    o->quarantine_max_ms = 60000;
    o->quarantine_jitter = 0.2;
    o->quarantine_max_attempts = 8;
    o->quarantine_trials = 3;
}

void nr_manager_options_default(nr_manager_options *o)
{
    nr_manager_options d;
    defaults(&d);
    nr__abi_default(o, &d, sizeof(d));
}

int nr__manager_options_check(nr_manager_options *o, nr_error *err)
{
    if (o->creators == 0)
        o->creators = 4; /* options filled before the field existed */
    if (o->creators > 64)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "manager options: creators must be between 1 and 64 (got %u)",
                            o->creators);
    if (o->workers < 1 || o->workers > 64)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "manager options: workers must be between 1 and 64 (got %u)",
                            o->workers);
    if (o->maintain_interval_ms < 0 || o->health_interval_ms < 0)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "manager options: intervals must not be negative");
    if (o->health_timeout_ms < 1)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "manager options: health_timeout_ms must be at least 1 (got %lld)",
                            (long long)o->health_timeout_ms);
    if (o->failure_threshold < 1 || o->recovery_threshold < 1)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "manager options: failure_threshold and recovery_threshold must be "
                            "at least 1");
    if (o->quarantine_after) { /* the rest matters only when quarantine is on */
        if (o->quarantine_after > 1000)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "manager options: quarantine_after must be 0..1000 (got %u)",
                                o->quarantine_after);
        if (o->quarantine_base_ms < 1 || o->quarantine_base_ms > 86400000)
            return nr_error_set(
                err, NR_EINVAL, NULL,
                "manager options: quarantine_base_ms must be 1..86400000 (got %lld)",
                (long long)o->quarantine_base_ms);
        if (!(o->quarantine_factor >= 1 && o->quarantine_factor <= 10))
            return nr_error_set(err, NR_EINVAL, NULL,
                                "manager options: quarantine_factor must be 1..10 (got %g)",
                                o->quarantine_factor);
        if (o->quarantine_max_ms < o->quarantine_base_ms || o->quarantine_max_ms > 86400000)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "manager options: quarantine_max_ms must be quarantine_base_ms.."
                                "86400000 (got %lld)",
                                (long long)o->quarantine_max_ms);
        if (!(o->quarantine_jitter >= 0 && o->quarantine_jitter <= 1))
            return nr_error_set(err, NR_EINVAL, NULL,
                                "manager options: quarantine_jitter must be 0..1 (got %g)",
                                o->quarantine_jitter);
        if (o->quarantine_max_attempts < 1 || o->quarantine_max_attempts > 1000)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "manager options: quarantine_max_attempts must be 1..1000 (got %u)",
                                o->quarantine_max_attempts);
        if (o->quarantine_trials < 1 || o->quarantine_trials > 1000000)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "manager options: quarantine_trials must be 1..1000000 (got %u)",
                                o->quarantine_trials);
    }
    return NR_OK;
}
