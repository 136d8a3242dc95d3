/* health_text.c - numbers as the stages' reasons write them. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "health/health_internal.h"

void nr__health_ms_text(char *out, size_t cap, int64_t ns)
{
    if (ns % NR_NS_PER_MS == 0) {
        snprintf(out, cap, "%" PRId64 " ms", (int64_t)(ns / NR_NS_PER_MS));
        return;
    }
    /* three decimals, trailing zeros dropped: 12.5 ms, 0.001 ms */
    char num[48];
    snprintf(num, sizeof(num), "%.3f", (double)ns / (double)NR_NS_PER_MS);
    size_t n = strlen(num);
    while (n > 0 && num[n - 1] == '0')
        num[--n] = '\0';
    if (n > 0 && num[n - 1] == '.')
        num[--n] = '\0';
    snprintf(out, cap, "%s ms", num);
}

void nr__health_num_text(char *out, size_t cap, double v)
{
    snprintf(out, cap, "%.3g", v);
}

void nr__health_pct_text(char *out, size_t cap, double share)
{
    char num[32];
    nr__health_num_text(num, sizeof(num), share * 100.0);
    snprintf(out, cap, "%s%%", num);
}

void nr__health_reason(nr_health_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    if (n < 0)
        r->reason[0] = '\0';
    else if ((size_t)n >= sizeof(r->reason))
        memcpy(r->reason + sizeof(r->reason) - 4, "...", 4);
}
