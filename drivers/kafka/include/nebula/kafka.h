/*
 * nebula/kafka.h - the Kafka driver: pooled librdkafka producers and
 * consumers.
 *
 * Two resource types, each with its own config struct and schema:
 *
 *   nr_kafka_producer_type  ("kafka-producer")  nr_kafka_producer_config
 *   nr_kafka_consumer_type  ("kafka-consumer")  nr_kafka_consumer_config
 *
 * The pool's handle (nr_guard_handle()) is an nr_kafka_client *; the
 * librdkafka handle is nr_kafka_handle(handle).
 *
 *     nr_kafka_producer_config cfg;
 *     nr_config_init(&nr_kafka_producer_config_schema, &cfg, &err);
 *     cfg.bootstrap_servers = nr_strdup("127.0.0.1:9092");
 *     nr_pool_options o = NR_POOL_OPTIONS(.id = "events-out", .type = &nr_kafka_producer_type,
 * .config = &cfg); nr_pool_create(&pool, &o, &err);
 *     ... nr_pool_acquire(pool, NULL, &g, &err);
 *         nr_kafka_produce(nr_guard_handle(&g), "orders", "k", 1, "v", 1,
 *                          nr_deadline_in_ms(5000), &err);
 *
 * What each callback does:
 *   create        builds the librdkafka configuration (typed fields first,
 *                 then `properties` and `secret_properties`, each checked
 *                 with rd_kafka_conf_set), the SASL password from the
 *                 credential (ctx->credential) and nothing else, a log
 *                 callback that redacts, then rd_kafka_new. When
 *                 verify_on_create is set (the default) it asks the cluster
 *                 for metadata until it answers: a bootstrap list where every
 *                 broker refuses gives NR_EUNAVAIL at once, no answer by the
 *                 create deadline (or health_timeout_ms) NR_ETIMEDOUT, a set
 *                 cancel token NR_ECANCELED. A consumer then subscribes to
 *                 `topics`.
 *   validate      NR_EUNAVAIL when librdkafka reports a fatal error
 *                 (rd_kafka_fatal_error); no network traffic.
 *   recycle       producer: flushes what the lease holder left in flight
 *                 (at most flush_timeout_ms). NR_ECLEANUP, so that the pool
 *                 discards the instance, when librdkafka has a fatal error,
 *                 when messages are still in flight after the flush, or when
 *                 deliveries failed that no caller was told about (see
 *                 "Delivery" below); the message counts them and names the
 *                 first failure. Consumer: NR_ECLEANUP on a fatal error only.
 *   health_check  rd_kafka_metadata, waiting at most the check's deadline and
 *                 health_timeout_ms: an answer is healthy, anything else
 *                 unhealthy with librdkafka's error string as the reason.
 *   destroy       producer: rd_kafka_flush for at most flush_timeout_ms,
 *                 then whatever is left is purged (counted as failed) and
 *                 rd_kafka_destroy. Consumer: rd_kafka_consumer_close_queue
 *                 served for at most close_timeout_ms, then rd_kafka_destroy
 *                 (without a second close when the first did not finish).
 *                 Neither waits for an unreachable cluster beyond its bound.
 *
 * Delivery (producers). librdkafka reports every message's outcome through
 * its delivery-report callback, which runs inside rd_kafka_poll/flush on the
 * thread that calls them. The driver never drops a report:
 *   - nr_kafka_produce waits for the report of its message and returns its
 *     error; a deadline that passes first returns NR_ETIMEDOUT (the message
 *     may still be delivered: its outcome is then counted like an
 *     asynchronous one).
 *   - nr_kafka_produce_async only queues; each failed asynchronous delivery
 *     is counted as "unreported" until nr_kafka_flush returns it (the count
 *     and the first failure) to its caller.
 *   - recycle refuses an instance given back with unreported failures
 *     (NR_ECLEANUP, counted in the pool's recycle_failures), so failures
 *     show up in the pool's statistics and never reach the next lease holder.
 *   - destroy counts what it purges; nr_kafka_delivery_stats shows the totals.
 *
 * Errors: every failure names the resource type and id ("kafka-producer
 * 'orders-out': ..."), in err->resource_id and in the message, and the topic
 * for a produce; librdkafka's rd_kafka_resp_err_t goes into err->driver_code.
 *   NR_ECONFIG    a field, or a librdkafka property, that librdkafka refuses
 *                 (the property name and librdkafka's message, with the
 *                 value of a secret property redacted)
 *   NR_ECRED      sasl_username set and no credential; authentication or
 *                 authorization refused by the cluster
 *   NR_EUNAVAIL   every broker refused or is down; a fatal librdkafka error;
 *                 any other delivery or consume error
 *   NR_ETIMEDOUT  no answer or no delivery report by the deadline, or
 *                 librdkafka's own message timeout (message_timeout_ms)
 *   NR_ECANCELED  the create's cancel token was set; a purged message
 *   NR_EINVAL     NULL or bad arguments; a message or topic the cluster
 *                 refuses (too large, unknown topic)
 *   NR_EINIT      rd_kafka_new failed for another reason
 * No message, log line or printed config holds the SASL password or a value
 * of secret_properties.
 *
 * Logs: librdkafka's log lines go to the trace sink (nebula/trace.h) as
 * records with op "kafka.log", the resource id, and every secret the
 * instance knows replaced by "<redacted>"; with no sink installed they go
 * nowhere (librdkafka never prints to stderr).
 *
 * Thread safety: the types and schemas are immutable. One instance is used
 * by one thread at a time: the pool guarantees it for its callbacks, and a
 * lease holder must not share the instance between threads while it holds
 * the lease (delivery reports run on the thread that polls). Different
 * instances may be used from different threads at once.
 */
#ifndef NEBULA_KAFKA_H
#define NEBULA_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "nebula/config.h"
#include "nebula/error.h"
#include "nebula/resource_type.h"
#include "nebula/secret.h"
#include "nebula/time.h"
#include "nebula/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* security_protocol values (JSON: "plaintext", "ssl", "sasl_plaintext", "sasl_ssl"). */
enum { NR_KAFKA_PLAINTEXT = 0, NR_KAFKA_SSL, NR_KAFKA_SASL_PLAINTEXT, NR_KAFKA_SASL_SSL };

/* sasl_mechanism values (JSON: "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"). */
enum { NR_KAFKA_SASL_PLAIN = 0, NR_KAFKA_SASL_SCRAM_SHA_256, NR_KAFKA_SASL_SCRAM_SHA_512 };

/* acks values (JSON: "all", "leader", "none"). */
enum { NR_KAFKA_ACKS_ALL = 0, NR_KAFKA_ACKS_LEADER, NR_KAFKA_ACKS_NONE };

/* auto_offset_reset values (JSON: "latest", "earliest", "error"). */
enum { NR_KAFKA_OFFSET_LATEST = 0, NR_KAFKA_OFFSET_EARLIEST, NR_KAFKA_OFFSET_ERROR };

/*
 * The fields of both configs, with the same names and rules, in three
 * sub-lists so that each struct keeps its layout. Each entry: kind, member,
 * min, max (bytes for strings), default, flags and what it means
 * (nebula/config_fields.h); the README's tables are made from them.
 */
#define NR_KAFKA_CLIENT_FIELDS(X, T)                                                               \
    X(T, STRING, bootstrap_servers, 1, 4096, NULL, NR_CF_REQUIRED,                                 \
      "`bootstrap.servers`, `host:port[,host:port...]`")                                           \
    X(T, STRING, client_id, 1, 255, "nebula-resource", 0, "`client.id` sent to the brokers")       \
    X(T, ENUM, security_protocol, nr__kafka_protocol_names, 0, NR_KAFKA_PLAINTEXT, 0,              \
      "`security.protocol`")                                                                       \
    X(T, ENUM, sasl_mechanism, nr__kafka_mechanism_names, 0, NR_KAFKA_SASL_PLAIN, 0,               \
      "`sasl.mechanisms`, with the `sasl_*` protocols")                                            \
    X(T, STRING, sasl_username, 0, 255, NULL, 0,                                                   \
      "`sasl.username`: required by, and only allowed with, the `sasl_*` protocols. The password " \
      "is the resource's **credential** (`nr_pool_options.credential`, or the manager's "          \
      "`credential_ref`, given to create), never a config field")

#define NR_KAFKA_TIMEOUT_FIELDS(X, T)                                                              \
    X(T, INT, socket_timeout_ms, 10, 300000, 60000, 0, "`socket.timeout.ms`")                      \
    X(T, INT, health_timeout_ms, 1, 600000, 5000, 0,                                               \
      "longest metadata wait of a health check and of create's broker check")

#define NR_KAFKA_EXTRA_FIELDS(X, T)                                                                \
    X(T, BOOL, verify_on_create, 0, 1, 1, 0, "create waits for the cluster's metadata")            \
    X(T, STRING, properties, 0, 0, NULL, 0,                                                        \
      "more librdkafka properties: `name=value` entries separated by `;` or newlines "             \
      "(spaces around names and values dropped; a literal `;` or `\\` is written `\\;` "           \
      "/ `\\\\`). Names that the typed fields set, and names that hold secrets (containing "       \
      "`password` or `secret`, `ssl.key.pem`, `sasl.oauthbearer.config`), are refused here")       \
    X(T, SECRET, secret_properties, 0, NR_KAFKA_PROPERTIES_MAX, NULL, 0,                           \
      "the same format, for properties that hold secrets; printed and reported as `<redacted>`. "  \
      "`sasl.password` is refused (it is the credential)")

#define NR_KAFKA_PROPERTIES_MAX 65536

/*
 * The producer's config (schema nr_kafka_producer_config_schema, name
 * "kafka-producer"; JSON keys are the member names). Strings and the secret
 * are owned by the struct (see nebula/config.h).
 */
#define NR_KAFKA_PRODUCER_CONFIG_FIELDS(X, T)                                                      \
    NR_KAFKA_CLIENT_FIELDS(X, T)                                                                   \
    X(T, INT, message_timeout_ms, 1, 3600000, 30000, 0,                                            \
      "`message.timeout.ms`: how long librdkafka tries to deliver a message")                      \
    X(T, INT, request_timeout_ms, 1, 900000, 30000, 0, "`request.timeout.ms`")                     \
    NR_KAFKA_TIMEOUT_FIELDS(X, T)                                                                  \
    X(T, INT, flush_timeout_ms, 0, 600000, 5000, 0,                                                \
      "longest flush in `recycle` and `destroy` (0 = do not wait)")                                \
    X(T, ENUM, acks, nr__kafka_acks_names, 0, NR_KAFKA_ACKS_ALL, 0,                                \
      "`acks`: `all`, `leader` (1) or `none` (0)")                                                 \
    X(T, INT, linger_ms, 0, 900000, 5, 0, "`linger.ms`; less than `message_timeout_ms`")           \
    NR_KAFKA_EXTRA_FIELDS(X, T)

NR_CONFIG_STRUCT(nr_kafka_producer_config, NR_KAFKA_PRODUCER_CONFIG_FIELDS)

/*
 * The consumer's config (schema nr_kafka_consumer_config_schema, name
 * "kafka-consumer"). The fields shared with the producer mean the same
 * (message_timeout_ms, request_timeout_ms, acks, linger_ms and
 * flush_timeout_ms are producer settings and do not exist here), plus its own.
 */
#define NR_KAFKA_CONSUMER_CONFIG_FIELDS(X, T)                                                      \
    NR_KAFKA_CLIENT_FIELDS(X, T)                                                                   \
    NR_KAFKA_TIMEOUT_FIELDS(X, T)                                                                  \
    NR_KAFKA_EXTRA_FIELDS(X, T)                                                                    \
    X(T, STRING, group_id, 1, 255, NULL, NR_CF_REQUIRED, "`group.id`")                             \
    X(T, STRING, topics, 0, 65536, NULL, 0,                                                        \
      "topics subscribed at create, comma-separated (spaces around names dropped); each 1..249 "   \
      "of `[A-Za-z0-9._-]`, or a regular expression starting with `^`. Unset: subscribe "          \
      "yourself through `nr_kafka_handle`")                                                        \
    X(T, ENUM, auto_offset_reset, nr__kafka_reset_names, 0, NR_KAFKA_OFFSET_LATEST, 0,             \
      "`auto.offset.reset`: where a group without a committed offset starts")                      \
    X(T, BOOL, enable_auto_commit, 0, 1, 1, 0, "`enable.auto.commit`")                             \
    X(T, INT, close_timeout_ms, 0, 600000, 5000, 0,                                                \
      "longest `rd_kafka_consumer_close` in `destroy`")

NR_CONFIG_STRUCT(nr_kafka_consumer_config, NR_KAFKA_CONSUMER_CONFIG_FIELDS)

NR_API extern const nr_config_schema nr_kafka_producer_config_schema;
NR_API extern const nr_config_schema nr_kafka_consumer_config_schema;

/* The resource types; instances are nr_kafka_client *. */
NR_API extern const nr_resource_type nr_kafka_producer_type;
NR_API extern const nr_resource_type nr_kafka_consumer_type;

/* One producer or consumer: the handle nr_guard_handle() returns. Opaque. */
typedef struct nr_kafka_client nr_kafka_client;

/*
 * The librdkafka handle of an instance; NULL for NULL or a handle that is not
 * a Kafka instance. It stays owned by the instance: never destroy or close
 * it; use it only while holding the lease. A producer's delivery reports are
 * the driver's: call rd_kafka_poll / rd_kafka_flush freely (reports are
 * counted). Messages produced directly on the handle (whatever their
 * opaque) are counted as asynchronous ones: their failures come back from
 * nr_kafka_flush. Do not replace the instance's callbacks or opaque.
 */
NR_API rd_kafka_t *nr_kafka_handle(void *handle);

/*
 * Produce one message to topic (any partition; the key picks it) and wait
 * until its delivery report arrives or the deadline passes (an unset
 * deadline waits for the report, which librdkafka gives within
 * message_timeout_ms). The key and value are copied; either may be NULL
 * with length 0.
 * Returns NR_OK when the cluster acknowledged the message (as acks asks);
 * otherwise err names the resource, the topic and librdkafka's error, with
 * its code in err->driver_code (codes: see the top of this file):
 * NR_ETIMEDOUT for the deadline (the outcome is then counted later),
 * NR_EINVAL for NULL arguments or a consumer handle.
 */
NR_API int nr_kafka_produce(void *handle, const char *topic, const void *key, size_t keylen,
                            const void *value, size_t len, nr_deadline deadline, nr_error *err);

/*
 * Queue one message without waiting for its delivery; a full local queue is
 * waited on (serving delivery reports) until the deadline. NR_OK when
 * queued. Failures of queued messages are returned by nr_kafka_flush.
 */
NR_API int nr_kafka_produce_async(void *handle, const char *topic, const void *key, size_t keylen,
                                  const void *value, size_t len, nr_deadline deadline,
                                  nr_error *err);

/*
 * Wait until every queued message has its delivery report, or the deadline
 * passes (NR_ETIMEDOUT, naming how many are still in flight). Then, if
 * asynchronous deliveries failed since the last report, returns the first
 * failure's code with a message giving how many failed and the first
 * failure's topic and librdkafka error; the count starts again from zero.
 * NR_OK when everything was delivered.
 */
NR_API int nr_kafka_flush(void *handle, nr_deadline deadline, nr_error *err);

/* A producer's delivery counters since the instance was created. */
typedef struct nr_kafka_delivery_stats {
    uint64_t produced;   /* messages queued (sync and async) */
    uint64_t delivered;  /* acknowledged by the cluster */
    uint64_t failed;     /* delivery failed (also purged at destroy) */
    uint64_t in_flight;  /* queued, no report yet */
    uint64_t unreported; /* failed asynchronously, not yet returned by nr_kafka_flush */
} nr_kafka_delivery_stats;

/* NR_EINVAL for NULL or a consumer handle. */
NR_API int nr_kafka_delivery_stats_get(void *handle, nr_kafka_delivery_stats *out, nr_error *err);

/* One consumed message (nr_kafka_poll fills it). Pointers are valid until
 * nr_kafka_message_free. */
typedef struct nr_kafka_message {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key; /* NULL when the message has none */
    size_t keylen;
    const void *value; /* NULL for a tombstone */
    size_t len;
    int64_t timestamp_ms;       /* -1 when unknown */
    rd_kafka_message_t *native; /* owned; freed by nr_kafka_message_free */
} nr_kafka_message;

/*
 * Wait at most timeout_ms (0 = do not wait) for the next message of the
 * consumer's subscription (rd_kafka_consumer_poll). NR_OK with *out filled
 * (free it with nr_kafka_message_free); NR_ETIMEDOUT when none came; a
 * consume error (unknown topic, broker failure) returns its code with
 * librdkafka's message and the topic; a partition-end event (only with
 * enable.partition.eof=true in properties) is NR_ENOTFOUND. NR_EINVAL for
 * NULL or a producer handle. *out is zeroed on every failure.
 */
NR_API int nr_kafka_poll(void *handle, int timeout_ms, nr_kafka_message *out, nr_error *err);

/* Free a message from nr_kafka_poll and zero *m. NULL or empty: no-op. */
NR_API void nr_kafka_message_free(nr_kafka_message *m);

#ifdef __cplusplus
}
#endif
#endif
