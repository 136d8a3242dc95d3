/* errno_text.c - the text of an errno value, naming the limit behind EMFILE. */
#define _POSIX_C_SOURCE 200809L /* the XSI strerror_r */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "nebula/error.h"

/* A limit as text: the number, or "unlimited". */
static void limit_text(char *buf, size_t n, rlim_t v)
{
    if (v == RLIM_INFINITY)
        snprintf(buf, n, "unlimited");
    else
        snprintf(buf, n, "%llu", (unsigned long long)v);
}

const char *nr_errno_text(int errnum, char *buf, size_t n)
{
    if (!buf || n == 0)
        return buf;
    char text[128];
    if (strerror_r(errnum, text, sizeof(text)) != 0)
        snprintf(text, sizeof(text), "Unknown error %d", errnum);
    if (errnum == EMFILE) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
            snprintf(buf, n, "%s (EMFILE: this process reached its RLIMIT_NOFILE limit)", text);
            return buf;
        }
        char soft[32], hard[32];
        limit_text(soft, sizeof(soft), rl.rlim_cur);
        limit_text(hard, sizeof(hard), rl.rlim_max);
        snprintf(
            buf, n,
            "%s (EMFILE: the RLIMIT_NOFILE limit of this process is %s open files, hard limit %s)",
            text, soft, hard);
    } else if (errnum == ENFILE) {
        snprintf(buf, n, "%s (ENFILE: the system-wide limit on open files was reached)", text);
    } else {
        snprintf(buf, n, "%s", text);
    }
    return buf;
}
