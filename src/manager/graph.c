/*
 * graph.c - dependency graphs: Kahn's algorithm with levels for the start-up
 * order, an iterative colouring depth-first search for cycles, and a
 * breadth-first walk over reversed edges for dependents.
 *
 * Edges point from a node to what it depends on. Kahn's algorithm and the
 * dependents walk need the opposite direction ("who depends on me"), built
 * once per call as a compressed array: the dependents of node d are
 * rev[off[d]] .. rev[off[d + 1] - 1], with one entry per edge (duplicates
 * included, so that they match the per-node dependency counts).
 */
#include "manager/graph.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "nebula/alloc.h"

/* count * size bytes from nr_malloc, or NULL when that overflows. */
static void *alloc_array(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    return nr_malloc(count * size);
}

/* Node i's name for messages; buf (16 bytes) holds "#i" when it has none. */
static const char *name_of(const nr__dag_view *g, uint32_t i, char buf[16])
{
    if (g->names && g->names[i])
        return g->names[i];
    snprintf(buf, 16, "#%u", (unsigned)i);
    return buf;
}

static int view_ok(const nr__dag_view *g)
{
    return g && (g->n == 0 || (g->deps && g->ndeps));
}

/* Find the first edge whose target is out of range: 1 and *node, *k set; else 0. */
static int find_bad_edge(const nr__dag_view *g, uint32_t *node, uint32_t *k)
{
    for (uint32_t i = 0; i < g->n; i++) {
        for (uint32_t j = 0; j < g->ndeps[i]; j++) {
            if (g->deps[i][j] >= g->n) {
                *node = i;
                *k = j;
                return 1;
            }
        }
    }
    return 0;
}

/* Build the reversed edges (see the top of the file). NR_OK or NR_ENOMEM. */
static int build_reverse(const nr__dag_view *g, size_t **off_out, uint32_t **rev_out)
{
    uint32_t n = g->n;
    size_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (g->ndeps[i] > SIZE_MAX - m)
            return NR_ENOMEM;
        m += g->ndeps[i];
    }
    if (n == UINT32_MAX)
        return NR_ENOMEM; /* off has n + 1 entries */
    size_t *off = alloc_array((size_t)n + 1, sizeof(*off));
    if (!off)
        return NR_ENOMEM;
    uint32_t *rev = alloc_array(m, sizeof(*rev));
    if (!rev) {
        nr_free(off);
        return NR_ENOMEM;
    }
    /* Count into off[d + 1], turn the counts into starts, then fill, using
     * off[d] as node d's cursor; afterwards off[d] is node d + 1's start, so
     * shift back by one. */
    memset(off, 0, ((size_t)n + 1) * sizeof(*off));
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < g->ndeps[i]; j++)
            off[g->deps[i][j] + 1]++;
    for (uint32_t d = 0; d < n; d++)
        off[d + 1] += off[d];
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < g->ndeps[i]; j++)
            rev[off[g->deps[i][j]]++] = i;
    for (uint32_t d = n; d > 0; d--)
        off[d] = off[d - 1];
    off[0] = 0;
    *off_out = off;
    *rev_out = rev;
    return NR_OK;
}

/* ---- cycles ------------------------------------------------------------------------ */

enum { WHITE = 0, GREY = 1, BLACK = 2 };

typedef struct dfs_frame {
    uint32_t node;
    uint32_t next; /* index of the next dependency of node to follow */
} dfs_frame;

static void reverse_range(uint32_t *a, uint32_t lo, uint32_t hi) /* [lo, hi) */
{
    while (hi > lo + 1) {
        uint32_t t = a[lo];
        a[lo] = a[hi - 1];
        a[hi - 1] = t;
        lo++;
        hi--;
    }
}

/*
 * Depth-first search with colours: grey nodes are on the stack, so an edge to
 * a grey node closes a cycle made of the stack from that node to the top.
 * Writes the cycle's k distinct nodes (out has capacity n), rotated to start at
 * the lowest index, into out and k into *k. Returns 1, 0 (acyclic) or
 * NR_ENOMEM. The edges must be in range.
 */
static int find_cycle_nodes(const nr__dag_view *g, uint32_t *out, uint32_t *k)
{
    uint32_t n = g->n;
    *k = 0;
    if (n == 0)
        return 0;
    /* One block: n frames, then n colours. */
    dfs_frame *stack = alloc_array(n, sizeof(dfs_frame) + 1);
    if (!stack)
        return NR_ENOMEM;
    unsigned char *colour = (unsigned char *)(stack + n);
    memset(colour, WHITE, n);

    int found = 0;
    for (uint32_t s = 0; s < n && !found; s++) {
        if (colour[s] != WHITE)
            continue;
        uint32_t sp = 0;
        stack[sp++] = (dfs_frame){s, 0};
        colour[s] = GREY;
        while (sp > 0 && !found) {
            dfs_frame *f = &stack[sp - 1];
            uint32_t u = f->node;
            if (f->next == g->ndeps[u]) {
                colour[u] = BLACK;
                sp--;
                continue;
            }
            uint32_t v = g->deps[u][f->next++];
            if (colour[v] == WHITE) {
                colour[v] = GREY;
                stack[sp++] = (dfs_frame){v, 0}; /* sp < n: each node is pushed once */
            } else if (colour[v] == GREY) {
                uint32_t j = sp - 1;
                while (stack[j].node != v)
                    j--;
                uint32_t len = sp - j, low = 0;
                for (uint32_t t = 0; t < len; t++) {
                    out[t] = stack[j + t].node;
                    if (out[t] < out[low])
                        low = t;
                }
                /* Rotate left by low: the lowest index comes first. */
                reverse_range(out, 0, low);
                reverse_range(out, low, len);
                reverse_range(out, 0, len);
                *k = len;
                found = 1;
            }
        }
    }
    nr_free(stack);
    return found;
}

int nr__dag_find_cycle(const nr__dag_view *g, uint32_t *cycle, uint32_t *len)
{
    uint32_t node, k;
    if (!view_ok(g) || !cycle || !len)
        return NR_EINVAL;
    *len = 0;
    if (find_bad_edge(g, &node, &k))
        return NR_EINVAL;
    int rc = find_cycle_nodes(g, cycle, &k);
    if (rc == 1) {
        cycle[k] = cycle[0];
        *len = k + 1;
    }
    return rc;
}

/* Appends to a message that is handed to nr_error_set. The buffer holds one
 * byte more than a message can, so text that does not fit stays longer than
 * the message buffer and nr_error_set cuts it with "...". */
typedef struct msgbuf {
    char s[NR_ERROR_MESSAGE_MAX + 1];
    size_t len;
} msgbuf;

static void msg_add(msgbuf *b, const char *text)
{
    size_t room = sizeof(b->s) - 1 - b->len;
    size_t t = strlen(text);
    if (t > room)
        t = room;
    memcpy(b->s + b->len, text, t);
    b->len += t;
    b->s[b->len] = '\0';
}

/* ECYCLE with the cycle spelled out; NR_ENOMEM when it cannot be traced.
 * scratch has capacity n. */
static int report_cycle(const nr__dag_view *g, uint32_t *scratch, nr_error *err)
{
    uint32_t k;
    int rc = find_cycle_nodes(g, scratch, &k);
    if (rc < 0)
        return nr_error_set(err, rc, NULL, "out of memory while tracing a circular dependency");
    if (rc == 0) /* cannot happen: Kahn's algorithm stopped short */
        return nr_error_set(err, NR_EINTERNAL, NULL, "dependency graph: no cycle found");
    char nb[16];
    msgbuf b;
    b.len = 0;
    b.s[0] = '\0';
    msg_add(&b, "circular dependency: ");
    for (uint32_t t = 0; t < k && b.len < sizeof(b.s) - 1; t++) {
        msg_add(&b, name_of(g, scratch[t], nb));
        msg_add(&b, " -> ");
    }
    msg_add(&b, name_of(g, scratch[0], nb));
    return nr_error_set(err, NR_ECYCLE, name_of(g, scratch[0], nb), "%s", b.s);
}

/* ---- start-up order ---------------------------------------------------------------- */

int nr__dag_order(const nr__dag_view *g, uint32_t *order, uint32_t *level, nr_error *err)
{
    if (!view_ok(g))
        return nr_error_set(err, NR_EINVAL, NULL, "dependency graph: NULL view or edge arrays");
    if (!order && g->n > 0)
        return nr_error_set(err, NR_EINVAL, NULL, "dependency graph: NULL order buffer");
    uint32_t n = g->n, bad, k;
    if (find_bad_edge(g, &bad, &k)) {
        char nb[16];
        const char *name = name_of(g, bad, nb);
        return nr_error_set(err, NR_EINVAL, name,
                            "resource '%s' (node %u) depends on node %u, which does not exist "
                            "(%u nodes)",
                            name, (unsigned)bad, (unsigned)g->deps[bad][k], (unsigned)n);
    }
    if (n == 0)
        return NR_OK;

    size_t *off = NULL;
    uint32_t *rev = NULL, *remaining = NULL, *lvl = level, *own_lvl = NULL;
    int rc = build_reverse(g, &off, &rev);
    if (rc != NR_OK)
        return nr_error_set(err, rc, NULL, "out of memory ordering %u resources", (unsigned)n);
    remaining = alloc_array(n, sizeof(*remaining));
    if (!lvl)
        lvl = own_lvl = alloc_array(n, sizeof(*lvl));
    if (!remaining || !lvl) {
        rc = nr_error_set(err, NR_ENOMEM, NULL, "out of memory ordering %u resources", (unsigned)n);
        goto out;
    }

    /* Kahn's algorithm, with order[] as the queue: a node is queued once all
     * its dependencies were taken off it, and by then its level is final. */
    uint32_t head = 0, tail = 0;
    for (uint32_t i = 0; i < n; i++) {
        remaining[i] = g->ndeps[i];
        lvl[i] = 0;
        if (remaining[i] == 0)
            order[tail++] = i;
    }
    while (head < tail) {
        uint32_t d = order[head++];
        for (size_t e = off[d]; e < off[d + 1]; e++) {
            uint32_t i = rev[e];
            if (lvl[i] < lvl[d] + 1)
                lvl[i] = lvl[d] + 1;
            if (--remaining[i] == 0)
                order[tail++] = i;
        }
    }
    if (tail < n) {
        nr_free(off);
        nr_free(rev);
        nr_free(remaining);
        nr_free(own_lvl);
        return report_cycle(g, order, err);
    }

    /* Counting sort by level, stable in index; levels are < n and remaining[]
     * is all zero now, so it serves as the per-level counters. */
    for (uint32_t i = 0; i < n; i++)
        remaining[lvl[i]]++;
    uint32_t start = 0;
    for (uint32_t l = 0; l < n; l++) {
        uint32_t c = remaining[l];
        remaining[l] = start;
        start += c;
    }
    for (uint32_t i = 0; i < n; i++)
        order[remaining[lvl[i]]++] = i;
    rc = NR_OK;
out:
    nr_free(off);
    nr_free(rev);
    nr_free(remaining);
    nr_free(own_lvl);
    return rc;
}

/* ---- dependents -------------------------------------------------------------------- */

int nr__dag_dependents(const nr__dag_view *g, uint32_t root, unsigned char *mark)
{
    uint32_t bad, k;
    if (!view_ok(g) || !mark || root >= g->n || find_bad_edge(g, &bad, &k))
        return NR_EINVAL;
    uint32_t n = g->n;
    size_t *off = NULL;
    uint32_t *rev = NULL;
    int rc = build_reverse(g, &off, &rev);
    if (rc != NR_OK)
        return rc;
    uint32_t *queue = alloc_array(n, sizeof(*queue));
    if (!queue) {
        nr_free(off);
        nr_free(rev);
        return NR_ENOMEM;
    }
    /* Breadth-first over reversed edges; mark[] doubles as the visited set
     * and root is never entered twice because it is never marked. */
    memset(mark, 0, n);
    uint32_t head = 0, tail = 0;
    queue[tail++] = root;
    while (head < tail) {
        uint32_t d = queue[head++];
        for (size_t e = off[d]; e < off[d + 1]; e++) {
            uint32_t i = rev[e];
            if (i != root && !mark[i]) {
                mark[i] = 1;
                queue[tail++] = i;
            }
        }
    }
    nr_free(queue);
    nr_free(off);
    nr_free(rev);
    return NR_OK;
}
