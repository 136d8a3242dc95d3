/*
 * nebula/sqlite.hpp - the SQLite driver from C++ (nebula/resource.hpp).
 *
 *     auto pool = nebula::sqlite::open_or_throw("app-db", "app.db");
 *     nebula::Guard g = pool.acquire_or_throw(500ms);
 *     nebula::sqlite::exec_or_throw(g, "CREATE TABLE IF NOT EXISTS t(x)");
 *     sqlite3 *db = g.handle<sqlite3>();           // the connection, during the lease
 *
 * What nebula/sqlite.h says holds: the connection belongs to the instance
 * (never close it), statements prepared on it belong to the lease (finalize
 * them before the Guard goes), one thread uses a lease at a time.
 */
#ifndef NEBULA_SQLITE_HPP
#define NEBULA_SQLITE_HPP

#include "nebula/resource.hpp"
#include "nebula/sqlite.h"

namespace nebula
{

/* g.handle<sqlite3>(): the connection of a lease on a SQLite pool. */
template <> struct handle_traits<sqlite3> {
    static sqlite3 *get(void *handle) noexcept
    {
        return nr_sqlite_db(handle);
    }
};

namespace sqlite
{

inline const nr_resource_type &type() noexcept
{
    return nr_sqlite_type;
}

/* The driver's config with its defaults, and path when given (null: ":memory:"). */
inline Result<Config> config(const char *path = nullptr)
{
    Result<Config> c = Config::make(nr_sqlite_config_schema);
    if (c && path) {
        Result<void> r = c->set_str("path", path);
        if (!r)
            return r.error();
    }
    return c;
}

/* A pool of connections to the database at path (a file or a "file:" URI),
 * with the driver's defaults and pool_config (null: the pool defaults). */
inline Result<Pool> open(CStr id, CStr path, const nr_pool_config *pool_config = nullptr)
{
    Result<Config> c = config(path.c_str());
    if (!c)
        return c.error();
    return Pool::create(id, nr_sqlite_type, std::move(*c), pool_config);
}

/* The connection of a lease (nullptr for an empty Guard). */
inline sqlite3 *db(const Guard &g) noexcept
{
    return g.handle<sqlite3>();
}

/* Run SQL that returns no rows the caller needs (nr_sqlite_exec: errc::busy
 * for a lock that did not come free, errc::invalid_argument for a syntax
 * error or a constraint, ...; driver_code() is SQLite's extended code). */
inline Result<void> exec(const Guard &g, CStr sql)
{
    nr_error err{};
    return detail::check(nr_sqlite_exec(g.handle(), sql.c_str(), &err), err);
}

#if NEBULA_RESOURCE_HAS_EXCEPTIONS
inline Pool open_or_throw(CStr id, CStr path, const nr_pool_config *pool_config = nullptr)
{
    return open(id, path, pool_config).value();
}
inline void exec_or_throw(const Guard &g, CStr sql)
{
    exec(g, sql).value();
}
#endif

} // namespace sqlite
} // namespace nebula

#endif
