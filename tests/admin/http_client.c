/*
 * http_client.c - see http_client.h.
 */
#define _DEFAULT_SOURCE
#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_raw(int port, const char *raw, size_t len, int timeout_ms, http_reply *out)
{
    memset(out, 0, sizeof(*out));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    if (len)
        (void)!send(fd, raw, len, MSG_NOSIGNAL);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    long long until = now_ms() + timeout_ms;
    for (;;) {
        long long left = until - now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            break;
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
        ssize_t got = recv(fd, buf + n, cap - n, 0);
        if (got <= 0) {
            out->closed = 1;
            break;
        }
        n += (size_t)got;
    }
    close(fd);
    buf[n] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    size_t hlen = sep ? (size_t)(sep - buf) : n;
    out->head = strndup(buf, hlen);
    out->body = strdup(sep ? sep + 4 : "");
    out->len = strlen(out->body);
    if (strncmp(buf, "HTTP/1.", 7) == 0 && n > 12)
        out->status = atoi(buf + 9);
    free(buf);
    return 0;
}

int http_req(int port, const char *method, const char *path, const char *header, http_reply *out)
{
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s\r\n", method,
                     path, header ? header : "", header ? "\r\n" : "");
    return http_raw(port, req, (size_t)n, 5000, out);
}

const char *http_header(const http_reply *r, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    for (const char *line = r->head; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        if (ll > nl + 1 && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(buf, len, "%.*s", (int)(ll - (size_t)(v - line)), v);
            return buf;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

void http_reply_free(http_reply *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}
