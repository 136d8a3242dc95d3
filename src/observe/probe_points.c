/*
 * probe_points.c - the probes' self-test hook: one call site of every USDT
 * probe in probes.h, so the library always carries each probe's
 * NT_STAPSDT note (tests/test_usdt.sh checks them with readelf) and a
 * tracer can watch each one fire by calling nr__probe_selftest().
 */
#define _POSIX_C_SOURCE 200809L
#include "observe/probes.h"

#include <stdint.h>

#include "nebula/error.h"
#include "nebula/health.h"

void nr__probe_selftest(void)
{
    /* volatile: the arguments are real values in memory, as at the real
     * call sites, rather than constants folded into the probe note. */
    static const char id[] = "nr-probe-selftest";
    const char *volatile pool_id = id;
    volatile int64_t wait_ns = 0;
    volatile uint64_t instance_id = 1;
    volatile int rc = NR_OK;
    volatile int old_state = NR_HEALTH_UNKNOWN;
    volatile int new_state = NR_HEALTH_HEALTHY;

    NR_PROBE_ACQUIRE(pool_id, wait_ns, rc);
    NR_PROBE_RELEASE(pool_id, instance_id);
    NR_PROBE_CREATE(pool_id, instance_id, rc);
    NR_PROBE_DESTROY(pool_id, instance_id);
    NR_PROBE_HEALTH(pool_id, old_state, new_state);
}
