/*
 * bench_events.c - event bus publish cost and throughput.
 *
 *   bench_events [--events N] [--capacity C] [--runs R]
 *
 * One line per case: one publisher thread publishing N events with 0
 * subscribers, with 1 subscriber that never reads (the ring is written but no
 * other core reads it: the publisher's own cost), and with 1 and 4
 * subscribers, each in its own thread draining with nr_event_next.
 * clock=bus cases leave ts_ns 0 so that publish reads nr_now_ns(); clock=own
 * cases pass a timestamp the publisher already has (as a pool that has just
 * timed an acquire would). Draining subscribers report the events they were
 * delivered per second and the share they received and missed; received +
 * missed always equals what was published (checked).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nebula/events.h"
#include "nebula/resource.h"

#define MAX_SUBS 4

typedef struct drainer {
    pthread_t thread;
    nr_event_sub *sub;
    atomic_bool *stop;
    uint64_t received;
    uint64_t missed;
} drainer;

static void *drain(void *arg)
{
    drainer *d = arg;
    nr_deadline deadline = nr_deadline_in_ms(5); /* renewed only when it passes */
    nr_event ev;
    for (;;) {
        uint64_t missed = 0;
        /* Acquire: pairs with the release store of stop after the last
         * publish, so a call after it sees every event. */
        int stopping = atomic_load_explicit(d->stop, memory_order_acquire);
        int rc = nr_event_next(d->sub, &ev, &missed, deadline);
        d->missed += missed;
        if (rc == NR_OK) {
            d->received++;
        } else {
            if (stopping)
                break;
            deadline = nr_deadline_in_ms(5);
        }
    }
    return NULL;
}

typedef struct result {
    double ns_per_publish;
    double delivered_per_s; /* per subscriber */
    double received_pct;
    double missed_pct;
    uint64_t collisions;
} result;

/* One run; subs < 0: one subscriber that never reads. */
static result run_once(uint64_t events, uint32_t capacity, int subs, int own_clock)
{
    nr_event_sub *idle = NULL;
    nr_event_bus *bus;
    nr_error err = {0};
    if (nr_event_bus_create(&bus, capacity, &err) != NR_OK) {
        fprintf(stderr, "bench_events: %s\n", err.message);
        exit(1);
    }
    atomic_bool stop;
    atomic_init(&stop, false);
    drainer d[MAX_SUBS];
    memset(d, 0, sizeof(d));
    if (subs < 0 && nr_event_subscribe(bus, &idle, &err) != NR_OK) {
        fprintf(stderr, "bench_events: %s\n", err.message);
        exit(1);
    }
    for (int i = 0; i < subs; i++) {
        d[i].stop = &stop;
        if (nr_event_subscribe(bus, &d[i].sub, &err) != NR_OK ||
            pthread_create(&d[i].thread, NULL, drain, &d[i]) != 0) {
            fprintf(stderr, "bench_events: cannot start a subscriber\n");
            exit(1);
        }
    }
    nr_scope scope;
    nr_scope_make(&scope, "acme", "billing", NULL, NULL, NULL);
    nr_event ev;
    nr_event_init(&ev, NR_EV_ACQUIRED, "db-main");
    nr_event_set_scope(&ev, &scope);
    int64_t t0 = nr_now_ns();
    for (uint64_t i = 0; i < events; i++) {
        ev.instance_id = i;
        ev.wait_ns = (int64_t)(i & 1023);
        ev.ts_ns = own_clock ? t0 + (int64_t)i : 0;
        nr_event_publish(bus, &ev);
    }
    int64_t elapsed = nr_now_ns() - t0;
    /* Release: the drainers see every publish before they see stop. */
    atomic_store_explicit(&stop, true, memory_order_release);
    uint64_t received = 0, missed = 0;
    nr_event_unsubscribe(idle);
    for (int i = 0; i < subs; i++) {
        pthread_join(d[i].thread, NULL);
        received += d[i].received;
        missed += d[i].missed;
        nr_event_unsubscribe(d[i].sub);
    }
    int64_t drained = nr_now_ns() - t0;
    nr_event_bus_stats st;
    nr_event_bus_get_stats(bus, &st);
    if (nr_event_bus_destroy(bus) != NR_OK) {
        fprintf(stderr, "bench_events: destroy failed\n");
        exit(1);
    }
    result res = {(double)elapsed / (double)events, 0, 0, 0, st.collisions};
    if (subs > 0) {
        uint64_t due = events * (uint64_t)subs;
        if (received + missed != due) {
            fprintf(stderr, "bench_events: accounting mismatch: %llu + %llu != %llu\n",
                    (unsigned long long)received, (unsigned long long)missed,
                    (unsigned long long)due);
            exit(1);
        }
        res.delivered_per_s = (double)received / (double)subs / ((double)drained / 1e9);
        res.received_pct = 100.0 * (double)received / (double)due;
        res.missed_pct = 100.0 * (double)missed / (double)due;
    }
    return res;
}

static int by_cost(const void *a, const void *b)
{
    double x = ((const result *)a)->ns_per_publish, y = ((const result *)b)->ns_per_publish;
    return (x > y) - (x < y);
}

#define MAX_RUNS 15

/* Run a case `runs` times and print the median run (by publish cost) with
 * the range: the machines are shared, single runs are noisy. */
static void run_case(uint64_t events, uint32_t capacity, int subs, int own_clock, int runs)
{
    result r[MAX_RUNS];
    for (int i = 0; i < runs; i++)
        r[i] = run_once(events, capacity, subs, own_clock);
    qsort(r, (size_t)runs, sizeof(r[0]), by_cost);
    const result *m = &r[runs / 2];
    printf("events subscribers=%-6s clock=%s capacity=%u: %6.2f ns/publish (%.2f..%.2f) "
           "%6.2f M publishes/s",
           subs < 0    ? "1-idle"
           : subs == 0 ? "0"
           : subs == 1 ? "1"
                       : "4",
           own_clock ? "own" : "bus", capacity, m->ns_per_publish, r[0].ns_per_publish,
           r[runs - 1].ns_per_publish, 1e3 / m->ns_per_publish);
    if (subs > 0)
        printf(" | each subscriber: %6.2f M delivered/s, received %5.1f%%, missed %5.1f%%,"
               " collisions %llu",
               m->delivered_per_s / 1e6, m->received_pct, m->missed_pct,
               (unsigned long long)m->collisions);
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    uint64_t events = 5000000;
    uint32_t capacity = 4096;
    int runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--events"))
            events = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--capacity"))
            capacity = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "bench_events: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (events < 1 || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "bench_events: bad arguments\n");
        return 2;
    }
    nr_event_bus *probe;
    nr_error err = {0};
    if (nr_event_bus_create(&probe, capacity, &err) != NR_OK) {
        printf("events: %s; nothing to measure\n", err.message);
        return err.code == NR_EINVAL && strstr(err.message, "not built") ? 0 : 1;
    }
    nr_event_bus_destroy(probe);
    run_case(events * 5, capacity, 0, 0, runs);
    run_case(events, capacity, -1, 0, runs);
    run_case(events, capacity, -1, 1, runs);
    run_case(events, capacity, 1, 0, runs);
    run_case(events, capacity, 1, 1, runs);
    run_case(events, capacity, 4, 0, runs);
    run_case(events, capacity, 4, 1, runs);
    return 0;
}
