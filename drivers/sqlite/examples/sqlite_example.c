/*
 * sqlite_example.c - a pool of SQLite connections: create it, lease a
 * connection, run statements, give it back, destroy the pool.
 *
 *     sqlite_example [PATH]
 *
 * PATH defaults to a shared in-memory database, so that every connection of
 * the pool sees the same tables; give a file name to use a file (in WAL mode).
 */
#include <stdio.h>

#include "nebula/resource.h"
#include "nebula/sqlite.h"

static int fail(const char *what, const nr_error *err)
{
    fprintf(stderr, "%s: %s: %s\n", what, nr_err_name(err->code), err->message);
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "file:example?mode=memory&cache=shared";
    nr_error err = {0};

    /* 1. The driver's config: defaults, then what differs. */
    nr_sqlite_config cfg;
    if (nr_config_init(&nr_sqlite_config_schema, &cfg, &err) != NR_OK)
        return fail("config", &err);
    nr_free(cfg.path);
    cfg.path = nr_strdup(path);
    if (!cfg.path) {
        fprintf(stderr, "config: out of memory\n");
        return 1;
    }
    cfg.wal = argc > 1; /* a file: let readers and the writer work side by side */
    cfg.busy_timeout_ms = 2000;

    /* 2. The pool: at most 4 connections, 1 kept ready. */
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;
    pc.min_idle = 1;
    nr_pool_options opts =
        NR_POOL_OPTIONS(.id = "example-db", .type = &nr_sqlite_type, .config = &cfg, .pool = &pc);
    nr_pool *pool = NULL;
    if (nr_pool_create(&pool, &opts, &err) != NR_OK) {
        nr_config_free(&nr_sqlite_config_schema, &cfg);
        return fail("pool", &err);
    }

    /* 3. Open the ready connection now, so that a bad path shows up at start;
     * then lease a connection (waiting at most 1 s), use it, give it back. */
    int status = 0;
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(1000), .caller = "example");
    if (nr_pool_fill(pool, nr_deadline_in_ms(1000), &err) != NR_OK) {
        status = fail("fill", &err);
    } else if (nr_pool_acquire(pool, &ctx, &g, &err) != NR_OK) {
        status = fail("acquire", &err);
    } else {
        void *conn = nr_guard_handle(&g);
        if (nr_sqlite_exec(conn,
                           "CREATE TABLE IF NOT EXISTS visits(who TEXT NOT NULL);"
                           "INSERT INTO visits(who) VALUES ('example')",
                           &err) != NR_OK) {
            status = fail("exec", &err);
            (void)nr_guard_taint(&g); /* do not give a connection in doubt to the next user */
        } else {
            sqlite3_stmt *st = NULL;
            sqlite3 *db = nr_sqlite_db(conn);
            if (sqlite3_prepare_v2(db, "SELECT count(*) FROM visits", -1, &st, NULL) == SQLITE_OK &&
                sqlite3_step(st) == SQLITE_ROW)
                printf("visits: %d\n", sqlite3_column_int(st, 0));
            else
                status = 1;
            sqlite3_finalize(st);
            (void)nr_guard_release(&g);
        }
    }

    /* 4. Every lease is back: the pool can go, then the config. */
    if (nr_pool_destroy(pool, &err) != NR_OK)
        status = fail("destroy", &err);
    nr_config_free(&nr_sqlite_config_schema, &cfg);
    return status;
}
