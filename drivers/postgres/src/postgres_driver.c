/*
 * postgres_driver.c - nr_postgres_type: create, validate, recycle, health
 * check and destroy of one libpq connection.
 *
 * create never blocks beyond its deadline (except in name resolution, which
 * libpq does synchronously): PQconnectStartParams, then PQconnectPoll each
 * time poll() says the socket is ready, in slices of at most 50 ms so that
 * a cancel token is seen. The password goes to libpq as the "password"
 * keyword and nowhere else; libpq's messages pass through
 * nr__pg_clean_message, which redacts it.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nebula/alloc.h"
#include "nebula/secret.h"
#include "postgres_internal.h"

#define PG_CONN_MAGIC 0x9057C0DEC0DE0001ULL
#define PG_CONN_DEAD  0xDEADDEADDEADDEADULL

/* Room for the host and user shown in messages (cut with "..." beyond). */
#define SHOWN_MAX 80

struct nr_postgres_handle {
    uint64_t magic; /* PG_CONN_MAGIC while open */
    PGconn *pg;
    int64_t health_timeout_ms;
    int64_t reset_timeout_ms;
    char *reset_query;  /* NULL or "" = none */
    char *health_query; /* never NULL */
    char id[NR_ERROR_ID_MAX];
    char host[SHOWN_MAX]; /* "host:port" as messages show it */
    char user[SHOWN_MAX];
};

static const char *const sslmode_kw[] = {"disable", "allow",     "prefer",
                                         "require", "verify-ca", "verify-full"};
static const char *const target_kw[] = {"any",     "read-write", "read-only",
                                        "primary", "standby",    "prefer-standby"};

/* ---- helpers -------------------------------------------------------------------- */

static void shown(char *dst, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len < n) {
        memcpy(dst, s, len + 1);
    } else {
        memcpy(dst, s, n - 4);
        memcpy(dst + n - 4, "...", 4);
    }
}

/* libpq notices (e.g. "there is no transaction in progress") are not
 * printed: a library must not write to stderr. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = nr_strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static void conn_free(nr_postgres_handle *c)
{
    if (!c)
        return;
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    nr_free(c->reset_query);
    nr_free(c->health_query);
    c->magic = PG_CONN_DEAD;
    nr_free(c);
}

static bool conn_ok(const nr_postgres_handle *c)
{
    return c && c->magic == PG_CONN_MAGIC && c->pg;
}

static int bad_handle(nr_error *err, const char *what)
{
    return nr_error_set(err, NR_EINVAL, NULL, "postgres: %s: not an open postgres connection",
                        what);
}

static bool state_class(long code, const char *cls)
{
    char s[6];
    nr_postgres_sqlstate(code, s);
    return strncmp(s, cls, strlen(cls)) == 0 && s[0] != '\0';
}

/* ---- create ------------------------------------------------------------------------ */

/* The keyword/value arrays for PQconnectStartParams. */
typedef struct conn_params {
    const char *kw[32];
    const char *val[32];
    int n;
    char port[24], keepalives[4], keepalives_idle[24], tcp_user_timeout[24];
    char *options; /* nr_malloc'd */
} conn_params;

static void param(conn_params *p, const char *kw, const char *val)
{
    if (val && val[0]) {
        p->kw[p->n] = kw;
        p->val[p->n] = val;
        p->n++;
    }
}

/* Fill p from cfg (password excluded). NR_ENOMEM possible. */
static int params_build(conn_params *p, const nr_postgres_config *cfg)
{
    memset(p, 0, sizeof(*p));
    param(p, "host", cfg->host);
    param(p, "hostaddr", cfg->hostaddr);
    snprintf(p->port, sizeof(p->port), "%lld", (long long)cfg->port);
    param(p, "port", p->port);
    param(p, "dbname", cfg->dbname);
    param(p, "user", cfg->user);
    param(p, "application_name", cfg->application_name);
    param(p, "sslmode", sslmode_kw[cfg->sslmode]);
    param(p, "sslrootcert", cfg->sslrootcert);
    param(p, "sslcert", cfg->sslcert);
    param(p, "sslkey", cfg->sslkey);
    param(p, "target_session_attrs", target_kw[cfg->target_session_attrs]);
    snprintf(p->keepalives, sizeof(p->keepalives), "%d", cfg->keepalives ? 1 : 0);
    param(p, "keepalives", p->keepalives);
    if (cfg->keepalives_idle_s > 0) {
        snprintf(p->keepalives_idle, sizeof(p->keepalives_idle), "%lld",
                 (long long)cfg->keepalives_idle_s);
        param(p, "keepalives_idle", p->keepalives_idle);
    }
    if (cfg->tcp_user_timeout_ms > 0) {
        snprintf(p->tcp_user_timeout, sizeof(p->tcp_user_timeout), "%lld",
                 (long long)cfg->tcp_user_timeout_ms);
        param(p, "tcp_user_timeout", p->tcp_user_timeout);
    }
    /* GSSAPI is not configurable here; never try it behind the user's back */
    param(p, "gssencmode", "disable");
    /* the password comes from the credential only, never from ~/.pgpass: a
     * path that cannot exist (libpq skips it silently) */
    param(p, "passfile", "/dev/null/no-passfile");

    size_t olen = (cfg->options ? strlen(cfg->options) : 0) + 96;
    p->options = nr_malloc(olen);
    if (!p->options)
        return NR_ENOMEM;
    int w = snprintf(p->options, olen, "%s", cfg->options ? cfg->options : "");
    if (cfg->statement_timeout_ms > 0)
        w += snprintf(p->options + w, olen - (size_t)w, "%s-c statement_timeout=%lld", w ? " " : "",
                      (long long)cfg->statement_timeout_ms);
    if (cfg->lock_timeout_ms > 0)
        snprintf(p->options + w, olen - (size_t)w, "%s-c lock_timeout=%lld", w ? " " : "",
                 (long long)cfg->lock_timeout_ms);
    param(p, "options", p->options);
    return NR_OK;
}

/* The failure of a finished (failed) connection attempt. */
static int connect_fail(nr_error *err, const nr_postgres_handle *c, PGconn *pg, const char *pw,
                        bool have_password)
{
    char msg[NR__PG_MSG_MAX];
    nr__pg_clean_message(msg, sizeof(msg), pg ? PQerrorMessage(pg) : "out of memory", pw);
    long state = pg ? nr__pg_sqlstate_in_message(PQerrorMessage(pg)) : 0;
    if (!pg)
        return nr_error_set(err, NR_ENOMEM, c->id, "postgres '%s': out of memory connecting to %s",
                            c->id, c->host);
    if (!have_password && PQconnectionNeedsPassword(pg))
        return nr_error_set_cause(err, NR_ECRED, NR_OK, state, c->id,
                                  "postgres '%s': %s asks user '%s' for a password and no "
                                  "credential was given",
                                  c->id, c->host, c->user);
    int code = NR_EUNAVAIL;
    const char *what = "cannot connect to";
    if (state_class(state, "28") || PQconnectionNeedsPassword(pg)) {
        code = NR_ECRED;
        what = "authentication failed at";
    } else if (state == nr__pg_sqlstate_from_text("3D000")) {
        code = NR_ECONFIG;
        what = "no such database at";
    }
    return nr_error_set_cause(err, code, NR_OK, state, c->id,
                              "postgres '%s': %s %s as user '%s': %s", c->id, what, c->host,
                              c->user, msg);
}

static int pg_create(void **handle, const void *config, const nr_create_ctx *ctx, void *ud,
                     nr_error *err)
{
    (void)ud;
    const nr_postgres_config *cfg = config;
    const char *id = ctx && ctx->resource_id ? ctx->resource_id : "";
    const nr_cancel *cancel = ctx ? ctx->cancel : NULL;

    if (!handle || !cfg)
        return nr_error_set(err, NR_EINVAL, id, "postgres '%s': handle and config are required",
                            id);
    *handle = NULL;
    nr_config_report rep;
    if (nr_config_validate(&nr_postgres_config_schema, cfg, "$", &rep, NULL) != NR_OK) {
        const nr_config_issue *is = rep.count ? &rep.items[0] : NULL;
        return nr_error_set(err, NR_ECONFIG, id, "postgres '%s': config: %s %s (got %s)", id,
                            is ? is->path : "$", is ? is->rule : "is invalid",
                            is && is->value[0] ? is->value : "nothing");
    }

    size_t pwlen = 0;
    const char *pw = ctx && ctx->credential ? nr_secret_reveal(ctx->credential, &pwlen) : NULL;
    if (pw && strlen(pw) != pwlen)
        return nr_error_set(err, NR_ECRED, id,
                            "postgres '%s': the credential for user '%s' holds a NUL byte, which "
                            "a PostgreSQL password cannot",
                            id, cfg->user ? cfg->user : "(default)");

    nr_postgres_handle *c = nr_calloc(1, sizeof(*c));
    if (!c)
        return nr_error_set(err, NR_ENOMEM, id, "postgres '%s': out of memory for the connection",
                            id);
    c->magic = PG_CONN_MAGIC;
    c->health_timeout_ms = cfg->health_timeout_ms;
    c->reset_timeout_ms = cfg->reset_timeout_ms;
    snprintf(c->id, sizeof(c->id), "%s", id);
    char hp[NR_POSTGRES_HOST_MAX + 32];
    snprintf(hp, sizeof(hp), "%s:%lld",
             cfg->host       ? cfg->host
             : cfg->hostaddr ? cfg->hostaddr
                             : "(default host)",
             (long long)cfg->port);
    shown(c->host, sizeof(c->host), hp);
    shown(c->user, sizeof(c->user), cfg->user ? cfg->user : "(default)");
    bool oom = false;
    c->reset_query = dup_or_null(cfg->reset_query, &oom);
    c->health_query = dup_or_null(cfg->health_query ? cfg->health_query : "SELECT 1", &oom);
    conn_params p;
    memset(&p, 0, sizeof(p));
    if (oom || params_build(&p, cfg) != NR_OK) {
        nr_free(p.options);
        conn_free(c);
        return nr_error_set(err, NR_ENOMEM, id, "postgres '%s': out of memory for the connection",
                            id);
    }
    param(&p, "password", pw);
    p.kw[p.n] = NULL;
    p.val[p.n] = NULL;

    nr_deadline deadline = nr_deadline_in_ms(cfg->connect_timeout_ms);
    bool own_timeout = true;
    if (ctx && nr_deadline_is_set(ctx->deadline) && ctx->deadline.at_ns < deadline.at_ns) {
        deadline = ctx->deadline;
        own_timeout = false;
    }

    int rc = NR_OK;
    if (nr_cancel_is_set(cancel)) {
        rc = nr_error_set(err, NR_ECANCELED, id,
                          "postgres '%s': canceled before connecting to %s as user '%s'", id,
                          c->host, c->user);
    } else if (nr_deadline_expired(deadline)) {
        rc = nr_error_set(err, NR_ETIMEDOUT, id,
                          "postgres '%s': the create deadline passed before connecting to %s as "
                          "user '%s'",
                          id, c->host, c->user);
    }
    if (rc != NR_OK) {
        nr_free(p.options);
        conn_free(c);
        return rc;
    }

    c->pg = PQconnectStartParams(p.kw, p.val, 0);
    nr_free(p.options);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        rc = connect_fail(err, c, c->pg, pw, pw != NULL);
        conn_free(c);
        return rc;
    }
    /* verbose while connecting: the SQLSTATE of a refusal is in the text */
    PQsetErrorVerbosity(c->pg, PQERRORS_VERBOSE);
    PQsetNoticeProcessor(c->pg, quiet_notice, NULL);

    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int w =
            nr__pg_wait(c->pg, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, cancel);
        if (w == NR__PG_WAIT_CANCELED) {
            rc = nr_error_set(err, NR_ECANCELED, id,
                              "postgres '%s': canceled while connecting to %s as user '%s'", id,
                              c->host, c->user);
            break;
        }
        if (w == NR__PG_WAIT_TIMEOUT) {
            if (own_timeout)
                rc = nr_error_set(err, NR_ETIMEDOUT, id,
                                  "postgres '%s': connecting to %s as user '%s' took longer than "
                                  "connect_timeout_ms (%lld)",
                                  id, c->host, c->user, (long long)cfg->connect_timeout_ms);
            else
                rc = nr_error_set(err, NR_ETIMEDOUT, id,
                                  "postgres '%s': the create deadline passed while connecting to "
                                  "%s as user '%s'",
                                  id, c->host, c->user);
            break;
        }
        /* ready, or the socket failed: PQconnectPoll finds out which */
        st = PQconnectPoll(c->pg);
    }
    if (rc == NR_OK && st == PGRES_POLLING_FAILED)
        rc = connect_fail(err, c, c->pg, pw, pw != NULL);
    if (rc == NR_OK && PQstatus(c->pg) != CONNECTION_OK)
        rc = connect_fail(err, c, c->pg, pw, pw != NULL);
    if (rc != NR_OK) {
        conn_free(c);
        return rc;
    }
    PQsetErrorVerbosity(c->pg, PQERRORS_DEFAULT);
    *handle = c;
    return NR_OK;
}

static void pg_destroy(void *handle, void *ud)
{
    (void)ud;
    nr_postgres_handle *c = handle;
    if (c && c->magic == PG_CONN_MAGIC)
        conn_free(c);
}

/* ---- validate / recycle ----------------------------------------------------------------- */

/* Read, without waiting, whatever the server sent to an idle connection: a
 * connection the server closed (pg_terminate_backend, restart) turns bad. */
static void peek(PGconn *pg)
{
    int fd = PQsocket(pg);
    if (fd < 0 || PQisBusy(pg))
        return;
    /* a closed connection shows as data (the server's goodbye) and then
     * EOF, which the second read sees */
    for (int i = 0; i < 4 && PQstatus(pg) == CONNECTION_OK; i++) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0 || !PQconsumeInput(pg))
            break;
    }
}

static const char *trans_name(PGTransactionStatusType t)
{
    switch (t) {
    case PQTRANS_IDLE:
        return "idle";
    case PQTRANS_ACTIVE:
        return "running a query";
    case PQTRANS_INTRANS:
        return "in a transaction";
    case PQTRANS_INERROR:
        return "in a failed transaction";
    default:
        return "in an unknown state";
    }
}

static int broken(nr_error *err, int code, const nr_postgres_handle *c, const char *what)
{
    char msg[NR__PG_MSG_MAX];
    nr__pg_clean_message(msg, sizeof(msg), PQerrorMessage(c->pg), PQpass(c->pg));
    return nr_error_set(err, code, c->id, "postgres '%s': %s: connection to %s is broken%s%s",
                        c->id, what, c->host, msg[0] ? ": " : "", msg);
}

static int pg_validate(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_postgres_handle *c = handle;
    if (!conn_ok(c))
        return bad_handle(err, "validate");
    if (PQstatus(c->pg) == CONNECTION_OK)
        peek(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK)
        return broken(err, NR_EUNAVAIL, c, "validate");
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    if (t != PQTRANS_IDLE)
        return nr_error_set(err, NR_EUNAVAIL, c->id,
                            "postgres '%s': validate: the session on %s is %s, not idle", c->id,
                            c->host, trans_name(t));
    return NR_OK;
}

static int cleanup_fail(nr_error *err, const nr_postgres_handle *c, const char *step,
                        const nr__pg_result *r)
{
    return nr_error_set_cause(err, NR_ECLEANUP,
                              r->outcome == NR__PG_RUN_TIMEOUT  ? NR_ETIMEDOUT
                              : r->outcome == NR__PG_RUN_BROKEN ? NR_EUNAVAIL
                                                                : NR_EINVAL,
                              r->sqlstate, c->id, "postgres '%s': %s on %s failed: %s", c->id, step,
                              c->host, r->message);
}

static int pg_recycle(void *handle, void *ud, nr_error *err)
{
    (void)ud;
    nr_postgres_handle *c = handle;
    if (!conn_ok(c))
        return bad_handle(err, "recycle");
    PGconn *pg = c->pg;
    /* client-side state a lease holder may have changed */
    PQuntrace(pg);
    PQsetErrorVerbosity(pg, PQERRORS_DEFAULT);
    PQsetErrorContextVisibility(pg, PQSHOW_CONTEXT_ERRORS);
    PQsetNoticeProcessor(pg, quiet_notice, NULL);
    PQsetnonblocking(pg, 0);
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL)
        PQfreemem(n);

    if (PQstatus(pg) != CONNECTION_OK)
        return broken(err, NR_ECLEANUP, c, "recycle");
    if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF)
        return nr_error_set(err, NR_ECLEANUP, c->id,
                            "postgres '%s': recycle: the connection to %s was left in pipeline "
                            "mode",
                            c->id, c->host);
    PGTransactionStatusType t = PQtransactionStatus(pg);
    if (t != PQTRANS_IDLE && t != PQTRANS_INTRANS && t != PQTRANS_INERROR)
        return nr_error_set(err, NR_ECLEANUP, c->id,
                            "postgres '%s': recycle: the session on %s is %s; it cannot be "
                            "reused",
                            c->id, c->host, trans_name(t));
    nr_deadline deadline = nr_deadline_in_ms(c->reset_timeout_ms);
    nr__pg_result r;
    if (t != PQTRANS_IDLE) {
        nr__pg_run(pg, "ROLLBACK", deadline, &r);
        if (r.outcome != NR__PG_RUN_OK)
            return cleanup_fail(err, c, "rolling back the transaction left open", &r);
    }
    if (c->reset_query && c->reset_query[0]) {
        nr__pg_run(pg, c->reset_query, deadline, &r);
        if (r.outcome != NR__PG_RUN_OK)
            return cleanup_fail(err, c, "the reset query", &r);
    }
    while ((n = PQnotifies(pg)) != NULL)
        PQfreemem(n);
    t = PQtransactionStatus(pg);
    if (PQstatus(pg) != CONNECTION_OK || t != PQTRANS_IDLE)
        return nr_error_set(err, NR_ECLEANUP, c->id,
                            "postgres '%s': recycle: the session on %s is %s after the reset",
                            c->id, c->host, trans_name(t));
    return NR_OK;
}

/* ---- health check ----------------------------------------------------------------------- */

/* The report's reason, cut with "..." when it does not fit. */
__attribute__((format(printf, 2, 3))) static void set_reason(nr_health_report *report,
                                                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(report->reason, sizeof(report->reason), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(report->reason))
        memcpy(report->reason + sizeof(report->reason) - 4, "...", 4);
}

static int pg_health(void *handle, void *ud, nr_deadline deadline, nr_health_report *report,
                     nr_error *err)
{
    (void)ud;
    nr_postgres_handle *c = handle;
    if (!conn_ok(c) || !report)
        return bad_handle(err, "health check");
    nr_deadline own = nr_deadline_in_ms(c->health_timeout_ms);
    int64_t budget_ms = c->health_timeout_ms;
    if (nr_deadline_is_set(deadline) && deadline.at_ns < own.at_ns) {
        own = deadline;
        budget_ms = nr_deadline_remaining_ns(deadline) / NR_NS_PER_MS;
    }
    if (nr_deadline_expired(own))
        return nr_error_set(err, NR_ETIMEDOUT, c->id,
                            "postgres '%s': health check of %s: deadline passed before it ran",
                            c->id, c->host);
    report->reason[0] = '\0';
    if (PQstatus(c->pg) == CONNECTION_OK)
        peek(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char msg[NR__PG_MSG_MAX];
        nr__pg_clean_message(msg, sizeof(msg), PQerrorMessage(c->pg), PQpass(c->pg));
        report->state = NR_HEALTH_UNHEALTHY;
        set_reason(report, "connection broken: %s", msg);
        return NR_OK;
    }
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    if (t != PQTRANS_IDLE) {
        report->state = NR_HEALTH_UNHEALTHY;
        set_reason(report, "session is %s, not idle", trans_name(t));
        return NR_OK;
    }
    nr__pg_result r;
    nr__pg_run(c->pg, c->health_query, own, &r);
    switch (r.outcome) {
    case NR__PG_RUN_OK:
        report->state = NR_HEALTH_HEALTHY;
        break;
    case NR__PG_RUN_FAILED:
        /* out of resources (class 53: disk full, memory, connections) is degraded */
        report->state = state_class(r.sqlstate, "53") ? NR_HEALTH_DEGRADED : NR_HEALTH_UNHEALTHY;
        set_reason(report, "health query failed: %s", r.message);
        break;
    case NR__PG_RUN_BROKEN:
        report->state = NR_HEALTH_UNHEALTHY;
        set_reason(report, "connection lost: %s", r.message);
        break;
    default:
        report->state = NR_HEALTH_UNHEALTHY;
        snprintf(report->reason, sizeof(report->reason),
                 "health query got no answer within %lld ms (%s)", (long long)budget_ms,
                 r.cancel > 0    ? "cancelled"
                 : r.cancel == 0 ? "cancel pending"
                                 : "cancel not sent");
        break;
    }
    return NR_OK;
}

/* ---- public helpers ------------------------------------------------------------------------ */

PGconn *nr_postgres_conn(void *handle)
{
    nr_postgres_handle *c = handle;
    return c && c->magic == PG_CONN_MAGIC ? c->pg : NULL;
}

int nr__pg_exec_code(long state)
{
    if (state == nr__pg_sqlstate_from_text("57014"))
        return NR_ETIMEDOUT;
    if (state == nr__pg_sqlstate_from_text("55P03") ||
        state == nr__pg_sqlstate_from_text("40001") || state == nr__pg_sqlstate_from_text("40P01"))
        return NR_EBUSY;
    if (state_class(state, "08") || state_class(state, "53") || state_class(state, "57P"))
        return NR_EUNAVAIL;
    return NR_EINVAL;
}

int nr_postgres_exec(void *handle, const char *sql, nr_error *err)
{
    nr_postgres_handle *c = handle;
    if (!conn_ok(c))
        return bad_handle(err, "exec");
    if (!sql)
        return nr_error_set(err, NR_EINVAL, c->id, "postgres '%s': exec: sql must not be NULL",
                            c->id);
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        PQclear(res);
        return NR_OK;
    }
    char msg[NR__PG_MSG_MAX];
    long state = 0;
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        snprintf(msg, sizeof(msg), "COPY needs the libpq COPY calls, not exec");
    } else {
        nr__pg_clean_message(msg, sizeof(msg),
                             res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg),
                             PQpass(c->pg));
        state = res ? nr__pg_sqlstate_from_text(PQresultErrorField(res, PG_DIAG_SQLSTATE)) : 0;
    }
    PQclear(res);
    int code = PQstatus(c->pg) != CONNECTION_OK ? NR_EUNAVAIL : nr__pg_exec_code(state);
    if (!res && PQstatus(c->pg) == CONNECTION_OK)
        code = NR_ENOMEM;
    return nr_error_set_cause(err, code, NR_OK, state, c->id,
                              "postgres '%s': statement on %s failed: %s", c->id, c->host,
                              msg[0] ? msg : "no message");
}

const nr_resource_type nr_postgres_type = {
    .version = NR_RESOURCE_TYPE_VERSION,
    .name = "postgres",
    .config_schema = &nr_postgres_config_schema,
    .create = pg_create,
    .destroy = pg_destroy,
    .validate = pg_validate,
    .recycle = pg_recycle,
    .health_check = pg_health,
};
