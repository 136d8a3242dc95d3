/* mock_type.c - the mock's callbacks: count, obey the script, stamp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_internal.h"
#include "nebula/cancel.h"
#include "nebula/time.h"

static void called(nr_mock *m, const char *what)
{
    if (m->on_call)
        m->on_call(what, m->on_call_arg);
}

/* The handle when it is a live mock handle; NULL (counted) when it was
 * destroyed already or never was the mock's. */
static nr_mock_handle *live_handle(nr_mock *m, void *handle)
{
    nr_mock_handle *h = handle;
    if (!nr_mock_handle_alive(h)) {
        atomic_fetch_add(&m->stale_calls, 1);
        return NULL;
    }
    return h;
}

static int stale(nr_error *err, const char *op)
{
    return nr_error_set(err, NR_ESTATE, NULL, "mock %s: not a live mock handle", op);
}

static bool canceled(const nr_create_ctx *ctx)
{
    return ctx->cancel && nr_cancel_is_set(ctx->cancel);
}

/* Sleeps `delay` in 1 ms slices; NR_ECANCELED as soon as the create is
 * cancelled. */
static int create_sleep(nr_mock *m, long delay, const nr_create_ctx *ctx, nr_error *err)
{
    for (long slept = 0; slept < delay; slept += NR_NS_PER_MS) {
        if (canceled(ctx)) {
            atomic_fetch_add(&m->create_canceled, 1);
            return nr_error_set(err, NR_ECANCELED, ctx->resource_id, "mock create canceled");
        }
        nr_sleep_ns(delay - slept < NR_NS_PER_MS ? delay - slept : NR_NS_PER_MS);
    }
    return NR_OK;
}

/* While create_hang is set: until the token is set or the deadline passes. */
static int create_hang(nr_mock *m, const nr_create_ctx *ctx, nr_error *err)
{
    while (atomic_load(&m->create_hang)) {
        if (canceled(ctx)) {
            atomic_fetch_add(&m->create_canceled, 1);
            return nr_error_set(err, NR_ECANCELED, ctx->resource_id, "mock create canceled");
        }
        if (nr_deadline_expired(ctx->deadline)) {
            atomic_fetch_add(&m->create_timedout, 1);
            return nr_error_set(err, NR_ETIMEDOUT, ctx->resource_id,
                                "mock create hung until its deadline");
        }
        nr_sleep_ns(NR_NS_PER_MS);
    }
    return NR_OK;
}

static int mock_create(void **out, const void *config, const nr_create_ctx *ctx, void *ud,
                       nr_error *err)
{
    nr_mock *m = ud;
    called(m, "create");
    long call = atomic_fetch_add(&m->create_calls, 1) + 1;
    int rc = create_sleep(m, atomic_load(&m->create_delay_ns), ctx, err);
    if (rc == NR_OK)
        rc = create_hang(m, ctx, err);
    if (rc != NR_OK)
        return rc;
    if (atomic_load(&m->fail_create) || nr_mock_would_fail(m, NR_MOCK_CREATE, call))
        return nr_error_set_cause(err, NR_EUNAVAIL, NR_OK, 42, ctx->resource_id,
                                  "mock create refused (call %ld)", call);
    nr_mock_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return nr_error_set(err, NR_ENOMEM, ctx->resource_id, "mock handle");
    h->magic = NR_MOCK_MAGIC;
    h->weight = config ? ((const nr_mock_config *)config)->weight : 1;
    h->serial = (uint64_t)atomic_fetch_add(&m->creates, 1) + 1;
    h->credential_len = ctx->credential ? (int)nr_secret_len(ctx->credential) : -1;
    if (ctx->credential)
        snprintf(h->credential, sizeof(h->credential), "%s",
                 nr_secret_reveal(ctx->credential, NULL));
    atomic_fetch_add(&m->live, 1);
    *out = h;
    return NR_OK;
}

static void mock_destroy(void *handle, void *ud)
{
    nr_mock *m = ud;
    called(m, "destroy");
    nr_mock_handle *h = live_handle(m, handle);
    if (!h)
        return; /* not ours to free */
    int now = atomic_fetch_add(&m->destroying_now, 1) + 1;
    for (int peak = atomic_load(&m->destroying_max);
         now > peak && !atomic_compare_exchange_weak(&m->destroying_max, &peak, now);) {
    }
    long delay = atomic_load(&m->destroy_delay_ns);
    if (delay)
        nr_sleep_ns(delay);
    atomic_fetch_sub(&m->destroying_now, 1);
    h->magic = NR_MOCK_DEAD;
    atomic_fetch_add(&m->destroys, 1);
    atomic_fetch_sub(&m->live, 1);
    free(h);
}

static int mock_validate(void *handle, void *ud, nr_error *err)
{
    nr_mock *m = ud;
    called(m, "validate");
    if (!live_handle(m, handle))
        return stale(err, "validate");
    long call = atomic_fetch_add(&m->validates, 1) + 1;
    if (atomic_load(&m->fail_validate) || nr_mock_would_fail(m, NR_MOCK_VALIDATE, call))
        return nr_error_set(err, NR_EUNAVAIL, NULL, "mock validate refused");
    return NR_OK;
}

static int mock_recycle(void *handle, void *ud, nr_error *err)
{
    nr_mock *m = ud;
    called(m, "recycle");
    nr_mock_handle *h = live_handle(m, handle);
    if (!h)
        return stale(err, "recycle");
    long call = atomic_fetch_add(&m->recycles, 1) + 1;
    atomic_store(&h->dirty, 0);
    if (atomic_load(&m->fail_recycle) || nr_mock_would_fail(m, NR_MOCK_RECYCLE, call))
        return nr_error_set(err, NR_EUNAVAIL, NULL, "mock recycle refused");
    return NR_OK;
}

/* The state check number `call` (0-based) on h reports: the per-call
 * sequence, then the instance's script, then the default. */
static nr_health_state scripted_state(nr_mock *m, const nr_mock_handle *h, long call)
{
    int n = atomic_load(&m->health_seq_n);
    long k = call - atomic_load(&m->health_seq_base);
    if (k >= 0 && k < n)
        return (nr_health_state)atomic_load(&m->health_seq[k]);
    int scripted = atomic_load(&m->health_of[h->serial % NR_MOCK_SCRIPTED]);
    if (scripted)
        return (nr_health_state)(scripted - 1);
    return (nr_health_state)atomic_load(&m->health);
}

static int mock_health(void *handle, void *ud, nr_deadline deadline, nr_health_report *report,
                       nr_error *err)
{
    nr_mock *m = ud;
    nr_mock_handle *h = live_handle(m, handle);
    if (!h)
        return stale(err, "health");
    atomic_store(&m->health_serial, h->serial);
    int at = atomic_fetch_add(&m->check_log_n, 1);
    if (at < NR_MOCK_LOG)
        atomic_store(&m->check_log[at], h->serial);
    called(m, "health");
    long call = atomic_fetch_add(&m->health_checks, 1);
    /* a check runs on an instance nobody holds: tests stamp holders while they do */
    if (atomic_fetch_add(&h->holders, 1) != 0)
        atomic_fetch_add(&m->check_overlaps, 1);
    long delay = atomic_load(&m->health_delay_ns);
    if (delay) {
        int64_t left = nr_deadline_remaining_ns(deadline);
        nr_sleep_ns(delay < left ? delay : left);
        if (delay >= left) {
            atomic_fetch_sub(&h->holders, 1);
            return nr_error_set(err, NR_ETIMEDOUT, NULL, "mock health check timed out");
        }
    }
    nr_health_state st = scripted_state(m, h, call);
    atomic_fetch_sub(&h->holders, 1);
    report->state = st;
    if (st != NR_HEALTH_HEALTHY)
        strcpy(report->reason, "mock says so");
    return NR_OK;
}

const nr_resource_type nr_mock_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "mock",
    .config_schema = &nr_mock_config_schema,
    .create = mock_create,
    .destroy = mock_destroy,
    .validate = mock_validate,
    .recycle = mock_recycle,
    .health_check = mock_health,
};
