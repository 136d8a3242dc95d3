/* fake_type.c - the counting, fault-injecting resource type used by unit tests. */
#include "fake_type.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const nr_field fake_fields[] = {
    {.name = "label",
     .type = NR_FT_STRING,
     .offset = offsetof(nr_fake_config, label),
     .max = 32,
     .def_str = "fake",
     .doc = "free text"},
    {.name = "weight",
     .type = NR_FT_INT,
     .offset = offsetof(nr_fake_config, weight),
     .min = 0,
     .max = 100,
     .def_int = 1,
     .doc = "a number with a range"},
    {.name = "token",
     .type = NR_FT_SECRET,
     .offset = offsetof(nr_fake_config, token),
     .doc = "a secret"},
};

const nr_config_schema nr_fake_config_schema = {
    .name = "fake",
    .struct_size = sizeof(nr_fake_config),
    .fields = fake_fields,
    .nfields = sizeof(fake_fields) / sizeof(fake_fields[0]),
};

void nr_fake_init(nr_fake *f)
{
    memset(f, 0, sizeof(*f));
    atomic_store(&f->health, NR_HEALTH_HEALTHY);
}

void nr_fake_script(nr_fake *f, uint64_t serial, nr_health_state state)
{
    atomic_store(&f->health_of[serial % NR_FAKE_SCRIPTED], NR_FAKE_STATE(state));
}

void nr_fake_script_clear(nr_fake *f)
{
    for (int i = 0; i < NR_FAKE_SCRIPTED; i++)
        atomic_store(&f->health_of[i], 0);
}

static int fake_create(void **out, const void *config, const nr_create_ctx *ctx, void *ud,
                       nr_error *err)
{
    nr_fake *f = ud;
    if (f->on_call)
        f->on_call("create", f->on_call_arg);
    long call = atomic_fetch_add(&f->create_calls, 1) + 1;
    long delay = atomic_load(&f->create_delay_ns);
    /* sleeps in slices, giving up when the create is cancelled */
    for (long slept = 0; slept < delay; slept += NR_NS_PER_MS) {
        if (ctx->cancel && nr_cancel_is_set(ctx->cancel)) {
            atomic_fetch_add(&f->create_canceled, 1);
            return nr_error_set(err, NR_ECANCELED, ctx->resource_id, "fake create canceled");
        }
        nr_sleep_ns(delay - slept < NR_NS_PER_MS ? delay - slept : NR_NS_PER_MS);
    }
    int every = atomic_load(&f->create_fail_every);
    if (atomic_load(&f->fail_create) || (every > 0 && call % every == 0))
        return nr_error_set_cause(err, NR_EUNAVAIL, NR_OK, 42, ctx->resource_id,
                                  "fake create refused (call %ld)", call);
    nr_fake_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return nr_error_set(err, NR_ENOMEM, ctx->resource_id, "fake handle");
    h->magic = NR_FAKE_MAGIC;
    h->weight = ((const nr_fake_config *)config)->weight;
    h->serial = (uint64_t)atomic_fetch_add(&f->creates, 1) + 1;
    h->credential_len = ctx->credential ? (int)nr_secret_len(ctx->credential) : -1;
    if (ctx->credential)
        snprintf(h->credential, sizeof(h->credential), "%s",
                 nr_secret_reveal(ctx->credential, NULL));
    atomic_fetch_add(&f->live, 1);
    *out = h;
    return NR_OK;
}

static void fake_destroy(void *handle, void *ud)
{
    nr_fake *f = ud;
    if (f->on_call)
        f->on_call("destroy", f->on_call_arg);
    nr_fake_handle *h = handle;
    if (h->magic != NR_FAKE_MAGIC)
        abort(); /* destroyed twice or never created */
    int now = atomic_fetch_add(&f->destroying_now, 1) + 1;
    for (int peak = atomic_load(&f->destroying_max);
         now > peak && !atomic_compare_exchange_weak(&f->destroying_max, &peak, now);) {
    }
    long delay = atomic_load(&f->destroy_delay_ns);
    if (delay)
        nr_sleep_ns(delay);
    atomic_fetch_sub(&f->destroying_now, 1);
    h->magic = NR_FAKE_DEAD;
    atomic_fetch_add(&f->destroys, 1);
    atomic_fetch_sub(&f->live, 1);
    free(h);
}

static int fake_validate(void *handle, void *ud, nr_error *err)
{
    nr_fake *f = ud;
    if (f->on_call)
        f->on_call("validate", f->on_call_arg);
    nr_fake_handle *h = handle;
    if (h->magic != NR_FAKE_MAGIC)
        abort();
    atomic_fetch_add(&f->validates, 1);
    if (atomic_load(&f->fail_validate))
        return nr_error_set(err, NR_EUNAVAIL, NULL, "fake validate refused");
    return NR_OK;
}

static int fake_recycle(void *handle, void *ud, nr_error *err)
{
    nr_fake *f = ud;
    if (f->on_call)
        f->on_call("recycle", f->on_call_arg);
    nr_fake_handle *h = handle;
    if (h->magic != NR_FAKE_MAGIC)
        abort();
    atomic_fetch_add(&f->recycles, 1);
    atomic_store(&h->dirty, 0);
    if (atomic_load(&f->fail_recycle))
        return nr_error_set(err, NR_EUNAVAIL, NULL, "fake recycle refused");
    return NR_OK;
}

static int fake_health(void *handle, void *ud, nr_deadline deadline, nr_health_report *report,
                       nr_error *err)
{
    nr_fake *f = ud;
    nr_fake_handle *h = handle;
    if (h->magic != NR_FAKE_MAGIC)
        abort();
    atomic_store(&f->health_serial, h->serial);
    int at = atomic_fetch_add(&f->check_log_n, 1);
    if (at < NR_FAKE_LOG)
        atomic_store(&f->check_log[at], h->serial);
    if (f->on_call)
        f->on_call("health", f->on_call_arg);
    atomic_fetch_add(&f->health_checks, 1);
    /* a check runs on an instance nobody holds: tests stamp holders while they do */
    if (atomic_fetch_add(&h->holders, 1) != 0)
        atomic_fetch_add(&f->check_overlaps, 1);
    long delay = atomic_load(&f->health_delay_ns);
    if (delay) {
        int64_t left = nr_deadline_remaining_ns(deadline);
        nr_sleep_ns(delay < left ? delay : left);
        if (delay >= left) {
            atomic_fetch_sub(&h->holders, 1);
            return nr_error_set(err, NR_ETIMEDOUT, NULL, "fake health check timed out");
        }
    }
    int scripted = atomic_load(&f->health_of[h->serial % NR_FAKE_SCRIPTED]);
    atomic_fetch_sub(&h->holders, 1);
    report->state =
        scripted ? (nr_health_state)(scripted - 1) : (nr_health_state)atomic_load(&f->health);
    if (report->state != NR_HEALTH_HEALTHY)
        strcpy(report->reason, "fake says so");
    return NR_OK;
}

const nr_resource_type nr_fake_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "fake",
    .config_schema = &nr_fake_config_schema,
    .create = fake_create,
    .destroy = fake_destroy,
    .validate = fake_validate,
    .recycle = fake_recycle,
    .health_check = fake_health,
};
