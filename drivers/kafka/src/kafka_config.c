/*
 * kafka_config.c - the schemas of nr_kafka_producer_config and
 * nr_kafka_consumer_config, and the librdkafka configuration built from
 * either of them.
 *
 * The schemas' check runs the same builder as create, without the password,
 * so that a property librdkafka refuses is a config error (naming the
 * property and librdkafka's message) before anything is created.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kafka_internal.h"
#include "nebula/alloc.h"

/* ---- enum names (the fields: nebula/kafka.h) ---------------------------------------- */

/* The enum names the lists in nebula/kafka.h refer to, and the words librdkafka
 * takes for them where they differ. */
static const char *const nr__kafka_protocol_names[] = {"plaintext", "ssl", "sasl_plaintext",
                                                       "sasl_ssl", NULL};
static const char *const protocol_values[] = {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"};
static const char *const nr__kafka_mechanism_names[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512",
                                                        NULL};
static const char *const nr__kafka_acks_names[] = {"all", "leader", "none", NULL};
static const char *const acks_values[] = {"all", "1", "0"};
static const char *const nr__kafka_reset_names[] = {"latest", "earliest", "error", NULL};

/* ---- views ------------------------------------------------------------------------- */

void nr__kafka_settings_producer(kafka_settings *s, const nr_kafka_producer_config *c)
{
    *s = (kafka_settings){
        .kind = KAFKA_PRODUCER,
        .bootstrap_servers = c->bootstrap_servers,
        .client_id = c->client_id,
        .security_protocol = c->security_protocol,
        .sasl_mechanism = c->sasl_mechanism,
        .sasl_username = c->sasl_username,
        .message_timeout_ms = c->message_timeout_ms,
        .request_timeout_ms = c->request_timeout_ms,
        .socket_timeout_ms = c->socket_timeout_ms,
        .health_timeout_ms = c->health_timeout_ms,
        .flush_timeout_ms = c->flush_timeout_ms,
        .acks = c->acks,
        .linger_ms = c->linger_ms,
        .verify_on_create = c->verify_on_create,
        .properties = c->properties,
        .secret_properties = c->secret_properties,
    };
}

void nr__kafka_settings_consumer(kafka_settings *s, const nr_kafka_consumer_config *c)
{
    *s = (kafka_settings){
        .kind = KAFKA_CONSUMER,
        .bootstrap_servers = c->bootstrap_servers,
        .client_id = c->client_id,
        .security_protocol = c->security_protocol,
        .sasl_mechanism = c->sasl_mechanism,
        .sasl_username = c->sasl_username,
        .socket_timeout_ms = c->socket_timeout_ms,
        .health_timeout_ms = c->health_timeout_ms,
        .verify_on_create = c->verify_on_create,
        .properties = c->properties,
        .secret_properties = c->secret_properties,
        .group_id = c->group_id,
        .topics = c->topics,
        .auto_offset_reset = c->auto_offset_reset,
        .enable_auto_commit = c->enable_auto_commit,
        .close_timeout_ms = c->close_timeout_ms,
    };
}

const char *nr__kafka_kind_name(kafka_kind kind)
{
    return kind == KAFKA_CONSUMER ? "kafka-consumer" : "kafka-producer";
}

/* ---- redaction ----------------------------------------------------------------------- */

void nr__kafka_redact(char *dst, size_t n, const char *src, const char *const *secrets,
                      size_t nsecrets)
{
    if (!dst || n == 0)
        return;
    size_t o = 0;
    const size_t rl = strlen(NR_SECRET_REDACTED);
    while (src && *src && o + 1 < n) {
        size_t hit = 0;
        for (size_t i = 0; i < nsecrets && !hit; i++) {
            size_t l = secrets[i] ? strlen(secrets[i]) : 0;
            if (l && strncmp(src, secrets[i], l) == 0)
                hit = l;
        }
        if (hit) {
            size_t k = rl < n - 1 - o ? rl : n - 1 - o;
            memcpy(dst + o, NR_SECRET_REDACTED, k);
            o += k;
            src += hit;
        } else {
            dst[o++] = *src++;
        }
    }
    dst[o] = '\0';
}

/* ---- topics ---------------------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t l = strlen(s);
    while (l > 0 && isspace((unsigned char)s[l - 1]))
        s[--l] = '\0';
    return s;
}

int nr__kafka_each_topic(const char *list, int (*fn)(void *ud, const char *topic), void *ud)
{
    if (!list)
        return 0;
    char *copy = nr_strdup(list);
    if (!copy)
        return NR_ENOMEM;
    int rc = 0;
    char *p = copy;
    while (p && rc == 0) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *t = trim(p);
        if (*t)
            rc = fn(ud, t);
        p = comma ? comma + 1 : NULL;
    }
    nr_free(copy);
    return rc;
}

/* ---- properties ------------------------------------------------------------------------ */

/* Names the typed fields own: a property may not set them behind their back. */
static const char *const managed_names[] = {"bootstrap.servers",
                                            "metadata.broker.list",
                                            "client.id",
                                            "security.protocol",
                                            "sasl.mechanisms",
                                            "sasl.mechanism",
                                            "sasl.username",
                                            "message.timeout.ms",
                                            "delivery.timeout.ms",
                                            "request.timeout.ms",
                                            "socket.timeout.ms",
                                            "acks",
                                            "request.required.acks",
                                            "linger.ms",
                                            "queue.buffering.max.ms",
                                            "group.id",
                                            "auto.offset.reset",
                                            "enable.auto.commit",
                                            NULL};

static bool is_managed(const char *name)
{
    for (size_t i = 0; managed_names[i]; i++)
        if (strcmp(name, managed_names[i]) == 0)
            return true;
    return false;
}

/* Whether a property's value is a secret. */
static bool holds_secret(const char *name)
{
    char low[128];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof(low); i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = '\0';
    return strstr(low, "password") || strstr(low, "secret") || strcmp(low, "ssl.key.pem") == 0 ||
           strcmp(low, "sasl.oauthbearer.config") == 0;
}

typedef struct build_ctx {
    rd_kafka_conf_t *conf;
    nr_config_report *report;
    const char *path;
    size_t issues;
} build_ctx;

static void issue(build_ctx *b, const char *field, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void issue(build_ctx *b, const char *field, const char *value, const char *fmt, ...)
{
    b->issues++;
    if (!b->report)
        return;
    char where[NR_CONFIG_PATH_MAX];
    snprintf(where, sizeof(where), "%s.%s", b->path, field);
    char rule[NR_CONFIG_RULE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof(rule), fmt, ap);
    va_end(ap);
    nr_config_report_add(b->report, where, value, 0, 0, "%s", rule);
}

/* rd_kafka_conf_set of a typed field; its value is not secret. */
static void set_plain(build_ctx *b, const char *field, const char *name, const char *value)
{
    char errstr[256] = "";
    if (!b->conf)
        return;
    if (rd_kafka_conf_set(b->conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        issue(b, field, NULL, "librdkafka refuses %s=%s: %s", name, value, errstr);
}

static void set_int(build_ctx *b, const char *field, const char *name, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    set_plain(b, field, name, buf);
}

/* One property from `properties` (secret == false) or `secret_properties`. */
static void set_property(build_ctx *b, const char *field, bool secret, const char *name,
                         const char *value)
{
    if (strcmp(name, "sasl.password") == 0) {
        issue(b, field, NULL,
              "property 'sasl.password' is not allowed: the password is the resource's "
              "credential");
        return;
    }
    if (is_managed(name)) {
        issue(b, field, NULL, "property '%s' is set by a typed field; use that field instead",
              name);
        return;
    }
    if (!secret && holds_secret(name)) {
        issue(b, field, NULL, "property '%s' holds a secret: put it in secret_properties", name);
        return;
    }
    char errstr[256] = "";
    if (!b->conf)
        return;
    if (rd_kafka_conf_set(b->conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        char shown[256];
        const char *hide[1] = {value};
        if (secret || holds_secret(name))
            nr__kafka_redact(shown, sizeof(shown), errstr, hide, 1);
        else
            snprintf(shown, sizeof(shown), "%s", errstr);
        issue(b, field, NULL, "librdkafka refuses property '%s': %s", name, shown);
    }
}

int nr__kafka_each_property(const char *text, kafka_property_fn fn, void *ud)
{
    if (!text || !*text)
        return 0;
    size_t len = strlen(text);
    char *buf = nr_malloc(len + 1);
    if (!buf)
        return NR_ENOMEM;
    size_t entry = 0;
    int rc = 0;
    const char *r = text;
    while (*r && rc == 0) {
        /* one entry, unescaped into buf */
        size_t o = 0;
        while (*r && *r != ';' && *r != '\n') {
            if (r[0] == '\\' && (r[1] == ';' || r[1] == '\\')) {
                buf[o++] = r[1];
                r += 2;
            } else {
                buf[o++] = *r++;
            }
        }
        buf[o] = '\0';
        if (*r)
            r++;
        char *e = trim(buf);
        if (!*e)
            continue;
        entry++;
        char *eq = strchr(e, '=');
        if (!eq) {
            rc = fn(ud, entry, NULL, NULL);
            continue;
        }
        *eq = '\0';
        rc = fn(ud, entry, trim(e), trim(eq + 1));
    }
    /* the buffer held the values, maybe secret ones */
    memset(buf, 0, len + 1);
    nr_free(buf);
    return rc;
}

typedef struct apply_ctx {
    build_ctx *b;
    const char *field;
    bool secret;
} apply_ctx;

static int apply_one(void *ud, size_t entry, const char *name, const char *value)
{
    apply_ctx *a = ud;
    if (!name)
        issue(a->b, a->field, NULL, "entry %zu has no '=': expected name=value", entry);
    else if (!*name)
        issue(a->b, a->field, NULL, "entry %zu has an empty property name", entry);
    else
        set_property(a->b, a->field, a->secret, name, value);
    return 0;
}

/*
 * Set every name=value entry of text. Entries are numbered from 1 in issues;
 * the text of an entry is never quoted (it may hold a secret).
 */
static void apply_properties(build_ctx *b, const char *field, const char *text, bool secret)
{
    apply_ctx a = {.b = b, .field = field, .secret = secret};
    if (nr__kafka_each_property(text, apply_one, &a) == NR_ENOMEM)
        issue(b, field, NULL, "out of memory while reading the properties");
}

static int check_topic(void *ud, const char *t)
{
    build_ctx *b = ud;
    size_t l = strlen(t);
    if (t[0] == '^') /* a regular expression subscription */
        return 0;
    bool ok = l <= 249 && strcmp(t, ".") != 0 && strcmp(t, "..") != 0;
    for (size_t i = 0; ok && i < l; i++)
        ok = isalnum((unsigned char)t[i]) || t[i] == '.' || t[i] == '_' || t[i] == '-';
    if (!ok)
        issue(b, "topics", NULL,
              "topic '%.60s' is not a valid topic name (1..249 of [A-Za-z0-9._-], or a "
              "regular expression starting with '^')",
              t);
    return 0;
}

size_t nr__kafka_build_conf(const kafka_settings *s, const char *path, const nr_secret *password,
                            rd_kafka_conf_t **out, nr_config_report *report)
{
    build_ctx b = {.conf = rd_kafka_conf_new(), .report = report, .path = path ? path : "$"};
    if (out)
        *out = NULL;
    if (!b.conf) {
        issue(&b, "bootstrap_servers", NULL, "out of memory for the librdkafka configuration");
        return b.issues;
    }
    bool sasl = s->security_protocol == NR_KAFKA_SASL_PLAINTEXT ||
                s->security_protocol == NR_KAFKA_SASL_SSL;
    bool has_user = s->sasl_username && s->sasl_username[0];

    if (s->bootstrap_servers && s->bootstrap_servers[0])
        set_plain(&b, "bootstrap_servers", "bootstrap.servers", s->bootstrap_servers);
    else
        issue(&b, "bootstrap_servers", NULL, "is required (host:port[,host:port...])");
    if (s->client_id && s->client_id[0])
        set_plain(&b, "client_id", "client.id", s->client_id);
    if (s->security_protocol >= 0 && s->security_protocol <= NR_KAFKA_SASL_SSL)
        set_plain(&b, "security_protocol", "security.protocol",
                  protocol_values[s->security_protocol]);
    if (sasl && !has_user)
        issue(&b, "sasl_username", NULL, "is required when security_protocol is %s",
              protocol_values[s->security_protocol]);
    if (!sasl && has_user)
        issue(&b, "sasl_username", NULL,
              "is only allowed with security_protocol sasl_plaintext or sasl_ssl");
    if (sasl && has_user) {
        if (s->sasl_mechanism >= 0 && s->sasl_mechanism <= NR_KAFKA_SASL_SCRAM_SHA_512)
            set_plain(&b, "sasl_mechanism", "sasl.mechanisms",
                      nr__kafka_mechanism_names[s->sasl_mechanism]);
        set_plain(&b, "sasl_username", "sasl.username", s->sasl_username);
        if (password && b.conf) {
            char errstr[256];
            if (rd_kafka_conf_set(b.conf, "sasl.password", nr_secret_reveal(password, NULL), errstr,
                                  sizeof(errstr)) != RD_KAFKA_CONF_OK)
                issue(&b, "sasl_username", NULL, "librdkafka refuses the SASL password");
        }
    }
    set_int(&b, "socket_timeout_ms", "socket.timeout.ms", s->socket_timeout_ms);
    if (s->kind == KAFKA_PRODUCER) {
        set_int(&b, "message_timeout_ms", "message.timeout.ms", s->message_timeout_ms);
        set_int(&b, "request_timeout_ms", "request.timeout.ms", s->request_timeout_ms);
        set_int(&b, "linger_ms", "linger.ms", s->linger_ms);
        if (s->acks >= 0 && s->acks <= NR_KAFKA_ACKS_NONE)
            set_plain(&b, "acks", "acks", acks_values[s->acks]);
        if (s->linger_ms >= s->message_timeout_ms)
            issue(&b, "linger_ms", NULL, "must be less than message_timeout_ms (%lld)",
                  (long long)s->message_timeout_ms);
    } else {
        if (s->group_id && s->group_id[0])
            set_plain(&b, "group_id", "group.id", s->group_id);
        else
            issue(&b, "group_id", NULL, "is required for a consumer");
        if (s->auto_offset_reset >= 0 && s->auto_offset_reset <= NR_KAFKA_OFFSET_ERROR)
            set_plain(&b, "auto_offset_reset", "auto.offset.reset",
                      nr__kafka_reset_names[s->auto_offset_reset]);
        set_plain(&b, "enable_auto_commit", "enable.auto.commit",
                  s->enable_auto_commit ? "true" : "false");
        if (nr__kafka_each_topic(s->topics, check_topic, &b) == NR_ENOMEM)
            issue(&b, "topics", NULL, "out of memory while reading the topics");
    }
    apply_properties(&b, "properties", s->properties, false);
    if (s->secret_properties)
        apply_properties(&b, "secret_properties", nr_secret_reveal(s->secret_properties, NULL),
                         true);

    if (b.issues || !out) {
        rd_kafka_conf_destroy(b.conf);
        return b.issues;
    }
    *out = b.conf;
    return 0;
}

/* ---- schemas ------------------------------------------------------------------------- */

static void producer_check(const void *cfg, const char *path, nr_config_report *report)
{
    kafka_settings s;
    nr__kafka_settings_producer(&s, cfg);
    (void)nr__kafka_build_conf(&s, path, NULL, NULL, report);
}

static void consumer_check(const void *cfg, const char *path, nr_config_report *report)
{
    kafka_settings s;
    nr__kafka_settings_consumer(&s, cfg);
    (void)nr__kafka_build_conf(&s, path, NULL, NULL, report);
}

NR_CONFIG_SCHEMA(nr_kafka_producer_config_schema, "kafka-producer", nr_kafka_producer_config,
                 NR_KAFKA_PRODUCER_CONFIG_FIELDS, producer_check);
NR_CONFIG_SCHEMA(nr_kafka_consumer_config_schema, "kafka-consumer", nr_kafka_consumer_config,
                 NR_KAFKA_CONSUMER_CONFIG_FIELDS, consumer_check);
