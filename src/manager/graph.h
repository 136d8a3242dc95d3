/*
 * graph.h - dependency graphs of resources: validation, start-up order in
 * parallel batches, shutdown order, cycles and dependents.
 *
 * The graph is a caller-owned view over indices: nodes are 0..n-1 and node i
 * depends on node deps[i][k] for k < ndeps[i]. Nothing here keeps a pointer
 * into the view after returning, and nothing changes it. Duplicate edges
 * (i depends on j twice) are allowed and mean the same as one edge.
 *
 * Every algorithm is iterative, so long chains and large graphs need no
 * stack depth; time and memory are O(n + number of edges). Scratch memory
 * comes from nr_malloc and is freed before the call returns, on every path.
 *
 * Names are used only for messages. When names is NULL, or names[i] is NULL,
 * node i is called "#i".
 *
 * Thread safety: pure functions; any thread may call any of them, also on the
 * same view at the same time, as long as nobody modifies the view meanwhile
 * and each call has its own output buffers and nr_error.
 */
#ifndef NR_MANAGER_GRAPH_H
#define NR_MANAGER_GRAPH_H

#include <stdint.h>

#include "nebula/error.h"

typedef struct nr__dag_view {
    uint32_t n;                  /* nodes 0..n-1 */
    const char *const *names;    /* names[i], for messages; may be NULL */
    const uint32_t *const *deps; /* deps[i][k]: node i depends on node deps[i][k] */
    const uint32_t *ndeps;       /* ndeps[i]; deps[i] may be NULL when it is 0 */
} nr__dag_view;
/* When n is 0, deps and ndeps may be NULL; otherwise both must be non-NULL. */

/*
 * Start-up order, dependencies first.
 *
 * order (capacity n, caller-owned) receives every node once. level (capacity
 * n, may be NULL) receives each node's batch: 0 for a node without
 * dependencies, otherwise 1 + the highest level among its dependencies, so
 * the nodes of one level can start in parallel once the lower levels are up.
 * order is sorted by level, and by index within a level, so the batches are
 * its runs of equal level. Shutdown is order read backwards: every dependent
 * comes before what it depends on.
 *
 * Returns
 *   NR_OK
 *   NR_EINVAL  g is NULL, order is NULL while n > 0, or a dependency index is
 *              >= n; the message names the node and the bad index,
 *              err->resource_id the node
 *   NR_ECYCLE  the graph has a cycle (a node depending on itself is one);
 *              err->message is "circular dependency: a -> b -> c -> a", one
 *              real cycle in dependency direction (each name depends on the
 *              next), the one nr__dag_find_cycle finds, starting at its
 *              lowest-index node; err->resource_id is that node's name. Text
 *              too long for the message buffer is cut and ends in "..."
 *              (err->truncated is set, as it is for a name too long for
 *              resource_id).
 *   NR_ENOMEM  also when the graph has a cycle that could not be traced
 * On failure the contents of order and level are unspecified. err may be NULL.
 */
int nr__dag_order(const nr__dag_view *g, uint32_t *order, uint32_t *level, nr_error *err);

/*
 * Find one cycle. cycle (capacity n + 1, caller-owned) receives its nodes in
 * dependency direction (cycle[j] depends on cycle[j + 1]), starting at the
 * cycle's lowest-index node and repeating it at the end; *len is the number of
 * entries written (cycle length + 1, e.g. 2 for a self-dependency).
 *
 * Deterministic: a depth-first search from node 0, 1, ... following each
 * node's dependencies in array order; the first cycle it closes is reported.
 *
 * Returns 1 when a cycle was found, 0 when the graph is acyclic (*len = 0),
 * NR_EINVAL for NULL arguments or a dependency index >= n, or NR_ENOMEM.
 */
int nr__dag_find_cycle(const nr__dag_view *g, uint32_t *cycle, uint32_t *len);

/*
 * Dependents of root: sets mark[i] (capacity n, caller-owned) to 1 for every
 * node that depends on root directly or transitively, and to 0 for every
 * other node. root itself is always 0, even when it lies on a cycle. Works
 * on graphs with cycles too.
 *
 * Returns NR_OK, NR_EINVAL (NULL arguments, root >= n, or a dependency index
 * >= n), or NR_ENOMEM. On failure the contents of mark are unspecified.
 */
int nr__dag_dependents(const nr__dag_view *g, uint32_t root, unsigned char *mark);

#endif
