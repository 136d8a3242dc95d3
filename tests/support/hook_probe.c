/* hook_probe.c - see hook_probe.h. */
#define _POSIX_C_SOURCE 200809L
#include "hook_probe.h"

#include <stdio.h>
#include <string.h>

#include "testutil.h"

static void seen_of(nr_hook_seen *s, const nr_hook_call *c)
{
    memset(s, 0, sizeof(*s));
    s->op = c->op;
    snprintf(s->resource_id, sizeof(s->resource_id), "%s", c->resource_id ? c->resource_id : "");
    snprintf(s->type_name, sizeof(s->type_name), "%s", c->type_name ? c->type_name : "");
    s->pool_set = c->pool != NULL;
    s->instance_id = c->instance_id;
    s->rc = c->rc;
    s->error_set = c->error != NULL;
    if (c->error)
        snprintf(s->error, sizeof(s->error), "%s", c->error->message);
    s->duration_ns = c->duration_ns;
    s->wait_ns = c->wait_ns;
    s->health = c->health;
    snprintf(s->site_file, sizeof(s->site_file), "%s", c->site_file ? c->site_file : "");
    s->site_line = c->site_line;
    snprintf(s->caller, sizeof(s->caller), "%s", c->caller ? c->caller : "");
}

static void log_append(nr_hook_probe *p, const char *what)
{
    if (!p->log)
        return;
    size_t n = strlen(p->log->text);
    snprintf(p->log->text + n, sizeof(p->log->text) - n, "%s:%s ", p->tag, what);
}

static int probe_before(void *ud, const nr_hook_call *call, nr_error *err)
{
    nr_hook_probe *p = ud;
    atomic_fetch_add(&p->befores[call->op], 1);
    if (p->count_only)
        return NR_OK;
    seen_of(&p->last_before, call);
    log_append(p, "b");
    if (p->refuse && (!p->refuse_only || p->refuse_only == call->instance_id))
        return nr_error_set(err, p->refuse, call->resource_id, "refused by %s", p->tag);
    return NR_OK;
}

static int probe_after(void *ud, const nr_hook_call *call, nr_error *err)
{
    nr_hook_probe *p = ud;
    atomic_fetch_add(&p->afters[call->op], 1);
    if (p->count_only)
        return NR_OK;
    seen_of(&p->last_after, call);
    seen_of(&p->last_after_of[call->op], call);
    log_append(p, "a");
    if (p->fail_after)
        return nr_error_set(err, p->fail_after, call->resource_id, "after of %s failed", p->tag);
    return NR_OK;
}

void nr_hook_probe_def(nr_hook_probe *p, const char *tag, nr_hook_def *def)
{
    *def = (nr_hook_def)NR_HOOK_DEF_INIT;
    p->tag = tag;
    def->name = tag;
    def->before = probe_before;
    def->after = probe_after;
    def->ud = p;
}

uint64_t nr_hook_probe_add(nr_hooks *h, nr_hook_probe *p, const char *tag, uint32_t ops,
                           int32_t priority)
{
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_hook_probe_def(p, tag, &def);
    def.ops = ops;
    def.priority = priority;
    uint64_t id = 0;
    nr_error err = {0};
    if (nr_hooks_add(h, &def, &id, &err) != NR_OK)
        fail_msg("nr_hooks_add(%s): %s", tag, err.message);
    assert_true(id != 0);
    return id;
}
