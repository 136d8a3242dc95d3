/*
 * main.cpp - PostgreSQL from C++ under a manager: a resource registered with
 * its config and a credential reference, started, leased, shut down.
 *
 * Where the server is comes from the environment (the test wrapper
 * drivers/postgres/tests/with-postgres.sh sets these): NR_TEST_PG_HOST,
 * NR_TEST_PG_PORT, NR_TEST_PG_USER, NR_TEST_PG_DB, and the password in
 * NR_TEST_PG_PASSWORD, which the manager's environment credential provider
 * reads (ref "password", prefix "NR_TEST_PG_"): it never is in the config.
 */
#include <nebula/credential_sources.h>
#include <nebula/postgres.hpp>

#include <cstdio>
#include <cstdlib>

using namespace std::chrono_literals;

static const char *env(const char *name, const char *fallback)
{
    const char *v = std::getenv(name);
    return v ? v : fallback;
}

int main()
try {
    nebula::Config cfg = nebula::postgres::config().value();
    cfg.set("host", env("NR_TEST_PG_HOST", "127.0.0.1")).value();
    cfg.set("port", std::atoll(env("NR_TEST_PG_PORT", "5432"))).value();
    cfg.set("user", env("NR_TEST_PG_USER", "postgres")).value();
    cfg.set("dbname", env("NR_TEST_PG_DB", "postgres")).value();
    cfg.set("statement_timeout_ms", 5000).value();

    nr_credential_provider credentials = nr_credential_env_provider("NR_TEST_PG_");
    nr_manager_options mo = nebula::sized<nr_manager_options>();
    nr_manager_options_default(&mo);
    mo.credentials = &credentials;
    nebula::Manager manager = nebula::Manager::create_or_throw(&mo);

    nr_resource_spec spec = nebula::sized<nr_resource_spec>();
    spec.id = "orders-db";
    spec.type = &nebula::postgres::type();
    spec.config = cfg.get(); /* copied: cfg may go */
    spec.credential_ref = "password";
    manager.register_resource_or_throw(spec);
    manager.start_or_throw(10s); /* connects once: a wrong password fails here */

    {
        nebula::Guard g = manager.acquire_or_throw("orders-db", 2s);
        nebula::postgres::exec_or_throw(g, "CREATE TABLE IF NOT EXISTS visits(who text NOT NULL);"
                                           "INSERT INTO visits(who) VALUES ('cpp')");
        nebula::postgres::Rows rows =
            nebula::postgres::query_or_throw(g, "SELECT count(*) FROM visits");
        std::printf("visits: %s\n", PQgetvalue(rows.get(), 0, 0));

        nebula::Result<void> r = nebula::postgres::exec(g, "SELECT * FROM no_such_table");
        char state[6];
        std::printf("expected error: %s (SQLSTATE %s)\n", r.error().message().c_str(),
                    nr_postgres_sqlstate(r.error().driver_code(), state));
    } /* the lease goes back: ROLLBACK if needed, then DISCARD ALL */

    nr_shutdown_report report = nebula::sized<nr_shutdown_report>();
    manager.shutdown(5s, 2s, &report).value();
    std::printf("shutdown: %u connection(s) closed, %zu resource(s) with leases left\n",
                report.destroyed, report.nleftovers);
    return 0;
} catch (const nebula::Exception &e) {
    std::fprintf(stderr, "%s: %s\n", e.error().name(), e.error().message().c_str());
    return 1;
}
