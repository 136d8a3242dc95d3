/*
 * config_schema.h - the schemas of the sections of a nebula-resource config
 * file that the library does not define: manager, http, shutdown, one
 * credential, and the plain keys of a resource and of a group. See docs/cli.md.
 *
 * Each section's struct and schema come from one list (nebula/config_fields.h):
 * kind, key, min, max, default, flags and what it means. The structs are
 * internal, so their member order is the lists' (the keys' order in output).
 *
 * Thread safety: immutable tables, any thread.
 */
#ifndef NR_CF_CONFIG_SCHEMA_H
#define NR_CF_CONFIG_SCHEMA_H

#include <stdint.h>

#include "nebula/config.h"

#define CF_DAY_MS  86400000
#define CF_HOUR_MS 3600000

#define CF_MGR_FIELDS(X, T)                                                                        \
    X(T, INT, workers, 1, 64, 4, 0, "background worker threads")                                   \
    X(T, INT, maintain_interval_ms, 0, CF_DAY_MS, 1000, 0, "pool maintenance period (0 = none)")   \
    X(T, INT, health_interval_ms, 0, CF_DAY_MS, 10000, 0, "health check period (0 = none)")        \
    X(T, INT, health_timeout_ms, 1, CF_HOUR_MS, 5000, 0,                                           \
      "deadline of one instance's health check")                                                   \
    X(T, INT, failure_threshold, 1, 1000, 3, 0, "failed rounds in a row before unhealthy")         \
    X(T, INT, recovery_threshold, 1, 1000, 2, 0, "good rounds in a row before healthy again")      \
    X(T, INT, quarantine_after, 0, 1000, 0, 0,                                                     \
      "bad rounds in a row before a resource is quarantined (0 = never)")                          \
    X(T, INT, quarantine_base_ms, 1, CF_DAY_MS, 1000, 0, "delay before the first recovery probe")  \
    X(T, DOUBLE, quarantine_factor, 1.0, 10.0, 2.0, 0, "growth of the delay per failed probe")     \
    X(T, INT, quarantine_max_ms, 1, CF_DAY_MS, 60000, 0, "cap of the probe delay")                 \
    X(T, DOUBLE, quarantine_jitter, 0.0, 1.0, 0.2, 0,                                              \
      "share of each delay added or taken at random")                                              \
    X(T, INT, quarantine_max_attempts, 1, 1000, 8, 0,                                              \
      "failed probes before an operator must release it")                                          \
    X(T, INT, quarantine_trials, 1, 1000000, 3, 0, "acquires let through while half-open")

NR_CONFIG_STRUCT(mgr_cfg, CF_MGR_FIELDS)

#define CF_HTTP_FIELDS(X, T)                                                                       \
    X(T, STRING, listen, 1, 64, "127.0.0.1", 0, "IPv4 or IPv6 address to listen on")               \
    X(T, INT, port, 0, 65535, 9464, 0, "TCP port (0 = pick a free one)")                           \
    X(T, STRING, admin_token, 1, 127, NULL, 0,                                                     \
      "credential ref of the admin token (POST actions need it; none: actions are refused)")

NR_CONFIG_STRUCT(http_cfg, CF_HTTP_FIELDS)

#define CF_SHUTDOWN_FIELDS(X, T)                                                                   \
    X(T, INT, grace_ms, 0, CF_HOUR_MS, 0, 0, "time /readyz answers 503 before the drain starts")   \
    X(T, INT, drain_timeout_ms, 0, CF_HOUR_MS, 30000, 0, "how long the drain waits for leases")    \
    X(T, INT, cleanup_timeout_ms, 0, CF_HOUR_MS, 10000, 0, "how long the cleanup may take")

NR_CONFIG_STRUCT(shutdown_cfg, CF_SHUTDOWN_FIELDS)

/* one credential: exactly one of env and file (cf_cred_schema's check) */
#define CF_CRED_FIELDS(X, T)                                                                       \
    X(T, STRING, env, 1, 255, NULL, 0, "environment variable that holds the secret")               \
    X(T, STRING, file, 1, 4096, NULL, 0,                                                           \
      "file that holds the secret (one trailing newline is dropped)")

NR_CONFIG_STRUCT(cred_cfg, CF_CRED_FIELDS)

/* the scalar keys of a resource; config, pool and depends_on are read by the loader */
#define CF_RES_FIELDS(X, T)                                                                        \
    X(T, STRING, id, 1, 63, NULL, NR_CF_REQUIRED, "unique resource id")                            \
    X(T, STRING, driver, 1, 63, NULL, NR_CF_REQUIRED, "driver name")                               \
    X(T, STRING, scope, 1, NR_SCOPE_TEXT_MAX - 1, NULL, 0,                                         \
      "\"global\" (default) or \"tenant:ID[/workflow:ID...]\"")                                    \
    X(T, ENUM, partition, cf_partition_names, 0, 0, 0, "\"tenant\": one pool per tenant")          \
    X(T, STRING, credential, 1, 255, NULL, 0, "credential ref (a key of \"credentials\")")         \
    X(T, ENUM, on_dependency_failure, cf_dep_policy_names, 0, 0, 0,                                \
      "while a dependency is unhealthy: \"serve\" (degraded) or \"fail\" (NR_EDEPFAIL)")

NR_CONFIG_STRUCT(res_cfg, CF_RES_FIELDS)

/* a resource's "fleet" section: nr_fleet_options (nebula/fleet.h) as a file can say it */
#define CF_FLEET_FIELDS(X, T)                                                                      \
    X(T, INT, budget, 0, 1000000, 0, NR_CF_REQUIRED,                                               \
      "the fleet's places, written to Redis when its key does not exist yet (0 = it must exist)")  \
    X(T, INT, min_per_process, 0, 1000000, 0, 0,                                                   \
      "places every live process may always have (0 = none)")                                      \
    X(T, STRING, prefix, 1, 63, "nebula", 0, "key namespace in Redis")                             \
    X(T, STRING, process_id, 1, 127, NULL, 0,                                                      \
      "this process in the fleet (default: hostname:pid:random)")                                  \
    X(T, STRING, redis_host, 1, 255, "127.0.0.1", 0, "Redis host")                                 \
    X(T, INT, redis_port, 1, 65535, 6379, 0, "Redis TCP port")                                     \
    X(T, STRING, redis_socket, 1, 107, NULL, 0, "a unix socket path instead of host and port")     \
    X(T, STRING, redis_user, 1, 127, NULL, 0, "ACL user for AUTH (default: the default user)")     \
    X(T, STRING, credential_ref, 1, 127, NULL, 0,                                                  \
      "credential ref of the Redis password (a key of \"credentials\"; none: no AUTH)")            \
    X(T, INT, lease_ttl_ms, 1000, CF_HOUR_MS, 10000, 0, "a lease not renewed this long is gone")   \
    X(T, INT, renew_interval_ms, 0, CF_HOUR_MS, 0, 0,                                              \
      "heartbeat (0 = lease_ttl_ms / 4; at most lease_ttl_ms / 2)")                                \
    X(T, INT, release_after_ms, -1, CF_HOUR_MS, 5000, 0,                                           \
      "how long places stay free before their leases go back (-1 = at once, 0 = 5000)")            \
    X(T, INT, redis_timeout_ms, 10, 60000, 500, 0,                                                 \
      "connect and each script (below renew_interval_ms)")                                         \
    X(T, ENUM, on_redis_down, cf_fleet_mode_names, 0, 0, 0,                                        \
      "while Redis cannot be reached: \"fail_closed\" or \"fail_open\"")

NR_CONFIG_STRUCT(fleet_cfg, CF_FLEET_FIELDS)

#define CF_GROUP_FIELDS(X, T)                                                                      \
    X(T, STRING, name, 1, 63, NULL, NR_CF_REQUIRED, "the group's name (not a resource id)")        \
    X(T, INT, max_quarantine_percent, 0, 100, NR_GROUP_MAX_QUARANTINE_PERCENT_DEFAULT, 0,          \
      "most members quarantined at once, in percent; 100 = no limit")

NR_CONFIG_STRUCT(group_cfg, CF_GROUP_FIELDS)

extern const nr_config_schema cf_group_schema;    /* group_cfg, a group's plain keys */
extern const nr_config_schema cf_mgr_schema;      /* mgr_cfg, "manager" */
extern const nr_config_schema cf_http_schema;     /* http_cfg, "http" */
extern const nr_config_schema cf_shutdown_schema; /* shutdown_cfg, "shutdown" */
extern const nr_config_schema cf_cred_schema;     /* cred_cfg, one credential */
extern const nr_config_schema cf_res_schema;      /* res_cfg, a resource's plain keys */
extern const nr_config_schema cf_fleet_schema;    /* fleet_cfg, a resource's "fleet" */

#endif
