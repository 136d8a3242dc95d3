/*
 * nebula/config_fields.h - one X-macro list per config struct, from which
 * come the struct and its schema (nebula/config.h).
 *
 * A config struct used to be written four times: the struct, its nr_field
 * table, its defaults and the table in its README. Now one list is the
 * source of all four: the struct and the schema (with the defaults) come from
 * these macros, and the README's table is printed from the schema
 * (tools/config-doc, checked by the test run; docs/config.md). Everything
 * else (init, parse, serialize, print, copy, free) is nebula/config.h's,
 * generic over the schema.
 *
 * A list is a function-like macro taking X and T; every entry is
 *
 *     X(T, KIND, member, a, b, def, flags, "doc")
 *
 *   KIND    C type of the member   a, b (min, max)                def
 *   STRING  char *                 length bounds in bytes          "text" or NULL
 *   INT     int64_t                range                           integer
 *   DOUBLE  double                 range                           number
 *   BOOL    bool                   ignored (write 0, 1)            0 or 1
 *   ENUM    int                    a: NULL-terminated names, b: 0  index into the names
 *   SECRET  nr_secret *            length bounds in bytes          NULL
 *   RAW     a (any C type that     -                               -
 *           declares as "a member;")
 *
 * The bounds follow nr_field: a length bound of 0 is no bound, and a range
 * whose bounds are both 0 is no range. flags is 0 or a sum of NR_CF_*.
 * "doc" is the field's one source of documentation: the markdown text of the
 * "meaning" column of its README table (backticks allowed).
 *
 * RAW is for a member that is not a config field (a cache, a pointer the
 * owner fills): it is in the struct at its place in the list, and not in the
 * schema, so parse, serialize, print, validate and equal ignore it;
 * nr_config_init and nr_config_free zero it and nr_config_copy copies its
 * bytes (shallow). Write it X(T, RAW, member, ctype, 0, 0, 0, "doc").
 *
 *     #define NR_EXAMPLE_CONFIG_FIELDS(X, T)                                      \
 *         X(T, STRING, host, 1, 255, "localhost", 0, "server name")           \
 *         X(T, INT, port, 1, 65535, 5432, 0, "server port")                   \
 *         X(T, ENUM, mode, nr__example_mode_names, 0, 0, 0, "`fast` or `safe`") \
 *         X(T, SECRET, token, 0, 4096, NULL, NR_CF_REQUIRED, "API token")
 *     NR_CONFIG_STRUCT(nr_example_config, NR_EXAMPLE_CONFIG_FIELDS)   // header
 *
 *     static const char *const nr__example_mode_names[] = {"fast", "safe", NULL};
 *     NR_CONFIG_SCHEMA(nr_example_config_schema, "example", nr_example_config,
 *                      NR_EXAMPLE_CONFIG_FIELDS, example_check)       // one .c
 *
 * A list may call another list (a shared sub-list, as the Kafka producer and
 * consumer do): write NR_SHARED_FIELDS(X, T) as an entry.
 *
 * NR_CONFIG_STRUCT(name, LIST) declares `typedef struct name {...} name;`,
 * the members in list order with the C types above, so the struct is what a
 * hand-written one would be (same layout).
 *
 * NR_CONFIG_SCHEMA(var, "name", T, LIST, check) defines
 * `const nr_config_schema var` (with external linkage: the headers declare
 * schemas NR_API extern) and its static field table. check is the
 * schema's cross-field rule (nr_config_schema.check) or NULL. Names in the
 * list (ENUM names arrays, limits) must be visible where it expands, and the
 * list needs one entry that is not RAW (C has no empty array).
 *
 * Ownership: as nebula/config.h says for every schema; the macros allocate
 * nothing. Thread safety: compile-time only; the schema defined is
 * immutable and may be shared by any thread.
 */
#ifndef NEBULA_CONFIG_FIELDS_H
#define NEBULA_CONFIG_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/secret.h"

/* flags of an entry */
#define NR_CF_REQUIRED 1 /* must be present in JSON (nr_field.required; the default is unused) */

/* ---- the struct ----------------------------------------------------------------------- */

#define NR__CF_CTYPE_STRING char *
#define NR__CF_CTYPE_INT    int64_t
#define NR__CF_CTYPE_DOUBLE double
#define NR__CF_CTYPE_BOOL   bool
#define NR__CF_CTYPE_ENUM   int
#define NR__CF_CTYPE_SECRET nr_secret *

#define NR__CF_MEMBER_STRING(member, a) NR__CF_CTYPE_STRING member;
#define NR__CF_MEMBER_INT(member, a)    NR__CF_CTYPE_INT member;
#define NR__CF_MEMBER_DOUBLE(member, a) NR__CF_CTYPE_DOUBLE member;
#define NR__CF_MEMBER_BOOL(member, a)   NR__CF_CTYPE_BOOL member;
#define NR__CF_MEMBER_ENUM(member, a)   NR__CF_CTYPE_ENUM member;
#define NR__CF_MEMBER_SECRET(member, a) NR__CF_CTYPE_SECRET member;
#define NR__CF_MEMBER_RAW(member, a)    a member;

#define NR__CF_MEMBER(T, KIND, member, a, b, def, flags, doc) NR__CF_MEMBER_##KIND(member, a)

#define NR_CONFIG_STRUCT(name, LIST)                                                               \
    typedef struct name {                                                                          \
        LIST(NR__CF_MEMBER, name)                                                                  \
    } name;

/* ---- the schema ----------------------------------------------------------------------- */

#define NR__CF_COMMON(T, member, ft, flags, text)                                                  \
    .name = #member, .type = ft, .offset = offsetof(T, member),                                    \
    .required = (((flags)&NR_CF_REQUIRED) != 0), .doc = (text)

#define NR__CF_FIELD_STRING(T, m, a, b, def, flags, text)                                          \
    {NR__CF_COMMON(T, m, NR_FT_STRING, flags, text), .min = (a), .max = (b), .def_str = (def)},
#define NR__CF_FIELD_INT(T, m, a, b, def, flags, text)                                             \
    {NR__CF_COMMON(T, m, NR_FT_INT, flags, text), .min = (a), .max = (b), .def_int = (def)},
#define NR__CF_FIELD_DOUBLE(T, m, a, b, def, flags, text)                                          \
    {NR__CF_COMMON(T, m, NR_FT_DOUBLE, flags, text), .dmin = (a), .dmax = (b), .def_double = (def)},
#define NR__CF_FIELD_BOOL(T, m, a, b, def, flags, text)                                            \
    {NR__CF_COMMON(T, m, NR_FT_BOOL, flags, text), .def_int = (def)},
#define NR__CF_FIELD_ENUM(T, m, a, b, def, flags, text)                                            \
    {NR__CF_COMMON(T, m, NR_FT_ENUM, flags, text), .enum_names = (a), .def_int = (def)},
/* a secret has no default: def is not used (write NULL) */
#define NR__CF_FIELD_SECRET(T, m, a, b, def, flags, text)                                          \
    {NR__CF_COMMON(T, m, NR_FT_SECRET, flags, text), .min = (a), .max = (b)},
#define NR__CF_FIELD_RAW(T, m, a, b, def, flags, text)

#define NR__CF_FIELD(T, KIND, member, a, b, def, flags, text)                                      \
    NR__CF_FIELD_##KIND(T, member, a, b, def, flags, text)

#define NR_CONFIG_SCHEMA(var, schema_name, T, LIST, check_fn)                                      \
    static const nr_field var##_fields_[] = {LIST(NR__CF_FIELD, T)};                               \
    const nr_config_schema var = {                                                                 \
        .name = (schema_name),                                                                     \
        .struct_size = sizeof(T),                                                                  \
        .fields = var##_fields_,                                                                   \
        .nfields = sizeof(var##_fields_) / sizeof(var##_fields_[0]),                               \
        .check = (check_fn),                                                                       \
    }

#endif
