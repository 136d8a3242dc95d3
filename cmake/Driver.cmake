# Helpers shared by the drivers under drivers/<name>/.
#
# nr_driver_export_dep(<cmake code>)
#   Adds a line to the installed NebulaResourceConfig.cmake, for what a
#   driver's exported target links (e.g. a pkg_check_modules call).
#
# nr_driver_testsupport()
#   Makes the target nr_driver_testsupport (tests/support: testutil, the fake
#   type, cmocka) once; drivers' tests link it.
#
# nr_driver_test(NAME <name> SOURCES <src>... LIBS <lib>... [WRAPPER <script>]
#                [TIMEOUT <s>])
#   One cmocka executable and one ctest entry. With WRAPPER, ctest runs
#   `<script> <executable>`: the script starts the server the test needs on a
#   free loopback port, exports where it is, runs the executable and stops the
#   server even when the test fails (see scripts/lib/services.sh).
function(nr_driver_export_dep code)
  set_property(GLOBAL APPEND_STRING PROPERTY NR_EXPORT_DEPS "${code}\n")
endfunction()

function(nr_driver_testsupport)
  if(TARGET nr_driver_testsupport)
    return()
  endif()
  find_library(CMOCKA_LIBRARY cmocka REQUIRED)
  find_path(CMOCKA_INCLUDE_DIR cmocka.h REQUIRED)
  add_library(nr_driver_testsupport STATIC
    ${PROJECT_SOURCE_DIR}/tests/support/testutil.c
    ${PROJECT_SOURCE_DIR}/tests/support/fake_type.c)
  target_include_directories(nr_driver_testsupport PUBLIC
    ${PROJECT_SOURCE_DIR}/tests/support ${CMOCKA_INCLUDE_DIR})
  target_link_libraries(nr_driver_testsupport PUBLIC nebula_resource_static ${CMOCKA_LIBRARY})
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
#               [LIBRARY <what the message calls the client library>])
#   The driver library every drivers/<name>/ builds: nebula_resource_<name>
#   (nebula::<name>, libnebula-resource-<name>) from src/*.c with include/
#   public, on the core and on the client library found by pkg-config, with
#   its install rules and its line in the installed package config. Sets
#   NR_DRIVER_BUILT in the caller's scope: FALSE (with a status message) when
#   the client library is missing, so the caller can return().
function(nr_add_driver)
  cmake_parse_arguments(D "" "NAME;TITLE;PKG;MODULE;LIBRARY" "" ${ARGN})
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
  add_library(${t} STATIC ${srcs})
  target_include_directories(${t} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${t} PUBLIC nebula_resource_static PkgConfig::${D_PKG})
  set_target_properties(${t} PROPERTIES OUTPUT_NAME nebula-resource-${D_NAME}
    EXPORT_NAME ${D_NAME})
  nr_target_warnings(${t})
  add_library(nebula::${D_NAME} ALIAS ${t})
  nr_driver_export_dep("pkg_check_modules(${D_PKG} REQUIRED IMPORTED_TARGET ${D_MODULE})")
  install(TARGETS ${t} EXPORT NebulaResourceTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/nebula/${D_NAME}.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nebula)
  set(NR_DRIVER_BUILT TRUE PARENT_SCOPE)
endfunction()
