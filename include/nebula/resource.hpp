/*
 * nebula/resource.hpp - the C++17 layer over the C API, header-only.
 *
 *     #include <nebula/sqlite.hpp>
 *     using namespace std::chrono_literals;
 *
 *     auto pool = nebula::sqlite::open_or_throw("app-db", "app.db");  // a pool of connections
 *     nebula::Guard db = pool.acquire_or_throw(500ms);             // a lease, for this scope
 *     nebula::sqlite::exec_or_throw(db, "CREATE TABLE IF NOT EXISTS t(x)");
 *
 * What is here (docs/cpp.md says it at length), one header per part as the C
 * headers are split (nebula/error.hpp, time.hpp, config.hpp, pool.hpp,
 * manager.hpp), all included here:
 *   errc, error_category(), make_error_code   the library's NR_E* codes as std::error_code
 *   Error                                      a code with the library's whole message
 *   Exception                                  a std::system_error carrying an Error
 *   Result<T>, Result<void>                    a value or an Error (std::expected-like)
 *   Deadline                                   std::chrono durations and steady_clock points
 *                                              as the library's absolute deadlines
 *   Guard                                      a lease: move-only, released on scope exit
 *   Config                                     a config struct of a schema, owned, with
 *                                              the typed setters of nebula/config.h
 *   Secret, Cancel                             owners of an nr_secret and an nr_cancel
 *   Pool, Manager                              owners of an nr_pool and an nr_manager
 * Every call that fails returns an Error (in a Result) or a std::error_code;
 * the `_or_throw` variants throw Exception instead. Nothing here throws
 * otherwise, but Result::value() on an error (it throws Exception) and
 * std::bad_alloc from the strings an Error holds.
 *
 * Ownership: Pool, Manager, Guard, Config, Secret and Cancel each own one C
 * object, destroyed by their destructor; they move, never copy. A Guard must
 * be gone (released or destroyed) before its Pool or Manager is destroyed:
 * a pool or manager destroyed with leases still out is closed but not freed
 * (the C rule, nebula/pool.h), and its owner then gives up the memory rather
 * than free it under a lease.
 *
 * Thread safety: the C objects' rules hold. A Pool's or a Manager's member
 * functions may be called from any thread at once, except moving, assigning
 * and destroying the owner, which must not race with any other call on it.
 * A Guard, a Config and a Result belong to one thread at a time (a Guard may
 * be moved to another thread and released there).
 */
#ifndef NEBULA_RESOURCE_HPP
#define NEBULA_RESOURCE_HPP

#include "nebula/resource.h"

#include "nebula/error.hpp"
#include "nebula/time.hpp"
#include "nebula/config.hpp"
#include "nebula/pool.hpp"
#include "nebula/manager.hpp"

#endif
