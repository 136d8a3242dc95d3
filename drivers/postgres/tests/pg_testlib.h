/*
 * pg_testlib.h - what the PostgreSQL driver's tests share: where the server
 * is (from the environment with-postgres.sh exports), a superuser side
 * connection for inspecting and disturbing the server, and the server's
 * stop/start/freeze controls.
 */
#ifndef NR_PG_TESTLIB_H
#define NR_PG_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "nebula/postgres.h"
#include "nebula/resource.h"

/* An environment variable the wrapper must have set (fails the test otherwise). */
const char *pgt_env(const char *name);

/* cfg filled with the defaults and the test server's host, port, user, db. */
void pgt_config(nr_postgres_config *cfg);

/* The app role's password as a secret (caller frees), or a given one. */
nr_secret *pgt_password(void);
nr_secret *pgt_secret(const char *text);

/* Superuser connection over the unix socket (trust). */
PGconn *pgt_admin(void);
/* Run sql as superuser on a fresh connection; fails the test on error. */
void pgt_admin_exec(const char *sql);
/* First column of the first row of sql as an integer (-1 without a row). */
long pgt_admin_long(const char *sql);
/* The same on a given connection (a lease's). */
long pgt_query_long(PGconn *pg, const char *sql);
/* The first column of the first row as text into buf ("" without a row). */
void pgt_query_text(PGconn *pg, const char *sql, char *buf, size_t n);

/* "$NR_TEST_PG_CTL <what>": stop | start | sigstop | sigcont. */
void pgt_ctl(const char *what);

/* Wait until /proc/<pid> is gone (at most 10 s); true when it is. */
bool pgt_wait_pid_gone(int pid);

/* Wait (at most 10 s) until sql, run as superuser, gives want. */
bool pgt_wait_admin_long(const char *sql, long want);

/* Call the type's create directly. */
int pgt_create(void **h, const nr_postgres_config *cfg, const nr_secret *pw, nr_deadline dl,
               const nr_cancel *cancel, nr_error *err);

#endif
