/* sqlite_config.c - the schema of nr_sqlite_config. */
#include "nebula/sqlite.h"

#include <stddef.h>
#include <stdio.h>

static const char *const health_names[] = {"read", "write", NULL};

static const nr_field sqlite_fields[] = {
    {.name = "path",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_sqlite_config, path),
     .min = 1,
     .max = NR_SQLITE_PATH_MAX,
     .def_str = ":memory:",
     .doc = "database file or file: URI; \":memory:\" gives each instance a private database"},
    {.name = "busy_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_sqlite_config, busy_timeout_ms),
     .min = 0,
     .max = NR_SQLITE_BUSY_TIMEOUT_MS_MAX,
     .def_int = 5000,
     .doc = "how long a statement waits for another connection's lock (0 = not at all)"},
    {.name = "wal",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_sqlite_config, wal),
     .def_int = 0,
     .doc = "switch the database file to write-ahead logging (ignored without a file)"},
    {.name = "read_only",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_sqlite_config, read_only),
     .def_int = 0,
     .doc = "open the database read-only"},
    {.name = "create",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_sqlite_config, create),
     .def_int = 1,
     .doc = "create the database file when it does not exist (not with read_only)"},
    {.name = "foreign_keys",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_sqlite_config, foreign_keys),
     .def_int = 1,
     .doc = "enforce foreign key constraints"},
    {.name = "health_check",
     .type = NR_FT_ENUM,
     .offset = offsetof(nr_sqlite_config, health_check),
     .def_int = NR_SQLITE_HEALTH_READ,
     .enum_names = health_names,
     .doc = "what the health check proves: \"read\" (the file reads) or \"write\" (the "
            "write lock can be taken, too)"},
};

/* Cross-field rules: the journal mode belongs to the file, and a read-only
 * connection can neither change it nor take the write lock. */
static void sqlite_check(const void *cfg, const char *path, nr_config_report *report)
{
    const nr_sqlite_config *c = cfg;
    char field[NR_CONFIG_PATH_MAX];
    if (c->wal && c->read_only) {
        snprintf(field, sizeof(field), "%s.wal", path ? path : "$");
        nr_config_report_add(report, field, "true", 0, 0,
                             "must be false when read_only is true (a read-only connection "
                             "cannot change the journal mode)");
    }
    if (c->health_check == NR_SQLITE_HEALTH_WRITE && c->read_only) {
        snprintf(field, sizeof(field), "%s.health_check", path ? path : "$");
        nr_config_report_add(report, field, "\"write\"", 0, 0,
                             "must be \"read\" when read_only is true (a read-only connection "
                             "cannot take the write lock)");
    }
}

const nr_config_schema nr_sqlite_config_schema = {
    .name = "sqlite",
    .struct_size = sizeof(nr_sqlite_config),
    .fields = sqlite_fields,
    .nfields = sizeof(sqlite_fields) / sizeof(sqlite_fields[0]),
    .check = sqlite_check,
};
