/* health.c - names of health states. */
#include "nebula/health.h"

const char *nr_health_name(nr_health_state s)
{
    switch (s) {
    case NR_HEALTH_UNKNOWN:
        return "unknown";
    case NR_HEALTH_HEALTHY:
        return "healthy";
    case NR_HEALTH_DEGRADED:
        return "degraded";
    case NR_HEALTH_UNHEALTHY:
        return "unhealthy";
    }
    return "invalid";
}
