/*
 * cli.h - what the commands of nebula-resource share.
 */
#ifndef NR_CLI_H
#define NR_CLI_H

#include <stdbool.h>
#include <stdint.h>

/* Each command: argv[0] is the command name. Returns the exit status. */
int nr_cli_demo(int argc, char **argv);

/* Parse a whole decimal integer in [min, max] for option `name`; prints the
 * problem and returns false when it is not one. */
bool nr_cli_parse_int(const char *name, const char *text, int64_t min, int64_t max, int64_t *out);

#endif
