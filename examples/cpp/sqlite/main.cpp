/*
 * main.cpp - a pool of SQLite connections from C++: the whole program.
 *
 * Built in the tree as example_cpp_sqlite; as a project of its own, against
 * the installed library, with this directory's CMakeLists.txt:
 *     find_package(NebulaResource REQUIRED COMPONENTS sqlite)
 *     target_link_libraries(sqlite_app PRIVATE nebula::sqlite)
 */
#include <nebula/sqlite.hpp>

#include <cstdio>

using namespace std::chrono_literals;

int main()
try {
    // A pool of connections to one database (up to 10; shared in memory here).
    auto pool = nebula::sqlite::open_or_throw("app-db", "file:app?mode=memory&cache=shared");

    // A lease, given back when `db` goes out of scope; waits at most 500 ms.
    nebula::Guard db = pool.acquire_or_throw(500ms);
    nebula::sqlite::exec_or_throw(db, "CREATE TABLE visits(who TEXT); "
                                      "INSERT INTO visits VALUES ('ada'), ('grace')");

    // The connection itself, for everything else SQLite offers.
    sqlite3_stmt *st = nullptr;
    sqlite3_prepare_v2(db.handle<sqlite3>(), "SELECT count(*) FROM visits", -1, &st, nullptr);
    if (sqlite3_step(st) == SQLITE_ROW)
        std::printf("visits: %d\n", sqlite3_column_int(st, 0));
    sqlite3_finalize(st);

    // Errors carry the library's code and message; no exception needed.
    nebula::Result<void> r = nebula::sqlite::exec(db, "INSERT INTO nowhere VALUES (1)");
    std::printf("expected error: %s (%s)\n", r.error().message().c_str(),
                r.code().message().c_str());
    return r.code() == nebula::errc::invalid_argument ? 0 : 1;
} catch (const nebula::Exception &e) {
    std::fprintf(stderr, "%s: %s\n", e.error().name(), e.error().message().c_str());
    return 1;
}
