/*
 * kafka_client.c - what a lease holder does with an instance: produce (and
 * wait for the delivery report), produce asynchronously, flush, read the
 * delivery counters, and poll a consumer.
 */
#include <stdio.h>
#include <string.h>

#include "kafka_internal.h"
#include "nebula/alloc.h"

/* Longest single poll while a deadline is watched. */
#define POLL_SLICE_MS 100

static int wait_ms(nr_deadline d)
{
    int64_t left = nr_deadline_remaining_ns(d) / NR_NS_PER_MS;
    if (left > POLL_SLICE_MS)
        left = POLL_SLICE_MS;
    return left < 1 ? 1 : (int)left;
}

static int not_a(nr_error *err, const char *kind, const char *what)
{
    return nr_error_set(err, NR_EINVAL, NULL, "%s: not a live %s instance", what, kind);
}

/* Queue one message (waiting on a full queue until the deadline). */
static int enqueue(nr_kafka_client *c, const char *topic, const void *key, size_t keylen,
                   const void *value, size_t len, nr_deadline deadline, void *opaque, nr_error *err)
{
    rd_kafka_resp_err_t e;
    for (;;) {
        e = rd_kafka_producev(c->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY((void *)key, keylen),
                              RD_KAFKA_V_VALUE((void *)value, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
                              RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || nr_deadline_expired(deadline))
            break;
        rd_kafka_poll(c->rk, wait_ms(deadline)); /* reports make room */
    }
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return nr_error_set_cause(err, NR_ETIMEDOUT, NR_EEXHAUSTED, e, c->id,
                                  "kafka-producer '%s': producing to topic '%s': the local queue "
                                  "stayed full until the deadline",
                                  c->id, topic);
    if (e)
        return nr_error_set_cause(err, nr__kafka_map_err(e), NR_OK, e, c->id,
                                  "kafka-producer '%s': producing to topic '%s' failed: %s", c->id,
                                  topic, rd_kafka_err2str(e));
    c->produced++;
    c->in_flight++;
    return NR_OK;
}

static int check_args(nr_kafka_client *c, const char *topic, const void *key, size_t keylen,
                      const void *value, size_t len, const char *what, nr_error *err)
{
    if (!nr__kafka_client_ok(c, KAFKA_PRODUCER))
        return not_a(err, "kafka-producer", what);
    if (!topic || !*topic)
        return nr_error_set(err, NR_EINVAL, c->id, "kafka-producer '%s': %s: topic is required",
                            c->id, what);
    if ((!key && keylen) || (!value && len))
        return nr_error_set(err, NR_EINVAL, c->id,
                            "kafka-producer '%s': %s to topic '%s': a NULL key or value must have "
                            "length 0",
                            c->id, what, topic);
    return NR_OK;
}

int nr_kafka_produce(void *handle, const char *topic, const void *key, size_t keylen,
                     const void *value, size_t len, nr_deadline deadline, nr_error *err)
{
    nr_kafka_client *c = handle;
    int rc = check_args(c, topic, key, keylen, value, len, "produce", err);
    if (rc != NR_OK)
        return rc;
    kafka_delivery *d = nr_calloc(1, sizeof(*d));
    if (!d)
        return nr_error_set(err, NR_ENOMEM, c->id,
                            "kafka-producer '%s': produce to topic '%s': out of memory", c->id,
                            topic);
    rc = enqueue(c, topic, key, keylen, value, len, deadline, d, err);
    if (rc != NR_OK) {
        nr_free(d);
        return rc;
    }
    d->next = c->waiting;
    if (c->waiting)
        c->waiting->prev = d;
    c->waiting = d;
    while (!d->done) {
        if (nr_deadline_expired(deadline)) {
            /* the report frees it and counts its outcome */
            d->abandoned = true;
            return nr_error_set(err, NR_ETIMEDOUT, c->id,
                                "kafka-producer '%s': no delivery report for the message to "
                                "topic '%s' before the deadline (it may still be delivered)",
                                c->id, topic);
        }
        rd_kafka_poll(c->rk, wait_ms(deadline));
    }
    rd_kafka_resp_err_t e = d->err;
    nr_free(d);
    if (e)
        return nr_error_set_cause(err, nr__kafka_map_err(e), NR_OK, e, c->id,
                                  "kafka-producer '%s': delivery to topic '%s' failed: %s (%s)",
                                  c->id, topic, rd_kafka_err2str(e), rd_kafka_err2name(e));
    return NR_OK;
}

int nr_kafka_produce_async(void *handle, const char *topic, const void *key, size_t keylen,
                           const void *value, size_t len, nr_deadline deadline, nr_error *err)
{
    nr_kafka_client *c = handle;
    int rc = check_args(c, topic, key, keylen, value, len, "produce_async", err);
    if (rc != NR_OK)
        return rc;
    rc = enqueue(c, topic, key, keylen, value, len, deadline, (void *)&nr__kafka_async_tag, err);
    rd_kafka_poll(c->rk, 0); /* serve reports that are ready */
    return rc;
}

int nr_kafka_flush(void *handle, nr_deadline deadline, nr_error *err)
{
    nr_kafka_client *c = handle;
    if (!nr__kafka_client_ok(c, KAFKA_PRODUCER))
        return not_a(err, "kafka-producer", "flush");
    rd_kafka_poll(c->rk, 0);
    while (nr__kafka_pending(c) > 0 && !nr_deadline_expired(deadline))
        rd_kafka_flush(c->rk, wait_ms(deadline));
    if (nr__kafka_pending(c) > 0)
        return nr_error_set(err, NR_ETIMEDOUT, c->id,
                            "kafka-producer '%s': flush: %llu message(s) still without a delivery "
                            "report at the deadline",
                            c->id, (unsigned long long)nr__kafka_pending(c));
    if (c->unreported > 0) {
        uint64_t n = c->unreported;
        rd_kafka_resp_err_t e = c->first_failure_err;
        c->unreported = 0;
        c->first_failure_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        int rc = nr_error_set_cause(err, nr__kafka_map_err(e), NR_OK, e, c->id,
                                    "kafka-producer '%s': %llu delivery failure(s); first: %s",
                                    c->id, (unsigned long long)n, c->first_failure);
        c->first_failure[0] = '\0';
        return rc;
    }
    return NR_OK;
}

int nr_kafka_delivery_stats_get(void *handle, nr_kafka_delivery_stats *out, nr_error *err)
{
    nr_kafka_client *c = handle;
    if (!nr__kafka_client_ok(c, KAFKA_PRODUCER) || !out)
        return not_a(err, "kafka-producer", "delivery_stats");
    *out = (nr_kafka_delivery_stats){.produced = c->produced,
                                     .delivered = c->delivered,
                                     .failed = c->failed,
                                     .in_flight = c->in_flight,
                                     .unreported = c->unreported};
    return NR_OK;
}

/* ---- consumer ------------------------------------------------------------------------ */

int nr_kafka_poll(void *handle, int timeout_ms, nr_kafka_message *out, nr_error *err)
{
    nr_kafka_client *c = handle;
    if (out)
        memset(out, 0, sizeof(*out));
    if (!nr__kafka_client_ok(c, KAFKA_CONSUMER) || !out)
        return not_a(err, "kafka-consumer", "poll");
    if (timeout_ms < 0)
        return nr_error_set(err, NR_EINVAL, c->id,
                            "kafka-consumer '%s': poll: timeout_ms must be >= 0 (got %d)", c->id,
                            timeout_ms);
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (!m)
        return nr_error_set(err, NR_ETIMEDOUT, c->id,
                            "kafka-consumer '%s': poll: no message within %d ms", c->id,
                            timeout_ms);
    if (m->err) {
        rd_kafka_resp_err_t e = m->err;
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", rd_kafka_message_errstr(m));
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
        int rc = nr_error_set_cause(err, nr__kafka_map_err(e), NR_OK, e, c->id,
                                    "kafka-consumer '%s': consume%s%s%s failed: %s (%s)", c->id,
                                    topic ? " from topic '" : "", topic ? topic : "",
                                    topic ? "'" : "", msg, rd_kafka_err2name(e));
        rd_kafka_message_destroy(m);
        return rc;
    }
    out->native = m;
    out->topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
    out->partition = m->partition;
    out->offset = m->offset;
    out->key = m->key;
    out->keylen = m->key_len;
    out->value = m->payload;
    out->len = m->len;
    out->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
    return NR_OK;
}

void nr_kafka_message_free(nr_kafka_message *m)
{
    if (!m)
        return;
    if (m->native)
        rd_kafka_message_destroy(m->native);
    memset(m, 0, sizeof(*m));
}
