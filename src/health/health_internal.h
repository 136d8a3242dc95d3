/*
 * health_internal.h - the pipeline's parts, shared by src/health/health_*.c.
 */
#ifndef NR_HEALTH_INTERNAL_H
#define NR_HEALTH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "nebula/health_pipeline.h"

/* ---- names (health_config.c) ---- */

/* The built-in stages, in a NULL-terminated list. */
extern const char *const nr__health_builtin[];

/* true when name is one of the built-in stages. */
bool nr__health_is_builtin(const char *name);

/* NULL when name (len bytes) is a well-formed stage name, else the rule it
 * breaks. */
const char *nr__health_name_rule(const char *name, size_t len);

#endif
