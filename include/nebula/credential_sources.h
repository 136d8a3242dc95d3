/*
 * nebula/credential_sources.h - ready-made credential providers, and the
 * interface for a secret store whose secrets expire.
 *
 *   - environment: ref "orders-db/password" with prefix "APP_" is read from
 *     APP_ORDERS_DB_PASSWORD (letters upper-cased, every other byte but
 *     digits turned into '_');
 *   - directory: ref "orders-db/password" is the file DIR/orders-db/password
 *     (as Kubernetes and Docker mount secrets); refs with an empty, "." or
 *     ".." part, or starting with '/', are refused;
 *   - table: each ref named with its environment variable or its file (the
 *     "credentials" section of a nebula-resource config file);
 *   - secret store: any store that hands out secrets with an expiry
 *     (Vault-style leases). A cache in front of it is the provider: it keeps
 *     each secret until it is due (within refresh_before_ms of its expiry),
 *     and nr_secret_cache_refresh fetches the ones due again and rotates them
 *     into a manager.
 *
 * Expiry (nr_credential_provider.expiry): the environment, directory and
 * table providers have none (their values never expire: a changed variable
 * or file is picked up by the next fetch, e.g. on rotation); the secret
 * cache's says when the cached value expires, as the store said.
 *
 * A file is read whole at each fetch (at most 64 KiB); one trailing "\n" or
 * "\r\n" is dropped. Values are read only by fetch; errors name the ref and
 * where it comes from (the variable, the file), never the value.
 *
 * Ownership: a provider returned here borrows what it was made from (the
 * prefix, the directory, the table, the cache), which must outlive it.
 *
 * Thread safety: every provider's fetch may be called from any thread, also
 * concurrently. Create and destroy from one thread.
 */
#ifndef NEBULA_CREDENTIAL_SOURCES_H
#define NEBULA_CREDENTIAL_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#include "nebula/credential.h"
#include "nebula/error.h"
#include "nebula/manager.h"
#include "nebula/secret.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NR_CREDENTIAL_FILE_MAX (64 * 1024)

/* From the environment; prefix (may be NULL or "") is borrowed. */
NR_API nr_credential_provider nr_credential_env_provider(const char *prefix);

/* The environment variable a ref is read from, into buf. NR_EINVAL when
 * the name does not fit (len) or ref is empty. */
NR_API int nr_credential_env_name(const char *prefix, const char *ref, char *buf, size_t len,
                                  nr_error *err);

/* From files under dir (borrowed). */
NR_API nr_credential_provider nr_credential_dir_provider(const char *dir);

/* Read one secret from a file (the rules above); what names it in errors
 * is ref. NR_ECRED naming the file and why. */
NR_API int nr_credential_read_file(const char *ref, const char *path, nr_secret **out,
                                   nr_error *err);

/* ---- a table of refs -------------------------------------------------------------- */

typedef struct nr_credential_source {
    const char *ref;  /* the name resources use */
    const char *env;  /* the environment variable holding it, or NULL */
    const char *file; /* the file holding it, or NULL; exactly one of env and file */
} nr_credential_source;

typedef struct nr_credential_table nr_credential_table;

/* Copy n sources. NR_EINVAL naming the entry (no ref, a ref twice, not
 * exactly one of env and file), NR_ENOMEM. */
NR_API int nr_credential_table_create(nr_credential_table **out, const nr_credential_source *src,
                                      size_t n, nr_error *err);

NR_API nr_credential_provider nr_credential_table_provider(nr_credential_table *t);

/* Whether ref's source is there now (the variable set, the file readable),
 * without reading the value. NR_ENOTFOUND (no such ref), NR_ECRED. */
NR_API int nr_credential_table_check(const nr_credential_table *t, const char *ref, nr_error *err);

NR_API void nr_credential_table_destroy(nr_credential_table *t);

/* ---- a secret store with expiry ------------------------------------------------------ */

typedef struct nr_secret_store {
    /* Store ref's current value in *out (the caller frees it) and when it
     * expires in *expires_ms (wall-clock milliseconds since the epoch; 0:
     * never). Errors as for nr_credential_provider.fetch. Called with no
     * library lock held, from any thread. */
    int (*fetch)(void *ud, const char *ref, nr_secret **out, int64_t *expires_ms, nr_error *err);
    void *ud;
} nr_secret_store;

typedef struct nr_secret_cache nr_secret_cache;

/* A cache over store (borrowed). A secret is refreshed by
 * nr_secret_cache_refresh once it is within refresh_before_ms of its expiry
 * (0..86400000; 60000 is a good start). NR_EINVAL, NR_ENOMEM. */
NR_API int nr_secret_cache_create(nr_secret_cache **out, const nr_secret_store *store,
                                  int64_t refresh_before_ms, nr_error *err);

/* The provider: the cached secret while it is not due; once due, a fetch
 * from the store, falling back to the cached secret while it has not
 * expired when the store fails; an expired secret is never handed out. Its
 * expiry callback gives the cached secret's expiry (a ref not cached yet is
 * fetched first). */
NR_API nr_credential_provider nr_secret_cache_provider(nr_secret_cache *c);

/*
 * Fetch again every cached ref within refresh_before_ms of its expiry and,
 * when m is not NULL, rotate it into m (nr_manager_rotate_credential: new
 * instances use the new value, old ones retire when given back). Call it
 * periodically, e.g. when nr_secret_cache_next_refresh_ms says. *rotated
 * (may be NULL) gets how many refs were fetched again. Every due ref is
 * tried; the first failure is returned (a ref no resource uses is not a
 * failure).
 */
NR_API int nr_secret_cache_refresh(nr_secret_cache *c, nr_manager *m, uint32_t *rotated,
                                   nr_error *err);

/* When the next refresh is due (wall-clock ms since the epoch); 0 when no
 * cached secret expires. */
NR_API int64_t nr_secret_cache_next_refresh_ms(nr_secret_cache *c);

NR_API void nr_secret_cache_destroy(nr_secret_cache *c);

#ifdef __cplusplus
}
#endif
#endif
