/*
 * main.c - nebula-resource: command dispatch, --help and --version.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nebula/resource.h"

static void usage(FILE *out)
{
    fprintf(out, "Usage: nebula-resource COMMAND [OPTIONS]\n"
                 "       nebula-resource --help | --version\n"
                 "\n"
                 "Commands:\n"
                 "  demo    run workflow-like work through a pool of SQLite connections,\n"
                 "          with a live progress line and the pool's statistics at the end\n"
                 "\n"
                 "Run 'nebula-resource COMMAND --help' for the options of a command.\n");
}

bool nr_cli_parse_int(const char *name, const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || !*text || *end || errno == ERANGE || v < min || v > max) {
        fprintf(stderr,
                "nebula-resource: %s must be a whole number between %lld and %lld (got '%s')\n",
                name, (long long)min, (long long)max, text ? text : "");
        return false;
    }
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("nebula-resource %s\n", nr_version());
        return 0;
    }
    if (!strcmp(cmd, "demo"))
        return nr_cli_demo(argc - 1, argv + 1);
    fprintf(stderr, "nebula-resource: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
