/*
 * config_read.h - the bytes of a config file, read whole, with the reason
 * in words when they cannot be had.
 *
 * Thread safety: any thread.
 */
#ifndef NR_CLI_CONFIG_READ_H
#define NR_CLI_CONFIG_READ_H

#include <stddef.h>

/* The largest config file read, in bytes. */
#define CLI_CONFIG_MAX_BYTES (16u << 20)

/* Read file whole. Returns its text (NUL-terminated; free() it) with its
 * length in *len, or NULL with the reason in why (e.g. "cannot read the
 * file: No such file or directory"). */
char *cli_config_read(const char *file, size_t *len, char *why, size_t whylen);

#endif
