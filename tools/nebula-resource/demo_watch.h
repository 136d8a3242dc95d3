/*
 * demo_watch.h - what the manager did about the demo's outage, as its
 * events tell it: a thread subscribed to the manager's event bus keeps the
 * health changes (HealthChanged), cascades (CascadeDetected) and quarantine
 * steps (Quarantined, QuarantineReleased) with their times, for the live
 * output and for the summary at the end.
 *
 * Ownership: demo_watch_start gives the caller a watcher (subscribed to
 * bus, which must outlive it) that demo_watch_stop unsubscribes and frees;
 * NULL is a no-op for every function.
 *
 * Thread safety: the functions below from one thread (the demo's main
 * thread); the watcher's own thread only reads the bus and appends under
 * the watcher's lock.
 */
#ifndef NR_CLI_DEMO_WATCH_H
#define NR_CLI_DEMO_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "demo_outage.h"
#include "nebula/events.h"

typedef struct demo_watch demo_watch;

/* Subscribe and start the thread; times are shown relative to start_ns.
 * 0, or -1 with msg set. */
int demo_watch_start(demo_watch **out, nr_event_bus *bus, int64_t start_ns, char *msg, size_t len);

/* Write the steps seen since the last call, one line each ("[  1.7s]
 * orders-db healthy -> unhealthy: ..."); on a terminal each line first
 * clears the progress line. */
void demo_watch_print_new(demo_watch *w, FILE *out, bool tty);

/* Whether a CascadeDetected from root has been seen. */
bool demo_watch_saw_cascade(demo_watch *w, const char *root);

/* The outage's story for the summary: when the lock was taken and given
 * back, every step the manager took from then on, when everything was
 * healthy again, and what the workers were refused. */
void demo_watch_summary(demo_watch *w, const demo_outage *o, FILE *out, long refused, long locked);

/* Stop the thread, unsubscribe and free. */
void demo_watch_stop(demo_watch *w);

#endif
