/* redis_config.c - the schema of nr_redis_config. */
#include "nebula/redis.h"

#include <stddef.h>
#include <stdio.h>

static const nr_field redis_fields[] = {
    {.name = "host",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_redis_config, host),
     .min = 1,
     .max = NR_REDIS_HOST_MAX,
     .def_str = "127.0.0.1",
     .doc = "server name or address (ignored when unix_socket is set)"},
    {.name = "port",
     .type = NR_FT_INT,
     .offset = offsetof(nr_redis_config, port),
     .min = 1,
     .max = 65535,
     .def_int = 6379,
     .doc = "server TCP port"},
    {.name = "unix_socket",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_redis_config, unix_socket),
     .max = NR_REDIS_UNIX_SOCKET_MAX,
     .def_str = "",
     .doc = "path of the server's unix socket; \"\" = connect to host and port"},
    {.name = "user",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_redis_config, user),
     .max = NR_REDIS_NAME_MAX,
     .def_str = "",
     .doc = "ACL user for AUTH user password; \"\" = AUTH password (the default user)"},
    {.name = "db",
     .type = NR_FT_INT,
     .offset = offsetof(nr_redis_config, db),
     .min = 0,
     .max = 2147483647,
     .def_int = 0,
     .doc = "database index chosen with SELECT"},
    {.name = "connect_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_redis_config, connect_timeout_ms),
     .min = 1,
     .max = NR_REDIS_TIMEOUT_MS_MAX,
     .def_int = 5000,
     .doc = "budget for connecting and the AUTH/SELECT/CLIENT SETNAME handshake"},
    {.name = "command_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_redis_config, command_timeout_ms),
     .min = 0,
     .max = NR_REDIS_TIMEOUT_MS_MAX,
     .def_int = 5000,
     .doc = "socket timeout of each command (0 = wait forever)"},
    {.name = "health_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_redis_config, health_timeout_ms),
     .min = 1,
     .max = NR_REDIS_TIMEOUT_MS_MAX,
     .def_int = 2000,
     .doc = "socket timeout of the health check PING and of the reset at release"},
    {.name = "client_name",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_redis_config, client_name),
     .max = NR_REDIS_NAME_MAX,
     .def_str = "nebula-resource",
     .doc = "CLIENT SETNAME value; \"\" = no name"},
    {.name = "keepalive",
     .type = NR_FT_BOOL,
     .offset = offsetof(nr_redis_config, keepalive),
     .def_int = 1,
     .doc = "TCP keepalive on the connection"},
};

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

const nr_config_schema nr_redis_config_schema = {
    .name = "redis",
    .struct_size = sizeof(nr_redis_config),
    .fields = redis_fields,
    .nfields = sizeof(redis_fields) / sizeof(redis_fields[0]),
    .check = redis_check,
};
