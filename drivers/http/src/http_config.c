/*
 * http_config.c - the schema of nr_http_config (its fields: nebula/http.h), and
 * the parsers of its text lists (header lines, name lists, status ranges,
 * URLs, resolve entries).
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nebula/alloc.h"

#include "http_internal.h"

/* ---- curl_global_init once ----------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
    global_rc = (int)curl_global_init(CURL_GLOBAL_DEFAULT);
}

int nr__http_global_init(void)
{
    pthread_once(&global_once, global_init);
    return global_rc;
}

/* ---- lists ----------------------------------------------------------------------------- */

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

bool nr__http_next_line(const char **p, const char **line, size_t *len)
{
    const char *s = *p;
    while (s && *s) {
        const char *e = strchr(s, '\n');
        const char *next = e ? e + 1 : s + strlen(s);
        if (!e)
            e = next;
        while (s < e && blank(*s))
            s++;
        while (e > s && (blank(e[-1]) || e[-1] == '\r'))
            e--;
        if (e > s) {
            *line = s;
            *len = (size_t)(e - s);
            *p = next;
            return true;
        }
        s = next;
    }
    *p = s;
    return false;
}

static bool tchar(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool nr__http_header_split(const char *line, size_t len, const char **name, size_t *nlen,
                           const char **value, size_t *vlen, char *why, size_t whyn)
{
    const char *colon = memchr(line, ':', len);
    if (!colon) {
        /* the line is not shown: it may hold a secret */
        snprintf(why, whyn, "a header line has no ':' (write \"Name: value\")");
        return false;
    }
    size_t nl = (size_t)(colon - line);
    for (size_t i = 0; i < nl; i++) {
        if (!tchar(line[i])) {
            snprintf(why, whyn, "header name '%.*s' is not an HTTP token", (int)(nl > 40 ? 40 : nl),
                     line);
            return false;
        }
    }
    if (nl == 0) {
        snprintf(why, whyn, "header line has an empty name");
        return false;
    }
    const char *v = colon + 1, *e = line + len;
    while (v < e && blank(*v))
        v++;
    for (const char *q = v; q < e; q++) {
        if ((unsigned char)*q < 0x20 && *q != '\t') {
            /* the value is never shown: it may be a secret */
            snprintf(why, whyn, "value of header '%.*s' holds a control character", (int)nl, line);
            return false;
        }
    }
    *name = line;
    *nlen = nl;
    *value = v;
    *vlen = (size_t)(e - v);
    return true;
}

static bool name_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool nr__http_name_in_list(const char *list, const char *name, size_t nlen)
{
    const char *p = list;
    while (p && *p) {
        while (*p && name_sep(*p))
            p++;
        const char *s = p;
        while (*p && !name_sep(*p))
            p++;
        if ((size_t)(p - s) == nlen && nlen > 0 && strncasecmp(s, name, nlen) == 0)
            return true;
    }
    return false;
}

bool nr__http_name_list_check(const char *list, char *why, size_t whyn)
{
    const char *p = list;
    while (p && *p) {
        while (*p && name_sep(*p))
            p++;
        const char *s = p;
        while (*p && !name_sep(*p))
            p++;
        for (const char *q = s; q < p; q++) {
            if (!tchar(*q)) {
                snprintf(why, whyn, "'%.*s' is not an HTTP header name",
                         (int)(p - s > 40 ? 40 : p - s), s);
                return false;
            }
        }
    }
    return true;
}

int nr__http_status_parse(const char *text, nr__http_status_range **out, size_t *n, char *why,
                          size_t whyn)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    for (const char *p = text ? text : ""; *p; p++)
        cap += !name_sep(*p) && (p == text || name_sep(p[-1]));
    if (cap == 0) {
        snprintf(why, whyn, "must list at least one status code or range, e.g. \"200-399\"");
        return -1;
    }
    nr__http_status_range *r = nr_calloc(cap, sizeof(*r));
    if (!r)
        return -2;
    size_t k = 0;
    const char *p = text;
    while (*p) {
        while (*p && name_sep(*p))
            p++;
        const char *s = p;
        while (*p && !name_sep(*p))
            p++;
        if (p == s)
            break;
        int lo = 0, hi = 0, used = 0;
        char item[24];
        size_t len = (size_t)(p - s);
        bool ok = len < sizeof(item);
        if (ok) {
            memcpy(item, s, len);
            item[len] = '\0';
            if (sscanf(item, "%3d-%3d%n", &lo, &hi, &used) == 2 && used == (int)len) {
                /* a range */
            } else if (sscanf(item, "%3d%n", &lo, &used) == 1 && used == (int)len) {
                hi = lo;
            } else {
                ok = false;
            }
        }
        if (!ok || lo < 100 || hi > 599 || lo > hi) {
            snprintf(why, whyn,
                     "'%.*s' is not a status code or range between 100 and 599 (e.g. 200-399)",
                     (int)(len > 24 ? 24 : len), s);
            nr_free(r);
            return -1;
        }
        r[k].lo = lo;
        r[k].hi = hi;
        k++;
    }
    *out = r;
    *n = k;
    return 0;
}

bool nr__http_status_match(const nr__http_status_range *r, size_t n, long status)
{
    for (size_t i = 0; i < n; i++)
        if (status >= r[i].lo && status <= r[i].hi)
            return true;
    return false;
}

bool nr__http_has_scheme(const char *url)
{
    if (!url || !isalpha((unsigned char)url[0]))
        return false;
    for (const char *p = url + 1; *p; p++) {
        if (*p == ':')
            return true;
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return false;
    }
    return false;
}

bool nr__http_url_check(const char *url, char *why, size_t whyn)
{
    if (!url || !*url) {
        snprintf(why, whyn, "must not be empty");
        return false;
    }
    if (!nr__http_has_scheme(url)) {
        snprintf(why, whyn, "must be an absolute http:// or https:// URL");
        return false;
    }
    size_t sl = (size_t)(strchr(url, ':') - url);
    if (!((sl == 4 && strncasecmp(url, "http", 4) == 0) ||
          (sl == 5 && strncasecmp(url, "https", 5) == 0))) {
        snprintf(why, whyn, "scheme '%.*s' is not allowed (http and https only)",
                 (int)(sl > 16 ? 16 : sl), url);
        return false;
    }
    if (nr__http_global_init() != 0) {
        snprintf(why, whyn, "libcurl could not be initialised");
        return false;
    }
    CURLU *u = curl_url();
    if (!u) {
        snprintf(why, whyn, "out of memory parsing the URL");
        return false;
    }
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    bool ok = rc == CURLUE_OK;
    if (!ok) {
        snprintf(why, whyn, "does not parse as a URL: %s", curl_url_strerror(rc));
    } else {
        char *host = NULL;
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
            snprintf(why, whyn, "has no host");
            ok = false;
        }
        curl_free(host);
    }
    curl_url_cleanup(u);
    return ok;
}

void nr__http_shown_url(const char *url, char *buf, size_t n)
{
    if (!buf || n == 0)
        return;
    if (!url) {
        snprintf(buf, n, "(none)");
        return;
    }
    size_t o = 0;
    const char *p = url;
    const char *auth = strstr(url, "://");
    if (auth && nr__http_has_scheme(url)) {
        auth += 3;
        size_t pre = (size_t)(auth - url);
        const char *hend = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *q = auth; q < hend; q++)
            if (*q == '@')
                at = q;
        for (size_t i = 0; i < pre && o + 1 < n; i++)
            buf[o++] = url[i];
        p = at ? at + 1 : auth;
    }
    for (; *p && *p != '?' && *p != '#' && o + 1 < n; p++)
        buf[o++] = (unsigned char)*p < 0x20 ? '?' : *p;
    buf[o] = '\0';
    if (*p && *p != '?' && *p != '#' && n > 4)
        memcpy(buf + n - 4, "...", 4);
}

bool nr__http_resolve_check(const char *list, char *why, size_t whyn)
{
    const char *p = list;
    while (p && *p) {
        while (*p && name_sep(*p))
            p++;
        const char *s = p;
        while (*p && !name_sep(*p))
            p++;
        if (p == s)
            break;
        /* host:port:address, address possibly in brackets */
        const char *c1 = memchr(s, ':', (size_t)(p - s));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(p - c1 - 1)) : NULL;
        char addr[64];
        long port = -1;
        bool ok = c1 && c2 && c1 > s && c2 > c1 + 1 && p > c2 + 1;
        if (ok) {
            char num[8];
            size_t nl = (size_t)(c2 - c1 - 1);
            ok = nl < sizeof(num);
            if (ok) {
                memcpy(num, c1 + 1, nl);
                num[nl] = '\0';
                int used = 0;
                ok = sscanf(num, "%5ld%n", &port, &used) == 1 && used == (int)nl && port > 0 &&
                     port <= 65535;
            }
        }
        if (ok) {
            const char *a = c2 + 1, *e = p;
            if (*a == '[' && e[-1] == ']') {
                a++;
                e--;
            }
            size_t al = (size_t)(e - a);
            nr__http_addr tmp;
            ok = al < sizeof(addr);
            if (ok) {
                memcpy(addr, a, al);
                addr[al] = '\0';
                ok = nr__http_addr_parse(addr, &tmp);
            }
        }
        if (!ok) {
            snprintf(why, whyn, "'%.*s' is not host:port:address (numeric address)",
                     (int)(p - s > 60 ? 60 : p - s), s);
            return false;
        }
    }
    return true;
}

/* ---- the schema ------------------------------------------------------------------------ */

/* The enum names the list in nebula/http.h refers to. */
static const char *const nr__http_health_methods[] = {"GET", "HEAD", NULL};
static const char *const nr__http_tls_versions[] = {"default", "1.0", "1.1", "1.2", "1.3", NULL};

static void add(nr_config_report *report, const char *path, const char *field, const char *value,
                const char *rule)
{
    char where[NR_CONFIG_PATH_MAX];
    snprintf(where, sizeof(where), "%s.%s", path ? path : "$", field);
    nr_config_report_add(report, where, value, 0, 0, "%s", rule);
}

/* Check one header list; secret_names refuses secret names (NULL: any allowed). */
static void check_headers(const char *text, const char *field, const char *path,
                          const char *secret_names, const char *cred_header,
                          nr_config_report *report)
{
    const char *p = text, *line;
    size_t len;
    char why[NR_CONFIG_RULE_MAX];
    while (nr__http_next_line(&p, &line, &len)) {
        const char *name, *value;
        size_t nl, vl;
        if (!nr__http_header_split(line, len, &name, &nl, &value, &vl, why, sizeof(why))) {
            add(report, path, field, NULL, why);
            return;
        }
        if (secret_names && (nr__http_name_in_list(secret_names, name, nl) ||
                             (cred_header && strlen(cred_header) == nl &&
                              strncasecmp(cred_header, name, nl) == 0))) {
            snprintf(why, sizeof(why),
                     "header '%.*s' is secret: give it in secret_header_values or through "
                     "the credential, not in headers",
                     (int)(nl > 60 ? 60 : nl), name);
            add(report, path, field, NULL, why);
            return;
        }
    }
}

static void http_check(const void *cfg, const char *path, nr_config_report *report)
{
    const nr_http_config *c = cfg;
    char why[NR_CONFIG_RULE_MAX];
    if (c->base_url && !nr__http_url_check(c->base_url, why, sizeof(why))) {
        char shown[NR_CONFIG_VALUE_MAX];
        nr__http_shown_url(c->base_url, shown, sizeof(shown));
        add(report, path, "base_url", shown, why);
    }
    if (c->secret_headers && !nr__http_name_list_check(c->secret_headers, why, sizeof(why)))
        add(report, path, "secret_headers", NULL, why);
    if (c->credential_header && !nr__http_name_list_check(c->credential_header, why, sizeof(why)))
        add(report, path, "credential_header", c->credential_header, why);
    if (c->credential_prefix && strpbrk(c->credential_prefix, "\r\n"))
        add(report, path, "credential_prefix", NULL, "must not hold a line break");
    check_headers(c->headers, "headers", path, c->secret_headers ? c->secret_headers : "",
                  c->credential_header, report);
    if (c->secret_header_values)
        check_headers(nr_secret_reveal(c->secret_header_values, NULL), "secret_header_values", path,
                      NULL, NULL, report);
    if (c->health_path && c->health_path[0] != '/')
        add(report, path, "health_path", c->health_path, "must start with '/'");
    if (c->healthy_status) {
        nr__http_status_range *r = NULL;
        size_t n = 0;
        int rc = nr__http_status_parse(c->healthy_status, &r, &n, why, sizeof(why));
        if (rc == -1)
            add(report, path, "healthy_status", c->healthy_status, why);
        nr_free(r);
    }
    if (c->ssrf_allow) {
        nr__http_cidr *l = NULL;
        size_t n = 0;
        if (nr__http_cidr_parse_list(c->ssrf_allow, &l, &n, why, sizeof(why)) == -1)
            add(report, path, "ssrf_allow", NULL, why);
        nr_free(l);
    }
    if (c->resolve && !nr__http_resolve_check(c->resolve, why, sizeof(why)))
        add(report, path, "resolve", NULL, why);
    if (c->client_key && c->client_key[0] && !(c->client_cert && c->client_cert[0]))
        add(report, path, "client_key", NULL, "needs client_cert");
    if (c->user_agent && strpbrk(c->user_agent, "\r\n"))
        add(report, path, "user_agent", NULL, "must not hold a line break");
}

NR_CONFIG_SCHEMA(nr_http_config_schema, "http", nr_http_config, NR_HTTP_CONFIG_FIELDS, http_check);
