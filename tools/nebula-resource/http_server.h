/*
 * http_server.h - the HTTP endpoints of `run` and `demo`, served with
 * libmicrohttpd by one internal polling thread:
 *
 *   GET /          the status page (self-contained HTML)
 *   GET /status    the status document (JSON)
 *   GET /metrics   Prometheus text exposition 0.0.4
 *   GET /healthz   200 "ok" while the process lives
 *   GET /readyz    200 when every resource is running and healthy,
 *                  else 503 with the reason
 *
 * Other paths give 404, other methods 405. HEAD is answered like GET.
 *
 * Thread safety: start and stop from one thread; the status is read from
 * the server's thread while it runs.
 */
#ifndef NR_CLI_HTTP_SERVER_H
#define NR_CLI_HTTP_SERVER_H

#include "nebula/error.h"
#include "status.h"

typedef struct cli_http cli_http;

/* Listen on addr (an IPv4 or IPv6 literal) and port (0: the kernel picks
 * one; cli_http_port tells which). NR_EINVAL for a bad address,
 * NR_EUNAVAIL when the server cannot listen (e.g. the port is taken). */
int cli_http_start(cli_http **out, const char *addr, int port, cli_status *st, nr_error *err);

int cli_http_port(const cli_http *h);

/* Stop serving (waits for requests in progress) and free. NULL is a no-op. */
void cli_http_stop(cli_http *h);

#endif
