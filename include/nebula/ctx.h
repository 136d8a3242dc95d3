/*
 * nebula/ctx.h - what a caller carries into an acquire: scope, deadline,
 * cancel token, trace ids and a caller tag. Its own header so that the
 * observability headers can name it without the pool's.
 *
 * Ownership: every pointer is borrowed for the duration of the call.
 * Thread safety: a value type; one nr_ctx may be read by many threads.
 */
#ifndef NEBULA_CTX_H
#define NEBULA_CTX_H

#include <stddef.h>
#include <stdint.h>

#include "nebula/cancel.h"
#include "nebula/scope.h"
#include "nebula/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an acquire carries. All fields optional; a NULL ctx means defaults. */
typedef struct nr_ctx {
    size_t size; /* sizeof(nr_ctx) as the caller was built: the caller sets it (NR_CTX_INIT,
                    docs/ABI.md) */
    nr_deadline deadline;    /* unset (0) = now + acquire_timeout_ms */
    const nr_cancel *cancel; /* wakes the wait with NR_ECANCELED */
    const nr_scope *scope;   /* the caller's scope; must be inside the pool's (NR_ESCOPE) */
    uint64_t trace_id_hi, trace_id_lo, span_id; /* carried to traces */
    const char *caller;                         /* free-form tag for traces */
} nr_ctx;

/* Initialisers that set size: `nr_ctx o = NR_CTX_INIT;`, or with fields:
 * `nr_ctx o = NR_CTX(.field = value, ...);` (C only: C++ sets o.size). */
#define NR_CTX(...)                                                                                \
    {                                                                                              \
        .size = sizeof(nr_ctx), __VA_ARGS__                                                        \
    }
#define NR_CTX_INIT NR_CTX()

#ifdef __cplusplus
}
#endif
#endif
