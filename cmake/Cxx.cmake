# Cxx.cmake - include() it in a directory whose targets are C++ (the C++
# layer's tests and examples): enables the language there only, C++17 without
# extensions, and keeps assertions on in RelWithDebInfo as the C build does.
# The sanitizer flags (cmake/Sanitizers.cmake) are directory-wide compile and
# link options, so they reach these targets too.
enable_language(CXX)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O2 -g")
