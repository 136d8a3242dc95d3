/*
 * hooks_run.c - running the hooks of one operation: the filters, the
 * befores (a refusal stops them), the afters, and the events that tell a
 * refusal or a hook's failure.
 */
#define _POSIX_C_SOURCE 200809L
#include "hooks/hooks_internal.h"

#include <stdio.h>
#include <string.h>

void nr__hook_call_init(nr_hook_call *call, nr_hook_op op, const char *resource_id,
                        const char *type_name, const nr_scope *scope, struct nr_pool *pool,
                        uint64_t instance_id)
{
    memset(call, 0, sizeof(*call));
    call->op = op;
    call->resource_id = resource_id;
    call->type_name = type_name;
    call->scope = scope;
    call->pool = pool;
    call->instance_id = instance_id;
    call->health = NR_HEALTH_UNKNOWN;
}

/* Whether hk wants call: its op, its type, its resource, its scope. */
static bool matches(const nr__hook *hk, const nr_hook_call *call)
{
    if (!(hk->ops & NR_HOOK_OP_BIT(call->op)))
        return false;
    if (hk->has_type && (!call->type_name || strcmp(hk->type_name, call->type_name) != 0))
        return false;
    if (hk->has_resource) {
        const char *r = call->resource_id ? call->resource_id : "";
        if (hk->resource_prefix ? strncmp(r, hk->resource, hk->resource_len) != 0
                                : strcmp(r, hk->resource) != 0)
            return false;
    }
    if (hk->has_scope) {
        /* the call's scope: the caller's when it carries one, else the pool's */
        const nr_scope *s = call->caller_scope ? call->caller_scope : call->scope;
        if (!s || !nr_scope_contains(&hk->scope, s))
            return false;
    }
    return true;
}

static bool can_refuse(nr_hook_op op)
{
    return op != NR_HOOK_RELEASE && op != NR_HOOK_DESTROY;
}

/* A callback's code as an operation's: an NR_E* code other than NR_OK. */
static int as_error_code(int rc)
{
    return rc < 0 && rc >= NR_ERR_MIN ? rc : NR_EPERM;
}

static void publish(nr_hooks *h, nr_event_type type, const nr_hook_call *call, int code,
                    const char *text)
{
    if (!h->events || !nr_event_bus_wanted(h->events))
        return;
    nr_event ev;
    nr_event_init(&ev, type, call->resource_id);
    const nr_scope *s = call->caller_scope ? call->caller_scope : call->scope;
    if (s)
        nr_event_set_scope(&ev, s);
    ev.instance_id = call->instance_id;
    ev.error_code = code;
    ev.count = (int64_t)call->op;
    nr_event_set_text(&ev, text);
    nr_event_publish(h->events, &ev);
}

/* Run one callback inside a frame of h (so a remove from it is refused). */
static int call_one(nr_hooks *h, nr_hook_before_fn fn, void *ud, const nr_hook_call *call,
                    nr_error *e)
{
    nr__hook_frame f;
    nr__hook_frame_push(&f, h);
    nr__error_reset(e);
    int rc = fn(ud, call, e);
    nr__hook_frame_pop(&f);
    return rc;
}

/* A hook's failure that is told, not raised. */
static void failed(nr_hooks *h, const nr__hook *hk, const char *when, const nr_hook_call *call,
                   int rc, const nr_error *e)
{
    char text[NR_ERROR_MESSAGE_MAX + NR_HOOK_NAME_MAX + 96];
    snprintf(text, sizeof(text), "hook '%s' failed %s %s of '%s': %s", hk->name, when,
             nr_hook_op_name(call->op), call->resource_id ? call->resource_id : "",
             e->message[0] ? e->message : nr_strerror(rc));
    publish(h, NR_EV_HOOK_FAILED, call, as_error_code(rc), text);
}

int nr__hooks_before(nr_hooks *h, nr__hook_run *run, nr_hook_call *call, nr_error *err)
{
    if (!(atomic_load_explicit(&h->before_mask, memory_order_relaxed) & NR_HOOK_OP_BIT(call->op))) {
        /* afters only: no section to enter, just the hooks that take part */
        run->seq_limit = atomic_load_explicit(&h->seq_limit, memory_order_seq_cst);
        run->active = true;
        run->t0 = nr_now_ns();
        return NR_OK;
    }
    unsigned epoch;
    nr__hooks_snap *s = nr__hooks_enter(h, &epoch);
    run->seq_limit = s->seq_limit;
    run->active = false;
    int refused = NR_OK;
    const nr__hook *by = NULL;
    nr_error e;
    for (size_t i = 0; i < s->n; i++) {
        const nr__hook *hk = s->hooks[i];
        if (!hk->before || !matches(hk, call))
            continue;
        int rc = call_one(h, hk->before, hk->ud, call, &e);
        if (rc == NR_OK)
            continue;
        if (!can_refuse(call->op)) {
            failed(h, hk, "before", call, rc, &e);
            continue;
        }
        refused = as_error_code(rc);
        by = hk;
        break;
    }
    if (refused != NR_OK) {
        /* name and message copied before leaving: the hook may go after that */
        nr_error full;
        nr_error_clear(&full);
        nr_error_set_cause(&full, refused, e.cause, e.driver_code, call->resource_id,
                           "hook '%s' refused %s of '%s': %s", by->name, nr_hook_op_name(call->op),
                           call->resource_id ? call->resource_id : "",
                           e.message[0] ? e.message : nr_strerror(refused));
        nr__hooks_leave(h, epoch);
        publish(h, NR_EV_HOOK_REFUSED, call, refused, full.message);
        if (err)
            *err = full;
        return refused;
    }
    nr__hooks_leave(h, epoch);
    run->active = true;
    run->t0 = nr_now_ns();
    return NR_OK;
}

void nr__hooks_after(nr_hooks *h, nr__hook_run *run, nr_hook_call *call)
{
    if (!run->active)
        return;
    run->active = false;
    call->duration_ns = nr_now_ns() - run->t0;
    if (call->rc == NR_OK)
        call->error = NULL;
    unsigned epoch;
    nr__hooks_snap *s = nr__hooks_enter(h, &epoch);
    nr_error e;
    for (size_t i = 0; i < s->n; i++) {
        const nr__hook *hk = s->hooks[i];
        if (!hk->after || hk->seq >= run->seq_limit || !matches(hk, call))
            continue;
        int rc = call_one(h, hk->after, hk->ud, call, &e);
        if (rc != NR_OK)
            failed(h, hk, "after", call, rc, &e);
    }
    nr__hooks_leave(h, epoch);
}
