# Package.cmake - Debian packages with CPack, split as Debian splits a library
# (docs/packaging.md), so that a program that uses one driver installs that
# driver's client library and no other:
#
#   nebula-resource         the install component "runtime": the core's
#                           versioned shared library
#   nebula-resource-NAME    the component NAME of each other library (admin,
#                           testing, fleet, libuv, libevent, sqlite,
#                           postgres, redis, http, kafka, mongo): its
#                           versioned shared library
#   nebula-resource-tools   the component "tools": the nebula-resource program
#                           and its man page (it links every library built)
#   nebula-resource-dev     the component "dev": headers, static libraries,
#                           the .so links, pkg-config files, the CMake package
#
#   cpack -G DEB --config BUILD/CPackConfig.cmake -B OUTDIR
#
# Each library package's Depends come from dpkg-shlibdeps (the libraries its
# binary is linked against, at the versions it needs: libpq5 for the
# PostgreSQL driver's), plus the core package of the same version for all
# but the core (dpkg-shlibdeps has no shlibs file for a library of this
# build). Each ships a shlibs file, so that a package built against it gets a
# Depends on it. The tools package depends on every library package (but the
# testing library's and the loop adapters', which the program does not link) of its
# version; the -dev package on those too and on the -dev packages of what
# the pkg-config files and the CMake package look for: each built library
# adds its own (DEB_DEPENDS in cmake/Library.cmake).
set(NR_PACKAGE_CONTACT "Nebula Resource maintainers <maintainers@nebula-resource.invalid>"
  CACHE STRING "The Maintainer field of the Debian packages")
set(NR_PACKAGE_RELEASE 1 CACHE STRING "The Debian revision of the packages")

set(CPACK_PACKAGE_NAME nebula-resource)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Nebula Resource")
set(CPACK_PACKAGE_CONTACT "${NR_PACKAGE_CONTACT}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING IGNORE)

set(CPACK_DEBIAN_PACKAGE_RELEASE ${NR_PACKAGE_RELEASE})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME nebula-resource)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# First line the synopsis; CPack indents the rest and turns empty lines into " .".
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
  "pooling and lifecycle management of external resources - runtime
Nebula Resource creates, pools, validates, recycles and retires the external
resources a long-running program uses: database connections, cache clients,
HTTP clients, message producers.

This package holds the core's shared library; each driver and the admin
server are packages of their own (nebula-resource-postgres, ...).")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME nebula-resource-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION
  "pooling and lifecycle management of external resources - development files
Nebula Resource creates, pools, validates, recycles and retires the external
resources a long-running program uses: database connections, cache clients,
HTTP clients, message producers.

This package holds the headers, the static libraries, the pkg-config files
and the CMake package (find_package(NebulaResource COMPONENTS ...)).")

# dpkg-shlibdeps finds the libraries of this build where they were built
# (it then names no package for them: the Depends below do).
get_property(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS GLOBAL PROPERTY NR_SHARED_LIBRARY_DIRS)

# The Debian version of every package: each needs exactly its siblings'.
set(nr_deb_version "${PROJECT_VERSION}-${NR_PACKAGE_RELEASE}")
set(nr_core_dep "nebula-resource (= ${nr_deb_version})")

# One package per library but the core: its shared library, its shlibs
# file, what dpkg-shlibdeps finds and the core.
get_property(nr_lib_comps GLOBAL PROPERTY NR_RUNTIME_COMPONENTS)
list(REMOVE_ITEM nr_lib_comps runtime)
set(nr_lib_pkgs "")
set(nr_tools_lib_pkgs "") # the program links every library but these
set(nr_not_in_tools testing libuv libevent)
foreach(comp ${nr_lib_comps})
  string(TOUPPER ${comp} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_NAME nebula-resource-${comp})
  set(CPACK_DEBIAN_${C}_PACKAGE_SECTION libs)
  set(CPACK_DEBIAN_${C}_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_${C}_PACKAGE_DEPENDS "${nr_core_dep}")
  if(comp STREQUAL "admin")
    set(what "the admin server (status page, /status, /metrics, health, actions)")
  elseif(comp STREQUAL "testing")
    set(what "the testing library (a mock resource type, test helpers and a
load-and-fault harness, for tests of resource types and of code that uses pools)")
  elseif(comp STREQUAL "fleet")
    set(what "the fleet budget (connections shared by many processes, kept in Redis)")
  elseif(comp STREQUAL "libuv" OR comp STREQUAL "libevent")
    set(what "the ${comp} adapter (async acquires and non-blocking queries on a ${comp}
event loop)")
  else()
    set(what "the ${comp} driver")
  endif()
  set(CPACK_DEBIAN_${C}_DESCRIPTION
    "pooling and lifecycle management of external resources - ${comp}
Nebula Resource creates, pools, validates, recycles and retires the external
resources a long-running program uses.

This package holds the shared library of ${what}.")
  list(APPEND nr_lib_pkgs "nebula-resource-${comp} (= ${nr_deb_version})")
  if(NOT comp IN_LIST nr_not_in_tools)
    list(APPEND nr_tools_lib_pkgs "nebula-resource-${comp} (= ${nr_deb_version})")
  endif()
endforeach()

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME nebula-resource-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)
set(nr_tools_deps ${nr_core_dep} ${nr_tools_lib_pkgs})
list(JOIN nr_tools_deps ", " CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION
  "pooling and lifecycle management of external resources - the program
Nebula Resource creates, pools, validates, recycles and retires the external
resources a long-running program uses.

This package holds the nebula-resource program (check, run, demo, bench) and
its man page.")

get_property(nr_dev_deps GLOBAL PROPERTY NR_DEB_DEV_DEPENDS)
list(REMOVE_DUPLICATES nr_dev_deps)
list(PREPEND nr_dev_deps ${nr_core_dep} ${nr_lib_pkgs} "pkgconf | pkg-config")
list(JOIN nr_dev_deps ", " CPACK_DEBIAN_DEV_PACKAGE_DEPENDS)

set(CPACK_COMPONENTS_ALL runtime ${nr_lib_comps} tools dev)

include(CPack)
