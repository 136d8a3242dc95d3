/* metrics_off.c - the metrics API when the build leaves metrics out
 * (NR_WITH_METRICS=OFF): create says so, everything else is a no-op. */
#define _POSIX_C_SOURCE 200809L
#include "nebula/metrics.h"

#ifndef NR_HAVE_METRICS

#include <string.h>

#define NOT_BUILT "metrics were not built (configure with -DNR_WITH_METRICS=ON)"

int nr_metrics_create(nr_metrics **out, nr_error *err)
{
    if (out)
        *out = NULL;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

void nr_metrics_destroy(nr_metrics *reg)
{
    (void)reg;
}

int nr_metrics_register(nr_metrics *reg, const nr_metric_desc *desc, nr_error *err)
{
    (void)reg;
    (void)desc;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

int nr_metrics_counter(nr_metrics *reg, const char *family, const char *const *labels,
                       size_t label_count, nr_counter **out, nr_error *err)
{
    (void)reg;
    (void)family;
    (void)labels;
    (void)label_count;
    if (out)
        *out = NULL;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

int nr_metrics_gauge(nr_metrics *reg, const char *family, const char *const *labels,
                     size_t label_count, nr_gauge **out, nr_error *err)
{
    (void)reg;
    (void)family;
    (void)labels;
    (void)label_count;
    if (out)
        *out = NULL;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

int nr_metrics_histogram(nr_metrics *reg, const char *family, const char *const *labels,
                         size_t label_count, nr_histogram **out, nr_error *err)
{
    (void)reg;
    (void)family;
    (void)labels;
    (void)label_count;
    if (out)
        *out = NULL;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

void nr_counter_add(nr_counter *c, uint64_t n)
{
    (void)c;
    (void)n;
}

void nr_counter_set(nr_counter *c, uint64_t v)
{
    (void)c;
    (void)v;
}

uint64_t nr_counter_value(const nr_counter *c)
{
    (void)c;
    return 0;
}

void nr_gauge_set(nr_gauge *g, double v)
{
    (void)g;
    (void)v;
}

void nr_gauge_add(nr_gauge *g, double d)
{
    (void)g;
    (void)d;
}

double nr_gauge_value(const nr_gauge *g)
{
    (void)g;
    return 0.0;
}

void nr_histogram_observe(nr_histogram *h, double value)
{
    (void)h;
    (void)value;
}

void nr_histogram_snapshot(const nr_histogram *h, nr_histogram_values *out)
{
    (void)h;
    if (out)
        memset(out, 0, sizeof(*out));
}

int nr_metrics_add_collector(nr_metrics *reg, nr_metrics_collect_fn fn, void *ud, nr_error *err)
{
    (void)reg;
    (void)fn;
    (void)ud;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

int nr_metrics_remove_collector(nr_metrics *reg, nr_metrics_collect_fn fn, void *ud, nr_error *err)
{
    (void)reg;
    (void)fn;
    (void)ud;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

int nr_metrics_format(nr_metrics *reg, char **out, size_t *len, nr_error *err)
{
    (void)reg;
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

int nr_metrics_write(nr_metrics *reg, FILE *f, nr_error *err)
{
    (void)reg;
    (void)f;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

int nr_metrics_remove_series_where(nr_metrics *reg, const char *family, const char *const *labels,
                                   const char *const *values, size_t n, size_t *removed,
                                   nr_error *err)
{
    (void)reg;
    (void)family;
    (void)labels;
    (void)values;
    (void)n;
    if (removed)
        *removed = 0;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

int nr_metrics_remove_series(nr_metrics *reg, const char *family, const char *label,
                             const char *value, size_t *removed, nr_error *err)
{
    (void)reg;
    (void)family;
    (void)label;
    (void)value;
    if (removed)
        *removed = 0;
    return nr_error_set(err, NR_EINVAL, NULL, "metrics: " NOT_BUILT);
}

#endif /* !NR_HAVE_METRICS */
