/*
 * driver_pool.h - what every driver's pool tests need, written once: a
 * pool config of a given size, a pool of a driver's type (the test fails
 * when it cannot be made), an acquire that must succeed, and the end of a
 * pool (no lease out, the creates in flight waited for, destroyed).
 */
#ifndef NR_DRIVER_POOL_H
#define NR_DRIVER_POOL_H

#include "nebula/resource.h"

/* The defaults with max_size and min_idle. */
void nr_dt_pool_config(nr_pool_config *pc, int64_t max_size, int64_t min_idle);
/* A pool of type with config and pc (NULL: the defaults) and the credential
 * (may be NULL), id `id`; fails the test with the error when it cannot be
 * made. */
nr_pool *nr_dt_pool(const char *id, const nr_resource_type *type, const void *config,
                    const nr_pool_config *pc, const nr_secret *cred);
/* Acquire within 60 s, or fail the test with the error. */
void nr_dt_acquire_ok(nr_pool *p, nr_guard *g);
/* No lease may be out; creates still running on the pool's creator (they
 * outlive the acquire that asked for them) are waited for, then the pool
 * must go. */
void nr_dt_pool_done(nr_pool *p);

#endif
