/*
 * manager_group.c - resource groups: a name for members that can stand in
 * for each other, acquired through the healthiest one, and the share of
 * them that may be quarantined at once (max_quarantine_percent).
 *
 * A group is immutable once registered and lives as long as the manager;
 * its members are entries that cannot be unregistered while they are in a
 * group (e->ngroups), so a group may point at them. The list of groups is
 * part of the registry, under m->lock. A group acquire ranks the members
 * from atomics and short holds of each member's e->mu, with no manager lock
 * held while it acquires: see nebula/manager.h for the order.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "base/strutil.h"
#include "base/abi.h"
#include "manager/manager_internal.h"
#include "nebula/alloc.h"

#define REASON_MAX 200 /* one member's reason in a group's error */

void nr_group_spec_default(nr_group_spec *s)
{
    nr_group_spec d =
        NR_GROUP_SPEC(.max_quarantine_percent = NR_GROUP_MAX_QUARANTINE_PERCENT_DEFAULT);
    nr__abi_default(s, &d, sizeof(d));
}

/* ---- registry ------------------------------------------------------------------------ */

/* [lock] */
static nr__group *group_find(const nr_manager *m, const char *name)
{
    for (size_t i = 0; i < m->ngroups; i++)
        if (strcmp(m->groups[i]->name, name) == 0)
            return m->groups[i];
    return NULL;
}

static int in_group(const nr__group *g, const nr__entry *e)
{
    for (size_t k = 0; k < g->n; k++)
        if (g->members[k] == e)
            return 1;
    return 0;
}

static void group_free(nr__group *g)
{
    if (!g)
        return;
    nr_free(g->members);
    nr_free((void *)g->served);
    nr_free(g);
}

/* The spec's own rules, before anything is looked up. */
static int spec_check(const nr_group_spec *s, nr_error *err)
{
    if (nr__check_id(s->name, NULL) != NR_OK)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "group spec: name must be 1 to 63 letters, digits or _-.:@ (got "
                            "'%.63s')",
                            s->name ? s->name : "");
    const char *n = s->name;
    if (s->nmembers == 0 || s->nmembers > NR_GROUP_MEMBERS_MAX || !s->members)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "group '%s': members must name 1 to %d resources (got %zu)", n,
                            NR_GROUP_MEMBERS_MAX, s->members ? s->nmembers : 0);
    if (s->max_quarantine_percent > 100)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "group '%s': max_quarantine_percent must be between 0 and 100 (got "
                            "%u)",
                            n, s->max_quarantine_percent);
    for (size_t i = 0; i < s->nmembers; i++) {
        if (!s->members[i] || nr__check_id(s->members[i], NULL) != NR_OK)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "group '%s': members[%zu] is not a valid resource id", n, i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->members[i], s->members[j]) == 0)
                return nr_error_set(err, NR_EINVAL, NULL,
                                    "group '%s': members[%zu] '%s' is listed twice (also "
                                    "members[%zu])",
                                    n, i, s->members[i], j);
    }
    return NR_OK;
}

int nr_manager_register_group(nr_manager *m, const nr_group_spec *spec, nr_error *err)
{
    if (!m || !spec)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_register_group: arguments must not be NULL");
    nr_group_spec sized;
    int rc = NR__ABI_IN(&sized, spec, nr_group_spec, NR_GROUP_SPEC_INIT, err);
    if (rc != NR_OK)
        return rc;
    spec = &sized;
    rc = spec_check(spec, err);
    if (rc != NR_OK)
        return rc;
    const char *name = spec->name;
    nr__group *g = nr_calloc(1, sizeof(*g));
    if (g) {
        g->members = nr_calloc(spec->nmembers, sizeof(*g->members));
        g->served = nr_calloc(spec->nmembers, sizeof(*g->served));
    }
    if (!g || !g->members || !g->served) {
        group_free(g);
        return nr_error_set(err, NR_ENOMEM, NULL, "group '%s': out of memory", name);
    }
    snprintf(g->name, sizeof(g->name), "%s", name);
    g->pct = spec->max_quarantine_percent;
    g->n = spec->nmembers;
    for (size_t k = 0; k < g->n; k++)
        atomic_init(&g->served[k], 0);

    pthread_mutex_lock(&m->group_q_mu);
    pthread_rwlock_wrlock(&m->lock);
    if (atomic_load_explicit(&m->phase, memory_order_acquire) >= NR__PHASE_STOPPING) {
        rc =
            nr_error_set(err, NR_ESHUTDOWN, NULL, "group '%s': the manager is shutting down", name);
    } else if (group_find(m, name)) {
        rc = nr_error_set(err, NR_EEXIST, NULL, "group '%s' is already registered", name);
    } else if (nr__reg_find(m, name)) {
        rc = nr_error_set(err, NR_EEXIST, NULL,
                          "group '%s': the name is a resource's id; a group needs a name of its "
                          "own",
                          name);
    }
    for (size_t k = 0; rc == NR_OK && k < g->n; k++) {
        g->members[k] = nr__reg_find(m, spec->members[k]);
        if (!g->members[k])
            rc = nr_error_set(err, NR_EINVAL, NULL,
                              "group '%s': members[%zu] '%s' is not a registered resource", name, k,
                              spec->members[k]);
    }
    if (rc == NR_OK && m->ngroups == m->gcap) {
        size_t cap = m->gcap ? m->gcap * 2 : 4;
        nr__group **v = nr_realloc(m->groups, cap * sizeof(*v));
        if (!v) {
            rc = nr_error_set(err, NR_ENOMEM, NULL, "group '%s': out of memory", name);
        } else {
            m->groups = v;
            m->gcap = cap;
        }
    }
    if (rc == NR_OK) {
        m->groups[m->ngroups++] = g;
        for (size_t k = 0; k < g->n; k++)
            atomic_fetch_add_explicit(&g->members[k]->ngroups, 1, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&m->lock);
    pthread_mutex_unlock(&m->group_q_mu);
    if (rc != NR_OK)
        group_free(g);
    return rc;
}

size_t nr_manager_group_count(nr_manager *m)
{
    pthread_rwlock_rdlock(&m->lock);
    size_t n = m->ngroups;
    pthread_rwlock_unlock(&m->lock);
    return n;
}

void nr__groups_of(const nr_manager *m, const nr__entry *e, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->ngroups; i++) {
        if (!in_group(m->groups[i], e))
            continue;
        int w = snprintf(buf + used, used < len ? len - used : 0, "%s'%s'", used ? ", " : "",
                         m->groups[i]->name);
        if (w > 0)
            used += (size_t)w;
    }
    if (used >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
}

void nr__groups_free(nr_manager *m)
{
    for (size_t i = 0; i < m->ngroups; i++)
        group_free(m->groups[i]);
    nr_free(m->groups);
    m->groups = NULL;
    m->ngroups = m->gcap = 0;
}

/* ---- max_quarantine_percent ---------------------------------------------------------------- */

static uint32_t quarantined_in(const nr__group *g)
{
    uint32_t q = 0;
    for (size_t k = 0; k < g->n; k++)
        q += atomic_load_explicit(&g->members[k]->q_state, memory_order_relaxed) !=
             NR_QUARANTINE_NONE;
    return q;
}

int nr__groups_allow_quarantine(nr_manager *m, nr__entry *e, uint32_t *count, char *why, size_t len)
{
    int allow = 1;
    pthread_rwlock_rdlock(&m->lock);
    for (size_t i = 0; i < m->ngroups && allow; i++) {
        const nr__group *g = m->groups[i];
        if (!in_group(g, e))
            continue;
        uint32_t q = quarantined_in(g);
        /* e itself is in service: with it, q + 1 of n would be out */
        if ((uint64_t)(q + 1) * 100 > (uint64_t)g->pct * g->n) {
            allow = 0;
            *count = q;
            snprintf(why, len,
                     "not quarantined: group %s has %u of %zu members quarantined "
                     "(max_quarantine_percent %u)",
                     g->name, q, g->n, g->pct);
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return allow;
}

/* ---- the choice ------------------------------------------------------------------------ */

/* One member as a group acquire sees it. rank: 0 healthy, 1 unknown, 2
 * degraded, 3 a half-open trial; -1 cannot serve (reason says why). */
typedef struct judged {
    size_t idx;
    int rank;
    uint32_t in_use;
    nr_health_state health;
} judged;

/* head + text into buf, ending in "..." when cut. */
static void marked(char *buf, size_t len, const char *head, const char *text)
{
    char full[NR_ERROR_MESSAGE_MAX + 64];
    snprintf(full, sizeof(full), "%s%s", head, text);
    nr__copy_marked(buf, len, full);
}

static uint32_t in_use_of(nr__entry *e)
{
    uint64_t n = 0;
    nr_pool_stats st = NR_POOL_STATS_INIT;
    pthread_mutex_lock(&e->mu);
    if (e->pool) {
        nr_pool_stats_get(e->pool, &st);
        n += st.in_use;
    }
    for (nr__tenant_pool *t = e->tenants; t; t = t->next) {
        nr_pool_stats_get(t->pool, &st);
        n += st.in_use;
    }
    pthread_mutex_unlock(&e->mu);
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static void judge(nr_manager *m, nr__entry *e, size_t idx, judged *j, char *reason, size_t len)
{
    reason[0] = '\0';
    *j = (judged){.idx = idx, .rank = -1, .health = nr__effective_health(e)};
    int state = atomic_load_explicit(&e->state, memory_order_relaxed);
    if (state != NR_RS_RUNNING) {
        pthread_mutex_lock(&e->mu);
        nr_error last = e->last_error;
        pthread_mutex_unlock(&e->mu);
        if (state == NR_RS_FAILED || state == NR_RS_DEPENDENCY_FAILED)
            marked(reason, len, "failed to start: ", last.message);
        else
            snprintf(reason, len, "%s, not running",
                     nr_resource_state_name((nr_resource_state)state));
        return;
    }
    if (!nr__quarantine_peek(m, e, reason, len))
        return;
    int trial = atomic_load_explicit(&e->q_state, memory_order_relaxed) == NR_QUARANTINE_HALF_OPEN;
    if (!trial && atomic_load_explicit(&e->health, memory_order_relaxed) == NR_HEALTH_UNHEALTHY) {
        pthread_mutex_lock(&e->mu);
        snprintf(reason, len, "unhealthy: %s", e->health_reason);
        pthread_mutex_unlock(&e->mu);
        return;
    }
    if (atomic_load_explicit(&e->dep_policy, memory_order_relaxed) == NR_DEP_FAIL &&
        atomic_load_explicit(&e->dep_degraded, memory_order_relaxed)) {
        pthread_mutex_lock(&e->mu);
        snprintf(reason, len, "%s", e->dep_reason);
        pthread_mutex_unlock(&e->mu);
        return;
    }
    j->rank = trial                             ? 3
              : j->health == NR_HEALTH_HEALTHY  ? 0
              : j->health == NR_HEALTH_DEGRADED ? 2
                                                : 1;
    j->in_use = in_use_of(e);
}

/* Candidates first, by rank, then fewest in use; then the group's order. */
static int before(const judged *a, const judged *b)
{
    int ra = a->rank < 0 ? 99 : a->rank, rb = b->rank < 0 ? 99 : b->rank;
    if (ra != rb)
        return ra < rb;
    if (a->rank >= 0 && a->in_use != b->in_use)
        return a->in_use < b->in_use;
    return a->idx < b->idx;
}

/* Judge every member and sort them, best candidate first, those that cannot
 * serve last (insertion sort: at most NR_GROUP_MEMBERS_MAX). Returns how
 * many can serve. */
static size_t rank_members(nr_manager *m, const nr__group *g, judged *j,
                           char (*reasons)[REASON_MAX])
{
    size_t nc = 0;
    for (size_t k = 0; k < g->n; k++) {
        judge(m, g->members[k], k, &j[k], reasons[k], REASON_MAX);
        nc += j[k].rank >= 0;
    }
    for (size_t i = 1; i < g->n; i++) {
        judged t = j[i];
        size_t k = i;
        for (; k > 0 && before(&t, &j[k - 1]); k--)
            j[k] = j[k - 1];
        j[k] = t;
    }
    return nc;
}

/* Find a group under the registry lock. Its members stay registered while it
 * lives, and it lives as long as the manager. */
static nr__group *group_get(nr_manager *m, const char *name, nr_error *err)
{
    pthread_rwlock_rdlock(&m->lock);
    nr__group *g = group_find(m, name);
    pthread_rwlock_unlock(&m->lock);
    if (!g)
        nr_error_set(err, NR_ENOTFOUND, NULL, "group '%s' is not registered", name);
    return g;
}

/* "a REASON; b REASON" of the members that could not serve, in group order. */
static void none_text(const nr__group *g, char (*reasons)[REASON_MAX], char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < g->n && used < len; k++) {
        int w = snprintf(buf + used, len - used, "%s%s %s", k ? "; " : "", g->members[k]->id,
                         reasons[k]);
        if (w > 0)
            used += (size_t)w;
    }
}

int nr_manager_acquire_group(nr_manager *m, const char *group, const nr_ctx *ctx, nr_guard *out,
                             nr_group_choice *choice, nr_error *err)
{
    if (out) {
        out->inst = NULL;
        out->lease = 0;
    }
    nr_ctx sized;
    if (nr__ctx_in(&ctx, &sized, err) != NR_OK)
        return NR_EINVAL;
    if (choice)
        memset(choice, 0, sizeof(*choice));
    if (!m || !group || !out)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_acquire_group: arguments must not be NULL");
    if (atomic_load_explicit(&m->phase, memory_order_acquire) >= NR__PHASE_STOPPING)
        return nr_error_set(err, NR_ESHUTDOWN, NULL, "group '%s': the manager is shutting down",
                            group);
    nr__group *g = group_get(m, group, err);
    if (!g)
        return NR_ENOTFOUND;
    judged j[NR_GROUP_MEMBERS_MAX];
    char reasons[NR_GROUP_MEMBERS_MAX][REASON_MAX];
    size_t nc = rank_members(m, g, j, reasons);
    /* one deadline for every member tried: the caller's, or the first
     * candidate's acquire_timeout_ms */
    nr_ctx c = NR_CTX_INIT;
    if (ctx)
        c = *ctx;
    if (nc && !nr_deadline_is_set(c.deadline)) {
        nr__entry *first = g->members[j[0].idx];
        pthread_mutex_lock(&first->mu); /* a resize or reload changes it under mu */
        int64_t ms = first->pool_cfg.acquire_timeout_ms;
        pthread_mutex_unlock(&first->mu);
        if (ms)
            c.deadline = nr_deadline_in_ms(ms);
    }
    int last = NR_OK;
    for (size_t i = 0; i < nc; i++) {
        nr__entry *e = g->members[j[i].idx];
        if (i > 0 && nr_deadline_expired(c.deadline)) {
            return nr_error_set_cause(err, NR_ETIMEDOUT, last, 0, NULL,
                                      "group %s: the deadline passed after %zu members failed "
                                      "at once",
                                      g->name, i);
        }
        nr_error me;
        nr_error_clear(&me);
        int rc = nr_manager_acquire(m, e->id, &c, out, &me);
        if (rc == NR_OK) {
            atomic_fetch_add_explicit(&g->served[j[i].idx], 1, memory_order_relaxed);
            if (choice) {
                snprintf(choice->member, sizeof(choice->member), "%s", e->id);
                choice->index = (uint32_t)j[i].idx;
                choice->health = j[i].health;
                choice->tried = (uint32_t)i;
            }
            return NR_OK;
        }
        if (rc == NR_ETIMEDOUT || rc == NR_ECANCELED || rc == NR_ESHUTDOWN) {
            if (err) {
                *err = me;
                nr_error_prefix(err, "group %s: member %s", g->name, e->id);
            }
            return rc;
        }
        last = rc;
        marked(reasons[j[i].idx], REASON_MAX, "failed at once: ", me.message);
    }
    char text[NR_ERROR_MESSAGE_MAX];
    none_text(g, reasons, text, sizeof(text));
    return nr_error_set_cause(err, NR_EUNAVAIL, last, 0, NULL, "group %s: no member can serve: %s",
                              g->name, text);
}

/* ---- describing ------------------------------------------------------------------------ */

static void describe(nr_manager *m, const nr__group *g, nr_group_info *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", g->name);
    out->max_quarantine_percent = g->pct;
    out->nmembers = (uint32_t)g->n;
    out->quarantined = quarantined_in(g);
    judged j[NR_GROUP_MEMBERS_MAX];
    char reasons[NR_GROUP_MEMBERS_MAX][REASON_MAX];
    size_t nc = rank_members(m, g, j, reasons);
    out->pick = nc ? (int)j[0].idx : -1;
    for (size_t i = 0; i < g->n; i++) {
        size_t k = j[i].idx;
        nr__entry *e = g->members[k];
        nr_group_member_info *mi = &out->members[k];
        snprintf(mi->id, sizeof(mi->id), "%s", e->id);
        mi->health = j[i].health;
        mi->quarantine =
            (nr_quarantine_state)atomic_load_explicit(&e->q_state, memory_order_relaxed);
        mi->can_serve = j[i].rank >= 0;
        mi->in_use = mi->can_serve ? j[i].in_use : in_use_of(e);
        snprintf(mi->reason, sizeof(mi->reason), "%s", reasons[k]);
        mi->served = atomic_load_explicit(&g->served[k], memory_order_relaxed);
    }
}

int nr_manager_group_info(nr_manager *m, const char *name, nr_group_info *out, nr_error *err)
{
    if (!m || !name || !out)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_group_info: arguments must not be NULL");
    nr__group *g = group_get(m, name, err);
    if (!g)
        return NR_ENOTFOUND;
    describe(m, g, out);
    return NR_OK;
}

/* The groups as an nr_malloc'd array (groups are never freed before the
 * manager). */
static size_t groups_snapshot(nr_manager *m, nr__group ***out)
{
    pthread_rwlock_rdlock(&m->lock);
    size_t n = m->ngroups;
    nr__group **v = n ? nr_calloc(n, sizeof(*v)) : NULL;
    if (v)
        memcpy(v, m->groups, n * sizeof(*v));
    pthread_rwlock_unlock(&m->lock);
    *out = v;
    return v ? n : 0;
}

int nr_manager_each_group(nr_manager *m, int (*fn)(void *ud, const nr_group_info *g), void *ud,
                          nr_error *err)
{
    if (!m || !fn)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "nr_manager_each_group: arguments must not be NULL");
    nr__group **v;
    size_t n = groups_snapshot(m, &v);
    if (!v && nr_manager_group_count(m))
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_manager_each_group: out of memory");
    nr_group_info *info = nr_malloc(sizeof(*info));
    if (!info && n) {
        nr_free(v);
        return nr_error_set(err, NR_ENOMEM, NULL, "nr_manager_each_group: out of memory");
    }
    int rc = NR_OK;
    for (size_t i = 0; i < n && rc == NR_OK; i++) {
        describe(m, v[i], info);
        rc = fn(ud, info);
    }
    nr_free(info);
    nr_free(v);
    return rc;
}

/* ---- metrics ------------------------------------------------------------------------- */

static const char *const group_labels[] = {"group", "member"};
static const char *const res_only[] = {"resource"};

static int collect(nr_metrics *reg, void *ud, nr_error *err)
{
    nr_manager *m = ud;
    nr__group **v;
    size_t n = groups_snapshot(m, &v);
    int rc = NR_OK;
    for (size_t i = 0; i < n && rc == NR_OK; i++) {
        for (size_t k = 0; k < v[i]->n && rc == NR_OK; k++) {
            nr__entry *e = v[i]->members[k];
            const char *labels[] = {v[i]->name, e->id};
            nr_counter *c;
            rc = nr_metrics_counter(reg, "nr_group_acquires_total", labels, 2, &c, err);
            if (rc == NR_OK)
                nr_counter_set(c, atomic_load_explicit(&v[i]->served[k], memory_order_relaxed));
            const char *rl[] = {e->id};
            if (rc == NR_OK)
                rc = nr_metrics_counter(reg, "nr_quarantine_refused_total", rl, 1, &c, err);
            if (rc == NR_OK)
                nr_counter_set(c, atomic_load_explicit(&e->q_refused, memory_order_relaxed));
        }
    }
    nr_free(v);
    return rc;
}

int nr__group_metrics_setup(nr_manager *m, nr_error *err)
{
    nr_metrics *reg = m->opts.metrics;
    if (!reg)
        return NR_OK;
    nr_metric_desc served = {.name = "nr_group_acquires_total",
                             .help = "Group acquires served, by group and member.",
                             .type = NR_METRIC_COUNTER,
                             .label_names = group_labels,
                             .label_count = 2};
    nr_metric_desc refused = {.name = "nr_quarantine_refused_total",
                              .help = "Quarantines a group's max_quarantine_percent refused.",
                              .type = NR_METRIC_COUNTER,
                              .label_names = res_only,
                              .label_count = 1};
    int rc = nr_metrics_register(reg, &served, err);
    if (rc == NR_OK)
        rc = nr_metrics_register(reg, &refused, err);
    if (rc == NR_OK)
        rc = nr_metrics_add_collector(reg, collect, m, err);
    return rc;
}

void nr__group_metrics_teardown(nr_manager *m)
{
    if (m->opts.metrics)
        nr_metrics_remove_collector(m->opts.metrics, collect, m, NULL);
}
