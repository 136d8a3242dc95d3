/*
 * config_text.c - see config_text.h.
 */
#define _DEFAULT_SOURCE
#include "config_text.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

char *cfg_text_write(const char *text)
{
    char *path = strdup("/tmp/nr-cfgtext.XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

int cfg_text_load(const char *text, const nr_config_driver *drivers, size_t ndrivers,
                  nr_config_file **cf, nr_error *err)
{
    char *path = cfg_text_write(text);
    nr_config_load_options o = NR_CONFIG_LOAD_OPTIONS_INIT;
    nr_config_load_options_default(&o);
    o.drivers = drivers;
    o.ndrivers = ndrivers;
    int rc = nr_config_file_load(cf, path, &o, err);
    unlink(path);
    free(path);
    return rc;
}
