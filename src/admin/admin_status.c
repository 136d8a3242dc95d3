/*
 * admin_status.c - the resources as the manager describes them, readiness,
 * and the /status document (its fields are in docs/admin.md).
 */
#define _DEFAULT_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_internal.h"
#include "nebula/version.h"

/* ---- the snapshot ---------------------------------------------------------------- */

/* Copies d; 1 when memory ran out. */
static int add_res(void *ud, const nr_resource_desc *d)
{
    admin_snapshot *s = ud;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        admin_res *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return 1;
        s->v = v;
        s->cap = cap;
    }
    admin_res *r = &s->v[s->n];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", d->id);
    snprintf(r->type, sizeof(r->type), "%s", d->type);
    snprintf(r->scope, sizeof(r->scope), "%s", d->scope_text);
    r->partition = d->partition;
    s->n++; /* from here on admin_snapshot_free frees what r holds */
    if (d->ndeps) {
        r->deps = calloc(d->ndeps, sizeof(*r->deps));
        if (!r->deps)
            return 1;
        for (size_t k = 0; k < d->ndeps; k++) {
            if (!(r->deps[k] = strdup(d->deps[k])))
                return 1;
            r->ndeps = k + 1;
        }
    }
    return 0;
}

static int level_of(const admin_snapshot *s, size_t i, size_t depth)
{
    int level = 0;
    if (depth > s->n)
        return 0; /* a cycle: the manager refuses to start one, so only while registering */
    for (size_t k = 0; k < s->v[i].ndeps; k++)
        for (size_t j = 0; j < s->n; j++)
            if (strcmp(s->v[j].id, s->v[i].deps[k]) == 0) {
                int l = level_of(s, j, depth + 1) + 1;
                if (l > level)
                    level = l;
            }
    return level;
}

int admin_snapshot_take(nr_admin *a, admin_snapshot *s, nr_error *err)
{
    memset(s, 0, sizeof(*s));
    int rc = nr_manager_each_resource(a->m, add_res, s, err);
    if (rc == 1) /* add_res ran out of memory */
        rc = nr_error_set(err, NR_ENOMEM, NULL, "admin: out of memory");
    if (rc != NR_OK) {
        admin_snapshot_free(s);
        return rc;
    }
    for (size_t i = 0; i < s->n; i++)
        s->v[i].level = level_of(s, i, 0);
    /* start order: by level, then registration order (a stable insertion sort) */
    for (size_t i = 1; i < s->n; i++) {
        admin_res r = s->v[i];
        size_t j = i;
        for (; j > 0 && s->v[j - 1].level > r.level; j--)
            s->v[j] = s->v[j - 1];
        s->v[j] = r;
    }
    return NR_OK;
}

void admin_snapshot_free(admin_snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = 0; k < s->v[i].ndeps; k++)
            free(s->v[i].deps[k]);
        free(s->v[i].deps);
    }
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* ---- readiness ---------------------------------------------------------------------- */

static bool ready_of(nr_admin *a, const admin_snapshot *s, char *why, size_t len)
{
    nr_admin_phase p = (nr_admin_phase)atomic_load(&a->phase);
    if (p != NR_ADMIN_RUNNING) {
        snprintf(why, len, "%s", p == NR_ADMIN_STARTING ? "starting" : "shutting down");
        return false;
    }
    for (size_t i = 0; i < s->n; i++) {
        nr_resource_info ri = NR_RESOURCE_INFO_INIT;
        if (nr_manager_resource_info(a->m, s->v[i].id, &ri, NULL) != NR_OK)
            continue; /* unregistered since the snapshot */
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
    snprintf(why, len, "all %zu resource%s running and healthy", s->n, s->n == 1 ? "" : "s");
    return true;
}

bool admin_ready(nr_admin *a, char *why, size_t len)
{
    admin_snapshot s;
    nr_error err = {0};
    if (admin_snapshot_take(a, &s, &err) != NR_OK) {
        snprintf(why, len, "cannot list the resources: %s", err.message);
        return false;
    }
    bool ok = ready_of(a, &s, why, len);
    admin_snapshot_free(&s);
    return ok;
}

/* ---- the document --------------------------------------------------------------------- */

json_t *admin_pool_json(const nr_pool_stats *s)
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
        "{s:I,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}", "max_connecting",
        (json_int_t)s->max_connecting, "breaker_open", s->breaker_open, "suspended", s->suspended,
        "consecutive_failures", (json_int_t)s->consecutive_failures, "breaker_opens",
        (json_int_t)s->breaker_opens, "detached", (json_int_t)s->detached, "evicted_generation",
        (json_int_t)s->evicted_generation, "evicted_resize", (json_int_t)s->evicted_resize, "leaks",
        (json_int_t)s->leaks, "leaks_open", (json_int_t)s->leaks_open, "wait_ms_total",
        (double)s->wait_ns_total / 1e6);
    if (!c || json_object_update(o, c) != 0) {
        json_decref(c);
        json_decref(o);
        return NULL;
    }
    json_decref(c);
    /* degraded and quarantined instances (docs/health.md) */
    json_t *h =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "degraded_idle", (json_int_t)s->degraded_idle,
                  "quarantined", (json_int_t)s->quarantined, "degraded_replaced",
                  (json_int_t)s->degraded_replaced, "quarantines", (json_int_t)s->quarantines,
                  "quarantine_releases", (json_int_t)s->quarantine_releases, "quarantine_discards",
                  (json_int_t)s->quarantine_discards);
    if (!h || json_object_update(o, h) != 0) {
        json_decref(h);
        json_decref(o);
        return NULL;
    }
    json_decref(h);
    return o;
}

/* The stages of the resource's last health round, in pipeline order (a
 * stage that did not run says why in its reason). */
static json_t *stages_json(nr_admin *a, const char *id)
{
    json_t *arr = json_array();
    nr_health_round_result hr;
    if (!arr || nr_manager_health_stages(a->m, id, &hr, NULL) != NR_OK)
        return arr;
    for (size_t k = 0; k < hr.nstages; k++) {
        const nr_health_stage_result *st = &hr.stages[k];
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:f}", "name", st->name, "state",
                                             nr_health_name(st->state), "reason", st->reason,
                                             "latency_ms", (double)st->latency_ns / 1e6));
    }
    return arr;
}

static json_t *resource_json(nr_admin *a, const admin_res *r)
{
    nr_resource_info ri = NR_RESOURCE_INFO_INIT;
    bool known = nr_manager_resource_info(a->m, r->id, &ri, NULL) == NR_OK;
    json_t *deps = json_array();
    for (size_t k = 0; deps && k < r->ndeps; k++)
        json_array_append_new(deps, json_string(r->deps[k]));
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:i,s:o*,s:o*}", "id", r->id, "driver", r->type, "state",
        known ? nr_resource_state_name(ri.state) : "unregistered", "health",
        known ? nr_health_name(ri.health) : "unknown", "health_reason",
        known ? ri.health_reason : "", "level", r->level, "scope", r->scope, "partition",
        r->partition == NR_PARTITION_TENANT ? "tenant" : "none", "pools", known ? (int)ri.pools : 0,
        "depends_on", deps, "pool", known ? admin_pool_json(&ri.stats) : NULL);
    if (o && known) { /* health along the graph */
        json_object_set_new(o, "own_health", json_string(nr_health_name(ri.own_health)));
        json_object_set_new(o, "root_cause", json_string(ri.root_cause));
        json_object_set_new(
            o, "on_dependency_failure",
            json_string(ri.on_dependency_failure == NR_DEP_FAIL ? "fail" : "serve"));
        if (ri.autoscale.enabled)
            json_object_set_new(o, "autoscale",
                                json_pack("{s:f,s:I,s:I,s:I,s:s}", "utilization",
                                          ri.autoscale.utilization, "scale_ups",
                                          (json_int_t)ri.autoscale.scale_ups, "scale_downs",
                                          (json_int_t)ri.autoscale.scale_downs, "last_decision_ms",
                                          (json_int_t)ri.autoscale.last_decision_ms,
                                          "last_decision", ri.autoscale.last_decision));
        if (r->partition == NR_PARTITION_TENANT)
            json_object_set_new(o, "tenants",
                                json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "idle_timeout_ms",
                                          (json_int_t)ri.tenant_policy.idle_timeout_ms,
                                          "max_tenants", (json_int_t)ri.tenant_policy.max_tenants,
                                          "max_total", (json_int_t)ri.tenant_policy.max_total,
                                          "evicted", (json_int_t)ri.tenants_evicted, "refused",
                                          (json_int_t)ri.tenants_refused, "total_held",
                                          (json_int_t)ri.total_held, "total_waiting",
                                          (json_int_t)ri.total_waiting));
        json_object_set_new(o, "quarantine",
                            json_pack("{s:s,s:I,s:I}", "state",
                                      nr_quarantine_state_name(ri.quarantine), "attempt",
                                      (json_int_t)ri.quarantine_attempt, "until_ms",
                                      (json_int_t)ri.quarantine_until_ms));
    }
    if (o && known && ri.last_error.code != NR_OK) {
        json_object_set_new(o, "last_error",
                            json_pack("{s:s,s:s}", "code", nr_err_name(ri.last_error.code),
                                      "message", ri.last_error.message));
    }
    if (o && known && a->o.fleet_stats) {
        nr_fleet_stats fs = NR_FLEET_STATS_INIT;
        const char *mode = "unknown";
        if (a->o.fleet_stats(a->o.fleet_stats_ud, r->id, &fs, &mode))
            json_object_set_new(
                o, "fleet",
                json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:b,s:b,s:I,s:I,s:s}", "budget",
                          (json_int_t)fs.budget, "fleet_leases", (json_int_t)fs.fleet_leases,
                          "processes", (json_int_t)fs.processes, "leases", (json_int_t)fs.leases,
                          "local_limit", (json_int_t)fs.local_limit, "local_held",
                          (json_int_t)fs.local_held, "local_wanted", (json_int_t)fs.local_wanted,
                          "mode", mode ? mode : "unknown", "redis_up", fs.redis_up, "fallback",
                          fs.fallback, "syncs", (json_int_t)fs.syncs, "renew_failures",
                          (json_int_t)fs.renew_failures, "last_error", fs.last_error));
    }
    if (o && known)
        json_object_set_new(o, "health_stages", stages_json(a, r->id));
    if (o && known && r->partition == NR_PARTITION_TENANT)
        admin_tenants_json(a, r->id, o);
    return o;
}

static json_t *events_json(nr_admin *a)
{
    json_t *recent = json_array(), *counts = json_object();
    uint64_t missed = 0;
    admin_ring *ring = &a->ring;
    if (a->ring_on && recent && counts) {
        pthread_mutex_lock(&ring->mu);
        missed = ring->missed;
        for (unsigned t = 1; t < sizeof(ring->per_type) / sizeof(ring->per_type[0]); t++)
            if (ring->per_type[t])
                json_object_set_new(counts, nr_event_type_name((nr_event_type)t),
                                    json_integer((json_int_t)ring->per_type[t]));
        for (size_t k = 0; k < ring->count; k++) {
            /* newest first */
            size_t at = (ring->next + ADMIN_RING_EVENTS - 1 - k) % ADMIN_RING_EVENTS;
            const nr_event *e = &ring->events[at];
            json_t *o = json_pack("{s:I,s:f,s:I,s:s,s:s,s:s,s:s}", "seq", (json_int_t)e->seq, "t_s",
                                  (double)(e->ts_ns - a->started_ns) / 1e9, "time_ms",
                                  (json_int_t)admin_wall_ms(a, e->ts_ns), "type",
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
            if (ring->repeats[at] > 1) {
                json_object_set_new(o, "repeats", json_integer((json_int_t)ring->repeats[at]));
                json_object_set_new(o, "first_seq", json_integer((json_int_t)ring->first_seq[at]));
                json_object_set_new(o, "first_time_ms",
                                    json_integer((json_int_t)admin_wall_ms(a, ring->first_ns[at])));
            }
            json_array_append_new(recent, o);
        }
        pthread_mutex_unlock(&ring->mu);
    }
    return json_pack("{s:o*,s:o*,s:I}", "counts", counts, "recent", recent, "missed",
                     (json_int_t)missed);
}

/* One group: its limit, its members now and which one a group acquire
 * would try first. */
static int group_json(void *ud, const nr_group_info *g)
{
    json_t *members = json_array();
    for (uint32_t k = 0; members && k < g->nmembers; k++) {
        const nr_group_member_info *mi = &g->members[k];
        json_array_append_new(members,
                              json_pack("{s:s,s:s,s:s,s:I,s:b,s:s,s:I}", "id", mi->id, "health",
                                        nr_health_name(mi->health), "quarantine",
                                        nr_quarantine_state_name(mi->quarantine), "in_use",
                                        (json_int_t)mi->in_use, "can_serve", mi->can_serve,
                                        "reason", mi->reason, "served", (json_int_t)mi->served));
    }
    json_t *o =
        json_pack("{s:s,s:I,s:I,s:s?,s:o*}", "name", g->name, "max_quarantine_percent",
                  (json_int_t)g->max_quarantine_percent, "quarantined", (json_int_t)g->quarantined,
                  "pick", g->pick >= 0 ? g->members[g->pick].id : NULL, "members", members);
    if (o)
        json_array_append_new(ud, o);
    return 0;
}

static json_t *groups_json(nr_admin *a)
{
    json_t *arr = json_array();
    if (arr)
        (void)nr_manager_each_group(a->m, group_json, arr, NULL);
    return arr;
}

char *admin_status_json(nr_admin *a, uint32_t history_max)
{
    admin_snapshot s;
    nr_error err = {0};
    if (admin_snapshot_take(a, &s, &err) != NR_OK)
        return NULL;
    char why[256];
    bool ready = ready_of(a, &s, why, sizeof(why));
    char note[ADMIN_NOTE_MAX];
    pthread_mutex_lock(&a->mu);
    memcpy(note, a->note, sizeof(note));
    pthread_mutex_unlock(&a->mu);
    json_t *res = json_array(), *edges = json_array();
    for (size_t i = 0; res && edges && i < s.n; i++) {
        json_t *r = resource_json(a, &s.v[i]);
        if (r)
            json_array_append_new(res, r);
        for (size_t k = 0; k < s.v[i].ndeps; k++)
            json_array_append_new(edges,
                                  json_pack("{s:s,s:s}", "from", s.v[i].id, "to", s.v[i].deps[k]));
    }
    admin_snapshot_free(&s);
    json_t *root = json_pack("{s:s,s:s,s:s,s:f,s:I,s:s,s:b,s:s,s:s,s:b,s:o*,s:o*,s:o*}", "program",
                             a->program, "version", nr_version(), "mode", a->mode, "uptime_s",
                             (double)(nr_now_ns() - a->started_ns) / 1e9, "started_ms",
                             (json_int_t)a->started_wall_ms, "phase",
                             nr_admin_phase_name((nr_admin_phase)atomic_load(&a->phase)), "ready",
                             ready, "reason", why, "note", note, "actions", a->token_ref != NULL,
                             "resources", res, "edges", edges, "events", events_json(a));
    if (!root)
        return NULL;
    json_object_set_new(root, "groups", groups_json(a));
    if (history_max > 0)
        json_object_set_new(root, "history", admin_history_json(&a->history, history_max));
    if (a->o.status_extra)
        a->o.status_extra(a->o.status_extra_ud, root);
    /* 12 significant digits are enough for every value here, and 0.1 prints as 0.1 */
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(root);
    return text;
}
