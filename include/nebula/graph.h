/*
 * nebula/graph.h - checking a dependency graph of resources by id, with the
 * rules and the messages the manager uses when it starts them: every id
 * once, every dependency one of the ids, no cycle; and the start batches.
 * For a program (or a config checker) that wants to know before it
 * registers anything.
 *
 * The graph is given as parallel arrays: node i has id ids[i] and depends
 * on the ids deps[i][0..ndeps[i]). Nothing is kept after the call.
 *
 * Thread safety: a pure function; any thread.
 */
#ifndef NEBULA_GRAPH_H
#define NEBULA_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "nebula/error.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Check the graph of n nodes. level (capacity n, may be NULL) receives each
 * node's start batch: 0 without dependencies, else 1 + the highest level of
 * its dependencies (the nodes of one level may start in parallel).
 * Returns
 *   NR_OK
 *   NR_EINVAL    a NULL array (ndeps and deps may be NULL when every node
 *                has none), a NULL dependency, or an id that breaks the id
 *                rule (nebula/id.h); err names the node
 *   NR_EEXIST    an id given twice: "resource 'a' is given twice (nodes 0
 *                and 3)"
 *   NR_ENOTFOUND a dependency that is none of the ids: "resource 'a'
 *                depends on 'b', which is not one of the resources"
 *   NR_ECYCLE    a cycle: "circular dependency: a -> b -> c -> a" (each
 *                depends on the next), the one found by a depth-first search
 *                from node 0 following dependencies in array order; *at_node
 *                and *at_dep (each may be NULL) name the dependency that
 *                closes it (deps[*at_node][*at_dep]); err->resource_id is
 *                the first node of the cycle
 *   NR_ENOMEM
 */
NR_API int nr_graph_check(size_t n, const char *const *ids, const char *const *const *deps,
                          const size_t *ndeps, uint32_t *level, size_t *at_node, size_t *at_dep,
                          nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
