/*
 * nebula/hooks_builtin.h - the hooks that come with the library
 * (docs/hooks.md): audit, metrics, slow acquire and credential refresh.
 *
 * Each one fills an nr_hook_def that the program adds with nr_hooks_add (and
 * may change first: its priority, operations and filters). The fill writes
 * the def up to its size, as a _default function does (docs/ABI.md): set it
 * first (`nr_hook_def def = NR_HOOK_DEF_INIT;`); a zeroed def gets the whole
 * struct and its size. The options structs are sized too: each create
 * refuses a size of 0 or one larger than this library's (NR_EINVAL naming
 * the struct) and reads the fields an older, smaller struct lacks as 0. Each is also
 * available from the config file of `nebula-resource` under "hooks".
 *
 * Ownership: the objects made here (nr_audit, nr_hook_metrics,
 * nr_slow_acquire, nr_credential_refresh) are the ud of their hook; remove
 * the hook (nr_hooks_remove) before destroying the object.
 *
 * Thread safety: the callbacks run on many threads at once, as hooks do;
 * the stats and count functions may be called from any thread; create and
 * destroy of one object belong to one thread.
 */
#ifndef NEBULA_HOOKS_BUILTIN_H
#define NEBULA_HOOKS_BUILTIN_H

#include <stddef.h>
#include <stdint.h>

#include "nebula/hooks.h"
#include "nebula/metrics.h"
#include "nebula/time.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct nr_manager;

/* ---- audit ------------------------------------------------------------------------- */

/*
 * One JSON line per operation, written by a thread of its own, with these
 * keys in this order:
 *   {"ts_ms":1764094000123,"resource":"orders-db","scope":"tenant:acme",
 *    "op":"acquire","outcome":"ok","code":0,"error":null,"duration_ns":81234,
 *    "wait_ns":1200,"caller":"checkout","instance":7}
 * ts_ms is the wall clock when the operation ended; scope is the caller's
 * for an acquire that carries one, else the pool's (nr_scope_format text);
 * op is nr_hook_op_name; outcome "ok" or the error's name (nr_err_name, e.g.
 * "NR_ETIMEDOUT"), code the NR_E* code and error its message (null on
 * success); wait_ns is there for acquires only; "scope", "caller" and
 * "instance" are null when there is none. A refused operation gets no after
 * call, so no line: its refusal is an event. Never a secret: the fields
 * come from ids, scopes, caller tags and error messages, which never hold
 * one. Text that is not UTF-8 is written as U+FFFD.
 * The hook's after callback only formats the line and puts it in a bounded
 * queue; when the queue is full the line is dropped and counted, the
 * operation never waits.
 */
typedef struct nr_audit_options {
    size_t size;      /* sizeof(nr_audit_options) as the caller was built: the caller sets it
                         (NR_AUDIT_OPTIONS_INIT, docs/ABI.md) */
    const char *path; /* append the lines to this file (created 0600 if missing); NULL: sink */
    void (*sink)(void *ud, const char *line, size_t len); /* or give each line (no '\n') to
                                                             this, on the audit thread */
    void *sink_ud;
    size_t queue_lines; /* lines queued at most; default (and 0) 4096; 1..1048576 */
} nr_audit_options;

typedef struct nr_audit nr_audit;

typedef struct nr_audit_stats {
    size_t size; /* sizeof(nr_audit_stats) as the caller was built: the caller sets it
                    (NR_AUDIT_STATS_INIT, docs/ABI.md) */
    uint64_t queued, written, dropped, write_errors;
} nr_audit_stats;

/* Initialisers that set size: `nr_audit_options o = NR_AUDIT_OPTIONS_INIT;`, or with fields:
 * `nr_audit_options o = NR_AUDIT_OPTIONS(.field = value, ...);` (C only: C++ writes
 * nebula::sized<nr_audit_options>()). */
#define NR_AUDIT_OPTIONS(...)                                                                      \
    {                                                                                              \
        .size = sizeof(nr_audit_options), __VA_ARGS__                                              \
    }
#define NR_AUDIT_OPTIONS_INIT NR_AUDIT_OPTIONS()
#define NR_AUDIT_STATS(...)                                                                        \
    {                                                                                              \
        .size = sizeof(nr_audit_stats), __VA_ARGS__                                                \
    }
#define NR_AUDIT_STATS_INIT NR_AUDIT_STATS()

NR_API void nr_audit_options_default(nr_audit_options *o);

/* Open the file (or take the sink) and start the writer thread. NR_EINVAL
 * (opts' size refused, neither or both of path and sink, a bad queue size), NR_EINIT (the file
 * cannot be opened: err names it and why), NR_ENOMEM. */
NR_API int nr_audit_create(nr_audit **out, const nr_audit_options *opts, nr_error *err);

/* Fill def: name "audit", every operation, an after callback, ud = a. */
NR_API void nr_audit_hook(nr_audit *a, nr_hook_def *def);

/* The counters, written into out up to out->size (docs/ABI.md). NR_OK;
 * NR_EINVAL when out is NULL or out->size is 0 or larger than this
 * library's nr_audit_stats (nothing is written). a NULL: zeros. */
NR_API int nr_audit_stats_get(nr_audit *a, nr_audit_stats *out);

/* Wait until every line queued so far is written (or failed to be: see
 * write_errors), or the deadline passes (NR_ETIMEDOUT); an unset deadline
 * waits as long as it takes. Any thread, not from the sink. */
NR_API int nr_audit_flush(nr_audit *a, nr_deadline deadline, nr_error *err);

/* Write what is queued, stop the thread, close the file. The hook must have
 * been removed. NULL is a no-op. */
NR_API void nr_audit_destroy(nr_audit *a);

/* ---- metrics ----------------------------------------------------------------------- */

/*
 * An after callback that records every operation into reg (borrowed, must
 * outlive the object):
 *   nr_hook_op_duration_seconds{resource,op}  histogram  each operation's duration
 *   nr_hook_ops_total{resource,op,outcome}    counter    outcome "ok" or the error name
 * The series of each (resource, op) are looked up in reg once and kept in
 * the object, so an operation records without a lock (the first 1024 pairs;
 * an operation of a pair past those looks its series up in reg, under reg's
 * lock).
 */
typedef struct nr_hook_metrics nr_hook_metrics;

/* Register the two families in reg. NR_EINVAL (out or reg NULL, metrics not
 * built), NR_EEXIST (a family of one of those names exists with other
 * labels), NR_ENOMEM. */
NR_API int nr_hook_metrics_create(nr_hook_metrics **out, nr_metrics *reg, nr_error *err);

/* Fill def: name "metrics", every operation, an after callback, ud = m. */
NR_API void nr_metrics_hook(nr_hook_metrics *m, nr_hook_def *def);

/* Free m (the hook must have been removed). The series stay in reg. NULL is
 * a no-op. */
NR_API void nr_hook_metrics_destroy(nr_hook_metrics *m);

/* ---- slow acquire ------------------------------------------------------------------ */

/*
 * An acquire that waited longer than threshold_ms, whatever its outcome,
 * is reported once, as NR_EV_SLOW_ACQUIRE (wait_ns, error_code = the
 * acquire's code, count = waiters at that moment, text = the
 * pool's state and the acquire site when known: `waited 812 ms; 4 of 4 in
 * use, 3 waiting; at handler.c:88 (serve)`), a trace line at warn level and
 * nr_slow_acquires_total{resource} when a registry is given.
 */
typedef struct nr_slow_acquire_options {
    size_t size; /* sizeof(nr_slow_acquire_options) as the caller was built: the caller sets it
                    (NR_SLOW_ACQUIRE_OPTIONS_INIT, docs/ABI.md) */
    int64_t threshold_ms; /* default 100; 1..86400000 */
    nr_event_bus *events; /* borrowed, may be NULL */
    nr_metrics *metrics;  /* borrowed, may be NULL */
} nr_slow_acquire_options;

/* Initialisers that set size: `nr_slow_acquire_options o = NR_SLOW_ACQUIRE_OPTIONS_INIT;`, or with
 * fields: `nr_slow_acquire_options o = NR_SLOW_ACQUIRE_OPTIONS(.field = value, ...);` (C only: C++
 * writes nebula::sized<nr_slow_acquire_options>()). */
#define NR_SLOW_ACQUIRE_OPTIONS(...)                                                               \
    {                                                                                              \
        .size = sizeof(nr_slow_acquire_options), __VA_ARGS__                                       \
    }
#define NR_SLOW_ACQUIRE_OPTIONS_INIT NR_SLOW_ACQUIRE_OPTIONS()

typedef struct nr_slow_acquire nr_slow_acquire;

NR_API void nr_slow_acquire_options_default(nr_slow_acquire_options *o);
/* NR_EINVAL (opts' size refused, a bad threshold_ms), NR_ENOMEM. */
NR_API int nr_slow_acquire_create(nr_slow_acquire **out, const nr_slow_acquire_options *opts,
                                  nr_error *err);
/* Fill def: name "slow-acquire", NR_HOOK_ACQUIRE, an after callback. */
NR_API void nr_slow_acquire_hook(nr_slow_acquire *s, nr_hook_def *def);
NR_API uint64_t nr_slow_acquire_count(nr_slow_acquire *s); /* acquires reported so far */
NR_API void nr_slow_acquire_destroy(nr_slow_acquire *s);

/* ---- credential refresh ------------------------------------------------------------ */

/*
 * Before each create of a resource that has a credential, look at when the
 * secret it holds expires: the manager asks the provider
 * (nr_credential_provider.expiry) right after each fetch and keeps the
 * answer. When it expires within window_ms (or has expired), fetch it again
 * and give the new one to the resource and all its pools, so that this
 * create uses it. Unlike nr_manager_rotate_credential, instances made with
 * the old secret are not retired (a connection outlives the token that
 * opened it). A failed refresh keeps the old credential while it is still
 * valid: the create goes on with it and the failure is published
 * (NR_EV_ERROR naming the resource and the ref, never the value). Once the
 * old one has expired, a failed refresh refuses the create (NR_ECRED).
 * Creates of one resource that find it due together fetch once (the others
 * wait for that fetch and take its outcome). Resources m does not know are
 * let through.
 *
 * Thread safety: the hook runs on creating threads, many at once; the
 * provider is called from there with no library lock held. Create and
 * destroy from one thread; destroy only after the hook was removed.
 */
typedef struct nr_credential_refresh_options {
    size_t size; /* sizeof(nr_credential_refresh_options) as the caller was built: the caller sets
                    it (NR_CREDENTIAL_REFRESH_OPTIONS_INIT, docs/ABI.md) */
    int64_t window_ms; /* default 60000; 0..86400000 */
} nr_credential_refresh_options;

/* Initialisers that set size: `nr_credential_refresh_options o =
 * NR_CREDENTIAL_REFRESH_OPTIONS_INIT;`, or with fields: `nr_credential_refresh_options o =
 * NR_CREDENTIAL_REFRESH_OPTIONS(.field = value, ...);` (C only: C++ writes
 * nebula::sized<nr_credential_refresh_options>()). */
#define NR_CREDENTIAL_REFRESH_OPTIONS(...)                                                         \
    {                                                                                              \
        .size = sizeof(nr_credential_refresh_options), __VA_ARGS__                                 \
    }
#define NR_CREDENTIAL_REFRESH_OPTIONS_INIT NR_CREDENTIAL_REFRESH_OPTIONS()

typedef struct nr_credential_refresh nr_credential_refresh;

NR_API void nr_credential_refresh_options_default(nr_credential_refresh_options *o);
/* m is borrowed and must outlive the object. NR_EINVAL (m NULL, opts' size
 * refused, a bad window_ms), NR_ENOMEM. */
NR_API int nr_credential_refresh_create(nr_credential_refresh **out, struct nr_manager *m,
                                        const nr_credential_refresh_options *opts, nr_error *err);
/* Fill def: name "credential-refresh", NR_HOOK_CREATE, a before callback. */
NR_API void nr_credential_refresh_hook(nr_credential_refresh *c, nr_hook_def *def);
NR_API void nr_credential_refresh_destroy(nr_credential_refresh *c);

#ifdef __cplusplus
}
#endif
#endif
