/*
 * admin.c - the admin server's options, start and stop, phase and note.
 * See nebula/admin.h.
 */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/abi.h"
#include "admin_internal.h"
#include "nebula/time.h"

const char *nr_admin_phase_name(nr_admin_phase p)
{
    switch (p) {
    case NR_ADMIN_STARTING:
        return "starting";
    case NR_ADMIN_RUNNING:
        return "running";
    case NR_ADMIN_SHUTTING_DOWN:
        return "shutting_down";
    case NR_ADMIN_STOPPED:
        return "stopped";
    }
    return "unknown";
}

/* The size rule of docs/ABI.md (base/abi.h). */
static int options_in(nr_admin_options *local, const nr_admin_options *in, nr_error *err)
{
    return nr__abi_in(local, sizeof(*local), in, "nr_admin_options", "NR_ADMIN_OPTIONS_INIT", err);
}

static void defaults(nr_admin_options *o);

void nr_admin_options_default(nr_admin_options *o)
{
    nr_admin_options d;
    defaults(&d);
    nr__abi_default(o, &d, sizeof(d));
}

static void defaults(nr_admin_options *o)
{
    memset(o, 0, sizeof(*o));
    o->size = sizeof(*o);
    o->listen = "127.0.0.1";
    o->program = "nebula-resource";
    o->mode = "embedded";
    o->phase = NR_ADMIN_RUNNING;
    o->request_timeout_ms = 10000;
    o->max_connections = 64;
    o->sample_interval_ms = 1000;
    o->history = 300;
}

static int check_options(const nr_admin_options *o, nr_error *err)
{
    if (o->port < 0 || o->port > 65535)
        return nr_error_set(err, NR_EINVAL, NULL, "admin: port must be 0..65535 (got %d)", o->port);
    if (o->request_timeout_ms < 100 || o->request_timeout_ms > 600000)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "admin: request_timeout_ms must be 100..600000 (got %lld)",
                            (long long)o->request_timeout_ms);
    if (o->max_connections < 1 || o->max_connections > 10000)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "admin: max_connections must be 1..10000 (got %u)", o->max_connections);
    if (o->sample_interval_ms < 100 || o->sample_interval_ms > 60000)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "admin: sample_interval_ms must be 100..60000 (got %lld)",
                            (long long)o->sample_interval_ms);
    if (o->history < 2 || o->history > 3600)
        return nr_error_set(err, NR_EINVAL, NULL, "admin: history must be 2..3600 (got %u)",
                            o->history);
    if ((unsigned)o->phase > NR_ADMIN_STOPPED)
        return nr_error_set(err, NR_EINVAL, NULL, "admin: phase must be one of nr_admin_phase");
    if (o->token_ref && !o->credentials)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "admin: token_ref '%s' needs a credential provider (credentials)",
                            o->token_ref);
    return NR_OK;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static void admin_free(nr_admin *a)
{
    free(a->listen);
    free(a->program);
    free(a->mode);
    free(a->token_ref);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

int nr_admin_start(nr_admin **out, nr_manager *m, const nr_admin_options *opts, nr_error *err)
{
    *out = NULL;
    nr_admin_options def = NR_ADMIN_OPTIONS_INIT;
    if (!opts) {
        nr_admin_options_default(&def);
    } else {
        int rc = options_in(&def, opts, err);
        if (rc != NR_OK)
            return rc;
    }
    opts = &def;
    if (!m)
        return nr_error_set(err, NR_EINVAL, NULL, "admin: no manager");
    int rc = check_options(opts, err);
    if (rc != NR_OK)
        return rc;
    nr_admin *a = calloc(1, sizeof(*a));
    if (!a)
        return nr_error_set(err, NR_ENOMEM, NULL, "admin: out of memory");
    pthread_mutex_init(&a->mu, NULL);
    a->m = m;
    a->o = *opts;
    bool oom = false;
    a->listen = dup_or_null(opts->listen ? opts->listen : "127.0.0.1", &oom);
    a->program = dup_or_null(opts->program ? opts->program : "nebula-resource", &oom);
    a->mode = dup_or_null(opts->mode ? opts->mode : "embedded", &oom);
    a->token_ref = dup_or_null(opts->token_ref, &oom);
    if (oom) {
        admin_free(a);
        return nr_error_set(err, NR_ENOMEM, NULL, "admin: out of memory");
    }
    a->o.listen = a->listen;
    a->o.program = a->program;
    a->o.mode = a->mode;
    a->o.token_ref = a->token_ref;
    a->started_ns = nr_now_ns();
    a->started_wall_ms = nr_wall_ms();
    atomic_init(&a->phase, (int)opts->phase);
    if (opts->events) {
        if ((rc = admin_ring_start(&a->ring, opts->events, err)) != NR_OK) {
            admin_free(a);
            return rc;
        }
        a->ring_on = true;
    }
    if ((rc = admin_history_start(a, err)) != NR_OK) {
        if (a->ring_on)
            admin_ring_stop(&a->ring);
        admin_free(a);
        return rc;
    }
    if ((rc = admin_http_start(a, err)) != NR_OK) {
        admin_history_stop(a);
        if (a->ring_on)
            admin_ring_stop(&a->ring);
        admin_free(a);
        return rc;
    }
    *out = a;
    return NR_OK;
}

int nr_admin_port(const nr_admin *a)
{
    return a ? a->port : 0;
}

void nr_admin_set_phase(nr_admin *a, nr_admin_phase p)
{
    if (a && (unsigned)p <= NR_ADMIN_STOPPED)
        atomic_store(&a->phase, (int)p);
}

void nr_admin_set_note(nr_admin *a, const char *note)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    size_t n = note ? strlen(note) : 0;
    if (n >= sizeof(a->note)) {
        n = sizeof(a->note) - 1;
        while (n > 0 && ((unsigned char)note[n] & 0xC0) == 0x80)
            n--; /* not inside a UTF-8 sequence */
    }
    if (n)
        memcpy(a->note, note, n);
    a->note[n] = '\0';
    pthread_mutex_unlock(&a->mu);
}

int64_t admin_wall_ms(const nr_admin *a, int64_t mono_ns)
{
    return a->started_wall_ms + (mono_ns - a->started_ns) / 1000000;
}

void nr_admin_stop(nr_admin *a)
{
    if (!a)
        return;
    admin_http_stop(a); /* no /status reads the history after this */
    admin_history_stop(a);
    if (a->ring_on)
        admin_ring_stop(&a->ring);
    admin_free(a);
}
