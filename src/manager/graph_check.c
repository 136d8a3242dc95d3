/*
 * graph_check.c - nr_graph_check (nebula/graph.h): ids to indices (sorted,
 * then binary search), then the dependency graph's own cycle search and
 * start order (graph.c), so a program and the manager judge a graph alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager/graph.h"
#include "nebula/alloc.h"
#include "nebula/graph.h"
#include "nebula/id.h"

typedef struct by_id {
    const char *id;
    uint32_t node;
} by_id;

static int cmp_id(const void *a, const void *b)
{
    const by_id *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->node > y->node) - (x->node < y->node);
}

static long find(const by_id *sorted, size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sorted[mid].id, id);
        if (c == 0)
            return (long)sorted[mid].node;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The message of a cycle (cycle[0] .. cycle[len - 1], the first repeated). */
static void cycle_message(const char *const *ids, const uint32_t *cycle, uint32_t len,
                          nr_error *err)
{
    char text[NR_ERROR_MESSAGE_MAX];
    size_t used = (size_t)snprintf(text, sizeof(text), "circular dependency: ");
    for (uint32_t j = 0; j < len && used < sizeof(text); j++) {
        int w = snprintf(text + used, sizeof(text) - used, "%s%s", j ? " -> " : "", ids[cycle[j]]);
        used += w > 0 ? (size_t)w : 0;
    }
    nr_error_set(err, NR_ECYCLE, ids[cycle[0]], "%s", text);
}

int nr_graph_check(size_t n, const char *const *ids, const char *const *const *deps,
                   const size_t *ndeps, uint32_t *level, size_t *at_node, size_t *at_dep,
                   nr_error *err)
{
    if (n > 0 && !ids)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_graph_check: ids must not be NULL");
    if (n > UINT32_MAX / 2)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_graph_check: %zu nodes are too many", n);
    for (size_t i = 0; i < n; i++) {
        char what[48];
        snprintf(what, sizeof(what), "nr_graph_check: node %zu's id", i);
        int rc = nr_id_check(ids[i], what, err);
        if (rc)
            return rc;
        size_t nd = ndeps ? ndeps[i] : 0;
        if (nd && (!deps || !deps[i]))
            return nr_error_set(err, NR_EINVAL, ids[i],
                                "nr_graph_check: resource '%s' has %zu dependencies but no array",
                                ids[i], nd);
        for (size_t k = 0; k < nd; k++)
            if (!deps[i][k])
                return nr_error_set(err, NR_EINVAL, ids[i],
                                    "nr_graph_check: resource '%s': dependency %zu is NULL", ids[i],
                                    k);
    }
    if (n == 0)
        return NR_OK;
    size_t edges = 0;
    for (size_t i = 0; i < n; i++)
        edges += ndeps ? ndeps[i] : 0;
    by_id *sorted = nr_calloc(n, sizeof(*sorted));
    uint32_t **dv = nr_calloc(n, sizeof(*dv));
    uint32_t *dn = nr_calloc(n, sizeof(*dn));
    uint32_t *flat = edges ? nr_calloc(edges, sizeof(*flat)) : NULL;
    uint32_t *order = nr_calloc(n, sizeof(*order));
    uint32_t *cycle = nr_calloc(n + 1, sizeof(*cycle));
    int rc = NR_OK;
    if (!sorted || !dv || !dn || (edges && !flat) || !order || !cycle) {
        rc = nr_error_set(err, NR_ENOMEM, NULL, "nr_graph_check: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = (by_id){ids[i], (uint32_t)i};
    qsort(sorted, n, sizeof(*sorted), cmp_id);
    for (size_t i = 1; i < n; i++)
        if (strcmp(sorted[i - 1].id, sorted[i].id) == 0) {
            rc = nr_error_set(err, NR_EEXIST, sorted[i].id,
                              "resource '%s' is given twice (nodes %u and %u)", sorted[i].id,
                              (unsigned)sorted[i - 1].node, (unsigned)sorted[i].node);
            goto out;
        }
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        dv[i] = flat ? flat + used : NULL;
        dn[i] = (uint32_t)(ndeps ? ndeps[i] : 0);
        for (size_t k = 0; k < dn[i]; k++) {
            long j = find(sorted, n, deps[i][k]);
            if (j < 0) {
                rc = nr_error_set(err, NR_ENOTFOUND, ids[i],
                                  "resource '%s' depends on '%s', which is not one of the "
                                  "resources",
                                  ids[i], deps[i][k]);
                goto out;
            }
            flat[used++] = (uint32_t)j;
        }
    }
    nr__dag_view g = {
        .n = (uint32_t)n, .names = ids, .deps = (const uint32_t *const *)dv, .ndeps = dn};
    uint32_t len = 0;
    int found = nr__dag_find_cycle(&g, cycle, &len);
    if (found < 0) {
        rc = nr_error_set(err, found, NULL, "nr_graph_check: out of memory");
        goto out;
    }
    if (found == 1 && len >= 2) {
        cycle_message(ids, cycle, len, err);
        /* the dependency that closes it: cycle[len - 2] on cycle[len - 1] */
        uint32_t from = cycle[len - 2], to = cycle[len - 1];
        size_t k = 0;
        while (k < dn[from] && dv[from][k] != to)
            k++;
        if (at_node)
            *at_node = from;
        if (at_dep)
            *at_dep = k;
        rc = NR_ECYCLE;
        goto out;
    }
    rc = nr__dag_order(&g, order, level, err);
out:
    nr_free(sorted);
    nr_free(dv);
    nr_free(dn);
    nr_free(flat);
    nr_free(order);
    nr_free(cycle);
    return rc;
}
