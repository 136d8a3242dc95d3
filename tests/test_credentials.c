/*
 * test_credentials.c - the ready-made credential providers (environment,
 * directory, table, file reading) and the secret cache over a store whose
 * secrets expire, rotating refreshed secrets into a manager.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nebula/testing.h"
#include "nebula/credential_sources.h"
#include "nebula/manager.h"
#include "testutil.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/nr-cred.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void write_file(const char *name, const char *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void want_value(const nr_credential_provider *p, const char *ref, const char *want)
{
    nr_secret *s = NULL;
    nr_error err = {0};
    if (p->fetch(p->ud, ref, &s, &err) != NR_OK)
        fail_msg("fetch %s: %s", ref, err.message);
    assert_string_equal(nr_secret_reveal(s, NULL), want);
    nr_secret_free(s);
}

static void want_error(const nr_credential_provider *p, const char *ref, int code, const char *part)
{
    nr_secret *s = NULL;
    nr_error err = {0};
    assert_int_equal(p->fetch(p->ud, ref, &s, &err), code);
    assert_null(s);
    NR_ASSERT_ERR(err, code, part);
}

static void test_env_provider(void **state)
{
    (void)state;
    char name[64];
    nr_error err = {0};
    assert_int_equal(nr_credential_env_name("APP_", "orders-db/password", name, sizeof(name), &err),
                     NR_OK);
    assert_string_equal(name, "APP_ORDERS_DB_PASSWORD");
    assert_int_equal(nr_credential_env_name(NULL, "x.9", name, sizeof(name), &err), NR_OK);
    assert_string_equal(name, "X_9");
    assert_int_equal(nr_credential_env_name("APP_", "a-very-long-ref", name, 8, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "would be longer than 7 bytes");

    nr_credential_provider p = nr_credential_env_provider("NRT_");
    setenv("NRT_DB_PASSWORD", "hunter2", 1);
    want_value(&p, "db/password", "hunter2");
    unsetenv("NRT_DB_PASSWORD");
    want_error(&p, "db/password", NR_ECRED,
               "credential 'db/password': environment variable NRT_DB_PASSWORD is not set");
}

static void test_file_reading(void **state)
{
    (void)state;
    char path[256];
    nr_secret *s = NULL;
    nr_error err = {0};
    write_file("crlf", "value\r\n", 7);
    snprintf(path, sizeof(path), "%s/crlf", dir);
    assert_int_equal(nr_credential_read_file("r", path, &s, &err), NR_OK);
    assert_string_equal(nr_secret_reveal(s, NULL), "value"); /* one line end dropped */
    nr_secret_free(s);
    write_file("two", "a\n\n", 3);
    snprintf(path, sizeof(path), "%s/two", dir);
    assert_int_equal(nr_credential_read_file("r", path, &s, &err), NR_OK);
    assert_string_equal(nr_secret_reveal(s, NULL), "a\n");
    nr_secret_free(s);
    /* binary, with a NUL */
    write_file("bin", "a\0b", 3);
    snprintf(path, sizeof(path), "%s/bin", dir);
    assert_int_equal(nr_credential_read_file("r", path, &s, &err), NR_OK);
    assert_int_equal(nr_secret_len(s), 3);
    nr_secret_free(s);

    char *big = calloc(1, NR_CREDENTIAL_FILE_MAX + 1);
    memset(big, 'x', NR_CREDENTIAL_FILE_MAX + 1);
    write_file("big", big, NR_CREDENTIAL_FILE_MAX + 1);
    free(big);
    snprintf(path, sizeof(path), "%s/big", dir);
    assert_int_equal(nr_credential_read_file("r", path, &s, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "is larger than 64 KiB");
    /* a FIFO is refused at once (opening it must not wait for a writer) */
    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(nr_credential_read_file("r", path, &s, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "is not a regular file");
    assert_int_equal(nr_credential_read_file("r", dir, &s, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "is not a regular file");
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(nr_credential_read_file("r", path, &s, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "cannot open");
    NR_ASSERT_ERR(err, NR_ECRED, "No such file or directory");
}

static void test_dir_provider(void **state)
{
    (void)state;
    char sub[256];
    snprintf(sub, sizeof(sub), "%s/orders-db", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file("orders-db/password", "pw\n", 3);
    nr_credential_provider p = nr_credential_dir_provider(dir);
    want_value(&p, "orders-db/password", "pw");
    const char *bad[] = {"../etc/passwd", "/etc/passwd", "a//b", "a/./b", "", "a/.."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        want_error(&p, bad[i], NR_ECRED, "must be a relative path of plain names");
    want_error(&p, "orders-db/nope", NR_ECRED, "cannot open");
}

static void test_table_provider(void **state)
{
    (void)state;
    write_file("token", "tok\n", 4);
    char path[256];
    snprintf(path, sizeof(path), "%s/token", dir);
    setenv("NRT_TABLE_PW", "from-env", 1);
    nr_credential_source src[] = {{.ref = "db", .env = "NRT_TABLE_PW"},
                                  {.ref = "api", .file = path},
                                  {.ref = "gone", .env = "NRT_TABLE_UNSET"}};
    unsetenv("NRT_TABLE_UNSET");
    nr_credential_table *t = NULL;
    nr_error err = {0};
    assert_int_equal(nr_credential_table_create(&t, src, 3, &err), NR_OK);
    nr_credential_provider p = nr_credential_table_provider(t);
    want_value(&p, "db", "from-env");
    want_value(&p, "api", "tok");
    want_error(&p, "nope", NR_ENOTFOUND, "credential 'nope' is not defined");
    assert_int_equal(nr_credential_table_check(t, "db", &err), NR_OK);
    assert_int_equal(nr_credential_table_check(t, "api", &err), NR_OK);
    assert_int_equal(nr_credential_table_check(t, "gone", &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "environment variable NRT_TABLE_UNSET is not set");
    nr_credential_table_destroy(t);

    nr_credential_source twice[] = {{.ref = "db", .env = "A"}, {.ref = "db", .env = "B"}};
    assert_int_equal(nr_credential_table_create(&t, twice, 2, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "credential 'db' is given twice");
    nr_credential_source both[] = {{.ref = "db", .env = "A", .file = "/x"}};
    assert_int_equal(nr_credential_table_create(&t, both, 1, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "give exactly one of env and file");
    nr_credential_source noref[] = {{.env = "A"}};
    assert_int_equal(nr_credential_table_create(&t, noref, 1, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "credential source 0: ref is missing");
    assert_null(t);
}

/* A store whose secret is "v<version>" and expires ttl_ms after each fetch. */
typedef struct store {
    atomic_int fetches, version, fail;
    atomic_llong ttl_ms;
} store;

static int store_fetch(void *ud, const char *ref, nr_secret **out, int64_t *expires_ms,
                       nr_error *err)
{
    store *s = ud;
    atomic_fetch_add(&s->fetches, 1);
    if (atomic_load(&s->fail))
        return nr_error_set(err, NR_ECRED, NULL, "store sealed for '%s'", ref);
    char v[32];
    snprintf(v, sizeof(v), "v%d", atomic_load(&s->version));
    long long ttl = atomic_load(&s->ttl_ms);
    *expires_ms = ttl ? nr_wall_ms() + ttl : 0;
    return nr_secret_from_str(out, v, err);
}

static void test_secret_cache(void **state)
{
    (void)state;
    store s = {0};
    atomic_store(&s.version, 1);
    atomic_store(&s.ttl_ms, 3600 * 1000LL);
    nr_secret_store st = {store_fetch, &s};
    nr_secret_cache *c = NULL;
    nr_error err = {0};
    assert_int_equal(nr_secret_cache_create(&c, &st, -1, &err), NR_EINVAL);
    NR_ASSERT_ERR(err, NR_EINVAL, "refresh_before_ms must be 0..86400000 (got -1)");
    assert_int_equal(nr_secret_cache_create(&c, &st, 60000, &err), NR_OK);
    assert_int_equal(nr_secret_cache_next_refresh_ms(c), 0);
    nr_credential_provider p = nr_secret_cache_provider(c);
    want_value(&p, "db", "v1");
    want_value(&p, "db", "v1");
    assert_int_equal(atomic_load(&s.fetches), 1); /* cached while it has not expired */
    int64_t next = nr_secret_cache_next_refresh_ms(c);
    assert_true(next > nr_wall_ms() && next <= nr_wall_ms() + 3600 * 1000LL - 60000 + 1000);

    /* not due: refresh fetches nothing */
    uint32_t rotated = 9;
    assert_int_equal(nr_secret_cache_refresh(c, NULL, &rotated, &err), NR_OK);
    assert_int_equal(rotated, 0);
    nr_secret_cache_destroy(c);

    /* a short-lived secret: due at once with refresh_before_ms above its ttl */
    atomic_store(&s.fetches, 0);
    atomic_store(&s.ttl_ms, 30 * 1000LL);
    assert_int_equal(nr_secret_cache_create(&c, &st, 60000, &err), NR_OK);
    p = nr_secret_cache_provider(c);
    want_value(&p, "db", "v1");
    atomic_store(&s.version, 2);
    assert_int_equal(nr_secret_cache_refresh(c, NULL, &rotated, &err), NR_OK);
    assert_int_equal(rotated, 1);
    want_value(&p, "db", "v2");
    /* due at once again (ttl below refresh_before_ms): that fetch went to the store */
    assert_int_equal(atomic_load(&s.fetches), 3);
    /* a failing store: the error is returned, the cached value stays */
    atomic_store(&s.fail, 1);
    assert_int_equal(nr_secret_cache_refresh(c, NULL, &rotated, &err), NR_ECRED);
    NR_ASSERT_ERR(err, NR_ECRED, "store sealed for 'db'");
    want_value(&p, "db", "v2");
    atomic_store(&s.fail, 0);
    nr_secret_cache_destroy(c);

    /* an already expired secret is never handed out */
    atomic_store(&s.ttl_ms, -1000LL);
    assert_int_equal(nr_secret_cache_create(&c, &st, 0, &err), NR_OK);
    p = nr_secret_cache_provider(c);
    want_error(&p, "db", NR_ECRED, "a secret that has already expired");
    nr_secret_cache_destroy(c);
}

static void test_secret_cache_rotates_into_a_manager(void **state)
{
    (void)state;
    store s = {0};
    atomic_store(&s.version, 1);
    atomic_store(&s.ttl_ms, 30 * 1000LL); /* within refresh_before_ms: always due */
    nr_secret_store st = {store_fetch, &s};
    nr_secret_cache *c = NULL;
    assert_int_equal(nr_secret_cache_create(&c, &st, 60000, NULL), NR_OK);
    nr_credential_provider p = nr_secret_cache_provider(c);
    nr_mock fake;
    nr_mock_init(&fake);
    nr_mock_config cfg;
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &cfg, NULL), NR_OK);
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_manager_options_default(&mo);
    mo.maintain_interval_ms = 0;
    mo.health_interval_ms = 0;
    mo.credentials = &p;
    nr_manager *m = NULL;
    assert_int_equal(nr_manager_create(&m, &mo, NULL), NR_OK);
    nr_resource_spec spec = NR_RESOURCE_SPEC(.id = "db", .type = &nr_mock_type, .type_ud = &fake,
                                             .config = &cfg, .credential_ref = "db/password");
    nr_error err = {0};
    assert_int_equal(nr_manager_register(m, &spec, &err), NR_OK);
    assert_int_equal(nr_manager_start(m, nr_deadline_in_ms(5000), &err), NR_OK);
    nr_guard g = NR_GUARD_INIT;
    assert_int_equal(nr_manager_acquire(m, "db", NULL, &g, &err), NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&g))->credential_len, 2); /* "v1" */
    assert_int_equal(nr_guard_release(&g), NR_OK);

    atomic_store(&s.version, 10); /* "v10" */
    uint32_t rotated = 0;
    assert_int_equal(nr_secret_cache_refresh(c, m, &rotated, &err), NR_OK);
    assert_int_equal(rotated, 1);
    assert_int_equal(nr_manager_acquire(m, "db", NULL, &g, &err), NR_OK);
    assert_int_equal(((nr_mock_handle *)nr_guard_handle(&g))->credential_len, 3);
    assert_int_equal(nr_guard_release(&g), NR_OK);
    nr_resource_info ri = NR_RESOURCE_INFO_INIT;
    assert_int_equal(nr_manager_resource_info(m, "db", &ri, NULL), NR_OK);
    assert_int_equal(ri.stats.credential_retired, 1); /* the instance made with "v1" */
    assert_int_equal(nr_manager_destroy(m, NULL), NR_OK);
    assert_int_equal(atomic_load(&fake.creates), atomic_load(&fake.destroys));
    nr_config_free(&nr_mock_config_schema, &cfg);
    nr_secret_cache_destroy(c);
}

/* Many threads fetch while another refreshes: values are always whole ones. */
typedef struct race {
    nr_credential_provider p;
    atomic_bool stop;
    atomic_int bad;
} race;

static void *fetcher(void *arg)
{
    race *r = arg;
    while (!atomic_load(&r->stop)) {
        nr_secret *s = NULL;
        if (r->p.fetch(r->p.ud, "db", &s, NULL) != NR_OK || nr_secret_reveal(s, NULL)[0] != 'v')
            atomic_fetch_add(&r->bad, 1);
        nr_secret_free(s);
    }
    return NULL;
}

static void test_secret_cache_concurrent(void **state)
{
    (void)state;
    store s = {0};
    atomic_store(&s.version, 1);
    atomic_store(&s.ttl_ms, 30 * 1000LL);
    nr_secret_store st = {store_fetch, &s};
    nr_secret_cache *c = NULL;
    assert_int_equal(nr_secret_cache_create(&c, &st, 60000, NULL), NR_OK);
    race r = {.p = nr_secret_cache_provider(c)};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, fetcher, &r);
    for (int i = 0; i < 200; i++) {
        atomic_store(&s.version, i);
        assert_int_equal(nr_secret_cache_refresh(c, NULL, NULL, NULL), NR_OK);
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&r.bad), 0);
    nr_secret_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_provider),
        cmocka_unit_test(test_file_reading),
        cmocka_unit_test(test_dir_provider),
        cmocka_unit_test(test_table_provider),
        cmocka_unit_test(test_secret_cache),
        cmocka_unit_test(test_secret_cache_rotates_into_a_manager),
        cmocka_unit_test(test_secret_cache_concurrent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
