/* pool_fixture.c - see pool_fixture.h. */
#include <stdlib.h>

#include "pool_fixture.h"
#include "testutil.h"

int nr_pool_fixture_setup(void **state)
{
    nr_pool_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    nr_mock_init(&f->fake);
    assert_int_equal(nr_config_init(&nr_mock_config_schema, &f->cfg, NULL), NR_OK);
    nr_pool_config_default(&f->pcfg);
    f->pcfg.max_size = 4;
    *state = f;
    return 0;
}

int nr_pool_fixture_teardown(void **state)
{
    nr_pool_fixture *f = *state;
    nr_error err = {0};
    if (f->pool)
        assert_int_equal(nr_pool_destroy(f->pool, NULL), NR_OK);
    /* every create matched by exactly one destroy */
    if (nr_mock_check_clean(&f->fake, &err) != NR_OK)
        fail_msg("%s", err.message);
    nr_config_free(&nr_mock_config_schema, &f->cfg);
    free(f);
    return 0;
}

static int64_t fixture_clock(void *ud)
{
    nr_pool_fixture *f = ud;
    return (int64_t)atomic_load(&f->clock_ns);
}

void nr_pool_fixture_make(nr_pool_fixture *f, const char *id)
{
    nr_pool_options o =
        NR_POOL_OPTIONS(.id = id, .type = &nr_mock_type, .type_ud = &f->fake, .config = &f->cfg,
                        .pool = &f->pcfg, .events = f->events, .hooks = f->hooks, .scope = f->scope,
                        .clock = f->fake_clock ? fixture_clock : NULL, .clock_ud = f);
    nr_error err = {0};
    if (nr_pool_create(&f->pool, &o, &err) != NR_OK)
        fail_msg("nr_pool_create: %s", err.message);
}

nr_pool_stats nr_pool_fixture_stats(nr_pool_fixture *f)
{
    nr_pool_stats s = NR_POOL_STATS_INIT;
    nr_pool_stats_get(f->pool, &s);
    return s;
}
