/* tenant_config.c - the schema and defaults of nr_tenant_policy (its fields: nebula/tenants.h). */
#include <stddef.h>

#include "nebula/tenants.h"

NR_CONFIG_SCHEMA(nr_tenant_schema, "tenants", nr_tenant_policy, NR_TENANT_POLICY_FIELDS, NULL);

void nr_tenant_policy_default(nr_tenant_policy *p)
{
    /* no string or secret field: init allocates nothing and cannot fail */
    (void)nr_config_init(&nr_tenant_schema, p, NULL);
}
