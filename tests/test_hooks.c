/*
 * test_hooks.c - the hook registry through a pool of the mock type: order by
 * priority then insertion, every filter, a refusal in every before that can
 * refuse (and what the operation then did not do), before errors of release
 * and destroy told and not raised, the outcome each after sees, after errors
 * told and not raised, and the rules of adding and removing. Counts and
 * order are checked, never how long anything took.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook_probe.h"
#include "pool_fixture.h"
#include "testutil.h"

typedef struct hx {
    nr_pool_fixture *f;
    nr_hooks *h;
    nr_event_bus *bus;
    nr_event_sub *sub;
    nr_hook_log log;
} hx;

static int setup(void **state)
{
    hx *x = calloc(1, sizeof(*x));
    void *fs = NULL;
    nr_pool_fixture_setup(&fs);
    x->f = fs;
    assert_int_equal(nr_event_bus_create(&x->bus, 1024, NULL), NR_OK);
    assert_int_equal(nr_event_subscribe(x->bus, &x->sub, NULL), NR_OK);
    nr_hooks_options o = NR_HOOKS_OPTIONS_INIT;
    nr_hooks_options_default(&o);
    o.events = x->bus;
    nr_error err = {0};
    assert_int_equal(nr_hooks_create(&x->h, &o, &err), NR_OK);
    x->f->hooks = x->h;
    x->f->events = x->bus;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    hx *x = *state;
    void *fs = x->f;
    nr_pool_fixture_teardown(&fs); /* creates == destroys */
    assert_int_equal(nr_hooks_destroy(x->h, NULL), NR_OK);
    nr_event_unsubscribe(x->sub);
    assert_int_equal(nr_event_bus_destroy(x->bus), NR_OK);
    free(x);
    return 0;
}

/* The end of a test: the pool goes while the test's probes (on its stack)
 * still live, and so do the hooks. */
static void done(hx *x)
{
    if (x->f->pool)
        assert_int_equal(nr_pool_destroy(x->f->pool, NULL), NR_OK);
    x->f->pool = NULL;
    assert_int_equal(nr_hooks_destroy(x->h, NULL), NR_OK);
    x->h = NULL;
}

/* Events of type seen since the last call; the last one's text to text. */
static int events_of(hx *x, nr_event_type type, nr_event *last)
{
    int n = 0;
    nr_event ev;
    while (nr_event_next(x->sub, &ev, NULL, nr_deadline_in_ns(0)) == NR_OK) {
        if (ev.type != type)
            continue;
        n++;
        if (last)
            *last = ev;
    }
    return n;
}

static void acquire_release(nr_pool *p, const nr_ctx *ctx)
{
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    if (nr_pool_acquire(p, ctx, &g, &err) != NR_OK)
        fail_msg("acquire: %s", err.message);
    assert_int_equal(nr_guard_release(&g), NR_OK);
}

static void prime(nr_pool_fixture *f, uint32_t n)
{
    nr_error err = {0};
    if (nr_pool_prime(f->pool, n, nr_deadline_in_ms(5000), &err) != NR_OK)
        fail_msg("prime: %s", err.message);
}

/* ---- order ------------------------------------------------------------------------ */

static void test_order_by_priority_then_insertion(void **state)
{
    hx *x = *state;
    nr_hook_probe a = {.log = &x->log}, b = {.log = &x->log}, c = {.log = &x->log},
                  d = {.log = &x->log};
    uint32_t acq = NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE);
    nr_hook_probe_add(x->h, &a, "A", acq, 10);
    nr_hook_probe_add(x->h, &b, "B", acq, 0);
    nr_hook_probe_add(x->h, &c, "C", acq, 10);
    nr_hook_probe_add(x->h, &d, "D", acq, -5);
    assert_int_equal(nr_hooks_count(x->h), 4);
    nr_pool_fixture_make(x->f, "p");
    acquire_release(x->f->pool, NULL);
    assert_string_equal(x->log.text, "D:b B:b A:b C:b D:a B:a A:a C:a ");
    done(x);
}

/* ---- filters ---------------------------------------------------------------------- */

static nr_pool *extra_pool(nr_pool_fixture *f, const char *id, const nr_scope *scope)
{
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = id, .type = &nr_mock_type, .type_ud = &f->fake, .config = &f->cfg,
                        .pool = &f->pcfg, .scope = scope, .hooks = f->hooks);
    nr_pool *p = NULL;
    nr_error err = {0};
    if (nr_pool_create(&p, &o, &err) != NR_OK)
        fail_msg("nr_pool_create: %s", err.message);
    return p;
}

static uint64_t add_filtered(hx *x, nr_hook_probe *p, const char *tag, const char *type,
                             const char *resource, const nr_scope *scope)
{
    nr_hook_def def = NR_HOOK_DEF_INIT;
    nr_hook_probe_def(p, tag, &def);
    def.ops = NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE);
    def.type_name = type;
    def.resource = resource;
    def.scope = scope;
    uint64_t id;
    nr_error err = {0};
    if (nr_hooks_add(x->h, &def, &id, &err) != NR_OK)
        fail_msg("add %s: %s", tag, err.message);
    return id;
}

static int acquires_seen(nr_hook_probe *p)
{
    return atomic_load(&p->befores[NR_HOOK_ACQUIRE]);
}

static void test_filter_type_name(void **state)
{
    hx *x = *state;
    nr_hook_probe fake = {0}, other = {0};
    add_filtered(x, &fake, "mock-only", "mock", NULL, NULL);
    add_filtered(x, &other, "other-only", "postgres", NULL, NULL);
    nr_pool_fixture_make(x->f, "p");
    acquire_release(x->f->pool, NULL);
    assert_int_equal(acquires_seen(&fake), 1);
    assert_int_equal(acquires_seen(&other), 0);
    assert_string_equal(fake.last_before.type_name, "mock");
    done(x);
}

static void test_filter_resource_exact_and_prefix(void **state)
{
    hx *x = *state;
    nr_hook_probe exact = {0}, prefix = {0}, any = {0};
    add_filtered(x, &exact, "exact", NULL, "orders-db", NULL);
    add_filtered(x, &prefix, "prefix", NULL, "orders-*", NULL);
    add_filtered(x, &any, "star", NULL, "*", NULL);
    nr_pool_fixture_make(x->f, "orders-db");
    nr_pool *cache = extra_pool(x->f, "orders-cache", NULL);
    nr_pool *users = extra_pool(x->f, "users", NULL);
    nr_pool *longer = extra_pool(x->f, "orders-db2", NULL);
    acquire_release(x->f->pool, NULL);
    assert_int_equal(acquires_seen(&exact), 1);
    assert_int_equal(acquires_seen(&prefix), 1);
    acquire_release(cache, NULL);
    assert_int_equal(acquires_seen(&exact), 1);
    assert_int_equal(acquires_seen(&prefix), 2);
    acquire_release(users, NULL);
    assert_int_equal(acquires_seen(&prefix), 2);
    acquire_release(longer, NULL); /* exact means exact, not a prefix */
    assert_int_equal(acquires_seen(&exact), 1);
    assert_int_equal(acquires_seen(&prefix), 3);
    assert_int_equal(acquires_seen(&any), 4);
    assert_int_equal(nr_pool_destroy(cache, NULL), NR_OK);
    assert_int_equal(nr_pool_destroy(users, NULL), NR_OK);
    assert_int_equal(nr_pool_destroy(longer, NULL), NR_OK);
    done(x);
}

static void test_filter_scope_pool_and_caller(void **state)
{
    hx *x = *state;
    nr_scope acme, globex, billing, caller_billing, caller_other;
    assert_int_equal(nr_scope_make(&acme, "acme", NULL, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_scope_make(&globex, "globex", NULL, NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_scope_make(&billing, "acme", "billing", NULL, NULL, NULL), NR_OK);
    assert_int_equal(nr_scope_make(&caller_billing, "acme", "billing", "run-1", NULL, NULL), NR_OK);
    assert_int_equal(nr_scope_make(&caller_other, "acme", "shipping", NULL, NULL, NULL), NR_OK);
    nr_hook_probe in_acme = {0}, in_globex = {0}, in_billing = {0};
    add_filtered(x, &in_acme, "acme", NULL, NULL, &acme);
    add_filtered(x, &in_globex, "globex", NULL, NULL, &globex);
    add_filtered(x, &in_billing, "billing", NULL, NULL, &billing);

    /* a pool of acme's: its scope is the call's when the caller gives none */
    x->f->scope = &acme;
    nr_pool_fixture_make(x->f, "p");
    acquire_release(x->f->pool, NULL);
    assert_int_equal(acquires_seen(&in_acme), 1);
    assert_int_equal(acquires_seen(&in_globex), 0);
    assert_int_equal(acquires_seen(&in_billing), 0);
    /* a caller's scope is the call's */
    nr_ctx ctx = NR_CTX(.scope = &caller_billing, .caller = "checkout");
    acquire_release(x->f->pool, &ctx);
    assert_int_equal(acquires_seen(&in_acme), 2);
    assert_int_equal(acquires_seen(&in_billing), 1);
    assert_string_equal(in_billing.last_before.caller, "checkout");
    ctx.scope = &caller_other;
    acquire_release(x->f->pool, &ctx);
    assert_int_equal(acquires_seen(&in_acme), 3);
    assert_int_equal(acquires_seen(&in_billing), 1);
    assert_int_equal(acquires_seen(&in_globex), 0);

    /* a Global pool: only a caller inside acme makes a call acme's */
    nr_pool *global = extra_pool(x->f, "g", NULL);
    acquire_release(global, NULL);
    assert_int_equal(acquires_seen(&in_acme), 3);
    ctx.scope = &caller_billing;
    acquire_release(global, &ctx);
    assert_int_equal(acquires_seen(&in_acme), 4);
    assert_int_equal(acquires_seen(&in_billing), 2);
    assert_int_equal(nr_pool_destroy(global, NULL), NR_OK);
    done(x);
}

static void test_ops_filter(void **state)
{
    hx *x = *state;
    nr_hook_probe rel = {0}, all = {0};
    nr_hook_probe_add(x->h, &rel, "rel", NR_HOOK_OP_BIT(NR_HOOK_RELEASE), 0);
    nr_hook_probe_add(x->h, &all, "all", 0, 0); /* 0: every operation */
    nr_pool_fixture_make(x->f, "p");
    acquire_release(x->f->pool, NULL);
    assert_int_equal(atomic_load(&rel.befores[NR_HOOK_ACQUIRE]), 0);
    assert_int_equal(atomic_load(&rel.befores[NR_HOOK_CREATE]), 0);
    assert_int_equal(atomic_load(&rel.befores[NR_HOOK_RELEASE]), 1);
    assert_int_equal(atomic_load(&rel.afters[NR_HOOK_RELEASE]), 1);
    assert_int_equal(atomic_load(&all.befores[NR_HOOK_CREATE]), 1);
    assert_int_equal(atomic_load(&all.befores[NR_HOOK_ACQUIRE]), 1);
    assert_int_equal(atomic_load(&all.befores[NR_HOOK_RELEASE]), 1);
    done(x);
}

/* ---- refusals ------------------------------------------------------------------------ */

static void test_refused_acquire(void **state)
{
    hx *x = *state;
    nr_hook_probe policy = {.refuse = NR_EPERM}, later = {0}, first = {0};
    nr_hook_probe_add(x->h, &first, "first", NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE), -1);
    nr_hook_probe_add(x->h, &policy, "tenant-policy", NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE), 0);
    nr_hook_probe_add(x->h, &later, "later", NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE), 1);
    nr_pool_fixture_make(x->f, "orders-db");
    prime(x->f, 1);
    events_of(x, NR_EV_HOOK_REFUSED, NULL);

    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(x->f->pool, NULL, &g, &err), NR_EPERM);
    NR_ASSERT_ERR(err, NR_EPERM,
                  "hook 'tenant-policy' refused acquire of 'orders-db': refused by tenant-policy");
    assert_null(g.inst);
    nr_pool_stats s = nr_pool_fixture_stats(x->f);
    assert_int_equal(s.acquires, 0);
    assert_int_equal(s.in_use, 0);
    assert_int_equal(s.idle, 1);
    /* the first refusal stops the befores; no after for a refused operation */
    assert_int_equal(atomic_load(&first.befores[NR_HOOK_ACQUIRE]), 1);
    assert_int_equal(atomic_load(&later.befores[NR_HOOK_ACQUIRE]), 0);
    assert_int_equal(atomic_load(&first.afters[NR_HOOK_ACQUIRE]), 0);
    assert_int_equal(atomic_load(&policy.afters[NR_HOOK_ACQUIRE]), 0);
    nr_event ev;
    assert_int_equal(events_of(x, NR_EV_HOOK_REFUSED, &ev), 1);
    assert_int_equal(ev.error_code, NR_EPERM);
    assert_int_equal(ev.count, NR_HOOK_ACQUIRE);
    assert_string_equal(ev.resource_id, "orders-db");
    assert_non_null(strstr(ev.text, "hook 'tenant-policy' refused acquire of 'orders-db'"));

    /* with err NULL the code still comes back */
    assert_int_equal(nr_pool_acquire(x->f->pool, NULL, &g, NULL), NR_EPERM);
    done(x);
}

static void test_refused_create(void **state)
{
    hx *x = *state;
    nr_hook_probe quota = {.refuse = NR_EUNAVAIL};
    nr_hook_probe_add(x->h, &quota, "quota", NR_HOOK_OP_BIT(NR_HOOK_CREATE), 0);
    x->f->pcfg.create_backoff_ms = 1;
    x->f->pcfg.create_backoff_max_ms = 1;
    x->f->pcfg.breaker_failures = 0;
    nr_pool_fixture_make(x->f, "p");

    nr_error err = {0};
    assert_int_equal(nr_pool_prime(x->f->pool, 1, nr_deadline_in_ms(5000), &err), NR_EUNAVAIL);
    assert_non_null(strstr(err.message, "hook 'quota' refused create of 'p': refused by quota"));
    /* an acquire that waited gets the refusal as the cause */
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(50));
    nr_error_clear(&err);
    assert_int_equal(nr_pool_acquire(x->f->pool, &ctx, &g, &err), NR_ETIMEDOUT);
    assert_int_equal(err.cause, NR_EUNAVAIL);
    assert_non_null(strstr(err.message, "hook 'quota' refused create of 'p'"));
    /* the creator may still run the retry the waiter asked for: once it has
     * ended, nothing was created: failed creates, counted */
    assert_int_equal(nr_pool_wait_returned(x->f->pool, nr_deadline_in_ms(5000), &err), NR_OK);
    assert_int_equal(atomic_load(&x->f->fake.create_calls), 0);
    nr_pool_stats s = nr_pool_fixture_stats(x->f);
    assert_int_equal(s.creates, 0);
    assert_true(s.create_failures >= 2);
    assert_int_equal(s.total, 0);
    assert_int_equal(atomic_load(&quota.afters[NR_HOOK_CREATE]), 0);
    assert_true(events_of(x, NR_EV_HOOK_REFUSED, NULL) >= 2);
    done(x);
}

static void test_refused_health_check(void **state)
{
    hx *x = *state;
    x->f->pcfg.instance_quarantine_after = 0; /* unhealthy: destroyed */
    nr_pool_fixture_make(x->f, "p");
    prime(x->f, 2);
    nr_hook_probe keep1 = {.refuse = NR_EPERM, .refuse_only = 1};
    nr_hook_probe_add(x->h, &keep1, "keep-1", NR_HOOK_OP_BIT(NR_HOOK_HEALTH_CHECK), 0);
    atomic_store(&x->f->fake.health, NR_HEALTH_UNHEALTHY);
    nr_pool_health_report rep;
    assert_int_equal(nr_pool_check_health(x->f->pool, NR_NS_PER_S, &rep, NULL), NR_OK);
    assert_int_equal(rep.checked, 1);
    assert_int_equal(rep.discarded, 1);
    assert_int_equal(atomic_load(&x->f->fake.health_checks), 1);
    assert_int_equal(atomic_load(&keep1.befores[NR_HOOK_HEALTH_CHECK]), 2);
    assert_int_equal(atomic_load(&keep1.afters[NR_HOOK_HEALTH_CHECK]), 1);
    /* the after saw instance 2's verdict */
    assert_int_equal(keep1.last_after_of[NR_HOOK_HEALTH_CHECK].instance_id, 2);
    assert_int_equal(keep1.last_after_of[NR_HOOK_HEALTH_CHECK].health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(keep1.last_after_of[NR_HOOK_HEALTH_CHECK].rc, NR_EHEALTH);
    nr_pool_stats s = nr_pool_fixture_stats(x->f);
    assert_int_equal(s.total, 1); /* instance 1, not checked, kept */
    assert_int_equal(s.idle, 1);
    assert_int_equal(events_of(x, NR_EV_HOOK_REFUSED, NULL), 1);
    done(x);
}

static void quarantine_config(nr_pool_fixture *f)
{
    f->pcfg.instance_quarantine_after = 1;
    f->pcfg.instance_quarantine_base_ms = 100;
    f->pcfg.instance_quarantine_factor = 2.0;
    f->pcfg.instance_quarantine_max_ms = 1000;
    f->pcfg.instance_quarantine_jitter = 0;
    f->pcfg.instance_quarantine_max_attempts = 5;
    f->pcfg.replace_degraded = false;
    f->fake_clock = 1;
}

static nr_pool_health_report health_round(nr_pool_fixture *f)
{
    nr_pool_health_report rep;
    assert_int_equal(nr_pool_check_health(f->pool, NR_NS_PER_S, &rep, NULL), NR_OK);
    assert_int_equal(rep.unhealthy, rep.discarded + rep.quarantined + rep.kept);
    return rep;
}

static void test_refused_quarantine(void **state)
{
    hx *x = *state;
    quarantine_config(x->f);
    nr_pool_fixture_make(x->f, "p");
    prime(x->f, 1);
    nr_hook_probe no_q = {.refuse = NR_EPERM};
    uint64_t id = nr_hook_probe_add(x->h, &no_q, "no-q", NR_HOOK_OP_BIT(NR_HOOK_QUARANTINE), 0);
    atomic_store(&x->f->fake.health, NR_HEALTH_UNHEALTHY);
    nr_pool_health_report rep = health_round(x->f);
    assert_int_equal(rep.quarantined, 0);
    assert_int_equal(rep.kept, 1);
    assert_int_equal(nr_pool_fixture_stats(x->f).quarantined, 0);
    assert_int_equal(atomic_load(&no_q.befores[NR_HOOK_QUARANTINE]), 1);
    assert_int_equal(atomic_load(&no_q.afters[NR_HOOK_QUARANTINE]), 0);
    assert_int_equal(events_of(x, NR_EV_HOOK_REFUSED, NULL), 1);

    /* without the refusal it goes into quarantine, and the after sees it */
    assert_int_equal(nr_hooks_remove(x->h, id, NULL), NR_OK);
    nr_hook_probe seen = {0};
    nr_hook_probe_add(x->h, &seen, "seen", NR_HOOK_OP_BIT(NR_HOOK_QUARANTINE), 0);
    rep = health_round(x->f);
    assert_int_equal(rep.quarantined, 1);
    assert_int_equal(nr_pool_fixture_stats(x->f).quarantined, 1);
    assert_int_equal(atomic_load(&seen.afters[NR_HOOK_QUARANTINE]), 1);
    assert_int_equal(seen.last_after.rc, NR_OK);
    assert_int_equal(seen.last_after.instance_id, 1);
    done(x);
}

static void test_refused_quarantine_release(void **state)
{
    hx *x = *state;
    quarantine_config(x->f);
    nr_pool_fixture_make(x->f, "p");
    prime(x->f, 1);
    atomic_store(&x->f->fake.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(health_round(x->f).quarantined, 1);
    nr_hook_probe stay = {.refuse = NR_EPERM};
    uint64_t id =
        nr_hook_probe_add(x->h, &stay, "stay", NR_HOOK_OP_BIT(NR_HOOK_QUARANTINE_RELEASE), 0);
    atomic_store(&x->f->fake.health, NR_HEALTH_HEALTHY);
    atomic_store(&x->f->clock_ns, 150 * NR_NS_PER_MS); /* probe 1 due at 100 ms */
    nr_pool_health_report rep = health_round(x->f);
    assert_int_equal(rep.probed, 1);
    assert_int_equal(rep.released, 0);
    assert_int_equal(nr_pool_fixture_stats(x->f).quarantined, 1);
    assert_int_equal(atomic_load(&stay.afters[NR_HOOK_QUARANTINE_RELEASE]), 0);
    assert_int_equal(events_of(x, NR_EV_HOOK_REFUSED, NULL), 1);
    /* still on the same attempt: due again after its delay, then released */
    assert_int_equal(nr_hooks_remove(x->h, id, NULL), NR_OK);
    nr_hook_probe seen = {0};
    nr_hook_probe_add(x->h, &seen, "seen", NR_HOOK_OP_BIT(NR_HOOK_QUARANTINE_RELEASE), 0);
    assert_int_equal(health_round(x->f).released, 0); /* not due yet */
    atomic_store(&x->f->clock_ns, 300 * NR_NS_PER_MS);
    rep = health_round(x->f);
    assert_int_equal(rep.released, 1);
    assert_int_equal(nr_pool_fixture_stats(x->f).quarantined, 0);
    assert_int_equal(atomic_load(&seen.afters[NR_HOOK_QUARANTINE_RELEASE]), 1);
    assert_int_equal(seen.last_after.rc, NR_OK);
    done(x);
}

/* A refused probe of a quarantined instance (a health check): not probed. */
static void test_refused_probe(void **state)
{
    hx *x = *state;
    quarantine_config(x->f);
    nr_pool_fixture_make(x->f, "p");
    prime(x->f, 1);
    atomic_store(&x->f->fake.health, NR_HEALTH_UNHEALTHY);
    assert_int_equal(health_round(x->f).quarantined, 1);
    nr_hook_probe no_check = {.refuse = NR_EPERM};
    nr_hook_probe_add(x->h, &no_check, "no-check", NR_HOOK_OP_BIT(NR_HOOK_HEALTH_CHECK), 0);
    long checks = atomic_load(&x->f->fake.health_checks);
    atomic_store(&x->f->clock_ns, 150 * NR_NS_PER_MS);
    nr_pool_health_report rep = health_round(x->f);
    assert_int_equal(rep.probed, 0);
    assert_int_equal(atomic_load(&x->f->fake.health_checks), checks);
    assert_int_equal(nr_pool_fixture_stats(x->f).quarantined, 1);
    done(x);
}

/* ---- release and destroy cannot be refused ---------------------------------------------- */

static void test_release_and_destroy_before_errors_are_told(void **state)
{
    hx *x = *state;
    nr_hook_probe bad = {.refuse = NR_EINTERNAL};
    nr_hook_probe_add(x->h, &bad, "bad",
                      NR_HOOK_OP_BIT(NR_HOOK_RELEASE) | NR_HOOK_OP_BIT(NR_HOOK_DESTROY), 0);
    nr_pool_fixture_make(x->f, "p");
    prime(x->f, 1);
    events_of(x, NR_EV_HOOK_FAILED, NULL);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(x->f->pool, NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_pool_stats s = nr_pool_fixture_stats(x->f);
    assert_int_equal(s.idle, 1); /* back all the same */
    assert_int_equal(s.releases, 1);
    /* the afters of both still run: the operation went on */
    assert_int_equal(atomic_load(&bad.afters[NR_HOOK_RELEASE]), 1);
    nr_event ev;
    assert_int_equal(events_of(x, NR_EV_HOOK_FAILED, &ev), 1);
    assert_int_equal(ev.error_code, NR_EINTERNAL);
    assert_non_null(strstr(ev.text, "hook 'bad' failed before release of 'p': refused by bad"));

    assert_int_equal(nr_pool_acquire(x->f->pool, NULL, &g, NULL), NR_OK);
    assert_int_equal(nr_guard_taint(&g), NR_OK);
    assert_int_equal(atomic_load(&x->f->fake.destroys), 1); /* destroyed all the same */
    assert_int_equal(atomic_load(&bad.befores[NR_HOOK_DESTROY]), 1);
    assert_int_equal(atomic_load(&bad.afters[NR_HOOK_DESTROY]), 1);
    assert_int_equal(events_of(x, NR_EV_HOOK_FAILED, NULL), 2); /* release, destroy */
    assert_int_equal(events_of(x, NR_EV_HOOK_REFUSED, NULL), 0);
    done(x);
}

/* ---- outcomes --------------------------------------------------------------------------- */

static void test_afters_see_the_outcome(void **state)
{
    hx *x = *state;
    nr_hook_probe all = {0};
    nr_hook_probe_add(x->h, &all, "all", 0, 0);
    x->f->pcfg.acquire_timeout_ms = 0; /* an empty pool answers at once */
    x->f->pcfg.max_size = 1;
    x->f->pcfg.create_backoff_ms = 1;
    x->f->pcfg.create_backoff_max_ms = 1;
    atomic_store(&x->f->fake.create_delay_ns, 2 * NR_NS_PER_MS);
    nr_pool_fixture_make(x->f, "p");
    prime(x->f, 1);
    const nr_hook_seen *cr = &all.last_after_of[NR_HOOK_CREATE];
    assert_int_equal(cr->rc, NR_OK);
    assert_false(cr->error_set);
    assert_int_equal(cr->instance_id, 1);
    assert_true(cr->duration_ns >= 2 * NR_NS_PER_MS); /* the driver's create is in it */
    assert_true(cr->pool_set);
    assert_string_equal(cr->resource_id, "p");
    assert_int_equal(all.last_before.instance_id, 0); /* before create: none yet */

    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire_at(x->f->pool, NULL, &g, &err, "handler.c", 88, "serve"),
                     NR_OK);
    const nr_hook_seen *ac = &all.last_after_of[NR_HOOK_ACQUIRE];
    assert_int_equal(ac->rc, NR_OK);
    assert_int_equal(ac->instance_id, 1);
    assert_string_equal(ac->site_file, "handler.c");
    assert_int_equal(ac->site_line, 88);
    assert_int_equal(ac->wait_ns, 0);
    assert_true(ac->duration_ns >= 0);
    /* a failed acquire: its code and error */
    nr_guard g2 = NR_GUARD_INIT;
    assert_int_equal(nr_pool_acquire(x->f->pool, NULL, &g2, NULL), NR_EEXHAUSTED);
    assert_int_equal(ac->rc, NR_EEXHAUSTED);
    assert_true(ac->error_set);
    assert_non_null(strstr(ac->error, "pool 'p'"));
    assert_int_equal(ac->instance_id, 0);
    assert_int_equal(atomic_load(&all.afters[NR_HOOK_ACQUIRE]), 2);

    assert_int_equal(nr_guard_taint(&g), NR_OK);
    const nr_hook_seen *rl = &all.last_after_of[NR_HOOK_RELEASE];
    assert_int_equal(rl->rc, NR_OK);
    assert_int_equal(rl->instance_id, 1);
    const nr_hook_seen *ds = &all.last_after_of[NR_HOOK_DESTROY];
    assert_int_equal(ds->rc, NR_OK);
    assert_int_equal(ds->instance_id, 1);

    /* a failed create: its code and error */
    atomic_store(&x->f->fake.fail_create, 1);
    assert_true(nr_pool_prime(x->f->pool, 1, nr_deadline_in_ms(5000), NULL) != NR_OK);
    assert_true(cr->rc != NR_OK);
    assert_true(cr->error_set);
    assert_non_null(strstr(cr->error, "create failed"));
    atomic_store(&x->f->fake.fail_create, 0);

    /* a health check: the verdict */
    prime(x->f, 1);
    assert_int_equal(nr_pool_check_health(x->f->pool, NR_NS_PER_S, NULL, NULL), NR_OK);
    const nr_hook_seen *hc = &all.last_after_of[NR_HOOK_HEALTH_CHECK];
    assert_int_equal(hc->health, NR_HEALTH_HEALTHY);
    assert_int_equal(hc->rc, NR_OK);
    assert_int_equal(hc->instance_id, 2);
    for (int op = 0; op < NR_HOOK_OP_COUNT; op++)
        assert_true(atomic_load(&all.afters[op]) <= atomic_load(&all.befores[op]));
    done(x);
}

static void test_after_errors_are_told_not_raised(void **state)
{
    hx *x = *state;
    nr_hook_probe boom = {.fail_after = NR_EINTERNAL}, next = {0};
    nr_hook_probe_add(x->h, &boom, "boom", NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE), 0);
    nr_hook_probe_add(x->h, &next, "next", NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE), 1);
    nr_pool_fixture_make(x->f, "p");
    prime(x->f, 1);
    events_of(x, NR_EV_HOOK_FAILED, NULL);
    nr_guard g = NR_GUARD_INIT;
    nr_error err = {0};
    assert_int_equal(nr_pool_acquire(x->f->pool, NULL, &g, &err), NR_OK);
    assert_int_equal(err.code, NR_OK);
    assert_non_null(g.inst);
    assert_int_equal(atomic_load(&next.afters[NR_HOOK_ACQUIRE]), 1); /* the next one still runs */
    nr_event ev;
    assert_int_equal(events_of(x, NR_EV_HOOK_FAILED, &ev), 1);
    assert_int_equal(ev.error_code, NR_EINTERNAL);
    assert_string_equal(ev.text, "hook 'boom' failed after acquire of 'p': after of boom failed");
    assert_int_equal(nr_guard_release(&g), NR_OK);
    done(x);
}

/* ---- adding and removing ------------------------------------------------------------------ */

typedef struct selfish {
    nr_hooks *h;
    uint64_t id;
    int remove_rc, destroy_rc, add_rc;
    uint64_t added;
    nr_hook_probe inner;
} selfish;

static int remove_self(void *ud, const nr_hook_call *call, nr_error *err)
{
    (void)call;
    (void)err;
    selfish *s = ud;
    nr_error e = {0};
    s->remove_rc = nr_hooks_remove(s->h, s->id, &e);
    s->destroy_rc = nr_hooks_destroy(s->h, NULL);
    if (!s->added) { /* adding from a callback is allowed */
        nr_hook_def def = NR_HOOK_DEF_INIT;
        nr_hook_probe_def(&s->inner, "inner", &def);
        def.ops = NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE) | NR_HOOK_OP_BIT(NR_HOOK_RELEASE);
        s->add_rc = nr_hooks_add(s->h, &def, &s->added, NULL);
    }
    return NR_OK;
}

static void test_remove_from_a_callback_is_busy(void **state)
{
    hx *x = *state;
    selfish s = {.h = x->h};
    nr_hook_def def = NR_HOOK_DEF(.name = "selfish", .before = remove_self, .ud = &s,
                                  .ops = NR_HOOK_OP_BIT(NR_HOOK_ACQUIRE));
    assert_int_equal(nr_hooks_add(x->h, &def, &s.id, NULL), NR_OK);
    nr_pool_fixture_make(x->f, "p");
    acquire_release(x->f->pool, NULL);
    assert_int_equal(s.remove_rc, NR_EBUSY);
    assert_int_equal(s.destroy_rc, NR_EBUSY);
    assert_int_equal(s.add_rc, NR_OK);
    assert_int_equal(nr_hooks_count(x->h), 2);
    /* the hook added during the acquire took no part in it (no before, no
     * after), but in the release that started after */
    assert_int_equal(atomic_load(&s.inner.befores[NR_HOOK_ACQUIRE]), 0);
    assert_int_equal(atomic_load(&s.inner.afters[NR_HOOK_ACQUIRE]), 0);
    assert_int_equal(atomic_load(&s.inner.befores[NR_HOOK_RELEASE]), 1);
    assert_int_equal(atomic_load(&s.inner.afters[NR_HOOK_RELEASE]), 1);
    assert_int_equal(nr_hooks_remove(x->h, s.id, NULL), NR_OK);
    assert_int_equal(nr_hooks_remove(x->h, s.added, NULL), NR_OK);
    nr_error err = {0};
    assert_int_equal(nr_hooks_remove(x->h, s.id, &err), NR_ENOTFOUND);
    assert_int_equal(nr_hooks_count(x->h), 0);
    done(x);
}

static int nop(void *ud, const nr_hook_call *call, nr_error *err)
{
    (void)ud;
    (void)call;
    (void)err;
    return NR_OK;
}

static void expect_add_error(nr_hooks *h, const nr_hook_def *def, int code, const char *needle)
{
    nr_error err = {0};
    uint64_t id = 77;
    assert_int_equal(nr_hooks_add(h, def, &id, &err), code);
    NR_ASSERT_ERR(err, code, needle);
    assert_int_equal(id, 77);
}

static void test_add_checks_the_def(void **state)
{
    hx *x = *state;
    nr_hook_def d = NR_HOOK_DEF(.name = "ok", .after = nop);
    nr_hook_def bad = d;
    bad.name = NULL;
    expect_add_error(x->h, &bad, NR_EINVAL, "name is required");
    bad.name = "0123456789012345678901234567890123456789012345678901234567890123";
    expect_add_error(x->h, &bad, NR_EINVAL, "at most 63 bytes");
    bad.name = "tab\there";
    expect_add_error(x->h, &bad, NR_EINVAL, "printable");
    bad = d;
    bad.after = NULL;
    expect_add_error(x->h, &bad, NR_EINVAL, "hook 'ok': before and after are both NULL");
    bad = d;
    bad.ops = 1u << 12;
    expect_add_error(x->h, &bad, NR_EINVAL, "hook 'ok': ops has unknown bits");
    bad = d;
    bad.resource = "orders db";
    expect_add_error(x->h, &bad, NR_EINVAL, "hook 'ok': resource filter must be an id");
    bad.resource = "";
    expect_add_error(x->h, &bad, NR_EINVAL, "resource filter");
    bad = d;
    bad.type_name = "";
    expect_add_error(x->h, &bad, NR_EINVAL, "hook 'ok': type_name filter");
    nr_scope sc;
    nr_scope_global(&sc);
    sc.level = (nr_scope_level)9;
    bad = d;
    bad.scope = &sc;
    expect_add_error(x->h, &bad, NR_EINVAL, "hook 'ok': scope filter is not a valid scope");
    expect_add_error(NULL, &d, NR_EINVAL, "registry must not be NULL");
    expect_add_error(x->h, NULL, NR_EINVAL, "def must not be NULL");
    assert_int_equal(nr_hooks_count(x->h), 0);

    /* max_hooks */
    nr_hooks *small;
    nr_hooks_options o = NR_HOOKS_OPTIONS_INIT;
    nr_hooks_options_default(&o);
    o.max_hooks = 2;
    assert_int_equal(nr_hooks_create(&small, &o, NULL), NR_OK);
    assert_int_equal(nr_hooks_add(small, &d, NULL, NULL), NR_OK);
    assert_int_equal(nr_hooks_add(small, &d, NULL, NULL), NR_OK); /* names may repeat */
    expect_add_error(small, &d, NR_EEXHAUSTED, "max_hooks (2)");
    assert_int_equal(nr_hooks_destroy(small, NULL), NR_OK); /* drops the hooks it holds */
    o.max_hooks = 5000;
    nr_error err = {0};
    assert_int_equal(nr_hooks_create(&small, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "max_hooks must be 1..4096");
    o.max_hooks = 2;
    o.size = 0;
    assert_int_equal(nr_hooks_create(&small, &o, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "nr_hooks_options: size 0");
    assert_int_equal(nr_hooks_create(NULL, NULL, NULL), NR_EINVAL);
    assert_int_equal(nr_hooks_destroy(NULL, NULL), NR_OK);
    assert_int_equal(nr_hooks_count(NULL), 0);
    assert_string_equal(nr_hook_op_name(NR_HOOK_QUARANTINE_RELEASE), "quarantine_release");
    assert_string_equal(nr_hook_op_name(NR_HOOK_OP_COUNT), "unknown");
    done(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_by_priority_then_insertion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_type_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_resource_exact_and_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_scope_pool_and_caller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_acquire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_health_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_quarantine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_quarantine_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_and_destroy_before_errors_are_told, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_afters_see_the_outcome, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_errors_are_told_not_raised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_from_a_callback_is_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_checks_the_def, setup, teardown),
    };
    return cmocka_run_group_tests_name("hooks", tests, NULL, NULL);
}
