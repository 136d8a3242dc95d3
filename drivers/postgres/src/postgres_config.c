/* postgres_config.c - the schema of nr_postgres_config. */
#include "nebula/postgres.h"

#include <stddef.h>
#include <stdio.h>

static const char *const sslmode_names[] = {"disable",   "allow",       "prefer", "require",
                                            "verify-ca", "verify-full", NULL};
static const char *const target_names[] = {"any",     "read-write",     "read-only", "primary",
                                           "standby", "prefer-standby", NULL};

#define STR(member, lo, hi, def, text)                                                             \
    {                                                                                              \
        .name = #member, .type = NR_FT_STRING, .offset = offsetof(nr_postgres_config, member),     \
        .min = (lo), .max = (hi), .def_str = (def), .doc = (text)                                  \
    }
#define INT(member, lo, hi, def, text)                                                             \
    {                                                                                              \
        .name = #member, .type = NR_FT_INT, .offset = offsetof(nr_postgres_config, member),        \
        .min = (lo), .max = (hi), .def_int = (def), .doc = (text)                                  \
    }

static const nr_field postgres_fields[] = {
    STR(host, 1, NR_POSTGRES_HOST_MAX, "localhost",
        "host name, IP address or unix socket directory; comma-separated hosts are tried in turn"),
    STR(hostaddr, 1, NR_POSTGRES_HOST_MAX, NULL,
        "numeric IP address(es) to connect to without name resolution"),
    INT(port, 1, 65535, 5432, "server port"),
    STR(dbname, 1, NR_POSTGRES_NAME_MAX, "postgres", "database name"),
    STR(user, 1, NR_POSTGRES_NAME_MAX, "postgres",
        "role to log in as (the password comes from the credential)"),
    STR(application_name, 0, NR_POSTGRES_NAME_MAX, "nebula-resource",
        "application_name of every connection (\"\" = none)"),
    {.name = "sslmode",
     .type = NR_FT_ENUM,
     .offset = offsetof(nr_postgres_config, sslmode),
     .def_int = NR_PG_SSL_PREFER,
     .enum_names = sslmode_names,
     .doc = "TLS: disable, allow, prefer, require, verify-ca or verify-full"},
    STR(sslrootcert, 1, NR_POSTGRES_PATH_MAX, NULL, "file of the CA certificates to trust"),
    STR(sslcert, 1, NR_POSTGRES_PATH_MAX, NULL, "client certificate file (with sslkey)"),
    STR(sslkey, 1, NR_POSTGRES_PATH_MAX, NULL, "client key file, unencrypted (with sslcert)"),
    {.name = "target_session_attrs",
     .type = NR_FT_ENUM,
     .offset = offsetof(nr_postgres_config, target_session_attrs),
     .def_int = NR_PG_TARGET_ANY,
     .enum_names = target_names,
     .doc = "which of several hosts to accept: any, read-write, read-only, primary, standby, "
            "prefer-standby"},
    INT(connect_timeout_ms, 1, NR_POSTGRES_TIMEOUT_MAX, 10000,
        "longest a connection attempt may take (the create deadline wins when earlier)"),
    INT(health_timeout_ms, 1, NR_POSTGRES_TIMEOUT_MAX, 5000,
        "the health query's own timeout (the check's deadline wins when earlier)"),
    INT(reset_timeout_ms, 1, NR_POSTGRES_TIMEOUT_MAX, 5000,
        "how long the cleanup on release (ROLLBACK, reset_query) may take"),
    INT(statement_timeout_ms, 0, NR_POSTGRES_SESSION_MAX, 0,
        "the session's statement_timeout (0 = none)"),
    INT(lock_timeout_ms, 0, NR_POSTGRES_SESSION_MAX, 0, "the session's lock_timeout (0 = none)"),
    INT(tcp_user_timeout_ms, 0, NR_POSTGRES_SESSION_MAX, 0,
        "TCP_USER_TIMEOUT of the socket (0 = the system's)"),
    {.name = "keepalives",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_postgres_config, keepalives),
     .def_int = 1,
     .doc = "TCP keepalives on the connection"},
    INT(keepalives_idle_s, 0, 86400, 0,
        "idle seconds before the first keepalive probe (0 = the system's)"),
    STR(reset_query, 0, NR_POSTGRES_QUERY_MAX, "DISCARD ALL",
        "run on every release to reset the session (\"\" = none)"),
    STR(health_query, 1, NR_POSTGRES_QUERY_MAX, "SELECT 1", "the health check's query"),
    STR(options, 0, NR_POSTGRES_OPTIONS_MAX, NULL,
        "extra server options for the startup packet, e.g. \"-c search_path=app\""),
};

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

const nr_config_schema nr_postgres_config_schema = {
    .name = "postgres",
    .struct_size = sizeof(nr_postgres_config),
    .fields = postgres_fields,
    .nfields = sizeof(postgres_fields) / sizeof(postgres_fields[0]),
    .check = postgres_check,
};
