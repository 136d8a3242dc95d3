/* metrics_format.c - the Prometheus text exposition (format version 0.0.4). */
#define _POSIX_C_SOURCE 200809L
#include "nebula/metrics.h"

#ifdef NR_HAVE_METRICS

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/alloc.h"
#include "observe/metrics_internal.h"

/* ---- output buffer ------------------------------------------------------------ */

typedef struct text_buf {
    char *p;
    size_t len, cap;
    bool oom; /* an allocation failed: everything after is dropped */
} text_buf;

static bool buf_reserve(text_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t ncap = b->cap ? b->cap : 1024;
    while (ncap < b->len + extra + 1)
        ncap *= 2;
    char *np = nr_realloc(b->p, ncap);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = ncap;
    return true;
}

static void buf_put(text_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_puts(text_buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

/* s with \ and newline escaped, and " too when quote is set (label values). */
static void buf_escaped(text_buf *b, const char *s, bool quote)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *esc = NULL;
        if (*p == '\\')
            esc = "\\\\";
        else if (*p == '\n')
            esc = "\\n";
        else if (*p == '"' && quote)
            esc = "\\\"";
        if (!esc)
            continue;
        buf_put(b, run, (size_t)(p - run));
        buf_put(b, esc, 2);
        run = p + 1;
    }
    buf_puts(b, run);
}

/* ---- numbers ------------------------------------------------------------------- */

#define NUM_MAX 40

/* The shortest %g form (15 to 17 digits) that reads back as v, with the
 * decimal point written as '.' whatever the C locale says. */
static void format_double(char out[NUM_MAX], double v)
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char tmp[NUM_MAX];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* %g writes a sign, digits, the locale's decimal point (perhaps several
     * bytes) and an exponent: keep the rest, write the point as '.'. */
    size_t j = 0;
    bool in_point = false;
    for (const char *p = tmp; *p && j < NUM_MAX - 1; p++) {
        char c = *p;
        if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e') {
            out[j++] = c;
            in_point = false;
        } else if (!in_point) {
            out[j++] = '.';
            in_point = true;
        }
    }
    out[j] = '\0';
}

/* ---- rendering ------------------------------------------------------------------ */

/* {l1="v1",...,le="<le>"}, or nothing when there is no label at all. */
static void put_labels(text_buf *b, const nr__metric_series *s, const char *le)
{
    const nr__metric_family *f = s->family;
    if (f->label_count == 0 && !le)
        return;
    buf_put(b, "{", 1);
    for (size_t i = 0; i < f->label_count; i++) {
        if (i > 0)
            buf_put(b, ",", 1);
        buf_puts(b, f->labels[i]);
        buf_put(b, "=\"", 2);
        buf_escaped(b, s->values[i], true);
        buf_put(b, "\"", 1);
    }
    if (le) {
        if (f->label_count > 0)
            buf_put(b, ",", 1);
        buf_put(b, "le=\"", 4);
        buf_puts(b, le);
        buf_put(b, "\"", 1);
    }
    buf_put(b, "}", 1);
}

/* <name><suffix>{labels} <value>\n */
static void put_sample(text_buf *b, const nr__metric_series *s, const char *suffix, const char *le,
                       const char *value)
{
    buf_puts(b, s->family->name);
    buf_puts(b, suffix);
    put_labels(b, s, le);
    buf_put(b, " ", 1);
    buf_puts(b, value);
    buf_put(b, "\n", 1);
}

static void put_u64(char out[NUM_MAX], uint64_t v)
{
    snprintf(out, NUM_MAX, "%" PRIu64, v);
}

static void put_histogram(text_buf *b, const nr__metric_series *s)
{
    nr_histogram_values v;
    nr__histogram_read(&s->m.histogram, &v);
    char le[NUM_MAX], num[NUM_MAX];
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= v.bucket_count; i++) {
        cumulative += v.counts[i];
        if (i < v.bucket_count)
            format_double(le, v.bounds[i]);
        else
            strcpy(le, "+Inf");
        put_u64(num, cumulative);
        put_sample(b, s, "_bucket", le, num);
    }
    format_double(num, v.sum);
    put_sample(b, s, "_sum", NULL, num);
    put_u64(num, v.count); /* == cumulative: count is the sum of the buckets */
    put_sample(b, s, "_count", NULL, num);
}

static void put_family(text_buf *b, const nr__metric_family *f)
{
    static const char *const types[] = {"", "counter", "gauge", "histogram"};
    buf_put(b, "# HELP ", 7);
    buf_puts(b, f->name);
    buf_put(b, " ", 1);
    buf_escaped(b, f->help, false);
    buf_put(b, "\n# TYPE ", 8);
    buf_puts(b, f->name);
    buf_put(b, " ", 1);
    buf_puts(b, types[f->type]);
    buf_put(b, "\n", 1);
    char num[NUM_MAX];
    for (const nr__metric_series *s = f->first; s; s = s->next) {
        switch (f->type) {
        case NR_METRIC_COUNTER:
            put_u64(num, nr_counter_value(&s->m.counter));
            put_sample(b, s, "", NULL, num);
            break;
        case NR_METRIC_GAUGE:
            format_double(num, nr_gauge_value(&s->m.gauge));
            put_sample(b, s, "", NULL, num);
            break;
        case NR_METRIC_HISTOGRAM:
            put_histogram(b, s);
            break;
        }
    }
}

int nr__metrics_render(nr_metrics *reg, char **out, size_t *len, nr_error *err)
{
    text_buf b = {NULL, 0, 0, false};
    buf_reserve(&b, 0); /* an empty registry still gives a buffer */
    pthread_mutex_lock(&reg->lock);
    for (const nr__metric_family *f = reg->first; f && !b.oom; f = f->next)
        if (f->first) /* a family without series is left out */
            put_family(&b, f);
    pthread_mutex_unlock(&reg->lock);
    if (b.oom) {
        nr_free(b.p);
        return nr_error_set(err, NR_ENOMEM, NULL, "metrics: out of memory formatting");
    }
    b.p[b.len] = '\0';
    *out = b.p;
    *len = b.len;
    return NR_OK;
}

int nr_metrics_format(nr_metrics *reg, char **out, size_t *len, nr_error *err)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!reg)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no registry");
    if (!out || !len)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no output pointer");
    int rc = nr__metrics_collect(reg, err);
    if (rc != NR_OK)
        return rc;
    return nr__metrics_render(reg, out, len, err);
}

int nr_metrics_write(nr_metrics *reg, FILE *f, nr_error *err)
{
    if (!reg)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no registry");
    if (!f)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no output stream");
    char *text = NULL;
    size_t len = 0;
    int rc = nr_metrics_format(reg, &text, &len, err);
    if (rc != NR_OK)
        return rc;
    errno = 0;
    size_t wrote = fwrite(text, 1, len, f);
    int flushed = fflush(f);
    int saved = errno;
    nr_free(text);
    if (wrote == len && flushed == 0 && !ferror(f))
        return NR_OK;
    char why[128] = "stream error";
    if (saved != 0 && strerror_r(saved, why, sizeof(why)) != 0)
        snprintf(why, sizeof(why), "errno %d", saved);
    return nr_error_set(err, NR_EUNAVAIL, NULL,
                        "metrics: writing the exposition failed after %zu of %zu bytes: %s", wrote,
                        len, why);
}

#endif /* NR_HAVE_METRICS */
