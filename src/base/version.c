/* version.c - the version of the linked library. */
#include "nebula/version.h"

const char *nr_version(void)
{
    return NR_VERSION_STRING;
}
