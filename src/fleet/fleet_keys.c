/*
 * fleet_keys.c - the names of a fleet budget's keys and members: every
 * byte outside [A-Za-z0-9_.-] of the prefix, resource and process is %XX,
 * so that ':' and '/' only ever separate (no two budgets share a key).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "fleet_internal.h"

static int plain(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
}

int nr__fleet_escape(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (plain(*p)) {
            if (k + 1 >= n)
                return NR_ECONFIG;
            out[k++] = (char)*p;
        } else {
            if (k + 3 >= n)
                return NR_ECONFIG;
            out[k++] = '%';
            out[k++] = hex[*p >> 4];
            out[k++] = hex[*p & 15];
        }
    }
    if (k >= n)
        return NR_ECONFIG;
    out[k] = '\0';
    return NR_OK;
}

int nr__fleet_keys(nr__fleet_cfg *c, nr_error *err)
{
    char pre[192], res[192]; /* 63 bytes, escaped: 189 at most */
    if (nr__fleet_escape(c->prefix, pre, sizeof(pre)) ||
        nr__fleet_escape(c->resource, res, sizeof(res)) ||
        nr__fleet_escape(c->process, c->proc_esc, sizeof(c->proc_esc)))
        return nr_error_set(err, NR_ECONFIG, c->resource,
                            "fleet '%s': prefix, resource or process_id too long once escaped",
                            c->resource);
    snprintf(c->key_budget, sizeof(c->key_budget), "%s:%s:budget", pre, res);
    snprintf(c->key_leases, sizeof(c->key_leases), "%s:%s:leases", pre, res);
    snprintf(c->key_procs, sizeof(c->key_procs), "%s:%s:procs", pre, res);
    return NR_OK;
}
