/*
 * status.h - what the HTTP endpoints show about a running manager: its
 * resources (from the manager), their dependency graph (from the program,
 * which registered them), recent events (from an event bus subscription
 * kept in a small ring), readiness, and the Prometheus metrics.
 *
 * `run` and `demo` both fill a cli_status and hand it to the HTTP server
 * (http_server.h); status_json.c renders it as the /status document and
 * status_page.c holds the HTML page that draws it.
 *
 * Thread safety: the fields below are set before the HTTP server starts
 * and not changed afterwards, except phase and reason, which any thread
 * changes with cli_status_set_phase. The event ring runs its own thread.
 */
#ifndef NR_CLI_STATUS_H
#define NR_CLI_STATUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/events.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"

typedef enum cli_phase {
    CLI_PHASE_STARTING = 0,
    CLI_PHASE_RUNNING,
    CLI_PHASE_SHUTTING_DOWN,
    CLI_PHASE_STOPPED,
} cli_phase;

const char *cli_phase_name(cli_phase p);

/* What the status shows of one resource besides what the manager tells. */
typedef struct cli_status_res {
    const char *id;
    const char *driver;
    const char *const *deps;
    size_t ndeps;
    const char *scope; /* scope text */
    bool tenant_partition;
} cli_status_res;

#define CLI_RING_EVENTS 40

/* Recent events, kept by a thread that reads a subscription. Acquired and
 * released events are only counted (there are too many to keep). */
typedef struct cli_event_ring {
    nr_event_sub *sub;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    pthread_mutex_t mu;
    nr_event events[CLI_RING_EVENTS]; /* [mu] */
    size_t next, count;               /* [mu] */
    uint64_t per_type[16];            /* [mu] by nr_event_type */
    uint64_t missed;                  /* [mu] */
} cli_event_ring;

/* Subscribe to bus and start the reader thread. NR_OK or the bus's code. */
int cli_event_ring_start(cli_event_ring *ring, nr_event_bus *bus, nr_error *err);

/* Stop the thread and unsubscribe (before the bus is destroyed). */
void cli_event_ring_stop(cli_event_ring *ring);

typedef struct cli_status {
    const char *mode; /* "run", "demo" */
    nr_manager *m;
    nr_metrics *metrics;    /* may be NULL: /metrics answers 503 */
    cli_event_ring *events; /* may be NULL */
    const cli_status_res *res;
    size_t nres;
    int64_t started_ns;
    _Atomic int phase;  /* cli_phase */
    pthread_mutex_t mu; /* guards note */
    char note[160];     /* [mu] a line the page shows (the demo's progress) */
    /* optional: add fields to the /status document (a json_t object) */
    void (*extra)(void *ud, void *json_object);
    void *extra_ud;
} cli_status;

void cli_status_init(cli_status *st, const char *mode, nr_manager *m, nr_metrics *metrics,
                     cli_event_ring *events, const cli_status_res *res, size_t nres);
void cli_status_destroy(cli_status *st);

void cli_status_set_phase(cli_status *st, cli_phase p);
void cli_status_set_note(cli_status *st, const char *note);

/* Whether every resource is running and healthy; when not, why (into why). */
bool cli_status_ready(cli_status *st, char *why, size_t len);

/* The /status document: a JSON text the caller frees with free(). NULL when
 * memory ran out. */
char *cli_status_json(cli_status *st);

/* The status page (a self-contained HTML document). */
extern const char cli_status_page[];

#endif
