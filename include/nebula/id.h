/*
 * nebula/id.h - the one rule every id follows: resource ids, pool ids,
 * scope ids (tenants, workflows, ...), group names, and the ids of a config
 * file. An id is 1..63 bytes of [A-Za-z0-9_.:@-] (':' is allowed, '/' is
 * not: the scope text uses it).
 *
 * Thread safety: pure functions; any thread.
 */
#ifndef NEBULA_ID_H
#define NEBULA_ID_H

#include <stdbool.h>
#include <stddef.h>

#include "nebula/error.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NR_ID_MAX        63 /* bytes, without the terminating NUL */
#define NR_ID_CHARS_TEXT "A-Z a-z 0-9 _ . : @ -"

/* Whether c may appear in an id. */
NR_API bool nr_id_char_ok(char c);

/*
 * Check id against the rule. NR_OK, or NR_EINVAL with err (may be NULL)
 * naming what the id is (`what`, e.g. "resource id"; NULL = "id") and the
 * rule it breaks:
 *   "resource id is required" (NULL), "... is empty",
 *   "... is 70 bytes long; at most 63 are allowed",
 *   "... has invalid character '/' at offset 3 (allowed: A-Z a-z 0-9 _ . : @ -)",
 *   "... has invalid byte 0xc3 at offset 0 (allowed: ...)".
 * err->resource_id is left empty: the id may be what is wrong.
 */
NR_API int nr_id_check(const char *id, const char *what, nr_error *err);

/* The same for the n bytes at id (need not end in a NUL). */
NR_API int nr_id_check_n(const char *id, size_t n, const char *what, nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
