/*
 * nebula/export.h - NR_API, the mark of the public interface.
 *
 * Every function and variable a public header declares carries NR_API. The
 * libraries are compiled with -fvisibility=hidden, so what NR_API marks is all
 * a shared library exports: internals (nr__*) stay inside it and cannot be
 * linked against by mistake. scripts/check-exports.sh checks the result.
 *
 * With GCC and Clang NR_API is default visibility for the library and for its
 * users alike: on a declaration the user compiles it changes nothing, and it
 * keeps a user's own `#pragma GCC visibility push(hidden)` from hiding the
 * library's functions from the user's program. Other compilers get nothing.
 */
#ifndef NEBULA_EXPORT_H
#define NEBULA_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define NR_API __attribute__((visibility("default")))
#else
#define NR_API
#endif

#endif
