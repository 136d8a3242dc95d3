/*
 * config_read.c - read a config file whole. See config_read.h.
 */
#include "config_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(const char *file, size_t *len, int *errnum)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        *errnum = errno;
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap >= CLI_CONFIG_MAX_BYTES) {
                free(buf);
                buf = NULL;
                *errnum = EFBIG;
                break;
            }
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                *errnum = ENOMEM;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                *errnum = errno ? errno : EIO;
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

char *cli_config_read(const char *file, size_t *len, char *why, size_t whylen)
{
    int errnum = 0;
    char *text = read_all(file, len, &errnum);
    if (!text)
        snprintf(why, whylen, "cannot read the file: %s", strerror(errnum));
    return text;
}
