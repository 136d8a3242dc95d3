# Install rules: headers, libraries, exported nebula:: targets, a CMake
# package config and a pkg-config file, so that find_package(NebulaResource)
# and `pkg-config --cflags --libs nebula-resource` both work.
include(CMakePackageConfigHelpers)

# Drivers built in this tree add what their exported targets need, and each
# gets a pkg-config file (nebula-resource-<driver>).
set(NR_CONFIG_EXTRA_DEPS "")
foreach(entry "sqlite|SQLite|sqlite3" "postgres|PostgreSQL|libpq" "redis|Redis|hiredis"
    "http|HTTP|libcurl" "kafka|Kafka|rdkafka" "mongo|MongoDB|libmongoc-1.0")
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 NR_PC_DRIVER)
  list(GET parts 1 NR_PC_TITLE)
  list(GET parts 2 NR_PC_REQUIRES)
  if(TARGET nebula_resource_${NR_PC_DRIVER})
    configure_file(${PROJECT_SOURCE_DIR}/cmake/nebula-resource-driver.pc.in
      ${PROJECT_BINARY_DIR}/nebula-resource-${NR_PC_DRIVER}.pc @ONLY)
    install(FILES ${PROJECT_BINARY_DIR}/nebula-resource-${NR_PC_DRIVER}.pc
      DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  endif()
endforeach()

get_property(nr_driver_deps GLOBAL PROPERTY NR_EXPORT_DEPS)
if(nr_driver_deps)
  string(APPEND NR_CONFIG_EXTRA_DEPS "${nr_driver_deps}")
endif()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/nebula DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS nebula_resource nebula_resource_static
  EXPORT NebulaResourceTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT NebulaResourceTargets NAMESPACE nebula::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/NebulaResource)

file(WRITE ${PROJECT_BINARY_DIR}/NebulaResourceConfig.cmake.in
  "@PACKAGE_INIT@\ninclude(CMakeFindDependencyMacro)\nfind_dependency(Threads)\n"
  "find_dependency(PkgConfig)\npkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)\n"
  "${NR_CONFIG_EXTRA_DEPS}"
  "include(\"\${CMAKE_CURRENT_LIST_DIR}/NebulaResourceTargets.cmake\")\n"
  "# components: admin and the drivers, each found when its target was installed\n"
  "foreach(comp \${NebulaResource_FIND_COMPONENTS})\n"
  "  if(TARGET nebula::\${comp})\n"
  "    set(NebulaResource_\${comp}_FOUND TRUE)\n"
  "  else()\n"
  "    set(NebulaResource_\${comp}_FOUND FALSE)\n"
  "  endif()\n"
  "endforeach()\n"
  "check_required_components(NebulaResource)\n")
configure_package_config_file(${PROJECT_BINARY_DIR}/NebulaResourceConfig.cmake.in
  ${PROJECT_BINARY_DIR}/NebulaResourceConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/NebulaResource)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/NebulaResourceConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/NebulaResourceConfig.cmake
  ${PROJECT_BINARY_DIR}/NebulaResourceConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/NebulaResource)

configure_file(${PROJECT_SOURCE_DIR}/cmake/nebula-resource.pc.in
  ${PROJECT_BINARY_DIR}/nebula-resource.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/nebula-resource.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
