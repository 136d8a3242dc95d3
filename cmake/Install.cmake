# Install rules beyond each library's own (cmake/Library.cmake): the core's
# headers, the CMake package config that loads components on demand, and the
# man page, so that find_package(NebulaResource COMPONENTS ...) and
# `pkg-config --cflags --libs nebula-resource-<library>` both work from an
# installed tree wherever it is unpacked (docs/packaging.md).
include(CMakePackageConfigHelpers)

set(NR_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/NebulaResource)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/nebula DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT dev)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/NebulaResourceConfig.cmake.in
  ${PROJECT_BINARY_DIR}/NebulaResourceConfig.cmake
  INSTALL_DESTINATION ${NR_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/NebulaResourceConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/NebulaResourceConfig.cmake
  ${PROJECT_BINARY_DIR}/NebulaResourceConfigVersion.cmake
  DESTINATION ${NR_CMAKE_INSTALL_DIR} COMPONENT dev)

# The program's man page, compressed as Debian installs man pages.
if(TARGET nebula-resource)
  set(nr_man ${PROJECT_SOURCE_DIR}/docs/nebula-resource.1)
  find_program(NR_GZIP gzip)
  if(NR_GZIP)
    add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/man/nebula-resource.1.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${NR_GZIP} -9 -n -c ${nr_man} > ${PROJECT_BINARY_DIR}/man/nebula-resource.1.gz
      DEPENDS ${nr_man} COMMENT "Compressing the man page")
    add_custom_target(nr_man_page ALL DEPENDS ${PROJECT_BINARY_DIR}/man/nebula-resource.1.gz)
    install(FILES ${PROJECT_BINARY_DIR}/man/nebula-resource.1.gz
      DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
  else()
    install(FILES ${nr_man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
  endif()
endif()
