# Package.cmake - Debian packages with CPack, split as Debian splits a library
# (docs/packaging.md):
#
#   nebula-resource       the install component "runtime": the versioned shared
#                         libraries, the nebula-resource program, its man page
#   nebula-resource-dev   the install component "dev": headers, static
#                         libraries, the .so links, pkg-config files, the CMake
#                         package
#
#   cpack -G DEB --config BUILD/CPackConfig.cmake -B OUTDIR
#
# The runtime package's Depends come from dpkg-shlibdeps (the libraries the
# binaries are linked against, and the versions they need); it also ships a
# shlibs file, so that a package built against it gets a Depends on it. The
# -dev package depends on the runtime package of the same version and on the
# -dev packages of what the pkg-config files and the CMake package look for:
# each built library adds its own (DEB_DEPENDS in cmake/Library.cmake).
set(NR_PACKAGE_CONTACT "Nebula Resource maintainers <maintainers@nebula-resource.invalid>"
  CACHE STRING "The Maintainer field of the Debian packages")
set(NR_PACKAGE_RELEASE 1 CACHE STRING "The Debian revision of the packages")

set(CPACK_PACKAGE_NAME nebula-resource)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Nebula Resource")
set(CPACK_PACKAGE_CONTACT "${NR_PACKAGE_CONTACT}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_COMPONENTS_ALL runtime dev)
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

This package holds the shared libraries (the core, the admin server and the
drivers that were built) and the nebula-resource program.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME nebula-resource-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION
  "pooling and lifecycle management of external resources - development files
Nebula Resource creates, pools, validates, recycles and retires the external
resources a long-running program uses: database connections, cache clients,
HTTP clients, message producers.

This package holds the headers, the static libraries, the pkg-config files
and the CMake package (find_package(NebulaResource COMPONENTS ...)).")

# The Debian version of both packages: the -dev package needs exactly its own.
set(nr_deb_version "${PROJECT_VERSION}-${NR_PACKAGE_RELEASE}")
get_property(nr_dev_deps GLOBAL PROPERTY NR_DEB_DEV_DEPENDS)
list(REMOVE_DUPLICATES nr_dev_deps)
list(PREPEND nr_dev_deps "nebula-resource (= ${nr_deb_version})" "pkgconf | pkg-config")
list(JOIN nr_dev_deps ", " CPACK_DEBIAN_DEV_PACKAGE_DEPENDS)

include(CPack)
