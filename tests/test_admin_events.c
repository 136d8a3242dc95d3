/*
 * test_admin_events.c - the admin server's ring of recent events
 * (src/admin/admin_events.c): acquires and releases only counted, a run of
 * equal events folded into one entry, the ring's wrap.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "testutil.h"

static uint64_t seq;

static nr_event ev_of(nr_event_type type, const char *id, uint64_t instance, int64_t count)
{
    nr_event e;
    nr_event_init(&e, type, id);
    e.seq = ++seq;
    e.ts_ns = (int64_t)seq * 1000;
    e.instance_id = instance;
    e.count = count;
    return e;
}

/* The entry k places before the newest (0: the newest). */
static size_t entry(const admin_ring *r, size_t k)
{
    return (r->next + ADMIN_RING_EVENTS - 1 - k) % ADMIN_RING_EVENTS;
}

static void start(admin_ring *r, nr_event_bus **bus)
{
    assert_int_equal(nr_event_bus_create(bus, 64, NULL), NR_OK);
    assert_int_equal(admin_ring_start(r, *bus, NULL), NR_OK);
}

static void stop(admin_ring *r, nr_event_bus *bus)
{
    admin_ring_stop(r);
    assert_int_equal(nr_event_bus_destroy(bus), NR_OK);
}

static void test_runs_fold(void **state)
{
    (void)state;
    admin_ring r;
    nr_event_bus *bus = NULL;
    start(&r, &bus);
    nr_event e = ev_of(NR_EV_POOL_EXHAUSTED, "db", 0, 4);
    uint64_t first = e.seq;
    admin_ring_add(&r, &e);
    for (int k = 0; k < 9; k++) {
        e = ev_of(NR_EV_POOL_EXHAUSTED, "db", 0, 4);
        admin_ring_add(&r, &e);
        e = ev_of(NR_EV_ACQUIRED, "db", 7, 0); /* counted only: it does not break the run */
        admin_ring_add(&r, &e);
    }
    e = ev_of(NR_EV_CREATED, "db", 8, 0);
    admin_ring_add(&r, &e);
    e = ev_of(NR_EV_POOL_EXHAUSTED, "db", 0, 4); /* a new run */
    admin_ring_add(&r, &e);
    e = ev_of(NR_EV_POOL_EXHAUSTED, "other", 0, 4); /* another resource: not a repeat */
    admin_ring_add(&r, &e);
    e = ev_of(NR_EV_POOL_EXHAUSTED, "other", 0, 2); /* another count: not a repeat */
    admin_ring_add(&r, &e);
    pthread_mutex_lock(&r.mu);
    assert_int_equal(r.count, 5);
    size_t run = entry(&r, 4);
    assert_int_equal(r.repeats[run], 10);
    assert_int_equal(r.first_seq[run], first);
    assert_int_equal(r.first_ns[run], (int64_t)first * 1000);
    assert_int_equal(r.events[run].seq, first + 17); /* the newest of the run */
    assert_int_equal(r.events[entry(&r, 3)].type, NR_EV_CREATED);
    assert_int_equal(r.repeats[entry(&r, 3)], 1);
    assert_int_equal(r.repeats[entry(&r, 2)], 1);
    assert_string_equal(r.events[entry(&r, 1)].resource_id, "other");
    assert_int_equal(r.events[entry(&r, 0)].count, 2);
    assert_int_equal(r.per_type[NR_EV_POOL_EXHAUSTED], 13);
    assert_int_equal(r.per_type[NR_EV_ACQUIRED], 9);
    pthread_mutex_unlock(&r.mu);
    stop(&r, bus);
}

/* Created events name a new instance each: none is folded. */
static void test_distinct_events_wrap(void **state)
{
    (void)state;
    admin_ring r;
    nr_event_bus *bus = NULL;
    start(&r, &bus);
    for (int k = 0; k < ADMIN_RING_EVENTS + 5; k++) {
        nr_event e = ev_of(NR_EV_CREATED, "db", (uint64_t)k + 1, 0);
        admin_ring_add(&r, &e);
    }
    pthread_mutex_lock(&r.mu);
    assert_int_equal(r.count, ADMIN_RING_EVENTS);
    assert_int_equal(r.events[entry(&r, 0)].instance_id, ADMIN_RING_EVENTS + 5);
    assert_int_equal(r.events[entry(&r, ADMIN_RING_EVENTS - 1)].instance_id, 6);
    pthread_mutex_unlock(&r.mu);
    stop(&r, bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_fold),
        cmocka_unit_test(test_distinct_events_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
