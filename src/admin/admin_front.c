/*
 * admin_front.c - what stands before libmicrohttpd: the listening socket,
 * and a thread that accepts connections, looks at their first bytes before
 * MHD does, and bounds every request's total time.
 *
 *   - A new connection waits here until its first bytes arrive. When they
 *     cannot start an HTTP/1.x request line (a method token, then a space),
 *     it gets "400 Bad Request" and is closed: MHD would otherwise wait for
 *     a line end that never comes. Otherwise it goes to MHD
 *     (MHD_add_connection), with the bytes still unread.
 *   - A connection that MHD serves must send each request (headers and
 *     body) within request_timeout_ms of its start or of the end of its
 *     previous response; after that the front shuts its socket down and MHD
 *     closes it. MHD's own timeout only counts idle time, so a client
 *     trickling a byte a second would live forever.
 *
 * MHD closes a socket only after its connection-closed notice, which takes
 * f->mu to unlink the connection; so while a connection is on the list, its
 * fd is open and is this connection's, and shutdown() on it is safe.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "admin_internal.h"

#define TICK_MS 50

struct front_conn {
    int fd;           /* -1 once shut down */
    int64_t since_ns; /* its start, or the end of its last response */
    bool in_request;  /* from the handler's first call to the request's end */
    front_conn *prev, *next;
};

/* Accepted, waiting for its first bytes. */
typedef struct pending {
    int fd;
    int64_t since_ns;
    struct sockaddr_storage addr;
    socklen_t addrlen;
} pending;

struct admin_front {
    int lfd;
    int64_t bound_ns;
    uint32_t max;
    struct MHD_Daemon *d;
    pthread_t thread;
    bool thread_on;
    pending *pend; /* [thread only] */
    uint32_t npend;
    pthread_mutex_t mu;
    front_conn *conns; /* [mu] served by MHD */
    bool draining;     /* [mu] */
    bool stop;         /* [mu] */
};

int front_open(nr_admin *a, admin_front **out, nr_error *err)
{
    *out = NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    socklen_t slen;
    const char *addr = a->o.listen;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)a->o.port);
        slen = sizeof(*s4);
    } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)a->o.port);
        slen = sizeof(*s6);
    } else {
        return nr_error_set(err, NR_EINVAL, NULL,
                            "admin: listen address '%s' is not an IPv4 or IPv6 address", addr);
    }
    admin_front *f = calloc(1, sizeof(*f));
    if (f)
        f->pend = calloc(a->o.max_connections, sizeof(*f->pend));
    if (!f || !f->pend) {
        free(f);
        return nr_error_set(err, NR_ENOMEM, NULL, "admin: out of memory");
    }
    f->lfd = -1;
    f->bound_ns = a->o.request_timeout_ms * NR_NS_PER_MS;
    f->max = a->o.max_connections;
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (f->lfd < 0 || setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(f->lfd, (struct sockaddr *)&ss, slen) != 0 || listen(f->lfd, 64) != 0) {
        int e = errno;
        front_free(f);
        return nr_error_set(err, NR_EUNAVAIL, NULL, "admin: cannot listen on %s port %d: %s", addr,
                            a->o.port, strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(f->lfd, (struct sockaddr *)&bound, &blen) == 0)
        a->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    *out = f;
    return NR_OK;
}

/* Whether c can be in an HTTP method token (RFC 9110 tchar). */
static bool tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* 1: the bytes waiting on fd cannot start a request line; 0: they can (or
 * too few have come to tell); -1: the peer closed or the socket failed. */
static int not_http(int fd)
{
    unsigned char buf[32];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        return -1;
    size_t i = 0;
    while (i < (size_t)n && (buf[i] == '\r' || buf[i] == '\n'))
        i++; /* RFC 9112 2.2: empty lines before a request line are ignored */
    for (size_t start = i; i < (size_t)n; i++) {
        if (buf[i] == ' ')
            return i == start;
        if (!tchar(buf[i]))
            return 1;
    }
    return (size_t)n == sizeof(buf); /* a method longer than any there is */
}

static void refuse(int fd)
{
    static const char body[] = "bad request: this is not HTTP/1.x\n";
    char resp[256];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                     sizeof(body) - 1, body);
    (void)!send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_RDWR);
    close(fd);
}

static void drop_pending(admin_front *f, uint32_t i)
{
    f->pend[i] = f->pend[--f->npend];
}

static void accept_new(admin_front *f, int64_t now)
{
    while (f->npend < f->max) {
        pending *p = &f->pend[f->npend];
        p->addrlen = sizeof(p->addr);
        int fd =
            accept4(f->lfd, (struct sockaddr *)&p->addr, &p->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or out of descriptors: the next tick tries again */
        p->fd = fd;
        p->since_ns = now;
        f->npend++;
    }
}

static void sort_pending(admin_front *f, const struct pollfd *pfd, int64_t now)
{
    for (uint32_t i = f->npend; i-- > 0;) {
        pending *p = &f->pend[i];
        short ev = pfd[i + 1].revents;
        if (ev & (POLLIN | POLLHUP | POLLERR)) {
            int verdict = not_http(p->fd);
            if (verdict == 1) {
                refuse(p->fd);
            } else if (verdict < 0) {
                close(p->fd);
            } else {
                /* MHD owns the socket from here on, and closes it if it fails */
                MHD_add_connection(f->d, p->fd, (struct sockaddr *)&p->addr, p->addrlen);
            }
            drop_pending(f, i);
        } else if (now - p->since_ns > f->bound_ns) {
            close(p->fd); /* connected and said nothing */
            drop_pending(f, i);
        }
    }
}

static void bound_served(admin_front *f, int64_t now)
{
    pthread_mutex_lock(&f->mu);
    for (front_conn *k = f->conns; k; k = k->next) {
        if (k->fd < 0)
            continue;
        if (now - k->since_ns > f->bound_ns || (f->draining && !k->in_request)) {
            shutdown(k->fd, SHUT_RDWR); /* MHD sees the end and closes it */
            k->fd = -1;
        }
    }
    pthread_mutex_unlock(&f->mu);
}

static void *front_main(void *arg)
{
    admin_front *f = arg;
    struct pollfd *pfd = calloc(f->max + 1, sizeof(*pfd));
    for (;;) {
        pthread_mutex_lock(&f->mu);
        bool stop = f->stop, draining = f->draining;
        pthread_mutex_unlock(&f->mu);
        if (stop)
            break;
        int64_t now = nr_now_ns();
        bool listening = !draining && f->npend < f->max && pfd;
        if (pfd) {
            pfd[0] = (struct pollfd){.fd = listening ? f->lfd : -1, .events = POLLIN};
            for (uint32_t i = 0; i < f->npend; i++)
                pfd[i + 1] = (struct pollfd){.fd = f->pend[i].fd, .events = POLLIN};
            if (poll(pfd, f->npend + 1, TICK_MS) < 0)
                pfd[0].revents = 0;
        } else {
            nr_sleep_ns(TICK_MS * NR_NS_PER_MS);
        }
        now = nr_now_ns();
        if (pfd) {
            sort_pending(f, pfd, now);
            if (listening && (pfd[0].revents & POLLIN))
                accept_new(f, now);
        }
        bound_served(f, now);
    }
    for (uint32_t i = 0; i < f->npend; i++)
        close(f->pend[i].fd);
    f->npend = 0;
    free(pfd);
    return NULL;
}

int front_start(admin_front *f, struct MHD_Daemon *d, nr_error *err)
{
    f->d = d;
    if (pthread_create(&f->thread, NULL, front_main, f) != 0)
        return nr_error_set(err, NR_EINIT, NULL, "admin: cannot start the accepting thread");
    f->thread_on = true;
    return NR_OK;
}

front_conn *front_conn_started(admin_front *f, int fd)
{
    front_conn *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL; /* unguarded, still bounded by MHD's idle timeout */
    k->fd = fd;
    k->since_ns = nr_now_ns();
    pthread_mutex_lock(&f->mu);
    k->next = f->conns;
    if (f->conns)
        f->conns->prev = k;
    f->conns = k;
    pthread_mutex_unlock(&f->mu);
    return k;
}

void front_conn_closed(admin_front *f, front_conn *k)
{
    pthread_mutex_lock(&f->mu);
    if (k->prev)
        k->prev->next = k->next;
    else
        f->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    pthread_mutex_unlock(&f->mu);
    free(k);
}

void front_request_begin(admin_front *f, front_conn *k)
{
    pthread_mutex_lock(&f->mu);
    k->in_request = true;
    pthread_mutex_unlock(&f->mu);
}

void front_request_end(admin_front *f, front_conn *k)
{
    pthread_mutex_lock(&f->mu);
    k->in_request = false;
    k->since_ns = nr_now_ns();
    pthread_mutex_unlock(&f->mu);
}

void front_drain(admin_front *f)
{
    pthread_mutex_lock(&f->mu);
    f->draining = true;
    pthread_mutex_unlock(&f->mu);
}

void front_stop(admin_front *f)
{
    if (!f || !f->thread_on)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    f->thread_on = false;
}

void front_free(admin_front *f)
{
    if (!f)
        return;
    front_stop(f);
    if (f->lfd >= 0)
        close(f->lfd);
    pthread_mutex_destroy(&f->mu);
    free(f->pend);
    free(f);
}
