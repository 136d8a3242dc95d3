/*
 * config_text.h - config-file tests' shared step: a config text written to
 * a temporary file and loaded with a driver table.
 */
#ifndef NR_TEST_CONFIG_TEXT_H
#define NR_TEST_CONFIG_TEXT_H

#include <stddef.h>

#include "nebula/config_file.h"

/* Write text to a new file under /tmp; the caller unlinks and frees the
 * returned path. Fails the test when it cannot. */
char *cfg_text_write(const char *text);

/* cfg_text_write, then nr_config_file_load with drivers and default options
 * otherwise; the file is removed again. Returns the load's code. */
int cfg_text_load(const char *text, const nr_config_driver *drivers, size_t ndrivers,
                  nr_config_file **cf, nr_error *err);

#endif
