/*
 * demo_opts.h - the options of `nebula-resource demo` (demo_opts.c).
 *
 * Thread safety: parse on the main thread before any other starts; the
 * struct is read-only afterwards.
 */
#ifndef NR_CLI_DEMO_OPTS_H
#define NR_CLI_DEMO_OPTS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct demo_opts {
    int64_t threads, seconds, pool_size, port;
    int64_t outage_at_ms, outage_for_ms; /* -1: from the run's length */
    const char *db, *listen;
    bool http, outage;
} demo_opts;

/* Fill o from argv (argv[0] is the command). 0: run; 1: --help was
 * printed; -1: a usage error was printed to stderr. o's strings point into
 * argv. */
int demo_parse_opts(int argc, char **argv, demo_opts *o);

#endif
