/*
 * admin_history.c - what the page's sparklines draw: a sampler thread reads
 * every resource's pool statistics once per sample_interval_ms and keeps the
 * last opts.history samples of each resource in a ring.
 *
 * Memory is bounded: one timeline of cap wall-clock times, and at most
 * ADMIN_HISTORY_RESOURCES tracks of cap points each (a track's points are
 * allocated when its resource first appears and freed when it goes). The
 * tracks share the timeline's ring positions, so a sample is written at one
 * position for every resource and no track keeps a head of its own.
 *
 * Per resource per sample: in_use and waiters as read; the acquire rate
 * (delta acquires / seconds since the previous sample); the mean wait of the
 * acquires that waited in the interval (delta wait_ns_total / delta waits,
 * 0 when none waited).
 *
 * Locks: h->mu guards the rings and the stop flag. The sampler reads the
 * manager with it released and takes it only to record; /status takes it to
 * copy the rings into JSON.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin_internal.h"
#include "nebula/alloc.h"
#include "nebula/time.h"

/* ---- the rings ------------------------------------------------------------------- */

int admin_history_init(admin_history *h, uint32_t cap, int64_t interval_ms, nr_error *err)
{
    memset(h, 0, sizeof(*h));
    h->cap = cap;
    h->interval_ms = interval_ms;
    if (!(h->t_ms = nr_calloc(cap, sizeof(*h->t_ms))))
        return nr_error_set(err, NR_ENOMEM, NULL, "admin: out of memory (history)");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the clock of nr_now_ns */
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&h->mu, NULL);
    return NR_OK;
}

void admin_history_free(admin_history *h)
{
    if (!h->t_ms)
        return; /* never set up */
    for (size_t i = 0; i < ADMIN_HISTORY_RESOURCES; i++)
        nr_free(h->tracks[i].points);
    nr_free(h->t_ms);
    nr_free(h->scratch);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->mu);
    memset(h, 0, sizeof(*h));
}

static admin_track *find_track(admin_history *h, const char *id)
{
    for (size_t i = 0; i < ADMIN_HISTORY_RESOURCES; i++)
        if (h->tracks[i].points && strcmp(h->tracks[i].id, id) == 0)
            return &h->tracks[i];
    return NULL;
}

/* Write o at ring position pos of t; dt_s is the time since the previous
 * sample, 0 for a track that starts here. */
static void push(admin_history *h, admin_track *t, uint32_t pos, const admin_obs *o, double dt_s)
{
    admin_point *p = &t->points[pos];
    p->in_use = o->in_use;
    p->waiters = o->waiters;
    p->acquire_rate = 0;
    p->wait_ms = 0;
    if (t->count > 0) {
        /* a counter that went down means the pools are new: they count from 0 */
        bool reset =
            o->acquires < t->acquires || o->waits < t->waits || o->wait_ns_total < t->wait_ns_total;
        uint64_t da = reset ? o->acquires : o->acquires - t->acquires;
        uint64_t dw = reset ? o->waits : o->waits - t->waits;
        int64_t dns = reset ? o->wait_ns_total : o->wait_ns_total - t->wait_ns_total;
        if (dt_s > 0)
            p->acquire_rate = (float)((double)da / dt_s);
        if (dw > 0)
            p->wait_ms = (float)((double)dns / (double)dw / 1e6);
    }
    t->acquires = o->acquires;
    t->waits = o->waits;
    t->wait_ns_total = o->wait_ns_total;
    if (t->count < h->cap)
        t->count++;
}

void admin_history_record(admin_history *h, int64_t now_ns, int64_t wall_ms, const admin_obs *obs,
                          size_t n, uint32_t left_out)
{
    pthread_mutex_lock(&h->mu);
    uint32_t pos = h->head;
    double dt_s = h->count > 0 && now_ns > h->last_ns ? (double)(now_ns - h->last_ns) / 1e9 : 0;
    for (size_t i = 0; i < ADMIN_HISTORY_RESOURCES; i++)
        h->tracks[i].seen = false;
    /* resources with a history go on */
    for (size_t k = 0; k < n; k++) {
        admin_track *t = find_track(h, obs[k].id);
        if (t && !t->seen) {
            push(h, t, pos, &obs[k], dt_s);
            t->seen = true;
        }
    }
    /* resources that are gone are dropped, so that their slots can be reused */
    for (size_t i = 0; i < ADMIN_HISTORY_RESOURCES; i++) {
        admin_track *t = &h->tracks[i];
        if (t->points && !t->seen) {
            nr_free(t->points);
            memset(t, 0, sizeof(*t));
        }
    }
    /* new resources start theirs, while there are free slots */
    size_t slot = 0;
    for (size_t k = 0; k < n; k++) {
        if (find_track(h, obs[k].id))
            continue;
        while (slot < ADMIN_HISTORY_RESOURCES && h->tracks[slot].points)
            slot++;
        admin_track *t = slot < ADMIN_HISTORY_RESOURCES ? &h->tracks[slot] : NULL;
        if (!t || !(t->points = nr_calloc(h->cap, sizeof(*t->points)))) {
            left_out++;
            continue;
        }
        snprintf(t->id, sizeof(t->id), "%s", obs[k].id);
        push(h, t, pos, &obs[k], 0);
        t->seen = true;
    }
    h->t_ms[pos] = wall_ms;
    h->head = (pos + 1) % h->cap;
    if (h->count < h->cap)
        h->count++;
    h->last_ns = now_ns;
    h->samples++;
    h->left_out = left_out;
    pthread_mutex_unlock(&h->mu);
}

/* ---- the /status object ------------------------------------------------------------ */

/* x >= 0 to the nearest multiple of 1/scale, so that it prints short. */
static double rounded(double x, double scale)
{
    return (double)(int64_t)(x * scale + 0.5) / scale;
}

static json_t *track_json(const admin_history *h, const admin_track *t, uint32_t max_samples)
{
    json_t *tm = json_array(), *iu = json_array(), *w = json_array(), *ar = json_array(),
           *wm = json_array();
    json_t *o = json_pack("{s:o*,s:o*,s:o*,s:o*,s:o*}", "t_ms", tm, "in_use", iu, "waiters", w,
                          "acquire_rate", ar, "wait_ms", wm);
    if (!o || !tm || !iu || !w || !ar || !wm) {
        json_decref(o);
        return NULL;
    }
    uint32_t k = t->count < max_samples ? t->count : max_samples;
    for (uint32_t j = k; j > 0; j--) { /* oldest first: j samples before the head */
        uint32_t pos = (h->head + h->cap - j) % h->cap;
        const admin_point *p = &t->points[pos];
        json_array_append_new(tm, json_integer((json_int_t)h->t_ms[pos]));
        json_array_append_new(iu, json_integer((json_int_t)p->in_use));
        json_array_append_new(w, json_integer((json_int_t)p->waiters));
        json_array_append_new(ar, json_real(rounded(p->acquire_rate, 100)));
        json_array_append_new(wm, json_real(rounded(p->wait_ms, 1000)));
    }
    return o;
}

json_t *admin_history_json(admin_history *h, uint32_t max_samples)
{
    json_t *res = json_object();
    if (!res)
        return NULL;
    pthread_mutex_lock(&h->mu);
    json_t *o =
        json_pack("{s:I,s:I,s:I,s:I,s:o}", "interval_ms", (json_int_t)h->interval_ms, "samples",
                  (json_int_t)h->cap, "resources_max", (json_int_t)ADMIN_HISTORY_RESOURCES,
                  "left_out", (json_int_t)h->left_out, "resources", res);
    for (size_t i = 0; o && i < ADMIN_HISTORY_RESOURCES; i++) {
        const admin_track *t = &h->tracks[i];
        if (t->points)
            json_object_set_new(res, t->id, track_json(h, t, max_samples));
    }
    pthread_mutex_unlock(&h->mu);
    return o;
}

/* ---- the sampler ------------------------------------------------------------------- */

typedef struct collect {
    admin_obs *obs;
    size_t n;
    uint32_t left_out;
} collect;

static int collect_id(void *ud, const nr_resource_desc *d)
{
    collect *c = ud;
    if (c->n == ADMIN_HISTORY_RESOURCES) {
        c->left_out++;
        return 0;
    }
    snprintf(c->obs[c->n++].id, sizeof(c->obs[0].id), "%s", d->id);
    return 0;
}

/* One sample: read the manager (no admin lock held), then record. */
static void sample(nr_admin *a)
{
    admin_history *h = &a->history;
    collect c = {.obs = h->scratch};
    if (nr_manager_each_resource(a->m, collect_id, &c, NULL) != NR_OK)
        return; /* out of memory: try again at the next sample */
    size_t n = 0;
    for (size_t k = 0; k < c.n; k++) {
        nr_resource_info ri = NR_RESOURCE_INFO_INIT;
        if (nr_manager_resource_info(a->m, c.obs[k].id, &ri, NULL) != NR_OK)
            continue; /* unregistered since the walk */
        admin_obs *o = &c.obs[n++];
        if (o != &c.obs[k])
            memcpy(o->id, c.obs[k].id, sizeof(o->id));
        o->in_use = ri.stats.in_use;
        o->waiters = ri.stats.waiters;
        o->acquires = ri.stats.acquires;
        o->waits = ri.stats.waits;
        o->wait_ns_total = ri.stats.wait_ns_total;
    }
    int64_t now = nr_now_ns();
    admin_history_record(h, now, admin_wall_ms(a, now), c.obs, n, c.left_out);
}

static void *sampler_main(void *arg)
{
    nr_admin *a = arg;
    admin_history *h = &a->history;
    const int64_t interval_ns = h->interval_ms * NR_NS_PER_MS;
    int64_t next = nr_now_ns();
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        int64_t now = nr_now_ns();
        if (now < next) {
            struct timespec ts = {.tv_sec = next / NR_NS_PER_S, .tv_nsec = next % NR_NS_PER_S};
            pthread_cond_timedwait(&h->wake, &h->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&h->mu);
        sample(a);
        pthread_mutex_lock(&h->mu);
        next += interval_ns;
        if (next <= nr_now_ns()) /* fell behind: skip the samples missed */
            next = nr_now_ns() + interval_ns;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int admin_history_start(nr_admin *a, nr_error *err)
{
    admin_history *h = &a->history;
    int rc = admin_history_init(h, a->o.history, a->o.sample_interval_ms, err);
    if (rc != NR_OK)
        return rc;
    if (!(h->scratch = nr_calloc(ADMIN_HISTORY_RESOURCES, sizeof(*h->scratch)))) {
        admin_history_free(h);
        return nr_error_set(err, NR_ENOMEM, NULL, "admin: out of memory (history)");
    }
    if (pthread_create(&h->thread, NULL, sampler_main, a) != 0) {
        admin_history_free(h);
        return nr_error_set(err, NR_EINIT, NULL, "admin: cannot start the sampler thread");
    }
    h->running = true;
    return NR_OK;
}

void admin_history_stop(nr_admin *a)
{
    admin_history *h = &a->history;
    if (h->running) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
        h->running = false;
    }
    admin_history_free(h);
}
