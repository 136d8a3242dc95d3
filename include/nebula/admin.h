/*
 * nebula/admin.h - the admin server: what an operator sees and does, for any
 * manager in any program (library nebula-resource-admin, pkg-config
 * nebula-resource-admin, CMake nebula::admin).
 *
 * One call serves, on an address the program chooses:
 *
 *   GET  /                 the status page (one self-contained HTML file)
 *   GET  /status           the status document (JSON, docs/admin.md), with
 *                          each resource's recent history; ?history=N keeps
 *                          the newest N samples of it (0: none)
 *   GET  /metrics          Prometheus text exposition 0.0.4 (needs a registry)
 *   GET  /healthz          200 "ok" while the server runs
 *   GET  /readyz           200 when the phase is running and every resource is
 *                          running and healthy, else 503 with the reason
 *   POST /actions/resize   ?id=ID&max_size=N[&min_idle=N]   nr_manager_resize
 *   POST /actions/suspend  ?id=ID                            nr_manager_suspend
 *   POST /actions/resume   ?id=ID                            nr_manager_resume
 *   POST /actions/evict    ?id=ID                            nr_manager_evict_all
 *   POST /actions/release  ?id=ID                            nr_manager_release_quarantine
 *   POST /actions/reload                                     opts.reload (the program's own,
 *                                                            e.g. re-reading its config file)
 *
 * GET and HEAD never change anything. Actions are POST only and need the
 * admin token in an "Authorization: Bearer TOKEN" header; the token is
 * fetched from the credential provider (opts.credentials, opts.token_ref) at
 * each action, so rotating it needs no restart. Without a token ref, actions
 * are refused (403). An action answers JSON: {"ok":true,...} or
 * {"ok":false,"error":"NR_...","message":"..."} with 400, 401, 403, 404, 405
 * or 409. Other paths give 404, other methods 405.
 *
 * Requests are bounded: a request line that is not HTTP gets 400 and the
 * connection is closed; a request (headers and body) must arrive within
 * request_timeout_ms of the connection's start or of the previous response,
 * or the connection is closed; at most max_connections at once.
 *
 * Ownership: the manager, registry, bus and provider are borrowed and must
 * outlive the server (stop it before destroying them). Strings in the options
 * are copied.
 *
 * Thread safety: nr_admin_start and nr_admin_stop from one thread; the other
 * calls from any thread while the server runs. The server reads the manager
 * from its own threads (libmicrohttpd's, an event reader, a sampler), never
 * under a library lock of the caller's.
 */
#ifndef NEBULA_ADMIN_H
#define NEBULA_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/credential.h"
#include "nebula/error.h"
#include "nebula/events.h"
#include "nebula/fleet.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_admin nr_admin;

/* What the program is doing; /readyz is 503 in every phase but running. */
typedef enum nr_admin_phase {
    NR_ADMIN_STARTING = 0,
    NR_ADMIN_RUNNING,
    NR_ADMIN_SHUTTING_DOWN,
    NR_ADMIN_STOPPED,
} nr_admin_phase;

NR_API const char *nr_admin_phase_name(nr_admin_phase p);

/* Adds fields to the /status document: obj is a jansson json_t object. Runs
 * on a server thread with no library lock held. */
typedef void (*nr_admin_status_fn)(void *ud, void *obj);

typedef struct nr_admin_options {
    size_t size;          /* sizeof(nr_admin_options) as the caller was built: the caller sets it
                             (NR_ADMIN_OPTIONS_INIT, docs/ABI.md) */
    const char *listen;   /* IPv4 or IPv6 literal; default "127.0.0.1" */
    int port;             /* 0..65535; default 0: the kernel picks (nr_admin_port) */
    const char *program;  /* shown on the page and in /status; default "nebula-resource" */
    const char *mode;     /* a word for what the program does ("run"); default "embedded" */
    nr_admin_phase phase; /* the phase at start; default NR_ADMIN_RUNNING */
    nr_metrics *metrics;  /* borrowed; NULL: /metrics answers 503 */
    nr_event_bus *events; /* borrowed; NULL: no recent events on the page */
    const nr_credential_provider *credentials; /* borrowed; fetches the admin token */
    const char *token_ref;           /* the token's ref; NULL: admin actions are refused */
    int64_t request_timeout_ms;      /* whole request, see above; default 10000; 100..600000 */
    uint32_t max_connections;        /* default 64; 1..10000 */
    int64_t sample_interval_ms;      /* the page's history: one sample per interval; default 1000;
                                        100..60000 */
    uint32_t history;                /* samples kept per resource; default 300; 2..3600. At most
                                        256 resources have one (/status counts the others). */
    nr_admin_status_fn status_extra; /* optional */
    void *status_extra_ud;
    /* Optional: what POST /actions/reload does (NULL: that action answers 404). Runs on a
     * server thread with no library lock held; writes what it did (lines of text) into
     * summary (len bytes, NUL-terminated) and returns NR_OK or an NR_E* code with err
     * filled. The answer carries the summary either way. */
    int (*reload)(void *ud, char *summary, size_t len, nr_error *err);
    void *reload_ud;
    /* Optional: resource id's fleet budget (nebula/fleet.h), for /status's "fleet" object of
     * that resource. The admin library does not link the fleet library: the program that
     * made the fleet budgets answers, filling *stats (its size set by the caller) with
     * nr_fleet_get_stats and *mode with nr_fleet_mode_name of its on_redis_down (a static
     * string). Returns false when id has none. Runs on a server thread with no library lock
     * held, while the answer is built. */
    bool (*fleet_stats)(void *ud, const char *id, nr_fleet_stats *stats, const char **mode);
    void *fleet_stats_ud;
} nr_admin_options;

/* Initialisers that set size: `nr_admin_options o = NR_ADMIN_OPTIONS_INIT;`, or with fields:
 * `nr_admin_options o = NR_ADMIN_OPTIONS(.field = value, ...);` (C only: C++ sets o.size). */
#define NR_ADMIN_OPTIONS(...)                                                                      \
    {                                                                                              \
        .size = sizeof(nr_admin_options), __VA_ARGS__                                              \
    }
#define NR_ADMIN_OPTIONS_INIT NR_ADMIN_OPTIONS()

NR_API void nr_admin_options_default(nr_admin_options *o);

/*
 * Start serving m. NR_EINVAL naming the bad option; NR_EUNAVAIL when it
 * cannot listen (the port is taken: the message says so); NR_ENOMEM;
 * NR_EINIT (threads). On failure nothing runs and *out is NULL.
 */
NR_API int nr_admin_start(nr_admin **out, nr_manager *m, const nr_admin_options *opts,
                          nr_error *err);

/* The port it listens on (the one the kernel picked when opts.port was 0). */
NR_API int nr_admin_port(const nr_admin *a);

NR_API void nr_admin_set_phase(nr_admin *a, nr_admin_phase p);

/* A line the page shows under the graph (e.g. a program's progress); copied,
 * cut at 159 bytes on a UTF-8 boundary. NULL clears it. */
NR_API void nr_admin_set_note(nr_admin *a, const char *note);

/*
 * Stop gracefully: stop listening, let requests in progress finish (each is
 * bounded by request_timeout_ms), stop the server's threads, free. NULL is
 * a no-op.
 */
NR_API void nr_admin_stop(nr_admin *a);

#ifdef __cplusplus
}
#endif
#endif
