/*
 * app_hooks.c - the config file's hooks for a cli_app. See app_hooks.h.
 */
#include "app_hooks.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nebula/hooks_builtin.h"

int cli_hooks_create(cli_hooks *h, const nr_config_file *cf, nr_event_bus *bus, nr_error *err)
{
    memset(h, 0, sizeof(*h));
    size_t n = nr_config_file_hook_count(cf);
    if (n == 0)
        return NR_OK;
    h->v = calloc(n, sizeof(*h->v));
    if (!h->v)
        return nr_error_set(err, NR_ENOMEM, NULL, "hooks: out of memory");
    nr_hooks_options ho = NR_HOOKS_OPTIONS_INIT;
    nr_hooks_options_default(&ho);
    ho.events = bus;
    return nr_hooks_create(&h->reg, &ho, err);
}

/* The type filter names a driver; hooks match the resource type's name. */
static const char *type_of_driver(const char *driver)
{
    size_t nd = 0;
    const nr_config_driver *d = cli_drivers(&nd);
    for (size_t i = 0; i < nd; i++)
        if (strcmp(d[i].name, driver) == 0 && d[i].type)
            return d[i].type->name;
    return driver;
}

/* The object of hook c, and its def. */
static int build(cli_hook *out, const nr_config_hook *c, nr_manager *m, nr_event_bus *bus,
                 nr_metrics *metrics, nr_hook_def *def, nr_error *err)
{
    out->type = c->type;
    switch (c->type) {
    case NR_CONFIG_HOOK_AUDIT: {
        nr_audit_options o = NR_AUDIT_OPTIONS_INIT;
        nr_audit_options_default(&o);
        o.path = c->path;
        o.queue_lines = c->queue_lines;
        nr_audit *a = NULL;
        int rc = nr_audit_create(&a, &o, err);
        if (rc != NR_OK)
            return rc;
        out->obj = a;
        nr_audit_hook(a, def);
        return NR_OK;
    }
    case NR_CONFIG_HOOK_METRICS: {
        nr_hook_metrics *hm = NULL;
        int rc = nr_hook_metrics_create(&hm, metrics, err);
        if (rc != NR_OK)
            return rc;
        out->obj = hm;
        nr_metrics_hook(hm, def);
        return NR_OK;
    }
    case NR_CONFIG_HOOK_SLOW_ACQUIRE: {
        nr_slow_acquire_options o = NR_SLOW_ACQUIRE_OPTIONS_INIT;
        nr_slow_acquire_options_default(&o);
        o.threshold_ms = c->threshold_ms;
        o.events = bus;
        o.metrics = metrics;
        nr_slow_acquire *s = NULL;
        int rc = nr_slow_acquire_create(&s, &o, err);
        if (rc != NR_OK)
            return rc;
        out->obj = s;
        nr_slow_acquire_hook(s, def);
        return NR_OK;
    }
    case NR_CONFIG_HOOK_CREDENTIAL_REFRESH: {
        nr_credential_refresh_options o = NR_CREDENTIAL_REFRESH_OPTIONS_INIT;
        nr_credential_refresh_options_default(&o);
        o.window_ms = c->window_ms;
        nr_credential_refresh *cr = NULL;
        int rc = nr_credential_refresh_create(&cr, m, &o, err);
        if (rc != NR_OK)
            return rc;
        out->obj = cr;
        nr_credential_refresh_hook(cr, def);
        return NR_OK;
    }
    }
    return nr_error_set(err, NR_EINVAL, NULL, "unknown hook type %d", (int)c->type);
}

int cli_hooks_add(cli_hooks *h, const nr_config_file *cf, nr_manager *m, nr_event_bus *bus,
                  nr_metrics *metrics, nr_error *err)
{
    size_t n = nr_config_file_hook_count(cf);
    for (size_t i = 0; i < n; i++) {
        nr_config_hook c;
        nr_config_file_hook(cf, i, &c);
        nr_hook_def def = NR_HOOK_DEF_INIT;
        int rc = build(&h->v[h->n], &c, m, bus, metrics, &def, err);
        if (rc == NR_OK) {
            h->n++;
            def.priority = c.priority;
            if (c.ops)
                def.ops = c.ops;
            def.resource = c.resource;
            def.type_name = c.type_name ? type_of_driver(c.type_name) : NULL;
            rc = nr_hooks_add(h->reg, &def, NULL, err);
        }
        if (rc != NR_OK) {
            nr_error_prefix(err, "hooks[%zu] (%s)", i, c.type_text);
            return rc;
        }
    }
    return NR_OK;
}

void cli_hooks_destroy(cli_hooks *h)
{
    nr_error err = {0};
    if (h->reg && nr_hooks_destroy(h->reg, &err) != NR_OK)
        fprintf(stderr, "nebula-resource: %s\n", err.message);
    for (size_t i = 0; i < h->n; i++) {
        switch (h->v[i].type) {
        case NR_CONFIG_HOOK_AUDIT:
            nr_audit_destroy(h->v[i].obj);
            break;
        case NR_CONFIG_HOOK_METRICS:
            nr_hook_metrics_destroy(h->v[i].obj);
            break;
        case NR_CONFIG_HOOK_SLOW_ACQUIRE:
            nr_slow_acquire_destroy(h->v[i].obj);
            break;
        case NR_CONFIG_HOOK_CREDENTIAL_REFRESH:
            nr_credential_refresh_destroy(h->v[i].obj);
            break;
        default:
            break;
        }
    }
    free(h->v);
    memset(h, 0, sizeof(*h));
}
