/*
 * nebula/cancel.h - cancel tokens with parent -> child propagation.
 *
 * A token is set once and stays set. Setting a parent sets every child it
 * has at that moment (and their children); a child created under a parent
 * that is already set starts set. Every blocked library call that was given
 * a token (pool acquire, for one) wakes up and returns NR_ECANCELED.
 *
 * Ownership: nr_cancel_create gives the caller one token, freed by
 * nr_cancel_destroy. A parent may be destroyed before its children: the
 * children are detached and keep their state. A token must not be destroyed
 * while a call that was given it is still running.
 *
 * Thread safety: any thread; nr_cancel_trigger may race with waiters.
 */
#ifndef NEBULA_CANCEL_H
#define NEBULA_CANCEL_H

#include <stdbool.h>

#include "nebula/error.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_cancel nr_cancel;

/* Create a token; parent may be NULL. Returns NR_OK, NR_ENOMEM, or NR_EINVAL
 * when out is NULL. */
NR_API int nr_cancel_create(nr_cancel **out, nr_cancel *parent, nr_error *err);

/* Detach from the parent and children and free. NULL is a no-op. */
NR_API void nr_cancel_destroy(nr_cancel *token);

/* Set the token and every descendant; wakes every waiter. Idempotent. */
NR_API void nr_cancel_trigger(nr_cancel *token);

/* Whether the token is set (acquire ordering). NULL is never set. */
NR_API bool nr_cancel_is_set(const nr_cancel *token);

#ifdef __cplusplus
}
#endif
#endif
