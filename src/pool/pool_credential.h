/*
 * pool_credential.h - replacing a pool's credential with or without retiring
 * the instances made with the old one (the manager's rotation and its
 * credential refresh). nr_pool_set_credential is the retiring form.
 */
#ifndef NR_POOL_CREDENTIAL_H
#define NR_POOL_CREDENTIAL_H

#include <stdbool.h>

#include "nebula/pool.h"

/*
 * Give p a new credential (copied; NULL = none) for its next creates; a
 * create that has already read the old one keeps it. retire: idle instances
 * made with the old one are destroyed now and leased ones when they are given
 * back (nr_pool_set_credential); !retire: they stay, as for a short-lived
 * token whose connections outlive it. NR_EINVAL (p NULL), NR_ENOMEM (the old
 * credential stays). [no lock held; calls no callback unless retire]
 */
int nr__pool_replace_credential(nr_pool *p, const nr_secret *credential, bool retire,
                                nr_error *err);

#endif
