/*
 * nebula/config.h - config schemas: one static table per config struct.
 *
 * A driver (or the library itself, for nr_pool_config) describes its config
 * struct with a table of nr_field. That one table gives:
 *   - defaults                     nr_config_init()
 *   - structured validation        nr_config_validate()  -> nr_config_report
 *   - JSON parse                   nr_config_parse() / nr_config_from_json()
 *   - JSON serialize (round-trip)  nr_config_serialize() / nr_config_to_json()
 *   - a printer that redacts       nr_config_print()
 *   - copy, compare, free          nr_config_copy(), nr_config_equal(), nr_config_free()
 *   - typed setters, one field     nr_config_set_str() / _int / _bool / _double / _enum /
 *                                  _secret
 *
 * Field storage (the C type at `offset` inside the struct):
 *   NR_FT_BOOL    bool
 *   NR_FT_INT     int64_t           range [min, max]
 *   NR_FT_DOUBLE  double            range [dmin, dmax]
 *   NR_FT_STRING  char *            owned by the struct (nr_malloc'd); length <= max when max > 0
 *   NR_FT_ENUM    int               index into enum_names (NULL-terminated); JSON holds the name
 *   NR_FT_SECRET  nr_secret *       owned by the struct; never printed; serialized only on request
 *
 * Parsing is strict: an unknown key, a wrong JSON type, a value out of range
 * or a missing required field is an issue. Every issue is collected (up to
 * NR_CONFIG_MAX_ISSUES, then `dropped` counts the rest), each with the JSON
 * path of the field, the offending value (secrets show as "<redacted>") and
 * the rule it breaks. A JSON syntax error is one issue with line and column.
 *
 * Ownership: a config struct filled by nr_config_init / parse / copy owns
 * its strings and secrets; nr_config_free releases them (the struct itself
 * belongs to the caller). On failure, parse leaves the struct freed and
 * re-initialised to defaults, so it is always safe to free. Never store a
 * pointer of your own in a string or secret field (`cfg.host = "db";` makes
 * nr_config_free free a literal): set them with nr_config_set_str and
 * nr_config_set_secret, which copy.
 *
 * A config struct and its schema are written once, as one X-macro list
 * (nebula/config_fields.h, included here): NR_CONFIG_STRUCT makes the struct,
 * NR_CONFIG_SCHEMA the schema.
 *
 * Thread safety: schemas are immutable and shared; a config struct is
 * owned by one thread at a time.
 */
#ifndef NEBULA_CONFIG_H
#define NEBULA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nebula/config_fields.h"
#include "nebula/error.h"
#include "nebula/secret.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nr_field_type {
    NR_FT_BOOL = 1,
    NR_FT_INT,
    NR_FT_DOUBLE,
    NR_FT_STRING,
    NR_FT_ENUM,
    NR_FT_SECRET,
} nr_field_type;

typedef struct nr_field {
    const char *name; /* JSON key */
    nr_field_type type;
    size_t offset;                 /* offsetof(struct, member) */
    bool required;                 /* must be present in JSON (defaults are ignored) */
    int64_t min, max;              /* NR_FT_INT range; NR_FT_STRING/SECRET: max length when max > 0,
                                      min length when min > 0 */
    double dmin, dmax;             /* NR_FT_DOUBLE range */
    int64_t def_int;               /* default for INT, BOOL (0/1), ENUM (index) */
    double def_double;             /* default for DOUBLE */
    const char *def_str;           /* default for STRING (NULL = no string) */
    const char *const *enum_names; /* NR_FT_ENUM: NULL-terminated list */
    const char *doc;               /* one line for --help and docs */
} nr_field;

typedef struct nr_config_report nr_config_report;

typedef struct nr_config_schema {
    const char *name;   /* e.g. "sqlite", "pool" */
    size_t struct_size; /* sizeof the config struct */
    const nr_field *fields;
    size_t nfields;
    /* Optional cross-field rule (e.g. min_idle <= max_size), run after every
     * field passed. Adds issues with nr_config_report_add; returns nothing. */
    void (*check)(const void *cfg, const char *path, nr_config_report *report);
} nr_config_schema;

#define NR_CONFIG_MAX_ISSUES 32
#define NR_CONFIG_PATH_MAX   160
#define NR_CONFIG_VALUE_MAX  96
#define NR_CONFIG_RULE_MAX   160

typedef struct nr_config_issue {
    char path[NR_CONFIG_PATH_MAX];   /* JSON path, e.g. "$.pool.max_size" */
    char value[NR_CONFIG_VALUE_MAX]; /* offending value as JSON text, "<redacted>" for secrets,
                                        "" when absent; cut values end in "..." */
    char rule[NR_CONFIG_RULE_MAX];   /* e.g. "must be between 1 and 10000" */
    int line, column;                /* 1-based position in the text, 0 when unknown */
} nr_config_issue;

struct nr_config_report {
    size_t count;   /* issues stored in items */
    size_t dropped; /* issues found beyond NR_CONFIG_MAX_ISSUES */
    nr_config_issue items[NR_CONFIG_MAX_ISSUES];
};

NR_API void nr_config_report_clear(nr_config_report *r);

/* Append an issue (value may be NULL). Counts into `dropped` when full. */
NR_API void nr_config_report_add(nr_config_report *r, const char *path, const char *value, int line,
                                 int column, const char *rule_fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Write every issue, one per line: "<path>: <rule> (got <value>) [line L, column C]". */
NR_API void nr_config_report_print(const nr_config_report *r, FILE *out);

/* Zero the struct and apply every default. NR_ENOMEM possible (strings). */
NR_API int nr_config_init(const nr_config_schema *schema, void *cfg, nr_error *err);

/* Free owned strings and secrets, then zero the struct. */
NR_API void nr_config_free(const nr_config_schema *schema, void *cfg);

/* Check every field's rule and the schema's check. NR_OK or NR_ECONFIG;
 * issues (paths under path_prefix, e.g. "$") go to report (may be NULL). */
NR_API int nr_config_validate(const nr_config_schema *schema, const void *cfg,
                              const char *path_prefix, nr_config_report *report, nr_error *err);

/* Parse JSON text into cfg (defaults first, then the keys present), then
 * validate. cfg is treated as uninitialised memory and overwritten without
 * being freed: do not pass a struct that still owns strings (nr_config_free
 * it first). The report is cleared first. A field whose range bounds are
 * both 0 has no range. Secrets in JSON are text: NUL bytes are refused. NR_OK or NR_ECONFIG with
 * every issue in report (may be NULL). Either way cfg owns what it holds
 * afterwards (after a failure: the defaults and the keys that were read):
 * nr_config_free it. */
NR_API int nr_config_parse(const nr_config_schema *schema, const char *text, size_t len, void *cfg,
                           nr_config_report *report, nr_error *err);

/* The same from a jansson object (json_t *) already parsed, e.g. a member of
 * a larger file; path_prefix names it in issues (e.g. "$.resources[2].config").
 * Positions are unknown (0) here. */
NR_API int nr_config_from_json(const nr_config_schema *schema, const void *json_object,
                               const char *path_prefix, void *cfg, nr_config_report *report,
                               nr_error *err);

typedef enum nr_config_secrets {
    NR_CONFIG_SECRETS_REDACT = 0, /* secrets written as "<redacted>" */
    NR_CONFIG_SECRETS_OMIT,       /* secret keys left out */
    NR_CONFIG_SECRETS_REVEAL,     /* real values: only for storage the caller protects */
} nr_config_secrets;

/* Build a jansson object (json_t *, caller owns a reference) with every field. */
NR_API void *nr_config_to_json(const nr_config_schema *schema, const void *cfg,
                               nr_config_secrets secrets, nr_error *err);

/* Serialize to compact JSON text, keys in schema order; caller frees with nr_free(). */
NR_API char *nr_config_serialize(const nr_config_schema *schema, const void *cfg,
                                 nr_config_secrets secrets, nr_error *err);

/* Print "name.field = value" lines with secrets redacted. */
NR_API void nr_config_print(const nr_config_schema *schema, const void *cfg, FILE *out);

/* Deep copy src into dst (dst is overwritten, not freed first). */
NR_API int nr_config_copy(const nr_config_schema *schema, void *dst, const void *src,
                          nr_error *err);

/* Field-by-field equality, secrets included (in constant time). */
NR_API bool nr_config_equal(const nr_config_schema *schema, const void *a, const void *b);

/* The field named name, or NULL. */
NR_API const nr_field *nr_config_field(const nr_config_schema *schema, const char *name);

/*
 * Typed setters: set one field of cfg by its schema name, checked.
 *
 *     nr_sqlite_config cfg;
 *     nr_config_init(&nr_sqlite_config_schema, &cfg, &err);
 *     nr_config_set_str(&nr_sqlite_config_schema, &cfg, "path", "app.db", &err);
 *     nr_config_set_int(&nr_sqlite_config_schema, &cfg, "busy_timeout_ms", 2000, &err);
 *     ...
 *     nr_config_free(&nr_sqlite_config_schema, &cfg);   // frees the copy of "app.db"
 *
 * cfg must be a struct of the schema filled by nr_config_init, parse or copy
 * (or all zero bytes): it owns its strings and secrets. Each setter checks
 * that the field exists and has the setter's type, then the field's own rules
 * (range, length, UTF-8, enum names, required), stores the value and returns
 * NR_OK. The schema's cross-field check (e.g. min_idle <= max_size) is not
 * run here, since fields are set one at a time: nr_config_validate, pool
 * creation and register run it.
 *
 * Types: nr_config_set_str is for NR_FT_STRING fields, _int for NR_FT_INT
 * (and for NR_FT_DOUBLE, as JSON integers are: the value is converted),
 * _bool for NR_FT_BOOL, _double for NR_FT_DOUBLE, _enum for NR_FT_ENUM (by
 * one of the field's enum_names, exact and case-sensitive), _secret for
 * NR_FT_SECRET.
 *
 * Ownership: a string or secret value is copied (nr_malloc'd, a secret into an
 * nr_secret); the caller keeps its own. The value the field held before is
 * freed (a secret zeroed first) once the new one is stored. A NULL value
 * leaves a string or secret field unset (NULL), which a required field
 * refuses.
 *
 * Errors (the field keeps its old value on any of them):
 *   NR_EINVAL   schema, cfg or field NULL, or a malformed schema
 *   NR_ECONFIG  no field of that name: "sqlite config: no field "pth"; did
 *               you mean "path"?"; a field of another type: "sqlite config:
 *               busy_timeout_ms is an integer field, not a string (use
 *               nr_config_set_int)"; a value that breaks the field's rule:
 *               "sqlite config: busy_timeout_ms: must be between 0 and
 *               3600000 (got -1)"
 *   NR_ENOMEM   copying a string or secret
 * Messages name the schema, the field and the rule; a secret's value is never
 * in them ("(got <redacted>)"), nor the value given for an unknown field.
 *
 * Thread safety: as every config function: cfg is owned by one thread at a
 * time; schemas may be shared.
 */
NR_API int nr_config_set_str(const nr_config_schema *schema, void *cfg, const char *field,
                             const char *value, nr_error *err);
NR_API int nr_config_set_int(const nr_config_schema *schema, void *cfg, const char *field,
                             int64_t value, nr_error *err);
NR_API int nr_config_set_bool(const nr_config_schema *schema, void *cfg, const char *field,
                              bool value, nr_error *err);
NR_API int nr_config_set_double(const nr_config_schema *schema, void *cfg, const char *field,
                                double value, nr_error *err);
NR_API int nr_config_set_enum(const nr_config_schema *schema, void *cfg, const char *field,
                              const char *name, nr_error *err);
NR_API int nr_config_set_secret(const nr_config_schema *schema, void *cfg, const char *field,
                                const char *value, nr_error *err);

/* For a "did you mean" hint: the entry of names[0..count) closest to word,
 * when one is close. Close means at most max(1, len / 3) edits away and
 * fewer than len, len being strlen(word); an edit inserts, deletes or
 * substitutes one byte or swaps two neighbouring ones (Damerau-Levenshtein
 * distance, optimal string alignment). The first of equally close names
 * wins; names longer than 127 bytes and NULL entries are skipped. Returns a
 * pointer into names (word itself is never kept), or NULL when no name is
 * close, word is NULL or empty, or names is NULL. Allocates nothing. An
 * unknown key in a schema gets this hint from the parser itself:
 * "unknown field; did you mean \"port\"?".
 * Thread safety: any thread. */
NR_API const char *nr_config_suggest(const char *word, const char *const *names, size_t count);

#ifdef __cplusplus
}
#endif
#endif
