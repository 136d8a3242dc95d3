/*
 * builtin_slow.c - the slow-acquire hook: an acquire that waited past a
 * threshold is reported as an event, a trace line and a counter
 * (nebula/hooks_builtin.h).
 *
 * The after callback runs on the acquiring thread with no lock held, so it
 * may read the pool's statistics (nr_pool_stats_get) for the state the
 * report names. Below the threshold it costs a compare.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/abi.h"
#include "nebula/alloc.h"
#include "nebula/hooks_builtin.h"
#include "nebula/pool.h"
#include "nebula/trace.h"

#define SLOW_DEFAULT_MS 100
#define SLOW_MAX_MS     86400000LL
#define SLOW_FAMILY     "nr_slow_acquires_total"

struct nr_slow_acquire {
    int64_t threshold_ns;
    nr_event_bus *events; /* borrowed, may be NULL */
    nr_metrics *metrics;  /* borrowed, may be NULL */
    /* relaxed: a statistic, read after the fact. */
    atomic_uint_fast64_t reported;
};

void nr_slow_acquire_options_default(nr_slow_acquire_options *o)
{
    if (!o)
        return;
    nr_slow_acquire_options d = NR_SLOW_ACQUIRE_OPTIONS(.threshold_ms = SLOW_DEFAULT_MS);
    nr__abi_default(o, &d, sizeof(d));
}

/* The site's file name without its directories. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* "waited 812 ms; 4 of 4 in use, 3 waiting; at handler.c:88 (serve)" */
static void describe(const nr_hook_call *call, const nr_pool_stats *st, char *buf, size_t len)
{
    size_t n =
        (size_t)snprintf(buf, len, "waited %lld ms", (long long)(call->wait_ns / NR_NS_PER_MS));
    if (st && n < len)
        n += (size_t)snprintf(buf + n, len - n, "; %u of %u in use, %u waiting", st->in_use,
                              st->max_size, st->waiters);
    if (call->site_file && n < len) {
        n += (size_t)snprintf(buf + n, len - n, "; at %s:%d", base_name(call->site_file),
                              call->site_line);
        if (call->site_func && n < len)
            (void)snprintf(buf + n, len - n, " (%s)", call->site_func);
    }
}

static void publish(nr_slow_acquire *s, const nr_hook_call *call, const nr_scope *scope,
                    const nr_pool_stats *st, const char *text)
{
    if (!s->events || !nr_event_bus_wanted(s->events))
        return;
    nr_event ev;
    nr_event_init(&ev, NR_EV_SLOW_ACQUIRE, call->resource_id);
    nr_event_set_scope(&ev, scope);
    ev.instance_id = call->instance_id;
    ev.wait_ns = call->wait_ns;
    ev.count = st ? (int64_t)st->waiters : 0;
    ev.error_code = call->rc;
    nr_event_set_text(&ev, text);
    nr_event_publish(s->events, &ev);
}

static void trace(const nr_hook_call *call, const nr_scope *scope, const nr_pool_stats *st,
                  const char *text)
{
    char scope_text[NR_SCOPE_TEXT_MAX];
    if (scope)
        (void)nr_scope_format(scope, scope_text, sizeof scope_text);
    nr_trace_record r = {
        .level = NR_TRACE_LEVEL_WARN,
        .op = "slow_acquire",
        .message = text,
        .resource_id = call->resource_id,
        .scope = scope ? scope_text : NULL,
        .duration_ns = -1,
        .stats = st,
        .code = call->rc,
    };
    nr_trace_emit(&r);
}

static void count(nr_slow_acquire *s, const nr_hook_call *call)
{
    if (!s->metrics)
        return;
    const char *labels[1] = {call->resource_id ? call->resource_id : ""};
    nr_counter *c = NULL;
    /* A look-up per slow acquire only: rare by definition. */
    if (nr_metrics_counter(s->metrics, SLOW_FAMILY, labels, 1, &c, NULL) == NR_OK)
        nr_counter_add(c, 1);
}

static int slow_after(void *ud, const nr_hook_call *call, nr_error *err)
{
    (void)err;
    nr_slow_acquire *s = ud;
    if (call->op != NR_HOOK_ACQUIRE || call->wait_ns <= s->threshold_ns)
        return NR_OK;
    nr_pool_stats st = NR_POOL_STATS_INIT;
    if (call->pool)
        nr_pool_stats_get(call->pool, &st); /* no lock is held during hooks */
    const nr_pool_stats *stp = call->pool ? &st : NULL;
    const nr_scope *scope = call->caller_scope ? call->caller_scope : call->scope;
    char text[NR_EVENT_TEXT_MAX * 2];
    describe(call, stp, text, sizeof text);
    atomic_fetch_add_explicit(&s->reported, 1, memory_order_relaxed);
    publish(s, call, scope, stp, text);
    trace(call, scope, stp, text);
    count(s, call);
    return NR_OK;
}

int nr_slow_acquire_create(nr_slow_acquire **out, const nr_slow_acquire_options *opts,
                           nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "slow acquire: out is NULL");
    *out = NULL;
    nr_slow_acquire_options o = NR_SLOW_ACQUIRE_OPTIONS_INIT;
    nr_slow_acquire_options_default(&o);
    if (opts) {
        int rc = NR__ABI_IN(&o, opts, nr_slow_acquire_options, NR_SLOW_ACQUIRE_OPTIONS_INIT, err);
        if (rc != NR_OK)
            return rc;
    }
    if (o.threshold_ms < 1 || o.threshold_ms > SLOW_MAX_MS)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "slow acquire: threshold_ms must be in 1..%lld (got %lld)",
                            (long long)SLOW_MAX_MS, (long long)o.threshold_ms);
    if (o.metrics) {
        static const char *const labels[] = {"resource"};
        nr_metric_desc d = {
            .name = SLOW_FAMILY,
            .help = "Acquires that waited longer than the slow-acquire threshold",
            .type = NR_METRIC_COUNTER,
            .label_names = labels,
            .label_count = 1,
        };
        int rc = nr_metrics_register(o.metrics, &d, err);
        if (rc != NR_OK)
            return rc;
    }
    nr_slow_acquire *s = nr_calloc(1, sizeof(*s));
    if (!s)
        return nr_error_set(err, NR_ENOMEM, NULL, "slow acquire: out of memory");
    s->threshold_ns = o.threshold_ms * NR_NS_PER_MS;
    s->events = o.events;
    s->metrics = o.metrics;
    atomic_init(&s->reported, 0);
    *out = s;
    return NR_OK;
}

void nr_slow_acquire_hook(nr_slow_acquire *s, nr_hook_def *def)
{
    if (!def)
        return;
    nr_hook_def d = NR_HOOK_DEF(.name = "slow-acquire", .ops = NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE),
                                .after = slow_after, .ud = s);
    nr__abi_default(def, &d, sizeof(d));
}

uint64_t nr_slow_acquire_count(nr_slow_acquire *s)
{
    return s ? (uint64_t)atomic_load_explicit(&s->reported, memory_order_relaxed) : 0;
}

void nr_slow_acquire_destroy(nr_slow_acquire *s)
{
    nr_free(s);
}
