/*
 * nebula/credential.h - where secrets come from.
 *
 * A resource names its secret by reference (e.g. "orders-db/password"); the
 * manager asks the provider for the current value when the resource starts
 * and again on nr_manager_rotate_credential. The value goes to the driver's
 * create() by reference, inside an nr_secret, and nowhere else: never into
 * an error, log, event, statistic or printed config.
 *
 * Thread safety: fetch may be called from any thread, also concurrently,
 * always with no library lock held.
 */
#ifndef NEBULA_CREDENTIAL_H
#define NEBULA_CREDENTIAL_H

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
} nr_credential_provider;

#ifdef __cplusplus
}
#endif
#endif
