/*
 * test_kafka_config.c - the producer and consumer config schemas: defaults,
 * JSON round trip, field rules, librdkafka properties checked with
 * rd_kafka_conf_set (naming the property and librdkafka's message), secret
 * properties redacted everywhere, and the properties text format. No
 * cluster is needed.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/kafka_internal.h"
#include "nebula/kafka.h"

#define SECRET "Pr1vate-Key-Pw-90210"

static const nr_config_schema *P = &nr_kafka_producer_config_schema;
static const nr_config_schema *C = &nr_kafka_consumer_config_schema;

/* Whether some issue's path is path and its rule contains needle. */
static int has_issue(const nr_config_report *r, const char *path, const char *needle)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->items[i].path, path) == 0 && strstr(r->items[i].rule, needle))
            return 1;
    return 0;
}

static void dump(const nr_config_report *r)
{
    nr_config_report_print(r, stderr);
}

/* No issue's path, value or rule contains s. */
static void assert_report_lacks(const nr_config_report *r, const char *s)
{
    for (size_t i = 0; i < r->count; i++) {
        assert_null(strstr(r->items[i].path, s));
        assert_null(strstr(r->items[i].value, s));
        assert_null(strstr(r->items[i].rule, s));
    }
}

static int parse(const nr_config_schema *s, const char *json, void *cfg, nr_config_report *r)
{
    nr_error err = {0};
    return nr_config_parse(s, json, strlen(json), cfg, r, &err);
}

static void test_defaults_and_types(void **state)
{
    (void)state;
    nr_kafka_producer_config p;
    nr_error err = {0};
    assert_int_equal(nr_config_init(P, &p, &err), NR_OK);
    assert_string_equal(p.client_id, "nebula-resource");
    assert_null(p.bootstrap_servers);
    assert_int_equal(p.message_timeout_ms, 30000);
    assert_int_equal(p.flush_timeout_ms, 5000);
    assert_int_equal(p.health_timeout_ms, 5000);
    assert_int_equal(p.acks, NR_KAFKA_ACKS_ALL);
    assert_int_equal(p.security_protocol, NR_KAFKA_PLAINTEXT);
    assert_true(p.verify_on_create);
    nr_config_report r;
    assert_int_equal(nr_config_validate(P, &p, "$", &r, &err), NR_ECONFIG);
    assert_true(has_issue(&r, "$.bootstrap_servers", ""));
    nr_config_free(P, &p);

    assert_string_equal(nr_kafka_producer_type.name, "kafka-producer");
    assert_string_equal(nr_kafka_consumer_type.name, "kafka-consumer");
    assert_ptr_equal(nr_kafka_producer_type.config_schema, P);
    assert_ptr_equal(nr_kafka_consumer_type.config_schema, C);
    assert_int_equal(nr_resource_type_check(&nr_kafka_producer_type, &err), NR_OK);
    assert_int_equal(nr_resource_type_check(&nr_kafka_consumer_type, &err), NR_OK);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    const char *json = "{\"bootstrap_servers\":\"127.0.0.1:9092,127.0.0.1:9093\","
                       "\"acks\":\"leader\",\"linger_ms\":20,\"message_timeout_ms\":8000,"
                       "\"properties\":\"compression.type=lz4;\\nqueue.buffering.max.kbytes = "
                       "2048;\","
                       "\"secret_properties\":\"ssl.key.password=" SECRET "\"}";
    nr_kafka_producer_config a, b;
    nr_config_report r;
    if (parse(P, json, &a, &r) != NR_OK) {
        dump(&r);
        fail_msg("parse failed");
    }
    assert_int_equal(a.acks, NR_KAFKA_ACKS_LEADER);
    assert_int_equal(a.linger_ms, 20);
    nr_error err = {0};
    char *text = nr_config_serialize(P, &a, NR_CONFIG_SECRETS_REVEAL, &err);
    assert_non_null(text);
    assert_int_equal(parse(P, text, &b, &r), NR_OK);
    assert_true(nr_config_equal(P, &a, &b));
    nr_free(text);

    /* redacted when printed or serialized for show */
    text = nr_config_serialize(P, &a, NR_CONFIG_SECRETS_REDACT, &err);
    assert_non_null(text);
    assert_null(strstr(text, SECRET));
    assert_non_null(strstr(text, NR_SECRET_REDACTED));
    nr_free(text);
    char buf[4096] = "";
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    assert_non_null(f);
    nr_config_print(P, &a, f);
    fclose(f);
    assert_null(strstr(buf, SECRET));
    assert_non_null(strstr(buf, "compression.type=lz4"));
    nr_config_free(P, &a);
    nr_config_free(P, &b);

    const char *cjson = "{\"bootstrap_servers\":\"b:9092\",\"group_id\":\"g\","
                        "\"topics\":\"orders, payments,^audit\\\\..*\","
                        "\"auto_offset_reset\":\"earliest\",\"enable_auto_commit\":false}";
    nr_kafka_consumer_config c;
    if (parse(C, cjson, &c, &r) != NR_OK) {
        dump(&r);
        fail_msg("consumer parse failed");
    }
    assert_int_equal(c.auto_offset_reset, NR_KAFKA_OFFSET_EARLIEST);
    assert_false(c.enable_auto_commit);
    nr_config_free(C, &c);
}

static void test_field_rules(void **state)
{
    (void)state;
    nr_kafka_producer_config p;
    nr_kafka_consumer_config c;
    nr_config_report r;

    /* consumer needs group_id */
    assert_int_equal(parse(C, "{\"bootstrap_servers\":\"b:1\"}", &c, &r), NR_ECONFIG);
    assert_true(has_issue(&r, "$.group_id", ""));
    nr_config_free(C, &c);

    /* a topic name Kafka does not allow */
    assert_int_equal(
        parse(C, "{\"bootstrap_servers\":\"b:1\",\"group_id\":\"g\",\"topics\":\"ok,bad topic!\"}",
              &c, &r),
        NR_ECONFIG);
    assert_true(has_issue(&r, "$.topics", "bad topic!"));
    nr_config_free(C, &c);

    /* out of range, unknown enum names, unknown keys */
    assert_int_equal(parse(P,
                           "{\"bootstrap_servers\":\"b:1\",\"message_timeout_ms\":0,"
                           "\"acks\":\"most\",\"flush_timeout\":5}",
                           &p, &r),
                     NR_ECONFIG);
    assert_true(r.count >= 3);
    nr_config_free(P, &p);

    /* linger.ms must stay below message.timeout.ms */
    assert_int_equal(parse(P,
                           "{\"bootstrap_servers\":\"b:1\",\"message_timeout_ms\":100,"
                           "\"linger_ms\":100}",
                           &p, &r),
                     NR_ECONFIG);
    assert_true(has_issue(&r, "$.linger_ms", "less than message_timeout_ms"));
    nr_config_free(P, &p);

    /* SASL: username and protocol go together */
    assert_int_equal(parse(P,
                           "{\"bootstrap_servers\":\"b:1\","
                           "\"security_protocol\":\"sasl_plaintext\"}",
                           &p, &r),
                     NR_ECONFIG);
    assert_true(has_issue(&r, "$.sasl_username", "required"));
    nr_config_free(P, &p);
    assert_int_equal(parse(P, "{\"bootstrap_servers\":\"b:1\",\"sasl_username\":\"app\"}", &p, &r),
                     NR_ECONFIG);
    assert_true(has_issue(&r, "$.sasl_username", "only allowed"));
    nr_config_free(P, &p);
    assert_int_equal(parse(P,
                           "{\"bootstrap_servers\":\"b:1\",\"sasl_username\":\"app\","
                           "\"security_protocol\":\"sasl_ssl\","
                           "\"sasl_mechanism\":\"SCRAM-SHA-512\"}",
                           &p, &r),
                     NR_OK);
    nr_config_free(P, &p);
}

static void test_librdkafka_properties_checked(void **state)
{
    (void)state;
    nr_kafka_producer_config p;
    nr_config_report r;

    /* a bad value: the property and librdkafka's message */
    assert_int_equal(parse(P,
                           "{\"bootstrap_servers\":\"b:1\","
                           "\"properties\":\"compression.type=bogus\"}",
                           &p, &r),
                     NR_ECONFIG);
    assert_true(has_issue(&r, "$.properties", "compression.type"));
    assert_true(has_issue(&r, "$.properties", "Invalid value"));
    nr_config_free(P, &p);

    /* an unknown property */
    assert_int_equal(parse(P,
                           "{\"bootstrap_servers\":\"b:1\","
                           "\"properties\":\"no.such.property=1\"}",
                           &p, &r),
                     NR_ECONFIG);
    assert_true(has_issue(&r, "$.properties", "no.such.property"));
    assert_true(has_issue(&r, "$.properties", "No such configuration property"));
    nr_config_free(P, &p);

    /* a malformed entry, a name a typed field owns */
    assert_int_equal(parse(P,
                           "{\"bootstrap_servers\":\"b:1\","
                           "\"properties\":\"linger.ms=5;justaname;=3\"}",
                           &p, &r),
                     NR_ECONFIG);
    assert_true(has_issue(&r, "$.properties", "typed field"));
    assert_true(has_issue(&r, "$.properties", "entry 2 has no '='"));
    assert_true(has_issue(&r, "$.properties", "entry 3 has an empty property name"));
    nr_config_free(P, &p);

    /* the SASL password is never a property */
    assert_int_equal(parse(P,
                           "{\"bootstrap_servers\":\"b:1\","
                           "\"secret_properties\":\"sasl.password=" SECRET "\"}",
                           &p, &r),
                     NR_ECONFIG);
    assert_true(has_issue(&r, "$.secret_properties", "credential"));
    assert_report_lacks(&r, SECRET);
    nr_config_free(P, &p);

    /* a secret in the plain field is refused without showing it */
    assert_int_equal(parse(P,
                           "{\"bootstrap_servers\":\"b:1\","
                           "\"properties\":\"ssl.key.password=" SECRET "\"}",
                           &p, &r),
                     NR_ECONFIG);
    assert_true(has_issue(&r, "$.properties", "secret_properties"));
    assert_report_lacks(&r, SECRET);
    nr_config_free(P, &p);

    /* a secret property librdkafka refuses: named, its value redacted */
    assert_int_equal(parse(P,
                           "{\"bootstrap_servers\":\"b:1\","
                           "\"secret_properties\":\"no.such.secret=" SECRET
                           ";ssl.keystore.password=" SECRET "x;ssl.keystore.location=\"}",
                           &p, &r),
                     NR_ECONFIG);
    assert_true(has_issue(&r, "$.secret_properties", "no.such.secret"));
    assert_report_lacks(&r, SECRET);
    nr_config_free(P, &p);
}

typedef struct collected {
    char text[512];
} collected;

static int collect(void *ud, size_t entry, const char *name, const char *value)
{
    collected *c = ud;
    size_t l = strlen(c->text);
    snprintf(c->text + l, sizeof(c->text) - l, "%zu:[%s]=[%s] ", entry, name ? name : "(null)",
             value ? value : "(null)");
    return 0;
}

static void test_properties_text_format(void **state)
{
    (void)state;
    collected c = {""};
    assert_int_equal(nr__kafka_each_property(" a.b = 1 ;\n\n c=x\\;y\\\\z;;d\n e = ", collect, &c),
                     0);
    assert_string_equal(c.text, "1:[a.b]=[1] 2:[c]=[x;y\\z] 3:[(null)]=[(null)] 4:[e]=[] ");
    c.text[0] = '\0';
    assert_int_equal(nr__kafka_each_property(NULL, collect, &c), 0);
    assert_int_equal(nr__kafka_each_property("", collect, &c), 0);
    assert_string_equal(c.text, "");

    char out[64];
    const char *hide[] = {"pw1", NULL, "secret"};
    nr__kafka_redact(out, sizeof(out), "a pw1 b secret c pw1", hide, 3);
    assert_string_equal(out, "a <redacted> b <redacted> c <redacted>");
    nr__kafka_redact(out, 8, "pw1pw1pw1", hide, 3);
    assert_string_equal(out, "<redact");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_types),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_field_rules),
        cmocka_unit_test(test_librdkafka_properties_checked),
        cmocka_unit_test(test_properties_text_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
