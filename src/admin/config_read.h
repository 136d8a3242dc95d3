/*
 * config_read.h - the bytes of a config file, read whole, with the reason
 * in words when they cannot be had.
 *
 * Thread safety: any thread.
 */
#ifndef NR_CF_CONFIG_READ_H
#define NR_CF_CONFIG_READ_H

#include <stddef.h>

/* The largest config file read, in bytes. */
#define CLI_CONFIG_MAX_BYTES (16u << 20)

/* Read file whole: a regular file of at most CLI_CONFIG_MAX_BYTES. Returns
 * its text (NUL-terminated; free() it) with its length in *len, or NULL
 * with the reason in why: "cannot read the file: No such file or
 * directory", "... it is a FIFO (named pipe), not a regular file" (also a
 * directory, a device, a socket: none is opened for reading, so none can
 * block), "... it is larger than the 16 MiB limit for a config file (got N
 * bytes)", "cannot open the file: ...". */
char *cf_config_read(const char *file, size_t *len, char *why, size_t whylen);

#endif
