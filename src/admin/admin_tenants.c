/*
 * admin_tenants.c - a tenant-partitioned resource's tenants as /status shows
 * them: the ADMIN_TOP_TENANTS busiest one by one, the others summed.
 *
 * The rule: more instances in use first; on a tie, more acquires since the
 * tenant's pool was made; on a tie again, the tenant that first acquired
 * earlier (the order nr_manager_each_tenant walks them in). The ranking is
 * kept while walking, so memory does not grow with the number of tenants.
 */
#include <stdio.h>
#include <string.h>

#include "admin_internal.h"

bool admin_tenant_before(const nr_pool_stats *x, const nr_pool_stats *y)
{
    if (x->in_use != y->in_use)
        return x->in_use > y->in_use;
    return x->acquires > y->acquires;
}

void admin_tenants_add(admin_tenants *t, const char *tenant, const nr_pool_stats *st)
{
    if (t->rest.size == 0) /* a zeroed t: its sum starts empty */
        t->rest.size = sizeof(t->rest);
    size_t pos = t->ntop;
    while (pos > 0 && admin_tenant_before(st, &t->top[pos - 1].st))
        pos--;
    if (pos == ADMIN_TOP_TENANTS) { /* not among the busiest */
        nr_pool_stats_add(&t->rest, st);
        t->others++;
        return;
    }
    if (t->ntop == ADMIN_TOP_TENANTS) { /* the last one makes room */
        nr_pool_stats_add(&t->rest, &t->top[ADMIN_TOP_TENANTS - 1].st);
        t->others++;
        t->ntop--;
    }
    memmove(&t->top[pos + 1], &t->top[pos], (t->ntop - pos) * sizeof(t->top[0]));
    snprintf(t->top[pos].id, sizeof(t->top[pos].id), "%s", tenant);
    t->top[pos].st = *st;
    t->ntop++;
}

static int add_one(void *ud, const char *tenant, const nr_pool_stats *st)
{
    admin_tenants_add(ud, tenant, st);
    return 0;
}

void admin_tenants_json(nr_admin *a, const char *id, json_t *o)
{
    admin_tenants t;
    memset(&t, 0, sizeof(t));
    if (nr_manager_each_tenant(a->m, id, add_one, &t, NULL) != NR_OK)
        return;
    json_t *top = json_array();
    for (size_t i = 0; top && i < t.ntop; i++)
        json_array_append_new(top, json_pack("{s:s,s:o*}", "tenant", t.top[i].id, "pool",
                                             admin_pool_json(&t.top[i].st)));
    json_object_set_new(o, "tenants", top);
    json_object_set_new(
        o, "tenants_other",
        json_pack("{s:I,s:o*}", "count", (json_int_t)t.others, "pool", admin_pool_json(&t.rest)));
}
