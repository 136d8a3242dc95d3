/*
 * nebula/postgres.hpp - the PostgreSQL driver from C++ (nebula/resource.hpp).
 *
 *     auto cfg = nebula::postgres::config().value();
 *     cfg.set("host", "db.internal").value();
 *     cfg.set("dbname", "orders").value();
 *     auto password = nebula::Secret::from_str(getenv("PGPASSWORD")).value();
 *     auto pool = nebula::Pool::create_or_throw("orders-db", nebula::postgres::type(),
 *                                               std::move(cfg), nullptr, &password);
 *     nebula::Guard g = pool.acquire_or_throw(2s);
 *     nebula::postgres::exec_or_throw(g, "INSERT INTO visits VALUES ('me')");
 *     auto rows = nebula::postgres::query(g, "SELECT count(*) FROM visits").value();
 *     PGconn *conn = g.handle<PGconn>();            // the connection, during the lease
 *
 * The password is the pool's credential (copied by the pool), never a config
 * field. What nebula/postgres.h says holds: never PQfinish the connection;
 * results are the caller's (query() gives them owned).
 */
#ifndef NEBULA_POSTGRES_HPP
#define NEBULA_POSTGRES_HPP

#include "nebula/postgres.h"
#include "nebula/resource.hpp"

namespace nebula
{

/* g.handle<PGconn>(): the libpq connection of a lease on a PostgreSQL pool. */
template <> struct handle_traits<PGconn> {
    static PGconn *get(void *handle) noexcept
    {
        return nr_postgres_conn(handle);
    }
};

namespace postgres
{

inline const nr_resource_type &type() noexcept
{
    return nr_postgres_type;
}

/* The driver's config with its defaults; set fields with Config::set. */
inline Result<Config> config()
{
    return Config::make(nr_postgres_config_schema);
}

inline PGconn *conn(const Guard &g) noexcept
{
    return g.handle<PGconn>();
}

/* Run SQL whose rows the caller does not need (nr_postgres_exec; the
 * SQLSTATE is in driver_code(), nr_postgres_sqlstate turns it into text). */
inline Result<void> exec(const Guard &g, CStr sql)
{
    nr_error err{};
    return detail::check(nr_postgres_exec(g.handle(), sql.c_str(), &err), err);
}

/* A PGresult, owned (PQclear). */
struct ResultDeleter {
    void operator()(PGresult *r) const noexcept
    {
        PQclear(r);
    }
};
using Rows = std::unique_ptr<PGresult, ResultDeleter>;

/* Run one statement and keep its result (PQexec): rows for a query, none
 * for a command. A failure is errc::unavailable when the connection is
 * broken (taint the Guard), errc::invalid_argument otherwise, with the
 * server's message. */
inline Result<Rows> query(const Guard &g, CStr sql)
{
    PGconn *c = conn(g);
    if (!c)
        return Error(errc::invalid_argument, "postgres query: the guard holds no lease");
    Rows r(PQexec(c, sql.c_str()));
    ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    std::string why = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(c);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' '))
        why.pop_back();
    errc code = PQstatus(c) == CONNECTION_OK ? errc::invalid_argument : errc::unavailable;
    return Error(code, "postgres query: " + why);
}

#if NEBULA_RESOURCE_HAS_EXCEPTIONS
inline void exec_or_throw(const Guard &g, CStr sql)
{
    exec(g, sql).value();
}
inline Rows query_or_throw(const Guard &g, CStr sql)
{
    return query(g, sql).value();
}
#endif

} // namespace postgres
} // namespace nebula

#endif
