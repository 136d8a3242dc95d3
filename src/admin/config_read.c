/*
 * config_read.c - read a config file whole. See config_read.h.
 *
 * Only a regular file is read: opening a FIFO would wait for a writer
 * forever, a device could give bytes without end. The kind is looked at
 * before the open (a socket cannot be opened at all, and its kind is the
 * better message) and again on the descriptor, which is opened without
 * blocking, so that a file swapped in between cannot hang the read either.
 */
#define _DEFAULT_SOURCE
#include "config_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nebula/error.h"

/* What a file that is not a regular one is, for the message. */
static const char *kind_of(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO (named pipe)";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "of an unknown kind";
}

static bool not_regular(const struct stat *st, char *why, size_t whylen)
{
    if (S_ISREG(st->st_mode))
        return false;
    snprintf(why, whylen, "cannot read the file: it is %s, not a regular file",
             kind_of(st->st_mode));
    return true;
}

static void too_large(char *why, size_t whylen, long long size, bool exact)
{
    snprintf(
        why, whylen,
        "cannot read the file: it is larger than the %u MiB limit for a config file (got %s%lld "
        "bytes)",
        CLI_CONFIG_MAX_BYTES >> 20, exact ? "" : "more than ", size);
}

/* Read fd (size bytes, as fstat said) to its end. The buffer has room for
 * one byte more, so the end is seen without growing it; a file that grew
 * past CLI_CONFIG_MAX_BYTES meanwhile is refused. */
static char *read_fd(int fd, size_t size, size_t *len, char *why, size_t whylen)
{
    size_t cap = size + 2 > 4096 ? size + 2 : 4096, n = 0;
    char etext[200];
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (n > CLI_CONFIG_MAX_BYTES) {
                too_large(why, whylen, (long long)CLI_CONFIG_MAX_BYTES, false);
                break;
            }
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(why, whylen, "cannot read the file: %s",
                     nr_errno_text(errno, etext, sizeof(etext)));
            break;
        }
        if (got == 0) {
            if (n > CLI_CONFIG_MAX_BYTES) {
                too_large(why, whylen, (long long)n, true);
                break;
            }
            buf[n] = '\0';
            *len = n;
            return buf;
        }
        n += (size_t)got;
    }
    if (!buf || why[0] == '\0')
        snprintf(why, whylen, "cannot read the file: out of memory");
    free(buf);
    return NULL;
}

char *cf_config_read(const char *file, size_t *len, char *why, size_t whylen)
{
    why[0] = '\0';
    char etext[200]; /* errno's text; for EMFILE, with the limit that was hit */
    struct stat st;
    if (stat(file, &st) != 0) {
        snprintf(why, whylen, "cannot read the file: %s",
                 nr_errno_text(errno, etext, sizeof(etext)));
        return NULL;
    }
    if (not_regular(&st, why, whylen))
        return NULL;
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open the file: %s",
                 nr_errno_text(errno, etext, sizeof(etext)));
        return NULL;
    }
    char *text = NULL;
    if (fstat(fd, &st) != 0)
        snprintf(why, whylen, "cannot read the file: %s",
                 nr_errno_text(errno, etext, sizeof(etext)));
    else if (not_regular(&st, why, whylen))
        ;
    else if (st.st_size > (off_t)CLI_CONFIG_MAX_BYTES)
        too_large(why, whylen, (long long)st.st_size, true);
    else
        text = read_fd(fd, (size_t)st.st_size, len, why, whylen);
    close(fd);
    return text;
}
