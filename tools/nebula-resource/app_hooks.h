/*
 * app_hooks.h - the config file's "hooks" made real for a cli_app: a hook
 * registry the manager is given, and the built-in hooks
 * (nebula/hooks_builtin.h) the file names, added in file order.
 *
 * Ownership: cli_hooks_create fills a cli_hooks that cli_hooks_destroy
 * frees (also after a failed create). The event bus and metrics registry
 * are borrowed; the manager given the registry must be destroyed before
 * cli_hooks_destroy (it borrows the registry).
 *
 * Thread safety: create, add and destroy from one thread.
 */
#ifndef NR_CLI_APP_HOOKS_H
#define NR_CLI_APP_HOOKS_H

#include "nebula/config_file.h"
#include "nebula/events.h"
#include "nebula/hooks.h"
#include "nebula/manager.h"
#include "nebula/metrics.h"

typedef struct cli_hook {
    nr_config_hook_type type;
    void *obj; /* nr_audit, nr_hook_metrics, nr_slow_acquire or nr_credential_refresh */
} cli_hook;

typedef struct cli_hooks {
    nr_hooks *reg; /* NULL when the file has no hooks */
    cli_hook *v;
    size_t n;
} cli_hooks;

/* Make the registry when cf has hooks (bus may be NULL: refusals and
 * failures are not published then). */
int cli_hooks_create(cli_hooks *h, const nr_config_file *cf, nr_event_bus *bus, nr_error *err);

/* Build each hook of cf and add it, in file order; m is the manager given
 * h->reg (before any resource is registered). metrics may be NULL unless
 * cf has a metrics hook. err names the hook (hooks[i]) and why. */
int cli_hooks_add(cli_hooks *h, const nr_config_file *cf, nr_manager *m, nr_event_bus *bus,
                  nr_metrics *metrics, nr_error *err);

/* Free the registry, then the hooks' objects (an audit writes what it
 * has queued first). */
void cli_hooks_destroy(cli_hooks *h);

#endif
