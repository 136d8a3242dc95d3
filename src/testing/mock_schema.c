/* mock_schema.c - the mock type's config: its fields and its defaults. */
#include "nebula/testing.h"

NR_CONFIG_SCHEMA(nr_mock_config_schema, "mock", nr_mock_config, NR_MOCK_CONFIG_FIELDS, NULL);

static char default_label[] = "mock";
static const nr_mock_config mock_defaults = {.label = default_label, .weight = 1, .token = NULL};

const nr_mock_config *nr_mock_config_defaults(void)
{
    return &mock_defaults;
}
