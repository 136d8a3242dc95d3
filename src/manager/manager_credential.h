/*
 * manager_credential.h - what the credential refresh hook
 * (src/hooks/builtin_credential.c) asks of the manager: a resource's
 * credential as it stands, and "fetch it again now".
 *
 * Thread safety: any thread, with no library lock held (a hook's thread);
 * both may run on many threads at once.
 */
#ifndef NR_MANAGER_CREDENTIAL_H
#define NR_MANAGER_CREDENTIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "nebula/events.h"
#include "nebula/manager.h"

#define NR__CRED_REF_TEXT 128 /* a ref as messages show it, cut with "..." */

typedef struct nr__cred_info {
    bool has;           /* the resource names a credential */
    int64_t expires_ms; /* when the secret it holds stops being valid (wall-clock ms); 0: never */
    uint64_t attempts;  /* refreshes tried so far: give it to nr__credential_refresh */
    char ref[NR__CRED_REF_TEXT];
} nr__cred_info;

/* id's credential. NR_ENOTFOUND (no such resource in m). */
int nr__credential_info(nr_manager *m, const char *id, nr__cred_info *out, nr_error *err);

/*
 * Fetch id's credential again, unless a refresh was tried since `attempts`
 * (from nr__credential_info): then nothing is fetched and that refresh's
 * outcome comes back. The new secret, and its expiry, goes to the resource
 * and all its pools for their next creates; instances made with the old one
 * stay (unlike nr_manager_rotate_credential): a refreshed token does not
 * end the connections it opened. One refresh per resource at a time: a
 * second caller waits for the first (the entry's refresh_mu, held around the
 * fetch and the hand-over only) and then gets its outcome. *fetched (may be
 * NULL) tells whether this call fetched. Errors: NR_ENOTFOUND (no such
 * resource, or it has no credential), else those of nr__credential_fetch;
 * the old secret stays.
 */
int nr__credential_refresh(nr_manager *m, const char *id, uint64_t attempts, bool *fetched,
                           nr_error *err);

/* The bus the manager publishes on (its options' events; may be NULL). */
nr_event_bus *nr__manager_events(const nr_manager *m);

#endif
