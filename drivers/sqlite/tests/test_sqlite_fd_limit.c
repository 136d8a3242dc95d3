/*
 * test_sqlite_fd_limit.c - create when the process is out of file
 * descriptors: SQLite says only "unable to open database file"; the driver's
 * error names EMFILE and the RLIMIT_NOFILE limit that was hit. Each test
 * lowers the soft limit, fills it with descriptors, and puts both back
 * before it asserts anything.
 */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nebula/sqlite.h"

#define ID     "db-fd"
#define LIMIT  64
#define MAXDUP LIMIT

typedef struct fixture {
    char dir[64];
    char path[256];
    struct rlimit saved;
    int dups[MAXDUP];
    int ndups;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/nr-sqlite-fd-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
    if (getrlimit(RLIMIT_NOFILE, &f->saved) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* Lower the soft limit to LIMIT and take every descriptor left but spare. */
static void exhaust(fixture *f, int spare)
{
    struct rlimit low = {.rlim_cur = LIMIT, .rlim_max = f->saved.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    f->ndups = 0;
    int fd;
    while (f->ndups < MAXDUP && (fd = dup(2)) >= 0)
        f->dups[f->ndups++] = fd;
    assert_int_equal(errno, EMFILE);
    for (int k = 0; k < spare && f->ndups > 0; k++)
        close(f->dups[--f->ndups]);
}

/* Give every descriptor back and the limit as it was. */
static void restore(fixture *f)
{
    while (f->ndups > 0)
        close(f->dups[--f->ndups]);
    setrlimit(RLIMIT_NOFILE, &f->saved);
}

static int teardown(void **state)
{
    fixture *f = *state;
    restore(f);
    nr_test_remove_dir(f->dir);
    free(f);
    return 0;
}

static nr_sqlite_config cfg_make(const char *path, bool wal)
{
    nr_sqlite_config c = {.path = (char *)path,
                          .busy_timeout_ms = 1000,
                          .wal = wal,
                          .create = true,
                          .foreign_keys = true};
    return c;
}

static int create(const nr_sqlite_config *cfg, void **h, nr_error *err)
{
    nr_create_ctx ctx = {.resource_id = ID, .deadline = nr_deadline_in_ms(60000)};
    return nr_sqlite_type.create(h, cfg, &ctx, NULL, err);
}

static void assert_names_emfile(const nr_error *err, const char *step)
{
    char want[200];
    snprintf(want, sizeof(want), "sqlite '%s': %s '", ID, step);
    assert_non_null(strstr(err->message, want));
    snprintf(want, sizeof(want),
             "failed: unable to open database file: %s (EMFILE: the RLIMIT_NOFILE limit of this "
             "process is %d open files, hard limit ",
             strerror(EMFILE), LIMIT);
    assert_non_null(strstr(err->message, want));
    assert_int_equal(err->truncated, 0);
}

static void test_open_out_of_descriptors(void **state)
{
    fixture *f = *state;
    nr_sqlite_config cfg = cfg_make(f->path, false);
    void *h = NULL;
    nr_error err = {0};
    exhaust(f, 0);
    int rc = create(&cfg, &h, &err);
    restore(f);
    assert_int_equal(rc, NR_EUNAVAIL);
    assert_null(h);
    assert_int_equal(err.driver_code & 0xff, SQLITE_CANTOPEN);
    assert_names_emfile(&err, "opening");

    /* with the descriptors back, the same create works */
    assert_int_equal(create(&cfg, &h, &err), NR_OK);
    nr_sqlite_type.destroy(h, NULL);
}

static void test_wal_out_of_descriptors(void **state)
{
    fixture *f = *state;
    nr_sqlite_config cfg = cfg_make(f->path, true);
    void *h = NULL;
    nr_error err = {0};
    exhaust(f, 1); /* the database file opens, its WAL file cannot */
    int rc = create(&cfg, &h, &err);
    restore(f);
    assert_int_equal(rc, NR_EUNAVAIL);
    assert_null(h);
    assert_names_emfile(&err, "switching to WAL on");
}

static void test_other_failures_say_nothing_of_descriptors(void **state)
{
    fixture *f = *state;
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/no-such-dir/x.db", f->dir);
    nr_sqlite_config cfg = cfg_make(missing, false);
    void *h = NULL;
    nr_error err = {0};
    assert_int_equal(create(&cfg, &h, &err), NR_EUNAVAIL);
    assert_non_null(strstr(err.message, "unable to open database file"));
    assert_null(strstr(err.message, "EMFILE"));
    assert_null(strstr(err.message, "RLIMIT_NOFILE"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_out_of_descriptors),
        T(test_wal_out_of_descriptors),
        T(test_other_failures_say_nothing_of_descriptors),
    };
    return cmocka_run_group_tests_name("sqlite_fd_limit", tests, NULL, NULL);
}
