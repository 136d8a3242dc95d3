/*
 * test_config_read.c - cf_config_read when the process has no file
 * descriptor left: the reason names EMFILE and the RLIMIT_NOFILE limit
 * (a shell cannot get the program there: the dynamic loader needs the same
 * one descriptor the config file does). The limit is lowered here, filled
 * with descriptors, and put back before anything is checked.
 *
 *   test_config_read DIR   (a directory to write the config file in)
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config_read.h"

#define LIMIT 32

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL at line %d: %s\n", __LINE__, #cond);                             \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_config_read DIR\n");
        return 2;
    }
    char file[512];
    snprintf(file, sizeof(file), "%s/fd_limit.json", argv[1]);
    FILE *f = fopen(file, "w");
    if (!f || fputs("{\"resources\": []}\n", f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", file);
        return 1;
    }

    struct rlimit saved, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    low = (struct rlimit){.rlim_cur = LIMIT, .rlim_max = saved.rlim_max};
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    int fds[LIMIT], n = 0, fd;
    while (n < LIMIT && (fd = dup(2)) >= 0)
        fds[n++] = fd;
    int dup_errno = errno;
    size_t len = 0;
    char why[400];
    char *text = cf_config_read(file, &len, why, sizeof(why));
    while (n > 0)
        close(fds[--n]);
    CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);

    CHECK(dup_errno == EMFILE);
    CHECK(text == NULL);
    char want[300];
    snprintf(want, sizeof(want),
             "cannot open the file: %s (EMFILE: the RLIMIT_NOFILE limit of this process is %d "
             "open files, hard limit ",
             strerror(EMFILE), LIMIT);
    CHECK(strncmp(why, want, strlen(want)) == 0);
    if (text == NULL)
        printf("out of descriptors: %s\n", why);
    free(text);

    /* with the descriptors back, the same file reads */
    text = cf_config_read(file, &len, why, sizeof(why));
    CHECK(text != NULL && len == strlen("{\"resources\": []}\n"));
    free(text);
    unlink(file);
    if (failures)
        return 1;
    printf("ok: config_read names EMFILE and the limit\n");
    return 0;
}
