/*
 * suggest.c - edit distance and the closest name to a misspelt one. See
 * suggest.h for the rule.
 */
#include "base/suggest.h"

#include <string.h>

#include "nebula/config.h"

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

size_t nr__edit_distance(const char *a, size_t alen, const char *b, size_t blen, size_t limit)
{
    if (blen > NR__SUGGEST_NAME_MAX)
        return limit + 1;
    if ((alen > blen ? alen - blen : blen - alen) > limit)
        return limit + 1; /* every length difference is one edit at least */
    /* Three rows of the table over b: two rows back (for a swap), the row
     * before and the one being filled. */
    size_t rows[3][NR__SUGGEST_NAME_MAX + 1];
    size_t *back2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= blen; j++)
        prev[j] = j;
    for (size_t i = 1; i <= alen; i++) {
        cur[0] = i;
        size_t row_min = cur[0];
        for (size_t j = 1; j <= blen; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                back2[j - 2] + 1 < d)
                d = back2[j - 2] + 1;
            cur[j] = d;
            if (d < row_min)
                row_min = d;
        }
        if (row_min > limit)
            return limit + 1; /* no later row gets below its row's minimum */
        size_t *t = back2;
        back2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[blen] <= limit ? prev[blen] : limit + 1;
}

void nr__suggest_init(nr__suggest *s, const char *word, size_t len)
{
    size_t limit = len / 3 > 1 ? len / 3 : 1;
    if (limit >= len)
        limit = len ? len - 1 : 0; /* a word is never wholly replaced */
    *s = (nr__suggest){.word = word, .len = len, .limit = limit, .best_dist = limit + 1};
}

void nr__suggest_offer(nr__suggest *s, const char *name)
{
    if (!name || !s->word || s->len == 0)
        return;
    size_t d = nr__edit_distance(s->word, s->len, name, strlen(name), s->limit);
    if (d < s->best_dist) {
        s->best_dist = d;
        s->best = name;
    }
}

const char *nr_config_suggest(const char *word, const char *const *names, size_t count)
{
    if (!word || !names)
        return NULL;
    nr__suggest s;
    nr__suggest_init(&s, word, strlen(word));
    for (size_t i = 0; i < count; i++)
        nr__suggest_offer(&s, names[i]);
    return s.best;
}
