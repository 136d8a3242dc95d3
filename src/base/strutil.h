/*
 * strutil.h - bounded string copies that say when they cut.
 */
#ifndef NR_STRUTIL_H
#define NR_STRUTIL_H

#include <stddef.h>

/* Copy src into dst (capacity n > 3). A copy that does not fit ends in
 * "..." and 1 comes back; 0 when it fit. */
int nr__copy_marked(char *dst, size_t n, const char *src);

#endif
