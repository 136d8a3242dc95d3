/*
 * mongo_uri.c - the printable (redacted) forms of a MongoDB URI and of a
 * config's target, and the syntax rules of hosts, URIs and database names.
 *
 * Where the userinfo of a URI ends: in a well-formed URI it is the part
 * before the first '@' of the authority (a password must percent-encode
 * '@', ':', '/' and '?'). Users do write raw characters, so both the
 * redaction and the config check look further (see userinfo_end): the
 * redaction may hide too much of a malformed URI, never too little.
 */
#include "nebula/mongo.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mongo_internal.h"
#include "nebula/alloc.h"

/* Options whose values are secrets. */
static const char *const secret_options[] = {"tlsCertificateKeyFilePassword",
                                             "authMechanismProperties",
                                             "sslClientCertificateKeyPassword", NULL};

/* ---- a bounded string builder ------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t n, len;
    bool cut;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t len)
{
    if (b->n == 0)
        return;
    for (size_t i = 0; i < len; i++) {
        if (b->len + 1 >= b->n) {
            b->cut = true;
            break;
        }
        b->p[b->len++] = s[i];
    }
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static const char *sb_done(sbuf *b)
{
    if (b->n == 0)
        return "";
    if (b->cut && b->n >= 4)
        memcpy(b->p + b->n - 4, "...", 4);
    return b->p;
}

/* ---- URI anatomy ---------------------------------------------------------------- */

/* Offset just past "://", or 0 when s has no scheme. */
static size_t scheme_end(const char *s)
{
    const char *p = strstr(s, "://");
    return p ? (size_t)(p - s) + 3 : 0;
}

/*
 * Offset of the '@' that ends the userinfo, or (size_t)-1 when there is
 * none. The last '@' before the first '?'; when the first '?' comes before
 * any '/' (malformed: a raw '?' in a password), the last '@' of the string.
 */
static size_t userinfo_end(const char *s, size_t start)
{
    const char *q = strchr(s + start, '?');
    const char *slash = strchr(s + start, '/');
    size_t stop = q ? (size_t)(q - s) : strlen(s);
    if (q && (!slash || slash > q))
        stop = strlen(s);
    size_t at = (size_t)-1;
    for (size_t i = start; i < stop; i++)
        if (s[i] == '@')
            at = i;
    return at;
}

static bool is_secret_option(const char *key, size_t len)
{
    for (size_t i = 0; secret_options[i]; i++)
        if (strlen(secret_options[i]) == len && strncasecmp(key, secret_options[i], len) == 0)
            return true;
    return false;
}

const char *nr_mongo_redact_uri(const char *uri, char *out, size_t n)
{
    sbuf b = {.p = out, .n = out ? n : 0};
    if (b.n == 0)
        return "";
    out[0] = '\0';
    if (!uri)
        return out;
    size_t start = scheme_end(uri);
    if (start == 0) {
        sb_str(&b, uri);
        return sb_done(&b);
    }
    size_t pos = start;
    size_t at = userinfo_end(uri, start);
    sb_put(&b, uri, start);
    if (at != (size_t)-1) {
        const char *colon = memchr(uri + start, ':', at - start);
        if (colon) {
            sb_put(&b, uri + start, (size_t)(colon - uri) - start + 1);
            sb_str(&b, NR_SECRET_REDACTED);
            pos = at;
        }
    }
    /* the rest; secret option values redacted */
    const char *q = strchr(uri + (at != (size_t)-1 ? at : pos), '?');
    size_t qpos = q ? (size_t)(q - uri) : strlen(uri);
    sb_put(&b, uri + pos, qpos - pos);
    if (q) {
        const char *p = q;
        while (*p) {
            /* p points at '?' or '&' */
            sb_put(&b, p, 1);
            p++;
            size_t klen = strcspn(p, "=&");
            size_t vlen = p[klen] == '=' ? strcspn(p + klen + 1, "&") : 0;
            if (p[klen] == '=' && is_secret_option(p, klen)) {
                sb_put(&b, p, klen + 1);
                sb_str(&b, NR_SECRET_REDACTED);
            } else {
                sb_put(&b, p, klen + (p[klen] == '=' ? 1 + vlen : 0));
            }
            p += klen + (p[klen] == '=' ? 1 + vlen : 0);
        }
    }
    return sb_done(&b);
}

/* ---- syntax rules ------------------------------------------------------------------ */

static bool why_set(char *why, size_t n, const char *text)
{
    if (why && n)
        snprintf(why, n, "%s", text);
    return false;
}

static bool host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

bool nr__mongo_hosts_ok(const char *hosts, char *why, size_t n)
{
    if (!hosts || !hosts[0])
        return why_set(why, n, "must not be empty");
    const char *p = hosts;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0)
            return why_set(why, n,
                           "must be host:port entries separated by ',' (found an empty "
                           "entry)");
        const char *end = p + len;
        const char *port = NULL;
        if (*p == '[') {
            const char *close = memchr(p, ']', len);
            if (!close || close == p + 1)
                return why_set(why, n, "an IPv6 address must be written [address]:port");
            for (const char *c = p + 1; c < close; c++)
                if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                    return why_set(why, n,
                                   "an IPv6 address must hold only hex digits, ':' and '.'");
            if (close + 1 < end) {
                if (close[1] != ':')
                    return why_set(why, n, "an IPv6 address must be written [address]:port");
                port = close + 2;
            }
        } else {
            const char *colon = memchr(p, ':', len);
            const char *hend = colon ? colon : end;
            if (hend == p)
                return why_set(why, n, "every entry needs a host name before the ':'");
            for (const char *c = p; c < hend; c++)
                if (!host_char(*c))
                    return why_set(why, n,
                                   "a host name may hold only letters, digits, '.', '-' "
                                   "and '_' (a credential never goes in hosts)");
            if (colon)
                port = colon + 1;
        }
        if (port) {
            if (port == end)
                return why_set(why, n, "a ':' must be followed by a port number");
            long v = 0;
            for (const char *c = port; c < end; c++) {
                if (!isdigit((unsigned char)*c) || v > 65535)
                    return why_set(why, n, "a port must be a number between 1 and 65535");
                v = v * 10 + (*c - '0');
            }
            if (v < 1 || v > 65535)
                return why_set(why, n, "a port must be a number between 1 and 65535");
        }
        if (*end == '\0')
            return true;
        p = end + 1;
    }
}

bool nr__mongo_uri_ok(const char *uri, char *why, size_t n)
{
    if (!uri || !uri[0])
        return why_set(why, n, "must not be empty");
    if (strncmp(uri, "mongodb://", 10) != 0 && strncmp(uri, "mongodb+srv://", 14) != 0)
        return why_set(why, n, "must start with mongodb:// or mongodb+srv://");
    size_t start = scheme_end(uri);
    size_t at = userinfo_end(uri, start);
    if (at != (size_t)-1) {
        if (memchr(uri + start, ':', at - start))
            return why_set(why, n,
                           "must not contain a password: credentials come from the "
                           "credential provider only (set username, and give the "
                           "password as the resource's credential)");
        return why_set(why, n,
                       "must not contain a user name: set the username field (the "
                       "password comes from the credential provider)");
    }
    const char *q = strchr(uri + start, '?');
    const char *slash = strchr(uri + start, '/');
    if (q && (!slash || slash > q))
        return why_set(why, n, "needs a '/' between the hosts and the '?' of the options");
    if (q) {
        const char *p = q;
        while (*p) {
            p++;
            size_t klen = strcspn(p, "=&");
            if (is_secret_option(p, klen))
                return why_set(why, n,
                               "must not contain tlsCertificateKeyFilePassword or "
                               "authMechanismProperties (secrets stay out of the "
                               "config)");
            p += strcspn(p, "&");
        }
    }
    if (uri[start] == '\0' || uri[start] == '/' || uri[start] == '?')
        return why_set(why, n, "must name at least one host");
    return true;
}

bool nr__mongo_dbname_ok(const char *name, char *why, size_t n)
{
    if (!name || !name[0])
        return why_set(why, n, "must not be empty");
    if (strlen(name) > NR_MONGO_NAME_MAX)
        return why_set(why, n, "must be at most 63 bytes long");
    if (strpbrk(name, "/\\. \"$"))
        return why_set(why, n, "must not contain / \\ . \" $ or a space");
    return true;
}

/* ---- the printable target ------------------------------------------------------------ */

const char *nr_mongo_describe(const nr_mongo_config *cfg, char *out, size_t n)
{
    sbuf b = {.p = out, .n = out ? n : 0};
    if (b.n == 0)
        return "";
    out[0] = '\0';
    if (!cfg) {
        sb_str(&b, "(no config)");
        return sb_done(&b);
    }
    const char *user = cfg->username && cfg->username[0] ? cfg->username : NULL;
    if (cfg->uri && cfg->uri[0]) {
        char red[NR_MONGO_URI_MAX + 64];
        nr_mongo_redact_uri(cfg->uri, red, sizeof(red));
        size_t start = scheme_end(red);
        if (user && start) {
            sb_put(&b, red, start);
            sb_str(&b, user);
            sb_str(&b, "@");
            sb_str(&b, red + start);
        } else {
            sb_str(&b, red);
        }
        return sb_done(&b);
    }
    sb_str(&b, "mongodb://");
    if (user) {
        sb_str(&b, user);
        sb_str(&b, "@");
    }
    sb_str(&b, cfg->hosts ? cfg->hosts : "(no hosts)");
    sb_str(&b, "/");
    if (cfg->database)
        sb_str(&b, cfg->database);
    char sep = '?';
    if (cfg->auth_source && cfg->auth_source[0]) {
        sb_put(&b, &sep, 1);
        sb_str(&b, "authSource=");
        sb_str(&b, cfg->auth_source);
        sep = '&';
    }
    if (cfg->tls) {
        sb_put(&b, &sep, 1);
        sb_str(&b, "tls=true");
    }
    return sb_done(&b);
}

/* ---- scrubbing ------------------------------------------------------------------------- */

void nr__mongo_scrub(char *s, size_t n, const char *secret, size_t len)
{
    if (!s || !n || !secret || !len)
        return;
    char *hit = strstr(s, secret);
    if (!hit)
        return;
    char *tmp = nr_malloc(n);
    if (!tmp) {
        /* cannot rebuild: drop the message rather than keep the secret */
        snprintf(s, n, "%s", "(message withheld: it contained a secret)");
        return;
    }
    sbuf b = {.p = tmp, .n = n};
    const char *p = s;
    while ((hit = strstr(p, secret)) != NULL) {
        sb_put(&b, p, (size_t)(hit - p));
        sb_str(&b, NR_SECRET_REDACTED);
        p = hit + len;
    }
    sb_str(&b, p);
    sb_done(&b);
    snprintf(s, n, "%s", tmp);
    nr_free(tmp);
}
