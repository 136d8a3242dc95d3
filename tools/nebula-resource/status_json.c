/*
 * status_json.c - the /status document, readiness, and the ring of recent
 * events behind them. See status.h.
 */
#define _DEFAULT_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/version.h"
#include "status.h"

const char *cli_phase_name(cli_phase p)
{
    switch (p) {
    case CLI_PHASE_STARTING:
        return "starting";
    case CLI_PHASE_RUNNING:
        return "running";
    case CLI_PHASE_SHUTTING_DOWN:
        return "shutting_down";
    case CLI_PHASE_STOPPED:
        return "stopped";
    }
    return "unknown";
}

/* ---- event ring -------------------------------------------------------------- */

static void *ring_main(void *arg)
{
    cli_event_ring *ring = arg;
    while (!atomic_load(&ring->stop)) {
        nr_event ev;
        uint64_t missed = 0;
        int rc = nr_event_next(ring->sub, &ev, &missed, nr_deadline_in_ms(100));
        pthread_mutex_lock(&ring->mu);
        ring->missed += missed;
        if (rc == NR_OK) {
            if ((unsigned)ev.type < sizeof(ring->per_type) / sizeof(ring->per_type[0]))
                ring->per_type[ev.type]++;
            if (ev.type != NR_EV_ACQUIRED && ev.type != NR_EV_RELEASED) {
                ring->events[ring->next] = ev;
                ring->next = (ring->next + 1) % CLI_RING_EVENTS;
                if (ring->count < CLI_RING_EVENTS)
                    ring->count++;
            }
        }
        pthread_mutex_unlock(&ring->mu);
    }
    return NULL;
}

int cli_event_ring_start(cli_event_ring *ring, nr_event_bus *bus, nr_error *err)
{
    memset(ring, 0, sizeof(*ring));
    pthread_mutex_init(&ring->mu, NULL);
    atomic_init(&ring->stop, false);
    int rc = nr_event_subscribe(bus, &ring->sub, err);
    if (rc != NR_OK)
        return rc;
    if (pthread_create(&ring->thread, NULL, ring_main, ring) != 0) {
        nr_event_unsubscribe(ring->sub);
        ring->sub = NULL;
        return nr_error_set(err, NR_EINIT, NULL, "event ring: cannot start its thread");
    }
    ring->running = true;
    return NR_OK;
}

void cli_event_ring_stop(cli_event_ring *ring)
{
    if (ring->running) {
        atomic_store(&ring->stop, true);
        pthread_join(ring->thread, NULL);
        ring->running = false;
    }
    nr_event_unsubscribe(ring->sub);
    ring->sub = NULL;
    pthread_mutex_destroy(&ring->mu);
}

/* ---- status -------------------------------------------------------------------- */

void cli_status_init(cli_status *st, const char *mode, nr_manager *m, nr_metrics *metrics,
                     cli_event_ring *events, const cli_status_res *res, size_t nres)
{
    memset(st, 0, sizeof(*st));
    st->mode = mode;
    st->m = m;
    st->metrics = metrics;
    st->events = events;
    st->res = res;
    st->nres = nres;
    st->started_ns = nr_now_ns();
    atomic_init(&st->phase, CLI_PHASE_STARTING);
    pthread_mutex_init(&st->mu, NULL);
}

void cli_status_destroy(cli_status *st)
{
    pthread_mutex_destroy(&st->mu);
}

void cli_status_set_phase(cli_status *st, cli_phase p)
{
    atomic_store(&st->phase, (int)p);
}

void cli_status_set_note(cli_status *st, const char *note)
{
    pthread_mutex_lock(&st->mu);
    snprintf(st->note, sizeof(st->note), "%s", note ? note : "");
    pthread_mutex_unlock(&st->mu);
}

bool cli_status_ready(cli_status *st, char *why, size_t len)
{
    cli_phase p = (cli_phase)atomic_load(&st->phase);
    if (p != CLI_PHASE_RUNNING) {
        snprintf(why, len, "%s", p == CLI_PHASE_STARTING ? "starting" : "shutting down");
        return false;
    }
    for (size_t i = 0; i < st->nres; i++) {
        nr_resource_info ri;
        if (nr_manager_resource_info(st->m, st->res[i].id, &ri, NULL) != NR_OK) {
            snprintf(why, len, "resource '%s' is not registered", st->res[i].id);
            return false;
        }
        if (ri.state != NR_RS_RUNNING) {
            snprintf(why, len, "resource '%s' is %s", ri.id, nr_resource_state_name(ri.state));
            return false;
        }
        if (ri.health != NR_HEALTH_HEALTHY) {
            snprintf(why, len, "resource '%s' is %s%s%s", ri.id, nr_health_name(ri.health),
                     ri.health_reason[0] ? ": " : "", ri.health_reason);
            return false;
        }
    }
    snprintf(why, len, "all %zu resources running and healthy", st->nres);
    return true;
}

static int level_of(const cli_status *st, size_t i, int depth)
{
    int level = 0;
    if (depth > (int)st->nres)
        return 0; /* not reached: the graph was checked to have no cycle */
    for (size_t k = 0; k < st->res[i].ndeps; k++)
        for (size_t j = 0; j < st->nres; j++)
            if (strcmp(st->res[j].id, st->res[i].deps[k]) == 0) {
                int l = level_of(st, j, depth + 1) + 1;
                if (l > level)
                    level = l;
            }
    return level;
}

static json_t *pool_json(const nr_pool_stats *s)
{
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
        "s:I,s:I,s:I,s:f,s:f}",
        "total", (json_int_t)s->total, "idle", (json_int_t)s->idle, "in_use", (json_int_t)s->in_use,
        "creating", (json_int_t)s->creating, "waiters", (json_int_t)s->waiters, "max_size",
        (json_int_t)s->max_size, "min_idle", (json_int_t)s->min_idle, "closed", s->closed,
        "acquires", (json_int_t)s->acquires, "releases", (json_int_t)s->releases, "timeouts",
        (json_int_t)s->timeouts, "exhausted", (json_int_t)s->exhausted, "creates",
        (json_int_t)s->creates, "create_failures", (json_int_t)s->create_failures, "destroys",
        (json_int_t)s->destroys, "taints", (json_int_t)s->taints, "evicted_idle",
        (json_int_t)s->evicted_idle, "evicted_lifetime", (json_int_t)s->evicted_lifetime,
        "health_discards", (json_int_t)s->health_discards, "handoffs", (json_int_t)s->handoffs,
        "waits", (json_int_t)s->waits, "wait_ms_max", (double)s->wait_ns_max / 1e6,
        "oldest_lease_ms", (double)s->oldest_lease_ns / 1e6);
    if (!o)
        return NULL;
    /* creation, the breaker and the controls */
    json_t *c = json_pack(
        "{s:I,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "max_connecting",
        (json_int_t)s->max_connecting, "breaker_open", s->breaker_open, "suspended", s->suspended,
        "consecutive_failures", (json_int_t)s->consecutive_failures, "breaker_opens",
        (json_int_t)s->breaker_opens, "detached", (json_int_t)s->detached, "evicted_generation",
        (json_int_t)s->evicted_generation, "evicted_resize", (json_int_t)s->evicted_resize, "leaks",
        (json_int_t)s->leaks, "leaks_open", (json_int_t)s->leaks_open);
    if (!c || json_object_update(o, c) != 0) {
        json_decref(c);
        json_decref(o);
        return NULL;
    }
    json_decref(c);
    return o;
}

static json_t *resource_json(cli_status *st, size_t i)
{
    const cli_status_res *r = &st->res[i];
    nr_resource_info ri;
    memset(&ri, 0, sizeof(ri));
    bool known = nr_manager_resource_info(st->m, r->id, &ri, NULL) == NR_OK;
    json_t *deps = json_array();
    for (size_t k = 0; deps && k < r->ndeps; k++)
        json_array_append_new(deps, json_string(r->deps[k]));
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:i,s:o,s:o*}", "id", r->id, "driver", r->driver, "state",
        known ? nr_resource_state_name(ri.state) : "unregistered", "health",
        known ? nr_health_name(ri.health) : "unknown", "health_reason",
        known ? ri.health_reason : "", "level", level_of(st, i, 0), "scope",
        r->scope ? r->scope : "global", "partition", r->tenant_partition ? "tenant" : "none",
        "pools", known ? (int)ri.pools : 0, "depends_on", deps ? deps : json_array(), "pool",
        known ? pool_json(&ri.stats) : NULL);
    if (o && known && ri.last_error.code != NR_OK) {
        json_object_set_new(o, "last_error",
                            json_pack("{s:s,s:s}", "code", nr_err_name(ri.last_error.code),
                                      "message", ri.last_error.message));
    }
    return o;
}

static json_t *events_json(cli_status *st)
{
    cli_event_ring *ring = st->events;
    json_t *recent = json_array(), *counts = json_object();
    uint64_t missed = 0;
    if (ring && recent && counts) {
        pthread_mutex_lock(&ring->mu);
        missed = ring->missed;
        for (unsigned t = 1; t < sizeof(ring->per_type) / sizeof(ring->per_type[0]); t++)
            if (ring->per_type[t])
                json_object_set_new(counts, nr_event_type_name((nr_event_type)t),
                                    json_integer((json_int_t)ring->per_type[t]));
        for (size_t k = 0; k < ring->count; k++) {
            /* newest first */
            const nr_event *e =
                &ring->events[(ring->next + CLI_RING_EVENTS - 1 - k) % CLI_RING_EVENTS];
            json_t *o = json_pack("{s:I,s:f,s:s,s:s,s:s,s:s}", "seq", (json_int_t)e->seq, "t_s",
                                  (double)(e->ts_ns - st->started_ns) / 1e9, "type",
                                  nr_event_type_name(e->type), "resource", e->resource_id, "scope",
                                  e->scope, "text", e->text);
            if (!o)
                continue;
            if (e->instance_id)
                json_object_set_new(o, "instance", json_integer((json_int_t)e->instance_id));
            if (e->type == NR_EV_HEALTH_CHANGED) {
                json_object_set_new(o, "from", json_string(nr_health_name(e->health_old)));
                json_object_set_new(o, "to", json_string(nr_health_name(e->health_new)));
            }
            if (e->error_code)
                json_object_set_new(o, "error", json_string(nr_err_name(e->error_code)));
            if (e->count)
                json_object_set_new(o, "count", json_integer((json_int_t)e->count));
            json_array_append_new(recent, o);
        }
        pthread_mutex_unlock(&ring->mu);
    }
    return json_pack("{s:o*,s:o*,s:I}", "counts", counts, "recent", recent, "missed",
                     (json_int_t)missed);
}

char *cli_status_json(cli_status *st)
{
    char why[256];
    bool ready = cli_status_ready(st, why, sizeof(why));
    char note[sizeof(st->note)];
    pthread_mutex_lock(&st->mu);
    memcpy(note, st->note, sizeof(note));
    pthread_mutex_unlock(&st->mu);
    json_t *res = json_array(), *edges = json_array();
    for (size_t i = 0; res && edges && i < st->nres; i++) {
        json_t *r = resource_json(st, i);
        if (r)
            json_array_append_new(res, r);
        for (size_t k = 0; k < st->res[i].ndeps; k++)
            json_array_append_new(
                edges, json_pack("{s:s,s:s}", "from", st->res[i].id, "to", st->res[i].deps[k]));
    }
    json_t *root = json_pack(
        "{s:s,s:s,s:s,s:f,s:s,s:b,s:s,s:s,s:o*,s:o*,s:o*}", "program", "nebula-resource", "version",
        nr_version(), "mode", st->mode, "uptime_s", (double)(nr_now_ns() - st->started_ns) / 1e9,
        "phase", cli_phase_name((cli_phase)atomic_load(&st->phase)), "ready", ready, "reason", why,
        "note", note, "resources", res, "edges", edges, "events", events_json(st));
    if (!root)
        return NULL;
    if (st->extra)
        st->extra(st->extra_ud, root);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}
