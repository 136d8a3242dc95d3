/*
 * mongo_config.c - the schema of nr_mongo_config (its fields: nebula/mongo.h) and
 * its cross-field rules.
 *
 * hosts and uri have no length limit in the field list: their rules run in
 * mongo_check(), so that an issue about a URI shows the URI redacted (the
 * generic string checks would quote the raw value).
 */
#include "nebula/mongo.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mongo_internal.h"

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

NR_CONFIG_SCHEMA(nr_mongo_config_schema, "mongo", nr_mongo_config, NR_MONGO_CONFIG_FIELDS,
                 mongo_check);
