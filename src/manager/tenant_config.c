/* tenant_config.c - the schema and defaults of nr_tenant_policy. */
#include <stddef.h>

#include "nebula/tenants.h"

#define WEEK_MS (7LL * 24 * 3600 * 1000)

static const nr_field tenant_fields[] = {
    {.name = "idle_timeout_ms",
     .type = NR_FT_INT,
     .offset = offsetof(nr_tenant_policy, idle_timeout_ms),
     .min = 0,
     .max = WEEK_MS,
     .def_int = 600000,
     .doc = "remove a tenant pool unused this long (0: never)"},
    {.name = "max_tenants",
     .type = NR_FT_INT,
     .offset = offsetof(nr_tenant_policy, max_tenants),
     .min = 0,
     .max = 10000000,
     .def_int = 0,
     .doc = "tenant pools at once; a new tenant beyond it is refused (0: no limit)"},
    {.name = "max_total",
     .type = NR_FT_INT,
     .offset = offsetof(nr_tenant_policy, max_total),
     .min = 0,
     .max = 10000000,
     .def_int = 0,
     .doc = "instances across all tenant pools, shared fairly (0: no cap)"},
};

const nr_config_schema nr_tenant_schema = {
    .name = "tenants",
    .struct_size = sizeof(nr_tenant_policy),
    .fields = tenant_fields,
    .nfields = sizeof(tenant_fields) / sizeof(tenant_fields[0]),
};

void nr_tenant_policy_default(nr_tenant_policy *p)
{
    p->idle_timeout_ms = 600000;
    p->max_tenants = 0;
    p->max_total = 0;
}
