/*
 * config_loader.h - what the files that load a config file share: the
 * loader's state while one file is read, and how a problem is recorded
 * (its JSON path, located by json_pos, the rule and the value as written).
 *
 *   config_file.c    the loader, the sections, the resources and their graph
 *   config_groups.c  the "groups" key
 *   config_hooks.c   the "hooks" key
 *
 * Thread safety: one loader per thread, for the duration of one load.
 */
#ifndef NR_CF_CONFIG_LOADER_H
#define NR_CF_CONFIG_LOADER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cfg_internal.h"
#include "json_pos.h"
#include "nebula/config.h"

typedef struct cf_loader {
    cf_config *cfg;
    cf_issues *iss;
    cf_pos_map pos;
    const char *text;                /* the file's text, for values as written */
    const nr_config_driver *drivers; /* the program's, ndrivers of them */
    size_t ndrivers;
    const char *const *stages; /* the program's own health stage names, nstages of them */
    size_t nstages;
    bool oom;
} cf_loader;

/* Add an issue at JSON path raw ("$..." form). at_key: point at the key of
 * the member rather than its value. value: the value as JSON text ("" when
 * none); a number is shown as the file writes it. */
void cf_add_issue(cf_loader *ld, const char *raw, bool at_key, const char *value, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));

/* Parse section obj (NULL: absent, defaults) with schema s under prefix into
 * out, every problem an issue (an unknown key with its did-you-mean among
 * the schema's fields and the NULL-terminated extra keys). true when it
 * passed. */
bool cf_section(cf_loader *ld, const nr_config_schema *s, const json_t *obj, const char *prefix,
                void *out, const char *const *extra);

/* The resources' dependencies (config_graph.c), once every resource is
 * loaded: unknown ids and cycles become issues; without a problem, each
 * resource gets its start level. */
void cf_check_graph(cf_loader *ld);

/* The index of the resource with that id in cfg, or -1. */
long cf_find_resource(const cf_config *cfg, const char *id);

/* The "groups" key (config_groups.c): after the resources, whose ids the
 * members name. obj NULL: no groups. */
void cf_load_groups(cf_loader *ld, const json_t *obj);

/* The "hooks" key (config_hooks.c): after the resources, whose ids the
 * filters name. obj NULL: no hooks. */
void cf_load_hooks(cf_loader *ld, const json_t *obj);

/* "audit", "metrics", "slow_acquire", "credential_refresh"; "unknown". */
const char *cf_hook_type_name(int type);

/* The hook as understood, defaults included, one key a line after a
 * "hook TYPE" line (for cf_config_print). */
void cf_hook_print(const cf_hook *h, FILE *out);

#endif
