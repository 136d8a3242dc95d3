/*
 * redis_create.c - create and destroy of one Redis connection, and the
 * helpers the other callbacks share.
 *
 * create runs these steps, each bounded by the earlier of the context's
 * deadline and the connect_timeout_ms budget started at the call:
 *
 *     connect ──> AUTH (when a user or a credential is set)
 *             ──> SELECT db (when db != 0)
 *             ──> CLIENT SETNAME (when client_name != "")
 *             ──> command timeout, keepalive ──> instance
 *
 * The connect itself (redisConnectWithTimeout) cannot be interrupted: the
 * cancel token is looked at before and after it. A handshake command waits
 * for its reply in slices of WAIT_SLICE_MS, looking at the token between
 * them. Every step runs with SIGPIPE blocked (redis_sigpipe.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "nebula/alloc.h"
#include "nebula/cancel.h"
#include "nebula/time.h"
#include "redis_internal.h"

#define WAIT_SLICE_MS 20

/* ---- shared helpers ------------------------------------------------------------ */

bool nr__redis_conn_ok(const nr_redis_conn *h)
{
    return h && h->magic == NR__REDIS_MAGIC && h->c;
}

struct timeval nr__redis_tv_ns(int64_t ns)
{
    if (ns < NR_NS_PER_MS)
        ns = NR_NS_PER_MS;
    struct timeval tv;
    tv.tv_sec = (time_t)(ns / NR_NS_PER_S);
    tv.tv_usec = (suseconds_t)((ns % NR_NS_PER_S) / NR_NS_PER_US);
    return tv;
}

void nr__redis_restore_timeout(nr_redis_conn *h)
{
    struct timeval tv = {0, 0}; /* 0 = no timeout */
    if (h->command_timeout_ms > 0)
        tv = nr__redis_tv_ns(h->command_timeout_ms * NR_NS_PER_MS);
    (void)redisSetTimeout(h->c, tv);
}

bool nr__redis_io_timed_out(const redisContext *c, int saved_errno)
{
    return c->err == REDIS_ERR_IO &&
           (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT);
}

int nr__redis_io_code(const redisContext *c, int saved_errno)
{
    if (nr__redis_io_timed_out(c, saved_errno))
        return NR_ETIMEDOUT;
    switch (c->err) {
    case REDIS_ERR_OOM:
        return NR_ENOMEM;
    case REDIS_ERR_OTHER:
        /* a bad format string, or a failed name lookup / socket setup */
        return strstr(c->errstr, "format") ? NR_EINVAL : NR_EUNAVAIL;
    default: /* REDIS_ERR_IO, REDIS_ERR_EOF, REDIS_ERR_PROTOCOL */
        return NR_EUNAVAIL;
    }
}

static bool word_is(const char *str, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && memcmp(str, word, n) == 0 && (len == n || str[n] == ' ');
}

int nr__redis_reply_code(const char *str, size_t len)
{
    if (!str)
        return NR_EINVAL;
    if (word_is(str, len, "NOAUTH") || word_is(str, len, "WRONGPASS") ||
        word_is(str, len, "NOPERM"))
        return NR_ECRED;
    if (word_is(str, len, "LOADING") || word_is(str, len, "READONLY") ||
        word_is(str, len, "MASTERDOWN") || word_is(str, len, "OOM") ||
        word_is(str, len, "TRYAGAIN") || word_is(str, len, "CLUSTERDOWN"))
        return NR_EUNAVAIL;
    if (word_is(str, len, "BUSY"))
        return NR_EBUSY;
    /* the server refused the connection itself and closes it */
    if (len >= 25 && strstr(str, "max number of clients"))
        return NR_EUNAVAIL;
    return NR_EINVAL;
}

void nr__redis_text(char *dst, size_t n, const char *src, size_t len, const char *secret,
                    size_t slen)
{
    static const char red[] = NR_SECRET_REDACTED;
    size_t o = 0;
    if (n == 0)
        return;
    for (size_t i = 0; src && i < len;) {
        if (slen > 0 && len - i >= slen && memcmp(src + i, secret, slen) == 0) {
            if (o + sizeof(red) - 1 >= n)
                goto cut;
            memcpy(dst + o, red, sizeof(red) - 1);
            o += sizeof(red) - 1;
            i += slen;
            continue;
        }
        if (o + 1 >= n)
            goto cut;
        unsigned char ch = (unsigned char)src[i++];
        dst[o++] = (ch < ' ' || ch == 0x7f) ? ' ' : (char)ch;
    }
    dst[o] = '\0';
    /* trailing spaces (the reply's own line end) say nothing */
    while (o > 0 && dst[o - 1] == ' ')
        dst[--o] = '\0';
    return;
cut:
    if (n >= 4) {
        memcpy(dst + n - 4, "...", 4);
    } else {
        dst[n - 1] = '\0';
    }
}

bool nr__redis_out_of_step(const redisContext *c)
{
    const redisReader *r = c->reader;
    if (r && r->len > r->pos)
        return true;
    return c->obuf && sdslen(c->obuf) > 0;
}

static void conn_free(nr_redis_conn *h)
{
    if (!h)
        return;
    if (h->c) {
        redisFree(h->c);
        h->c = NULL;
    }
    h->magic = NR__REDIS_DEAD;
    nr_free(h);
}

/* ---- the handshake ------------------------------------------------------------ */

typedef enum stop_kind {
    STOP_NONE = 0,
    STOP_CANCELED,
    STOP_DEADLINE, /* the context's deadline */
    STOP_BUDGET,   /* connect_timeout_ms */
} stop_kind;

typedef struct limits {
    nr_deadline deadline; /* the context's (unset = never) */
    nr_deadline budget;   /* start + connect_timeout_ms */
    const nr_cancel *cancel;
} limits;

static nr_deadline limits_end(const limits *l)
{
    return nr_deadline_min(l->deadline, l->budget);
}

static stop_kind limits_hit(const limits *l)
{
    if (nr_cancel_is_set(l->cancel))
        return STOP_CANCELED;
    if (nr_deadline_expired(l->deadline))
        return STOP_DEADLINE;
    if (nr_deadline_expired(l->budget))
        return STOP_BUDGET;
    return STOP_NONE;
}

/* Which limit a wait that ran out of time ran into: the earlier one. */
static stop_kind limits_timeout_kind(const limits *l)
{
    if (!nr_deadline_is_set(l->deadline))
        return STOP_BUDGET;
    return l->deadline.at_ns <= l->budget.at_ns ? STOP_DEADLINE : STOP_BUDGET;
}

/* Outcome of one step. */
typedef struct step {
    const char *what; /* "authenticating as user 'app' at", ... */
    stop_kind stop;
    int io_errno; /* errno right after a hiredis failure */
    bool io_failed;
    redisReply *reply; /* an error reply, owned */
} step;

/* Send one command and wait for its reply within the limits. Returns true
 * with *out set (a non-error reply) or false with s filled. */
static bool step_command(nr_redis_conn *h, const limits *l, step *s, int argc, const char **argv,
                         const size_t *lens, redisReply **out)
{
    redisContext *c = h->c;
    *out = NULL;
    if ((s->stop = limits_hit(l)) != STOP_NONE)
        return false;
    (void)redisSetTimeout(c, nr__redis_tv_ns(nr_deadline_remaining_ns(limits_end(l))));
    if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK) {
        s->io_failed = true;
        s->io_errno = errno;
        return false;
    }
    int done = 0;
    while (!done) {
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            s->io_failed = true;
            s->io_errno = errno;
            return false;
        }
    }
    /* wait for the first byte of the reply, looking at the token */
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int64_t left = nr_deadline_remaining_ns(limits_end(l));
        int ms = WAIT_SLICE_MS;
        if (left < (int64_t)WAIT_SLICE_MS * NR_NS_PER_MS)
            ms = (int)((left + NR_NS_PER_MS - 1) / NR_NS_PER_MS);
        int n = poll(&p, 1, ms);
        if (n > 0 || (n < 0 && errno != EINTR))
            break; /* readable, closed or failed: the read tells */
        if ((s->stop = limits_hit(l)) != STOP_NONE)
            return false;
    }
    (void)redisSetTimeout(c, nr__redis_tv_ns(nr_deadline_remaining_ns(limits_end(l))));
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK) {
        s->io_errno = errno;
        if (nr__redis_io_timed_out(c, s->io_errno)) {
            s->stop = limits_hit(l);
            if (s->stop == STOP_NONE)
                s->stop = limits_timeout_kind(l);
        } else {
            s->io_failed = true;
        }
        return false;
    }
    redisReply *reply = r;
    if (reply->type == REDIS_REPLY_ERROR) {
        s->reply = reply;
        return false;
    }
    *out = reply;
    return true;
}

/* Fill err for a step that failed, and return its code. secret (may be
 * NULL) is cut out of any server text quoted. */
static int step_fail(nr_error *err, const nr_redis_conn *h, const step *s,
                     const nr_redis_config *cfg, int64_t connect_ms, const char *secret,
                     size_t slen, int reply_code)
{
    char text[NR__REDIS_TEXT_MAX];
    switch (s->stop) {
    case STOP_CANCELED:
        return nr_error_set(err, NR_ECANCELED, h->id, "redis '%s': canceled while %s %s", h->id,
                            s->what, h->server);
    case STOP_DEADLINE:
        return nr_error_set(err, NR_ETIMEDOUT, h->id, "redis '%s': deadline passed while %s %s",
                            h->id, s->what, h->server);
    case STOP_BUDGET:
        return nr_error_set(err, NR_EUNAVAIL, h->id,
                            "redis '%s': no answer within connect_timeout_ms (%lld ms) while %s %s",
                            h->id, (long long)connect_ms, s->what, h->server);
    case STOP_NONE:
        break;
    }
    if (s->reply) {
        nr__redis_text(text, sizeof(text), s->reply->str, s->reply->len, secret, slen);
        return nr_error_set_cause(err, reply_code, NR_OK, REDIS_REPLY_ERROR, h->id,
                                  "redis '%s': %s %s failed: %s", h->id, s->what, h->server, text);
    }
    (void)cfg;
    const redisContext *c = h->c;
    nr__redis_text(text, sizeof(text), c->errstr, strlen(c->errstr), secret, slen);
    return nr_error_set_cause(err, nr__redis_io_code(c, s->io_errno), NR_OK, c->err, h->id,
                              "redis '%s': %s %s failed: %s", h->id, s->what, h->server, text);
}

/* The code for an error reply to a handshake step. */
static int handshake_code(const redisReply *r, int fallback)
{
    int code = nr__redis_reply_code(r->str, r->len);
    if (code == NR_ECRED)
        return NR_ECRED;
    if (r->str && strstr(r->str, "max number of clients"))
        return NR_EUNAVAIL;
    if (code == NR_EUNAVAIL || code == NR_EBUSY)
        return NR_EUNAVAIL;
    return fallback;
}

static int connect_fail(nr_error *err, nr_redis_conn *h, const limits *l, int64_t connect_ms)
{
    const redisContext *c = h->c;
    char text[NR__REDIS_TEXT_MAX];
    nr__redis_text(text, sizeof(text), c->errstr, strlen(c->errstr), NULL, 0);
    if (strstr(c->errstr, "timed out")) {
        if (limits_timeout_kind(l) == STOP_DEADLINE)
            return nr_error_set_cause(err, NR_ETIMEDOUT, NR_OK, c->err, h->id,
                                      "redis '%s': deadline passed while connecting to %s (%s)",
                                      h->id, h->server, text);
        return nr_error_set_cause(
            err, NR_EUNAVAIL, NR_OK, c->err, h->id,
            "redis '%s': connecting to %s did not finish within connect_timeout_ms (%lld ms): %s",
            h->id, h->server, (long long)connect_ms, text);
    }
    return nr_error_set_cause(err, c->err == REDIS_ERR_OOM ? NR_ENOMEM : NR_EUNAVAIL, NR_OK, c->err,
                              h->id, "redis '%s': connecting to %s failed: %s", h->id, h->server,
                              text);
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* Every step after the connect. Returns NR_OK or the code of the failure. */
static int handshake(nr_redis_conn *h, const nr_redis_config *cfg, const limits *l,
                     const nr_secret *cred, nr_error *err)
{
    const char *user = str_or_empty(cfg->user);
    size_t pwlen = 0;
    const char *pw = cred ? nr_secret_reveal(cred, &pwlen) : NULL;
    char what[NR_REDIS_NAME_MAX + 64];
    redisReply *ok = NULL;
    int64_t connect_ms = cfg->connect_timeout_ms;

    if (user[0] || cred) {
        step s = {.what = what};
        snprintf(what, sizeof(what), "authenticating as user '%s' at", user[0] ? user : "default");
        const char *argv[3] = {"AUTH", user, pw ? pw : ""};
        size_t lens[3] = {4, strlen(user), pw ? pwlen : 0};
        bool done = user[0] ? step_command(h, l, &s, 3, argv, lens, &ok)
                            : step_command(h, l, &s, 2, (const char *[]){"AUTH", argv[2]},
                                           (const size_t[]){4, lens[2]}, &ok);
        if (!done) {
            int code = s.reply ? handshake_code(s.reply, NR_ECRED) : NR_OK;
            if (code == NR_ECRED && !cred)
                snprintf(what, sizeof(what),
                         "authenticating as user '%s' (no credential was given) at", user);
            code = step_fail(err, h, &s, cfg, connect_ms, pw, pwlen, code);
            freeReplyObject(s.reply);
            return code;
        }
        freeReplyObject(ok);
    }
    if (cfg->db != 0) {
        step s = {.what = what};
        char db[24];
        snprintf(db, sizeof(db), "%lld", (long long)cfg->db);
        snprintf(what, sizeof(what), "selecting database %s (db) on", db);
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, strlen(db)};
        if (!step_command(h, l, &s, 2, argv, lens, &ok)) {
            int code = NR_OK;
            if (s.reply) {
                code = handshake_code(s.reply, NR_EINIT);
                if (code == NR_EINIT && s.reply->str && strstr(s.reply->str, "out of range"))
                    code = NR_ECONFIG;
                if (code == NR_ECRED)
                    snprintf(what, sizeof(what),
                             "selecting database %s (db; no credential was given) on", db);
            }
            code = step_fail(err, h, &s, cfg, connect_ms, pw, pwlen, code);
            freeReplyObject(s.reply);
            return code;
        }
        freeReplyObject(ok);
    }
    const char *name = str_or_empty(cfg->client_name);
    if (name[0]) {
        step s = {.what = "setting the client name (client_name) on"};
        const char *argv[3] = {"CLIENT", "SETNAME", name};
        size_t lens[3] = {6, 7, strlen(name)};
        if (!step_command(h, l, &s, 3, argv, lens, &ok)) {
            int code = s.reply ? handshake_code(s.reply, NR_EINIT) : NR_OK;
            if (code == NR_ECRED && !cred)
                s.what = "setting the client name (no credential was given) on";
            code = step_fail(err, h, &s, cfg, connect_ms, pw, pwlen, code);
            freeReplyObject(s.reply);
            return code;
        }
        freeReplyObject(ok);
    }
    stop_kind k = limits_hit(l);
    if (k != STOP_NONE) {
        step s = {.what = "finishing the connection to", .stop = k};
        return step_fail(err, h, &s, cfg, connect_ms, NULL, 0, NR_OK);
    }
    return NR_OK;
}

/* ---- create / destroy ------------------------------------------------------------ */

static int check_config(const nr_redis_config *cfg, const char *id, nr_error *err)
{
    const char *sock = str_or_empty(cfg->unix_socket);
    if (!sock[0] && (!cfg->host || !cfg->host[0]))
        return nr_error_set(err, NR_ECONFIG, id, "redis '%s': host must not be empty", id);
    if (!sock[0] && (cfg->port < 1 || cfg->port > 65535))
        return nr_error_set(err, NR_ECONFIG, id,
                            "redis '%s': port must be between 1 and 65535 (got %lld)", id,
                            (long long)cfg->port);
    if (strlen(sock) > NR_REDIS_UNIX_SOCKET_MAX)
        return nr_error_set(err, NR_ECONFIG, id, "redis '%s': unix_socket must be at most %d bytes",
                            id, NR_REDIS_UNIX_SOCKET_MAX);
    if (cfg->db < 0 || cfg->db > 2147483647)
        return nr_error_set(err, NR_ECONFIG, id,
                            "redis '%s': db must be between 0 and 2147483647 (got %lld)", id,
                            (long long)cfg->db);
    if (cfg->connect_timeout_ms < 1 || cfg->connect_timeout_ms > NR_REDIS_TIMEOUT_MS_MAX)
        return nr_error_set(err, NR_ECONFIG, id,
                            "redis '%s': connect_timeout_ms must be between 1 and %d (got %lld)",
                            id, NR_REDIS_TIMEOUT_MS_MAX, (long long)cfg->connect_timeout_ms);
    if (cfg->command_timeout_ms < 0 || cfg->command_timeout_ms > NR_REDIS_TIMEOUT_MS_MAX)
        return nr_error_set(err, NR_ECONFIG, id,
                            "redis '%s': command_timeout_ms must be between 0 and %d (got %lld)",
                            id, NR_REDIS_TIMEOUT_MS_MAX, (long long)cfg->command_timeout_ms);
    if (cfg->health_timeout_ms < 1 || cfg->health_timeout_ms > NR_REDIS_TIMEOUT_MS_MAX)
        return nr_error_set(err, NR_ECONFIG, id,
                            "redis '%s': health_timeout_ms must be between 1 and %d (got %lld)", id,
                            NR_REDIS_TIMEOUT_MS_MAX, (long long)cfg->health_timeout_ms);
    nr_config_report rep;
    if (nr_config_validate(&nr_redis_config_schema, cfg, "$", &rep, NULL) != NR_OK && rep.count > 0)
        return nr_error_set(err, NR_ECONFIG, id, "redis '%s': %s: %s", id, rep.items[0].path,
                            rep.items[0].rule);
    return NR_OK;
}

static int create_steps(nr_redis_conn *h, const nr_redis_config *cfg, const limits *l,
                        const nr_secret *cred, nr_error *err)
{
    stop_kind k = limits_hit(l);
    if (k != STOP_NONE) {
        step s = {.what = "connecting to", .stop = k};
        return step_fail(err, h, &s, cfg, cfg->connect_timeout_ms, NULL, 0, NR_OK);
    }
    struct timeval tv = nr__redis_tv_ns(nr_deadline_remaining_ns(limits_end(l)));
    const char *sock = str_or_empty(cfg->unix_socket);
    h->c = sock[0] ? redisConnectUnixWithTimeout(sock, tv)
                   : redisConnectWithTimeout(cfg->host, (int)cfg->port, tv);
    if (!h->c)
        return nr_error_set(err, NR_ENOMEM, h->id,
                            "redis '%s': out of memory for the connection to %s", h->id, h->server);
    if (h->c->err)
        return connect_fail(err, h, l, cfg->connect_timeout_ms);
    int rc = handshake(h, cfg, l, cred, err);
    if (rc != NR_OK)
        return rc;
    nr__redis_restore_timeout(h);
    if (!sock[0] && cfg->keepalive && redisEnableKeepAlive(h->c) != REDIS_OK) {
        step s = {.what = "enabling keepalive on", .io_failed = true, .io_errno = errno};
        return step_fail(err, h, &s, cfg, cfg->connect_timeout_ms, NULL, 0, NR_OK);
    }
    return NR_OK;
}

static int redis_create(void **handle, const void *config, const nr_create_ctx *ctx, void *ud,
                        nr_error *err)
{
    (void)ud;
    const nr_redis_config *cfg = config;
    const char *id = ctx && ctx->resource_id ? ctx->resource_id : "";
    if (!handle || !cfg)
        return nr_error_set(err, NR_EINVAL, id, "redis '%s': handle and config are required", id);
    *handle = NULL;
    int rc = check_config(cfg, id, err);
    if (rc != NR_OK)
        return rc;

    nr_redis_conn *h = nr_calloc(1, sizeof(*h));
    if (!h)
        return nr_error_set(err, NR_ENOMEM, id, "redis '%s': out of memory for the connection", id);
    h->magic = NR__REDIS_MAGIC;
    h->db = cfg->db;
    h->command_timeout_ms = cfg->command_timeout_ms;
    h->health_timeout_ms = cfg->health_timeout_ms;
    snprintf(h->id, sizeof(h->id), "%s", id);
    if (str_or_empty(cfg->unix_socket)[0])
        snprintf(h->server, sizeof(h->server), "unix:%s", cfg->unix_socket);
    else
        snprintf(h->server, sizeof(h->server), "%s:%lld", cfg->host, (long long)cfg->port);

    limits l = {
        .deadline = ctx ? ctx->deadline : (nr_deadline){0},
        .budget = nr_deadline_in_ms(cfg->connect_timeout_ms),
        .cancel = ctx ? ctx->cancel : NULL,
    };
    nr_redis_sigpipe_guard sg;
    nr_redis_sigpipe_block(&sg);
    rc = create_steps(h, cfg, &l, ctx ? ctx->credential : NULL, err);
    nr_redis_sigpipe_restore(&sg);
    if (rc != NR_OK) {
        conn_free(h);
        return rc;
    }
    *handle = h;
    return NR_OK;
}

static void redis_destroy(void *handle, void *ud)
{
    (void)ud;
    nr_redis_conn *h = handle;
    if (!h || h->magic != NR__REDIS_MAGIC)
        return;
    conn_free(h);
}

/* The callbacks of redis_ops.c. */
int nr__redis_validate(void *handle, void *ud, nr_error *err);
int nr__redis_recycle(void *handle, void *ud, nr_error *err);
int nr__redis_health(void *handle, void *ud, nr_deadline deadline, nr_health_report *report,
                     nr_error *err);

const nr_resource_type nr_redis_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "redis",
    .config_schema = &nr_redis_config_schema,
    .create = redis_create,
    .destroy = redis_destroy,
    .validate = nr__redis_validate,
    .recycle = nr__redis_recycle,
    .health_check = nr__redis_health,
};
