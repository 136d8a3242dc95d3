/*
 * pool_observe.c - what a pool tells its event bus.
 */
#include <string.h>

#include "pool/pool_internal.h"

void nr__pool_event(nr_pool *p, nr_event_type type, uint64_t instance_id, int64_t wait_ns,
                    int64_t count, int code, const char *text)
{
    /* nothing is built unless someone listens: a relaxed load and a branch */
    if (!p->events || !nr_event_bus_wanted(p->events))
        return;
    nr_event ev;
    nr_event_init(&ev, type, p->id);
    memcpy(ev.scope, p->scope_text, sizeof(ev.scope));
    ev.instance_id = instance_id;
    ev.wait_ns = wait_ns;
    ev.count = count;
    ev.error_code = code;
    if (text)
        nr_event_set_text(&ev, text);
    nr_event_publish(p->events, &ev);
}
