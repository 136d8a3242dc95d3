/*
 * mongo_config.c - the schema of nr_mongo_config and its cross-field rules.
 *
 * hosts and uri have no length limit in the field table: their rules run in
 * mongo_check(), so that an issue about a URI shows the URI redacted (the
 * generic string checks would quote the raw value).
 */
#include "nebula/mongo.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mongo_internal.h"

static const nr_field mongo_fields[] = {
    {.name = "hosts",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_mongo_config, hosts),
     .doc = "host:port[,host:port...] of the servers (or use uri)"},
    {.name = "uri",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_mongo_config, uri),
     .doc = "mongodb:// URI without credentials (or use hosts)"},
    {.name = "database",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_mongo_config, database),
     .doc = "the application's database, also the default auth source"},
    {.name = "username",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_mongo_config, username),
     .min = 1,
     .max = NR_MONGO_USERNAME_MAX,
     .doc = "user to log in as; the password comes from the credential provider"},
    {.name = "auth_source",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_mongo_config, auth_source),
     .doc = "database holding the user (default: database, else admin)"},
    {.name = "app_name",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_mongo_config, app_name),
     .min = 1,
     .max = NR_MONGO_APP_NAME_MAX,
     .def_str = NR_MONGO_DEFAULT_APPNAME,
     .doc = "application name shown in the server's logs"},
    {.name = "server_selection_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_mongo_config, server_selection_timeout_ms),
     .min = 1,
     .max = NR_MONGO_TIMEOUT_MS_MAX,
     .def_int = 10000,
     .doc = "how long an operation looks for a suitable server"},
    {.name = "connect_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_mongo_config, connect_timeout_ms),
     .min = 1,
     .max = NR_MONGO_CONNECT_MS_MAX,
     .def_int = 10000,
     .doc = "TCP connect plus handshake of one connection"},
    {.name = "socket_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_mongo_config, socket_timeout_ms),
     .min = 1,
     .max = NR_MONGO_TIMEOUT_MS_MAX,
     .def_int = 300000,
     .doc = "one network round trip on an established connection"},
    {.name = "health_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_mongo_config, health_timeout_ms),
     .min = 1,
     .max = NR_MONGO_HEALTH_MS_MAX,
     .def_int = 5000,
     .doc = "upper bound of one health check (the pool's deadline also applies)"},
    {.name = "tls",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_mongo_config, tls),
     .def_int = 0,
     .doc = "connect with TLS"},
    {.name = "tls_ca_file",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_mongo_config, tls_ca_file),
     .min = 1,
     .max = NR_MONGO_PATH_MAX,
     .doc = "PEM file of the certificate authorities to trust (needs tls)"},
};

static void add(nr_config_report *r, const char *path, const char *field, const char *value,
                const char *rule)
{
    char p[NR_CONFIG_PATH_MAX];
    snprintf(p, sizeof(p), "%s.%s", path ? path : "$", field);
    nr_config_report_add(r, p, value, 0, 0, "%s", rule);
}

/* The value as an issue shows it: a JSON string, cut with "..." to fit n. */
static void quoted(char *dst, size_t n, const char *s)
{
    size_t len = strlen(s);
    bool cut = len + 3 > n;
    if (cut)
        len = n - 6; /* room for the quotes, "..." and the NUL */
    dst[0] = '"';
    memcpy(dst + 1, s, len);
    memcpy(dst + 1 + len, cut ? "...\"" : "\"", cut ? 5 : 2);
}

static void mongo_check(const void *cfg, const char *path, nr_config_report *report)
{
    const nr_mongo_config *c = cfg;
    char why[160], val[NR_CONFIG_VALUE_MAX], red[NR_MONGO_URI_MAX + 64];
    bool has_hosts = c->hosts != NULL, has_uri = c->uri != NULL;

    if (!has_hosts && !has_uri)
        add(report, path, "hosts", NULL, "one of hosts or uri is required");
    if (has_hosts && has_uri)
        add(report, path, "uri", NULL, "must not be set together with hosts (use one of them)");
    if (has_hosts) {
        if (strlen(c->hosts) > NR_MONGO_HOSTS_MAX) {
            add(report, path, "hosts", NULL, "must be at most 2048 bytes long");
        } else if (!nr__mongo_hosts_ok(c->hosts, why, sizeof(why))) {
            /* a bad host list may hold a pasted URI: show it redacted */
            quoted(val, sizeof(val), nr_mongo_redact_uri(c->hosts, red, sizeof(red)));
            add(report, path, "hosts", val, why);
        }
    }
    if (has_uri) {
        nr_mongo_redact_uri(c->uri, red, sizeof(red));
        quoted(val, sizeof(val), red);
        if (strlen(c->uri) > NR_MONGO_URI_MAX)
            add(report, path, "uri", NULL, "must be at most 4096 bytes long");
        else if (!nr__mongo_uri_ok(c->uri, why, sizeof(why)))
            add(report, path, "uri", val, why);
    }
    if (c->database && !nr__mongo_dbname_ok(c->database, why, sizeof(why))) {
        quoted(val, sizeof(val), c->database);
        add(report, path, "database", val, why);
    }
    if (c->auth_source && !nr__mongo_dbname_ok(c->auth_source, why, sizeof(why))) {
        quoted(val, sizeof(val), c->auth_source);
        add(report, path, "auth_source", val, why);
    }
    if (c->auth_source && !c->username)
        add(report, path, "auth_source", NULL, "needs username (it names where the user is)");
    if (c->tls_ca_file && !c->tls)
        add(report, path, "tls_ca_file", NULL, "needs tls to be true");
}

const nr_config_schema nr_mongo_config_schema = {
    .name = "mongo",
    .struct_size = sizeof(nr_mongo_config),
    .fields = mongo_fields,
    .nfields = sizeof(mongo_fields) / sizeof(mongo_fields[0]),
    .check = mongo_check,
};
