/*
 * cancel.c - cancel tokens: a tree of set-once flags with wake callbacks.
 *
 * One process-wide mutex (tree_lock) guards the shape of every token tree
 * (parent, children, siblings) and every waiter list. The set flag is an
 * atomic so that nr_cancel_is_set() can poll it without the lock; it is only
 * ever written with tree_lock held.
 *
 * Invariant, with tree_lock held: a set token has only set descendants, and
 * every waiter on it has been woken once already. It holds because a child
 * created under a set parent starts set, nr__cancel_subscribe refuses a set
 * token, and trigger sets a whole subtree in one critical section. Trigger
 * relies on it to skip subtrees that are already set, so each waiter is woken
 * at most once. Woken waiters stay listed until they unsubscribe.
 *
 * Lock order: tree_lock, then whatever leaf lock a wake function takes. So a
 * waiter must not call nr__cancel_subscribe / nr__cancel_unsubscribe while
 * holding a lock its own wake function takes.
 */
#define _POSIX_C_SOURCE 200809L
#include "base/cancel_internal.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "nebula/alloc.h"

struct nr_cancel {
    /* Written only under tree_lock, with release ordering; read with acquire
     * ordering by nr_cancel_is_set (see there). */
    atomic_bool set;
    nr_cancel *parent;          /* NULL for a root or a detached token */
    nr_cancel *first_child;     /* children, linked through the sibling fields */
    nr_cancel *prev_sibling;    /* NULL for the first child */
    nr_cancel *next_sibling;    /* NULL for the last child */
    nr__cancel_waiter *waiters; /* head of the doubly linked waiter list */
};

static pthread_mutex_t tree_lock = PTHREAD_MUTEX_INITIALIZER;

static void lock_tree(void)
{
    int rc = pthread_mutex_lock(&tree_lock);
    assert(rc == 0);
    (void)rc;
}

static void unlock_tree(void)
{
    int rc = pthread_mutex_unlock(&tree_lock);
    assert(rc == 0);
    (void)rc;
}

/* Under tree_lock the lock itself orders every access, so relaxed suffices. */
static bool is_set_locked(const nr_cancel *t)
{
    return atomic_load_explicit(&t->set, memory_order_relaxed);
}

int nr_cancel_create(nr_cancel **out, nr_cancel *parent, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "cancel token: out pointer is NULL");
    nr_cancel *t = nr_malloc(sizeof(*t));
    if (!t)
        return nr_error_set(err, NR_ENOMEM, NULL, "cancel token: out of memory");
    /* Not yet visible to any other thread: a plain initialisation is enough. */
    atomic_init(&t->set, false);
    t->parent = NULL;
    t->first_child = NULL;
    t->prev_sibling = NULL;
    t->next_sibling = NULL;
    t->waiters = NULL;
    if (parent) {
        lock_tree();
        /* Publishing t through the parent's child list happens under
         * tree_lock, so the release below is only for lock-free readers. */
        atomic_store_explicit(&t->set, is_set_locked(parent), memory_order_release);
        t->parent = parent;
        t->next_sibling = parent->first_child;
        if (parent->first_child)
            parent->first_child->prev_sibling = t;
        parent->first_child = t;
        unlock_tree();
    }
    *out = t;
    return NR_OK;
}

void nr_cancel_destroy(nr_cancel *token)
{
    if (!token)
        return;
    lock_tree();
    assert(token->waiters == NULL && "cancel token destroyed while a call still waits on it");
    if (token->parent) {
        if (token->prev_sibling)
            token->prev_sibling->next_sibling = token->next_sibling;
        else
            token->parent->first_child = token->next_sibling;
        if (token->next_sibling)
            token->next_sibling->prev_sibling = token->prev_sibling;
    }
    nr_cancel *c = token->first_child;
    while (c) {
        nr_cancel *next = c->next_sibling;
        c->parent = NULL;
        c->prev_sibling = NULL;
        c->next_sibling = NULL;
        c = next;
    }
    unlock_tree();
    nr_free(token);
}

/* Set one token and call its waiters. tree_lock held. */
static void set_and_wake(nr_cancel *t)
{
    /* Release: a thread that reads true with acquire (nr_cancel_is_set) also
     * sees everything the triggering thread wrote before the trigger. */
    atomic_store_explicit(&t->set, true, memory_order_release);
    for (nr__cancel_waiter *w = t->waiters; w; w = w->next)
        w->wake(w->ud);
}

/* The first child or later sibling, starting at c, that is not yet set. */
static nr_cancel *first_unset(nr_cancel *c)
{
    while (c && is_set_locked(c))
        c = c->next_sibling;
    return c;
}

void nr_cancel_trigger(nr_cancel *token)
{
    if (!token)
        return;
    lock_tree();
    if (is_set_locked(token)) {
        unlock_tree();
        return;
    }
    /* Pre-order walk of the unset part of the subtree, without recursion:
     * down through first children, then across to siblings, then back up. */
    nr_cancel *node = token;
    for (;;) {
        set_and_wake(node);
        nr_cancel *down = first_unset(node->first_child);
        if (down) {
            node = down;
            continue;
        }
        while (node != token) {
            nr_cancel *across = first_unset(node->next_sibling);
            if (across) {
                node = across;
                break;
            }
            node = node->parent;
        }
        if (node == token)
            break;
    }
    unlock_tree();
}

bool nr_cancel_is_set(const nr_cancel *token)
{
    /* Acquire pairs with the release store in set_and_wake / create. */
    return token && atomic_load_explicit(&token->set, memory_order_acquire);
}

int nr__cancel_subscribe(const nr_cancel *token, nr__cancel_waiter *w)
{
    /* Tokens are always heap objects, never const ones: the waiter list is
     * mutable state behind the const handle. */
    nr_cancel *t = (nr_cancel *)token;
    lock_tree();
    if (is_set_locked(t)) {
        unlock_tree();
        w->prev = NULL;
        w->next = NULL;
        return NR_ECANCELED;
    }
    w->prev = NULL;
    w->next = t->waiters;
    if (t->waiters)
        t->waiters->prev = w;
    t->waiters = w;
    unlock_tree();
    return NR_OK;
}

void nr__cancel_unsubscribe(const nr_cancel *token, nr__cancel_waiter *w)
{
    nr_cancel *t = (nr_cancel *)token;
    lock_tree();
    /* A waiter that is not in the list (refused by subscribe, or removed
     * already) has no prev and is not the head: nothing to do. */
    if (w->prev || t->waiters == w) {
        if (w->prev)
            w->prev->next = w->next;
        else
            t->waiters = w->next;
        if (w->next)
            w->next->prev = w->prev;
        w->prev = NULL;
        w->next = NULL;
    }
    /* wake runs only under tree_lock, so once we hold it here no wake of w
     * is running, and w is no longer reachable for a later trigger. */
    unlock_tree();
}
