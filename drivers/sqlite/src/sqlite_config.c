/* sqlite_config.c - the schema of nr_sqlite_config (its fields: nebula/sqlite.h). */
#include "nebula/sqlite.h"

#include <stddef.h>
#include <stdio.h>

/* The enum names the list in nebula/sqlite.h refers to. */
static const char *const nr__sqlite_health_names[] = {"read", "write", NULL};

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

NR_CONFIG_SCHEMA(nr_sqlite_config_schema, "sqlite", nr_sqlite_config, NR_SQLITE_CONFIG_FIELDS,
                 sqlite_check);
