/* harness_control.c - the control thread of a harness run: it sets the
 * posted cancel tokens every tick and, as the options ask, resizes, evicts,
 * suspends and resumes, and flips the mock's health. Its choices come from
 * the seed alone (one draw per kind per tick), so their sequence replays. */
#include "harness_internal.h"

static void cancel_posted(nr__harness_run *run)
{
    for (uint32_t i = 0; i < run->o.threads; i++) {
        nr__harness_slot *s = &run->slots[i];
        pthread_mutex_lock(&s->mu);
        if (s->token)
            nr_cancel_trigger(s->token);
        pthread_mutex_unlock(&s->mu);
    }
}

static void resize(nr__harness_run *run, uint64_t r)
{
    int64_t max = 1 + (int64_t)(r % (uint64_t)run->start_max);
    int64_t min = run->start_min < max ? run->start_min : max;
    if (run->o.pool)
        (void)nr_pool_resize(run->o.pool, min, max, NULL);
    else
        (void)nr_manager_resize(run->o.manager, run->o.resource_id, min, max, NULL);
}

static void evict_all(nr__harness_run *run)
{
    if (run->o.pool)
        (void)nr_pool_evict_all(run->o.pool);
    else
        (void)nr_manager_evict_all(run->o.manager, run->o.resource_id, NULL, NULL);
}

static void set_suspended(nr__harness_run *run, bool on)
{
    if (run->o.pool) {
        if (on)
            nr_pool_suspend(run->o.pool);
        else
            nr_pool_resume(run->o.pool);
    } else if (on) {
        (void)nr_manager_suspend(run->o.manager, run->o.resource_id, NULL);
    } else {
        (void)nr_manager_resume(run->o.manager, run->o.resource_id, NULL);
    }
}

static void health_round(nr__harness_run *run, uint64_t r)
{
    static const nr_health_state states[] = {NR_HEALTH_HEALTHY, NR_HEALTH_DEGRADED,
                                             NR_HEALTH_UNHEALTHY};
    atomic_store(&run->o.mock->health, states[r % 3]);
    if (run->o.pool) {
        nr_pool_health_report rep = {0};
        (void)nr_pool_check_health(run->o.pool, 100 * NR_NS_PER_MS, &rep, NULL);
    } else {
        nr_manager_tick(run->o.manager);
    }
}

void *nr__harness_control_main(void *arg)
{
    nr__harness_run *run = arg;
    const nr_harness_options *o = &run->o;
    uint64_t rng = run->seed ^ 0xC0471201ULL;
    bool suspended = false;
    uint64_t controls = 0;
    while (atomic_load(&run->workers_done) < (int)o->threads) {
        nr_sleep_ns(o->control_ms * NR_NS_PER_MS);
        cancel_posted(run);
        uint64_t r_resize = nr__harness_draw(&rng), r_evict = nr__harness_draw(&rng),
                 r_suspend = nr__harness_draw(&rng), r_health = nr__harness_draw(&rng),
                 r_state = nr__harness_draw(&rng);
        if (suspended) {
            set_suspended(run, false); /* a suspension lasts one tick */
            suspended = false;
            controls++;
        } else if (o->suspend && r_suspend % 8 == 0) {
            set_suspended(run, true);
            suspended = true;
            controls++;
        }
        if (o->resize && r_resize % 4 == 0) {
            resize(run, r_resize >> 8);
            controls++;
        }
        if (o->evict_all && r_evict % 8 == 0) {
            evict_all(run);
            controls++;
        }
        if ((int)(r_health % 1000) < o->faults.health_flip_permille) {
            health_round(run, r_state);
            controls++;
        }
    }
    if (suspended)
        set_suspended(run, false);
    pthread_mutex_lock(&run->mu);
    run->rep->controls = controls;
    pthread_mutex_unlock(&run->mu);
    return NULL;
}
