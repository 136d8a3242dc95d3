/*
 * nebula/version.h - library version.
 */
#ifndef NEBULA_VERSION_H
#define NEBULA_VERSION_H

#include "nebula/export.h"

#define NR_VERSION_MAJOR  1
#define NR_VERSION_MINOR  0
#define NR_VERSION_PATCH  0
#define NR_VERSION_STRING "1.0.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually linked, e.g. "1.0.0". */
NR_API const char *nr_version(void);

#ifdef __cplusplus
}
#endif
#endif
