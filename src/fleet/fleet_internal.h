/*
 * fleet_internal.h - the fleet budget's parts (nebula/fleet.h):
 *     fleet.c          options, create, destroy, stats, set_budget
 *     fleet_keys.c     key names and escaping
 *     fleet_redis.c    one hiredis connection: connect, AUTH, the scripts
 *     fleet_script.c   the Lua script and the reading of its reply
 *     fleet_agent.c    the agent thread: when to ask, give back, renew
 *     fleet_observe.c  metrics and events
 *
 * Locking: f->mu guards the fields marked [mu]: the agent writes them after
 * each step, nr_fleet_get_stats reads them. Redis is called with no lock
 * held, by the agent only (nr_fleet_set_budget uses a connection of its own).
 */
#ifndef NR_FLEET_INTERNAL_H
#define NR_FLEET_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "nebula/fleet.h"

#define NR__FLEET_KEY_MAX  400 /* "<prefix>:<resource>:leases", escaped (3 bytes per byte) */
#define NR__FLEET_PROC_MAX 400

struct redisContext;

/* What one run of the script answers. */
typedef struct nr__fleet_reply {
    uint32_t leases;    /* this process's, after the run */
    uint32_t total;     /* every process's */
    uint32_t budget;    /* the budget key's value */
    uint32_t processes; /* live processes */
    uint32_t lost;      /* 1: fewer of its leases were left than it believed, or it was no
                           longer registered: re-established only, nothing granted beyond */
    uint32_t cap;       /* a process is starved of its minimum and this one holds more than
                           its share: hold no more than this; 0 = no cap */
} nr__fleet_reply;

/* A connection to Redis, as the options say. */
typedef struct nr__fleet_conn {
    struct redisContext *c; /* NULL: not connected */
    char sha[48];           /* the script's SHA1 once SCRIPT LOAD answered; "" before */
} nr__fleet_conn;

typedef struct nr__fleet_cfg {
    char resource[64];
    char prefix[64];
    char process[128];
    char proc_esc[NR__FLEET_PROC_MAX]; /* process, escaped (the members' name) */
    char key_budget[NR__FLEET_KEY_MAX], key_leases[NR__FLEET_KEY_MAX], key_procs[NR__FLEET_KEY_MAX];
    uint32_t init_budget, min_per_process;
    char host[256];
    int port;
    char socket[256];
    char user[128];
    nr_secret *password; /* owned; NULL = none */
    nr_credential_provider creds;
    char cred_ref[256]; /* "" = none */
    int64_t ttl_ms, renew_ms, release_after_ms, timeout_ms;
    nr_fleet_mode mode;
} nr__fleet_cfg;

typedef struct nr__fleet_metrics {
    nr_gauge *in_use, *budget, *leases, *limit, *held, *redis_up, *fallback;
    nr_counter *renew_failures, *syncs;
} nr__fleet_metrics;

struct nr_fleet {
    uint32_t magic;
    nr__fleet_cfg cfg;
    nr_budget *local;
    nr_event_bus *events;
    nr__fleet_metrics m;
    pthread_t thread;
    int thread_started;

    pthread_mutex_t mu;
    int stop;          /* [mu] nr_fleet_destroy: the agent ends (woken by nr_budget_wake) */
    nr_fleet_stats st; /* [mu] the agent's view (local_* filled when read) */

    /* the agent's own (its thread only, after create) */
    nr__fleet_conn conn;
    uint32_t leases;        /* confirmed by the last script */
    int up;                 /* the last script succeeded */
    int fallback;           /* the mode's limit is in force */
    int64_t valid_until_ns; /* fail_closed: when the leases believed held run out */
    int64_t free_since_ns;  /* places free (leases > held) since; 0 = none free */
    int64_t grace_until_ns; /* after the first sync, Redis back, or a loss: hold, grow later */
    uint32_t cap;           /* the last reply's cap (0: none): the limit stays at most this */
    int64_t next_renew_ns;
    nr__fleet_reply last; /* the last reply */
    int started;          /* the first step ran */
};

/* ---- fleet_keys.c ---- */
/* Escape s into out (n bytes): [A-Za-z0-9_.-] as they are, others %XX.
 * NR_OK, or NR_ECONFIG when it does not fit. */
int nr__fleet_escape(const char *s, char *out, size_t n);
/* Fill the cfg's escaped names and keys from prefix, resource, process. */
int nr__fleet_keys(nr__fleet_cfg *c, nr_error *err);

/* ---- fleet_redis.c ---- */
/* SIGPIPE blocked around a write (a Redis that dies mid-write must not kill
 * the process); one raised meanwhile is consumed. */
typedef struct nr__fleet_pipe {
    sigset_t old;
    int was_pending;
} nr__fleet_pipe;
void nr__fleet_pipe_block(nr__fleet_pipe *g);
void nr__fleet_pipe_restore(nr__fleet_pipe *g);
/* Connect and AUTH as cfg says. NR_EUNAVAIL / NR_ECRED, err naming the
 * fleet budget and never the password. */
int nr__fleet_connect(const nr__fleet_cfg *cfg, nr__fleet_conn *conn, nr_error *err);
void nr__fleet_disconnect(nr__fleet_conn *conn);

/* ---- fleet_script.c ---- */
/* Flags of nr__fleet_sync. */
#define NR__FLEET_LEAVE 1 /* remove the process (and, with want 0, its leases) */
/* NR__FLEET_KNOWN: it registered before (missing from procs: its leases were lost) */
#define NR__FLEET_KNOWN 2
/* Run the script: hold `want` leases (renewing those kept), registering
 * this process (NR__FLEET_LEAVE: removing it). believed: the leases it
 * believes it holds; fewer found (or, NR__FLEET_KNOWN, not registered) is a
 * loss: re-established up to min(want, believed), nothing more, and
 * out->lost set. NR_EUNAVAIL: Redis failed (conn is then closed) or a value
 * is malformed (err names the key). */
int nr__fleet_sync(const nr__fleet_cfg *cfg, nr__fleet_conn *conn, uint32_t want, uint32_t believed,
                   int flags, nr__fleet_reply *out, nr_error *err);
/* SET the budget key. */
int nr__fleet_write_budget(const nr__fleet_cfg *cfg, nr__fleet_conn *conn, uint32_t budget,
                           nr_error *err);

/* ---- fleet_agent.c ---- */
void *nr__fleet_agent_main(void *arg);
/* One step of the agent (create runs the first one itself). */
void nr__fleet_step(nr_fleet *f);
/* A script succeeded (sent at `sent`): the leases, limit and grace from r. */
void nr__fleet_went_up(nr_fleet *f, const nr__fleet_reply *r, int64_t sent);

/* ---- fleet_observe.c ---- */
int nr__fleet_metrics_init(nr_fleet *f, nr_metrics *reg, nr_error *err);
/* Publish the agent's view to the metrics and to f->st. [no lock held] */
void nr__fleet_publish(nr_fleet *f, const char *error_text, int error_code);
void nr__fleet_event(nr_fleet *f, nr_event_type type, int64_t count, int code, const char *text);

#endif
