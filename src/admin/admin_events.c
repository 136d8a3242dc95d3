/*
 * admin_events.c - the ring of recent events behind the page: a thread
 * reads a subscription of the program's event bus and keeps the last
 * ADMIN_RING_EVENTS entries (acquires and releases only counted; a run of
 * equal events folded into one entry, see admin_internal.h).
 */
#include <string.h>

#include "admin_internal.h"

/* Whether b repeats a: equal but for the sequence number and the times. */
static bool repeats(const nr_event *a, const nr_event *b)
{
    return a->type == b->type && a->flags == b->flags && a->instance_id == b->instance_id &&
           a->count == b->count && a->health_old == b->health_old &&
           a->health_new == b->health_new && a->error_code == b->error_code &&
           strcmp(a->resource_id, b->resource_id) == 0 && strcmp(a->scope, b->scope) == 0 &&
           strcmp(a->text, b->text) == 0;
}

static void add_locked(admin_ring *ring, const nr_event *ev)
{
    if ((unsigned)ev->type < sizeof(ring->per_type) / sizeof(ring->per_type[0]))
        ring->per_type[ev->type]++;
    if (ev->type == NR_EV_ACQUIRED || ev->type == NR_EV_RELEASED)
        return;
    size_t newest = (ring->next + ADMIN_RING_EVENTS - 1) % ADMIN_RING_EVENTS;
    if (ring->count > 0 && repeats(&ring->events[newest], ev)) {
        ring->events[newest] = *ev;
        ring->repeats[newest]++;
        return;
    }
    ring->events[ring->next] = *ev;
    ring->repeats[ring->next] = 1;
    ring->first_ns[ring->next] = ev->ts_ns;
    ring->first_seq[ring->next] = ev->seq;
    ring->next = (ring->next + 1) % ADMIN_RING_EVENTS;
    if (ring->count < ADMIN_RING_EVENTS)
        ring->count++;
}

void admin_ring_add(admin_ring *ring, const nr_event *ev)
{
    pthread_mutex_lock(&ring->mu);
    add_locked(ring, ev);
    pthread_mutex_unlock(&ring->mu);
}

static void *ring_main(void *arg)
{
    admin_ring *ring = arg;
    while (!atomic_load(&ring->stop)) {
        nr_event ev;
        uint64_t missed = 0;
        int rc = nr_event_next(ring->sub, &ev, &missed, nr_deadline_in_ms(100));
        pthread_mutex_lock(&ring->mu);
        ring->missed += missed;
        if (rc == NR_OK)
            add_locked(ring, &ev);
        pthread_mutex_unlock(&ring->mu);
    }
    return NULL;
}

int admin_ring_start(admin_ring *ring, nr_event_bus *bus, nr_error *err)
{
    memset(ring, 0, sizeof(*ring));
    pthread_mutex_init(&ring->mu, NULL);
    atomic_init(&ring->stop, false);
    int rc = nr_event_subscribe(bus, &ring->sub, err);
    if (rc != NR_OK) {
        pthread_mutex_destroy(&ring->mu);
        return rc;
    }
    if (pthread_create(&ring->thread, NULL, ring_main, ring) != 0) {
        nr_event_unsubscribe(ring->sub);
        ring->sub = NULL;
        pthread_mutex_destroy(&ring->mu);
        return nr_error_set(err, NR_EINIT, NULL, "admin: cannot start the event reader thread");
    }
    ring->running = true;
    return NR_OK;
}

void admin_ring_stop(admin_ring *ring)
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
