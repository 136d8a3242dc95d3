/*
 * http_client.h - a tiny HTTP/1.1 client over a plain socket for the admin
 * server's tests: it sends exactly the bytes it is given, so tests can send
 * bad ones too.
 */
#ifndef NR_TEST_HTTP_CLIENT_H
#define NR_TEST_HTTP_CLIENT_H

#include <stddef.h>

typedef struct http_reply {
    int status; /* 0 when no status line came */
    char *head; /* the status line and headers (NUL-terminated) */
    char *body; /* NUL-terminated */
    size_t len; /* body length */
    int closed; /* the server closed the connection */
} http_reply;

/* Connect to 127.0.0.1:port, send raw (len bytes), read until the server
 * closes or timeout_ms passes. 0, or -1 when it cannot connect. */
int http_raw(int port, const char *raw, size_t len, int timeout_ms, http_reply *out);

/* method path, with an optional extra header line ("Authorization: ..."). */
int http_req(int port, const char *method, const char *path, const char *header, http_reply *out);

/* The value of header name in r->head, copied into buf; NULL when absent. */
const char *http_header(const http_reply *r, const char *name, char *buf, size_t len);

void http_reply_free(http_reply *r);

#endif
