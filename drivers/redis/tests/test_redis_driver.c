/*
 * test_redis_driver.c - the Redis driver's callbacks called directly,
 * against a real redis-server (started by with-redis.sh).
 */
#define _POSIX_C_SOURCE 200809L
#include "redis_testenv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/redis_internal.h"
#include "nebula/cancel.h"

#define ID "cache"

typedef struct fixture {
    nr_redis_config cfg;
    nr_secret *cred;
    void *h;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    rt_config(&f->cfg);
    f->cred = rt_secret(rt_env("NR_TEST_REDIS_PASSWORD"));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->h)
        nr_redis_type.destroy(f->h, NULL);
    nr_secret_free(f->cred);
    nr_config_free(&nr_redis_config_schema, &f->cfg);
    free(f);
    return 0;
}

static int create(fixture *f, nr_deadline deadline, const nr_cancel *cancel, nr_error *err)
{
    nr_create_ctx ctx = {
        .resource_id = ID, .deadline = deadline, .cancel = cancel, .credential = f->cred};
    return nr_redis_type.create(&f->h, &f->cfg, &ctx, NULL, err);
}

static void create_ok(fixture *f)
{
    nr_error err = {0};
    int rc = create(f, nr_deadline_in_ms(30000), NULL, &err);
    if (rc != NR_OK)
        fail_msg("create: %s: %s", nr_err_name(rc), err.message);
    assert_non_null(f->h);
}

static redisReply *cmd_ok(void *h, const char *fmt, const char *arg)
{
    redisReply *r = NULL;
    nr_error err = {0};
    int rc = arg ? nr_redis_command(h, &r, &err, fmt, arg) : nr_redis_command(h, &r, &err, fmt);
    if (rc != NR_OK)
        fail_msg("'%s': %s: %s", fmt, nr_err_name(rc), err.message);
    return r;
}

static void assert_no_secret(const nr_error *err, const char *secret)
{
    if (strstr(err->message, secret))
        fail_msg("the secret appears in \"%s\"", err->message);
}

/* ---- config ------------------------------------------------------------------------ */

static void test_config_defaults_rules_round_trip(void **state)
{
    (void)state;
    nr_redis_config c;
    nr_error err = {0};
    assert_int_equal(nr_config_init(&nr_redis_config_schema, &c, &err), NR_OK);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 6379);
    assert_string_equal(c.unix_socket, "");
    assert_string_equal(c.user, "");
    assert_int_equal(c.db, 0);
    assert_int_equal(c.connect_timeout_ms, 5000);
    assert_int_equal(c.command_timeout_ms, 5000);
    assert_int_equal(c.health_timeout_ms, 2000);
    assert_string_equal(c.client_name, "nebula-resource");
    assert_true(c.keepalive);
    nr_config_free(&nr_redis_config_schema, &c);

    nr_config_report rep;
    const char *bad = "{\"port\": 70000, \"db\": -1, \"client_name\": \"a b\", \"user\": \"x\\ny\","
                      " \"connect_timeout_ms\": 0}";
    assert_int_equal(nr_config_parse(&nr_redis_config_schema, bad, strlen(bad), &c, &rep, &err),
                     NR_ECONFIG);
    const char *paths[] = {"$.port", "$.db", "$.connect_timeout_ms"};
    for (size_t i = 0; i < 3; i++) {
        bool found = false;
        for (size_t k = 0; k < rep.count; k++)
            found = found || strcmp(rep.items[k].path, paths[i]) == 0;
        if (!found)
            fail_msg("no issue for %s", paths[i]);
    }
    nr_config_free(&nr_redis_config_schema, &c);
    /* the names are checked once the fields themselves pass */
    const char *names = "{\"client_name\": \"a b\", \"user\": \"x\\ny\"}";
    assert_int_equal(nr_config_parse(&nr_redis_config_schema, names, strlen(names), &c, &rep, &err),
                     NR_ECONFIG);
    assert_int_equal(rep.count, 2);
    assert_string_equal(rep.items[0].path, "$.user");
    assert_string_equal(rep.items[1].path, "$.client_name");
    assert_non_null(strstr(rep.items[1].rule, "spaces"));
    nr_config_free(&nr_redis_config_schema, &c);

    /* a password has no place in the config: the key is unknown */
    const char *pw = "{\"password\": \"hunter2\"}";
    assert_int_equal(nr_config_parse(&nr_redis_config_schema, pw, strlen(pw), &c, &rep, &err),
                     NR_ECONFIG);
    assert_string_equal(rep.items[0].path, "$.password");
    nr_config_free(&nr_redis_config_schema, &c);

    const char *good = "{\"host\": \"cache.internal\", \"port\": 6380, \"user\": \"app\", \"db\": "
                       "3, \"command_timeout_ms\": 0, \"keepalive\": false}";
    assert_int_equal(nr_config_parse(&nr_redis_config_schema, good, strlen(good), &c, &rep, &err),
                     NR_OK);
    assert_int_equal(c.db, 3);
    char *text = nr_config_serialize(&nr_redis_config_schema, &c, NR_CONFIG_SECRETS_REDACT, &err);
    assert_non_null(text);
    nr_redis_config back;
    assert_int_equal(
        nr_config_parse(&nr_redis_config_schema, text, strlen(text), &back, &rep, &err), NR_OK);
    assert_true(nr_config_equal(&nr_redis_config_schema, &c, &back));
    nr_free(text);
    nr_config_free(&nr_redis_config_schema, &back);
    nr_config_free(&nr_redis_config_schema, &c);
}

static void test_bad_input_is_refused(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    nr_create_ctx ctx = {.resource_id = ID};
    assert_int_equal(nr_redis_type.create(NULL, &f->cfg, &ctx, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_redis_type.create(&f->h, NULL, &ctx, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, ID);
    f->cfg.port = 0;
    assert_int_equal(nr_redis_type.create(&f->h, &f->cfg, &ctx, NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "port");
    f->cfg.port = rt_port();
    f->cfg.health_timeout_ms = 0;
    assert_int_equal(nr_redis_type.create(&f->h, &f->cfg, &ctx, NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "health_timeout_ms");
    assert_null(f->h);

    uint64_t dummy[8] = {0}; /* a foreign object: no magic */
    assert_int_equal(nr_redis_type.validate(NULL, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_redis_type.validate(dummy, NULL, &err), NR_EINVAL);
    assert_int_equal(nr_redis_type.recycle(NULL, NULL, &err), NR_EINVAL);
    nr_health_report rep;
    assert_int_equal(nr_redis_type.health_check(NULL, NULL, nr_deadline_in_ms(100), &rep, &err),
                     NR_EINVAL);
    assert_int_equal(nr_redis_command(NULL, NULL, &err, "PING"), NR_EINVAL);
    assert_null(nr_redis_context(NULL));
    nr_redis_type.destroy(NULL, NULL);
}

/* ---- create ------------------------------------------------------------------------ */

static void test_password_auth_and_commands(void **state)
{
    fixture *f = *state;
    create_ok(f);
    freeReplyObject(cmd_ok(f->h, "SET %s hello", "drv:k"));
    redisReply *r = cmd_ok(f->h, "GET %s", "drv:k");
    rt_expect_str(r, "hello");
    freeReplyObject(r);
    r = cmd_ok(f->h, "CLIENT GETNAME", NULL);
    rt_expect_str(r, "nebula-resource");
    freeReplyObject(r);
    r = cmd_ok(f->h, "ACL WHOAMI", NULL);
    rt_expect_str(r, "default");
    freeReplyObject(r);
    /* NULL out: the reply is freed by the call */
    nr_error err = {0};
    assert_int_equal(nr_redis_command(f->h, NULL, &err, "PING"), NR_OK);

    assert_int_equal(nr_redis_type.validate(f->h, NULL, &err), NR_OK);
    nr_health_report rep = {0};
    assert_int_equal(nr_redis_type.health_check(f->h, NULL, nr_deadline_in_ms(10000), &rep, &err),
                     NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_HEALTHY);
    assert_int_equal(nr_redis_type.recycle(f->h, NULL, &err), NR_OK);
}

static void test_acl_user(void **state)
{
    fixture *f = *state;
    rt_set_str(&f->cfg.user, rt_env("NR_TEST_REDIS_USER"));
    nr_secret_free(f->cred);
    f->cred = rt_secret(rt_env("NR_TEST_REDIS_USER_PASSWORD"));
    rt_set_str(&f->cfg.client_name, "");
    create_ok(f);
    redisReply *r = cmd_ok(f->h, "ACL WHOAMI", NULL);
    rt_expect_str(r, rt_env("NR_TEST_REDIS_USER"));
    freeReplyObject(r);
    /* no name was set */
    r = cmd_ok(f->h, "CLIENT GETNAME", NULL);
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    /* the ACL forbids dangerous commands: NOPERM is a credential error */
    nr_error err = {0};
    assert_int_equal(nr_redis_command(f->h, &r, &err, "FLUSHALL"), NR_ECRED);
    assert_null(r);
    NR_ASSERT_ERR(err, NR_ECRED, "NOPERM");
    assert_string_equal(err.resource_id, ID);
    assert_int_equal(err.driver_code, REDIS_REPLY_ERROR);
}

static void test_wrong_password(void **state)
{
    fixture *f = *state;
    const char *wrong = "wrong-Secret-4711";
    nr_secret_free(f->cred);
    f->cred = rt_secret(wrong);
    nr_error err = {0};

    /* legacy AUTH password: the default user */
    assert_int_equal(create(f, nr_deadline_in_ms(30000), NULL, &err), NR_ECRED);
    assert_null(f->h);
    NR_ASSERT_ERR(err, NR_ECRED, "'cache'");
    NR_ASSERT_ERR(err, NR_ECRED, "user 'default'");
    NR_ASSERT_ERR(err, NR_ECRED, "WRONGPASS");
    assert_string_equal(err.resource_id, ID);
    assert_no_secret(&err, wrong);
    assert_no_secret(&err, rt_env("NR_TEST_REDIS_PASSWORD"));

    /* an ACL user */
    rt_set_str(&f->cfg.user, rt_env("NR_TEST_REDIS_USER"));
    assert_int_equal(create(f, nr_deadline_in_ms(30000), NULL, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "user 'appuser'");
    assert_no_secret(&err, wrong);
    assert_no_secret(&err, rt_env("NR_TEST_REDIS_USER_PASSWORD"));

    /* no credential at all: the server wants one */
    rt_set_str(&f->cfg.user, "");
    nr_secret_free(f->cred);
    f->cred = NULL;
    assert_int_equal(create(f, nr_deadline_in_ms(30000), NULL, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "no credential");
    NR_ASSERT_ERR(err, NR_ECRED, "NOAUTH");
}

static void test_server_text_is_scrubbed(void **state)
{
    (void)state;
    char out[NR__REDIS_TEXT_MAX];
    const char *src = "ERR bad arg 'p4ss' near p4ss\r\n";
    nr__redis_text(out, sizeof(out), src, strlen(src), "p4ss", 4);
    assert_string_equal(out, "ERR bad arg '<redacted>' near <redacted>");
    /* cut long text with a mark */
    char small[8];
    nr__redis_text(small, sizeof(small), src, strlen(src), NULL, 0);
    assert_string_equal(small, "ERR ...");
}

static void test_refused_port(void **state)
{
    fixture *f = *state;
    /* a port nobody listens on: bind one, note it, close it */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    f->cfg.port = ntohs(a.sin_port);
    nr_error err = {0};
    assert_int_equal(create(f, nr_deadline_in_ms(30000), NULL, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "refused");
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "'cache'");
    assert_string_equal(err.resource_id, ID);
    assert_int_equal(err.driver_code, REDIS_ERR_IO);
    assert_no_secret(&err, rt_env("NR_TEST_REDIS_PASSWORD"));
}

static void test_select_db_and_out_of_range(void **state)
{
    fixture *f = *state;
    f->cfg.db = 7;
    create_ok(f);
    freeReplyObject(cmd_ok(f->h, "SET %s in-seven", "drv:db"));
    redisReply *r = cmd_ok(f->h, "CLIENT INFO", NULL);
    assert_non_null(strstr(r->str, " db=7 "));
    freeReplyObject(r);
    nr_redis_type.destroy(f->h, NULL);
    f->h = NULL;

    f->cfg.db = 99; /* the server has 16 */
    nr_error err = {0};
    assert_int_equal(create(f, nr_deadline_in_ms(30000), NULL, &err), NR_ECONFIG);
    NR_ASSERT_ERR(err, NR_ECONFIG, "database 99 (db)");
    NR_ASSERT_ERR(err, NR_ECONFIG, "out of range");
}

static void test_unix_socket(void **state)
{
    fixture *f = *state;
    rt_set_str(&f->cfg.unix_socket, rt_env("NR_TEST_REDIS_SOCKET"));
    f->cfg.port = 1; /* ignored */
    create_ok(f);
    redisReply *r = cmd_ok(f->h, "PING", NULL);
    rt_expect_str(r, "PONG");
    freeReplyObject(r);
    nr_error err = {0};
    assert_int_equal(nr_redis_type.validate(f->h, NULL, &err), NR_OK);
    assert_int_equal(nr_redis_type.recycle(f->h, NULL, &err), NR_OK);
}

/* ---- deadline and cancel ------------------------------------------------------------ */

static void test_deadline_while_server_stopped(void **state)
{
    fixture *f = *state;
    rt_ctl("pause"); /* SIGSTOP: connect succeeds (backlog), AUTH gets no answer */
    nr_error err = {0};
    int rc = create(f, nr_deadline_in_ms(300), NULL, &err);
    /* the budget (connect_timeout_ms) is larger: the deadline is what ran out */
    f->cfg.connect_timeout_ms = 300;
    nr_error err2 = {0};
    int rc2 = create(f, nr_deadline_in_ms(60000), NULL, &err2);
    rt_ctl("resume");
    assert_int_equal(rc, NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "deadline passed while authenticating as user 'default'");
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "'cache'");
    assert_no_secret(&err, rt_env("NR_TEST_REDIS_PASSWORD"));
    /* connect_timeout_ms ran out first: unavailable, not the caller's deadline */
    assert_int_equal(rc2, NR_EUNAVAIL);
    NR_ASSERT_ERR(err2, NR_EUNAVAIL, "connect_timeout_ms (300 ms)");
    assert_null(f->h);
}

static void test_deadline_already_passed(void **state)
{
    fixture *f = *state;
    nr_error err = {0};
    assert_int_equal(create(f, nr_deadline_in_ns(-1), NULL, &err), NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "connecting to");
}

static void test_canceled_before(void **state)
{
    fixture *f = *state;
    nr_cancel *tok = NULL;
    nr_error err = {0};
    assert_int_equal(nr_cancel_create(&tok, NULL, &err), NR_OK);
    nr_cancel_trigger(tok);
    assert_int_equal(create(f, nr_deadline_in_ms(30000), tok, &err), NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, "canceled while connecting to");
    assert_null(f->h);
    nr_cancel_destroy(tok);
}

static void *trigger_later(void *arg)
{
    nr_sleep_ns(200 * NR_NS_PER_MS);
    nr_cancel_trigger(arg);
    return NULL;
}

static void test_canceled_while_waiting(void **state)
{
    fixture *f = *state;
    nr_cancel *tok = NULL;
    nr_error err = {0};
    assert_int_equal(nr_cancel_create(&tok, NULL, &err), NR_OK);
    f->cfg.connect_timeout_ms = 120000;
    rt_ctl("pause");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, trigger_later, tok), 0);
    /* deadline and budget are far away: only the token can end the wait */
    int rc = create(f, nr_deadline_in_ms(120000), tok, &err);
    pthread_join(t, NULL);
    rt_ctl("resume");
    assert_int_equal(rc, NR_ECANCELED);
    NR_ASSERT_ERR(err, NR_ECANCELED, "canceled while authenticating");
    nr_cancel_destroy(tok);
}

/* A listening socket whose accept queue is full drops new SYNs: a connect
 * to it never completes (a blackholed address on loopback). */
static void test_connect_timeout_blackhole(void **state)
{
    fixture *f = *state;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 0), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fill[i], (struct sockaddr *)&a, sizeof(a));
    }
    nr_sleep_ns(50 * NR_NS_PER_MS);
    f->cfg.port = ntohs(a.sin_port);
    nr_error err = {0};
    int rc = create(f, nr_deadline_in_ms(300), NULL, &err);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(l);
    assert_int_equal(rc, NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "deadline passed while connecting to 127.0.0.1:");
}

/* ---- validate, health, recycle -------------------------------------------------------- */

static void test_validate_detects_killed_connection(void **state)
{
    fixture *f = *state;
    create_ok(f);
    nr_error err = {0};
    assert_int_equal(nr_redis_type.validate(f->h, NULL, &err), NR_OK);
    rt_kill_client(f->h);
    assert_int_equal(nr_redis_type.validate(f->h, NULL, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "closed the connection");
    /* a command on it fails cleanly, and so does everything afterwards */
    assert_int_equal(nr_redis_command(f->h, NULL, &err, "PING"), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "'cache'");
    assert_int_equal(nr_redis_command(f->h, NULL, &err, "PING"), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "broken");
    assert_int_equal(nr_redis_type.recycle(f->h, NULL, &err), NR_ECLEANUP);
    nr_health_report rep = {0};
    assert_int_equal(nr_redis_type.health_check(f->h, NULL, nr_deadline_in_ms(5000), &rep, &err),
                     NR_OK);
    assert_int_equal(rep.state, NR_HEALTH_UNHEALTHY);
}

/* The server hangs (SIGSTOP; a CLIENT PAUSE would end on its own after a
 * while, and a check that came late would see PONG). */
static void test_health_timeout_hung_server(void **state)
{
    fixture *f = *state;
    f->cfg.health_timeout_ms = 200;
    create_ok(f);
    rt_ctl("pause");
    nr_error err = {0};
    nr_health_report rep = {0};
    int rc = nr_redis_type.health_check(f->h, NULL, nr_deadline_in_ms(60000), &rep, &err);
    rt_ctl("resume");
    assert_int_equal(rc, NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "no answer to PING");
    assert_int_equal(rep.state, NR_HEALTH_UNHEALTHY);
    /* hiredis gives up on a context after a timeout: validate says so */
    assert_int_equal(nr_redis_type.validate(f->h, NULL, &err), NR_EUNAVAIL);
    NR_ASSERT_ERR(err, NR_EUNAVAIL, "broken");
}

static void test_command_timeout(void **state)
{
    fixture *f = *state;
    f->cfg.command_timeout_ms = 200;
    create_ok(f);
    rt_ctl("pause");
    nr_error err = {0};
    int rc = nr_redis_command(f->h, NULL, &err, "PING");
    rt_ctl("resume");
    assert_int_equal(rc, NR_ETIMEDOUT);
    NR_ASSERT_ERR(err, NR_ETIMEDOUT, "command_timeout_ms (200 ms)");
    assert_int_equal(nr_redis_type.recycle(f->h, NULL, &err), NR_ECLEANUP);
}

static void test_error_replies(void **state)
{
    fixture *f = *state;
    create_ok(f);
    freeReplyObject(cmd_ok(f->h, "SET %s x", "drv:str"));
    redisReply *r = (redisReply *)1;
    nr_error err = {0};
    assert_int_equal(nr_redis_command(f->h, &r, &err, "LPUSH %s y", "drv:str"), NR_EINVAL);
    assert_null(r);
    NR_ASSERT_ERR(err, NR_EINVAL, "WRONGTYPE");
    assert_int_equal(nr_redis_command(f->h, &r, &err, NULL), NR_EINVAL);
    /* the connection is still fine after an error reply */
    assert_int_equal(nr_redis_type.validate(f->h, NULL, &err), NR_OK);
}

static void test_recycle_states(void **state)
{
    fixture *f = *state;
    f->cfg.db = 4;
    create_ok(f);
    nr_error err = {0};

    /* MULTI without EXEC */
    freeReplyObject(cmd_ok(f->h, "MULTI", NULL));
    redisReply *r = cmd_ok(f->h, "SET %s queued", "drv:multi");
    rt_expect_str(r, "QUEUED");
    freeReplyObject(r);
    assert_int_equal(nr_redis_type.recycle(f->h, NULL, &err), NR_OK);
    r = cmd_ok(f->h, "GET %s", "drv:multi");
    assert_int_equal(r->type, REDIS_REPLY_NIL); /* not queued, and never set */
    freeReplyObject(r);

    /* WATCH: forgotten, so a later transaction is not aborted */
    freeReplyObject(cmd_ok(f->h, "WATCH %s", "drv:w"));
    assert_int_equal(nr_redis_type.recycle(f->h, NULL, &err), NR_OK);
    redisContext *admin = rt_admin();
    freeReplyObject(redisCommand(admin, "SELECT 4"));
    freeReplyObject(redisCommand(admin, "SET drv:w changed"));
    freeReplyObject(cmd_ok(f->h, "MULTI", NULL));
    freeReplyObject(cmd_ok(f->h, "SET %s mine", "drv:w"));
    r = cmd_ok(f->h, "EXEC", NULL);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY); /* nil if the WATCH were still on */
    freeReplyObject(r);

    /* SELECT of another database: back to db 4 */
    freeReplyObject(cmd_ok(f->h, "SELECT 9", NULL));
    assert_int_equal(nr_redis_type.recycle(f->h, NULL, &err), NR_OK);
    r = cmd_ok(f->h, "GET %s", "drv:w");
    rt_expect_str(r, "mine");
    freeReplyObject(r);

    /* an unread reply: out of step, retired */
    redisContext *c = nr_redis_context(f->h);
    nr_redis_sigpipe_guard sg;
    nr_redis_sigpipe_block(&sg);
    assert_int_equal(redisAppendCommand(c, "PING"), REDIS_OK);
    nr_redis_sigpipe_restore(&sg);
    assert_int_equal(nr_redis_type.validate(f->h, NULL, &err), NR_EUNAVAIL);
    assert_int_equal(nr_redis_type.recycle(f->h, NULL, &err), NR_ECLEANUP);
    NR_ASSERT_ERR(err, NR_ECLEANUP, "unsent");
    nr_redis_type.destroy(f->h, NULL);
    f->h = NULL;

    /* subscribe mode: retired */
    create_ok(f);
    r = cmd_ok(f->h, "SUBSCRIBE %s", "drv:chan");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    freeReplyObject(redisCommand(admin, "PUBLISH drv:chan hello"));
    assert_int_equal(nr_redis_type.recycle(f->h, NULL, &err), NR_ECLEANUP);
    NR_ASSERT_ERR(err, NR_ECLEANUP, "subscribe mode");
    redisFree(admin);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_defaults_rules_round_trip),
        T(test_bad_input_is_refused),
        T(test_password_auth_and_commands),
        T(test_acl_user),
        T(test_wrong_password),
        T(test_server_text_is_scrubbed),
        T(test_refused_port),
        T(test_select_db_and_out_of_range),
        T(test_unix_socket),
        T(test_deadline_while_server_stopped),
        T(test_deadline_already_passed),
        T(test_canceled_before),
        T(test_canceled_while_waiting),
        T(test_connect_timeout_blackhole),
        T(test_validate_detects_killed_connection),
        T(test_health_timeout_hung_server),
        T(test_command_timeout),
        T(test_error_replies),
        T(test_recycle_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
