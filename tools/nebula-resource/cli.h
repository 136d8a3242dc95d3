/*
 * cli.h - what the commands of nebula-resource share.
 *
 * The program uses only the public headers of the library (include/nebula)
 * and the resource types the drivers export.
 */
#ifndef NR_CLI_H
#define NR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nebula/config_file.h"
#include "nebula/resource_type.h"

/* Each command: argv[0] is the command name. Returns the exit status:
 * 0 success, 1 failure (an invalid config, a failed start, ...), 2 usage error. */
int nr_cli_demo(int argc, char **argv);
int nr_cli_check(int argc, char **argv);
int nr_cli_run(int argc, char **argv);
int nr_cli_bench(int argc, char **argv);

/* The demo's help text. */
void nr_cli_demo_usage(FILE *out);

/* The help text of a command (NULL name: the program's), written to out.
 * Returns false when there is no such command. */
bool nr_cli_help(const char *command, FILE *out);

/* Parse a whole decimal integer in [min, max] for option `name`; prints the
 * problem and returns false when it is not one. */
bool nr_cli_parse_int(const char *name, const char *text, int64_t min, int64_t max, int64_t *out);

/* ---- the driver table (drivers.c) ------------------------------------------ */

/* Every driver the project has, in table order; type is NULL for the ones
 * not built into this program. */
const nr_config_driver *cli_drivers(size_t *count);

/* "sqlite, postgres, ..." (the built-in ones) into buf. */
void cli_driver_list(char *buf, size_t len);

/* ---- small helpers (main.c) ------------------------------------------------- */

/* Format a duration given in nanoseconds: "812 ns", "12.4 us", "3.1 ms", "2.50 s". */
void cli_fmt_ns(char *buf, size_t n, int64_t ns);

#endif
