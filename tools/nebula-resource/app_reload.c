/*
 * app_reload.c - reloading a running app from its config file. See app.h.
 *
 * The new file is loaded and checked first: a file with problems changes
 * nothing. Then the sections that cannot change while running are compared
 * with those of the file loaded last; a change there changes nothing either.
 * Only then are the resources changed: removed (dependents first), added (in
 * start order), reloaded, and the credentials switched and re-read.
 */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cli.h"

/* ---- the summary ---- */

static void say(cli_reload_summary *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(cli_reload_summary *s, const char *fmt, ...)
{
    size_t used = strlen(s->text), cap = sizeof(s->text);
    if (used + 4 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(s->text + used, cap - used, fmt, ap);
    va_end(ap);
    if (w >= 0 && (size_t)w >= cap - used)
        memcpy(s->text + cap - 5, "...\n", 5); /* cut: say so */
}

/* ---- what cannot change while running ---- */

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_manager(nr_config_file *a, nr_config_file *b)
{
    nr_manager_options x = NR_MANAGER_OPTIONS_INIT, y = NR_MANAGER_OPTIONS_INIT;
    nr_config_file_manager_options(a, &x);
    nr_config_file_manager_options(b, &y);
    return x.workers == y.workers && x.maintain_interval_ms == y.maintain_interval_ms &&
           x.health_interval_ms == y.health_interval_ms &&
           x.health_timeout_ms == y.health_timeout_ms &&
           x.failure_threshold == y.failure_threshold &&
           x.recovery_threshold == y.recovery_threshold &&
           x.quarantine_after == y.quarantine_after &&
           x.quarantine_base_ms == y.quarantine_base_ms &&
           x.quarantine_factor == y.quarantine_factor &&
           x.quarantine_max_ms == y.quarantine_max_ms &&
           x.quarantine_jitter == y.quarantine_jitter &&
           x.quarantine_max_attempts == y.quarantine_max_attempts &&
           x.quarantine_trials == y.quarantine_trials && x.creators == y.creators &&
           (x.credentials != NULL) == (y.credentials != NULL);
}

static int same_http(nr_config_file *a, nr_config_file *b)
{
    nr_admin_options x = NR_ADMIN_OPTIONS_INIT, y = NR_ADMIN_OPTIONS_INIT;
    nr_admin_options_default(&x);
    nr_admin_options_default(&y);
    nr_config_file_admin_options(a, &x);
    nr_config_file_admin_options(b, &y);
    return same_str(x.listen, y.listen) && x.port == y.port && same_str(x.token_ref, y.token_ref);
}

static int same_shutdown(const nr_config_file *a, const nr_config_file *b)
{
    nr_shutdown_options x = NR_SHUTDOWN_OPTIONS_INIT, y = NR_SHUTDOWN_OPTIONS_INIT;
    int64_t gx = 0, gy = 0;
    nr_config_file_shutdown_options(a, &x, &gx);
    nr_config_file_shutdown_options(b, &y, &gy);
    return gx == gy && x.drain_timeout_ms == y.drain_timeout_ms &&
           x.cleanup_timeout_ms == y.cleanup_timeout_ms;
}

static int same_hooks(const nr_config_file *a, const nr_config_file *b)
{
    size_t n = nr_config_file_hook_count(a);
    if (n != nr_config_file_hook_count(b))
        return 0;
    for (size_t i = 0; i < n; i++) {
        nr_config_hook x, y;
        nr_config_file_hook(a, i, &x);
        nr_config_file_hook(b, i, &y);
        if (x.type != y.type || x.priority != y.priority || x.ops != y.ops ||
            !same_str(x.resource, y.resource) || !same_str(x.type_name, y.type_name) ||
            !same_str(x.path, y.path) || x.queue_lines != y.queue_lines ||
            x.threshold_ms != y.threshold_ms || x.window_ms != y.window_ms)
            return 0;
    }
    return 1;
}

static int same_groups(const nr_config_file *a, const nr_config_file *b)
{
    size_t n = nr_config_file_group_count(a);
    if (n != nr_config_file_group_count(b))
        return 0;
    for (size_t i = 0; i < n; i++) {
        nr_group_spec x = NR_GROUP_SPEC_INIT, y = NR_GROUP_SPEC_INIT;
        nr_config_file_group(a, i, &x);
        nr_config_file_group(b, i, &y);
        if (!same_str(x.name, y.name) || x.nmembers != y.nmembers ||
            x.max_quarantine_percent != y.max_quarantine_percent)
            return 0;
        for (size_t k = 0; k < x.nmembers; k++)
            if (!same_str(x.members[k], y.members[k]))
                return 0;
    }
    return 1;
}

/* The first resource in both files whose "fleet" section changed other
 * than its budget (added, removed, or another field): written into why.
 * Only the budget can change while running (nr_fleet_set_budget). */
static int fleet_fixed(nr_config_file *old, nr_config_file *cf, char *why, size_t cap)
{
    size_t n = nr_config_file_resource_count(cf);
    for (size_t i = 0; i < n; i++) {
        nr_resource_spec s = NR_RESOURCE_SPEC_INIT;
        nr_config_file_resource(cf, i, &s, NULL);
        long j = -1;
        size_t no = nr_config_file_resource_count(old);
        for (size_t k = 0; k < no && j < 0; k++) {
            nr_resource_spec o = NR_RESOURCE_SPEC_INIT;
            nr_config_file_resource(old, k, &o, NULL);
            if (strcmp(o.id, s.id) == 0)
                j = (long)k;
        }
        if (j < 0)
            continue; /* added: its fleet budget is created with it */
        nr_fleet_options x = NR_FLEET_OPTIONS_INIT, y = NR_FLEET_OPTIONS_INIT;
        int hx = nr_config_file_fleet(old, (size_t)j, &x) == NR_OK;
        int hy = nr_config_file_fleet(cf, i, &y) == NR_OK;
        const char *what = NULL;
        if (hx != hy)
            what = hy ? "was added" : "was removed";
        else if (hx &&
                 (!same_str(x.prefix, y.prefix) || !same_str(x.process_id, y.process_id) ||
                  x.min_per_process != y.min_per_process || !same_str(x.redis_host, y.redis_host) ||
                  x.redis_port != y.redis_port || !same_str(x.redis_socket, y.redis_socket) ||
                  !same_str(x.redis_user, y.redis_user) ||
                  !same_str(x.credential_ref, y.credential_ref) ||
                  x.lease_ttl_ms != y.lease_ttl_ms || x.renew_interval_ms != y.renew_interval_ms ||
                  x.release_after_ms != y.release_after_ms ||
                  x.redis_timeout_ms != y.redis_timeout_ms || x.on_redis_down != y.on_redis_down))
            what = "changed other than its budget";
        if (what) {
            snprintf(why, cap, "resource %s: its \"fleet\" section %s", s.id, what);
            return 1;
        }
    }
    return 0;
}

/* ---- resources ---- */

/* The index of id among cf's resources, or -1. */
static long find_resource(const nr_config_file *cf, const char *id)
{
    size_t n = nr_config_file_resource_count(cf);
    for (size_t i = 0; i < n; i++) {
        nr_resource_spec s = NR_RESOURCE_SPEC_INIT;
        nr_config_file_resource(cf, i, &s, NULL);
        if (strcmp(s.id, id) == 0)
            return (long)i;
    }
    return -1;
}

static void note_failure(int *first, nr_error *err, int rc, const nr_error *e)
{
    if (*first == NR_OK) {
        *first = rc;
        if (err)
            *err = *e;
    }
}

/* Remove what old has and cf has not: dependents first (old is in start
 * order, so backwards). */
static void remove_gone(cli_app *app, const nr_config_file *old, const nr_config_file *cf,
                        cli_reload_summary *sum, int *first, nr_error *err)
{
    nr_shutdown_options so = NR_SHUTDOWN_OPTIONS_INIT;
    nr_config_file_shutdown_options(cf, &so, NULL);
    for (size_t i = nr_config_file_resource_count(old); i-- > 0;) {
        nr_resource_spec s = NR_RESOURCE_SPEC_INIT;
        nr_config_file_resource(old, i, &s, NULL);
        if (find_resource(cf, s.id) >= 0)
            continue;
        nr_error e = {0};
        int rc = nr_manager_unregister(app->m, s.id, nr_deadline_in_ms(so.drain_timeout_ms), &e);
        if (rc == NR_OK || rc == NR_ETIMEDOUT || rc == NR_ENOTFOUND) {
            nr_error fe = {0}; /* with leases still out, it stays until exit */
            if (cli_app_fleet_destroy(app, s.id, &fe) != NR_OK)
                say(sum, "  %s: its fleet budget stays until exit: %s\n", s.id, fe.message);
        }
        if (rc == NR_OK || rc == NR_ETIMEDOUT || rc == NR_ENOTFOUND) {
            sum->removed++;
            say(sum, "  removed %s%s\n", s.id,
                rc == NR_ETIMEDOUT ? " (leases still out: freed when they are back)" : "");
        } else {
            sum->failed++;
            say(sum, "  FAILED to remove %s: %s: %s\n", s.id, nr_err_name(rc), e.message);
            note_failure(first, err, rc, &e);
        }
    }
}

/* The budget the file gives fleet budget fl of resource id: set in Redis
 * when it changed (1), NR_OK when it did not, else the failure. */
static int set_fleet_budget(cli_app *app, const char *id, nr_fleet *fl, uint32_t budget,
                            nr_error *err)
{
    cli_fleet *e = NULL;
    for (size_t k = 0; k < app->nfleets; k++)
        if (app->fleets[k].id && strcmp(app->fleets[k].id, id) == 0)
            e = &app->fleets[k];
    if (!e || e->budget == budget)
        return NR_OK;
#ifdef NR_CLI_WITH_FLEET
    int rc = nr_fleet_set_budget(fl, budget, err);
    if (rc != NR_OK)
        return rc;
#else
    (void)fl;
    (void)err;
#endif
    e->budget = budget;
    return 1;
}

/* Add the new ones and reload the others, in cf's start order. */
static void add_and_reload(cli_app *app, const nr_config_file *old, nr_config_file *cf,
                           cli_reload_summary *sum, int *first, nr_error *err)
{
    size_t n = nr_config_file_resource_count(cf);
    for (size_t i = 0; i < n; i++) {
        nr_resource_spec s = NR_RESOURCE_SPEC_INIT;
        const char *driver = NULL;
        nr_config_file_resource(cf, i, &s, &driver);
        nr_error e = {0};
        if (find_resource(old, s.id) < 0) {
            int rc = cli_app_fleet_create(app, cf, i, &s, &e);
            if (rc == NR_OK && (rc = nr_manager_register(app->m, &s, &e)) != NR_OK) {
                nr_error fe = {0};
                cli_app_fleet_destroy(app, s.id, &fe);
            }
            if (rc == NR_OK) {
                sum->added++;
                say(sum, "  added %s (%s)\n", s.id, driver);
            } else {
                sum->failed++;
                say(sum, "  FAILED to add %s: %s: %s\n", s.id, nr_err_name(rc), e.message);
                note_failure(first, err, rc, &e);
            }
            continue;
        }
        /* the same fleet budget (fleet_fixed let only its budget change) */
        pthread_mutex_lock(&app->fleet_mu);
        nr_fleet *fl = cli_app_fleet(app, s.id);
        pthread_mutex_unlock(&app->fleet_mu);
        nr_fleet_options fo = NR_FLEET_OPTIONS_INIT;
        if (fl && nr_config_file_fleet(cf, i, &fo) == NR_OK) {
#ifdef NR_CLI_WITH_FLEET
            s.budget = nr_fleet_budget(fl);
#endif
            int brc = set_fleet_budget(app, s.id, fl, fo.budget, &e);
            if (brc == 1) {
                say(sum, "  %s: fleet budget set to %u\n", s.id, fo.budget);
            } else if (brc != NR_OK) {
                sum->failed++;
                say(sum, "  FAILED to set the fleet budget of %s: %s: %s\n", s.id, nr_err_name(brc),
                    e.message);
                note_failure(first, err, brc, &e);
                e = (nr_error){0};
            }
        }
        nr_reload_report rep;
        int rc = nr_manager_reload(app->m, &s, &rep, &e);
        if (rc != NR_OK) {
            sum->failed++;
            say(sum, "  FAILED to reload %s: %s: %s\n", s.id, nr_err_name(rc), e.message);
            note_failure(first, err, rc, &e);
        } else if (rep.kind == NR_RELOAD_UNCHANGED) {
            sum->unchanged++;
        } else {
            sum->reloaded++;
            sum->recorded += rep.kind == NR_RELOAD_RECORDED;
            sum->in_place += rep.kind == NR_RELOAD_IN_PLACE;
            sum->new_pool += rep.kind == NR_RELOAD_NEW_POOL;
            say(sum, "  reloaded %s: %s: %s\n", s.id, nr_reload_kind_name(rep.kind), rep.changes);
        }
    }
}

/* Switch the manager's provider to cf's credentials, then re-read each ref
 * a resource of cf uses: the resources whose secret changed get the new one
 * (their old instances are retired), the others keep theirs. */
static void switch_credentials(cli_app *app, nr_config_file *cf, cli_reload_summary *sum,
                               int *first, nr_error *err)
{
    pthread_mutex_lock(&app->cred_mu);
    app->cur = cf;
    pthread_mutex_unlock(&app->cred_mu);
    size_t n = nr_config_file_resource_count(cf);
    for (size_t i = 0; i < n; i++) {
        nr_resource_spec s = NR_RESOURCE_SPEC_INIT;
        nr_config_file_resource(cf, i, &s, NULL);
        if (!s.credential_ref)
            continue;
        int seen = 0; /* each ref once */
        for (size_t k = 0; k < i && !seen; k++) {
            nr_resource_spec o = NR_RESOURCE_SPEC_INIT;
            nr_config_file_resource(cf, k, &o, NULL);
            seen = o.credential_ref && strcmp(o.credential_ref, s.credential_ref) == 0;
        }
        if (seen)
            continue;
        nr_error e = {0};
        uint32_t changed = 0;
        int rc = nr_manager_reread_credential(app->m, s.credential_ref, &changed, &e);
        if (rc == NR_ENOTFOUND) /* no resource of the manager uses it yet */
            continue;
        if (rc != NR_OK) {
            sum->failed++;
            say(sum, "  FAILED to re-read credential %s: %s: %s\n", s.credential_ref,
                nr_err_name(rc), e.message);
            note_failure(first, err, rc, &e);
        } else if (changed) {
            sum->credentials_rotated++;
            say(sum, "  credential %s changed: rotated into %u resource(s)\n", s.credential_ref,
                changed);
        }
    }
}

int cli_app_reload(cli_app *app, const char *file, cli_reload_summary *sum, nr_error *err)
{
    memset(sum, 0, sizeof(*sum));
    pthread_mutex_lock(&app->reload_mu);
    char *buf = NULL;
    size_t len = 0;
    FILE *problems = open_memstream(&buf, &len);
    nr_config_file *cf =
        problems ? cli_config_load(file, true, problems, "; nothing changed") : NULL;
    if (problems)
        fclose(problems);
    if (!cf) {
        say(sum, "%s", buf ? buf : "the file cannot be read\n");
        free(buf);
        sum->refused = true;
        pthread_mutex_unlock(&app->reload_mu);
        return nr_error_set(err, NR_ECONFIG, NULL,
                            "reload of %s: the file has problems; nothing "
                            "changed",
                            file);
    }
    free(buf);
    pthread_mutex_lock(&app->cred_mu);
    nr_config_file *old = app->cur; /* only this thread changes it (reload_mu) */
    pthread_mutex_unlock(&app->cred_mu);
    const char *fixed = !same_manager(old, cf)    ? "manager"
                        : !same_http(old, cf)     ? "http"
                        : !same_shutdown(old, cf) ? "shutdown"
                        : !same_hooks(old, cf)    ? "hooks"
                        : !same_groups(old, cf)   ? "groups"
                                                  : NULL;
    char fwhy[200];
    if (!fixed && fleet_fixed(old, cf, fwhy, sizeof(fwhy))) {
        say(sum,
            "%s: %s; only fleet.budget can change while running (restart to change the "
            "rest); nothing changed\n",
            file, fwhy);
        nr_config_file_free(cf);
        sum->refused = true;
        pthread_mutex_unlock(&app->reload_mu);
        return nr_error_set(err, NR_EINVAL, NULL, "reload of %s: %s; nothing changed", file, fwhy);
    }
    if (fixed) {
        say(sum,
            "%s: the \"%s\" section changed; it cannot change while running (restart to "
            "change it); nothing changed\n",
            file, fixed);
        nr_config_file_free(cf);
        sum->refused = true;
        pthread_mutex_unlock(&app->reload_mu);
        return nr_error_set(err, NR_EINVAL, NULL,
                            "reload of %s: the \"%s\" section cannot change while running; "
                            "nothing changed",
                            file, fixed);
    }
    int first = NR_OK;
    /* the new credentials first, so that added resources find their refs */
    remove_gone(app, old, cf, sum, &first, err);
    switch_credentials(app, cf, sum, &first, err);
    add_and_reload(app, old, cf, sum, &first, err);
    if (old != app->cf) /* no longer the provider's (switch_credentials) */
        nr_config_file_free(old);
    char totals[200];
    snprintf(totals, sizeof(totals),
             "%zu added, %zu removed, %zu reloaded, %zu unchanged, %zu credential(s) rotated, "
             "%zu failed",
             sum->added, sum->removed, sum->reloaded, sum->unchanged, sum->credentials_rotated,
             sum->failed);
    say(sum, "%s\n", totals);
    if (app->bus) {
        nr_event ev;
        nr_event_init(&ev, NR_EV_RELOADED, NULL);
        ev.count = (int64_t)(sum->added + sum->removed + sum->reloaded);
        ev.error_code = first;
        nr_event_set_text(&ev, totals);
        nr_event_publish(app->bus, &ev);
    }
    pthread_mutex_unlock(&app->reload_mu);
    return first;
}

/* ---- printed, and added up ---- */

int cli_app_reload_print(cli_app *app, const char *file, const char *why, FILE *out,
                         cli_reload_summary *sum, nr_error *err)
{
    fprintf(out, "reload: %s: re-reading %s\n", why, file);
    fflush(out);
    int rc = cli_app_reload(app, file, sum, err);
    fputs(sum->text, out);
    if (rc != NR_OK)
        fprintf(out, "reload: %s: %s\n", nr_err_name(rc), err->message);
    else
        fprintf(out, "reload: done\n");
    fflush(out);
    return rc;
}

void cli_reload_tally_add(cli_reload_tally *t, const cli_reload_summary *sum)
{
    t->reloads++;
    if (sum->refused) { /* nothing changed, no step counted */
        t->refused++;
        return;
    }
    t->with_failures += sum->failed > 0;
    t->added += sum->added;
    t->removed += sum->removed;
    t->unchanged += sum->unchanged;
    t->recorded += sum->recorded;
    t->in_place += sum->in_place;
    t->new_pool += sum->new_pool;
    t->failed += sum->failed;
    t->credentials_rotated += sum->credentials_rotated;
}

void cli_reload_tally_format(const cli_reload_tally *t, char *buf, size_t len)
{
    snprintf(buf, len,
             "%zu (%zu applied, %zu refused, %zu with failed steps): %zu in place, %zu new pool, "
             "%zu recorded, %zu unchanged, %zu added, %zu removed, %zu credential(s) rotated, "
             "%zu failed",
             t->reloads, t->reloads - t->refused, t->refused, t->with_failures, t->in_place,
             t->new_pool, t->recorded, t->unchanged, t->added, t->removed, t->credentials_rotated,
             t->failed);
}
