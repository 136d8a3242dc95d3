/* mock_schema.c - the mock type's config: its fields and its defaults. */
#include <stddef.h>

#include "nebula/testing.h"

static const nr_field mock_fields[] = {
    {.name = "label",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_mock_config, label),
     .max = 32,
     .def_str = "mock",
     .doc = "free text"},
    {.name = "weight",
     .type = NR_FT_INT,
     .offset = offsetof(nr_mock_config, weight),
     .min = 0,
     .max = 100,
     .def_int = 1,
     .doc = "a number with a range, copied into each handle"},
    {.name = "token",
     .type = NR_FT_SECRET,
     .offset = offsetof(nr_mock_config, token),
     .doc = "a secret"},
};

const nr_config_schema nr_mock_config_schema = {
    .name = "mock",
    .struct_size = sizeof(nr_mock_config),
    .fields = mock_fields,
    .nfields = sizeof(mock_fields) / sizeof(mock_fields[0]),
};

static char default_label[] = "mock";
static const nr_mock_config mock_defaults = {.label = default_label, .weight = 1, .token = NULL};

const nr_mock_config *nr_mock_config_defaults(void)
{
    return &mock_defaults;
}
