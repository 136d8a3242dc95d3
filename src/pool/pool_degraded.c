/*
 * pool_degraded.c - degraded idle instances: the list they wait on, the
 * order in which shrinks retire instances, and their replacement by
 * maintenance.
 *
 * An instance whose last health check said degraded is kept out of the bag,
 * on a list of its own under mu (most recently used at the head, as the idle
 * list). The fast path never sees it, so it costs an acquire nothing: only
 * an acquire that found the bag empty looks, under mu, first at the idle
 * list and then at the degraded list, before it would wait or ask for a
 * create. A degraded instance given back comes back through mu (it was
 * never a bag lease) and returns to this list, or to the oldest waiter. A
 * later healthy check clears its flag and it rejoins the healthy ones.
 *
 * Replacement (nr_pool_maintain, replace_degraded): a slot is reserved, the
 * new instance is created on the calling thread, and only once it exists is
 * a degraded idle instance taken off this list and destroyed. If none is
 * idle by then (leased, or healed meanwhile), the new one simply stays.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool/pool_budget.h"
#include "pool/pool_internal.h"

#include <assert.h>
#include <stdio.h>

void nr__deg_push_head(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    assert(inst->degraded);
    inst->prev = NULL;
    inst->next = p->deg_head;
    if (p->deg_head)
        p->deg_head->prev = inst;
    else
        p->deg_tail = inst;
    p->deg_head = inst;
    p->deg_idle++;
}

void nr__deg_remove(nr_pool *p, struct nr__instance *inst)
{
    NR__ASSERT_LOCKED(p);
    if (inst->prev)
        inst->prev->next = inst->next;
    else
        p->deg_head = inst->next;
    if (inst->next)
        inst->next->prev = inst->prev;
    else
        p->deg_tail = inst->prev;
    inst->prev = inst->next = NULL;
    p->deg_idle--;
}

struct nr__instance *nr__idle_take_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    struct nr__instance *inst = p->idle_head;
    if (inst) {
        nr__idle_remove(p, inst);
        return inst;
    }
    inst = p->deg_head;
    if (inst)
        nr__deg_remove(p, inst);
    return inst;
}

struct nr__instance *nr__retire_one_locked(nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    struct nr__instance *inst = p->q_head; /* quarantined longest */
    if (inst) {
        nr__q_remove(p, inst);
        p->quarantined--;
    } else if ((inst = p->deg_tail) != NULL) {
        nr__deg_remove(p, inst);
    } else if ((inst = p->idle_tail) != NULL) {
        nr__idle_remove(p, inst);
    } else {
        return NULL;
    }
    nr__inst_transition(inst, NR_LC_CLEANUP);
    inst->next = NULL;
    p->total--;
    p->destroying++;
    p->evicted_resize++;
    return inst;
}

/* [mu] Whether a replacement create may start now. */
static int replace_room_locked(const nr_pool *p)
{
    NR__ASSERT_LOCKED(p);
    return NR__CFG(p, replace_degraded) && p->deg_idle > p->replacing &&
           !atomic_load_explicit(&p->refusing, memory_order_relaxed) && !p->suspended &&
           !atomic_load_explicit(&p->shrinking, memory_order_relaxed) && p->failures == 0 &&
           !p->breaker_open && p->total < (uint64_t)p->cfg.max_size &&
           p->creating < (uint64_t)p->cfg.max_connecting;
}

uint32_t nr__replace_degraded(nr_pool *p, uint32_t *failed, int *first_rc, nr_error *err)
{
    nr__pool_lock(p);
    uint32_t budget = p->deg_idle; /* those degraded now; later ones wait for the next step */
    nr__pool_unlock(p);
    uint32_t replaced = 0;
    while (budget--) {
        nr__pool_lock(p);
        if (!replace_room_locked(p) || !nr__budget_take_locked(p, 1, 0)) {
            nr__pool_unlock(p);
            break;
        }
        p->total++;
        p->creating++;
        p->replacing++;
        struct nr__instance *rec = nr__record_take_locked(p);
        nr__pool_unlock(p);

        struct nr__instance *inst = NULL;
        nr_error e;
        nr_error_clear(&e);
        int rc = nr__create_reserved(p, rec, nr_deadline_in_ms(NR__CFG(p, create_timeout_ms)), NULL,
                                     0, &inst, &e);
        nr__pool_lock(p);
        p->replacing--;
        if (rc != NR_OK) {
            nr__pool_unlock(p); /* the slot is given back; nothing degraded is touched */
            (*failed)++;
            if (*first_rc == NR_OK) {
                *first_rc = rc;
                if (err)
                    *err = e;
            }
            break;
        }
        uint64_t new_id = inst->id; /* (once placed, it is anyone's) */
        int placed = nr__place_created_locked(p, inst, 0);
        struct nr__instance *old = NULL;
        if (placed && p->deg_tail) {
            old = p->deg_tail; /* the longest idle of them */
            nr__deg_remove(p, old);
            nr__inst_transition(old, NR_LC_CLEANUP);
            old->next = NULL;
            p->total--;
            p->destroying++;
            p->degraded_replaced++;
        }
        nr__signal_returned_locked(p);
        nr__pool_assert_locked_invariants(p);
        nr__pool_unlock(p);
        if (!placed) { /* closed meanwhile: counted in in_use, for nr__discard */
            nr__discard(p, inst, &p->in_use, NR__DISCARD_CLOSED);
            break;
        }
        if (old) {
            char text[64];
            snprintf(text, sizeof(text), "degraded: replaced by instance %llu",
                     (unsigned long long)new_id);
            nr__pool_event(p, NR_EV_CLEANED_UP, old->id, 0, 1, NR_OK, text);
            nr__destroy_list(p, old, 1);
            replaced++;
        }
    }
    return replaced;
}
