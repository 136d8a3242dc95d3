/*
 * nebula/scope.h - where a resource lives and who may see it.
 *
 * Five levels, each inside the one before:
 *     Global > Tenant > Workflow > Execution > Action
 * A scope is a value: its level plus the id of every level from Tenant down
 * to its own (its parent chain). "tenant:acme/workflow:billing/execution:42"
 * is an Execution scope whose parent is a Workflow scope, and so on up to
 * Global.
 *
 * Containment: a contains b when a's chain is a prefix of b's chain.
 * It is reflexive, transitive and antisymmetric; two different scopes at the
 * same level never contain each other (siblings never see each other).
 *
 * Ids are 1..63 bytes of [A-Za-z0-9_.:@-]. ':' is allowed in ids, '/' is not.
 *
 * Thread safety: values; any thread.
 */
#ifndef NEBULA_SCOPE_H
#define NEBULA_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "nebula/error.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nr_scope_level {
    NR_SCOPE_GLOBAL = 0,
    NR_SCOPE_TENANT = 1,
    NR_SCOPE_WORKFLOW = 2,
    NR_SCOPE_EXECUTION = 3,
    NR_SCOPE_ACTION = 4,
} nr_scope_level;

#define NR_SCOPE_LEVELS 5
#define NR_SCOPE_ID_MAX 64 /* including the terminating NUL */
/* Longest text nr_scope_format() writes, including the NUL. */
#define NR_SCOPE_TEXT_MAX (NR_SCOPE_LEVELS * (NR_SCOPE_ID_MAX + 12))

typedef struct nr_scope {
    nr_scope_level level;
    /* ids[i] for 1 <= i <= level; ids[0] and deeper entries are "". */
    char ids[NR_SCOPE_LEVELS][NR_SCOPE_ID_MAX];
} nr_scope;

/* The Global scope. */
NR_API void nr_scope_global(nr_scope *out);

/* out = the child of parent one level down with the given id.
 * NR_EINVAL (naming the rule) when parent is an Action scope or id is bad. */
NR_API int nr_scope_child(nr_scope *out, const nr_scope *parent, const char *id, nr_error *err);

/* Convenience: a full chain. Pass NULL for the levels below the one wanted,
 * e.g. nr_scope_make(&s, "acme", "billing", NULL, NULL, err) is a Workflow. */
NR_API int nr_scope_make(nr_scope *out, const char *tenant, const char *workflow,
                         const char *execution, const char *action, nr_error *err);

/* out = the parent of s. NR_EINVAL for Global, which has no parent. */
NR_API int nr_scope_parent(nr_scope *out, const nr_scope *s, nr_error *err);

/* The id of s at its own level ("" for Global). */
NR_API const char *nr_scope_id(const nr_scope *s);

/* Whether outer contains inner (see above). */
NR_API bool nr_scope_contains(const nr_scope *outer, const nr_scope *inner);

/* Whether a and b are the same scope. */
NR_API bool nr_scope_equal(const nr_scope *a, const nr_scope *b);

/* "global", "tenant", "workflow", "execution", "action"; "invalid" otherwise. */
NR_API const char *nr_scope_level_name(nr_scope_level level);

/* Write "global" or "tenant:acme/workflow:billing/..." into buf.
 * Returns the length it needs (like snprintf); the text is cut only when
 * len is too small, which the return value shows. */
NR_API size_t nr_scope_format(const nr_scope *s, char *buf, size_t len);

/* Parse the text nr_scope_format writes. NR_EINVAL naming the problem. */
NR_API int nr_scope_parse(nr_scope *out, const char *text, nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
