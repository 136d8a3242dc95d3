/*
 * test_mongo_config.c - the MongoDB driver without a server: the config
 * schema and its rules, the redacting helpers, and the create failures that
 * need no MongoDB (bad input, deadline, cancel, refused port, a listener
 * that never answers).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nebula/mongo.h"

#define ID "orders-mongo"
#define PW "s3cr3t-Pa55word"

/* ---- helpers ------------------------------------------------------------------ */

static void cfg_init(nr_mongo_config *c)
{
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_mongo_config_schema, c, &err), NR_OK);
}

static void set_str(char **field, const char *v)
{
    nr_free(*field);
    *field = v ? nr_strdup(v) : NULL;
}

/* Parse json; returns the code and fills rep. */
static int parse(const char *json, nr_mongo_config *c, nr_config_report *rep, nr_error *err)
{
    return nr_config_parse(&nr_mongo_config_schema, json, strlen(json), c, rep, err);
}

static void assert_no_pw(const char *s)
{
    if (strstr(s, PW) || strstr(s, "s3cr3t"))
        fail_msg("the password leaked into \"%s\"", s);
}

static void assert_report_no_pw(const nr_config_report *rep)
{
    for (size_t i = 0; i < rep->count; i++) {
        assert_no_pw(rep->items[i].path);
        assert_no_pw(rep->items[i].value);
        assert_no_pw(rep->items[i].rule);
    }
}

static const nr_config_issue *find_issue(const nr_config_report *rep, const char *path)
{
    for (size_t i = 0; i < rep->count; i++)
        if (strcmp(rep->items[i].path, path) == 0)
            return &rep->items[i];
    return NULL;
}

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* A listening socket that never accepts nor answers: connects succeed
 * (kernel backlog) and the MongoDB handshake never gets a reply. */
static int silent_listener(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s, 16), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return s;
}

static int create(void **h, const nr_mongo_config *cfg, const nr_create_ctx *ctx, nr_error *err)
{
    return nr_mongo_type.create(h, cfg, ctx, NULL, err);
}

/* ---- schema ------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    nr_mongo_config c;
    cfg_init(&c);
    assert_null(c.hosts);
    assert_null(c.uri);
    assert_string_equal(c.app_name, "nebula-resource");
    assert_int_equal(c.server_selection_timeout_ms, 10000);
    assert_int_equal(c.connect_timeout_ms, 10000);
    assert_int_equal(c.socket_timeout_ms, 300000);
    assert_int_equal(c.health_timeout_ms, 5000);
    assert_false(c.tls);
    /* neither hosts nor uri: invalid, naming hosts */
    nr_config_report rep;
    nr_error err = {0};
    assert_int_equal(nr_config_validate(&nr_mongo_config_schema, &c, "$", &rep, &err), NR_ECONFIG);
    assert_non_null(find_issue(&rep, "$.hosts"));
    nr_config_free(&nr_mongo_config_schema, &c);
    assert_int_equal(nr_resource_type_check(&nr_mongo_type, &err), NR_OK);
    assert_string_equal(nr_mongo_type.name, "mongo");
}

static void test_parse_roundtrip(void **state)
{
    (void)state;
    const char *json = "{\"hosts\":\"db1:27017,[::1]:27018,db3\",\"database\":\"orders\","
                       "\"username\":\"app\",\"auth_source\":\"admin\",\"tls\":true,"
                       "\"tls_ca_file\":\"/etc/ssl/ca.pem\",\"health_timeout_ms\":1500}";
    nr_mongo_config c, d;
    nr_config_report rep;
    nr_error err = {0};
    int rc = parse(json, &c, &rep, &err);
    if (rc != NR_OK) {
        nr_config_report_print(&rep, stderr);
        fail_msg("parse: %s", err.message);
    }
    char *text = nr_config_serialize(&nr_mongo_config_schema, &c, NR_CONFIG_SECRETS_REVEAL, &err);
    assert_non_null(text);
    assert_int_equal(parse(text, &d, &rep, &err), NR_OK);
    assert_true(nr_config_equal(&nr_mongo_config_schema, &c, &d));
    nr_free(text);
    char buf[256];
    assert_string_equal(nr_mongo_describe(&c, buf, sizeof(buf)),
                        "mongodb://app@db1:27017,[::1]:27018,db3/orders?authSource=admin&tls=true");
    nr_config_free(&nr_mongo_config_schema, &c);
    nr_config_free(&nr_mongo_config_schema, &d);
}

static void test_rules(void **state)
{
    (void)state;
    static const struct {
        const char *json, *path, *needle;
    } bad[] = {
        {"{\"hosts\":\"a:1\",\"uri\":\"mongodb://a/\"}", "$.uri", "together with hosts"},
        {"{\"hosts\":\"\"}", "$.hosts", "empty"},
        {"{\"hosts\":\"a:1,,b:2\"}", "$.hosts", "empty entry"},
        {"{\"hosts\":\"a:0\"}", "$.hosts", "between 1 and 65535"},
        {"{\"hosts\":\"a:65536\"}", "$.hosts", "between 1 and 65535"},
        {"{\"hosts\":\"a:\"}", "$.hosts", "port number"},
        {"{\"hosts\":\"a b:1\"}", "$.hosts", "letters, digits"},
        {"{\"hosts\":\"[::1\"}", "$.hosts", "[address]:port"},
        {"{\"uri\":\"http://x/\"}", "$.uri", "mongodb://"},
        {"{\"uri\":\"mongodb://\"}", "$.uri", "at least one host"},
        {"{\"uri\":\"mongodb://app@h/\"}", "$.uri", "user name"},
        {"{\"hosts\":\"h\",\"database\":\"a.b\"}", "$.database", "must not contain"},
        {"{\"hosts\":\"h\",\"database\":"
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
         "$.database", "63 bytes"},
        {"{\"hosts\":\"h\",\"auth_source\":\"admin\"}", "$.auth_source", "needs username"},
        {"{\"hosts\":\"h\",\"tls_ca_file\":\"/ca.pem\"}", "$.tls_ca_file", "needs tls"},
        {"{\"hosts\":\"h\",\"connect_timeout_ms\":0}", "$.connect_timeout_ms", NULL},
        {"{\"hosts\":\"h\",\"health_timeout_ms\":600001}", "$.health_timeout_ms", NULL},
        {"{\"hosts\":\"h\",\"app_name\":\"\"}", "$.app_name", NULL},
        {"{\"hosts\":\"h\",\"password\":\"x\"}", "$.password", NULL},
        {"{\"hosts\":42}", "$.hosts", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nr_mongo_config c;
        nr_config_report rep;
        nr_error err = {0};
        int rc = parse(bad[i].json, &c, &rep, &err);
        if (rc != NR_ECONFIG)
            fail_msg("%s: expected NR_ECONFIG, got %s", bad[i].json, nr_err_name(rc));
        const nr_config_issue *is = find_issue(&rep, bad[i].path);
        if (!is) {
            nr_config_report_print(&rep, stderr);
            fail_msg("%s: no issue at %s", bad[i].json, bad[i].path);
        }
        if (bad[i].needle && !strstr(is->rule, bad[i].needle))
            fail_msg("%s: rule \"%s\" lacks \"%s\"", bad[i].json, is->rule, bad[i].needle);
        nr_config_free(&nr_mongo_config_schema, &c);
    }
}

/* A URI with a password is refused by the config check, naming the field;
 * neither the issue, the error, nor anything printed holds the password. */
static void test_uri_with_password_refused(void **state)
{
    (void)state;
    static const char *const uris[] = {
        "mongodb://app:" PW "@db1:27017/orders",
        "mongodb://app:" PW "@db1:27017,db2:27017/?replicaSet=rs0",
        "mongodb+srv://app:" PW "@cluster.example/",
        "mongodb://app:s3cr3t/Pa55word@db1/", /* raw '/' in the password */
        "mongodb://app:s3cr3t?Pa55word@db1/", /* raw '?' in the password */
        "mongodb://db1/?tlsCertificateKeyFilePassword=" PW,
        "mongodb://db1/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:" PW,
    };
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        char json[512];
        snprintf(json, sizeof(json), "{\"uri\":\"%s\"}", uris[i]);
        nr_mongo_config c;
        nr_config_report rep;
        nr_error err = {0};
        int rc = parse(json, &c, &rep, &err);
        if (rc != NR_ECONFIG)
            fail_msg("uri %zu accepted", i);
        const nr_config_issue *is = find_issue(&rep, "$.uri");
        assert_non_null(is);
        assert_report_no_pw(&rep);
        assert_no_pw(err.message);
        /* a failed parse leaves defaults: nothing to leak in the printout */
        assert_null(c.uri);
        nr_config_free(&nr_mongo_config_schema, &c);

        /* the same config built in code: validate refuses it, create too */
        cfg_init(&c);
        set_str(&c.uri, uris[i]);
        nr_config_report_clear(&rep);
        assert_int_equal(nr_config_validate(&nr_mongo_config_schema, &c, "$", &rep, &err),
                         NR_ECONFIG);
        assert_non_null(find_issue(&rep, "$.uri"));
        assert_report_no_pw(&rep);
        void *h = NULL;
        nr_error_clear(&err);
        nr_create_ctx ctx = {.resource_id = ID};
        NR_ASSERT_ERR(err, NR_OK, NULL);
        assert_int_equal(create(&h, &c, &ctx, &err), NR_ECONFIG);
        assert_null(h);
        assert_string_equal(err.resource_id, ID);
        assert_non_null(strstr(err.message, ID));
        assert_non_null(strstr(err.message, "uri"));
        assert_no_pw(err.message);
        /* the pool refuses it too */
        nr_pool *pool = NULL;
        nr_pool_options o = NR_POOL_OPTIONS(.id = ID, .type = &nr_mongo_type, .config = &c);
        nr_error_clear(&err);
        assert_int_equal(nr_pool_create(&pool, &o, &err), NR_ECONFIG);
        assert_non_null(strstr(err.message, "uri"));
        assert_no_pw(err.message);
        nr_config_free(&nr_mongo_config_schema, &c);
    }
}

/* The printable forms never hold a password, and keep the rest. */
static void test_redact_and_describe(void **state)
{
    (void)state;
    char buf[512];
    assert_string_equal(
        nr_mongo_redact_uri("mongodb://app:" PW "@db1:27017/orders?tls=true", buf, sizeof(buf)),
        "mongodb://app:<redacted>@db1:27017/orders?tls=true");
    assert_string_equal(nr_mongo_redact_uri("mongodb://app@db1/", buf, sizeof(buf)),
                        "mongodb://app@db1/");
    assert_string_equal(nr_mongo_redact_uri("mongodb://db1/?appname=a@b&w=1", buf, sizeof(buf)),
                        "mongodb://db1/?appname=a@b&w=1");
    assert_string_equal(nr_mongo_redact_uri("mongodb://h/?w=1&tlsCertificateKeyFilePassword=" PW
                                            "&x=2",
                                            buf, sizeof(buf)),
                        "mongodb://h/?w=1&tlsCertificateKeyFilePassword=<redacted>&x=2");
    assert_string_equal(
        nr_mongo_redact_uri("mongodb://h/?authmechanismproperties=AWS_SESSION_TOKEN:" PW, buf,
                            sizeof(buf)),
        "mongodb://h/?authmechanismproperties=<redacted>");
    nr_mongo_redact_uri("mongodb://app:s3cr3t/Pa55word@db1/x", buf, sizeof(buf));
    assert_no_pw(buf);
    assert_non_null(strstr(buf, "db1/x"));
    nr_mongo_redact_uri("mongodb://app:s3cr3t?Pa55word@db1/x?w=1", buf, sizeof(buf));
    assert_no_pw(buf);
    assert_non_null(strstr(buf, "db1/x?w=1"));
    assert_string_equal(nr_mongo_redact_uri("not a uri", buf, sizeof(buf)), "not a uri");
    assert_string_equal(nr_mongo_redact_uri(NULL, buf, sizeof(buf)), "");
    assert_string_equal(nr_mongo_redact_uri("x", NULL, 0), "");
    /* cut to fit, never past the buffer, and still without the password */
    char small[16];
    nr_mongo_redact_uri("mongodb://app:" PW "@db1:27017/orders", small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_string_equal(small + sizeof(small) - 4, "...");
    assert_no_pw(small);

    nr_mongo_config c;
    cfg_init(&c);
    set_str(&c.uri, "mongodb://db1,db2/?replicaSet=rs0");
    set_str(&c.username, "app");
    assert_string_equal(nr_mongo_describe(&c, buf, sizeof(buf)),
                        "mongodb://app@db1,db2/?replicaSet=rs0");
    set_str(&c.uri, NULL);
    set_str(&c.hosts, "db1:1");
    assert_string_equal(nr_mongo_describe(&c, buf, sizeof(buf)), "mongodb://app@db1:1/");
    assert_string_equal(nr_mongo_describe(NULL, buf, sizeof(buf)), "(no config)");

    /* printing and serializing a config: the password is not in the config
     * at all (it comes from the credential provider) */
    char *text = nr_config_serialize(&nr_mongo_config_schema, &c, NR_CONFIG_SECRETS_REVEAL, NULL);
    assert_non_null(text);
    assert_no_pw(text);
    nr_free(text);
    char *mem = NULL;
    size_t memlen = 0;
    FILE *f = open_memstream(&mem, &memlen);
    assert_non_null(f);
    nr_config_print(&nr_mongo_config_schema, &c, f);
    fclose(f);
    assert_non_null(strstr(mem, "mongo.hosts"));
    assert_no_pw(mem);
    free(mem);
    nr_config_free(&nr_mongo_config_schema, &c);
}

/* ---- create without a server ------------------------------------------------------------ */

static void test_create_bad_input(void **state)
{
    (void)state;
    nr_mongo_config c;
    cfg_init(&c);
    set_str(&c.hosts, "127.0.0.1:1");
    nr_create_ctx ctx = {.resource_id = ID};
    nr_error err = {0};
    void *h = NULL;
    assert_int_equal(create(NULL, &c, &ctx, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, ID);
    assert_int_equal(create(&h, NULL, &ctx, &err), NR_EINVAL);
    assert_int_equal(create(&h, &c, NULL, &err), NR_EUNAVAIL); /* no ctx: defaults, refused */
    assert_null(h);

    /* a credential without a user name, and a user name without one */
    nr_secret *pw = NULL;
    assert_int_equal(nr_secret_from_str(&pw, PW, &err), NR_OK);
    ctx.credential = pw;
    assert_int_equal(create(&h, &c, &ctx, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "username");
    assert_no_pw(err.message);
    ctx.credential = NULL;
    set_str(&c.username, "app");
    assert_int_equal(create(&h, &c, &ctx, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "'app'");
    /* a password with a NUL byte */
    nr_secret *nul = NULL;
    assert_int_equal(nr_secret_create(&nul, "ab\0cd", 5, &err), NR_OK);
    ctx.credential = nul;
    assert_int_equal(create(&h, &c, &ctx, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "NUL");
    nr_secret_free(nul);
    nr_secret_free(pw);
    /* an invalid config given straight to create */
    set_str(&c.hosts, "a::b");
    ctx.credential = NULL;
    set_str(&c.username, NULL);
    assert_int_equal(create(&h, &c, &ctx, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "$.hosts");
    assert_null(h);

    /* NULL and foreign handles */
    assert_null(nr_mongo_client(NULL));
    assert_null(nr_mongo_database(NULL));
    int not_a_conn[8] = {0};
    assert_null(nr_mongo_client(not_a_conn));
    assert_int_equal(nr_mongo_type.validate(NULL, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_mongo_type.recycle(not_a_conn, NULL, &err), NR_EINVAL);
    nr_health_report hr;
    assert_int_equal(nr_mongo_type.health_check(NULL, NULL, nr_deadline_in_ms(100), &hr, &err),
                     NR_EINVAL);
    nr_mongo_type.destroy(NULL, NULL);
    nr_config_free(&nr_mongo_config_schema, &c);
}

/* A closed port: refused at once, NR_EUNAVAIL naming the resource and the
 * target, well within the deadline. */
static void test_create_refused(void **state)
{
    (void)state;
    nr_mongo_config c;
    cfg_init(&c);
    char hosts[64];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", closed_port());
    set_str(&c.hosts, hosts);
    set_str(&c.username, "app");
    nr_secret *pw = NULL;
    nr_error err = {0};
    assert_int_equal(nr_secret_from_str(&pw, PW, &err), NR_OK);
    nr_deadline dl = nr_deadline_in_ms(20000);
    nr_create_ctx ctx = {.resource_id = ID, .deadline = dl, .credential = pw};
    void *h = NULL;
    assert_int_equal(create(&h, &c, &ctx, &err), NR_EUNAVAIL);
    fprintf(stderr, "  refused: %s\n", err.message);
    assert_null(h);
    assert_false(nr_deadline_expired(dl));
    assert_string_equal(err.resource_id, ID);
    assert_non_null(strstr(err.message, ID));
    assert_non_null(strstr(err.message, hosts));
    assert_non_null(strstr(err.message, "app@"));
    assert_no_pw(err.message);
    assert_int_not_equal(err.driver_code, 0);
    nr_secret_free(pw);
    nr_config_free(&nr_mongo_config_schema, &c);
}

/* A server that accepts the connection and never answers: create gives up
 * at the context's deadline (NR_ETIMEDOUT, cause NR_EUNAVAIL), not after
 * the configured 60 s timeouts. */
static void test_create_deadline_silent_server(void **state)
{
    (void)state;
    int port = 0;
    int ls = silent_listener(&port);
    nr_mongo_config c;
    cfg_init(&c);
    char hosts[64];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", port);
    set_str(&c.hosts, hosts);
    c.connect_timeout_ms = 60000;
    c.server_selection_timeout_ms = 60000;
    nr_error err = {0};
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(300)};
    void *h = NULL;
    int64_t t0 = nr_now_ns();
    assert_int_equal(create(&h, &c, &ctx, &err), NR_ETIMEDOUT);
    int64_t took_ms = (nr_now_ns() - t0) / NR_NS_PER_MS;
    fprintf(stderr, "  silent server: %s\n", err.message);
    assert_null(h);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, ID);
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_non_null(strstr(err.message, hosts));
    /* failure bound only: far below the 60 s it would take without it */
    assert_true(took_ms < 30000);
    close(ls);
    nr_config_free(&nr_mongo_config_schema, &c);
}

/* Deadline already passed and token already set: nothing is tried. */
static void test_create_deadline_and_cancel_before(void **state)
{
    (void)state;
    int port = 0;
    int ls = silent_listener(&port);
    nr_mongo_config c;
    cfg_init(&c);
    char hosts[64];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", port);
    set_str(&c.hosts, hosts);
    nr_error err = {0};
    void *h = NULL;
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(-1)};
    assert_int_equal(create(&h, &c, &ctx, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, ID);
    assert_null(h);

    nr_cancel *tok = NULL;
    assert_int_equal(nr_cancel_create(&tok, NULL, &err), NR_OK);
    nr_cancel_trigger(tok);
    ctx.deadline = nr_deadline_in_ms(60000);
    ctx.cancel = tok;
    assert_int_equal(create(&h, &c, &ctx, &err), NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, ID);
    assert_null(h);
    nr_cancel_destroy(tok);
    close(ls);
    nr_config_free(&nr_mongo_config_schema, &c);
}

static void *trigger_later(void *arg)
{
    nr_sleep_ns(100 * NR_NS_PER_MS);
    nr_cancel_trigger(arg);
    return NULL;
}

/* The token is set while create waits for a server that never answers:
 * libmongoc cannot be interrupted, so create notices when the connect
 * attempt ends (connect_timeout_ms) and reports NR_ECANCELED, not the
 * connection failure. */
static void test_create_cancel_during_connect(void **state)
{
    (void)state;
    int port = 0;
    int ls = silent_listener(&port);
    nr_mongo_config c;
    cfg_init(&c);
    char hosts[64];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", port);
    set_str(&c.hosts, hosts);
    c.connect_timeout_ms = 500;
    nr_error err = {0};
    nr_cancel *tok = NULL;
    assert_int_equal(nr_cancel_create(&tok, NULL, &err), NR_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, trigger_later, tok), 0);
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(60000), .cancel = tok};
    void *h = NULL;
    int rc = create(&h, &c, &ctx, &err);
    pthread_join(t, NULL);
    fprintf(stderr, "  canceled: %s\n", err.message);
    assert_int_equal(rc, NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, ID);
    assert_null(h);
    nr_cancel_destroy(tok);
    close(ls);
    nr_config_free(&nr_mongo_config_schema, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_roundtrip),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_uri_with_password_refused),
        cmocka_unit_test(test_redact_and_describe),
        cmocka_unit_test(test_create_bad_input),
        cmocka_unit_test(test_create_refused),
        cmocka_unit_test(test_create_deadline_silent_server),
        cmocka_unit_test(test_create_deadline_and_cancel_before),
        cmocka_unit_test(test_create_cancel_during_connect),
    };
    return cmocka_run_group_tests_name("mongo_config", tests, NULL, NULL);
}
