/*
 * fleet.c - a fleet budget's options, life and stats (nebula/fleet.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/abi.h"
#include "fleet_internal.h"
#include "nebula/alloc.h"

#define FLEET_MAGIC 0x466c6565u /* "Flee" */

const char *nr_fleet_mode_name(nr_fleet_mode m)
{
    switch (m) {
    case NR_FLEET_FAIL_CLOSED:
        return "fail_closed";
    case NR_FLEET_FAIL_OPEN:
        return "fail_open";
    }
    return "unknown";
}

/* Copy s (NULL = dflt) into out; NR_ECONFIG naming field when empty or too long. */
static int copy_str(char *out, size_t n, const char *s, const char *dflt, const char *res,
                    const char *field, int required, nr_error *err)
{
    if (!s)
        s = dflt;
    if (!s || !*s) {
        if (!required) {
            out[0] = '\0';
            return NR_OK;
        }
        return nr_error_set(err, NR_ECONFIG, res, "fleet '%s': %s: required", res ? res : "",
                            field);
    }
    if (strlen(s) >= n)
        return nr_error_set(err, NR_ECONFIG, res, "fleet '%s': %s: at most %zu bytes (got %zu)",
                            res ? res : "", field, n - 1, strlen(s));
    memcpy(out, s, strlen(s) + 1);
    return NR_OK;
}

static int range(int64_t v, int64_t lo, int64_t hi, const char *res, const char *field,
                 nr_error *err)
{
    if (v < lo || v > hi)
        return nr_error_set(err, NR_ECONFIG, res,
                            "fleet '%s': %s: must be between %lld and %lld (got %lld)", res, field,
                            (long long)lo, (long long)hi, (long long)v);
    return NR_OK;
}

static int read_options(nr__fleet_cfg *c, const nr_fleet_options *o, nr_error *err)
{
    char host[200];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "host");
    host[sizeof(host) - 1] = '\0';
    /* a nonce too: two processes may share a host name and a pid (containers) */
    unsigned nonce = (unsigned)nr_now_ns() ^ ((unsigned)getpid() << 16);
    FILE *ur = fopen("/dev/urandom", "rb");
    if (ur) {
        if (fread(&nonce, sizeof(nonce), 1, ur) != 1)
            nonce ^= (unsigned)nr_wall_ms();
        fclose(ur);
    }
    char proc[256];
    snprintf(proc, sizeof(proc), "%.100s:%ld:%08x", host, (long)getpid(), nonce);
    int rc =
        copy_str(c->resource, sizeof(c->resource), o->resource, NULL, NULL, "resource", 1, err);
    const char *res = c->resource;
    if (!rc)
        rc = copy_str(c->prefix, sizeof(c->prefix), o->prefix, "nebula", res, "prefix", 1, err);
    if (!rc)
        rc = copy_str(c->process, sizeof(c->process), o->process_id, proc, res, "process_id", 1,
                      err);
    if (!rc)
        rc = copy_str(c->host, sizeof(c->host), o->redis_host, "127.0.0.1", res, "redis_host", 1,
                      err);
    if (!rc)
        rc = copy_str(c->socket, sizeof(c->socket), o->redis_socket, NULL, res, "redis_socket", 0,
                      err);
    if (!rc)
        rc = copy_str(c->user, sizeof(c->user), o->redis_user, NULL, res, "redis_user", 0, err);
    if (!rc)
        rc = copy_str(c->cred_ref, sizeof(c->cred_ref), o->credential_ref, NULL, res,
                      "credential_ref", 0, err);
    if (rc)
        return rc;
    if (c->cred_ref[0] && (!o->credentials || !o->credentials->fetch))
        return nr_error_set(err, NR_ECONFIG, res,
                            "fleet '%s': credential_ref: needs credentials with a fetch", res);
    if (c->cred_ref[0] && o->redis_password)
        return nr_error_set(err, NR_ECONFIG, res,
                            "fleet '%s': redis_password: not with credential_ref (one source)",
                            res);
    c->port = o->redis_port ? o->redis_port : 6379;
    c->ttl_ms = o->lease_ttl_ms ? o->lease_ttl_ms : 10000;
    c->renew_ms = o->renew_interval_ms ? o->renew_interval_ms : c->ttl_ms / 4;
    c->release_after_ms = o->release_after_ms ? o->release_after_ms : 5000;
    c->timeout_ms = o->redis_timeout_ms ? o->redis_timeout_ms : 500;
    c->init_budget = o->budget;
    c->min_per_process = o->min_per_process;
    c->mode = o->on_redis_down;
    if ((rc = range(c->port, 1, 65535, res, "redis_port", err)) ||
        (rc = range(c->ttl_ms, 1000, 3600000, res, "lease_ttl_ms", err)) ||
        (rc = range(c->renew_ms, 10, c->ttl_ms / 2, res, "renew_interval_ms", err)) ||
        (rc = range(c->release_after_ms, -1, 3600000, res, "release_after_ms", err)) ||
        (rc = range(c->timeout_ms, 10, 60000, res, "redis_timeout_ms", err)))
        return rc;
    if (c->timeout_ms >= c->renew_ms)
        return nr_error_set(err, NR_ECONFIG, res,
                            "fleet '%s': redis_timeout_ms: must be below renew_interval_ms "
                            "(%lld) (got %lld)",
                            res, (long long)c->renew_ms, (long long)c->timeout_ms);
    if (c->mode != NR_FLEET_FAIL_CLOSED && c->mode != NR_FLEET_FAIL_OPEN)
        return nr_error_set(err, NR_ECONFIG, res,
                            "fleet '%s': on_redis_down: must be fail_closed or fail_open (got %d)",
                            res, (int)c->mode);
    if (o->credentials)
        c->creds = *o->credentials;
    if (o->redis_password && (rc = nr_secret_dup(&c->password, o->redis_password, err)))
        return rc;
    return nr__fleet_keys(c, err);
}

static void fleet_free(nr_fleet *f)
{
    nr__fleet_disconnect(&f->conn);
    nr_budget_destroy(f->local, NULL);
    nr_secret_free(f->cfg.password);
    pthread_mutex_destroy(&f->mu);
    f->magic = 0;
    nr_free(f);
}

int nr_fleet_create(nr_fleet **out, const nr_fleet_options *opts, nr_error *err)
{
    if (!out || !opts)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_fleet_create: out and opts must not be NULL");
    *out = NULL;
    nr_fleet_options o;
    int rc = NR__ABI_IN(&o, opts, nr_fleet_options, NR_FLEET_OPTIONS_INIT, err);
    if (rc)
        return rc;
    nr_fleet *f = nr_calloc(1, sizeof(*f));
    if (!f)
        return nr_error_set(err, NR_ENOMEM, o.resource, "fleet: out of memory");
    pthread_mutex_init(&f->mu, NULL);
    f->magic = FLEET_MAGIC;
    f->events = o.events;
    rc = read_options(&f->cfg, &o, err);
    if (!rc)
        rc = nr_budget_create(&f->local, 0, err);
    if (!rc)
        rc = nr__fleet_metrics_init(f, o.metrics, err);
    if (!rc) {
        /* the first contact must succeed: it reads the budget, registers us;
         * it asks for nothing: a grace comes first (fleet_agent.c), waited
         * here, and then the minimum (the step after it) */
        nr_error e;
        nr_error_clear(&e);
        nr__fleet_reply r;
        int64_t sent = nr_now_ns();
        rc = nr__fleet_sync(&f->cfg, &f->conn, 0, 0, 0, &r, &e);
        if (rc)
            nr_error_set_cause(err, rc, e.cause ? e.cause : rc, 0, f->cfg.resource, "%s",
                               e.message);
        else
            nr__fleet_went_up(f, &r, sent);
    }
    if (!rc) {
        for (int64_t left; (left = f->grace_until_ns - nr_now_ns()) > 0;) {
            struct timespec ts = {left / 1000000000, left % 1000000000};
            nanosleep(&ts, NULL);
        }
        nr__fleet_step(f); /* a failure is the agent's to retry, as any */
    }
    if (!rc) {
        if (pthread_create(&f->thread, NULL, nr__fleet_agent_main, f) != 0) {
            rc = nr_error_set(err, NR_EINIT, f->cfg.resource,
                              "fleet '%s': cannot start the agent thread", f->cfg.resource);
            nr__fleet_sync(&f->cfg, &f->conn, 0, 0, NR__FLEET_LEAVE, &f->last, NULL);
        } else {
            f->thread_started = 1;
        }
    }
    if (rc) {
        fleet_free(f);
        return rc;
    }
    *out = f;
    return NR_OK;
}

int nr_fleet_destroy(nr_fleet *f, nr_error *err)
{
    if (!f)
        return NR_OK;
    nr_budget_counts c = NR_BUDGET_COUNTS_INIT;
    nr_budget_get_counts(f->local, &c);
    if (c.pools)
        return nr_error_set(err, NR_EBUSY, f->cfg.resource,
                            "fleet '%s': %u pool(s) still in its budget", f->cfg.resource, c.pools);
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_mutex_unlock(&f->mu);
    nr_budget_wake(f->local);
    if (f->thread_started)
        pthread_join(f->thread, NULL);
    nr__fleet_reply r;
    /* every lease back; when Redis is away they expire within the TTL */
    (void)nr__fleet_sync(&f->cfg, &f->conn, 0, 0, NR__FLEET_LEAVE, &r, NULL);
    fleet_free(f);
    return NR_OK;
}

nr_budget *nr_fleet_budget(nr_fleet *f)
{
    return f->local;
}

int nr_fleet_set_budget(nr_fleet *f, uint32_t budget, nr_error *err)
{
    if (!f || f->magic != FLEET_MAGIC)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_fleet_set_budget: not a fleet budget");
    nr__fleet_conn conn = {NULL};
    int rc = nr__fleet_write_budget(&f->cfg, &conn, budget, err);
    nr__fleet_disconnect(&conn);
    if (rc == NR_OK)
        nr_budget_wake(f->local); /* the agent looks at once */
    return rc;
}

int nr_fleet_get_stats(nr_fleet *f, nr_fleet_stats *out)
{
    if (!f || !out || NR__ABI_OUT_CHECK(out, nr_fleet_stats, NR_FLEET_STATS_INIT, NULL) != NR_OK)
        return NR_EINVAL;
    nr_fleet_stats st;
    pthread_mutex_lock(&f->mu);
    st = f->st;
    pthread_mutex_unlock(&f->mu);
    st.size = sizeof(st);
    nr_budget_counts c = NR_BUDGET_COUNTS_INIT;
    nr_budget_get_counts(f->local, &c);
    st.local_limit = c.limit;
    st.local_held = c.held;
    st.local_wanted = c.wanted;
    nr__abi_out(out, &st, sizeof(st));
    return NR_OK;
}
