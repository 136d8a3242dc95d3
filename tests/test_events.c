/* test_events.c - the event bus: events, bus and subscribers, lag accounting,
 * ordering, torn-read detection, and concurrency. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/events.h"

/* Test hooks in src/observe/events.c: a publish split into its steps. */
uint64_t nr__event_claim(nr_event_bus *bus);
int nr__event_begin(nr_event_bus *bus, uint64_t n);
void nr__event_finish(nr_event_bus *bus, uint64_t n, const nr_event *ev);

static const nr_deadline poll_now = {1}; /* long expired: a non-blocking poll */

/* ---- helpers -------------------------------------------------------------- */

static nr_event_bus *make_bus(uint32_t capacity)
{
    nr_event_bus *bus = NULL;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_event_bus_create(&bus, capacity, &err), NR_OK);
    assert_non_null(bus);
    assert_int_equal(err.code, NR_OK);
    return bus;
}

static nr_event_sub *subscribe(nr_event_bus *bus)
{
    nr_event_sub *sub = NULL;
    assert_int_equal(nr_event_subscribe(bus, &sub, NULL), NR_OK);
    assert_non_null(sub);
    return sub;
}

static void destroy_bus(nr_event_bus *bus)
{
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.subscribers, 0);
    assert_int_equal(nr_event_bus_destroy(bus), NR_OK);
}

/* An event whose every field derives from v, so a torn copy shows. The
 * strings' lengths vary with v, so the packed slot layout varies too. */
#define PUB_SHIFT    40
#define COUNTER_MASK ((UINT64_C(1) << PUB_SHIFT) - 1)

static void fill_event(nr_event *ev, uint64_t v)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = (nr_event_type)(1 + v % 10);
    ev->flags = (uint32_t)(v * 2654435761u);
    ev->ts_ns = (int64_t)(v + 1);
    ev->instance_id = v;
    ev->wait_ns = (int64_t)(v * 3);
    ev->count = (int64_t)~v;
    ev->health_old = (nr_health_state)(v % 4);
    ev->health_new = (nr_health_state)((v + 1) % 4);
    ev->error_code = -(int)(v % 21);
    unsigned k = (unsigned)(v % 251);
    char c = (char)('a' + v % 26);
    int n = snprintf(ev->resource_id, sizeof(ev->resource_id), "id-%llx-", (unsigned long long)v);
    for (unsigned i = (unsigned)n; i < 12 + k % 52; i++)
        ev->resource_id[i] = c;
    n = snprintf(ev->scope, sizeof(ev->scope), "tenant:%llx/", (unsigned long long)v);
    for (unsigned i = (unsigned)n; i < 20 + k % 108; i++)
        ev->scope[i] = c;
    n = snprintf(ev->text, sizeof(ev->text), "m%llx", (unsigned long long)v);
    for (unsigned i = (unsigned)n; i < k % 128; i++)
        ev->text[i] = c;
}

/* Whether out is exactly the event fill_event made (seq aside). */
static bool event_intact(const nr_event *out)
{
    nr_event expect;
    fill_event(&expect, out->instance_id);
    expect.seq = out->seq;
    return memcmp(&expect, out, sizeof(expect)) == 0;
}

/* Whether this build has the event bus (NR_WITH_EVENTS=ON). */
static bool events_built(void)
{
    nr_event_bus *bus = NULL;
    nr_error err;
    nr_error_clear(&err);
    int rc = nr_event_bus_create(&bus, 16, &err);
    if (rc == NR_OK) {
        assert_int_equal(nr_event_bus_destroy(bus), NR_OK);
        return true;
    }
    NR_ASSERT_ERR(err, NR_EINVAL, "events were not built");
    return false;
}

#define REQUIRE_EVENTS()                                                                           \
    do {                                                                                           \
        if (!events_built())                                                                       \
            skip();                                                                                \
    } while (0)

/* ---- events ------------------------------------------------------------- */

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(nr_event_type_name(NR_EV_CREATED), "created");
    assert_string_equal(nr_event_type_name(NR_EV_DESTROYED), "destroyed");
    assert_string_equal(nr_event_type_name(NR_EV_ACQUIRED), "acquired");
    assert_string_equal(nr_event_type_name(NR_EV_RELEASED), "released");
    assert_string_equal(nr_event_type_name(NR_EV_TIMEOUT), "timeout");
    assert_string_equal(nr_event_type_name(NR_EV_POOL_EXHAUSTED), "pool_exhausted");
    assert_string_equal(nr_event_type_name(NR_EV_HEALTH_CHANGED), "health_changed");
    assert_string_equal(nr_event_type_name(NR_EV_QUARANTINED), "quarantined");
    assert_string_equal(nr_event_type_name(NR_EV_CLEANED_UP), "cleaned_up");
    assert_string_equal(nr_event_type_name(NR_EV_ERROR), "error");
    assert_string_equal(nr_event_type_name((nr_event_type)0), "unknown");
    assert_string_equal(nr_event_type_name(NR_EV_BREAKER_OPENED), "breaker_opened");
    assert_string_equal(nr_event_type_name(NR_EV_BREAKER_CLOSED), "breaker_closed");
    assert_string_equal(nr_event_type_name(NR_EV_LEAK_SUSPECTED), "leak_suspected");
    assert_string_equal(nr_event_type_name(NR_EV_LEAK_CLOSED), "leak_closed");
    assert_string_equal(nr_event_type_name(NR_EV_CASCADE_DETECTED), "cascade_detected");
    assert_string_equal(nr_event_type_name(NR_EV_QUARANTINE_RELEASED), "quarantine_released");
    assert_string_equal(nr_event_type_name(NR_EV_QUARANTINE_REFUSED), "quarantine_refused");
    assert_string_equal(nr_event_type_name(NR_EV_HOOK_REFUSED), "hook_refused");
    assert_string_equal(nr_event_type_name(NR_EV_HOOK_FAILED), "hook_failed");
    assert_string_equal(nr_event_type_name(NR_EV_SLOW_ACQUIRE), "slow_acquire");
    assert_int_equal(NR_EV_HOOK_REFUSED, 18);
    assert_int_equal(NR_EV_HOOK_FAILED, 19);
    assert_int_equal(NR_EV_SLOW_ACQUIRE, 20);
    assert_string_equal(nr_event_type_name(NR_EV_REGISTERED), "registered");
    assert_string_equal(nr_event_type_name(NR_EV_UNREGISTERED), "unregistered");
    assert_string_equal(nr_event_type_name(NR_EV_SHUTDOWN_PHASE), "shutdown_phase");
    assert_int_equal(NR_EV_REGISTERED, 21);
    assert_int_equal(NR_EV_UNREGISTERED, 22);
    assert_int_equal(NR_EV_SHUTDOWN_PHASE, 23);
    assert_string_equal(nr_event_type_name(NR_EV_RELOADED), "reloaded");
    assert_int_equal(NR_EV_RELOADED, 24);
    assert_string_equal(nr_event_type_name(NR_EV_SCALED_UP), "scaled_up");
    assert_string_equal(nr_event_type_name(NR_EV_SCALED_DOWN), "scaled_down");
    assert_int_equal(NR_EV_SCALED_UP, 25);
    assert_int_equal(NR_EV_SCALED_DOWN, 26);
    assert_string_equal(nr_event_type_name(NR_EV_TENANT_EVICTED), "tenant_evicted");
    assert_int_equal(NR_EV_TENANT_EVICTED, 27);
    assert_string_equal(nr_event_type_name(NR_EV_FLEET_REDIS_DOWN), "fleet_redis_down");
    assert_string_equal(nr_event_type_name(NR_EV_FLEET_REDIS_UP), "fleet_redis_up");
    assert_string_equal(nr_event_type_name(NR_EV_FLEET_FALLBACK), "fleet_fallback");
    assert_int_equal(NR_EV_FLEET_REDIS_DOWN, 28);
    assert_int_equal(NR_EV_FLEET_REDIS_UP, 29);
    assert_int_equal(NR_EV_FLEET_FALLBACK, 30);
    assert_string_equal(nr_event_type_name((nr_event_type)31), "unknown");
    assert_string_equal(nr_event_type_name((nr_event_type)-1), "unknown");
}

static void test_event_is_fixed_size_value(void **state)
{
    (void)state;
    assert_int_equal(sizeof(nr_event), NR_EVENT_SIZE);
    nr_event ev;
    assert_int_equal(sizeof(ev.resource_id), NR_EVENT_ID_MAX);
    assert_int_equal(sizeof(ev.scope), NR_EVENT_SCOPE_MAX);
    assert_int_equal(sizeof(ev.text), NR_EVENT_TEXT_MAX);
}

static void test_init_and_resource_id_cut(void **state)
{
    (void)state;
    nr_event ev;
    memset(&ev, 0x5a, sizeof(ev));
    nr_event_init(&ev, NR_EV_CREATED, "db-main");
    assert_int_equal(ev.type, NR_EV_CREATED);
    assert_string_equal(ev.resource_id, "db-main");
    assert_int_equal(ev.flags, 0);
    assert_int_equal(ev.seq, 0);
    assert_int_equal(ev.ts_ns, 0);
    assert_int_equal(ev.instance_id, 0);
    assert_string_equal(ev.scope, "");
    assert_string_equal(ev.text, "");

    nr_event_init(&ev, NR_EV_RELEASED, NULL);
    assert_string_equal(ev.resource_id, "");

    char id[100];
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    nr_event_init(&ev, NR_EV_ERROR, id);
    assert_int_equal(strlen(ev.resource_id), NR_EVENT_ID_MAX - 1);
    assert_memory_equal(ev.resource_id + NR_EVENT_ID_MAX - 4, "...", 4);
    assert_true(ev.flags & NR_EVENT_F_ID_CUT);

    /* 63 bytes fit exactly: not cut. */
    id[63] = '\0';
    nr_event_init(&ev, NR_EV_ERROR, id);
    assert_string_equal(ev.resource_id, id);
    assert_int_equal(ev.flags, 0);

    nr_event_init(NULL, NR_EV_ERROR, "x"); /* no-op */
}

static void test_scope_text_and_cut(void **state)
{
    (void)state;
    nr_event ev;
    nr_event_init(&ev, NR_EV_ACQUIRED, "db");
    nr_scope s;
    assert_int_equal(nr_scope_make(&s, "acme", "billing", "42", NULL, NULL), NR_OK);
    nr_event_set_scope(&ev, &s);
    assert_string_equal(ev.scope, "tenant:acme/workflow:billing/execution:42");
    assert_int_equal(ev.flags & NR_EVENT_F_SCOPE_CUT, 0);

    /* The longest scope text is far longer than the field: cut with "...". */
    char id[NR_SCOPE_ID_MAX];
    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    assert_int_equal(nr_scope_make(&s, id, id, id, id, NULL), NR_OK);
    char full[NR_SCOPE_TEXT_MAX];
    size_t need = nr_scope_format(&s, full, sizeof(full));
    assert_true(need > NR_EVENT_SCOPE_MAX);
    nr_event_set_scope(&ev, &s);
    assert_int_equal(strlen(ev.scope), NR_EVENT_SCOPE_MAX - 1);
    assert_memory_equal(ev.scope, full, NR_EVENT_SCOPE_MAX - 4);
    assert_memory_equal(ev.scope + NR_EVENT_SCOPE_MAX - 4, "...", 4);
    assert_true(ev.flags & NR_EVENT_F_SCOPE_CUT);

    /* Setting a short one again clears the mark; NULL means none. */
    nr_scope_global(&s);
    nr_event_set_scope(&ev, &s);
    assert_string_equal(ev.scope, "global");
    assert_int_equal(ev.flags & NR_EVENT_F_SCOPE_CUT, 0);
    nr_event_set_scope(&ev, NULL);
    assert_string_equal(ev.scope, "");
    nr_event_set_scope(NULL, &s); /* no-op */
}

static void test_text_and_cut(void **state)
{
    (void)state;
    nr_event ev;
    nr_event_init(&ev, NR_EV_HEALTH_CHANGED, "db");
    nr_event_set_text(&ev, "3 checks failed");
    assert_string_equal(ev.text, "3 checks failed");
    assert_int_equal(ev.flags, 0);

    char msg[300];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    nr_event_set_text(&ev, msg);
    assert_int_equal(strlen(ev.text), NR_EVENT_TEXT_MAX - 1);
    assert_memory_equal(ev.text + NR_EVENT_TEXT_MAX - 4, "...", 4);
    assert_int_equal(ev.flags, NR_EVENT_F_TEXT_CUT);

    nr_event_set_text(&ev, NULL);
    assert_string_equal(ev.text, "");
    assert_int_equal(ev.flags, 0);
    nr_event_set_text(NULL, "x"); /* no-op */
}

/* ---- bus ---------------------------------------------------------------- */

static void test_create_errors(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_event_bus_create(NULL, 16, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "out pointer is NULL");
    assert_int_equal(nr_event_bus_create(NULL, 16, NULL), NR_EINVAL);

    const uint32_t bad[] = {0,
                            1,
                            8,
                            15,
                            17,
                            24,
                            100,
                            3u << 10,
                            NR_EVENT_BUS_MAX_CAPACITY << 1,
                            NR_EVENT_BUS_MAX_CAPACITY + 1,
                            UINT32_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nr_event_bus *bus = (nr_event_bus *)&err; /* must stay untouched */
        nr_error_clear(&err);
        assert_int_equal(nr_event_bus_create(&bus, bad[i], &err), NR_EINVAL);
        NR_ASSERT_ERR(err, NR_EINVAL, "must be a power of two in 16..1048576");
        assert_ptr_equal(bus, (nr_event_bus *)&err);
    }

    /* Out of memory: the one allocation fails. */
    nr_test_alloc_install();
    nr_test_alloc_fail_after(0);
    nr_event_bus *bus = NULL;
    nr_error_clear(&err);
    assert_int_equal(nr_event_bus_create(&bus, 64, &err), NR_ENOMEM);
    NR_ASSERT_ERR(err, NR_ENOMEM, "event bus: out of memory");
    assert_null(bus);
    nr_test_alloc_reset();
    nr_set_allocator(NULL);

    /* Success leaves err untouched; the smallest and a large ring work. */
    nr_error_clear(&err);
    err.code = 12345;
    assert_int_equal(nr_event_bus_create(&bus, NR_EVENT_BUS_MIN_CAPACITY, &err), NR_OK);
    assert_int_equal(err.code, 12345);
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.capacity, 16);
    assert_int_equal(st.published, 0);
    assert_int_equal(st.collisions, 0);
    assert_int_equal(st.subscribers, 0);
    destroy_bus(bus);
    bus = make_bus(1u << 16);
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.capacity, 1u << 16);
    destroy_bus(bus);
}

static void test_destroy_with_subscriber_is_busy(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    assert_int_equal(nr_event_bus_destroy(NULL), NR_OK);
    nr_event_bus *bus = make_bus(16);
    nr_event_sub *a = subscribe(bus);
    nr_event_sub *b = subscribe(bus);
    assert_int_equal(nr_event_bus_destroy(bus), NR_EBUSY);
    nr_event_unsubscribe(a);
    assert_int_equal(nr_event_bus_destroy(bus), NR_EBUSY);

    /* Nothing was freed: the bus and the remaining subscriber still work. */
    nr_event ev;
    nr_event_init(&ev, NR_EV_CREATED, "still-here");
    nr_event_publish(bus, &ev);
    nr_event out;
    uint64_t missed = 99;
    assert_int_equal(nr_event_next(b, &out, &missed, poll_now), NR_OK);
    assert_string_equal(out.resource_id, "still-here");
    assert_int_equal(missed, 0);
    nr_event_unsubscribe(b);
    destroy_bus(bus);
}

static void test_subscribe_errors(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(16);
    nr_event_sub *sub = (nr_event_sub *)&sub;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_event_subscribe(NULL, &sub, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "bus is NULL");
    assert_int_equal(nr_event_subscribe(bus, NULL, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "out pointer is NULL");
    assert_ptr_equal(sub, (nr_event_sub *)&sub);

    nr_test_alloc_install();
    nr_test_alloc_fail_after(0);
    nr_error_clear(&err);
    assert_int_equal(nr_event_subscribe(bus, &sub, &err), NR_ENOMEM);
    NR_ASSERT_ERR(err, NR_ENOMEM, "out of memory");
    assert_ptr_equal(sub, (nr_event_sub *)&sub);
    nr_test_alloc_reset();
    nr_set_allocator(NULL);

    /* A failed subscribe is not counted. */
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.subscribers, 0);
    nr_event_unsubscribe(NULL); /* no-op */
    destroy_bus(bus);
}

static void test_next_errors_and_empty_poll(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(16);
    nr_event_sub *sub = subscribe(bus);
    nr_event out;
    uint64_t missed = 77;
    assert_int_equal(nr_event_next(NULL, &out, &missed, poll_now), NR_EINVAL);
    assert_int_equal(nr_event_next(sub, NULL, &missed, poll_now), NR_EINVAL);
    assert_int_equal(missed, 77);

    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_ETIMEDOUT);
    assert_int_equal(missed, 0);
    assert_int_equal(nr_event_next(sub, &out, NULL, nr_deadline_in_ns(0)), NR_ETIMEDOUT);

    /* A wait lasts at least until its deadline (only a lower bound). */
    nr_deadline d = nr_deadline_in_ms(30);
    assert_int_equal(nr_event_next(sub, &out, &missed, d), NR_ETIMEDOUT);
    assert_true(nr_now_ns() >= d.at_ns);
    assert_int_equal(missed, 0);

    nr_event_unsubscribe(sub);
    destroy_bus(bus);
}

static void test_no_subscriber_publish_allocates_nothing(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(16);
    nr_event ev;
    nr_event_init(&ev, NR_EV_ACQUIRED, "db");
    nr_test_alloc_install();
    for (int i = 0; i < 200000; i++) {
        ev.instance_id = (uint64_t)i;
        nr_event_publish(bus, &ev);
    }
    assert_int_equal(nr_test_alloc_count(), 0);
    nr_event_publish(NULL, &ev); /* no-ops */
    nr_event_publish(bus, NULL);
    assert_int_equal(nr_test_alloc_count(), 0);
    nr_test_alloc_reset();
    nr_set_allocator(NULL);

    /* Nobody listened: no sequence number was even handed out. */
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.published, 0);
    destroy_bus(bus);
}

static void test_publish_with_subscriber_allocates_nothing(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(64);
    nr_event_sub *sub = subscribe(bus);
    nr_event ev, out;
    nr_event_init(&ev, NR_EV_ACQUIRED, "db");
    nr_test_alloc_install();
    for (int i = 0; i < 10000; i++) {
        ev.instance_id = (uint64_t)i;
        nr_event_publish(bus, &ev);
        if (i % 3 == 0)
            assert_int_equal(nr_event_next(sub, &out, NULL, poll_now), NR_OK);
    }
    assert_int_equal(nr_test_alloc_count(), 0);
    nr_test_alloc_reset();
    nr_set_allocator(NULL);
    nr_event_unsubscribe(sub);
    destroy_bus(bus);
}

static void test_sees_only_events_after_subscribing(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(64);
    nr_event ev, out;
    uint64_t missed;
    nr_event_init(&ev, NR_EV_CREATED, "db");
    for (int i = 0; i < 5; i++)
        nr_event_publish(bus, &ev); /* nobody listens */
    nr_event_sub *a = subscribe(bus);
    for (uint64_t i = 1; i <= 3; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev);
    }
    nr_event_sub *b = subscribe(bus);
    for (uint64_t i = 4; i <= 5; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev);
    }
    for (uint64_t i = 1; i <= 5; i++) {
        assert_int_equal(nr_event_next(a, &out, &missed, poll_now), NR_OK);
        assert_int_equal(out.instance_id, i);
        assert_int_equal(out.seq, i - 1); /* sequence numbers start when someone listens */
        assert_int_equal(missed, 0);
    }
    for (uint64_t i = 4; i <= 5; i++) {
        assert_int_equal(nr_event_next(b, &out, &missed, poll_now), NR_OK);
        assert_int_equal(out.instance_id, i);
        assert_int_equal(out.seq, i - 1);
    }
    assert_int_equal(nr_event_next(a, &out, &missed, poll_now), NR_ETIMEDOUT);
    assert_int_equal(nr_event_next(b, &out, &missed, poll_now), NR_ETIMEDOUT);
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.published, 5);
    assert_int_equal(st.subscribers, 2);
    nr_event_unsubscribe(a);
    nr_event_unsubscribe(b);
    destroy_bus(bus);
}

static void test_fields_round_trip(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(16);
    nr_event_sub *sub = subscribe(bus);
    nr_event out;
    uint64_t missed;

    /* Every length of every string field, 0 .. max - 1, in every event. */
    for (uint64_t v = 0; v < 600; v++) {
        nr_event ev;
        fill_event(&ev, v);
        ev.seq = 12345; /* ignored: publish assigns it */
        nr_event_publish(bus, &ev);
        memset(&out, 0xa5, sizeof(out)); /* leftovers must not show through */
        assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
        assert_int_equal(missed, 0);
        assert_int_equal(out.seq, v);
        assert_true(event_intact(&out));
    }

    /* Full-length strings, and a publisher's unterminated field comes out
     * terminated. */
    nr_event ev;
    nr_event_init(&ev, NR_EV_ERROR, NULL);
    memset(ev.resource_id, 'r', sizeof(ev.resource_id));
    memset(ev.scope, 's', sizeof(ev.scope) - 1);
    memset(ev.text, 't', sizeof(ev.text) - 1);
    ev.error_code = NR_EHEALTH;
    ev.reserved = 0xffffffffu; /* ignored */
    nr_event_publish(bus, &ev);
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
    assert_int_equal(strlen(out.resource_id), NR_EVENT_ID_MAX - 1);
    assert_int_equal(strlen(out.scope), NR_EVENT_SCOPE_MAX - 1);
    assert_int_equal(strlen(out.text), NR_EVENT_TEXT_MAX - 1);
    assert_int_equal(out.error_code, NR_EHEALTH);
    assert_int_equal(out.reserved, 0);

    /* Bytes after a text's NUL are zero, whatever the publisher left there. */
    nr_event_init(&ev, NR_EV_HEALTH_CHANGED, "db");
    memset(ev.text, 'z', sizeof(ev.text));
    memcpy(ev.text, "bad\0", 4);
    ev.health_old = NR_HEALTH_HEALTHY;
    ev.health_new = NR_HEALTH_UNHEALTHY;
    nr_event_publish(bus, &ev);
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
    assert_string_equal(out.text, "bad");
    for (size_t i = 3; i < sizeof(out.text); i++)
        assert_int_equal(out.text[i], 0);
    assert_int_equal(out.health_old, NR_HEALTH_HEALTHY);
    assert_int_equal(out.health_new, NR_HEALTH_UNHEALTHY);

    nr_event_unsubscribe(sub);
    destroy_bus(bus);
}

static void test_timestamp_stamped_or_kept(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(16);
    nr_event_sub *sub = subscribe(bus);
    nr_event ev, out;
    nr_event_init(&ev, NR_EV_RELEASED, "db");
    int64_t before = nr_now_ns();
    nr_event_publish(bus, &ev);
    int64_t after = nr_now_ns();
    assert_int_equal(nr_event_next(sub, &out, NULL, poll_now), NR_OK);
    assert_true(out.ts_ns >= before && out.ts_ns <= after);
    ev.ts_ns = 42;
    nr_event_publish(bus, &ev);
    assert_int_equal(nr_event_next(sub, &out, NULL, poll_now), NR_OK);
    assert_int_equal(out.ts_ns, 42);
    nr_event_unsubscribe(sub);
    destroy_bus(bus);
}

static void test_lag_accounting_exact(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(16);
    nr_event_sub *sub = subscribe(bus);
    nr_event ev, out;
    uint64_t missed = 99;
    nr_event_init(&ev, NR_EV_ACQUIRED, "db");
    for (uint64_t i = 0; i < 40; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev);
    }
    /* The oldest 24 are gone; the newest 16 come in order. */
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
    assert_int_equal(missed, 24);
    assert_int_equal(out.seq, 24);
    assert_int_equal(out.instance_id, 24);
    for (uint64_t i = 25; i < 40; i++) {
        assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
        assert_int_equal(missed, 0);
        assert_int_equal(out.seq, i);
        assert_int_equal(out.instance_id, i);
    }
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_ETIMEDOUT);
    assert_int_equal(missed, 0);

    /* Exactly a ring's worth is not a lag. */
    for (uint64_t i = 40; i < 56; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev);
    }
    for (uint64_t i = 40; i < 56; i++) {
        assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
        assert_int_equal(missed, 0);
        assert_int_equal(out.instance_id, i);
    }

    /* One past a ring: exactly one lost, reported once. */
    for (uint64_t i = 56; i < 73; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev);
    }
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
    assert_int_equal(missed, 1);
    assert_int_equal(out.instance_id, 57);
    uint64_t got = 1;
    while (nr_event_next(sub, &out, &missed, poll_now) == NR_OK) {
        assert_int_equal(missed, 0);
        assert_int_equal(out.instance_id, 57 + got);
        got++;
    }
    assert_int_equal(got, 16);

    /* Two subscribers lag independently. */
    nr_event_sub *late = subscribe(bus);
    for (uint64_t i = 73; i < 83; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev);
    }
    assert_int_equal(nr_event_next(late, &out, &missed, poll_now), NR_OK);
    assert_int_equal(missed, 0);
    assert_int_equal(out.instance_id, 73);
    for (uint64_t i = 83; i < 100; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev);
    }
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
    assert_int_equal(missed, 100 - 16 - 73);
    assert_int_equal(out.instance_id, 84);
    assert_int_equal(nr_event_next(late, &out, &missed, poll_now), NR_OK);
    assert_int_equal(missed, 100 - 16 - 74);
    assert_int_equal(out.instance_id, 84);
    nr_event_unsubscribe(late);
    nr_event_unsubscribe(sub);
    destroy_bus(bus);
}

/* A publisher stalled in the middle of writing its slot: the publisher a ring
 * ahead does not wait for it, drops its own event, and subscribers count that
 * one as missed once the stalled one has finished. */
static void test_publisher_stalled_mid_write(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(16);
    nr_event_sub *sub = subscribe(bus);
    nr_event ev, out;
    uint64_t missed;
    nr_event_init(&ev, NR_EV_ACQUIRED, "db");

    uint64_t n0 = nr__event_claim(bus);
    assert_int_equal(n0, 0);
    assert_int_equal(nr__event_begin(bus, n0), 1); /* slot 0 is now being written */
    for (uint64_t i = 1; i <= 15; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev);
    }
    /* Event 0 is still being written: the subscriber waits for it. */
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_ETIMEDOUT);
    assert_int_equal(missed, 0);
    ev.instance_id = 16;
    nr_event_publish(bus, &ev); /* event 16 falls on slot 0 again: dropped */
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.published, 17);
    assert_int_equal(st.collisions, 1);

    ev.instance_id = 0;
    nr__event_finish(bus, n0, &ev);
    for (uint64_t i = 0; i < 16; i++) {
        assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
        assert_int_equal(missed, 0);
        assert_int_equal(out.seq, i);
        assert_int_equal(out.instance_id, i);
    }
    /* Event 16 was dropped by its publisher. */
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_ETIMEDOUT);
    assert_int_equal(missed, 1);
    ev.instance_id = 17;
    nr_event_publish(bus, &ev);
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
    assert_int_equal(missed, 0);
    assert_int_equal(out.seq, 17);

    /* A subscriber a ring behind a publisher stalled mid-write does not wait
     * for it: it skips to the oldest event held (within a few polls, as it
     * looks at the head only now and then while waiting). */
    uint64_t n1 = nr__event_claim(bus); /* 18, slot 2 */
    assert_int_equal(nr__event_begin(bus, n1), 1);
    for (uint64_t i = 19; i <= 34; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev); /* 34 falls on slot 2: dropped */
    }
    uint64_t lost = 0;
    int rc = NR_ETIMEDOUT;
    for (int tries = 0; tries < 64 && rc != NR_OK; tries++) {
        rc = nr_event_next(sub, &out, &missed, poll_now);
        lost += missed;
    }
    assert_int_equal(rc, NR_OK);
    assert_int_equal(lost, 1);
    assert_int_equal(out.instance_id, 19);
    for (uint64_t i = 20; i <= 33; i++) {
        assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
        assert_int_equal(missed, 0);
        assert_int_equal(out.instance_id, i);
    }
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_ETIMEDOUT);
    assert_int_equal(missed, 1); /* 34, dropped */
    ev.instance_id = 18;
    nr__event_finish(bus, n1, &ev); /* too late for this subscriber */
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_ETIMEDOUT);
    assert_int_equal(missed, 0);
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.collisions, 2);
    nr_event_unsubscribe(sub);
    destroy_bus(bus);
}

/* A publisher stalled after claiming its number but before taking its slot:
 * a subscriber waits for it only while it is less than a ring behind, and the
 * stalled publisher finds its slot taken and drops its event. */
static void test_publisher_stalled_before_writing(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(16);
    nr_event_sub *sub = subscribe(bus);
    nr_event ev, out;
    uint64_t missed;
    nr_event_init(&ev, NR_EV_ACQUIRED, "db");

    uint64_t n0 = nr__event_claim(bus);
    for (uint64_t i = 1; i <= 5; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev);
    }
    /* Event 0 is claimed but not written: nothing to return yet. */
    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_ETIMEDOUT);
    assert_int_equal(missed, 0);

    for (uint64_t i = 6; i <= 16; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev); /* event 16 takes slot 0 */
    }
    /* The late publisher finds its slot taken by a newer event. */
    assert_int_equal(nr__event_begin(bus, n0), 0);
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.collisions, 1);

    assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
    assert_int_equal(missed, 1);
    assert_int_equal(out.instance_id, 1);
    for (uint64_t i = 2; i <= 16; i++) {
        assert_int_equal(nr_event_next(sub, &out, &missed, poll_now), NR_OK);
        assert_int_equal(missed, 0);
        assert_int_equal(out.instance_id, i);
    }

    /* Far behind two stalled publishers of one slot: skip to the oldest
     * event still held instead of waiting for them. */
    nr_event_sub *s2 = subscribe(bus);
    uint64_t n1 = nr__event_claim(bus); /* 17, slot 1 */
    for (uint64_t i = 18; i <= 32; i++) {
        ev.instance_id = i;
        nr_event_publish(bus, &ev);
    }
    uint64_t n2 = nr__event_claim(bus); /* 33, slot 1 again */
    assert_int_equal(n2, n1 + 16);
    ev.instance_id = 34;
    nr_event_publish(bus, &ev);
    /* Head is 35: 17 and 18 are more than a ring behind it. */
    assert_int_equal(nr_event_next(s2, &out, &missed, poll_now), NR_OK); /* first look */
    assert_int_equal(missed, 2);
    assert_int_equal(out.instance_id, 19);
    for (uint64_t i = 20; i <= 32; i++) {
        assert_int_equal(nr_event_next(s2, &out, &missed, poll_now), NR_OK);
        assert_int_equal(missed, 0);
        assert_int_equal(out.instance_id, i);
    }
    /* Event 33 is claimed, not written: wait for it. */
    assert_int_equal(nr_event_next(s2, &out, &missed, poll_now), NR_ETIMEDOUT);
    assert_int_equal(missed, 0);
    /* The newer stalled publisher writes; the older one then finds its slot
     * taken by a newer event and drops its own. */
    assert_int_equal(nr__event_begin(bus, n2), 1);
    ev.instance_id = 33;
    nr__event_finish(bus, n2, &ev);
    assert_int_equal(nr__event_begin(bus, n1), 0);
    for (uint64_t i = 33; i <= 34; i++) {
        assert_int_equal(nr_event_next(s2, &out, &missed, poll_now), NR_OK);
        assert_int_equal(missed, 0);
        assert_int_equal(out.instance_id, i);
    }
    nr_event_unsubscribe(s2);
    nr_event_unsubscribe(sub);
    destroy_bus(bus);
}

/* ---- concurrency ---------------------------------------------------------- */

#define MAX_PUBS 8

typedef struct publisher {
    pthread_t thread;
    nr_event_bus *bus;
    pthread_barrier_t *go;
    unsigned index;
    uint64_t count;    /* events to publish (0: until stop) */
    atomic_bool *stop; /* when count == 0 */
    uint64_t seed;
} publisher;

static void *publish_main(void *arg)
{
    publisher *p = arg;
    nr_rng rng;
    nr_rng_seed(&rng, p->seed);
    pthread_barrier_wait(p->go);
    nr_event ev;
    for (uint64_t c = 1;; c++) {
        if (p->count ? c > p->count
                     /* Relaxed: only a stop request; nothing is read after it. */
                     : atomic_load_explicit(p->stop, memory_order_relaxed))
            break;
        fill_event(&ev, (uint64_t)p->index << PUB_SHIFT | c);
        nr_event_publish(p->bus, &ev);
        if (nr_rng_chance(&rng, 1, 512))
            sched_yield();
    }
    return NULL;
}

typedef struct subscriber {
    pthread_t thread;
    nr_event_sub *sub; /* subscribed before the publishers start */
    pthread_barrier_t *go;
    uint64_t total; /* stop once received + missed reaches it */
    int lag;        /* 1: pause now and then, to fall behind */
    uint64_t seed;
    uint64_t received;
    uint64_t missed;
    char failure[256];
} subscriber;

/* Check one event: intact, and after the same publisher's previous one. */
static int check_event(const nr_event *ev, uint64_t last[MAX_PUBS], char *failure, size_t n)
{
    if (!event_intact(ev)) {
        snprintf(failure, n, "torn or corrupt event seq %llu (instance %llx)",
                 (unsigned long long)ev->seq, (unsigned long long)ev->instance_id);
        return -1;
    }
    uint64_t p = ev->instance_id >> PUB_SHIFT, c = ev->instance_id & COUNTER_MASK;
    if (p >= MAX_PUBS || c <= last[p]) {
        snprintf(failure, n, "publisher %llu: counter %llu after %llu", (unsigned long long)p,
                 (unsigned long long)c, (unsigned long long)(p < MAX_PUBS ? last[p] : 0));
        return -1;
    }
    last[p] = c;
    return 0;
}

static void *subscribe_main(void *arg)
{
    subscriber *s = arg;
    nr_rng rng;
    nr_rng_seed(&rng, s->seed);
    uint64_t last[MAX_PUBS] = {0};
    uint64_t pos = 0; /* the sequence number expected next */
    nr_event ev;
    pthread_barrier_wait(s->go);
    while (s->received + s->missed < s->total) {
        uint64_t missed = 0;
        int rc = nr_event_next(s->sub, &ev, &missed, nr_deadline_in_ms(30000));
        s->missed += missed;
        pos += missed;
        if (rc != NR_OK) {
            snprintf(s->failure, sizeof(s->failure), "next: %s with %llu + %llu of %llu",
                     nr_err_name(rc), (unsigned long long)s->received,
                     (unsigned long long)s->missed, (unsigned long long)s->total);
            return NULL;
        }
        if (ev.seq != pos) {
            snprintf(s->failure, sizeof(s->failure), "seq %llu where %llu was due",
                     (unsigned long long)ev.seq, (unsigned long long)pos);
            return NULL;
        }
        pos++;
        s->received++;
        if (check_event(&ev, last, s->failure, sizeof(s->failure)) != 0)
            return NULL;
        if (s->lag && nr_rng_chance(&rng, 1, 200))
            nr_sleep_ns((int64_t)nr_rng_below(&rng, 300) * NR_NS_PER_US);
    }
    if (s->received + s->missed != s->total)
        snprintf(s->failure, sizeof(s->failure), "%llu received + %llu missed != %llu",
                 (unsigned long long)s->received, (unsigned long long)s->missed,
                 (unsigned long long)s->total);
    return NULL;
}

/* Run npub publishers of per_pub events each and nsub subscribers (lagging
 * where lag[i]) on one bus; every subscriber checks ordering, integrity and
 * exact accounting. Returns the bus's collision count. */
static uint64_t run_pub_sub(uint32_t capacity, unsigned npub, uint64_t per_pub, unsigned nsub,
                            const int *lag, uint64_t seed)
{
    nr_event_bus *bus = make_bus(capacity);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, npub + nsub);
    publisher pubs[MAX_PUBS];
    subscriber subs[MAX_PUBS];
    memset(pubs, 0, sizeof(pubs));
    memset(subs, 0, sizeof(subs));
    for (unsigned i = 0; i < nsub; i++) {
        subs[i].sub = subscribe(bus);
        subs[i].go = &go;
        subs[i].total = npub * per_pub;
        subs[i].lag = lag[i];
        subs[i].seed = seed + 1000 + i;
        assert_int_equal(pthread_create(&subs[i].thread, NULL, subscribe_main, &subs[i]), 0);
    }
    for (unsigned i = 0; i < npub; i++) {
        pubs[i].bus = bus;
        pubs[i].go = &go;
        pubs[i].index = i;
        pubs[i].count = per_pub;
        pubs[i].seed = seed + i;
        assert_int_equal(pthread_create(&pubs[i].thread, NULL, publish_main, &pubs[i]), 0);
    }
    for (unsigned i = 0; i < npub; i++)
        pthread_join(pubs[i].thread, NULL);
    for (unsigned i = 0; i < nsub; i++)
        pthread_join(subs[i].thread, NULL);
    pthread_barrier_destroy(&go);
    for (unsigned i = 0; i < nsub; i++) {
        if (subs[i].failure[0])
            fail_msg("subscriber %u (lag %d): %s", i, lag[i], subs[i].failure);
        assert_int_equal(subs[i].received + subs[i].missed, npub * per_pub);
        nr_event_unsubscribe(subs[i].sub);
    }
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.published, npub * per_pub);
    destroy_bus(bus);
    return st.collisions;
}

static void test_per_publisher_order_keeping_up(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    uint64_t seed = nr_test_seed("per_publisher_order_keeping_up");
    const int lag[2] = {0, 0};
    uint64_t per = (uint64_t)nr_test_iterations(20000);
    run_pub_sub(1u << 16, 4, per, 2, lag, seed);
}

static void test_per_publisher_order_lagging(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    uint64_t seed = nr_test_seed("per_publisher_order_lagging");
    const int lag[2] = {1, 0};
    uint64_t per = (uint64_t)nr_test_iterations(20000);
    run_pub_sub(64, 4, per, 2, lag, seed);
    run_pub_sub(16, 4, per, 2, lag, seed + 1);
}

/* Readers racing overwrites on the smallest ring: every event returned is
 * consistent (every field derives from one counter value). */
static void test_torn_reads_never_returned(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    uint64_t seed = nr_test_seed("torn_reads_never_returned");
    const int lag[3] = {0, 0, 1};
    uint64_t per = (uint64_t)nr_test_iterations(30000);
    run_pub_sub(16, 3, per, 3, lag, seed);
}

/* 8 threads: publishers, steady subscribers and one that keeps subscribing,
 * reading a little and unsubscribing; random ring size (seeded). */
typedef struct churner {
    pthread_t thread;
    nr_event_bus *bus;
    pthread_barrier_t *go;
    atomic_bool *stop;
    uint64_t seed;
    atomic_ulong rounds; /* read by the main thread while it runs */
    uint64_t received;
    char failure[256];
} churner;

/* Relaxed: a progress count; the join orders the final value. */
static unsigned long rounds_of(churner *c)
{
    return atomic_load_explicit(&c->rounds, memory_order_relaxed);
}

static void *churn_main(void *arg)
{
    churner *c = arg;
    nr_rng rng;
    nr_rng_seed(&rng, c->seed);
    pthread_barrier_wait(c->go);
    nr_event ev;
    /* Relaxed: only a stop request. */
    while (!atomic_load_explicit(c->stop, memory_order_relaxed)) {
        nr_event_sub *sub = NULL;
        if (nr_event_subscribe(c->bus, &sub, NULL) != NR_OK) {
            snprintf(c->failure, sizeof(c->failure), "subscribe failed");
            return NULL;
        }
        uint64_t last[MAX_PUBS] = {0};
        uint64_t want = nr_rng_below(&rng, 200);
        for (uint64_t i = 0; i < want; i++) {
            int rc = nr_event_next(sub, &ev, NULL, nr_deadline_in_ms(2));
            if (rc == NR_ETIMEDOUT)
                break;
            if (rc != NR_OK || check_event(&ev, last, c->failure, sizeof(c->failure)) != 0) {
                if (!c->failure[0])
                    snprintf(c->failure, sizeof(c->failure), "next: %s", nr_err_name(rc));
                nr_event_unsubscribe(sub);
                return NULL;
            }
            c->received++;
        }
        nr_event_unsubscribe(sub);
        /* Relaxed: a progress count. */
        atomic_fetch_add_explicit(&c->rounds, 1, memory_order_relaxed);
    }
    return NULL;
}

static void test_many_threads_with_churn(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    uint64_t seed = nr_test_seed("many_threads_with_churn");
    nr_rng rng;
    nr_rng_seed(&rng, seed);
    static const uint32_t caps[] = {16, 32, 256, 4096};
    uint32_t capacity = caps[nr_rng_below(&rng, 4)];
    enum { NPUB = 4, NSUB = 3 };
    uint64_t per = (uint64_t)nr_test_iterations(15000);
    fprintf(stderr, "[info] capacity %u, %d publishers x %llu, %d subscribers + 1 churning\n",
            capacity, NPUB, (unsigned long long)per, NSUB);

    nr_event_bus *bus = make_bus(capacity);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, NPUB + NSUB + 1);
    atomic_bool stop;
    atomic_init(&stop, false);
    publisher pubs[NPUB];
    subscriber subs[NSUB];
    churner ch;
    memset(pubs, 0, sizeof(pubs));
    memset(subs, 0, sizeof(subs));
    memset(&ch, 0, sizeof(ch));
    atomic_init(&ch.rounds, 0);
    for (unsigned i = 0; i < NSUB; i++) {
        subs[i].sub = subscribe(bus);
        subs[i].go = &go;
        subs[i].total = NPUB * per;
        subs[i].lag = (int)nr_rng_below(&rng, 2);
        subs[i].seed = nr_rng_next(&rng);
        assert_int_equal(pthread_create(&subs[i].thread, NULL, subscribe_main, &subs[i]), 0);
    }
    ch.bus = bus;
    ch.go = &go;
    ch.stop = &stop;
    ch.seed = nr_rng_next(&rng);
    assert_int_equal(pthread_create(&ch.thread, NULL, churn_main, &ch), 0);
    for (unsigned i = 0; i < NPUB; i++) {
        pubs[i].bus = bus;
        pubs[i].go = &go;
        pubs[i].index = i;
        pubs[i].count = per;
        pubs[i].seed = nr_rng_next(&rng);
        assert_int_equal(pthread_create(&pubs[i].thread, NULL, publish_main, &pubs[i]), 0);
    }
    for (unsigned i = 0; i < NPUB; i++)
        pthread_join(pubs[i].thread, NULL);
    for (unsigned i = 0; i < NSUB; i++)
        pthread_join(subs[i].thread, NULL);
    /* Relaxed: only a stop request. */
    atomic_store_explicit(&stop, true, memory_order_relaxed);
    pthread_join(ch.thread, NULL);
    pthread_barrier_destroy(&go);
    for (unsigned i = 0; i < NSUB; i++) {
        if (subs[i].failure[0])
            fail_msg("subscriber %u: %s", i, subs[i].failure);
        nr_event_unsubscribe(subs[i].sub);
    }
    if (ch.failure[0])
        fail_msg("churning subscriber: %s", ch.failure);
    assert_true(rounds_of(&ch) > 0);
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.subscribers, 0);
    fprintf(stderr, "[info] churn rounds %llu, collisions %llu\n",
            (unsigned long long)rounds_of(&ch), (unsigned long long)st.collisions);
    destroy_bus(bus);
}

/* Subscribers come and go while publishers run without pause. */
static void test_unsubscribe_while_publishing(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    uint64_t seed = nr_test_seed("unsubscribe_while_publishing");
    enum { NPUB = 2, NCHURN = 2 };
    nr_event_bus *bus = make_bus(64);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, NPUB + NCHURN);
    atomic_bool stop;
    atomic_init(&stop, false);
    publisher pubs[NPUB];
    churner ch[NCHURN];
    memset(pubs, 0, sizeof(pubs));
    memset(ch, 0, sizeof(ch));
    for (unsigned i = 0; i < NCHURN; i++) {
        atomic_init(&ch[i].rounds, 0);
        ch[i].bus = bus;
        ch[i].go = &go;
        ch[i].stop = &stop;
        ch[i].seed = seed + 100 + i;
        assert_int_equal(pthread_create(&ch[i].thread, NULL, churn_main, &ch[i]), 0);
    }
    for (unsigned i = 0; i < NPUB; i++) {
        pubs[i].bus = bus;
        pubs[i].go = &go;
        pubs[i].index = i;
        pubs[i].stop = &stop;
        pubs[i].seed = seed + i;
        assert_int_equal(pthread_create(&pubs[i].thread, NULL, publish_main, &pubs[i]), 0);
    }
    /* Let them run until the churners have gone round enough times. */
    int64_t give_up = nr_now_ns() + 60 * NR_NS_PER_S;
    while ((rounds_of(&ch[0]) < 200 || rounds_of(&ch[1]) < 200) && nr_now_ns() < give_up)
        nr_sleep_ns(NR_NS_PER_MS);
    /* Relaxed: only a stop request. */
    atomic_store_explicit(&stop, true, memory_order_relaxed);
    for (unsigned i = 0; i < NPUB; i++)
        pthread_join(pubs[i].thread, NULL);
    for (unsigned i = 0; i < NCHURN; i++)
        pthread_join(ch[i].thread, NULL);
    pthread_barrier_destroy(&go);
    for (unsigned i = 0; i < NCHURN; i++) {
        if (ch[i].failure[0])
            fail_msg("churner %u: %s", i, ch[i].failure);
        assert_true(rounds_of(&ch[i]) > 0);
    }
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    assert_int_equal(st.subscribers, 0);
    /* With nobody subscribed, publishing no longer hands out numbers. */
    nr_event ev;
    nr_event_init(&ev, NR_EV_CREATED, "db");
    nr_event_publish(bus, &ev);
    nr_event_bus_stats st2;
    nr_event_bus_get_stats(bus, &st2);
    assert_int_equal(st2.published, st.published);
    destroy_bus(bus);
}

typedef struct late_publisher {
    nr_event_bus *bus;
    int64_t delay_ns;
} late_publisher;

static void *publish_later(void *arg)
{
    late_publisher *lp = arg;
    nr_sleep_ns(lp->delay_ns);
    nr_event ev;
    nr_event_init(&ev, NR_EV_POOL_EXHAUSTED, "late");
    ev.count = 10;
    nr_event_publish(lp->bus, &ev);
    return NULL;
}

/* A subscriber blocked in nr_event_next gets an event published later by
 * another thread (for each waiting phase: spin, yield, sleep). */
static void test_waiting_subscriber_is_woken(void **state)
{
    (void)state;
    REQUIRE_EVENTS();
    nr_event_bus *bus = make_bus(16);
    nr_event_sub *sub = subscribe(bus);
    const int64_t delays[] = {0, 20 * NR_NS_PER_US, 300 * NR_NS_PER_US, 5 * NR_NS_PER_MS};
    for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
        late_publisher lp = {bus, delays[i]};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, publish_later, &lp), 0);
        nr_event out;
        uint64_t missed = 5;
        assert_int_equal(nr_event_next(sub, &out, &missed, nr_deadline_in_ms(60000)), NR_OK);
        assert_int_equal(missed, 0);
        assert_int_equal(out.type, NR_EV_POOL_EXHAUSTED);
        assert_string_equal(out.resource_id, "late");
        assert_int_equal(out.count, 10);
        pthread_join(t, NULL);
    }
    nr_event_unsubscribe(sub);
    destroy_bus(bus);
}

/* ---- built without events ------------------------------------------------ */

static void test_switched_off_build(void **state)
{
    (void)state;
    if (events_built())
        skip();
    nr_event_bus *bus = NULL;
    nr_error err;
    nr_error_clear(&err);
    assert_int_equal(nr_event_bus_create(&bus, 64, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "events were not built");
    assert_null(bus);
    nr_event ev;
    nr_event_init(&ev, NR_EV_CREATED, "db");
    nr_event_publish(NULL, &ev);
    nr_event_sub *sub = NULL;
    assert_int_equal(nr_event_subscribe(NULL, &sub, NULL), NR_EINVAL);
    nr_event out;
    assert_int_equal(nr_event_next(NULL, &out, NULL, poll_now), NR_EINVAL);
    nr_event_unsubscribe(NULL);
    assert_int_equal(nr_event_bus_destroy(NULL), NR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_event_is_fixed_size_value),
        cmocka_unit_test(test_init_and_resource_id_cut),
        cmocka_unit_test(test_scope_text_and_cut),
        cmocka_unit_test(test_text_and_cut),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_destroy_with_subscriber_is_busy),
        cmocka_unit_test(test_subscribe_errors),
        cmocka_unit_test(test_next_errors_and_empty_poll),
        cmocka_unit_test(test_no_subscriber_publish_allocates_nothing),
        cmocka_unit_test(test_publish_with_subscriber_allocates_nothing),
        cmocka_unit_test(test_sees_only_events_after_subscribing),
        cmocka_unit_test(test_fields_round_trip),
        cmocka_unit_test(test_timestamp_stamped_or_kept),
        cmocka_unit_test(test_lag_accounting_exact),
        cmocka_unit_test(test_publisher_stalled_mid_write),
        cmocka_unit_test(test_publisher_stalled_before_writing),
        cmocka_unit_test(test_waiting_subscriber_is_woken),
        cmocka_unit_test(test_per_publisher_order_keeping_up),
        cmocka_unit_test(test_per_publisher_order_lagging),
        cmocka_unit_test(test_torn_reads_never_returned),
        cmocka_unit_test(test_many_threads_with_churn),
        cmocka_unit_test(test_unsubscribe_while_publishing),
        cmocka_unit_test(test_switched_off_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
