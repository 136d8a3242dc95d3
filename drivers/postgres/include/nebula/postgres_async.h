/*
 * nebula/postgres_async.h - one query on a pooled connection without
 * blocking, for event loops.
 *
 * A step machine that any loop can drive: start the query, then poll the
 * connection's fd for what nr_pg_async_wants() says, with a timer at
 * nr_pg_async_deadline_ns(), and call nr_pg_async_step() when either
 * fires. No call here ever blocks or sleeps.
 *
 *     nr_pg_async *q;
 *     if (nr_pg_async_start(&q, nr_postgres_conn(nr_guard_handle(&g)), "SELECT $1::int + 1",
 *                           1, values, nr_deadline_in_ms(200), NULL, &err) != NR_OK)
 *         ... err; nothing is in flight ...
 *     ... poll(nr_pg_async_fd(q), nr_pg_async_wants(q)) until ready or the deadline ...
 *     int rc = nr_pg_async_step(q, &err);     // NR_PENDING: wait again
 *     if (rc == NR_OK) { PGresult *r = nr_pg_async_result(q); ... PQclear(r); }
 *     nr_pg_async_free(q);
 *     rc == NR_OK || err.driver_code ? nr_guard_release_async(&g) : nr_guard_taint_async(&g);
 *
 * The connection. start puts it in non-blocking mode (PQsetnonblocking) for
 * the query. When the query finishes with NR_OK, or with an error the server
 * sent (err->driver_code != 0, below), every result has been read, blocking
 * mode is back, and the connection is idle (or in the transaction the query
 * opened or failed): it may take more queries, blocking or not, and the
 * lease is given back as usual (recycle rolls back what is left open). After
 * any other final result (NR_ETIMEDOUT, NR_ECANCELED, NR_EUNAVAIL, a COPY)
 * the query may still be running on the server and the connection is left
 * in non-blocking mode: it must not be reused; taint the lease
 * (nr_guard_taint_async, or nr_guard_taint off the loop). Nothing here
 * sends a cancel request to the server (PQcancel blocks until the server
 * answers): a timed-out query runs on until the server ends it
 * (statement_timeout) or the tainted connection is closed.
 *
 * Ownership: the nr_pg_async is the caller's, freed with nr_pg_async_free.
 * The connection stays the lease's; it must outlive the nr_pg_async, and
 * nothing else may use it while the query runs. sql and values are copied
 * by libpq before start returns. The PGresult of nr_pg_async_result is the
 * caller's (PQclear).
 *
 * Thread safety: one thread at a time per nr_pg_async (and its connection);
 * different ones may run on different threads. The cancel token may be set
 * from any thread.
 */
#ifndef NEBULA_POSTGRES_ASYNC_H
#define NEBULA_POSTGRES_ASYNC_H

#include <stdint.h>

#include <libpq-fe.h>

#include "nebula/async.h"
#include "nebula/cancel.h"
#include "nebula/error.h"
#include "nebula/export.h"
#include "nebula/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One query in flight on one connection. Opaque. */
typedef struct nr_pg_async nr_pg_async;

/*
 * Send sql (one statement; PQsendQueryParams, so $1..$n are text parameters:
 * values[i] is the text of $i+1, NULL for SQL NULL; nparams may be 0 and
 * values then NULL) on conn, in non-blocking mode, and send what the socket
 * takes now. deadline (unset: none) bounds the whole query; cancel (may be
 * NULL) ends it when set. Never blocks. Returns:
 *   NR_OK         *out is the query, to be stepped and freed
 *   NR_EINVAL     NULL out, conn or sql, nparams < 0, values NULL with
 *                 nparams > 0, or conn busy (a query or COPY already in
 *                 progress, pipeline mode): conn is untouched
 *   NR_ECANCELED  the token is already set; NR_ETIMEDOUT the deadline has
 *                 already passed: nothing was sent, conn is untouched
 *   NR_EUNAVAIL   conn is broken, or sending failed (libpq's message, without
 *                 the password): taint the lease
 *   NR_ENOMEM     out of memory: conn is untouched
 * On failure *out is NULL.
 */
NR_API int nr_pg_async_start(nr_pg_async **out, PGconn *conn, const char *sql, int nparams,
                             const char *const *values, nr_deadline deadline,
                             const nr_cancel *cancel, nr_error *err);

/* The socket to poll (PQsocket); -1 for NULL or a broken connection. */
NR_API int nr_pg_async_fd(const nr_pg_async *q);

/* What to poll the fd for: NR_IO_READ, plus NR_IO_WRITE while part of the
 * query is still unsent (PQflush says so); 0 once the query has finished. */
NR_API int nr_pg_async_wants(const nr_pg_async *q);

/* When to call step even without readiness (the deadline's at_ns on the
 * nr_now_ns clock); NR_DEADLINE_NEVER when there is none (or for NULL). */
NR_API int64_t nr_pg_async_deadline_ns(const nr_pg_async *q);

/*
 * Make progress without blocking: call it when the fd is ready for what
 * wants() said, when the deadline is reached, or at any other time. Returns:
 *   NR_PENDING    not finished: poll for wants() again
 *   NR_OK         finished: every PGresult up to PQgetResult's NULL was
 *                 read; the last one waits in nr_pg_async_result
 *   an error reported by the server: every result was read, the connection
 *   is usable (see above) and err->driver_code holds the SQLSTATE
 *   (nr_postgres_sqlstate); the message names it and carries the server's
 *   message. The codes are nr_postgres_exec's:
 *     NR_EINVAL     syntax, constraint, privilege, ... (anything not below)
 *     NR_EBUSY      lock_timeout (55P03), serialization failure (40001),
 *                   deadlock (40P01): worth retrying
 *     NR_ETIMEDOUT  cancelled by the server, e.g. statement_timeout (57014)
 *     NR_EUNAVAIL   the server is out of resources or shutting down (classes
 *                   53, 57P) while the connection stays up
 *   an error of the query itself, err->driver_code 0: the connection is in
 *   doubt, taint the lease:
 *     NR_ETIMEDOUT  the deadline passed before the last result
 *     NR_ECANCELED  the cancel token was set
 *     NR_EUNAVAIL   the connection broke (server gone, backend terminated)
 *     NR_EINVAL     the statement started a COPY, which is not supported
 *     NR_ENOMEM     out of memory in libpq
 * Once finished, every further call returns the same code and err again.
 * NR_EINVAL for NULL q.
 */
NR_API int nr_pg_async_step(nr_pg_async *q, nr_error *err);

/* The last result of a query that finished with NR_OK, which passes to the
 * caller (PQclear it); NULL before that, after an error, and on a second
 * call. */
NR_API PGresult *nr_pg_async_result(nr_pg_async *q);

/*
 * Free q and any result not taken. A query that finished with NR_OK or a
 * server error has left the connection in blocking mode and reusable. One
 * not finished (still NR_PENDING) or ended by a deadline, the token or a
 * broken connection leaves the connection busy with the query (its results
 * unread) and in non-blocking mode: it must not be reused; taint the lease
 * (a release would find it busy and retire it too, in recycle). NULL is a
 * no-op.
 */
NR_API void nr_pg_async_free(nr_pg_async *q);

#ifdef __cplusplus
}
#endif
#endif
