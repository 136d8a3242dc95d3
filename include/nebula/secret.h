/*
 * nebula/secret.h - buffers for secrets (passwords, tokens, keys).
 *
 * A secret is copied into a buffer the library owns; the buffer is zeroed
 * (explicit_bzero) before it is freed and is never printed, logged, put in
 * an error, event or metric label. Code that needs the bytes (a driver that
 * authenticates) reads them with nr_secret_reveal() and must not copy them
 * anywhere that outlives the call.
 *
 * Ownership: nr_secret_create / nr_secret_dup give one secret to the caller,
 * freed by nr_secret_free. Secrets are immutable once created.
 *
 * Thread safety: any thread; a secret may be read by many threads at once.
 */
#ifndef NEBULA_SECRET_H
#define NEBULA_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "nebula/error.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nr_secret nr_secret;

/* What every printer writes in place of a secret value. */
#define NR_SECRET_REDACTED "<redacted>"

/* Copy len bytes (may contain NULs). NR_ENOMEM or NR_EINVAL (data NULL with len > 0). */
NR_API int nr_secret_create(nr_secret **out, const void *data, size_t len, nr_error *err);

/* Copy a NUL-terminated string. */
NR_API int nr_secret_from_str(nr_secret **out, const char *str, nr_error *err);

/* A new secret with the same bytes; src NULL gives *out NULL and NR_OK. */
NR_API int nr_secret_dup(nr_secret **out, const nr_secret *src, nr_error *err);

/* Zero and free. NULL is a no-op. */
NR_API void nr_secret_free(nr_secret *s);

/* The bytes, NUL-terminated (a NUL is kept after them); *len_out (may be
 * NULL) gets the length. Valid until nr_secret_free. */
NR_API const char *nr_secret_reveal(const nr_secret *s, size_t *len_out);

NR_API size_t nr_secret_len(const nr_secret *s);

/* Constant-time comparison of contents (NULL equals only NULL). */
NR_API bool nr_secret_equal(const nr_secret *a, const nr_secret *b);

#ifdef __cplusplus
}
#endif
#endif
