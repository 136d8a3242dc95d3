/* metrics.c - the metrics registry: families, series look-up and removal,
 * handles. The collectors are in metrics_collect.c, the exposition in
 * metrics_format.c; the stand-ins used when
 * metrics are switched off are in metrics_off.c. */
#define _POSIX_C_SOURCE 200809L
#include "nebula/metrics.h"

#ifdef NR_HAVE_METRICS

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "nebula/alloc.h"
#include "observe/metrics_internal.h"

/* ---- names, UTF-8 and bit patterns ----------------------------------------- */

#define FNV_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

double nr__metrics_bits_to_double(uint64_t bits)
{
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

uint64_t nr__metrics_double_to_bits(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return bits;
}

static const char *type_name(nr_metric_type t)
{
    switch (t) {
    case NR_METRIC_COUNTER:
        return "counter";
    case NR_METRIC_GAUGE:
        return "gauge";
    case NR_METRIC_HISTOGRAM:
        return "histogram";
    }
    return "unknown type";
}

static bool is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [a-zA-Z_:][a-zA-Z0-9_:]*, not starting with "__". */
static bool valid_metric_name(const char *s)
{
    if (!is_alpha_(s[0]) && s[0] != ':')
        return false;
    if (s[0] == '_' && s[1] == '_')
        return false;
    for (const char *p = s + 1; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p) && *p != ':')
            return false;
    return true;
}

/* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__". */
static bool valid_label_name(const char *s)
{
    if (!is_alpha_(s[0]))
        return false;
    if (s[0] == '_' && s[1] == '_')
        return false;
    for (const char *p = s + 1; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p))
            return false;
    return true;
}

/* Well-formed UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

/* ---- hash tables ---------------------------------------------------------- */

/* Make room for one more node (load factor at most 1). -1 when out of memory,
 * leaving the table as it was. */
static int table_reserve_one(nr__metric_table *t)
{
    if (t->count < t->cap)
        return 0;
    size_t ncap = t->cap ? t->cap * 2 : 16;
    nr__metric_node **nb = nr_calloc(ncap, sizeof(*nb));
    if (!nb)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        nr__metric_node *n = t->buckets[i];
        while (n) {
            nr__metric_node *next = n->hnext;
            size_t j = (size_t)(n->hash & (ncap - 1));
            n->hnext = nb[j];
            nb[j] = n;
            n = next;
        }
    }
    nr_free(t->buckets);
    t->buckets = nb;
    t->cap = ncap;
    return 0;
}

/* The caller reserved room with table_reserve_one. */
static void table_insert(nr__metric_table *t, nr__metric_node *n)
{
    size_t j = (size_t)(n->hash & (t->cap - 1));
    n->hnext = t->buckets[j];
    t->buckets[j] = n;
    t->count++;
}

static nr__metric_node *table_chain(const nr__metric_table *t, uint64_t hash)
{
    return t->cap ? t->buckets[hash & (t->cap - 1)] : NULL;
}

/* The family named prefix[0..plen) followed by suffix; lock held. */
static nr__metric_family *find_family(const nr_metrics *reg, const char *prefix, size_t plen,
                                      const char *suffix)
{
    uint64_t h = fnv(fnv(FNV_BASIS, prefix, plen), suffix, strlen(suffix));
    for (nr__metric_node *n = table_chain(&reg->families, h); n; n = n->hnext) {
        nr__metric_family *f = (nr__metric_family *)n;
        if (n->hash == h && strncmp(f->name, prefix, plen) == 0 &&
            strcmp(f->name + plen, suffix) == 0)
            return f;
    }
    return NULL;
}

static uint64_t series_hash(const nr__metric_family *f, const char *const *values, size_t n)
{
    uintptr_t id = (uintptr_t)f;
    uint64_t h = fnv(FNV_BASIS, &id, sizeof(id));
    for (size_t i = 0; i < n; i++)
        h = fnv(h, values[i], strlen(values[i]) + 1); /* the NUL separates values */
    return h;
}

/* ---- registry ------------------------------------------------------------- */

int nr_metrics_create(nr_metrics **out, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no output pointer");
    *out = NULL;
    nr_metrics *reg = nr_calloc(1, sizeof(*reg));
    if (!reg)
        return nr_error_set(err, NR_ENOMEM, NULL, "metrics: out of memory for the registry");
    if (pthread_mutex_init(&reg->lock, NULL) != 0) {
        nr_free(reg);
        return nr_error_set(err, NR_EINTERNAL, NULL, "metrics: cannot initialise a mutex");
    }
    if (pthread_mutex_init(&reg->collect_lock, NULL) != 0) {
        pthread_mutex_destroy(&reg->lock);
        nr_free(reg);
        return nr_error_set(err, NR_EINTERNAL, NULL, "metrics: cannot initialise a mutex");
    }
    *out = reg;
    return NR_OK;
}

void nr_metrics_destroy(nr_metrics *reg)
{
    if (!reg)
        return;
    nr__metric_family *f = reg->first;
    while (f) {
        nr__metric_family *fnext = f->next;
        nr__metric_series *s = f->first;
        while (s) {
            nr__metric_series *snext = s->next;
            nr_free(s);
            s = snext;
        }
        nr_free(f);
        f = fnext;
    }
    nr__metric_collector *c = reg->collectors;
    while (c) {
        nr__metric_collector *cnext = c->next;
        nr_free(c);
        c = cnext;
    }
    nr_free(reg->families.buckets);
    nr_free(reg->series.buckets);
    pthread_mutex_destroy(&reg->collect_lock);
    pthread_mutex_destroy(&reg->lock);
    nr_free(reg);
}

/* Check everything about desc that needs no registry. */
static int check_desc(const nr_metric_desc *d, nr_error *err)
{
    if (!d->name)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: family has no name");
    if (!valid_metric_name(d->name))
        return nr_error_set(err, NR_EINVAL, NULL,
                            "metrics: family name \"%s\" is invalid: a metric name matches "
                            "[a-zA-Z_:][a-zA-Z0-9_:]* and does not start with \"__\"",
                            d->name);
    const char *name = d->name;
    if (!d->help)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: family %s has no help text", name);
    if (!valid_utf8(d->help))
        return nr_error_set(err, NR_EINVAL, NULL,
                            "metrics: family %s: help text is not valid UTF-8", name);
    if (d->type != NR_METRIC_COUNTER && d->type != NR_METRIC_GAUGE &&
        d->type != NR_METRIC_HISTOGRAM)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "metrics: family %s: type %d is not a counter, gauge or histogram",
                            name, (int)d->type);
    if (d->label_count > NR_METRICS_MAX_LABELS)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "metrics: family %s has %zu label names; at most %d are allowed", name,
                            d->label_count, NR_METRICS_MAX_LABELS);
    if (d->label_count > 0 && !d->label_names)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "metrics: family %s: label_names is NULL but label_count is %zu", name,
                            d->label_count);
    for (size_t i = 0; i < d->label_count; i++) {
        const char *l = d->label_names[i];
        if (!l)
            return nr_error_set(err, NR_EINVAL, NULL, "metrics: family %s: label name %zu is NULL",
                                name, i);
        if (!valid_label_name(l))
            return nr_error_set(err, NR_EINVAL, NULL,
                                "metrics: family %s: label name \"%s\" is invalid: a label name "
                                "matches [a-zA-Z_][a-zA-Z0-9_]* and does not start with \"__\"",
                                name, l);
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->label_names[j], l) == 0)
                return nr_error_set(err, NR_EINVAL, NULL,
                                    "metrics: family %s: label name \"%s\" is given twice", name,
                                    l);
        if (d->type == NR_METRIC_HISTOGRAM && strcmp(l, "le") == 0)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "metrics: family %s: label name \"le\" is reserved in histograms",
                                name);
    }
    if (d->type != NR_METRIC_HISTOGRAM) {
        if (d->bucket_count > 0)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "metrics: family %s: buckets are only for histograms, not a %s",
                                name, type_name(d->type));
        return NR_OK;
    }
    if (d->bucket_count > NR_METRICS_MAX_BUCKETS)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "metrics: family %s has %zu buckets; at most %d are allowed", name,
                            d->bucket_count, NR_METRICS_MAX_BUCKETS);
    if (d->bucket_count > 0 && !d->buckets)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "metrics: family %s: buckets is NULL but bucket_count is %zu", name,
                            d->bucket_count);
    for (size_t i = 0; i < d->bucket_count; i++) {
        if (!isfinite(d->buckets[i]))
            return nr_error_set(err, NR_EINVAL, NULL,
                                "metrics: family %s: bucket bound %zu is not finite (+Inf is "
                                "always added)",
                                name, i);
        if (i > 0 && !(d->buckets[i] > d->buckets[i - 1]))
            return nr_error_set(err, NR_EINVAL, NULL,
                                "metrics: family %s: bucket bounds must increase strictly, but "
                                "bound %zu (%g) follows %g",
                                name, i, d->buckets[i], d->buckets[i - 1]);
    }
    return NR_OK;
}

/* What makes desc differ from the registered f, or NULL when it does not. */
static const char *family_difference(const nr__metric_family *f, const nr_metric_desc *d)
{
    if (f->type != d->type)
        return "type";
    if (f->label_count != d->label_count)
        return "label names";
    for (size_t i = 0; i < f->label_count; i++)
        if (strcmp(f->labels[i], d->label_names[i]) != 0)
            return "label names";
    if (f->bucket_count != d->bucket_count)
        return "buckets";
    for (size_t i = 0; i < f->bucket_count; i++)
        if (f->bounds[i] != d->buckets[i])
            return "buckets";
    return NULL;
}

static const char *const hist_suffixes[] = {"_bucket", "_sum", "_count"};

/* NR_EEXIST when the family d would expose a name that another family has
 * (histograms expose <name>_bucket, _sum and _count); lock held. */
static int check_collisions(const nr_metrics *reg, const nr_metric_desc *d, nr_error *err)
{
    size_t len = strlen(d->name);
    for (size_t i = 0; i < 3; i++) {
        size_t sl = strlen(hist_suffixes[i]);
        if (len > sl && strcmp(d->name + len - sl, hist_suffixes[i]) == 0) {
            const nr__metric_family *h = find_family(reg, d->name, len - sl, "");
            if (h && h->type == NR_METRIC_HISTOGRAM)
                return nr_error_set(err, NR_EEXIST, NULL,
                                    "metrics: family %s collides with the %s series of "
                                    "histogram %s",
                                    d->name, hist_suffixes[i], h->name);
        }
        if (d->type == NR_METRIC_HISTOGRAM) {
            const nr__metric_family *o = find_family(reg, d->name, len, hist_suffixes[i]);
            if (o)
                return nr_error_set(err, NR_EEXIST, NULL,
                                    "metrics: histogram %s would expose %s%s, which is already "
                                    "the %s family %s",
                                    d->name, d->name, hist_suffixes[i], type_name(o->type),
                                    o->name);
        }
    }
    return NR_OK;
}

/* One block: the family, its bounds, then its strings. */
static nr__metric_family *family_new(const nr_metric_desc *d, uint64_t hash)
{
    size_t name_len = strlen(d->name) + 1, help_len = strlen(d->help) + 1;
    size_t size =
        sizeof(nr__metric_family) + d->bucket_count * sizeof(double) + name_len + help_len;
    for (size_t i = 0; i < d->label_count; i++)
        size += strlen(d->label_names[i]) + 1;
    nr__metric_family *f = nr_malloc(size);
    if (!f)
        return NULL;
    memset(f, 0, sizeof(*f));
    f->node.hash = hash;
    f->type = d->type;
    f->label_count = d->label_count;
    f->bucket_count = d->bucket_count;
    double *bounds = (double *)(f + 1);
    if (d->bucket_count > 0)
        memcpy(bounds, d->buckets, d->bucket_count * sizeof(double));
    f->bounds = bounds;
    char *text = (char *)(bounds + d->bucket_count);
    memcpy(text, d->name, name_len);
    f->name = text;
    text += name_len;
    memcpy(text, d->help, help_len);
    f->help = text;
    text += help_len;
    for (size_t i = 0; i < d->label_count; i++) {
        size_t l = strlen(d->label_names[i]) + 1;
        memcpy(text, d->label_names[i], l);
        f->labels[i] = text;
        text += l;
    }
    return f;
}

int nr_metrics_register(nr_metrics *reg, const nr_metric_desc *desc, nr_error *err)
{
    if (!reg)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no registry");
    if (!desc)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no family description");
    int rc = check_desc(desc, err);
    if (rc != NR_OK)
        return rc;

    pthread_mutex_lock(&reg->lock);
    const nr__metric_family *old = find_family(reg, desc->name, strlen(desc->name), "");
    if (old) {
        const char *diff = family_difference(old, desc);
        pthread_mutex_unlock(&reg->lock);
        if (!diff)
            return NR_OK;
        return nr_error_set(err, NR_EEXIST, NULL,
                            "metrics: family %s is already registered with other %s (as a %s "
                            "with %zu label names and %zu buckets)",
                            desc->name, diff, type_name(old->type), old->label_count,
                            old->bucket_count);
    }
    rc = check_collisions(reg, desc, err);
    if (rc == NR_OK && table_reserve_one(&reg->families) != 0)
        rc = nr_error_set(err, NR_ENOMEM, NULL, "metrics: out of memory registering family %s",
                          desc->name);
    nr__metric_family *f = NULL;
    if (rc == NR_OK) {
        f = family_new(desc, fnv(FNV_BASIS, desc->name, strlen(desc->name)));
        if (!f)
            rc = nr_error_set(err, NR_ENOMEM, NULL, "metrics: out of memory registering family %s",
                              desc->name);
    }
    if (rc == NR_OK) {
        table_insert(&reg->families, &f->node);
        if (reg->last)
            reg->last->next = f;
        else
            reg->first = f;
        reg->last = f;
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

/* ---- series ------------------------------------------------------------------ */

/* One block: the series, for a histogram its sum and counts, then the label
 * values. */
static nr__metric_series *series_new(nr__metric_family *f, const char *const *values, uint64_t hash)
{
    size_t extra = 0;
    if (f->type == NR_METRIC_HISTOGRAM)
        extra = (f->bucket_count + 2) * sizeof(_Atomic uint64_t); /* sum, then the counts */
    size_t size = sizeof(nr__metric_series) + extra;
    for (size_t i = 0; i < f->label_count; i++)
        size += strlen(values[i]) + 1;
    nr__metric_series *s = nr_malloc(size);
    if (!s)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->node.hash = hash;
    s->family = f;
    switch (f->type) {
    case NR_METRIC_COUNTER:
        atomic_init(&s->m.counter.value, 0);
        break;
    case NR_METRIC_GAUGE:
        atomic_init(&s->m.gauge.bits, nr__metrics_double_to_bits(0.0));
        break;
    case NR_METRIC_HISTOGRAM: {
        _Atomic uint64_t *slots = (_Atomic uint64_t *)(s + 1);
        s->m.histogram.bounds = f->bounds;
        s->m.histogram.bucket_count = f->bucket_count;
        s->m.histogram.sum = slots;
        s->m.histogram.counts = slots + 1;
        atomic_init(&slots[0], nr__metrics_double_to_bits(0.0));
        for (size_t i = 0; i <= f->bucket_count; i++)
            atomic_init(&slots[1 + i], 0);
        break;
    }
    }
    char *text = (char *)(s + 1) + extra;
    for (size_t i = 0; i < f->label_count; i++) {
        size_t l = strlen(values[i]) + 1;
        memcpy(text, values[i], l);
        s->values[i] = text;
        text += l;
    }
    return s;
}

static bool same_values(const nr__metric_series *s, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i]) != 0)
            return false;
    return true;
}

/* Find or create the series; lock held. */
static int series_locked(nr_metrics *reg, const char *family, const char *const *labels,
                         size_t label_count, nr_metric_type want, nr__metric_series **out,
                         nr_error *err)
{
    nr__metric_family *f = find_family(reg, family, strlen(family), "");
    if (!f)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "metrics: no family named %s", family);
    if (f->type != want)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: family %s is a %s, not a %s", f->name,
                            type_name(f->type), type_name(want));
    if (label_count != f->label_count)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "metrics: family %s takes %zu label values, not %zu", f->name,
                            f->label_count, label_count);
    if (label_count > 0 && !labels)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "metrics: family %s: labels is NULL but label_count is %zu", f->name,
                            label_count);
    for (size_t i = 0; i < label_count; i++) {
        if (!labels[i])
            return nr_error_set(err, NR_EINVAL, NULL,
                                "metrics: family %s: the value of label %s is NULL", f->name,
                                f->labels[i]);
        if (!valid_utf8(labels[i]))
            return nr_error_set(err, NR_EINVAL, NULL,
                                "metrics: family %s: the value of label %s is not valid UTF-8",
                                f->name, f->labels[i]);
    }
    uint64_t h = series_hash(f, labels, label_count);
    for (nr__metric_node *n = table_chain(&reg->series, h); n; n = n->hnext) {
        nr__metric_series *s = (nr__metric_series *)n;
        if (n->hash == h && s->family == f && same_values(s, labels, label_count)) {
            *out = s;
            return NR_OK;
        }
    }
    nr__metric_series *s = NULL;
    if (table_reserve_one(&reg->series) != 0 || !(s = series_new(f, labels, h)))
        return nr_error_set(err, NR_ENOMEM, NULL, "metrics: out of memory for a series of %s",
                            f->name);
    table_insert(&reg->series, &s->node);
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    *out = s;
    return NR_OK;
}

static int series_get(nr_metrics *reg, const char *family, const char *const *labels,
                      size_t label_count, nr_metric_type want, void **out, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no output pointer");
    *out = NULL;
    if (!reg)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no registry");
    if (!family)
        return nr_error_set(err, NR_EINVAL, NULL, "metrics: no family name");
    nr__metric_series *s = NULL;
    pthread_mutex_lock(&reg->lock);
    int rc = series_locked(reg, family, labels, label_count, want, &s, err);
    pthread_mutex_unlock(&reg->lock);
    if (rc != NR_OK)
        return rc;
    switch (want) {
    case NR_METRIC_COUNTER:
        *out = &s->m.counter;
        break;
    case NR_METRIC_GAUGE:
        *out = &s->m.gauge;
        break;
    case NR_METRIC_HISTOGRAM:
        *out = &s->m.histogram;
        break;
    }
    return NR_OK;
}

/* Unlink n from the table (it is in it). */
static void table_remove(nr__metric_table *t, nr__metric_node *n)
{
    for (nr__metric_node **at = &t->buckets[n->hash & (t->cap - 1)]; *at; at = &(*at)->hnext) {
        if (*at == n) {
            *at = n->hnext;
            t->count--;
            return;
        }
    }
}

int nr_metrics_remove_series(nr_metrics *reg, const char *family, const char *label,
                             const char *value, size_t *removed, nr_error *err)
{
    const char *labels[] = {label}, *values[] = {value};
    return nr_metrics_remove_series_where(reg, family, labels, values, 1, removed, err);
}

#define REMOVE_WHERE_MAX 8 /* labels one removal may match */

int nr_metrics_remove_series_where(nr_metrics *reg, const char *family, const char *const *labels,
                                   const char *const *values, size_t n, size_t *removed,
                                   nr_error *err)
{
    if (removed)
        *removed = 0;
    if (!reg || !family || !labels || !values || n == 0)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_metrics_remove_series: arguments must not be NULL");
    if (n > REMOVE_WHERE_MAX)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_metrics_remove_series_where: %zu labels; at most %d", n,
                            REMOVE_WHERE_MAX);
    for (size_t k = 0; k < n; k++)
        if (!labels[k] || !values[k])
            return nr_error_set(err, NR_EINVAL, NULL,
                                "nr_metrics_remove_series: arguments must not be NULL");
    pthread_mutex_lock(&reg->lock);
    nr__metric_family *f = find_family(reg, family, strlen(family), "");
    if (!f) {
        pthread_mutex_unlock(&reg->lock);
        return nr_error_set(err, NR_ENOTFOUND, NULL, "metrics: no family named %s", family);
    }
    size_t li[REMOVE_WHERE_MAX];
    for (size_t k = 0; k < n; k++) {
        li[k] = f->label_count;
        for (size_t i = 0; i < f->label_count; i++)
            if (strcmp(f->labels[i], labels[k]) == 0)
                li[k] = i;
        if (li[k] == f->label_count) {
            pthread_mutex_unlock(&reg->lock);
            return nr_error_set(err, NR_ENOTFOUND, NULL, "metrics: family %s has no label %s",
                                family, labels[k]);
        }
    }
    size_t count = 0;
    nr__metric_series *prev = NULL;
    for (nr__metric_series *s = f->first, *next; s; s = next) {
        next = s->next;
        size_t k = 0;
        while (k < n && strcmp(s->values[li[k]], values[k]) == 0)
            k++;
        if (k < n) {
            prev = s;
            continue;
        }
        if (prev)
            prev->next = next;
        else
            f->first = next;
        if (f->last == s)
            f->last = prev;
        table_remove(&reg->series, &s->node);
        nr_free(s);
        count++;
    }
    pthread_mutex_unlock(&reg->lock);
    if (removed)
        *removed = count;
    return NR_OK;
}

int nr_metrics_counter(nr_metrics *reg, const char *family, const char *const *labels,
                       size_t label_count, nr_counter **out, nr_error *err)
{
    void *h = NULL;
    int rc = series_get(reg, family, labels, label_count, NR_METRIC_COUNTER, out ? &h : NULL, err);
    if (out)
        *out = h;
    return rc;
}

int nr_metrics_gauge(nr_metrics *reg, const char *family, const char *const *labels,
                     size_t label_count, nr_gauge **out, nr_error *err)
{
    void *h = NULL;
    int rc = series_get(reg, family, labels, label_count, NR_METRIC_GAUGE, out ? &h : NULL, err);
    if (out)
        *out = h;
    return rc;
}

int nr_metrics_histogram(nr_metrics *reg, const char *family, const char *const *labels,
                         size_t label_count, nr_histogram **out, nr_error *err)
{
    void *h = NULL;
    int rc =
        series_get(reg, family, labels, label_count, NR_METRIC_HISTOGRAM, out ? &h : NULL, err);
    if (out)
        *out = h;
    return rc;
}

/* ---- handles ------------------------------------------------------------------ */

void nr_counter_add(nr_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed); /* relaxed: a count */
}

void nr_counter_set(nr_counter *c, uint64_t v)
{
    if (c)
        atomic_store_explicit(&c->value, v, memory_order_relaxed); /* relaxed: a count */
}

uint64_t nr_counter_value(const nr_counter *c)
{
    /* relaxed: a count, publishing nothing else */
    return c ? atomic_load_explicit(&c->value, memory_order_relaxed) : 0;
}

void nr_gauge_set(nr_gauge *g, double v)
{
    if (g) /* relaxed: an independent value */
        atomic_store_explicit(&g->bits, nr__metrics_double_to_bits(v), memory_order_relaxed);
}

/* Add d to the double whose bits are at *bits (relaxed CAS loop: the value
 * publishes nothing else; the CAS makes every addition count once). */
static void add_double(_Atomic uint64_t *bits, double d)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        bits, &old, nr__metrics_double_to_bits(nr__metrics_bits_to_double(old) + d),
        memory_order_relaxed, memory_order_relaxed)) {
    }
}

void nr_gauge_add(nr_gauge *g, double d)
{
    if (g)
        add_double(&g->bits, d);
}

double nr_gauge_value(const nr_gauge *g)
{
    if (!g)
        return 0.0;
    /* relaxed: an independent value */
    return nr__metrics_bits_to_double(atomic_load_explicit(&g->bits, memory_order_relaxed));
}

void nr_histogram_observe(nr_histogram *h, double value)
{
    if (!h || isnan(value))
        return;
    /* The first bound >= value; bucket_count (the +Inf bucket) when none is. */
    size_t lo = 0, hi = h->bucket_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (value <= h->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed); /* relaxed: a count */
    add_double(h->sum, value);
}

void nr__histogram_read(const struct nr_histogram *h, nr_histogram_values *out)
{
    out->bucket_count = h->bucket_count;
    out->count = 0;
    for (size_t i = 0; i < h->bucket_count; i++)
        out->bounds[i] = h->bounds[i];
    for (size_t i = 0; i <= h->bucket_count; i++) {
        /* relaxed: counts publish nothing else; count is their sum, so the two agree */
        out->counts[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        out->count += out->counts[i];
    }
    /* relaxed: the sum may lead or lag an observation in flight (documented) */
    out->sum = nr__metrics_bits_to_double(atomic_load_explicit(h->sum, memory_order_relaxed));
}

void nr_histogram_snapshot(const nr_histogram *h, nr_histogram_values *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (h)
        nr__histogram_read(h, out);
}

#endif /* NR_HAVE_METRICS */
