/*
 * registry.c - the manager's id -> entry map: open addressing with linear
 * probing and backward-shift deletion, so a look-up is one hash and a short
 * probe, whatever the number of resources. Callers hold m->lock.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "manager/manager_internal.h"
#include "nebula/alloc.h"

nr__entry *nr__reg_find(const nr_manager *m, const char *id)
{
    if (!m->nslots)
        return NULL;
    size_t mask = m->nslots - 1;
    for (size_t i = nr__id_hash(id) & mask;; i = (i + 1) & mask) {
        nr__entry *e = m->slots[i];
        if (!e)
            return NULL;
        if (strcmp(e->id, id) == 0)
            return e;
    }
}

static void place(nr__entry **slots, size_t nslots, nr__entry *e)
{
    size_t mask = nslots - 1;
    size_t i = nr__id_hash(e->id) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = e;
}

int nr__reg_insert(nr_manager *m, nr__entry *e)
{
    /* keep the load factor at or below 1/2 */
    if ((m->count + 1) * 2 > m->nslots) {
        size_t n = m->nslots ? m->nslots * 2 : 16;
        nr__entry **slots = nr_calloc(n, sizeof(*slots));
        if (!slots)
            return NR_ENOMEM;
        for (size_t i = 0; i < m->nslots; i++)
            if (m->slots[i])
                place(slots, n, m->slots[i]);
        nr_free(m->slots);
        m->slots = slots;
        m->nslots = n;
    }
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        nr__entry **list = nr_realloc(m->list, cap * sizeof(*list));
        if (!list)
            return NR_ENOMEM;
        m->list = list;
        m->cap = cap;
    }
    place(m->slots, m->nslots, e);
    m->list[m->count++] = e;
    return NR_OK;
}

void nr__reg_remove(nr_manager *m, nr__entry *e)
{
    size_t mask = m->nslots - 1;
    size_t i = nr__id_hash(e->id) & mask;
    while (m->slots[i] != e)
        i = (i + 1) & mask;
    m->slots[i] = NULL;
    /* backward shift: move later members of the probe run into the hole */
    for (size_t j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
        size_t home = nr__id_hash(m->slots[j]->id) & mask;
        /* slot j's entry may move to i if i lies cyclically in [home, j) */
        int movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->slots[i] = m->slots[j];
            m->slots[j] = NULL;
            i = j;
        }
    }
    for (size_t k = 0; k < m->count; k++) {
        if (m->list[k] == e) {
            memmove(&m->list[k], &m->list[k + 1], (m->count - k - 1) * sizeof(*m->list));
            m->count--;
            break;
        }
    }
}

void nr__reg_free(nr_manager *m)
{
    nr_free(m->slots);
    nr_free(m->list);
    m->slots = NULL;
    m->list = NULL;
    m->nslots = m->count = m->cap = 0;
}
