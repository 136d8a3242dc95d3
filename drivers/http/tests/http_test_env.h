/*
 * http_test_env.h - what the HTTP driver's server tests share: where the
 * test server runs (from drivers/http/tests/with-httpbin.sh), configs that
 * point at it, and small request helpers.
 */
#ifndef NR_HTTP_TEST_ENV_H
#define NR_HTTP_TEST_ENV_H

#include <stdbool.h>

#include "nebula/http.h"

/* Port from an environment variable set by the wrapper; fails the test when unset. */
int http_env_port(const char *var);

/* httpbin's port (HTTPBIN_PORT) and nginx's in front of it (NGINX_PORT). */
int http_httpbin_port(void);
int http_nginx_port(void);

/* Defaults, base_url http://127.0.0.1:<port>, and ssrf_allow 127.0.0.1/32:<port>
 * when allow is true. */
void http_cfg_init(nr_http_config *c, int port, bool allow);

/* Replace an owned string of the config. */
void http_cfg_set(char **field, const char *value);

/* Run "$NR_TEST_HTTP_CTL <what>" (stop or start httpbin); fails the test when it fails. */
void http_ctl(const char *what);

/* create() through the type, failing the test on error. */
void *http_client_new(const nr_http_config *c, const char *id, const nr_secret *cred);

/* A request that must succeed at the transport level. */
void http_do_ok(void *h, const char *method, const char *path, nr_http_response *rs);

#endif
