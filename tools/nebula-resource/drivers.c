/*
 * drivers.c - the table from a config file's "driver" name to the resource
 * type a driver exports.
 *
 * A driver is in the table when its library was built: the CMake file adds
 * NR_CLI_WITH_<X> for each driver target that exists. Only the exported type
 * symbol is used, so nothing here depends on a driver's other API.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nebula/sqlite.h"

#ifdef NR_CLI_WITH_POSTGRES
extern const nr_resource_type nr_postgres_type;
#endif
#ifdef NR_CLI_WITH_REDIS
extern const nr_resource_type nr_redis_type;
#endif
#ifdef NR_CLI_WITH_HTTP
extern const nr_resource_type nr_http_type;
#endif
#ifdef NR_CLI_WITH_KAFKA
extern const nr_resource_type nr_kafka_producer_type;
extern const nr_resource_type nr_kafka_consumer_type;
#endif
#ifdef NR_CLI_WITH_MONGO
extern const nr_resource_type nr_mongo_type;
#endif

static const cli_driver table[] = {
    {"sqlite", &nr_sqlite_type},
#ifdef NR_CLI_WITH_POSTGRES
    {"postgres", &nr_postgres_type},
#endif
#ifdef NR_CLI_WITH_REDIS
    {"redis", &nr_redis_type},
#endif
#ifdef NR_CLI_WITH_HTTP
    {"http", &nr_http_type},
#endif
#ifdef NR_CLI_WITH_KAFKA
    {"kafka-producer", &nr_kafka_producer_type},
    {"kafka-consumer", &nr_kafka_consumer_type},
#endif
#ifdef NR_CLI_WITH_MONGO
    {"mongo", &nr_mongo_type},
#endif
};

/* Every driver name the project has, built in or not. */
static const char *const all_names[] = {
    "sqlite", "postgres", "redis", "http", "kafka-producer", "kafka-consumer", "mongo",
};

const char *const *cli_driver_names(size_t *count)
{
    *count = sizeof(all_names) / sizeof(all_names[0]);
    return all_names;
}

const cli_driver *cli_drivers(size_t *count)
{
    *count = sizeof(table) / sizeof(table[0]);
    return table;
}

const cli_driver *cli_driver_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

bool cli_driver_known(const char *name)
{
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof(all_names) / sizeof(all_names[0]); i++)
        if (strcmp(all_names[i], name) == 0)
            return true;
    return false;
}

void cli_driver_list(char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]) && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", table[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
