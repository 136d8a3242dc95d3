/*
 * config_file.h - the nebula-resource config file: load, check every rule,
 * report every problem with its JSON path, line and column, print with
 * secrets redacted. The format is described in docs/cli.md.
 *
 * Ownership: cli_config_load fills a cli_config that cli_config_free
 * releases (also after a failed load); the issue list likewise.
 *
 * Thread safety: one thread per cli_config while it is loaded or freed;
 * afterwards it is only read, from any thread.
 */
#ifndef NR_CLI_CONFIG_FILE_H
#define NR_CLI_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "nebula/manager.h"

/* One problem found in a config file. */
typedef struct cli_issue {
    char *path;  /* display path: "resources[2].pool.max_size", "$" for the whole file */
    char *rule;  /* the rule broken */
    char *value; /* the offending value as JSON text ("" when none, "<redacted>" for secrets) */
    int line, col;
} cli_issue;

typedef struct cli_issues {
    cli_issue *v;
    size_t n, cap;
} cli_issues;

typedef struct cli_credential {
    char *ref;
    char *env;  /* environment variable holding the secret, or NULL */
    char *file; /* file holding the secret, or NULL */
} cli_credential;

typedef struct cli_resource {
    char *id;
    char *driver_name;
    const cli_driver *driver; /* NULL when not built in */
    void *config;             /* the driver's config struct, owned; NULL when not parsed */
    nr_pool_config pool;
    nr_scope scope;
    char scope_text[NR_SCOPE_TEXT_MAX];
    nr_partition partition;
    char **deps; /* ids this one depends on */
    size_t ndeps;
    char *credential; /* credential ref, or NULL */
    int level;        /* 0 without dependencies, else 1 + the highest level of its dependencies */
} cli_resource;

typedef struct cli_config {
    nr_manager_options manager; /* credentials, events, metrics left NULL */
    char *listen;               /* http.listen */
    int port;                   /* http.port; 0 = pick a free one */
    int64_t grace_ms, drain_timeout_ms, cleanup_timeout_ms; /* shutdown.* */
    cli_credential *creds;
    size_t ncreds;
    cli_resource *res;
    size_t nres;
    size_t *order; /* start order: indexes into res, by level, then file order */
} cli_config;

/* Read and check the file. Returns 0 when it is valid (cfg is complete), 1
 * when it is not (every problem is in issues; cfg is partial). Either way
 * free cfg and issues afterwards. check_secrets: also check that each
 * credential's environment variable is set and its file readable (their
 * contents are never read here). */
int cli_config_load(const char *file, bool check_secrets, cli_config *cfg, cli_issues *issues);

void cli_config_free(cli_config *cfg);

/* The resource called id, or NULL. */
const cli_resource *cli_config_resource(const cli_config *cfg, const char *id);

/* The credential ref, or NULL. */
const cli_credential *cli_config_credential(const cli_config *cfg, const char *ref);

/* Print the whole config as the program understood it, defaults included,
 * secrets redacted (the library's redacting printer for each section). */
void cli_config_print(const cli_config *cfg, FILE *out);

/* Write every issue, sorted by position:
 *     FILE:LINE:COL: PATH: RULE (got VALUE)
 * ("FILE: PATH: RULE" when the position is unknown). */
void cli_issues_print(const cli_issues *issues, const char *file, FILE *out);

void cli_issues_free(cli_issues *issues);

#endif
