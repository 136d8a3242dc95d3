/*
 * probes.h - USDT (statically defined tracing) probes, provider
 * "nebula_resource".
 *
 * With NR_HAVE_USDT (NR_WITH_USDT=ON and <sys/sdt.h> present) each macro is a
 * DTRACE_PROBEn from <sys/sdt.h>: a single nop in the code plus an
 * NT_STAPSDT note that bpftrace, perf and SystemTap read to attach. An
 * unattached probe costs the nop and keeping its arguments in registers or
 * on the stack. Without NR_HAVE_USDT each macro is a void expression that
 * evaluates none of its arguments (they appear only inside sizeof, so a
 * variable computed just for a probe raises no unused-variable warning).
 * Write them as statements: NR_PROBE_RELEASE(pool->id, inst->id);
 *
 * Probes and their arguments (strings are NUL-terminated ids, never
 * secrets):
 *   acquire (const char *pool_id, int64_t wait_ns, int rc)
 *   release (const char *pool_id, uint64_t instance_id)
 *   create  (const char *pool_id, uint64_t instance_id, int rc)  instance_id 0 on failure
 *   destroy (const char *pool_id, uint64_t instance_id)
 *   health  (const char *resource_id, int old_state, int new_state)  nr_health_state values
 *
 * nr__probe_selftest() (probe_points.c) fires each probe once, so the built
 * library carries every probe's note wherever the probes are used; tests
 * and tools can call it to see each probe fire.
 */
#ifndef NR_OBSERVE_PROBES_H
#define NR_OBSERVE_PROBES_H

#ifdef NR_HAVE_USDT
#include <sys/sdt.h>

/* <sys/sdt.h> passes an empty variadic argument internally, which clang's
 * -Wpedantic reports at every use; silence it around the probe only. */
#define NR__PROBE_QUIET                                                                            \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wpedantic\"")
#define NR__PROBE_LOUD _Pragma("GCC diagnostic pop")

#define NR_PROBE_ACQUIRE(pool_id, wait_ns, rc)                                                     \
    do {                                                                                           \
        NR__PROBE_QUIET DTRACE_PROBE3(nebula_resource, acquire, (pool_id), (wait_ns), (rc));       \
        NR__PROBE_LOUD                                                                             \
    } while (0)
#define NR_PROBE_RELEASE(pool_id, instance_id)                                                     \
    do {                                                                                           \
        NR__PROBE_QUIET DTRACE_PROBE2(nebula_resource, release, (pool_id), (instance_id));         \
        NR__PROBE_LOUD                                                                             \
    } while (0)
#define NR_PROBE_CREATE(pool_id, instance_id, rc)                                                  \
    do {                                                                                           \
        NR__PROBE_QUIET DTRACE_PROBE3(nebula_resource, create, (pool_id), (instance_id), (rc));    \
        NR__PROBE_LOUD                                                                             \
    } while (0)
#define NR_PROBE_DESTROY(pool_id, instance_id)                                                     \
    do {                                                                                           \
        NR__PROBE_QUIET DTRACE_PROBE2(nebula_resource, destroy, (pool_id), (instance_id));         \
        NR__PROBE_LOUD                                                                             \
    } while (0)
#define NR_PROBE_HEALTH(resource_id, old_state, new_state)                                         \
    do {                                                                                           \
        NR__PROBE_QUIET DTRACE_PROBE3(nebula_resource, health, (resource_id), (old_state),         \
                                      (new_state));                                                \
        NR__PROBE_LOUD                                                                             \
    } while (0)

#else

#define NR_PROBE_ACQUIRE(pool_id, wait_ns, rc)                                                     \
    ((void)sizeof(pool_id), (void)sizeof(wait_ns), (void)sizeof(rc))
#define NR_PROBE_RELEASE(pool_id, instance_id) ((void)sizeof(pool_id), (void)sizeof(instance_id))
#define NR_PROBE_CREATE(pool_id, instance_id, rc)                                                  \
    ((void)sizeof(pool_id), (void)sizeof(instance_id), (void)sizeof(rc))
#define NR_PROBE_DESTROY(pool_id, instance_id) ((void)sizeof(pool_id), (void)sizeof(instance_id))
#define NR_PROBE_HEALTH(resource_id, old_state, new_state)                                         \
    ((void)sizeof(resource_id), (void)sizeof(old_state), (void)sizeof(new_state))

#endif

/* Fire every probe once with fixed arguments (pool id "nr-probe-selftest",
 * instance 1, wait 0, rc NR_OK, health UNKNOWN -> HEALTHY). The probes'
 * self-test hook; a no-op without NR_HAVE_USDT. */
void nr__probe_selftest(void);

#endif
