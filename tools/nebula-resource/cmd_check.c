/*
 * cmd_check.c - `nebula-resource check CONFIG [--print] [--no-credentials]`:
 * every problem of a config file at once, each with its path, position and
 * rule. --no-credentials leaves out whether each credential's environment
 * variable is set and its file readable (a CI job has no secrets); every
 * other rule is still checked.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config_file.h"

int nr_cli_check(int argc, char **argv)
{
    const char *file = NULL;
    bool print = false, check_secrets = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            nr_cli_help("check", stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--print")) {
            print = true;
        } else if (!strcmp(argv[i], "--no-credentials")) {
            check_secrets = false;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "nebula-resource check: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (file) {
            fprintf(stderr, "nebula-resource check: one CONFIG only (got '%s' and '%s')\n", file,
                    argv[i]);
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        fprintf(stderr, "nebula-resource check: CONFIG is missing\n"
                        "Usage: nebula-resource check CONFIG [--print] [--no-credentials]\n");
        return 2;
    }
    cli_config cfg;
    cli_issues iss;
    int rc = cli_config_load(file, check_secrets, &cfg, &iss);
    if (rc != 0) {
        cli_issues_print(&iss, file, stdout);
        printf("%s: invalid: %zu problem%s\n", file, iss.n, iss.n == 1 ? "" : "s");
    } else {
        printf("%s: valid: %zu resource%s; start order:", file, cfg.nres, cfg.nres == 1 ? "" : "s");
        for (size_t n = 0; n < cfg.nres; n++)
            printf("%s %s", n ? "," : "", cfg.res[cfg.order[n]].id);
        printf("%s%s\n", cfg.nres ? "" : " (none)",
               check_secrets ? "" : "; credential sources not checked (--no-credentials)");
        if (print) {
            printf("\n");
            cli_config_print(&cfg, stdout);
        }
    }
    cli_issues_free(&iss);
    cli_config_free(&cfg);
    return rc == 0 ? 0 : 1;
}
