/*
 * events.c - the event bus: a multi-producer broadcast ring with seqlock
 * slots and subscribers that may fall behind.
 *
 * Layout: one allocation holds the bus header, `capacity` slots of
 * NR_EVENT_SIZE bytes and `capacity` drop markers. Event n (the global
 * sequence number) lives in slot slot_index(n): n & mask with its low bits
 * reversed (see SLOT_MIX_BITS). "Slot n" below means that slot.
 *
 * A slot is a stamp and 47 words. Every word is an atomic, so a subscriber
 * may copy a slot while a publisher overwrites it without a data race; the
 * stamp tells it whether the copy is good. The words hold the event after
 * seq (which the stamp carries): 7 header words, then each string's words up
 * to the one with its NUL, packed, their counts kept in the header's reserved
 * field. A typical event thus moves two cache lines between cores, not six.
 *
 *     stamp = 0                   never written
 *     stamp = (n + 1) << 1 | 1    event n is being written (BUSY)
 *     stamp = (n + 1) << 1        event n is complete (DONE)
 *
 * A slot's stamp only ever grows, so a stamp value never comes back.
 *
 * Publish (never waits):
 *     n = fetch_add(head)                      claim a sequence number
 *     stamp DONE(m) or 0, m < n -> CAS to BUSY(n), write the words, store DONE(n)
 *     stamp (any), m > n        -> a publisher a ring ahead already took the
 *                                  slot: event n is obsolete; drop it
 *     stamp BUSY(m), m < n      -> a publisher a ring behind is still writing
 *                                  (preempted mid-write): do not wait, drop n
 *                                  and record it in the slot's drop marker
 * Only the publisher that moved a stamp to BUSY(n) writes the slot's words or
 * its stamp until it stores DONE(n): others see BUSY and leave the slot alone.
 * So two publishers never write one slot at once.
 *
 * Subscriber at position r (the next sequence number it wants), slot r:
 *     stamp DONE(r)             copy the words, re-load the stamp; equal: the
 *                               copy is event r; changed: look again
 *     stamp for m > r           event r was overwritten or dropped: lost; skip
 *                               to r + 1, or to the oldest event held (head -
 *                               capacity) when further behind
 *     stamp for m < r, or 0     not written yet; lost if the slot's drop
 *     and drop marker >= r      marker names r or a later event
 *     stamp BUSY(r), or for     being written or not yet: wait, unless r is a
 *     m < r                     ring behind the head (its publisher stalled):
 *                               then skip to the oldest event held
 * Every sequence number a subscriber passes is either returned or counted as
 * missed, exactly once.
 *
 * Orderings (the seqlock argument). A publisher's word stores are releases,
 * so the BUSY stamp it wrote before them is visible to anyone who reads one
 * of its words with an acquire load. A subscriber loads the stamp (acquire),
 * the words (acquire) and the stamp again: if any word came from a newer
 * publisher, that publisher's BUSY stamp happens-before the second load, which
 * therefore differs from the first. On x86 these acquire loads and release
 * stores are plain moves; they are used instead of fences because
 * ThreadSanitizer understands them.
 *
 * Cache lines: head, the drop markers and the stats each live apart from
 * what publishers read on every call. A publisher prefetches, for writing,
 * the slot it will use PREFETCH_AHEAD events later; a subscriber that is
 * behind prefetches READ_AHEAD slots ahead, and one that has caught up looks
 * at the next slot (which a publisher is about to write) only now and then.
 */
#define _POSIX_C_SOURCE 200809L
#include "nebula/events.h"

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/strutil.h"
#include "nebula/alloc.h"

_Static_assert(sizeof(nr_event) == NR_EVENT_SIZE, "nr_event must keep its size");
_Static_assert(offsetof(nr_event, seq) == 0, "seq must be the first word");
_Static_assert(NR_EVENT_SIZE % 8 == 0, "events are copied in 64-bit words");
_Static_assert(offsetof(nr_event, ts_ns) == 8, "ts_ns must be the second word");

/* Test hooks: a publish split into its steps, so tests can stand in for a
 * publisher preempted after claiming or in the middle of writing. */
uint64_t nr__event_claim(nr_event_bus *bus);
int nr__event_begin(nr_event_bus *bus, uint64_t n);
void nr__event_finish(nr_event_bus *bus, uint64_t n, const nr_event *ev);

const char *nr_event_type_name(nr_event_type type)
{
    switch (type) {
#define NR__EV_NAME(name, value, text)                                                             \
    case NR_EV_##name:                                                                             \
        return text;
        NR_EVENT_TYPE_MAP(NR__EV_NAME)
#undef NR__EV_NAME
    }
    return "unknown";
}

void nr_event_init(nr_event *ev, nr_event_type type, const char *resource_id)
{
    if (!ev)
        return;
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    if (nr__copy_marked(ev->resource_id, sizeof(ev->resource_id), resource_id ? resource_id : ""))
        ev->flags |= NR_EVENT_F_ID_CUT;
}

void nr_event_set_scope(nr_event *ev, const nr_scope *scope)
{
    if (!ev)
        return;
    ev->flags &= ~NR_EVENT_F_SCOPE_CUT;
    if (!scope) {
        ev->scope[0] = '\0';
        return;
    }
    size_t need = nr_scope_format(scope, ev->scope, sizeof(ev->scope));
    if (need >= sizeof(ev->scope)) {
        memcpy(ev->scope + sizeof(ev->scope) - 4, "...", 4);
        ev->flags |= NR_EVENT_F_SCOPE_CUT;
    }
}

void nr_event_set_text(nr_event *ev, const char *text)
{
    if (!ev)
        return;
    ev->flags &= ~NR_EVENT_F_TEXT_CUT;
    if (nr__copy_marked(ev->text, sizeof(ev->text), text ? text : ""))
        ev->flags |= NR_EVENT_F_TEXT_CUT;
}

#ifdef NR_HAVE_EVENTS

#define WORDS      (NR_EVENT_SIZE / 8 - 1) /* the event after seq */
#define HDR_WORDS  7                       /* ts_ns .. reserved */
#define STAMP_BUSY 1u
#define CACHE_LINE 64
/* How many events ahead a publisher asks for its future slot's cache lines. */
#define PREFETCH_AHEAD 16
/* How many events ahead a lagging subscriber asks for the lines it reads,
 * when at least READ_BEHIND events behind the head. */
#define READ_AHEAD  8
#define READ_BEHIND 64
/* Consecutive events go to slots far apart: the low SLOT_MIX_BITS bits of a
 * slot index are reversed (all of them in a ring smaller than 1 << 10).
 * A subscriber reads events in order; laid out in order, its hardware
 * prefetcher would follow and pull in the slots a publisher is about to
 * write, costing that publisher a cache miss on nearly every event when the
 * subscriber keeps up. Groups of 1 << SLOT_MIX_BITS slots stay contiguous, so
 * a large ring keeps its page locality. */
#define SLOT_MIX_BITS 10
/* A waiting subscriber loads the head on one wait in this many. */
#define WAIT_HEAD_LOOK 16

/* A slot holds the header words, then only the words of the three strings
 * up to their NUL, packed; their word counts ride in the header's reserved
 * field. A typical event thus moves two cache lines, not six. */
_Static_assert(offsetof(nr_event, reserved) == 60, "layout");
_Static_assert(offsetof(nr_event, resource_id) == 64, "layout");
_Static_assert(offsetof(nr_event, scope) == 128, "layout");
_Static_assert(offsetof(nr_event, text) == 256, "layout");
_Static_assert(HDR_WORDS + (NR_EVENT_ID_MAX + NR_EVENT_SCOPE_MAX + NR_EVENT_TEXT_MAX) / 8 == WORDS,
               "a slot holds a whole event");

typedef struct ev_slot {
    atomic_uint_least64_t stamp;
    atomic_uint_least64_t w[WORDS];
} ev_slot;

_Static_assert(sizeof(ev_slot) == NR_EVENT_SIZE, "a slot is one event");

struct nr_event_bus {
    /* Read-mostly: publishers read these on every call. */
    ev_slot *slots;
    atomic_uint_least64_t *dropped; /* per slot: highest dropped sequence + 1, 0 = none */
    uint64_t mask;
    uint64_t mix_mask;  /* the bits of an index that slot_index reverses */
    unsigned mix_shift; /* 64 - their number */
    uint32_t capacity;
    /* Subscribers now. Written only by subscribe / unsubscribe; publishers
     * load it relaxed: it carries no data, only whether to bother. */
    atomic_uint subscribers;
    void *raw;                                      /* what nr_malloc returned */
    alignas(CACHE_LINE) atomic_uint_least64_t head; /* next sequence number (own line) */
    alignas(CACHE_LINE) atomic_uint_least64_t collisions;
};

struct nr_event_sub {
    nr_event_bus *bus;
    uint64_t next;      /* the next sequence number this subscriber wants */
    uint64_t seen_head; /* the bus head when this subscriber last looked */
    uint64_t jumped_to; /* where it last skipped to after falling a ring behind */
    bool jumped;        /* whether jumped_to is set */
    unsigned waits;     /* attempts that found nothing, for WAIT_HEAD_LOOK */
};

/* The slot of event n: n & mask with its low order bits (see SLOT_MIX_BITS)
 * reversed. */
static inline uint64_t slot_index(const nr_event_bus *bus, uint64_t n)
{
    uint64_t x = n & bus->mix_mask;
    x = ((x >> 1) & UINT64_C(0x5555555555555555)) | ((x & UINT64_C(0x5555555555555555)) << 1);
    x = ((x >> 2) & UINT64_C(0x3333333333333333)) | ((x & UINT64_C(0x3333333333333333)) << 2);
    x = ((x >> 4) & UINT64_C(0x0F0F0F0F0F0F0F0F)) | ((x & UINT64_C(0x0F0F0F0F0F0F0F0F)) << 4);
    x = __builtin_bswap64(x) >> bus->mix_shift;
    return (n & bus->mask & ~bus->mix_mask) | x;
}

static inline uint64_t stamp_of(uint64_t n, unsigned busy)
{
    return ((n + 1) << 1) | busy;
}

/* The sequence number + 1 a stamp names (0 for an unwritten slot). */
static inline uint64_t stamp_seq1(uint64_t st)
{
    return st >> 1;
}

int nr_event_bus_create(nr_event_bus **out, uint32_t capacity, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "event bus: out pointer is NULL");
    if (capacity < NR_EVENT_BUS_MIN_CAPACITY || capacity > NR_EVENT_BUS_MAX_CAPACITY ||
        (capacity & (capacity - 1)) != 0)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "event bus: capacity %u must be a power of two in %u..%u", capacity,
                            NR_EVENT_BUS_MIN_CAPACITY, NR_EVENT_BUS_MAX_CAPACITY);
    size_t head_size = (sizeof(nr_event_bus) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    size_t total = CACHE_LINE - 1 + head_size + (size_t)capacity * sizeof(ev_slot) +
                   (size_t)capacity * sizeof(atomic_uint_least64_t);
    void *raw = nr_malloc(total);
    if (!raw)
        return nr_error_set(err, NR_ENOMEM, NULL, "event bus: out of memory (%zu bytes)", total);
    uintptr_t base = ((uintptr_t)raw + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1);
    nr_event_bus *bus = (nr_event_bus *)base;
    bus->slots = (ev_slot *)(base + head_size);
    bus->dropped = (atomic_uint_least64_t *)(base + head_size + (size_t)capacity * sizeof(ev_slot));
    bus->mask = capacity - 1;
    bus->capacity = capacity;
    unsigned bits = (unsigned)__builtin_ctz(capacity);
    bits = bits < SLOT_MIX_BITS ? bits : SLOT_MIX_BITS;
    bus->mix_mask = (UINT64_C(1) << bits) - 1;
    bus->mix_shift = 64 - bits;
    bus->raw = raw;
    /* Not yet visible to any other thread: plain initialisation. The data
     * words are never read before a publisher has written them (a stamp says
     * so first), so only stamps and drop markers need a value. */
    atomic_init(&bus->subscribers, 0);
    atomic_init(&bus->head, 0);
    atomic_init(&bus->collisions, 0);
    for (uint32_t i = 0; i < capacity; i++) {
        atomic_init(&bus->slots[i].stamp, 0);
        atomic_init(&bus->dropped[i], 0);
    }
    *out = bus;
    return NR_OK;
}

int nr_event_bus_destroy(nr_event_bus *bus)
{
    if (!bus)
        return NR_OK;
    /* Relaxed: destroy is the last call on the bus, ordered after every
     * unsubscribe by the caller. */
    if (atomic_load_explicit(&bus->subscribers, memory_order_relaxed) != 0)
        return NR_EBUSY;
    nr_free(bus->raw);
    return NR_OK;
}

/* Record that event n was dropped by its publisher. */
static void mark_dropped(nr_event_bus *bus, uint64_t n)
{
    atomic_uint_least64_t *d = &bus->dropped[slot_index(bus, n)];
    /* Relaxed: the marker carries no data; readers only compare numbers. */
    uint64_t cur = atomic_load_explicit(d, memory_order_relaxed);
    while (cur < n + 1 && !atomic_compare_exchange_weak_explicit(
                              d, &cur, n + 1, memory_order_relaxed, memory_order_relaxed)) {
    }
    /* Relaxed: a statistic. */
    atomic_fetch_add_explicit(&bus->collisions, 1, memory_order_relaxed);
}

uint64_t nr__event_claim(nr_event_bus *bus)
{
    /* Relaxed: the number only has to be unique; the slot's stamp publishes
     * the event. One thread's fetch_adds are ordered by program order, which
     * gives per-publisher ordering. */
    return atomic_fetch_add_explicit(&bus->head, 1, memory_order_relaxed);
}

/* Take the slot of event n: 1 when it is ours (stamp now BUSY(n)),
 * 0 when event n was dropped. */
int nr__event_begin(nr_event_bus *bus, uint64_t n)
{
    ev_slot *s = &bus->slots[slot_index(bus, n)];
    /* Relaxed: only a first guess for the CAS below. */
    uint64_t st = atomic_load_explicit(&s->stamp, memory_order_relaxed);
    for (;;) {
        if (stamp_seq1(st) > n + 1) {
            /* A publisher a ring (or more) ahead already has the slot. */
            /* Relaxed: a statistic. */
            atomic_fetch_add_explicit(&bus->collisions, 1, memory_order_relaxed);
            return 0;
        }
        if (st & STAMP_BUSY) {
            mark_dropped(bus, n);
            return 0;
        }
        /* Acquire on success: pairs with the release that completed the
         * previous event in this slot, so its word stores happen-before ours
         * and ours come later in every word's modification order. */
        if (atomic_compare_exchange_weak_explicit(&s->stamp, &st, stamp_of(n, STAMP_BUSY),
                                                  memory_order_acquire, memory_order_relaxed))
            return 1;
    }
}

static inline void put_word(ev_slot *s, size_t pos, uint64_t w)
{
    /* Release: orders our BUSY stamp before this word for any reader that
     * sees the word (see the top of the file). */
    atomic_store_explicit(&s->w[pos], w, memory_order_release);
}

/* The word w with the bytes after its first NUL zeroed, or 0 when w holds
 * no NUL (then *found = false). */
static inline uint64_t cut_after_nul(uint64_t w, bool *found)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The lowest flagged byte is the first NUL (flags above it may be false). */
    uint64_t z = (w - UINT64_C(0x0101010101010101)) & ~w & UINT64_C(0x8080808080808080);
    if (!z) {
        *found = false;
        return w;
    }
    *found = true;
    unsigned keep = (unsigned)__builtin_ctzll(z) / 8 + 1; /* bytes up to the NUL */
    return keep == 8 ? w : w & ((UINT64_C(1) << (8 * keep)) - 1);
#else
    unsigned char b[8];
    memcpy(b, &w, 8);
    for (unsigned i = 0; i < 8; i++) {
        if (b[i] == 0) {
            memset(b + i, 0, 8 - i);
            memcpy(&w, b, 8);
            *found = true;
            return w;
        }
    }
    *found = false;
    return w;
#endif
}

/* Store the words of a string field of max bytes from word pos on: up to and
 * including the one with its NUL, with the bytes after the NUL zeroed (never
 * what an earlier text left there). Returns the number of words. */
static inline unsigned put_string(ev_slot *s, size_t pos, const char *str, size_t max)
{
    unsigned nw = (unsigned)(max / 8);
    for (unsigned i = 0; i < nw; i++) {
        uint64_t w;
        bool last;
        memcpy(&w, str + 8 * i, 8);
        w = cut_after_nul(w, &last);
        put_word(s, pos + i, w);
        if (last)
            return i + 1;
    }
    return nw; /* not terminated: the subscriber terminates it */
}

/* Write event n into its slot (taken by nr__event_begin) with timestamp ts
 * and complete it. */
static void finish(nr_event_bus *bus, uint64_t n, const nr_event *ev, int64_t ts)
{
    ev_slot *s = &bus->slots[slot_index(bus, n)];
    size_t pos = HDR_WORDS;
    unsigned nid = put_string(s, pos, ev->resource_id, NR_EVENT_ID_MAX);
    pos += nid;
    unsigned nsc = put_string(s, pos, ev->scope, NR_EVENT_SCOPE_MAX);
    pos += nsc;
    unsigned ntx = put_string(s, pos, ev->text, NR_EVENT_TEXT_MAX);
    uint64_t hdr[HDR_WORDS];
    memcpy(hdr, (const unsigned char *)ev + 8, sizeof(hdr));
    memcpy(&hdr[0], &ts, 8);
    uint32_t lens = nid | nsc << 4 | ntx << 9;
    memcpy((unsigned char *)hdr + offsetof(nr_event, reserved) - 8, &lens, 4);
    for (size_t i = 0; i < HDR_WORDS; i++)
        put_word(s, i, hdr[i]);
    /* Release: every word above happens-before a reader that sees DONE(n).
     * Nobody else writes the stamp while it is BUSY(n), so a store suffices. */
    atomic_store_explicit(&s->stamp, stamp_of(n, 0), memory_order_release);
}

/* Ask for the first two cache lines of a slot we will write soon, for
 * writing, so that our stores then do not wait for another core. */
static inline void prefetch_slot(const ev_slot *s)
{
#if defined(__x86_64__) || defined(__i386__)
    const char *p = (const char *)s;
    __asm__ __volatile__("prefetchw %0" : : "m"(*p));
    __asm__ __volatile__("prefetchw %0" : : "m"(*(p + CACHE_LINE)));
#else
    __builtin_prefetch(s, 1, 3);
    __builtin_prefetch((const char *)s + CACHE_LINE, 1, 3);
#endif
}

void nr__event_finish(nr_event_bus *bus, uint64_t n, const nr_event *ev)
{
    finish(bus, n, ev, ev->ts_ns);
}

bool nr_event_bus_wanted(const nr_event_bus *bus)
{
    /* relaxed: a hint, as in nr_event_publish; a subscriber that joins a moment
     * later starts after this event anyway */
    return bus &&
           atomic_load_explicit(&((nr_event_bus *)bus)->subscribers, memory_order_relaxed) != 0;
}

void nr_event_publish(nr_event_bus *bus, const nr_event *ev)
{
    /* Relaxed: a hint whether anyone listens; no data flows through it. */
    if (!bus || !ev || atomic_load_explicit(&bus->subscribers, memory_order_relaxed) == 0)
        return;
    int64_t ts = ev->ts_ns ? ev->ts_ns : nr_now_ns();
    uint64_t n = nr__event_claim(bus);
    prefetch_slot(&bus->slots[slot_index(bus, n + PREFETCH_AHEAD)]);
    if (nr__event_begin(bus, n))
        finish(bus, n, ev, ts);
}

int nr_event_subscribe(nr_event_bus *bus, nr_event_sub **out, nr_error *err)
{
    if (!bus || !out)
        return nr_error_set(err, NR_EINVAL, NULL, "event subscribe: %s is NULL",
                            bus ? "out pointer" : "bus");
    nr_event_sub *sub = nr_malloc(sizeof(*sub));
    if (!sub)
        return nr_error_set(err, NR_ENOMEM, NULL, "event subscribe: out of memory");
    sub->bus = bus;
    /* Relaxed: the count is a hint for publishers (see nr_event_publish);
     * a publish ordered after this call by the caller sees it by coherence. */
    atomic_fetch_add_explicit(&bus->subscribers, 1, memory_order_relaxed);
    /* Relaxed: a position; stamps carry the data. */
    sub->next = atomic_load_explicit(&bus->head, memory_order_relaxed);
    sub->seen_head = sub->next;
    sub->jumped_to = 0;
    sub->jumped = false;
    sub->waits = 0;
    *out = sub;
    return NR_OK;
}

void nr_event_unsubscribe(nr_event_sub *sub)
{
    if (!sub)
        return;
    /* Relaxed: publishers never touch a subscriber, so nothing is published
     * through this count. */
    atomic_fetch_sub_explicit(&sub->bus->subscribers, 1, memory_order_relaxed);
    nr_free(sub);
}

static inline void get_words(ev_slot *s, size_t pos, char *dst, unsigned nw)
{
    for (unsigned i = 0; i < nw; i++) {
        /* Acquire: a word from a newer publisher makes its BUSY stamp visible
         * to the stamp re-check in copy_slot. */
        uint64_t w = atomic_load_explicit(&s->w[pos + i], memory_order_acquire);
        memcpy(dst + 8 * i, &w, 8);
    }
}

/* Copy the slot whose stamp the caller loaded (acquire) as st, a DONE
 * stamp, into *out; n gets the word counts of the three strings. false when
 * the slot changed while being copied (the copy may be torn: not to be used). */
static bool copy_slot(ev_slot *s, uint64_t st, nr_event *out, unsigned n[3])
{
    get_words(s, 0, (char *)out + 8, HDR_WORDS);
    uint32_t lens;
    memcpy(&lens, &out->reserved, 4);
    /* A torn header can give any counts: keep them in bounds; the stamp
     * check below then rejects the copy. */
    n[0] = lens & 0xfu;
    n[1] = lens >> 4 & 0x1fu;
    n[2] = lens >> 9 & 0x1fu;
    n[0] = n[0] > NR_EVENT_ID_MAX / 8 ? NR_EVENT_ID_MAX / 8 : n[0];
    n[1] = n[1] > NR_EVENT_SCOPE_MAX / 8 ? NR_EVENT_SCOPE_MAX / 8 : n[1];
    n[2] = n[2] > NR_EVENT_TEXT_MAX / 8 ? NR_EVENT_TEXT_MAX / 8 : n[2];
    get_words(s, HDR_WORDS, out->resource_id, n[0]);
    get_words(s, HDR_WORDS + n[0], out->scope, n[1]);
    get_words(s, HDR_WORDS + n[0] + n[1], out->text, n[2]);
    /* Relaxed: ordered after the acquire loads above. */
    return atomic_load_explicit(&s->stamp, memory_order_relaxed) == st;
}

/* Make a copied string field canonical: zeros after its nw copied words
 * (the publisher zeroed the bytes after the NUL in the last one), and
 * terminated even if the publisher's text was not. */
static void tidy(char *field, size_t max, unsigned nw)
{
    for (size_t i = nw; i < max / 8; i++)
        memcpy(field + 8 * i, &(uint64_t){0}, 8);
    field[max - 1] = '\0';
}

/* Ask for the first two cache lines of a slot we will read soon. */
static inline void prefetch_read(const ev_slot *s)
{
    __builtin_prefetch(s, 0, 3);
    __builtin_prefetch((const char *)s + CACHE_LINE, 0, 3);
}

/* The head as last seen by this subscriber, refreshed. Relaxed: a position;
 * the stamps carry the data. */
static inline uint64_t refresh_head(nr_event_sub *sub)
{
    uint64_t h = atomic_load_explicit(&sub->bus->head, memory_order_relaxed);
    if (h > sub->seen_head)
        sub->seen_head = h;
    return sub->seen_head;
}

/* One attempt: NR_OK with event sub->next in *out, or NR_ETIMEDOUT when the
 * subscriber has to wait. Adds the events it passes over to *lost. */
static int try_next(nr_event_sub *sub, nr_event *out, uint64_t *lost)
{
    nr_event_bus *bus = sub->bus;
    for (;;) {
        uint64_t r = sub->next;
        ev_slot *s = &bus->slots[slot_index(bus, r)];
        /* Acquire: pairs with the publisher's release of DONE(r), so its word
         * stores are visible to the loads below. */
        uint64_t st = atomic_load_explicit(&s->stamp, memory_order_acquire);
        uint64_t seq1 = stamp_seq1(st);
        if (seq1 == r + 1 && !(st & STAMP_BUSY)) {
            /* Well behind the head: fetch what comes next while copying this.
             * Not near the head, where slots are still being written (a read
             * there would take lines from under their publisher). The head,
             * written by every publish, is looked at once per 64 events. */
            if (r + READ_BEHIND >= sub->seen_head && (r & 63) == 0)
                refresh_head(sub);
            if (r + READ_BEHIND < sub->seen_head)
                prefetch_read(&bus->slots[slot_index(bus, r + READ_AHEAD)]);
            unsigned n[3];
            if (!copy_slot(s, st, out, n))
                continue; /* overwritten while copying: look again */
            out->seq = r;
            out->reserved = 0;
            tidy(out->resource_id, NR_EVENT_ID_MAX, n[0]);
            tidy(out->scope, NR_EVENT_SCOPE_MAX, n[1]);
            tidy(out->text, NR_EVENT_TEXT_MAX, n[2]);
            sub->next = r + 1;
            return NR_OK;
        }
        if (seq1 > r + 1) {
            /* Event r was overwritten (or dropped in favour of a newer one):
             * skip it, or to the oldest event still held when further behind.
             * A subscriber overrun again soon after such a jump is racing the
             * publishers at the tail of the ring: it skips a further quarter
             * ring, so that it reads events that stay put while it copies. */
            uint64_t head = refresh_head(sub);
            uint64_t oldest = head > bus->capacity ? head - bus->capacity : 0;
            if (oldest > r && sub->jumped && r < sub->jumped_to + bus->capacity / 2)
                oldest += bus->capacity / 4;
            uint64_t skip = oldest > r ? oldest - r : 1;
            if (oldest > r) {
                sub->jumped = true;
                sub->jumped_to = oldest;
            }
            *lost += skip;
            sub->next = r + skip;
            continue;
        }
        /* Relaxed: a number. */
        if (seq1 < r + 1 && atomic_load_explicit(&bus->dropped[slot_index(bus, r)],
                                                 memory_order_relaxed) >= r + 1) {
            /* Not written, and its publisher (or a later one of this slot)
             * gave up on it. */
            *lost += 1;
            sub->next = r + 1;
            continue;
        }
        /* Event r is being written, or not yet. A subscriber a ring behind
         * the head (its publisher stalled) skips to the oldest event still
         * held instead of waiting. It looks at the head, a line every publish
         * writes, on one wait in WAIT_HEAD_LOOK only. */
        uint64_t head = sub->waits++ % WAIT_HEAD_LOOK == 0 ? refresh_head(sub) : sub->seen_head;
        if (head > r + bus->capacity) {
            uint64_t oldest = head - bus->capacity;
            *lost += oldest - r;
            sub->next = oldest;
            continue;
        }
        return NR_ETIMEDOUT;
    }
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Waiting: SPIN_ROUNDS looks spaced by SPIN_PAUSES pause instructions (1 to
 * 2 us each on current x86, about 50 us in all), then YIELD_ROUNDS looks
 * after sched_yield, then looks after sleeps growing from SLEEP_MIN_NS to
 * SLEEP_MAX_NS. A look reads the slot a publisher writes next, which costs
 * that publisher a cache miss: looks are kept apart so that a subscriber that
 * has caught up lets the publishers write a batch, then reads it. */
#define SPIN_ROUNDS  32
#define SPIN_PAUSES  48
#define YIELD_ROUNDS 10
#define SLEEP_MIN_NS (20 * NR_NS_PER_US)
#define SLEEP_MAX_NS (500 * NR_NS_PER_US)

int nr_event_next(nr_event_sub *sub, nr_event *out, uint64_t *missed, nr_deadline deadline)
{
    if (!sub || !out)
        return NR_EINVAL;
    uint64_t lost = 0;
    int64_t sleep_ns = SLEEP_MIN_NS;
    int rc;
    for (unsigned round = 0;; round++) {
        rc = try_next(sub, out, &lost);
        if (rc == NR_OK)
            break;
        if (nr_deadline_expired(deadline)) {
            rc = NR_ETIMEDOUT;
            break;
        }
        if (round < SPIN_ROUNDS) {
            for (int i = 0; i < SPIN_PAUSES; i++)
                cpu_relax();
        } else if (round < SPIN_ROUNDS + YIELD_ROUNDS) {
            sched_yield();
        } else {
            int64_t left = nr_deadline_remaining_ns(deadline);
            nr_sleep_ns(left < sleep_ns ? left : sleep_ns);
            if (sleep_ns < SLEEP_MAX_NS)
                sleep_ns = sleep_ns * 2 < SLEEP_MAX_NS ? sleep_ns * 2 : SLEEP_MAX_NS;
        }
    }
    if (missed)
        *missed = lost;
    return rc;
}

void nr_event_bus_get_stats(const nr_event_bus *bus, nr_event_bus_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!bus)
        return;
    nr_event_bus *b = (nr_event_bus *)bus; /* atomic loads take non-const pointers in C11 */
    /* Relaxed: a snapshot of independent counters. */
    out->published = atomic_load_explicit(&b->head, memory_order_relaxed);
    out->collisions = atomic_load_explicit(&b->collisions, memory_order_relaxed);
    out->subscribers = atomic_load_explicit(&b->subscribers, memory_order_relaxed);
    out->capacity = b->capacity;
}

#else /* !NR_HAVE_EVENTS: the functions exist and say events were not built. */

struct nr_event_bus {
    int unused;
};

int nr_event_bus_create(nr_event_bus **out, uint32_t capacity, nr_error *err)
{
    (void)out;
    (void)capacity;
    return nr_error_set(err, NR_EINVAL, NULL,
                        "event bus: events were not built (NR_WITH_EVENTS=OFF)");
}

int nr_event_bus_destroy(nr_event_bus *bus)
{
    (void)bus;
    return NR_OK;
}

bool nr_event_bus_wanted(const nr_event_bus *bus)
{
    (void)bus;
    return false;
}

void nr_event_publish(nr_event_bus *bus, const nr_event *ev)
{
    (void)bus;
    (void)ev;
}

int nr_event_subscribe(nr_event_bus *bus, nr_event_sub **out, nr_error *err)
{
    (void)bus;
    (void)out;
    return nr_error_set(err, NR_EINVAL, NULL, "event subscribe: events were not built");
}

int nr_event_next(nr_event_sub *sub, nr_event *out, uint64_t *missed, nr_deadline deadline)
{
    (void)sub;
    (void)out;
    (void)missed;
    (void)deadline;
    return NR_EINVAL;
}

void nr_event_unsubscribe(nr_event_sub *sub)
{
    (void)sub;
}

void nr_event_bus_get_stats(const nr_event_bus *bus, nr_event_bus_stats *out)
{
    (void)bus;
    if (out)
        memset(out, 0, sizeof(*out));
}

uint64_t nr__event_claim(nr_event_bus *bus)
{
    (void)bus;
    return 0;
}

int nr__event_begin(nr_event_bus *bus, uint64_t n)
{
    (void)bus;
    (void)n;
    return 0;
}

void nr__event_finish(nr_event_bus *bus, uint64_t n, const nr_event *ev)
{
    (void)bus;
    (void)n;
    (void)ev;
}

#endif
