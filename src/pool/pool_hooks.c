/*
 * pool_hooks.c - a pool's calls into its hook registry (nebula/hooks.h).
 * The pool tests NR__POOL_HOOKS first, so a pool without a registry, or
 * with no hook for the operation, builds nothing and reads no clock.
 */
#include "pool/pool_internal.h"

void nr__pool_hook_call(nr_pool *p, nr_hook_op op, uint64_t instance_id, nr_hook_call *call)
{
    nr__hook_call_init(call, op, p->id, p->type->name, &p->scope, p, instance_id);
}

int nr__pool_hooks_before(nr_pool *p, nr_hook_op op, uint64_t instance_id, nr__hook_run *run,
                          nr_hook_call *call, nr_error *err)
{
    nr__pool_hook_call(p, op, instance_id, call);
    return nr__hooks_before(p->hooks, run, call, err);
}

void nr__pool_hooks_after(nr_pool *p, nr__hook_run *run, nr_hook_call *call, int rc,
                          const nr_error *err)
{
    call->rc = rc;
    call->error = rc != NR_OK ? err : NULL;
    nr__hooks_after(p->hooks, run, call);
}
