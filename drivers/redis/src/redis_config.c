/* redis_config.c - the schema of nr_redis_config (its fields: nebula/redis.h). */
#include "nebula/redis.h"

#include <stddef.h>
#include <stdio.h>

/* Whether s holds a space or a control character (Redis refuses such
 * client names; ACL user names cannot hold them either). */
static const char *bad_char(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f)
            return s;
    return NULL;
}

static void check_name(const char *value, const char *key, const char *path,
                       nr_config_report *report)
{
    if (!bad_char(value))
        return;
    char field[NR_CONFIG_PATH_MAX];
    char shown[NR_CONFIG_VALUE_MAX];
    snprintf(field, sizeof(field), "%s.%s", path ? path : "$", key);
    /* the value as JSON text, control characters left out */
    size_t n = 0;
    shown[n++] = '"';
    for (const char *p = value; *p && n < sizeof(shown) - 5; p++)
        shown[n++] = ((unsigned char)*p < ' ' || *p == '"' || *p == '\\') ? '?' : *p;
    shown[n++] = '"';
    shown[n] = '\0';
    nr_config_report_add(report, field, shown, 0, 0,
                         "must not contain spaces or control characters");
}

static void redis_check(const void *cfg, const char *path, nr_config_report *report)
{
    const nr_redis_config *c = cfg;
    check_name(c->user, "user", path, report);
    check_name(c->client_name, "client_name", path, report);
}

NR_CONFIG_SCHEMA(nr_redis_config_schema, "redis", nr_redis_config, NR_REDIS_CONFIG_FIELDS,
                 redis_check);
