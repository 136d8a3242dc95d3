/* memcached_type.c - see memcached_type.h. */
#include "memcached_type.h"

#include <stdio.h>
#include <stdlib.h>

NR_CONFIG_SCHEMA(mc_config_schema, "memcached", mc_config, MC_CONFIG_FIELDS, NULL);

/* The shorter of a configured timeout and what is left until the deadline,
 * in ms, at least 1 (0 would mean "no timeout" to libmemcached). */
static uint64_t budget_ms(int64_t configured_ms, nr_deadline deadline)
{
    int64_t ms = configured_ms;
    if (nr_deadline_is_set(deadline)) {
        int64_t left = nr_deadline_remaining_ns(deadline) / NR_NS_PER_MS;
        if (left < ms)
            ms = left;
    }
    return ms < 1 ? 1 : (uint64_t)ms;
}

/* One round trip within timeout_ms: a get of a key nobody sets, which a
 * live server answers with "not found" (memcached_version would not do:
 * libmemcached asks a server its version once and then answers from what
 * it remembers). NR_OK, or NR_EUNAVAIL with libmemcached's message in why. */
#define PROBE_KEY "nebula-resource:probe"

static int round_trip(memcached_st *mc, uint64_t timeout_ms, char *why, size_t n)
{
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, timeout_ms);
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc = MEMCACHED_SUCCESS;
    free(memcached_get(mc, PROBE_KEY, sizeof(PROBE_KEY) - 1, &len, &flags, &rc));
    if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND)
        return NR_OK;
    snprintf(why, n, "%s", memcached_last_error_message(mc));
    return NR_EUNAVAIL;
}

static int mc_create(void **handle, const void *config, const nr_create_ctx *ctx, void *type_ud,
                     nr_error *err)
{
    (void)type_ud;
    const mc_config *c = config;
    const char *id = ctx->resource_id;
    if (ctx->credential)
        return nr_error_set(err, NR_ECRED, id,
                            "memcached '%s': a credential is configured, but memcached's text "
                            "protocol has no login: remove credential_ref",
                            id);
    if (nr_cancel_is_set(ctx->cancel))
        return nr_error_set(err, NR_ECANCELED, id, "memcached '%s': create canceled", id);
    memcached_st *mc = memcached_create(NULL);
    if (!mc)
        return nr_error_set(err, NR_ENOMEM, id, "memcached '%s': out of memory", id);
    /* non-blocking sockets: libmemcached honours the connect timeout only then */
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
                           budget_ms(c->connect_timeout_ms, ctx->deadline));
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, (uint64_t)c->retry_timeout_s);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, c->binary_protocol ? 1 : 0);
    if (c->key_prefix && c->key_prefix[0] &&
        !memcached_success(
            memcached_callback_set(mc, MEMCACHED_CALLBACK_NAMESPACE, c->key_prefix))) {
        int rc = nr_error_set(err, NR_ECONFIG, id, "memcached '%s': key_prefix refused: %s", id,
                              memcached_last_error_message(mc));
        memcached_free(mc);
        return rc;
    }
    if (!memcached_success(memcached_server_add(mc, c->host, (in_port_t)c->port))) {
        int rc = nr_error_set(err, NR_ECONFIG, id, "memcached '%s': server %s:%lld refused: %s", id,
                              c->host, (long long)c->port, memcached_last_error_message(mc));
        memcached_free(mc);
        return rc;
    }
    char why[200];
    int rc = round_trip(mc, budget_ms(c->io_timeout_ms, ctx->deadline), why, sizeof(why));
    if (rc != NR_OK) {
        rc = nr_error_set(err, nr_deadline_expired(ctx->deadline) ? NR_ETIMEDOUT : rc, id,
                          "memcached '%s': no answer from %s:%lld: %s", id, c->host,
                          (long long)c->port, why);
        memcached_free(mc);
        return rc;
    }
    /* later calls wait io_timeout_ms at most */
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, (uint64_t)c->io_timeout_ms);
    *handle = mc;
    return NR_OK;
}

static void mc_destroy(void *handle, void *type_ud)
{
    (void)type_ud;
    memcached_free(handle);
}

static int mc_health(void *handle, void *type_ud, nr_deadline deadline, nr_health_report *report,
                     nr_error *err)
{
    (void)type_ud;
    (void)err;
    memcached_st *mc = handle;
    uint64_t io_ms = memcached_behavior_get(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT);
    char why[NR_HEALTH_REASON_MAX - 24]; /* what the reason holds after its prefix */
    if (round_trip(mc, budget_ms((int64_t)io_ms, deadline), why, sizeof(why)) == NR_OK) {
        report->state = NR_HEALTH_HEALTHY;
    } else {
        report->state = NR_HEALTH_UNHEALTHY;
        snprintf(report->reason, sizeof(report->reason), "no answer to a get: %s", why);
    }
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, io_ms);
    return NR_OK;
}

const nr_resource_type mc_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "memcached",
    .config_schema = &mc_config_schema,
    .create = mc_create,
    .destroy = mc_destroy,
    .health_check = mc_health,
};
