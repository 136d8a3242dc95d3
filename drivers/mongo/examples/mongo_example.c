/*
 * mongo_example.c - a pool of MongoDB clients: create it, lease a client,
 * insert and count documents, give it back, destroy the pool.
 *
 *     mongo_example [HOSTS]
 *
 * HOSTS ("host:port[,host:port...]") defaults to 127.0.0.1:$NR_TEST_MONGO_PORT
 * when that variable is set (the tests run it that way), else to
 * 127.0.0.1:27017. No credential: give one with nr_pool_options.credential
 * (and set cfg.username) for a server that needs a login.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nebula/mongo.h"
#include "nebula/resource.h"

static int fail(const char *what, const nr_error *err)
{
    fprintf(stderr, "%s: %s: %s\n", what, nr_err_name(err->code), err->message);
    return 1;
}

int main(int argc, char **argv)
{
    char hosts[256] = "127.0.0.1:27017";
    const char *port = getenv("NR_TEST_MONGO_PORT");
    if (argc > 1)
        snprintf(hosts, sizeof(hosts), "%s", argv[1]);
    else if (port)
        snprintf(hosts, sizeof(hosts), "127.0.0.1:%s", port);
    nr_error err = {0};

    /* 1. The driver's config: defaults, then what differs. */
    nr_mongo_config cfg;
    if (nr_config_init(&nr_mongo_config_schema, &cfg, &err) != NR_OK)
        return fail("config", &err);
    cfg.hosts = nr_strdup(hosts);
    cfg.database = nr_strdup("example");
    cfg.connect_timeout_ms = 2000;
    cfg.server_selection_timeout_ms = 2000;
    if (!cfg.hosts || !cfg.database) {
        nr_config_free(&nr_mongo_config_schema, &cfg);
        fprintf(stderr, "config: out of memory\n");
        return 1;
    }
    char target[256];
    printf("connecting to %s\n", nr_mongo_describe(&cfg, target, sizeof(target)));

    /* 2. The pool: at most 4 clients, 1 kept ready. */
    nr_pool_config pc;
    nr_pool_config_default(&pc);
    pc.max_size = 4;
    pc.min_idle = 1;
    nr_pool_options opts =
        NR_POOL_OPTIONS(.id = "example-mongo", .type = &nr_mongo_type, .config = &cfg, .pool = &pc);
    nr_pool *pool = NULL;
    if (nr_pool_create(&pool, &opts, &err) != NR_OK) {
        nr_config_free(&nr_mongo_config_schema, &cfg);
        return fail("pool", &err);
    }

    /* 3. Connect the ready client now, so that an unreachable server shows
     * up at start; then lease a client (waiting at most 5 s), use it, give
     * it back. */
    int status = 0;
    nr_guard g = NR_GUARD_INIT;
    nr_ctx ctx = NR_CTX(.deadline = nr_deadline_in_ms(5000), .caller = "example");
    if (nr_pool_fill(pool, nr_deadline_in_ms(5000), &err) != NR_OK) {
        status = fail("fill", &err);
    } else if (nr_pool_acquire(pool, &ctx, &g, &err) != NR_OK) {
        status = fail("acquire", &err);
    } else {
        mongoc_client_t *client = nr_mongo_client(nr_guard_handle(&g));
        mongoc_collection_t *coll =
            mongoc_client_get_collection(client, nr_mongo_database(nr_guard_handle(&g)), "visits");
        bson_error_t be;
        bson_t *doc = BCON_NEW("who", BCON_UTF8("example"));
        bson_t filter = BSON_INITIALIZER;
        int64_t n = -1;
        if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &be) ||
            (n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, &be)) < 0) {
            fprintf(stderr, "mongo: %s\n", be.message);
            status = 1;
        } else {
            printf("visits: %lld\n", (long long)n);
        }
        bson_destroy(&filter);
        bson_destroy(doc);
        mongoc_collection_destroy(coll); /* before the lease ends */
        if (status)
            (void)nr_guard_taint(&g); /* do not give a client in doubt to the next user */
        else
            (void)nr_guard_release(&g);
    }

    /* 4. Statistics, then everything down. */
    nr_pool_stats st = NR_POOL_STATS_INIT;
    nr_pool_stats_get(pool, &st);
    printf("creates: %llu, acquires: %llu\n", (unsigned long long)st.creates,
           (unsigned long long)st.acquires);
    if (nr_pool_destroy(pool, &err) != NR_OK)
        status = fail("destroy", &err);
    nr_config_free(&nr_mongo_config_schema, &cfg);
    return status;
}
