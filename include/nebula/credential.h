/*
 * nebula/credential.h - where secrets come from.
 *
 * A resource names its secret by reference (e.g. "orders-db/password"); the
 * manager asks the provider for the current value when the resource starts,
 * on nr_manager_rotate_credential and when the credential refresh hook
 * (nebula/hooks_builtin.h) finds it about to expire. The value goes to the
 * driver's create() by reference, inside an nr_secret, and nowhere else:
 * never into an error, log, event, statistic or printed config.
 *
 * Expiry. A provider whose values stop being valid (a token, a leased
 * password) says when through `expiry`; the manager asks it right after each
 * fetch and keeps the answer with the secret it fetched. A provider without
 * `expiry` (NULL, as in the positional initializer {fetch, ud}) hands out
 * values that never expire.
 *
 * Thread safety: fetch and expiry may be called from any thread, also
 * concurrently, always with no library lock held.
 */
#ifndef NEBULA_CREDENTIAL_H
#define NEBULA_CREDENTIAL_H

#include <stdint.h>

#include "nebula/error.h"
#include "nebula/secret.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_credential_provider {
    /* Store a new secret (the caller frees it) for ref in *out. On failure
     * return NR_ECRED (or NR_ENOTFOUND for an unknown ref) with a message
     * that names ref and never the value. */
    int (*fetch)(void *ud, const char *ref, nr_secret **out, nr_error *err);
    void *ud;
    /* Optional; NULL: values never expire. Store in *expires_ms when the
     * value fetch returns now for ref stops being valid: wall-clock
     * milliseconds since the epoch (nr_wall_ms), 0 for never. Called right
     * after a fetch of ref, so "now" is the value just fetched. On failure
     * return NR_ECRED (or NR_ENOTFOUND) with a message naming ref; the
     * manager then treats the fetch as failed. */
    int (*expiry)(void *ud, const char *ref, int64_t *expires_ms, nr_error *err);
} nr_credential_provider;

#ifdef __cplusplus
}
#endif
#endif
