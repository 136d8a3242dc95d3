/*
 * nebula/error.h - error codes and the caller-owned error detail.
 *
 * Every fallible call returns an int: NR_OK (0) or one negative NR_E* code.
 * Codes never change meaning once released; new ones are appended.
 *
 * Detail goes into a caller-owned nr_error passed last, which may be NULL.
 * Nothing is kept in a shared "last error": many threads may use one pool.
 * A fallible call that fails fills the whole struct (code, message, resource
 * id, cause); one that succeeds leaves it untouched.
 *
 * Messages never contain secret values: callers of nr_error_set must not
 * format a secret into them, and the library never does.
 *
 * Thread safety: every function here may be called from any thread; an
 * nr_error must not be written by two threads at once.
 */
#ifndef NEBULA_ERROR_H
#define NEBULA_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, description) - written once; generates the enum,
 * nr_strerror() and nr_err_name(). */
#define NR_ERRNO_MAP(X)                                                                            \
    X(OK, 0, "success")                                                                            \
    X(ECONFIG, -1, "configuration error")                                                          \
    X(EINIT, -2, "initialization failed")                                                          \
    X(EUNAVAIL, -3, "resource unavailable")                                                        \
    X(EHEALTH, -4, "health check failed")                                                          \
    X(ECRED, -5, "credential error")                                                               \
    X(ECLEANUP, -6, "cleanup failed")                                                              \
    X(ETIMEDOUT, -7, "timed out")                                                                  \
    X(ECYCLE, -8, "circular dependency")                                                           \
    X(ESTATE, -9, "invalid state transition")                                                      \
    X(EEXHAUSTED, -10, "pool exhausted")                                                           \
    X(EDEPFAIL, -11, "dependency failed")                                                          \
    X(ECANCELED, -12, "canceled")                                                                  \
    X(ESHUTDOWN, -13, "shut down")                                                                 \
    X(ENOTFOUND, -14, "not found")                                                                 \
    X(EINVAL, -15, "invalid argument")                                                             \
    X(ENOMEM, -16, "out of memory")                                                                \
    X(EBUSY, -17, "busy: still in use")                                                            \
    X(EEXIST, -18, "already exists")                                                               \
    X(ESCOPE, -19, "scope violation")                                                              \
    X(EINTERNAL, -20, "internal error")                                                            \
    X(EPERM, -21, "not permitted")

typedef enum nr_errno {
#define NR__ERR_ENUM(name, value, text) NR_##name = value,
    NR_ERRNO_MAP(NR__ERR_ENUM)
#undef NR__ERR_ENUM
} nr_errno;

/* Lowest code in use; every code c satisfies NR_ERR_MIN <= c <= 0. */
#define NR_ERR_MIN NR_EPERM

#define NR_ERROR_MESSAGE_MAX 256
#define NR_ERROR_ID_MAX      64

/* Caller-owned error detail. Zero-initialise it or call nr_error_clear(). */
typedef struct nr_error {
    int code;                           /* NR_OK or an NR_E* code */
    int cause;                          /* NR_E* code of the underlying cause, or NR_OK */
    long driver_code;                   /* the backend's own code (e.g. SQLite's), or 0 */
    char resource_id[NR_ERROR_ID_MAX];  /* "" when no resource is involved */
    char message[NR_ERROR_MESSAGE_MAX]; /* human-readable, never holds secrets */
    int truncated;                      /* 1 when message or resource_id was cut */
} nr_error;

/* Static description of a code, e.g. "timed out"; "unknown error" otherwise. */
NR_API const char *nr_strerror(int code);

/* Symbolic name of a code, e.g. "NR_ETIMEDOUT"; "NR_E?" for unknown codes. */
NR_API const char *nr_err_name(int code);

/* Reset err to NR_OK with empty strings. NULL is a no-op. */
NR_API void nr_error_clear(nr_error *err);

/*
 * Fill err (which may be NULL) and return code, so that callers can write
 * `return nr_error_set(err, NR_EINVAL, id, "...", ...);`.
 * resource_id may be NULL. A message or id too long for its buffer is cut
 * and ends in "...", and err->truncated is set: nothing is cut silently.
 */
NR_API int nr_error_set(nr_error *err, int code, const char *resource_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
NR_API int nr_error_setv(nr_error *err, int code, const char *resource_id, const char *fmt,
                         va_list ap);

/* Like nr_error_set, and records the underlying cause code and backend code. */
NR_API int nr_error_set_cause(nr_error *err, int code, int cause, long driver_code,
                              const char *resource_id, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Prefix err->message with "<prefix>: " (keeping code and cause). NULL is a no-op. */
NR_API void nr_error_prefix(nr_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The text of the errno value errnum (what strerror says) into buf (size n,
 * cut to fit), and, when the process ran out of file descriptors, which
 * limit it hit, so that the message says what to raise:
 *   EMFILE: "Too many open files (EMFILE: the RLIMIT_NOFILE limit of this
 *            process is 64 open files, hard limit 4096)" (the soft limit, then
 *            the hard one; "unlimited" when there is none)
 *   ENFILE: "Too many open files in system (ENFILE: the system-wide limit
 *            on open files was reached)"
 * For a driver whose client library reports an open failure in its own
 * words (SQLite's "unable to open database file"), with errno beside it.
 * Returns buf.
 * Thread safety: any thread.
 */
NR_API const char *nr_errno_text(int errnum, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
