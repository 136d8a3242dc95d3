/*
 * json_pos.h - where each value of a JSON text is: a map from the JSON path
 * of every value ("$", "$.resources[2].pool.max_size", "$[\"a key\"]", the
 * form the config report uses) to its line and column.
 *
 * jansson keeps no positions for the values it parses; this scanner walks
 * the text again (text jansson accepted) and records them, so that every
 * problem `check` reports can say where it is, and show a number as it is
 * written (jansson reads 1.0 and 1e3 as doubles, which print as 1 and 1000).
 *
 * Lines and columns are 1-based; a column counts characters (UTF-8
 * sequences), as jansson's do.
 *
 * Thread safety: one thread per map.
 */
#ifndef NR_CF_JSON_POS_H
#define NR_CF_JSON_POS_H

#include <stddef.h>

typedef struct cf_pos_entry {
    char *path;
    int line, col;     /* where the value starts */
    int kline, kcol;   /* where its key starts (object members), else = line, col */
    size_t start, end; /* the value's bytes in the text: [start, end) */
} cf_pos_entry;

typedef struct cf_pos_map {
    cf_pos_entry *v;
    size_t n, cap;
} cf_pos_map;

/* Scan text (valid JSON). Returns 0, or -1 when memory ran out (the map
 * then holds what was found so far). */
int cf_pos_scan(cf_pos_map *map, const char *text, size_t len);

/* The entry of path, or of the closest enclosing value that has one; NULL
 * when not even "$" is known. */
const cf_pos_entry *cf_pos_find(const cf_pos_map *map, const char *path);

void cf_pos_free(cf_pos_map *map);

#endif
