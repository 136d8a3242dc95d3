/*
 * kafka_internal.h - what the Kafka driver's files share: one view of the
 * two config structs, and the librdkafka configuration built from it.
 */
#ifndef NR_KAFKA_INTERNAL_H
#define NR_KAFKA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/kafka.h"

typedef enum kafka_kind { KAFKA_PRODUCER = 0, KAFKA_CONSUMER = 1 } kafka_kind;

/* The fields of either config struct, borrowed from it. */
typedef struct kafka_settings {
    kafka_kind kind;
    const char *bootstrap_servers;
    const char *client_id;
    int security_protocol;
    int sasl_mechanism;
    const char *sasl_username;
    int64_t message_timeout_ms; /* producer */
    int64_t request_timeout_ms;
    int64_t socket_timeout_ms;
    int64_t health_timeout_ms;
    int64_t flush_timeout_ms; /* producer */
    int acks;                 /* producer */
    int64_t linger_ms;        /* producer */
    bool verify_on_create;
    const char *properties;
    const nr_secret *secret_properties;
    const char *group_id; /* consumer */
    const char *topics;   /* consumer */
    int auto_offset_reset;
    bool enable_auto_commit;
    int64_t close_timeout_ms; /* consumer */
} kafka_settings;

void nr__kafka_settings_producer(kafka_settings *s, const nr_kafka_producer_config *c);
void nr__kafka_settings_consumer(kafka_settings *s, const nr_kafka_consumer_config *c);

/* "kafka-producer" / "kafka-consumer". */
const char *nr__kafka_kind_name(kafka_kind kind);

/*
 * Build the librdkafka configuration of s. password (may be NULL) becomes
 * sasl.password. Every rule broken goes to report (paths under path, e.g.
 * "$"). Returns the number of issues; with none and out != NULL, *out gets
 * the configuration (the caller owns it). Values of secret properties and
 * the password never reach the report.
 */
size_t nr__kafka_build_conf(const kafka_settings *s, const char *path, const nr_secret *password,
                            rd_kafka_conf_t **out, nr_config_report *report);

/*
 * Call fn for each topic of a comma-separated list (trimmed, non-empty
 * ones); stops at the first non-zero return and returns it. NR_ENOMEM when
 * the copy cannot be made.
 */
int nr__kafka_each_topic(const char *list, int (*fn)(void *ud, const char *topic), void *ud);

/*
 * Call fn for each entry of a properties text ("name=value" entries separated
 * by ';' or newlines; "\;" and "\\" escaped; spaces around names and
 * values dropped; empty entries skipped). entry counts from 1; an entry
 * without '=' comes with name and value NULL. Stops at the first non-zero
 * return and returns it; NR_ENOMEM when the working copy cannot be made.
 * The strings are valid during the call only.
 */
typedef int (*kafka_property_fn)(void *ud, size_t entry, const char *name, const char *value);
int nr__kafka_each_property(const char *text, kafka_property_fn fn, void *ud);

/* Copy src into dst (size n), replacing every occurrence of each of the
 * nsecrets strings (NULL or empty ones are skipped) by "<redacted>". */
void nr__kafka_redact(char *dst, size_t n, const char *src, const char *const *secrets,
                      size_t nsecrets);

/* ---- the instance ------------------------------------------------------------------ */

#define KAFKA_CLIENT_MAGIC 0x4B41464B41C11E47ULL
#define KAFKA_CLIENT_DEAD  0xDEADDEADDEADDEADULL
#define KAFKA_SECRETS_MAX  16
#define KAFKA_REASON_MAX   200

/* One synchronous produce waiting for its delivery report. */
typedef struct kafka_delivery {
    struct kafka_delivery *prev, *next; /* the client's outstanding list */
    bool done;                          /* the report came (err holds it) */
    bool abandoned;                     /* the caller gave up: the report frees it */
    rd_kafka_resp_err_t err;
} kafka_delivery;

/*
 * Everything below `secrets` is touched only by the thread that holds the
 * instance (the lease holder, or the pool's callback), because librdkafka
 * runs the delivery-report and error callbacks inside rd_kafka_poll /
 * rd_kafka_flush / rd_kafka_consumer_poll on the calling thread. The log
 * callback runs on librdkafka's threads and reads only id and secrets,
 * which are written before rd_kafka_new and never again.
 */
struct nr_kafka_client {
    uint64_t magic; /* KAFKA_CLIENT_MAGIC while alive */
    kafka_kind kind;
    rd_kafka_t *rk;
    char id[NR_ERROR_ID_MAX];
    int64_t health_timeout_ms;
    int64_t flush_timeout_ms;              /* producer: recycle and destroy */
    int64_t close_timeout_ms;              /* consumer: destroy */
    nr_secret *secrets[KAFKA_SECRETS_MAX]; /* what the log callback hides */
    size_t nsecrets;

    /* error callback: the last error seen (while create waits for metadata) */
    rd_kafka_resp_err_t last_err;
    bool all_brokers_down;
    char last_reason[KAFKA_REASON_MAX];

    /* delivery accounting (producer) */
    uint64_t produced, delivered, failed, in_flight, unreported;
    rd_kafka_resp_err_t first_failure_err;
    char first_failure[KAFKA_REASON_MAX]; /* "topic 'x': <librdkafka's message>" */
    kafka_delivery *waiting;              /* synchronous produces without a report */
};

/* The opaque of messages nr_kafka_produce_async queues (its address only). */
extern const char nr__kafka_async_tag;

/* What is still waiting for a report: the driver's messages, or what
 * librdkafka counts (its out queue: messages produced directly on the handle
 * too, and requests in flight), whichever is more. */
size_t nr__kafka_pending(const nr_kafka_client *c);

/* Whether handle is a live instance (of kind, or of either when kind < 0). */
bool nr__kafka_client_ok(const nr_kafka_client *c, int kind);

/* The library's code for a librdkafka error. */
int nr__kafka_map_err(rd_kafka_resp_err_t e);

/* librdkafka's delivery-report callback (rd_kafka_conf_set_dr_msg_cb). */
void nr__kafka_dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

#endif
