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
#include "app.h"
#include "nebula/hooks.h"

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
    nr_config_file *cf = cli_config_load(file, check_secrets, stdout, "");
    if (!cf)
        return 1;
    size_t nres = nr_config_file_resource_count(cf);
    printf("%s: valid: %zu resource%s; start order:", file, nres, nres == 1 ? "" : "s");
    for (size_t n = 0; n < nres; n++) {
        nr_resource_spec spec = NR_RESOURCE_SPEC_INIT;
        nr_config_file_resource(cf, n, &spec, NULL);
        printf("%s %s", n ? "," : "", spec.id);
    }
    printf("%s%s\n", nres ? "" : " (none)",
           check_secrets ? "" : "; credential sources not checked (--no-credentials)");
    for (size_t i = 0; i < nr_config_file_group_count(cf); i++) {
        nr_group_spec g = NR_GROUP_SPEC_INIT;
        nr_config_file_group(cf, i, &g);
        printf("group %s:", g.name);
        for (size_t k = 0; k < g.nmembers; k++)
            printf("%s %s", k ? "," : "", g.members[k]);
        printf("; max_quarantine_percent %u\n", g.max_quarantine_percent);
    }
    for (size_t i = 0; i < nr_config_file_hook_count(cf); i++) {
        nr_config_hook h;
        nr_config_file_hook(cf, i, &h);
        printf("hook %s: priority %d", h.type_text, (int)h.priority);
        for (int op = 0, n = 0; op < NR_HOOK_OP_COUNT; op++)
            if (h.ops & NR_HOOK_OP_BIT(op))
                printf("%s%s", n++ ? ", " : "; ops ", nr_hook_op_name((nr_hook_op)op));
        if (h.resource)
            printf("; resource %s", h.resource);
        if (h.type_name)
            printf("; type_name %s", h.type_name);
        if (h.type == NR_CONFIG_HOOK_AUDIT)
            printf("; path %s, queue_lines %zu", h.path, h.queue_lines);
        else if (h.type == NR_CONFIG_HOOK_SLOW_ACQUIRE)
            printf("; threshold_ms %lld", (long long)h.threshold_ms);
        else if (h.type == NR_CONFIG_HOOK_CREDENTIAL_REFRESH)
            printf("; window_ms %lld", (long long)h.window_ms);
        printf("\n");
    }
    if (print) {
        printf("\n");
        nr_config_file_print(cf, stdout);
    }
    nr_config_file_free(cf);
    return 0;
}
