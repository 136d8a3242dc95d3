/*
 * nebula/resource_type.h - the interface a driver implements.
 *
 * A driver fills one static nr_resource_type. The library calls it; the
 * driver never calls the pool. Every callback runs with no library lock held,
 * on whichever thread needs it (an acquirer, a releaser, or the thread that
 * runs maintenance), possibly on many threads at once for different
 * instances. One instance is only ever passed to one callback at a time.
 *
 * Errors: a callback returns NR_OK or an NR_E* code and fills err (never
 * NULL when the library calls) with a message that names what failed and
 * never contains a secret. The backend's own code goes into err->driver_code.
 */
#ifndef NEBULA_RESOURCE_TYPE_H
#define NEBULA_RESOURCE_TYPE_H

#include "nebula/cancel.h"
#include "nebula/config.h"
#include "nebula/error.h"
#include "nebula/health.h"
#include "nebula/scope.h"
#include "nebula/secret.h"
#include "nebula/time.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What create() is given besides the config. Valid during the call only. */
typedef struct nr_create_ctx {
    const char *resource_id;     /* the pool's id, for error messages */
    const nr_scope *scope;       /* where the pool lives (NULL = global) */
    nr_deadline deadline;        /* create must give up by then (NR_ETIMEDOUT) */
    const nr_cancel *cancel;     /* may be NULL; poll nr_cancel_is_set() */
    const nr_secret *credential; /* by reference; NULL when none configured */
} nr_create_ctx;

#define NR_RESOURCE_TYPE_VERSION 1

typedef struct nr_resource_type {
    int version;                           /* NR_RESOURCE_TYPE_VERSION */
    const char *name;                      /* "sqlite", "postgres", ... */
    const nr_config_schema *config_schema; /* describes the config struct create() gets */

    /* Required. Build one instance from config into *handle. */
    int (*create)(void **handle, const void *config, const nr_create_ctx *ctx, void *type_ud,
                  nr_error *err);

    /* Required. Release everything the instance holds. Never fails. */
    void (*destroy)(void *handle, void *type_ud);

    /* Optional. Cheap check before an instance is handed out; an error
     * makes the pool destroy it and try another. */
    int (*validate)(void *handle, void *type_ud, nr_error *err);

    /* Optional. Reset session state before the instance goes back to the
     * pool; an error makes the pool destroy it. */
    int (*recycle)(void *handle, void *type_ud, nr_error *err);

    /* Optional. Fill report->state and report->reason; finish by deadline.
     * The return value is NR_OK when the check ran (whatever it found). */
    int (*health_check)(void *handle, void *type_ud, nr_deadline deadline, nr_health_report *report,
                        nr_error *err);
} nr_resource_type;

/* Check that a type is usable (version, name, create, destroy, schema).
 * NR_EINVAL naming the missing part. */
NR_API int nr_resource_type_check(const nr_resource_type *type, nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
