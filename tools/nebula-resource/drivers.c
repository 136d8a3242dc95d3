/*
 * drivers.c - the table from a config file's "driver" name to the resource
 * type a driver exports (what nr_config_file_load is given).
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

/* Every driver the project has; type NULL when not built into this program. */
static const nr_config_driver table[] = {
    {.name = "sqlite", .type = &nr_sqlite_type},
#ifdef NR_CLI_WITH_POSTGRES
    {.name = "postgres", .type = &nr_postgres_type},
#else
    {.name = "postgres", .type = NULL},
#endif
#ifdef NR_CLI_WITH_REDIS
    {.name = "redis", .type = &nr_redis_type},
#else
    {.name = "redis", .type = NULL},
#endif
#ifdef NR_CLI_WITH_HTTP
    {.name = "http", .type = &nr_http_type},
#else
    {.name = "http", .type = NULL},
#endif
#ifdef NR_CLI_WITH_KAFKA
    {.name = "kafka-producer", .type = &nr_kafka_producer_type},
    {.name = "kafka-consumer", .type = &nr_kafka_consumer_type},
#else
    {.name = "kafka-producer", .type = NULL},
    {.name = "kafka-consumer", .type = NULL},
#endif
#ifdef NR_CLI_WITH_MONGO
    {.name = "mongo", .type = &nr_mongo_type},
#else
    {.name = "mongo", .type = NULL},
#endif
};

const nr_config_driver *cli_drivers(size_t *count)
{
    *count = sizeof(table) / sizeof(table[0]);
    return table;
}

void cli_driver_list(char *buf, size_t len)
{
    size_t used = 0, n = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]) && used < len; i++) {
        if (!table[i].type)
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", n++ ? ", " : "", table[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
