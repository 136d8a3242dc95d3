/*
 * admin_internal.h - what the parts of the admin server share.
 *
 *   admin.c         options, start and stop, phase and note
 *   admin_http.c    the libmicrohttpd daemon: routing and replies
 *   admin_front.c   the listening socket, the first-bytes check, request bounds
 *   admin_actions.c the POST actions and the token check
 *   admin_events.c  the ring of recent events (a thread reading a subscription)
 *   admin_history.c the history of every resource's pool for the page's sparklines
 *                   (a sampler thread and a bounded ring per resource)
 *   admin_status.c  the resource snapshot, readiness and the /status document
 *   admin_tenants.c a partitioned resource's busiest tenants, and the rest summed
 *   status_page.html the page, embedded at build time (admin_page_html)
 *
 * Locks: a->mu guards the note only; the event ring and the history have
 * a mutex each. No admin lock is held while the manager is called, and no
 * two admin locks are ever held at once.
 */
#ifndef NR_ADMIN_INTERNAL_H
#define NR_ADMIN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nebula/admin.h"

#define ADMIN_RING_EVENTS 64
#define ADMIN_NOTE_MAX    160

/* Recent events, kept by a thread that reads a subscription. Acquired and
 * released events are only counted (there are too many to keep). An event
 * equal to the newest one kept but for its seq and times (a pool exhausted
 * again and again) is folded into it: the entry keeps the newest, counts
 * the repeats and remembers the first one's time. Event times are kept on
 * the monotonic clock and shown as wall-clock times. */
typedef struct admin_ring {
    nr_event_sub *sub;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    pthread_mutex_t mu;
    nr_event events[ADMIN_RING_EVENTS];    /* [mu] the newest of each entry */
    uint64_t repeats[ADMIN_RING_EVENTS];   /* [mu] events folded into each entry, >= 1 */
    int64_t first_ns[ADMIN_RING_EVENTS];   /* [mu] the first one's time */
    uint64_t first_seq[ADMIN_RING_EVENTS]; /* [mu] and its sequence number */
    size_t next, count;                    /* [mu] */
    uint64_t per_type[32];                 /* [mu] by nr_event_type */
    uint64_t missed;                       /* [mu] */
} admin_ring;

int admin_ring_start(admin_ring *ring, nr_event_bus *bus, nr_error *err);
void admin_ring_stop(admin_ring *ring);
/* Keep ev in the ring (what the reader thread does with each event; for
 * tests). Takes ring->mu. */
void admin_ring_add(admin_ring *ring, const nr_event *ev);

/* ---- history (admin_history.c) ------------------------------------------------- */

#define ADMIN_HISTORY_RESOURCES 256 /* resources with a history; more are counted, not kept */

/* What the sampler read of one resource at one sample. */
typedef struct admin_obs {
    char id[NR_ERROR_ID_MAX];
    uint32_t in_use, waiters;
    uint64_t acquires, waits; /* counters since the resource's pools were made */
    int64_t wait_ns_total;
} admin_obs;

/* One resource at one sample. */
typedef struct admin_point {
    uint32_t in_use, waiters;
    float acquire_rate; /* acquires per second since the previous sample */
    float wait_ms;      /* mean wait of the acquires that waited since then; 0 if none */
} admin_point;

/* One resource's history. Its points share the timeline's ring positions:
 * points[i] is the sample taken at t_ms[i], and the track holds the newest
 * count samples of the timeline (it started count samples ago). */
typedef struct admin_track {
    char id[NR_ERROR_ID_MAX]; /* "" when the slot is free */
    admin_point *points;      /* cap of them; NULL when the slot is free */
    uint32_t count;
    bool seen;                /* at the sample being recorded */
    uint64_t acquires, waits; /* the counters at the previous sample */
    int64_t wait_ns_total;
} admin_track;

typedef struct admin_history {
    uint32_t cap;        /* samples kept (opts.history) */
    int64_t interval_ms; /* opts.sample_interval_ms */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* [mu] signalled by stop */
    bool stop;           /* [mu] */
    pthread_t thread;
    bool running;         /* [the starting and stopping thread] */
    int64_t *t_ms;        /* [mu] cap wall-clock times (ms since the epoch), a ring */
    int64_t last_ns;      /* [mu] monotonic time of the newest sample */
    uint32_t head, count; /* [mu] the next position in the ring; samples in it */
    uint64_t samples;     /* [mu] samples taken since the start */
    uint32_t left_out;    /* [mu] resources without a history at the newest sample */
    admin_track tracks[ADMIN_HISTORY_RESOURCES]; /* [mu] */
    admin_obs *scratch;                          /* [sampler thread] what one sample reads */
} admin_history;

/* Set up an empty history of cap samples per resource, one every
 * interval_ms. NR_ENOMEM. */
int admin_history_init(admin_history *h, uint32_t cap, int64_t interval_ms, nr_error *err);
void admin_history_free(admin_history *h);

/*
 * Record one sample taken at now_ns (monotonic) and wall_ms: obs holds the
 * resources read (in registration order), left_out how many more there were.
 * A resource seen for the first time starts its history here (its rates are
 * 0 until the next sample); a tracked resource missing from obs is dropped.
 * When all slots are taken, a new resource is left out (counted). A counter
 * that went down (a resource registered again under the same id) is taken as
 * counting from 0. Takes h->mu.
 */
void admin_history_record(admin_history *h, int64_t now_ns, int64_t wall_ms, const admin_obs *obs,
                          size_t n, uint32_t left_out);

/* The history as /status shows it (docs/admin.md): the newest max_samples
 * samples of every tracked resource, oldest first. NULL when memory ran
 * out. Takes h->mu. */
json_t *admin_history_json(admin_history *h, uint32_t max_samples);

/* The sampler thread: one sample at once, then one every interval. It reads
 * the manager with h->mu released and takes it only to record. */
int admin_history_start(nr_admin *a, nr_error *err);
void admin_history_stop(nr_admin *a);

struct nr_admin {
    nr_manager *m;
    nr_admin_options o; /* strings point into the copies below */
    char *listen, *program, *mode, *token_ref;
    int port;
    int64_t started_ns;      /* monotonic */
    int64_t started_wall_ms; /* the same moment on the wall clock */
    _Atomic int phase;       /* nr_admin_phase */
    pthread_mutex_t mu;
    char note[ADMIN_NOTE_MAX]; /* [mu] */
    admin_ring ring;
    bool ring_on;
    admin_history history;
    struct admin_http *http;
};

/* ---- resources (admin_status.c) ---------------------------------------------- */

/* One resource as the manager described it, copied. */
typedef struct admin_res {
    char id[NR_ERROR_ID_MAX];
    char type[32];
    char scope[NR_SCOPE_TEXT_MAX];
    nr_partition partition;
    char **deps;
    size_t ndeps;
    int level; /* 0 without dependencies, else 1 + the highest of theirs */
} admin_res;

typedef struct admin_snapshot {
    admin_res *v;
    size_t n, cap;
} admin_snapshot;

/* Every registered resource with its level, in start order: by level, then
 * registration order. */
int admin_snapshot_take(nr_admin *a, admin_snapshot *s, nr_error *err);
void admin_snapshot_free(admin_snapshot *s);

/* Whether the phase is running and every resource running and healthy;
 * when not, why (into why). */
bool admin_ready(nr_admin *a, char *why, size_t len);

/* The /status document (JSON text to free()) with the newest history_max
 * samples of each resource's history (0: no "history"); NULL when memory
 * ran out. */
char *admin_status_json(nr_admin *a, uint32_t history_max);

/* One pool's statistics as /status shows them. NULL when memory ran out. */
json_t *admin_pool_json(const nr_pool_stats *s);

/* Wall-clock milliseconds since the epoch for a monotonic time. */
int64_t admin_wall_ms(const nr_admin *a, int64_t mono_ns);

/* ---- tenants (admin_tenants.c) ------------------------------------------------------ */

#define ADMIN_TOP_TENANTS 10 /* tenants of a partitioned resource shown one by one */

typedef struct admin_tenant {
    char id[NR_SCOPE_ID_MAX];
    nr_pool_stats st;
} admin_tenant;

/* The busiest tenants of one resource, best first, and the others summed.
 * Start from a zeroed one. */
typedef struct admin_tenants {
    admin_tenant top[ADMIN_TOP_TENANTS];
    size_t ntop;
    uint64_t others;    /* tenants not in top */
    nr_pool_stats rest; /* their statistics, summed (nr_pool_stats_add) */
} admin_tenants;

/* Whether a tenant with x ranks before one with y: more in use first, then
 * more acquires; on a tie neither does (the one seen first stays first). */
bool admin_tenant_before(const nr_pool_stats *x, const nr_pool_stats *y);

/* Rank one more tenant in: into top (the one it pushes out goes to rest) or
 * into rest. */
void admin_tenants_add(admin_tenants *t, const char *tenant, const nr_pool_stats *st);

/* Set "tenants" and "tenants_other" of the resource object o for the
 * tenant-partitioned resource id (docs/admin.md). Calls the manager: no
 * admin lock may be held. Nothing is set when the manager cannot walk them. */
void admin_tenants_json(nr_admin *a, const char *id, json_t *o);

/* ---- actions (admin_actions.c) ----------------------------------------------- */

/* Run the action named by path ("/actions/resize"...) with the request's
 * query arguments (looked up with arg) and the Authorization header value
 * (NULL when absent). Fills *status and a JSON body to free(). */
void admin_action(nr_admin *a, const char *path, const char *authorization,
                  const char *(*arg)(void *cls, const char *key), void *cls, unsigned *status,
                  char **body);

/* ---- http (admin_http.c) and its front (admin_front.c) -------------------------------- */

struct MHD_Daemon;
typedef struct admin_front admin_front;
typedef struct front_conn front_conn;

/* Listen on the options' address (sets a->port). NR_EINVAL, NR_EUNAVAIL. */
int front_open(nr_admin *a, admin_front **out, nr_error *err);
/* Start accepting, handing connections to d. */
int front_start(admin_front *f, struct MHD_Daemon *d, nr_error *err);
/* MHD's notices (on MHD's thread). */
front_conn *front_conn_started(admin_front *f, int fd);
void front_conn_closed(admin_front *f, front_conn *k);
void front_request_begin(admin_front *f, front_conn *k);
void front_request_end(admin_front *f, front_conn *k);
/* Stop accepting and close idle connections; then stop the thread; free. */
void front_drain(admin_front *f);
void front_stop(admin_front *f);
void front_free(admin_front *f);

int admin_http_start(nr_admin *a, nr_error *err);
void admin_http_stop(nr_admin *a);

/* ---- the page (generated from status_page.html) ---------------------------------- */

extern const char admin_page_html[];
extern const unsigned long admin_page_html_len;

#endif
