# Helpers shared by the drivers under drivers/<name>/.
#
# nr_driver_testsupport()
#   Makes the target nr_driver_testsupport (tests/support: testutil and the
#   driver pool helpers over the testing library, cmocka) once; drivers'
#   tests link it.
#
# nr_driver_test(NAME <name> SOURCES <src>... LIBS <lib>... [WRAPPER <script>]
#                [TIMEOUT <s>])
#   One cmocka executable and one ctest entry. With WRAPPER, ctest runs
#   `<script> <executable>`: the script starts the server the test needs on a
#   free loopback port, exports where it is, runs the executable and stops the
#   server even when the test fails (see scripts/lib/services.sh).
function(nr_driver_testsupport)
  if(TARGET nr_driver_testsupport)
    return()
  endif()
  find_library(CMOCKA_LIBRARY cmocka REQUIRED)
  find_path(CMOCKA_INCLUDE_DIR cmocka.h REQUIRED)
  add_library(nr_driver_testsupport STATIC
    ${PROJECT_SOURCE_DIR}/tests/support/testutil.c
    ${PROJECT_SOURCE_DIR}/tests/support/driver_pool.c)
  target_include_directories(nr_driver_testsupport PUBLIC
    ${PROJECT_SOURCE_DIR}/tests/support ${CMOCKA_INCLUDE_DIR})
  target_link_libraries(nr_driver_testsupport PUBLIC nebula_resource_testing_static
    nebula_resource_static ${CMOCKA_LIBRARY})
  nr_target_warnings(nr_driver_testsupport)
endfunction()

function(nr_driver_test)
  cmake_parse_arguments(T "" "NAME;WRAPPER;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  nr_driver_testsupport()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} nr_driver_testsupport)
  nr_target_warnings(${T_NAME})
  if(T_WRAPPER)
    add_test(NAME ${T_NAME} COMMAND ${T_WRAPPER} $<TARGET_FILE:${T_NAME}>)
  else()
    add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT})
endfunction()

# nr_add_driver(NAME <name> TITLE <Title> PKG <VAR> MODULE <pkg-config module>
#               DEB <Debian -dev package> [LIBRARY <what the message calls the client library>]
#               [PRIVATE_DEPS <target>...] [PC_LIBS_PRIVATE <flag>...] [CMAKE_DEPS <line>...])
#   The driver libraries every drivers/<name>/ builds from src/*.c with
#   include/ public, on the core and on the client library found by
#   pkg-config (the public header includes the client's, so it is a public
#   dependency): the static nebula_resource_<name> that the tree's tests,
#   examples and benchmarks link (tests reach into the driver's src/), and the
#   shared nebula_resource_<name>_shared; installed they are
#   nebula::<name>_static and nebula::<name>, the component <name>, with the
#   pkg-config file nebula-resource-<name> (cmake/Library.cmake). Sets
#   NR_DRIVER_BUILT in the caller's scope: FALSE (with a status message) when
#   the client library is missing, so the caller can return().
function(nr_add_driver)
  cmake_parse_arguments(D "" "NAME;TITLE;PKG;MODULE;LIBRARY;DEB"
    "PRIVATE_DEPS;PC_LIBS_PRIVATE;CMAKE_DEPS" ${ARGN})
  if(NOT D_LIBRARY)
    set(D_LIBRARY ${D_MODULE})
  endif()
  pkg_check_modules(${D_PKG} IMPORTED_TARGET ${D_MODULE})
  if(NOT ${D_PKG}_FOUND)
    message(STATUS "${D_TITLE} driver: ${D_LIBRARY} not found (pkg-config ${D_MODULE}), "
                   "driver not built")
    set(NR_DRIVER_BUILT FALSE PARENT_SCOPE)
    return()
  endif()
  set(t nebula_resource_${D_NAME})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.c)
  add_library(nr_${D_NAME}_objs OBJECT ${srcs})
  target_include_directories(nr_${D_NAME}_objs PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(nr_${D_NAME}_objs PUBLIC nebula_resource_static PkgConfig::${D_PKG}
    ${D_PRIVATE_DEPS})
  nr_target_warnings(nr_${D_NAME}_objs)
  string(REPLACE "|" ";" deb_first "${D_DEB}")
  list(GET deb_first 0 deb_first)
  string(STRIP "${deb_first}" deb_first)
  nr_add_library(${D_NAME} OBJECTS nr_${D_NAME}_objs SHARED ${t}_shared STATIC ${t}
    OUTPUT nebula-resource-${D_NAME} EXPORT_NAME ${D_NAME}
    INCLUDES ${CMAKE_CURRENT_SOURCE_DIR}/include
    PUBLIC_DEPS PkgConfig::${D_PKG} PRIVATE_DEPS ${D_PRIVATE_DEPS}
    CMAKE_DEPS "_nr_dep_pkg(${D_PKG} ${D_MODULE} ${deb_first})" ${D_CMAKE_DEPS}
    PC_DESCRIPTION "${D_TITLE} driver for Nebula Resource"
    PC_REQUIRES ${D_MODULE} PC_LIBS_PRIVATE ${D_PC_LIBS_PRIVATE}
    DEB_DEPENDS "${D_DEB}"
    HEADERS ${CMAKE_CURRENT_SOURCE_DIR}/include/nebula/${D_NAME}.h)
  set(NR_DRIVER_BUILT TRUE PARENT_SCOPE)
endfunction()
