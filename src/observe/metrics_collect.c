/* metrics_collect.c - the registry's collectors: adding, removing, running
 * them before an exposition (see nebula/metrics.h). */
#define _POSIX_C_SOURCE 200809L
#include "nebula/metrics.h"

#ifdef NR_HAVE_METRICS

#include <string.h>

#include "nebula/alloc.h"
#include "observe/metrics_internal.h"

/* ---- collectors ------------------------------------------------------------------ */

int nr_metrics_add_collector(nr_metrics *reg, nr_metrics_collect_fn fn, void *ud, nr_error *err)
{
    if (!reg)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no registry");
    if (!fn)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no collector function");
    nr__metric_collector *c = nr_malloc(sizeof(*c));
    if (!c)
        return nr_error_set(err, NR_ENOMEM, NULL, "metrics: out of memory adding a collector");
    c->next = NULL;
    c->fn = fn;
    c->ud = ud;
    pthread_mutex_lock(&reg->collect_lock);
    nr__metric_collector **tail = &reg->collectors;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    pthread_mutex_unlock(&reg->collect_lock);
    return NR_OK;
}

int nr_metrics_remove_collector(nr_metrics *reg, nr_metrics_collect_fn fn, void *ud, nr_error *err)
{
    if (!reg)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no registry");
    if (!fn)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no collector function");
    /* Taking collect_lock waits for a collection in progress to end. */
    pthread_mutex_lock(&reg->collect_lock);
    nr__metric_collector *found = NULL;
    for (nr__metric_collector **p = &reg->collectors; *p; p = &(*p)->next) {
        if ((*p)->fn == fn && (*p)->ud == ud) {
            found = *p;
            *p = found->next;
            break;
        }
    }
    pthread_mutex_unlock(&reg->collect_lock);
    if (!found)
        return nr_error_set(err, NR_ENOTFOUND, NULL,
                            "metrics: no such collector (function and user data) was added");
    nr_free(found);
    return NR_OK;
}

int nr__metrics_collect(nr_metrics *reg, nr_error *err)
{
    int rc = NR_OK;
    size_t i = 0;
    pthread_mutex_lock(&reg->collect_lock);
    for (nr__metric_collector *c = reg->collectors; c; c = c->next) {
        i++;
        nr_error cerr = {0};
        rc = c->fn(reg, c->ud, &cerr);
        if (rc == NR_OK)
            continue;
        if (rc > 0 || rc < NR_ERR_MIN) {
            rc = nr_error_set(err, NR_EINTERNAL, NULL,
                              "metrics: collector %zu returned %d, which is not an NR_E* code", i,
                              rc);
        } else if (cerr.code == NR_OK || cerr.message[0] == '\0') {
            nr_error_set(err, rc, NULL, "metrics: collector %zu failed: %s", i, nr_strerror(rc));
        } else if (err) {
            *err = cerr;
            err->code = rc;
            nr_error_prefix(err, "metrics: collector %zu", i);
        }
        break;
    }
    pthread_mutex_unlock(&reg->collect_lock);
    return rc;
}

#endif /* NR_HAVE_METRICS */
