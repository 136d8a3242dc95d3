/*
 * pool_kept.h - destroying a pool whose memory outlives it for a while.
 *
 * A give-back through the bag's fast path reads the pool's gate once more
 * after its instance is back (pool_bag.c), so a pool destroyed by someone
 * who cannot know of give-backs in flight (the manager's reaper of the
 * pools it set aside: a reload's old pools, evicted tenant pools) must keep
 * its struct, records and bag readable until those few instructions are
 * surely done. nr__pool_destroy_keep does all of nr_pool_destroy but free
 * that memory; nr__pool_free_kept frees it later (the manager waits at
 * least NR__POOL_KEEP_NS).
 */
#ifndef NR_POOL_KEPT_H
#define NR_POOL_KEPT_H

#include "nebula/pool.h"

#define NR__POOL_KEEP_NS (2 * NR_NS_PER_S)

int nr__pool_destroy_keep(nr_pool *p, nr_error *err);
void nr__pool_free_kept(nr_pool *p);

#endif
