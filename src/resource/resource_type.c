/* resource_type.c - checks that a driver's vtable is usable. */
#include "nebula/resource_type.h"

int nr_resource_type_check(const nr_resource_type *type, nr_error *err)
{
    if (!type)
        return nr_error_set(err, NR_EINVAL, NULL, "resource type: must not be NULL");
    const char *name = type->name ? type->name : "(unnamed)";
    if (type->version != NR_RESOURCE_TYPE_VERSION)
        return nr_error_set(err, NR_EINVAL, NULL, "resource type '%s': version must be %d (got %d)",
                            name, NR_RESOURCE_TYPE_VERSION, type->version);
    if (!type->name || !type->name[0])
        return nr_error_set(err, NR_EINVAL, NULL, "resource type: name must not be empty");
    if (!type->create)
        return nr_error_set(err, NR_EINVAL, NULL, "resource type '%s': create is required", name);
    if (!type->destroy)
        return nr_error_set(err, NR_EINVAL, NULL, "resource type '%s': destroy is required", name);
    if (!type->config_schema)
        return nr_error_set(err, NR_EINVAL, NULL, "resource type '%s': config_schema is required",
                            name);
    return NR_OK;
}
