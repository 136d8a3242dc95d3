/*
 * config_names.h - how the names in a config file are written and matched:
 * the JSON path of a member, the rules for ids and credential refs, lists of
 * the known names, "did you mean" hints, and a value as short JSON text for
 * an issue.
 *
 * Thread safety: any thread.
 */
#ifndef NR_CF_CONFIG_NAMES_H
#define NR_CF_CONFIG_NAMES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "nebula/config.h"

/* The path of member key under prefix, in the report's form: prefix.key, or
 * prefix["key"] when key is not a plain word. */
void cf_member_path(char *out, size_t cap, const char *prefix, const char *key);

/* Whether id is a resource id: 1 to 63 letters, digits or _-.:@. */
bool cf_id_ok(const char *id);

/* Whether ref is a credential ref: an id's characters plus '/', 1 to 127
 * bytes (often "<resource>/<what>"). */
bool cf_ref_ok(const char *ref);

/* "a, b, c" of a schema's field names (plus the NULL-terminated extra ones,
 * may be NULL) into buf; a list too long for buf ends in "...". */
void cf_field_list(char *buf, size_t len, const nr_config_schema *s, const char *const *extra);

/* "; did you mean \"x\"?" when one of names is close to word (the library's
 * rule, nr_config_suggest), else "". */
void cf_hint(char *buf, size_t len, const char *word, const char *const *names, size_t count);

/* The hint for the unknown key of obj that the library reported at path,
 * among the schema's fields and the extra keys. false when no key of obj is
 * at path (a path cut short) or memory ran out: the library's rule stands. */
bool cf_key_hint(char *buf, size_t len, const json_t *obj, const char *prefix, const char *path,
                 const nr_config_schema *s, const char *const *extra);

/* The value of j as compact JSON text for an issue, cut with "..." to fit. */
void cf_json_text(char *out, size_t cap, const json_t *j);

#endif
