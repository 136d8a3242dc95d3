/*
 * manager_control.c - the pool controls by resource id: resize, suspend and
 * resume, evict-all. Each finds the entry and takes a reference under the
 * registry lock, then works on the entry's pools with no manager lock held.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "manager/manager_internal.h"
#include "nebula/alloc.h"

static nr__entry *find_ref(nr_manager *m, const char *id, const char *what, nr_error *err)
{
    if (!m || !id) {
        nr_error_set(err, NR_EINVAL, NULL, "%s: manager and id must not be NULL", what);
        return NULL;
    }
    return nr__entry_find_ref(m, id, err);
}

typedef enum { OP_RESIZE, OP_SUSPEND, OP_RESUME, OP_EVICT } op_kind;

static int apply(nr_manager *m, const char *id, op_kind op, int64_t min_idle, int64_t max_size,
                 uint32_t *evicted, nr_error *err)
{
    static const char *const names[] = {"nr_manager_resize", "nr_manager_suspend",
                                        "nr_manager_resume", "nr_manager_evict_all"};
    nr__entry *e = find_ref(m, id, names[op], err);
    if (!e)
        return m && id ? NR_ENOTFOUND : NR_EINVAL;
    int rc = NR_OK;
    if (op == OP_RESIZE) {
        pthread_mutex_lock(&e->mu);
        nr_pool_config c = e->pool_cfg;
        pthread_mutex_unlock(&e->mu);
        c.min_idle = min_idle;
        c.max_size = max_size;
        nr_config_report rep;
        nr_config_report_clear(&rep);
        if (nr_config_validate(&nr_pool_config_schema, &c, "$.pool", &rep, NULL) != NR_OK) {
            const nr_config_issue *i = &rep.items[0];
            rc = nr_error_set(err, NR_ECONFIG, e->id, "resource '%s': %s: %s (got %s)", e->id,
                              i->path, i->rule, i->value);
            nr__entry_put(e);
            return rc;
        }
    }
    /* Under e->mu: what pools made later inherit. */
    pthread_mutex_lock(&e->mu);
    if (op == OP_RESIZE) {
        e->pool_cfg.min_idle = min_idle;
        e->pool_cfg.max_size = max_size;
    } else if (op == OP_SUSPEND) {
        e->suspended = 1;
    } else if (op == OP_RESUME) {
        e->suspended = 0;
    }
    pthread_mutex_unlock(&e->mu);
    size_t n;
    nr_pool **pools = nr__entry_pools(e, &n);
    uint32_t gone = 0;
    for (size_t i = 0; i < n && rc == NR_OK; i++) {
        switch (op) {
        case OP_RESIZE:
            rc = nr_pool_resize(pools[i], min_idle, max_size, err);
            break;
        case OP_SUSPEND:
            nr_pool_suspend(pools[i]);
            break;
        case OP_RESUME:
            nr_pool_resume(pools[i]);
            break;
        case OP_EVICT:
            gone += nr_pool_evict_all(pools[i]);
            break;
        }
    }
    nr_free(pools);
    nr__entry_put(e);
    if (evicted)
        *evicted = gone;
    return rc;
}

int nr_manager_resize(nr_manager *m, const char *id, int64_t min_idle, int64_t max_size,
                      nr_error *err)
{
    return apply(m, id, OP_RESIZE, min_idle, max_size, NULL, err);
}

int nr_manager_suspend(nr_manager *m, const char *id, nr_error *err)
{
    return apply(m, id, OP_SUSPEND, 0, 0, NULL, err);
}

int nr_manager_resume(nr_manager *m, const char *id, nr_error *err)
{
    return apply(m, id, OP_RESUME, 0, 0, NULL, err);
}

int nr_manager_evict_all(nr_manager *m, const char *id, uint32_t *evicted, nr_error *err)
{
    return apply(m, id, OP_EVICT, 0, 0, evicted, err);
}
