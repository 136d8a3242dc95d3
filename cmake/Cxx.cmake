# Cxx.cmake - include() it in a directory whose targets are C++ (the C++
# layer's tests and examples): enables the language there only, C++17 without
# extensions, and keeps assertions on in RelWithDebInfo as the C build does.
# Sets NR_CXX_FOUND; without a C++ compiler it says so and the caller returns.
# The sanitizer flags (cmake/Sanitizers.cmake) are directory-wide compile and
# link options, so they reach these targets too.
# A build whose C compiler is clang (the fuzz build) gets clang++ as well,
# so that sanitizer runtimes are not mixed.
if(NOT CMAKE_CXX_COMPILER AND NOT DEFINED ENV{CXX} AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
  find_program(NR_CLANG_CXX NAMES clang++ clang++-14)
  if(NR_CLANG_CXX)
    set(CMAKE_CXX_COMPILER ${NR_CLANG_CXX} CACHE FILEPATH "C++ compiler")
  endif()
endif()
include(CheckLanguage)
check_language(CXX)
if(NOT CMAKE_CXX_COMPILER)
  message(STATUS "no C++ compiler: ${CMAKE_CURRENT_SOURCE_DIR} not built")
  set(NR_CXX_FOUND FALSE)
  return()
endif()
enable_language(CXX)
set(NR_CXX_FOUND TRUE)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O2 -g")
