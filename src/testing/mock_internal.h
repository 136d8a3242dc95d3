/* mock_internal.h - what the mock's files share. */
#ifndef NR_MOCK_INTERNAL_H
#define NR_MOCK_INTERNAL_H

#include "nebula/testing.h"

/* A 64-bit mixer (splitmix64's finaliser): the seeded decisions of the mock
 * and the harness's generators. */
uint64_t nr__mock_mix(uint64_t x);

#endif
