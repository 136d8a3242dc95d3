/*
 * hooks.c - the hook registry: create and destroy, add and remove, and the
 * reader sections with their reclamation (see the top of hooks_internal.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "base/abi.h"
#include "hooks/hooks_internal.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "nebula/alloc.h"
#include "nebula/id.h"

#define DEFAULT_MAX_HOOKS 64
#define MAX_MAX_HOOKS     4096
#define DRAIN_SLEEP_NS    (20 * NR_NS_PER_US)

const char *nr_hook_op_name(nr_hook_op op)
{
    switch (op) {
    case NR_HOOK_CREATE:
        return "create";
    case NR_HOOK_ACQUIRE:
        return "acquire";
    case NR_HOOK_RELEASE:
        return "release";
    case NR_HOOK_DESTROY:
        return "destroy";
    case NR_HOOK_HEALTH_CHECK:
        return "health_check";
    case NR_HOOK_QUARANTINE:
        return "quarantine";
    case NR_HOOK_QUARANTINE_RELEASE:
        return "quarantine_release";
    case NR_HOOK_OP_COUNT:
        break;
    }
    return "unknown";
}

/* ---- the thread's frames -------------------------------------------------------------- */

static _Thread_local nr__hook_frame *tl_frames;

void nr__hook_frame_push(nr__hook_frame *f, const nr_hooks *h)
{
    f->h = h;
    f->up = tl_frames;
    tl_frames = f;
}

void nr__hook_frame_pop(nr__hook_frame *f)
{
    assert(tl_frames == f);
    tl_frames = f->up;
}

bool nr__hook_inside(const nr_hooks *h)
{
    for (const nr__hook_frame *f = tl_frames; f; f = f->up)
        if (f->h == h)
            return true;
    return false;
}

/* ---- reader sections ------------------------------------------------------------------ */

/* The calling thread's shard: threads are spread over the shards in the
 * order they first enter any registry. */
static _Thread_local unsigned tl_shard = ~0u;
static _Atomic unsigned next_shard;

static unsigned my_shard(void)
{
    if (__builtin_expect(tl_shard == ~0u, 0))
        tl_shard =
            atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % NR__HOOKS_SHARDS;
    return tl_shard;
}

nr__hooks_snap *nr__hooks_enter(nr_hooks *h, unsigned *epoch)
{
    unsigned me = my_shard();
    for (;;) {
        unsigned e = atomic_load_explicit(&h->epoch, memory_order_seq_cst);
        atomic_fetch_add_explicit(&h->readers[e & 1u][me].n, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&h->epoch, memory_order_seq_cst) == e) {
            *epoch = e;
            return atomic_load_explicit(&h->snap, memory_order_seq_cst);
        }
        /* a writer flipped the epoch meanwhile: enter the new one */
        atomic_fetch_sub_explicit(&h->readers[e & 1u][me].n, 1, memory_order_release);
    }
}

void nr__hooks_leave(nr_hooks *h, unsigned epoch)
{
    /* release: the reader's use of the snapshot happens before the writer's
     * load that sees the counter drained. The same thread entered, so the
     * same shard. */
    atomic_fetch_sub_explicit(&h->readers[epoch & 1u][my_shard()].n, 1, memory_order_release);
}

/* [wmu] Flip the epoch and wait until no reader is left in the old one:
 * every shard of it at 0 (a shard seen at 0 stays so for the old epoch: a
 * reader entering it now sees the new epoch and leaves again). */
static void drain_epoch_locked(nr_hooks *h)
{
    unsigned e = atomic_load_explicit(&h->epoch, memory_order_seq_cst);
    atomic_store_explicit(&h->epoch, e + 1u, memory_order_seq_cst);
    for (unsigned k = 0; k < NR__HOOKS_SHARDS; k++)
        while (atomic_load_explicit(&h->readers[e & 1u][k].n, memory_order_seq_cst) != 0)
            nr_sleep_ns(DRAIN_SLEEP_NS);
}

/* [wmu] Free the snapshots retired before the last drain. */
static void free_retired_locked(nr_hooks *h)
{
    while (h->retired) {
        nr__hooks_snap *next = h->retired->retired_next;
        nr_free(h->retired);
        h->retired = next;
    }
}

/* [wmu] Publish s as the hooks in force, with the mask of its ops. */
static void publish_locked(nr_hooks *h, nr__hooks_snap *s)
{
    uint32_t mask = 0, before = 0;
    for (size_t i = 0; i < s->n; i++) {
        mask |= s->hooks[i]->ops;
        if (s->hooks[i]->before)
            before |= s->hooks[i]->ops;
    }
    atomic_store_explicit(&h->snap, s, memory_order_seq_cst);
    atomic_store_explicit(&h->seq_limit, s->seq_limit, memory_order_seq_cst);
    atomic_store_explicit(&h->before_mask, before, memory_order_relaxed);
    atomic_store_explicit(&h->ops_mask, mask, memory_order_relaxed);
}

static nr__hooks_snap *snap_alloc(size_t n)
{
    nr__hooks_snap *s = nr_calloc(1, sizeof(*s) + n * sizeof(s->hooks[0]));
    if (s)
        s->n = n;
    return s;
}

/* ---- create and destroy ---------------------------------------------------------------- */

void nr_hooks_options_default(nr_hooks_options *o)
{
    nr_hooks_options d = NR_HOOKS_OPTIONS(.max_hooks = DEFAULT_MAX_HOOKS);
    nr__abi_default(o, &d, sizeof(d));
}

int nr_hooks_create(nr_hooks **out, const nr_hooks_options *opts, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_hooks_create: out must not be NULL");
    *out = NULL;
    nr_hooks_options o = NR_HOOKS_OPTIONS_INIT;
    nr_hooks_options_default(&o);
    if (opts) {
        int rc = NR__ABI_IN(&o, opts, nr_hooks_options, NR_HOOKS_OPTIONS_INIT, err);
        if (rc != NR_OK)
            return rc;
        if (o.max_hooks == 0)
            o.max_hooks = DEFAULT_MAX_HOOKS;
    }
    if (o.max_hooks > MAX_MAX_HOOKS)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "hooks options: max_hooks must be 1..%d (got %zu)", MAX_MAX_HOOKS,
                            o.max_hooks);
    nr_hooks *h = nr_calloc(1, sizeof(*h));
    nr__hooks_snap *s = snap_alloc(0);
    if (!h || !s || pthread_mutex_init(&h->wmu, NULL) != 0) {
        nr_free(h);
        nr_free(s);
        return nr_error_set(err, NR_ENOMEM, NULL, "hooks: out of memory");
    }
    h->magic = NR__HOOKS_MAGIC;
    h->max_hooks = o.max_hooks;
    h->events = o.events;
    h->next_id = 1;
    h->next_seq = 1;
    s->seq_limit = 1;
    atomic_init(&h->snap, s);
    atomic_init(&h->ops_mask, 0);
    atomic_init(&h->before_mask, 0);
    atomic_init(&h->seq_limit, 1);
    atomic_init(&h->epoch, 0);
    for (unsigned k = 0; k < NR__HOOKS_SHARDS; k++) {
        atomic_init(&h->readers[0][k].n, 0);
        atomic_init(&h->readers[1][k].n, 0);
    }
    *out = h;
    return NR_OK;
}

int nr_hooks_destroy(nr_hooks *h, nr_error *err)
{
    if (!h)
        return NR_OK;
    assert(h->magic == NR__HOOKS_MAGIC);
    if (nr__hook_inside(h))
        return nr_error_set(err, NR_EBUSY, NULL,
                            "nr_hooks_destroy: called from one of the registry's own callbacks");
    pthread_mutex_lock(&h->wmu);
    /* Readers still leaving (an after that began as its pool went away): wait
     * for both epochs. */
    drain_epoch_locked(h);
    drain_epoch_locked(h);
    free_retired_locked(h);
    nr__hooks_snap *s = atomic_load_explicit(&h->snap, memory_order_relaxed);
    for (size_t i = 0; i < s->n; i++)
        nr_free(s->hooks[i]);
    nr_free(s);
    pthread_mutex_unlock(&h->wmu);
    pthread_mutex_destroy(&h->wmu);
    h->magic = 0;
    nr_free(h);
    return NR_OK;
}

size_t nr_hooks_count(nr_hooks *h)
{
    if (!h)
        return 0;
    unsigned e;
    size_t n = nr__hooks_enter(h, &e)->n;
    nr__hooks_leave(h, e);
    return n;
}

/* ---- add ----------------------------------------------------------------------------------- */

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* The characters of an id (nebula/id.h). */
static bool id_chars_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!nr_id_char_ok(s[i]))
            return false;
    return true;
}

/* Check def (of this library's size) and copy it into hk; NR_EINVAL names
 * the field and the rule. */
static int hook_from_def(nr__hook *hk, const nr_hook_def *def, nr_error *err)
{
    size_t n = def->name ? strlen(def->name) : 0;
    if (n == 0)
        return nr_error_set(err, NR_EINVAL, NULL, "hook: name is required");
    if (n >= NR_HOOK_NAME_MAX)
        return nr_error_set(err, NR_EINVAL, NULL, "hook: name must be at most %d bytes (got %zu)",
                            NR_HOOK_NAME_MAX - 1, n);
    if (!printable(def->name, n))
        return nr_error_set(err, NR_EINVAL, NULL,
                            "hook: name must be printable ASCII (bytes 0x20..0x7e)");
    const char *name = def->name;
    if (!def->before && !def->after)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "hook '%s': before and after are both NULL; give at least one", name);
    if (def->ops & ~NR_HOOK_OPS_ALL)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "hook '%s': ops has unknown bits 0x%x (known: 0x%x)", name,
                            def->ops & ~NR_HOOK_OPS_ALL, NR_HOOK_OPS_ALL);
    memset(hk, 0, sizeof(*hk));
    memcpy(hk->name, name, n + 1);
    hk->priority = def->priority;
    hk->ops = def->ops ? def->ops : NR_HOOK_OPS_ALL;
    hk->before = def->before;
    hk->after = def->after;
    hk->ud = def->ud;
    if (def->type_name) {
        size_t t = strlen(def->type_name);
        if (t == 0 || t >= NR_HOOK_NAME_MAX || !printable(def->type_name, t))
            return nr_error_set(err, NR_EINVAL, NULL,
                                "hook '%s': type_name filter must be 1..%d printable bytes", name,
                                NR_HOOK_NAME_MAX - 1);
        hk->has_type = true;
        memcpy(hk->type_name, def->type_name, t + 1);
    }
    if (def->resource) {
        size_t r = strlen(def->resource);
        bool prefix = r > 0 && def->resource[r - 1] == '*';
        size_t k = prefix ? r - 1 : r;
        if ((!prefix && k == 0) || k >= NR_ERROR_ID_MAX || !id_chars_ok(def->resource, k))
            return nr_error_set(err, NR_EINVAL, NULL,
                                "hook '%s': resource filter must be an id (1..%d bytes of "
                                "A-Za-z0-9_.:@-), or a prefix of one followed by '*'",
                                name, NR_ERROR_ID_MAX - 1);
        hk->has_resource = true;
        hk->resource_prefix = prefix;
        hk->resource_len = k;
        memcpy(hk->resource, def->resource, k);
        hk->resource[k] = '\0';
    }
    if (def->scope) {
        char text[NR_SCOPE_TEXT_MAX];
        nr_scope back;
        nr_error se;
        nr_error_clear(&se);
        if ((unsigned)def->scope->level >= NR_SCOPE_LEVELS ||
            nr_scope_format(def->scope, text, sizeof(text)) >= sizeof(text) ||
            nr_scope_parse(&back, text, &se) != NR_OK || !nr_scope_equal(&back, def->scope))
            return nr_error_set(err, NR_EINVAL, NULL,
                                "hook '%s': scope filter is not a valid "
                                "scope%s%s",
                                name, se.message[0] ? ": " : "", se.message);
        hk->has_scope = true;
        hk->scope = *def->scope;
    }
    return NR_OK;
}

int nr_hooks_add(nr_hooks *h, const nr_hook_def *def, uint64_t *id, nr_error *err)
{
    if (!h)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_hooks_add: registry must not be NULL");
    assert(h->magic == NR__HOOKS_MAGIC);
    if (!def)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_hooks_add: def must not be NULL");
    nr_hook_def d;
    int rc = NR__ABI_IN(&d, def, nr_hook_def, NR_HOOK_DEF_INIT, err);
    if (rc != NR_OK)
        return rc;
    nr__hook tmp;
    rc = hook_from_def(&tmp, &d, err);
    if (rc != NR_OK)
        return rc;
    nr__hook *hk = nr_malloc(sizeof(*hk));
    if (!hk)
        return nr_error_set(err, NR_ENOMEM, NULL, "hook '%s': out of memory", tmp.name);
    *hk = tmp;

    pthread_mutex_lock(&h->wmu);
    nr__hooks_snap *old = atomic_load_explicit(&h->snap, memory_order_relaxed);
    if (old->n >= h->max_hooks) {
        size_t max = h->max_hooks;
        pthread_mutex_unlock(&h->wmu);
        nr_free(hk);
        return nr_error_set(err, NR_EEXHAUSTED, NULL,
                            "hook '%s': the registry holds max_hooks (%zu) hooks already", tmp.name,
                            max);
    }
    nr__hooks_snap *s = snap_alloc(old->n + 1);
    if (!s) {
        pthread_mutex_unlock(&h->wmu);
        nr_free(hk);
        return nr_error_set(err, NR_ENOMEM, NULL, "hook '%s': out of memory", tmp.name);
    }
    hk->id = h->next_id++;
    hk->seq = h->next_seq++;
    /* The new hook goes after every hook of a lower or equal priority: equal
     * ones keep the order they were added in. */
    size_t at = 0;
    while (at < old->n && old->hooks[at]->priority <= hk->priority)
        at++;
    memcpy(s->hooks, old->hooks, at * sizeof(s->hooks[0]));
    s->hooks[at] = hk;
    memcpy(s->hooks + at + 1, old->hooks + at, (old->n - at) * sizeof(s->hooks[0]));
    s->seq_limit = h->next_seq;
    publish_locked(h, s);
    if (nr__hook_inside(h)) {
        /* from a callback: its own reader section would never drain */
        old->retired_next = h->retired;
        h->retired = old;
    } else {
        drain_epoch_locked(h); /* readers of the old array leave it before it is freed */
        free_retired_locked(h);
        nr_free(old);
    }
    pthread_mutex_unlock(&h->wmu);
    if (id)
        *id = hk->id;
    return NR_OK;
}

/* ---- remove ---------------------------------------------------------------------------------- */

int nr_hooks_remove(nr_hooks *h, uint64_t id, nr_error *err)
{
    if (!h)
        return nr_error_set(err, NR_EINVAL, NULL, "nr_hooks_remove: registry must not be NULL");
    assert(h->magic == NR__HOOKS_MAGIC);
    if (nr__hook_inside(h))
        return nr_error_set(err, NR_EBUSY, NULL,
                            "nr_hooks_remove: called from one of the registry's own callbacks (it "
                            "would wait for itself)");
    pthread_mutex_lock(&h->wmu);
    nr__hooks_snap *old = atomic_load_explicit(&h->snap, memory_order_relaxed);
    size_t at = 0;
    while (at < old->n && old->hooks[at]->id != id)
        at++;
    if (at == old->n) {
        pthread_mutex_unlock(&h->wmu);
        return nr_error_set(err, NR_ENOTFOUND, NULL, "hook %llu: no such hook (or removed already)",
                            (unsigned long long)id);
    }
    nr__hooks_snap *s = snap_alloc(old->n - 1);
    if (!s) {
        pthread_mutex_unlock(&h->wmu);
        return nr_error_set(err, NR_ENOMEM, NULL, "hook '%s': out of memory for the removal",
                            old->hooks[at]->name);
    }
    nr__hook *gone = old->hooks[at];
    memcpy(s->hooks, old->hooks, at * sizeof(s->hooks[0]));
    memcpy(s->hooks + at, old->hooks + at + 1, (old->n - at - 1) * sizeof(s->hooks[0]));
    s->seq_limit = old->seq_limit;
    publish_locked(h, s);
    /* After the drain no reader holds the old snapshot: no callback of the
     * removed hook runs, and none will start. */
    drain_epoch_locked(h);
    free_retired_locked(h);
    nr_free(old);
    nr_free(gone);
    pthread_mutex_unlock(&h->wmu);
    return NR_OK;
}
