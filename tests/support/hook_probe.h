/*
 * hook_probe.h - a hook for tests of the hook registry: it counts its
 * callbacks, copies what each was told, appends its tag to a shared order
 * log, and refuses or fails when told to.
 */
#ifndef NR_HOOK_PROBE_H
#define NR_HOOK_PROBE_H

#include <stdatomic.h>
#include <stdint.h>

#include "nebula/hooks.h"

#define NR_HOOK_PROBE_LOG 512

/* The order callbacks ran in: "tag:b " per before, "tag:a " per after. */
typedef struct nr_hook_log {
    char text[NR_HOOK_PROBE_LOG];
} nr_hook_log;

/* What one callback was told (copied: the call's pointers live only during it). */
typedef struct nr_hook_seen {
    nr_hook_op op;
    char resource_id[64];
    char type_name[64];
    int pool_set;
    uint64_t instance_id;
    int rc;
    char error[NR_ERROR_MESSAGE_MAX]; /* "" when call->error was NULL */
    int error_set;
    int64_t duration_ns, wait_ns;
    nr_health_state health;
    char site_file[64];
    int site_line;
    char caller[64];
} nr_hook_seen;

typedef struct nr_hook_probe {
    const char *tag;
    nr_hook_log *log;     /* may be NULL */
    int refuse;           /* before returns this (with message "refused by TAG"); 0 = pass */
    uint64_t refuse_only; /* refuse only calls about this instance id; 0 = every call */
    int fail_after;       /* after returns this (message "after of TAG failed"); 0 = ok */
    int count_only;       /* only count (no copies, no log): for many threads at once */
    atomic_int befores[NR_HOOK_OP_COUNT], afters[NR_HOOK_OP_COUNT];
    nr_hook_seen last_before, last_after; /* of the latest call (any op) */
    nr_hook_seen last_after_of[NR_HOOK_OP_COUNT];
} nr_hook_probe;

/* Fill def with the probe's callbacks (both), name = tag, every op, ud = p. */
void nr_hook_probe_def(nr_hook_probe *p, const char *tag, nr_hook_def *def);
/* Add a probe with the given ops and priority to h; returns its id. */
uint64_t nr_hook_probe_add(nr_hooks *h, nr_hook_probe *p, const char *tag, uint32_t ops,
                           int32_t priority);

#endif
