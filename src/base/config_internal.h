/* config_internal.h - helpers shared by the config_*.c files. */
#ifndef NR_CONFIG_INTERNAL_H
#define NR_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/config.h"

/* Scratch size for a value's text: long enough that report_add sees a cut. */
#define NR__CONFIG_TEXT_MAX (2 * NR_CONFIG_VALUE_MAX)

/* Scratch size for a path: long enough that report_add sees a cut. */
#define NR__CONFIG_PATH_BUF (2 * NR_CONFIG_PATH_MAX)

/* Typed access to a field's storage inside a config struct. */
#define NR__CONFIG_AT(cfg, f, type) ((type *)(void *)((char *)(cfg) + (f)->offset))
#define NR__CONFIG_CAT(cfg, f, type)                                                               \
    ((const type *)(const void *)((const char *)(cfg) + (f)->offset))

/* NR_OK when every field has a known type (and enums a name list). */
int nr__config_schema_check(const nr_config_schema *schema, nr_error *err);

/* "$" when prefix is NULL or empty. */
const char *nr__config_prefix(const char *prefix);

/* prefix + ".name", or prefix + "[\"name\"]" when name is not a plain word. */
void nr__config_path(char *out, size_t cap, const char *prefix, const char *name, size_t name_len);

/* s (len bytes) as a JSON string literal, cut when it does not fit in cap. */
void nr__config_quote(char *out, size_t cap, const char *s, size_t len);

/* Write s (len bytes) to out as a JSON string literal. */
void nr__config_quote_file(FILE *out, const char *s, size_t len);

/* The shortest "%.*g" text of d that reads back as d. */
void nr__config_double_text(char *out, size_t cap, double d);

/* The smallest precision (1..17) at which "%.*g" reads back as d, raised
 * to the number of integer digits below 1e17 (no exponent for 100). */
int nr__config_double_precision(double d);

/* true when s (len bytes) is valid UTF-8 (no overlong forms, no surrogates). */
bool nr__config_utf8_valid(const char *s, size_t len);

/* "a, b, c": the names of an enum field, cut with "..." when long. */
void nr__config_enum_list(char *out, size_t cap, const nr_field *f);

/* Number of names of an enum field. */
int64_t nr__config_enum_count(const nr_field *f);

/* Check one field's stored value against its rules; issues go to report. */
void nr__config_check_field(const nr_config_schema *schema, const nr_field *f, const void *cfg,
                            const char *prefix, nr_config_report *report);

/* Run the schema's check when the report gained no issue since `before`. */
void nr__config_run_check(const nr_config_schema *schema, const void *cfg, const char *prefix,
                          nr_config_report *report, size_t before);

/* Issues found so far (stored and dropped). */
size_t nr__config_report_total(const nr_config_report *r);

/* Fill err with NR_ECONFIG summarising report; returns NR_ECONFIG. */
int nr__config_report_fail(const nr_config_schema *schema, const nr_config_report *r,
                           nr_error *err);

#endif
