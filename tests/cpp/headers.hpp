/* headers.hpp - what tests/cpp/headers.cpp gives test_cpp.cpp. */
#ifndef NR_CPP_HEADERS_HPP
#define NR_CPP_HEADERS_HPP

#include "nebula/manager.h"
#include "nebula/pool.h"

bool nr_cpp_scoped_lease(nr_pool *pool);
int nr_cpp_provider_lease(nr_manager *m, const char *id);

#endif
