/*
 * postgres_internal.h - what the driver's files share (not installed).
 */
#ifndef NR_POSTGRES_INTERNAL_H
#define NR_POSTGRES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nebula/cancel.h"
#include "nebula/postgres.h"
#include "nebula/time.h"

/* Longest single poll() while a cancel token is watched. */
#define NR__PG_SLICE_MS 50
/* How long a timed-out query's PQcancel is waited for. */
#define NR__PG_CANCEL_WAIT_MS 500
/* Cancel threads still blocked (on a frozen server) beyond which no new one starts. */
#define NR__PG_CANCELS_MAX 16
/* Room for one cleaned libpq message. */
#define NR__PG_MSG_MAX 200

/* nr__pg_wait results */
enum {
    NR__PG_WAIT_READY = 0,
    NR__PG_WAIT_TIMEOUT,
    NR__PG_WAIT_CANCELED,
    NR__PG_WAIT_ERROR,
};

/* Wait until the connection's socket is ready for events (POLLIN/POLLOUT),
 * the deadline passes, or cancel (may be NULL) is set; with a token, poll()
 * runs in slices of at most NR__PG_SLICE_MS. */
int nr__pg_wait(PGconn *pg, short events, nr_deadline deadline, const nr_cancel *cancel);

/* nr__pg_run outcomes */
enum {
    NR__PG_RUN_OK = 0,
    NR__PG_RUN_FAILED,  /* the server answered with an error; the session is usable */
    NR__PG_RUN_BROKEN,  /* the connection failed */
    NR__PG_RUN_TIMEOUT, /* no answer by the deadline; a cancel was sent */
};

typedef struct nr__pg_result {
    int outcome;
    long sqlstate; /* encoded, 0 when none */
    int rows;      /* rows of the last result with rows */
    int cancel;    /* after a timeout: 1 cancel done, 0 still trying, -1 not sent */
    char message[NR__PG_MSG_MAX];
} nr__pg_result;

/* Send sql (PQsendQuery, non-blocking) and read every result, waiting with
 * poll() until deadline; on timeout the query is cancelled (bounded) and the
 * connection is left busy. The message is cleaned of the password. */
void nr__pg_run(PGconn *pg, const char *sql, nr_deadline deadline, nr__pg_result *out);

/* PQcancel on a detached thread, waited for at most wait_ms: 1 done,
 * 0 still running (abandoned), -1 failed or not started. */
int nr__pg_cancel(PGconn *pg, int64_t wait_ms);

/* libpq's message as one line into dst: lines joined with "; ", LOCATION
 * lines dropped, every occurrence of pw (may be NULL) replaced by
 * "<redacted>", cut with "..." when too long. */
void nr__pg_clean_message(char *dst, size_t n, const char *msg, const char *pw);

/* The code nr_postgres_exec (and the async query) give a statement the
 * server failed with SQLSTATE state (encoded). */
int nr__pg_exec_code(long state);

/* SQLSTATE text ("28P01") -> the server's encoding; 0 for anything else. */
long nr__pg_sqlstate_from_text(const char *s);

/* The last SQLSTATE in a verbose libpq message ("FATAL:  28P01: ..."), or 0. */
long nr__pg_sqlstate_in_message(const char *msg);

#endif
