/*
 * config_graph.c - what the resources of a config file say of each other:
 * every depends_on names a resource of the file, and the dependencies make
 * no cycle (each cycle reported where it closes, by the library's own
 * nr_graph_check), which gives each resource its start level. See
 * config_loader.h.
 */
#define _DEFAULT_SOURCE
#include "cfg_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_loader.h"
#include "config_names.h"
#include "nebula/graph.h"

long cf_find_resource(const cf_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->nres; i++)
        if (cfg->res[i].id && strcmp(cfg->res[i].id, id) == 0)
            return (long)i;
    return -1;
}

/* Every cycle of the graph (its ids known and unique), each reported at the
 * dependency that closes it, by the library's own check (nebula/graph.h):
 * each one found is cut there and the check runs again. With no cycle, the
 * start levels go to the resources. */
static void check_cycles(cf_loader *ld)
{
    cf_config *cfg = ld->cfg;
    size_t n = cfg->nres;
    const char **ids = calloc(n, sizeof(*ids));
    const char ***deps = calloc(n, sizeof(*deps));
    size_t **orig = calloc(n, sizeof(*orig)); /* orig[i][j]: deps[i][j]'s index in the file */
    size_t *ndeps = calloc(n, sizeof(*ndeps));
    uint32_t *level = calloc(n, sizeof(*level));
    bool ok = ids && deps && orig && ndeps && level;
    for (size_t i = 0; ok && i < n; i++) {
        ids[i] = cfg->res[i].id;
        ndeps[i] = cfg->res[i].ndeps;
        deps[i] = ndeps[i] ? calloc(ndeps[i], sizeof(**deps)) : NULL;
        orig[i] = ndeps[i] ? calloc(ndeps[i], sizeof(**orig)) : NULL;
        ok = !ndeps[i] || (deps[i] && orig[i]);
        for (size_t k = 0; ok && k < ndeps[i]; k++) {
            deps[i][k] = cfg->res[i].deps[k];
            orig[i][k] = k;
        }
    }
    size_t edges = 0;
    for (size_t i = 0; ok && i < n; i++)
        edges += ndeps[i];
    int cycles = 0;
    for (size_t round = 0; ok && round <= edges; round++) {
        size_t at = 0, dep = 0;
        nr_error err = {0};
        int rc =
            nr_graph_check(n, ids, (const char *const *const *)deps, ndeps, level, &at, &dep, &err);
        if (rc == NR_OK)
            break;
        if (rc != NR_ECYCLE || dep >= ndeps[at]) {
            ok = rc != NR_ENOMEM;
            if (rc != NR_ENOMEM)
                cf_add_issue(ld, "$.resources", false, "", "%s", err.message);
            cycles++;
            break;
        }
        char path[128];
        snprintf(path, sizeof(path), "$.resources[%zu].depends_on[%zu]", at, orig[at][dep]);
        cf_add_issue(ld, path, false, "", "%s", err.message);
        cycles++;
        memmove(&deps[at][dep], &deps[at][dep + 1], (ndeps[at] - dep - 1) * sizeof(**deps));
        memmove(&orig[at][dep], &orig[at][dep + 1], (ndeps[at] - dep - 1) * sizeof(**orig));
        ndeps[at]--;
    }
    if (!ok)
        ld->oom = true;
    else if (!cycles)
        for (size_t i = 0; i < n; i++)
            cfg->res[i].level = (int)level[i];
    for (size_t i = 0; i < n; i++) {
        if (deps)
            free(deps[i]);
        if (orig)
            free(orig[i]);
    }
    free(ids);
    free(deps);
    free(orig);
    free(ndeps);
    free(level);
}

void cf_check_graph(cf_loader *ld)
{
    cf_config *cfg = ld->cfg;
    bool deps_ok = true;
    for (size_t i = 0; i < cfg->nres; i++) {
        cf_resource *r = &cfg->res[i];
        if (!r->id) {
            deps_ok = false;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (cfg->res[j].id && strcmp(cfg->res[j].id, r->id) == 0) {
                char path[64], val[80];
                snprintf(path, sizeof(path), "$.resources[%zu].id", i);
                snprintf(val, sizeof(val), "\"%s\"", r->id);
                cf_add_issue(ld, path, false, val, "duplicate id (first used by resources[%zu])",
                             j);
                deps_ok = false;
                break;
            }
        }
    }
    /* the ids, each once, for the list and the hint of an unknown dependency */
    const char **ids = calloc(cfg->nres + 1, sizeof(*ids));
    size_t nids = 0;
    if (!ids)
        ld->oom = true;
    char known[400] = "";
    size_t used = 0;
    for (size_t j = 0; j < cfg->nres; j++) {
        if (!cfg->res[j].id || cf_find_resource(cfg, cfg->res[j].id) != (long)j)
            continue; /* no id, or one listed already */
        if (ids)
            ids[nids++] = cfg->res[j].id;
        if (used >= sizeof(known))
            continue;
        int w =
            snprintf(known + used, sizeof(known) - used, "%s%s", used ? ", " : "", cfg->res[j].id);
        used += w > 0 ? (size_t)w : 0;
    }
    for (size_t i = 0; i < cfg->nres; i++) {
        cf_resource *r = &cfg->res[i];
        for (size_t k = 0; k < r->ndeps; k++) {
            if (cf_find_resource(cfg, r->deps[k]) >= 0)
                continue;
            char path[96], val[80], mean[100] = "";
            if (ids)
                cf_hint(mean, sizeof(mean), r->deps[k], ids, nids);
            snprintf(path, sizeof(path), "$.resources[%zu].depends_on[%zu]", i, k);
            snprintf(val, sizeof(val), "\"%s\"", r->deps[k]);
            cf_add_issue(ld, path, false, val, "unknown resource id%s (defined: %s)", mean,
                         used ? known : "none");
            deps_ok = false;
        }
    }
    free(ids);
    if (cfg->nres == 0 || !deps_ok)
        return;
    size_t before = ld->iss->n;
    check_cycles(ld);
    if (ld->oom || ld->iss->n != before)
        return;
    cfg->order = calloc(cfg->nres, sizeof(size_t));
    if (!cfg->order) {
        ld->oom = true;
        return;
    }
    size_t n = 0;
    for (int level = 0; n < cfg->nres; level++)
        for (size_t i = 0; i < cfg->nres; i++)
            if (cfg->res[i].level == level)
                cfg->order[n++] = i;
}

/* ---- the file ---------------------------------------------------------------- */
