/*
 * nebula/health.h - what a health check reports.
 *
 * Thread safety: values; any thread.
 */
#ifndef NEBULA_HEALTH_H
#define NEBULA_HEALTH_H

#include <stdint.h>
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nr_health_state {
    NR_HEALTH_UNKNOWN = 0,
    NR_HEALTH_HEALTHY,
    NR_HEALTH_DEGRADED,
    NR_HEALTH_UNHEALTHY,
} nr_health_state;

#define NR_HEALTH_REASON_MAX 128

typedef struct nr_health_report {
    nr_health_state state;
    int64_t latency_ns;                /* time the check took, filled by the library */
    char reason[NR_HEALTH_REASON_MAX]; /* why it is not healthy; never holds secrets */
} nr_health_report;

/* "unknown", "healthy", "degraded", "unhealthy". */
NR_API const char *nr_health_name(nr_health_state s);

#ifdef __cplusplus
}
#endif
#endif
