/*
 * nebula/fleet.h - a connection budget shared by every process of a fleet,
 * kept in Redis (library nebula-resource-fleet, component fleet; docs/fleet.md).
 *
 * A pool bounds one process; a fleet budget bounds the sum over processes.
 * Each process holds leases in Redis, one per place; its local budget
 * (nebula/budget.h), into which its pools or manager resources are put,
 * has a limit equal to the leases it holds, so that its pools never hold
 * more instances than it has leases. One background thread per fleet
 * budget (the agent) asks Redis for more leases when pools queue, gives
 * leases back once places stay free for release_after_ms, and renews them
 * by heartbeat: a lease not renewed within lease_ttl_ms (its holder died
 * or lost Redis) is gone, and its place usable by the others.
 *
 * Keys, all under "<prefix>:<resource>:" (both escaped: bytes outside
 * [A-Za-z0-9_.-] become %XX):
 *     budget  a string, the fleet's places (a decimal integer)
 *     leases  a sorted set: "<process>/<slot>" -> expiry (Redis ms)
 *     procs   a sorted set: "<process>" -> expiry (Redis ms)
 * Every change is one Lua script that reads Redis TIME: client clocks play
 * no part. A malformed value (a budget that is not a number, a key of the
 * wrong type, a member without its slot) is an error naming the key.
 *
 * When Redis cannot be reached (on_redis_down): NR_FLEET_FAIL_CLOSED keeps
 * the limit at the leases believed held until their TTL would have run out,
 * then sets it to 0 (what is held stays; nothing new is created);
 * NR_FLEET_FAIL_OPEN sets it to budget / the processes last seen. Either
 * way an event (NR_EV_FLEET_REDIS_DOWN, then NR_EV_FLEET_FALLBACK) and the
 * metrics say so; when Redis answers again the leases are re-established
 * under the same ids (no double counting) and NR_EV_FLEET_REDIS_UP follows.
 *
 * Secrets: the Redis password (redis_password, or credential_ref fetched
 * from credentials at every connect) goes to Redis's AUTH only: never into
 * an error, event, metric or log.
 *
 * Ownership: nr_fleet_create gives the caller one fleet budget, freed by
 * nr_fleet_destroy. nr_fleet_budget's budget belongs to the fleet budget:
 * every pool (and manager resource) put in it must be gone before
 * nr_fleet_destroy. The options' events and metrics are borrowed and must
 * outlive it; strings are copied.
 *
 * Thread safety: every function may be called from any thread between
 * nr_fleet_create and nr_fleet_destroy, which must be the last call. The
 * agent runs on a thread of its own and calls nothing of the program's
 * except the credential provider's fetch (with no library lock held).
 */
#ifndef NEBULA_FLEET_H
#define NEBULA_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/budget.h"
#include "nebula/credential.h"
#include "nebula/error.h"
#include "nebula/events.h"
#include "nebula/export.h"
#include "nebula/metrics.h"
#include "nebula/secret.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_fleet nr_fleet;

/* What the local limit becomes while Redis cannot be reached. */
typedef enum nr_fleet_mode {
    NR_FLEET_FAIL_CLOSED = 0, /* the leases believed held, until their TTL; then 0 */
    NR_FLEET_FAIL_OPEN = 1,   /* budget / processes last seen */
} nr_fleet_mode;

typedef struct nr_fleet_options {
    size_t size;                     /* sizeof(nr_fleet_options) as the caller was built
                                        (NR_FLEET_OPTIONS_INIT, docs/ABI.md) */
    const char *resource;            /* required: the budget's name, 1..63 bytes (a resource id) */
    const char *prefix;              /* key namespace, 1..63 bytes; NULL = "nebula" */
    const char *process_id;          /* this process, stable while it runs and unique among the live
                                        ones (two processes with one id would share leases),
                                        1..127 bytes; NULL = "<hostname>:<pid>:<random>" */
    uint32_t budget;                 /* the fleet's places: written to Redis when the key does not
                                        exist yet (Redis's value wins otherwise); 0 = it must exist */
    uint32_t min_per_process;        /* places every live process may always have, reserved from
                                        the others' growth and taken back from those above their
                                        share (docs/fleet.md, "The cap"); 0 = none. The same in
                                        every process; processes * min should not exceed the
                                        budget */
    const char *redis_host;          /* NULL = "127.0.0.1" */
    int redis_port;                  /* 0 = 6379 */
    const char *redis_socket;        /* a unix socket path instead of host and port; NULL = TCP */
    const char *redis_user;          /* ACL user for AUTH; NULL = the default user */
    const nr_secret *redis_password; /* copied; NULL = none (or credential_ref) */
    const nr_credential_provider *credentials; /* copied; with credential_ref: the password is
                                                  fetched at every connect */
    const char *credential_ref;                /* copied; NULL = none */
    int64_t lease_ttl_ms;                      /* a lease not renewed this long is gone; 0 = 10000;
                                                  1000..3600000 */
    int64_t renew_interval_ms;   /* heartbeat; 0 = lease_ttl_ms / 4; at most lease_ttl_ms / 2 */
    int64_t release_after_ms;    /* leases over the places held for this long go back (the
                                    hysteresis); 0 = 5000; 0..3600000 with -1 = at once */
    int64_t redis_timeout_ms;    /* connect and each script; 0 = 500; 10..60000, below
                                    renew_interval_ms */
    nr_fleet_mode on_redis_down; /* default NR_FLEET_FAIL_CLOSED */
    nr_event_bus *events;        /* borrowed, may be NULL */
    nr_metrics *metrics;         /* borrowed, may be NULL: the nr_fleet_* families, label
                                    "resource" (docs/fleet.md) */
} nr_fleet_options;

#define NR_FLEET_OPTIONS(...)                                                                      \
    {                                                                                              \
        .size = sizeof(nr_fleet_options), __VA_ARGS__                                              \
    }
#define NR_FLEET_OPTIONS_INIT NR_FLEET_OPTIONS()

/*
 * Check the options, reach Redis (the first contact must succeed: it reads
 * the budget and registers this process), and start the agent. Its
 * first grace is waited here (renew_interval_ms + min(250,
 * renew_interval_ms) + 2 * redis_timeout_ms, docs/fleet.md "The grace":
 * the time every process still holding places takes to re-establish them
 * after Redis lost its keys), then the local budget gets min_per_process
 * leases when the fleet has room, else fewer (more as the others shed to
 * their share).
 * NR_EINVAL (out or opts NULL), NR_ECONFIG (an option breaks its rule: err
 * names the fleet budget, the field and the rule), NR_EUNAVAIL (Redis
 * unreachable, refused AUTH, or a malformed value: err names the key),
 * NR_ECRED (the provider failed), NR_ENOMEM. On failure *out is NULL.
 */
NR_API int nr_fleet_create(nr_fleet **out, const nr_fleet_options *opts, nr_error *err);

/*
 * Stop the agent and give every lease back (one script; when Redis cannot
 * be reached they expire within the TTL). NR_EBUSY, with nothing done,
 * while a pool is still in the budget. NULL is a no-op.
 */
NR_API int nr_fleet_destroy(nr_fleet *f, nr_error *err);

/* The local budget to put pools (nr_budget_add_pool) or manager resources
 * (nr_resource_spec.budget) in; owned by f. Never NULL. */
NR_API nr_budget *nr_fleet_budget(nr_fleet *f);

/*
 * Change the fleet's budget, for every process (one SET of the budget key;
 * each agent sees it at its next script). Lowered below the leases held:
 * no lease is taken back, the processes give back their free ones at once
 * and grant none until the fleet is under it. NR_EUNAVAIL (Redis), NR_EINVAL.
 * Runs on the calling thread with a connection of its own.
 */
NR_API int nr_fleet_set_budget(nr_fleet *f, uint32_t budget, nr_error *err);

typedef struct nr_fleet_stats {
    size_t size;             /* sizeof(nr_fleet_stats) as the caller was built: the caller sets
                                it; the library writes up to it (NR_FLEET_STATS_INIT) */
    uint32_t budget;         /* the fleet's places, as last read */
    uint32_t fleet_leases;   /* leases of every process, as last read */
    uint32_t processes;      /* live processes, as last read */
    uint32_t leases;         /* this process's leases, as last confirmed */
    uint32_t local_limit;    /* the local budget's limit now */
    uint32_t local_held;     /* places its pools hold now */
    uint32_t local_wanted;   /* places its queued pools want now */
    bool redis_up;           /* the last script succeeded */
    bool fallback;           /* the mode's limit is in force (Redis down) */
    uint64_t syncs;          /* scripts that succeeded */
    uint64_t renew_failures; /* scripts that failed */
    char last_error[NR_ERROR_MESSAGE_MAX]; /* the last failure's message, "" when none */
} nr_fleet_stats;

#define NR_FLEET_STATS_INIT                                                                        \
    {                                                                                              \
        .size = sizeof(nr_fleet_stats)                                                             \
    }

/* A snapshot, written up to out->size. NR_EINVAL when an argument is NULL
 * or out->size is not one this library knows (nothing written then). */
NR_API int nr_fleet_get_stats(nr_fleet *f, nr_fleet_stats *out);

/* "fail_closed", "fail_open"; "unknown" otherwise. */
NR_API const char *nr_fleet_mode_name(nr_fleet_mode m);

#ifdef __cplusplus
}
#endif
#endif
