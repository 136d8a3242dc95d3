/*
 * kafka_driver.c - nr_kafka_producer_type and nr_kafka_consumer_type:
 * create, validate, recycle, health check and destroy of one rd_kafka_t.
 *
 * Every wait is bounded: create's broker check by the create deadline and
 * health_timeout_ms, a health check by its deadline and health_timeout_ms,
 * recycle and destroy by flush_timeout_ms (producer) or close_timeout_ms
 * (consumer), so a cluster that is gone never makes a pool callback hang.
 */
#include <stdio.h>
#include <string.h>

#include "kafka_internal.h"
#include "nebula/alloc.h"
#include "nebula/cancel.h"
#include "nebula/trace.h"

/* Longest single wait inside a loop that also watches a deadline or token. */
#define SLICE_MS 200

/* Time after the purge in destroy for librdkafka to hand back the reports. */
#define PURGE_REPORT_MS 1000

const char nr__kafka_async_tag = 'a';

size_t nr__kafka_pending(const nr_kafka_client *c)
{
    /* librdkafka's count holds the driver's messages too, and requests */
    int q = rd_kafka_outq_len(c->rk);
    size_t n = q > 0 ? (size_t)q : 0;
    return n > c->in_flight ? n : (size_t)c->in_flight;
}

bool nr__kafka_client_ok(const nr_kafka_client *c, int kind)
{
    return c && c->magic == KAFKA_CLIENT_MAGIC && c->rk && (kind < 0 || (int)c->kind == kind);
}

int nr__kafka_map_err(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return NR_OK;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
        return NR_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
        return NR_ECRED;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
        return NR_EINVAL;
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        return NR_ENOTFOUND;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
        return NR_ECANCELED;
    default:
        return NR_EUNAVAIL;
    }
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Milliseconds to wait now: what is left of d, at most cap, at least 1. */
static int slice_ms(nr_deadline d, int64_t cap)
{
    int64_t left = nr_deadline_remaining_ns(d) / NR_NS_PER_MS;
    left = min64(left, cap);
    return left < 1 ? 1 : (int)left;
}

/* ---- librdkafka callbacks ------------------------------------------------------------ */

/* Log lines go to the trace sink, secrets replaced; never to stderr. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const nr_kafka_client *c = rd_kafka_opaque(rk);
    if (!c || c->magic != KAFKA_CLIENT_MAGIC || !buf)
        return;
    const char *hide[KAFKA_SECRETS_MAX];
    for (size_t i = 0; i < c->nsecrets; i++)
        hide[i] = nr_secret_reveal(c->secrets[i], NULL);
    char line[512];
    char text[512];
    snprintf(line, sizeof(line), "%s: %s", fac ? fac : "", buf);
    nr__kafka_redact(text, sizeof(text), line, hide, c->nsecrets);
    nr_trace_level lvl = level <= 3   ? NR_TRACE_LEVEL_ERROR
                         : level == 4 ? NR_TRACE_LEVEL_WARN
                         : level <= 6 ? NR_TRACE_LEVEL_INFO
                                      : NR_TRACE_LEVEL_DEBUG;
    nr_trace_record r = {
        .level = lvl, .op = "kafka.log", .message = text, .resource_id = c->id, .duration_ns = -1};
    nr_trace_emit(&r);
}

/* Served by rd_kafka_poll on the holder's thread: remembers the last error
 * (the more telling one when "all brokers down" follows a connect failure). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    nr_kafka_client *c = opaque;
    if (!c || c->magic != KAFKA_CLIENT_MAGIC)
        return;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        c->all_brokers_down = true;
        if (c->last_reason[0])
            return;
    } else {
        c->last_err = (rd_kafka_resp_err_t)err;
    }
    const char *hide[KAFKA_SECRETS_MAX];
    for (size_t i = 0; i < c->nsecrets; i++)
        hide[i] = nr_secret_reveal(c->secrets[i], NULL);
    nr__kafka_redact(c->last_reason, sizeof(c->last_reason),
                     reason ? reason : rd_kafka_err2str(err), hide, c->nsecrets);
}

static void unlink_delivery(nr_kafka_client *c, kafka_delivery *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else if (c->waiting == d)
        c->waiting = d->next;
    if (d->next)
        d->next->prev = d->prev;
    d->prev = d->next = NULL;
}

void nr__kafka_dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    nr_kafka_client *c = opaque;
    if (!c || c->magic != KAFKA_CLIENT_MAGIC || !m)
        return;
    if (m->err)
        c->failed++;
    else
        c->delivered++;
    /* Only the driver's own opaques are trusted: a message produced directly
     * on the handle may carry any opaque, and counts as asynchronous. */
    kafka_delivery *d = NULL;
    for (kafka_delivery *w = c->waiting; w && m->_private; w = w->next)
        if (w == m->_private) {
            d = w;
            break;
        }
    if ((d || m->_private == &nr__kafka_async_tag) && c->in_flight > 0)
        c->in_flight--;
    if (d) {
        unlink_delivery(c, d);
        if (!d->abandoned) {
            /* the waiting caller returns it */
            d->done = true;
            d->err = m->err;
            return;
        }
        nr_free(d);
    }
    if (m->err) {
        if (c->unreported++ == 0) {
            c->first_failure_err = m->err;
            snprintf(c->first_failure, sizeof(c->first_failure), "topic '%s': %s",
                     m->rkt ? rd_kafka_topic_name(m->rkt) : "?", rd_kafka_err2str(m->err));
        }
    }
}

/* ---- create ----------------------------------------------------------------------------- */

static void client_free(nr_kafka_client *c)
{
    if (!c)
        return;
    while (c->waiting) {
        kafka_delivery *d = c->waiting;
        unlink_delivery(c, d);
        nr_free(d);
    }
    for (size_t i = 0; i < c->nsecrets; i++)
        nr_secret_free(c->secrets[i]);
    c->nsecrets = 0;
    c->magic = KAFKA_CLIENT_DEAD;
    nr_free(c);
}

static int keep_secret(void *ud, size_t entry, const char *name, const char *value)
{
    (void)entry;
    (void)name;
    nr_kafka_client *c = ud;
    if (value && *value && c->nsecrets < KAFKA_SECRETS_MAX &&
        nr_secret_from_str(&c->secrets[c->nsecrets], value, NULL) == NR_OK)
        c->nsecrets++;
    return 0;
}

/* Wait for the cluster's metadata until the deadline. */
static int verify_cluster(nr_kafka_client *c, const kafka_settings *s, nr_deadline deadline,
                          const nr_cancel *cancel, nr_error *err)
{
    const char *kind = nr__kafka_kind_name(c->kind);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (;;) {
        if (nr_cancel_is_set(cancel))
            return nr_error_set(err, NR_ECANCELED, c->id,
                                "%s '%s': canceled while waiting for the cluster at %s", kind,
                                c->id, s->bootstrap_servers);
        if (nr_deadline_expired(deadline))
            break;
        const struct rd_kafka_metadata *md = NULL;
        e = rd_kafka_metadata(c->rk, 0, NULL, &md, slice_ms(deadline, SLICE_MS));
        if (md)
            rd_kafka_metadata_destroy(md);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return NR_OK;
        rd_kafka_poll(c->rk, 0); /* serves error_cb */
        char fatal[256];
        rd_kafka_resp_err_t fe = rd_kafka_fatal_error(c->rk, fatal, sizeof(fatal));
        if (fe)
            return nr_error_set_cause(err, nr__kafka_map_err(fe), NR_OK, fe, c->id,
                                      "%s '%s': fatal error from %s: %s", kind, c->id,
                                      s->bootstrap_servers, rd_kafka_err2str(fe));
        if (c->last_err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
            return nr_error_set_cause(err, NR_ECRED, NR_OK, c->last_err, c->id,
                                      "%s '%s': authentication with %s failed: %s", kind, c->id,
                                      s->bootstrap_servers, c->last_reason);
        if (c->all_brokers_down)
            return nr_error_set_cause(err, NR_EUNAVAIL, NR_OK, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
                                      c->id, "%s '%s': no broker of %s is reachable: %s", kind,
                                      c->id, s->bootstrap_servers,
                                      c->last_reason[0] ? c->last_reason : "all brokers are down");
    }
    return nr_error_set_cause(err, NR_ETIMEDOUT, NR_OK, e, c->id,
                              "%s '%s': no metadata from %s before the deadline%s%s", kind, c->id,
                              s->bootstrap_servers, c->last_reason[0] ? ": " : "", c->last_reason);
}

static int add_topic(void *ud, const char *t)
{
    rd_kafka_topic_partition_list_add(ud, t, RD_KAFKA_PARTITION_UA);
    return 0;
}

static int subscribe(nr_kafka_client *c, const kafka_settings *s, nr_error *err)
{
    const char *kind = nr__kafka_kind_name(c->kind);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    if (!l || nr__kafka_each_topic(s->topics, add_topic, l) != 0) {
        if (l)
            rd_kafka_topic_partition_list_destroy(l);
        return nr_error_set(err, NR_ENOMEM, c->id, "%s '%s': out of memory for the topic list",
                            kind, c->id);
    }
    rd_kafka_resp_err_t e = l->cnt > 0 ? rd_kafka_subscribe(c->rk, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return nr_error_set_cause(err, e == RD_KAFKA_RESP_ERR__INVALID_ARG ? NR_ECONFIG : NR_EINIT,
                                  NR_OK, e, c->id, "%s '%s': subscribing to '%s' failed: %s", kind,
                                  c->id, s->topics, rd_kafka_err2str(e));
    return NR_OK;
}

static int kafka_create(kafka_kind kind, const kafka_settings *s, void **handle,
                        const nr_create_ctx *ctx, nr_error *err)
{
    const char *id = ctx && ctx->resource_id ? ctx->resource_id : "";
    const char *kname = nr__kafka_kind_name(kind);
    if (!handle)
        return nr_error_set(err, NR_EINVAL, id, "%s '%s': handle and config are required", kname,
                            id);
    *handle = NULL;
    const nr_secret *password = ctx ? ctx->credential : NULL;
    bool sasl = s->security_protocol == NR_KAFKA_SASL_PLAINTEXT ||
                s->security_protocol == NR_KAFKA_SASL_SSL;

    nr_config_report report;
    nr_config_report_clear(&report);
    rd_kafka_conf_t *conf = NULL;
    if (nr__kafka_build_conf(s, "$", password, &conf, &report) != 0)
        return nr_error_set(err, NR_ECONFIG, id, "%s '%s': %s: %s", kname, id, report.items[0].path,
                            report.items[0].rule);
    if (sasl && (!password || nr_secret_len(password) == 0)) {
        rd_kafka_conf_destroy(conf);
        return nr_error_set(
            err, NR_ECRED, id,
            "%s '%s': security_protocol %s needs a credential (the SASL password "
            "of '%s') and none was given",
            kname, id, s->security_protocol == NR_KAFKA_SASL_SSL ? "sasl_ssl" : "sasl_plaintext",
            s->sasl_username ? s->sasl_username : "");
    }

    nr_kafka_client *c = nr_calloc(1, sizeof(*c));
    if (!c) {
        rd_kafka_conf_destroy(conf);
        return nr_error_set(err, NR_ENOMEM, id, "%s '%s': out of memory for the client", kname, id);
    }
    c->magic = KAFKA_CLIENT_MAGIC;
    c->kind = kind;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->health_timeout_ms = s->health_timeout_ms;
    c->flush_timeout_ms = s->flush_timeout_ms;
    c->close_timeout_ms = s->close_timeout_ms;
    if (password && nr_secret_len(password) > 0 &&
        nr_secret_dup(&c->secrets[c->nsecrets], password, NULL) == NR_OK)
        c->nsecrets++;
    if (s->secret_properties)
        (void)nr__kafka_each_property(nr_secret_reveal(s->secret_properties, NULL), keep_secret, c);

    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    if (kind == KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, nr__kafka_dr_msg_cb);

    char errstr[512];
    errstr[0] = '\0';
    c->rk = rd_kafka_new(kind == KAFKA_PRODUCER ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf,
                         errstr, sizeof(errstr));
    if (!c->rk) {
        rd_kafka_conf_destroy(conf); /* still ours when rd_kafka_new fails */
        const char *hide[KAFKA_SECRETS_MAX];
        for (size_t i = 0; i < c->nsecrets; i++)
            hide[i] = nr_secret_reveal(c->secrets[i], NULL);
        char shown[512];
        nr__kafka_redact(shown, sizeof(shown), errstr, hide, c->nsecrets);
        client_free(c);
        return nr_error_set(err, NR_EINIT, id, "%s '%s': rd_kafka_new failed: %s", kname, id,
                            shown);
    }

    int rc = NR_OK;
    if (s->verify_on_create) {
        nr_deadline d = nr_deadline_in_ms(s->health_timeout_ms);
        if (ctx)
            d = nr_deadline_min(d, ctx->deadline);
        rc = verify_cluster(c, s, d, ctx ? ctx->cancel : NULL, err);
    }
    if (rc == NR_OK && kind == KAFKA_CONSUMER) {
        rd_kafka_poll_set_consumer(c->rk);
        rc = subscribe(c, s, err);
    }
    if (rc != NR_OK) {
        /* nothing was produced, nothing was joined: no flush or close needed */
        rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        c->rk = NULL;
        client_free(c);
        return rc;
    }
    c->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    c->last_reason[0] = '\0';
    c->all_brokers_down = false;
    *handle = c;
    return NR_OK;
}

static int producer_create(void **handle, const void *config, const nr_create_ctx *ctx, void *ud,
                           nr_error *err)
{
    (void)ud;
    const char *id = ctx && ctx->resource_id ? ctx->resource_id : "";
    if (!config)
        return nr_error_set(err, NR_EINVAL, id, "kafka-producer '%s': config is required", id);
    kafka_settings s;
    nr__kafka_settings_producer(&s, config);
    return kafka_create(KAFKA_PRODUCER, &s, handle, ctx, err);
}

static int consumer_create(void **handle, const void *config, const nr_create_ctx *ctx, void *ud,
                           nr_error *err)
{
    (void)ud;
    const char *id = ctx && ctx->resource_id ? ctx->resource_id : "";
    if (!config)
        return nr_error_set(err, NR_EINVAL, id, "kafka-consumer '%s': config is required", id);
    kafka_settings s;
    nr__kafka_settings_consumer(&s, config);
    return kafka_create(KAFKA_CONSUMER, &s, handle, ctx, err);
}

/* ---- destroy ------------------------------------------------------------------------------ */

static void producer_destroy(void *handle, void *ud)
{
    (void)ud;
    nr_kafka_client *c = handle;
    if (!nr__kafka_client_ok(c, KAFKA_PRODUCER))
        return;
    if (nr__kafka_pending(c) > 0 && c->flush_timeout_ms > 0)
        rd_kafka_flush(c->rk, (int)c->flush_timeout_ms);
    else
        rd_kafka_poll(c->rk, 0);
    if (nr__kafka_pending(c) > 0) {
        /* Bounded: what the cluster did not take in time is given up and
         * counted as failed through the purge's delivery reports. */
        rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        nr_deadline d = nr_deadline_in_ms(PURGE_REPORT_MS);
        while (nr__kafka_pending(c) > 0 && !nr_deadline_expired(d))
            rd_kafka_poll(c->rk, slice_ms(d, 50));
    }
    rd_kafka_destroy(c->rk);
    c->rk = NULL;
    client_free(c);
}

static void handle_close_event(rd_kafka_t *rk, rd_kafka_event_t *ev)
{
    if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_REBALANCE)
        return;
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        return;
    if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0) {
        rd_kafka_error_t *e =
            rd_kafka_incremental_unassign(rk, rd_kafka_event_topic_partition_list(ev));
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static void consumer_destroy(void *handle, void *ud)
{
    (void)ud;
    nr_kafka_client *c = handle;
    if (!nr__kafka_client_ok(c, KAFKA_CONSUMER))
        return;
    bool closed = false;
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    if (q) {
        rd_kafka_error_t *e = rd_kafka_consumer_close_queue(c->rk, q);
        if (e) {
            rd_kafka_error_destroy(e);
        } else {
            nr_deadline d = nr_deadline_in_ms(c->close_timeout_ms);
            while (!rd_kafka_consumer_closed(c->rk) && !nr_deadline_expired(d)) {
                rd_kafka_event_t *ev = rd_kafka_queue_poll(q, slice_ms(d, 50));
                if (ev) {
                    handle_close_event(c->rk, ev);
                    rd_kafka_event_destroy(ev);
                }
            }
            closed = rd_kafka_consumer_closed(c->rk) != 0;
        }
        rd_kafka_queue_destroy(q);
    }
    rd_kafka_destroy_flags(c->rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    c->rk = NULL;
    client_free(c);
}

/* ---- validate / recycle ---------------------------------------------------------------------- */

static int bad_handle(nr_error *err, const char *kind, const char *what)
{
    return nr_error_set(err, NR_EINVAL, NULL, "%s: %s: not a live %s instance", kind, what, kind);
}

/* NR_OK, or fills err with code when librdkafka has a fatal error. */
static int check_fatal(nr_kafka_client *c, int code, const char *what, nr_error *err)
{
    char reason[256];
    rd_kafka_resp_err_t fe = rd_kafka_fatal_error(c->rk, reason, sizeof(reason));
    if (!fe)
        return NR_OK;
    const char *hide[KAFKA_SECRETS_MAX];
    for (size_t i = 0; i < c->nsecrets; i++)
        hide[i] = nr_secret_reveal(c->secrets[i], NULL);
    char shown[256];
    nr__kafka_redact(shown, sizeof(shown), reason, hide, c->nsecrets);
    return nr_error_set_cause(err, code, NR_OK, fe, c->id, "%s '%s': %s: fatal error: %s (%s)",
                              nr__kafka_kind_name(c->kind), c->id, what, rd_kafka_err2name(fe),
                              shown);
}

static int kafka_validate(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_kafka_client *c = handle;
    if (!nr__kafka_client_ok(c, -1))
        return bad_handle(err, "kafka", "validate");
    return check_fatal(c, NR_EUNAVAIL, "validate", err);
}

static int producer_recycle(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_kafka_client *c = handle;
    if (!nr__kafka_client_ok(c, KAFKA_PRODUCER))
        return bad_handle(err, "kafka-producer", "recycle");
    if (check_fatal(c, NR_ECLEANUP, "recycle", err) != NR_OK)
        return NR_ECLEANUP;
    if (nr__kafka_pending(c) > 0 && c->flush_timeout_ms > 0)
        rd_kafka_flush(c->rk, (int)c->flush_timeout_ms);
    else
        rd_kafka_poll(c->rk, 0);
    if (nr__kafka_pending(c) > 0)
        return nr_error_set(err, NR_ECLEANUP, c->id,
                            "kafka-producer '%s': recycle: %llu message(s) still in flight after "
                            "flush_timeout_ms (%lld ms)",
                            c->id, (unsigned long long)nr__kafka_pending(c),
                            (long long)c->flush_timeout_ms);
    if (c->unreported > 0)
        return nr_error_set_cause(err, NR_ECLEANUP, nr__kafka_map_err(c->first_failure_err),
                                  c->first_failure_err, c->id,
                                  "kafka-producer '%s': recycle: %llu delivery failure(s) never "
                                  "reported to the lease holder; first: %s",
                                  c->id, (unsigned long long)c->unreported, c->first_failure);
    return NR_OK;
}

static int consumer_recycle(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_kafka_client *c = handle;
    if (!nr__kafka_client_ok(c, KAFKA_CONSUMER))
        return bad_handle(err, "kafka-consumer", "recycle");
    return check_fatal(c, NR_ECLEANUP, "recycle", err) != NR_OK ? NR_ECLEANUP : NR_OK;
}

/* ---- health check ---------------------------------------------------------------------------- */

static int kafka_health(void *handle, void *ud, nr_deadline deadline, nr_health_report *report,
                        nr_error *err)
{
    (void)ud;
    nr_kafka_client *c = handle;
    if (!nr__kafka_client_ok(c, -1) || !report)
        return bad_handle(err, "kafka", "health check");
    const char *kind = nr__kafka_kind_name(c->kind);
    if (nr_deadline_expired(deadline))
        return nr_error_set(err, NR_ETIMEDOUT, c->id,
                            "%s '%s': health check: deadline passed before it ran", kind, c->id);
    nr_error fe;
    nr_error_clear(&fe);
    if (check_fatal(c, NR_EUNAVAIL, "health check", &fe) != NR_OK) {
        report->state = NR_HEALTH_UNHEALTHY;
        snprintf(report->reason, sizeof(report->reason), "%.120s", fe.message);
        return NR_OK;
    }
    int64_t ms = min64(nr_deadline_remaining_ns(deadline) / NR_NS_PER_MS, c->health_timeout_ms);
    if (ms < 1)
        ms = 1;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(c->rk, 0, NULL, &md, (int)ms);
    int brokers = md ? md->broker_cnt : 0;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && brokers > 0) {
        report->state = NR_HEALTH_HEALTHY;
        report->reason[0] = '\0';
    } else {
        report->state = NR_HEALTH_UNHEALTHY;
        snprintf(report->reason, sizeof(report->reason), "metadata request: %s",
                 e ? rd_kafka_err2str(e) : "the cluster listed no broker");
    }
    return NR_OK;
}

/* ---- types ----------------------------------------------------------------------------------- */

rd_kafka_t *nr_kafka_handle(void *handle)
{
    nr_kafka_client *c = handle;
    return nr__kafka_client_ok(c, -1) ? c->rk : NULL;
}

const nr_resource_type nr_kafka_producer_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "kafka-producer",
    .config_schema = &nr_kafka_producer_config_schema,
    .create = producer_create,
    .destroy = producer_destroy,
    .validate = kafka_validate,
    .recycle = producer_recycle,
    .health_check = kafka_health,
};

const nr_resource_type nr_kafka_consumer_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "kafka-consumer",
    .config_schema = &nr_kafka_consumer_config_schema,
    .create = consumer_create,
    .destroy = consumer_destroy,
    .validate = kafka_validate,
    .recycle = consumer_recycle,
    .health_check = kafka_health,
};
