/* postgres_config.c - the schema of nr_postgres_config (its fields: nebula/postgres.h). */
#include "nebula/postgres.h"

#include <stddef.h>
#include <stdio.h>

/* The enum names the list in nebula/postgres.h refers to (libpq's words). */
static const char *const nr__pg_sslmode_names[] = {"disable",   "allow",       "prefer", "require",
                                                   "verify-ca", "verify-full", NULL};
static const char *const nr__pg_target_names[] = {
    "any", "read-write", "read-only", "primary", "standby", "prefer-standby", NULL};

/* Cross-field rule: a client certificate needs its key and the other way round. */
static void postgres_check(const void *cfg, const char *path, nr_config_report *report)
{
    const nr_postgres_config *c = cfg;
    if ((c->sslcert == NULL) != (c->sslkey == NULL)) {
        char field[NR_CONFIG_PATH_MAX];
        snprintf(field, sizeof(field), "%s.%s", path ? path : "$",
                 c->sslcert ? "sslkey" : "sslcert");
        nr_config_report_add(report, field, NULL, 0, 0,
                             "must be set when %s is set (a client certificate needs its key)",
                             c->sslcert ? "sslcert" : "sslkey");
    }
}

NR_CONFIG_SCHEMA(nr_postgres_config_schema, "postgres", nr_postgres_config,
                 NR_POSTGRES_CONFIG_FIELDS, postgres_check);
