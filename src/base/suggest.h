/*
 * suggest.h - the closest known name to a misspelt one, for "did you mean"
 * hints (config keys; the program's drivers and ids through
 * nr_config_suggest in nebula/config.h).
 *
 * A name is close when the fewest single-byte edits that turn the word into
 * it (insert, delete, substitute, or swap two neighbours: Damerau-Levenshtein
 * distance in its optimal string alignment form) are at most
 * max(1, len / 3) and fewer than len, len being the word's length. The first
 * of equally close names is kept. Nothing is allocated.
 *
 * Thread safety: a nr__suggest belongs to one thread; the rest is pure.
 */
#ifndef NR_SUGGEST_H
#define NR_SUGGEST_H

#include <stddef.h>

/* Names longer than this are never suggested (the distance is computed in
 * rows of this size on the stack). */
#define NR__SUGGEST_NAME_MAX 127

typedef struct nr__suggest {
    const char *word;
    size_t len;       /* the word's length in bytes */
    size_t limit;     /* the most edits a close name may be away */
    size_t best_dist; /* edits to best */
    const char *best; /* the closest name offered so far, or NULL */
} nr__suggest;

/* Start looking for the names closest to word (len bytes, not NUL-terminated
 * necessarily). */
void nr__suggest_init(nr__suggest *s, const char *word, size_t len);

/* Offer one candidate name (NUL-terminated; NULL is ignored). The suggester
 * keeps a pointer to the best one: name must outlive the suggester. */
void nr__suggest_offer(nr__suggest *s, const char *name);

/* Edits from a to b (see above), or limit + 1 when there are more than limit;
 * b at most NR__SUGGEST_NAME_MAX bytes (longer: limit + 1). */
size_t nr__edit_distance(const char *a, size_t alen, const char *b, size_t blen, size_t limit);

#endif
