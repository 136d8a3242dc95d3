# Library.cmake - how every library of the project is built, installed and
# found again (docs/packaging.md):
#
# nr_add_library(<component>
#   OBJECTS <object library>        the compiled sources, shared by both variants
#   SHARED <target> STATIC <target> in-tree names of the two libraries
#   OUTPUT <name>                   file and pkg-config name, e.g. nebula-resource-sqlite
#   EXPORT_NAME <name>              nebula::<name> (shared) and nebula::<name>_static
#   [INCLUDES <dir>...]             build-tree include directories of its headers
#   [REQUIRES <component>...]       other components it links (core is implied)
#   [PUBLIC_DEPS <target>...]       external targets both variants link publicly
#   [PRIVATE_DEPS <target>...]      external targets only the code inside links
#   [CMAKE_DEPS <line>...]          lines of the installed dependency file, each a
#                                   _nr_dep(<CMake package>) or _nr_dep_pkg(<prefix>
#                                   <pkg-config module> <Debian -dev package>)
#                                   (NebulaResourceConfig.cmake.in defines them)
#   [PC_DESCRIPTION <text>]
#   [PC_REQUIRES <module>...]       pkg-config modules the public headers need
#   [PC_REQUIRES_PRIVATE <module>...]  pkg-config modules only the code needs
#   [PC_LIBS_PRIVATE <flag>...]     e.g. -pthread
#   [DEB_DEPENDS <package>...]      Debian -dev packages the -dev package depends on
#   [HEADERS <file>...])            public headers installed under include/nebula
#
# Both variants come from the same objects, compiled with -fvisibility=hidden
# (nr_hidden_visibility on the object library): only what the public headers
# mark NR_API is exported from the shared library. The shared one carries
# VERSION and SOVERSION and, installed, an rpath of $ORIGIN (its sibling
# libraries); the static one links the static variants of what it requires.
# Each component gets its own export set, installed as
# NebulaResource-<component>-targets.cmake next to
# NebulaResource-<component>-dependencies.cmake, which the package config
# loads only when the component is asked for; and its own pkg-config file.
#
# Install components (Debian packages, cmake/Package.cmake): the versioned
# shared library goes to "runtime" (the core) or to the component of the
# library's own name (admin, each driver); headers, the static library, the
# .so link, the pkg-config file and the CMake files to "dev".

option(NR_INSTALL_RPATH "Give installed programs and shared libraries an rpath relative to \
their own location ($ORIGIN), so that an installed tree works wherever it is unpacked" ON)

# The relative path from the installed bin and lib directories to the
# installed lib directory, for $ORIGIN rpaths and pkg-config prefixes.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}")
  message(FATAL_ERROR "CMAKE_INSTALL_LIBDIR and CMAKE_INSTALL_BINDIR must be relative to the "
                      "prefix (the installed tree is relocatable)")
endif()
file(RELATIVE_PATH NR_BIN_TO_LIB /nr/${CMAKE_INSTALL_BINDIR} /nr/${CMAKE_INSTALL_LIBDIR})
file(RELATIVE_PATH NR_PC_TO_PREFIX /nr/${CMAKE_INSTALL_LIBDIR}/pkgconfig /nr)
string(REGEX REPLACE "/$" "" NR_PC_TO_PREFIX "${NR_PC_TO_PREFIX}")

# nr_hidden_visibility(<target>): compile with -fvisibility=hidden.
function(nr_hidden_visibility target)
  set_target_properties(${target} PROPERTIES C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
endfunction()

# nr_install_rpath(<target>): the installed rpath of a program (bin -> lib)
# or of a shared library (its own directory).
function(nr_install_rpath target)
  if(NOT NR_INSTALL_RPATH)
    return()
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN/${NR_BIN_TO_LIB}")
  else()
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN")
  endif()
endfunction()

# The in-tree shared and static target of a component.
function(nr_component_targets comp shared_var static_var)
  get_property(s GLOBAL PROPERTY NR_COMPONENT_${comp}_SHARED)
  get_property(a GLOBAL PROPERTY NR_COMPONENT_${comp}_STATIC)
  if(NOT s)
    message(FATAL_ERROR "nr_add_library: unknown component '${comp}' (add it first)")
  endif()
  set(${shared_var} ${s} PARENT_SCOPE)
  set(${static_var} ${a} PARENT_SCOPE)
endfunction()

function(nr_add_library comp)
  cmake_parse_arguments(L "" "OBJECTS;SHARED;STATIC;OUTPUT;EXPORT_NAME;PC_DESCRIPTION"
    "INCLUDES;REQUIRES;PUBLIC_DEPS;PRIVATE_DEPS;CMAKE_DEPS;PC_REQUIRES;PC_REQUIRES_PRIVATE;PC_LIBS_PRIVATE;DEB_DEPENDS;HEADERS"
    ${ARGN})
  if(NOT comp STREQUAL "core")
    list(PREPEND L_REQUIRES core)
    list(REMOVE_DUPLICATES L_REQUIRES)
  endif()
  nr_hidden_visibility(${L_OBJECTS})

  add_library(${L_SHARED} SHARED $<TARGET_OBJECTS:${L_OBJECTS}>)
  add_library(${L_STATIC} STATIC $<TARGET_OBJECTS:${L_OBJECTS}>)
  set(req_shared "")
  set(req_static "")
  set(pc_req "")
  foreach(r ${L_REQUIRES})
    nr_component_targets(${r} s a)
    list(APPEND req_shared ${s})
    list(APPEND req_static ${a})
    get_property(o GLOBAL PROPERTY NR_COMPONENT_${r}_OUTPUT)
    list(APPEND pc_req ${o})
  endforeach()
  target_link_libraries(${L_SHARED} PUBLIC ${req_shared} ${L_PUBLIC_DEPS} PRIVATE ${L_PRIVATE_DEPS})
  target_link_libraries(${L_STATIC} PUBLIC ${req_static} ${L_PUBLIC_DEPS} ${L_PRIVATE_DEPS})
  foreach(t ${L_SHARED} ${L_STATIC})
    foreach(dir ${L_INCLUDES})
      target_include_directories(${t} PUBLIC $<BUILD_INTERFACE:${dir}>)
    endforeach()
    target_include_directories(${t} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  endforeach()
  nr_hidden_visibility(${L_SHARED})
  set_target_properties(${L_SHARED} PROPERTIES OUTPUT_NAME ${L_OUTPUT} EXPORT_NAME ${L_EXPORT_NAME}
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
  set_target_properties(${L_STATIC} PROPERTIES OUTPUT_NAME ${L_OUTPUT}
    EXPORT_NAME ${L_EXPORT_NAME}_static)
  # A shared library resolves every symbol it uses at link time (not in
  # sanitizer and fuzz builds, whose runtimes the program brings).
  if(NR_SANITIZE STREQUAL "" AND NOT NR_BUILD_FUZZ)
    target_link_options(${L_SHARED} PRIVATE LINKER:--no-undefined)
  endif()
  nr_install_rpath(${L_SHARED})
  add_library(nebula::${L_EXPORT_NAME} ALIAS ${L_SHARED})
  add_library(nebula::${L_EXPORT_NAME}_static ALIAS ${L_STATIC})

  set_property(GLOBAL APPEND PROPERTY NR_COMPONENTS ${comp})
  set_property(GLOBAL PROPERTY NR_COMPONENT_${comp}_SHARED ${L_SHARED})
  set_property(GLOBAL PROPERTY NR_COMPONENT_${comp}_STATIC ${L_STATIC})
  set_property(GLOBAL PROPERTY NR_COMPONENT_${comp}_OUTPUT ${L_OUTPUT})
  set_property(GLOBAL APPEND PROPERTY NR_DEB_DEV_DEPENDS ${L_DEB_DEPENDS})

  # ---- install: libraries, their export set and dependency file --------------
  # The core's shared library is the install component "runtime", each other
  # library's the component of its own name (one Debian package each,
  # cmake/Package.cmake).
  set(cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/NebulaResource)
  if(comp STREQUAL "core")
    set(runtime_comp runtime)
  else()
    set(runtime_comp ${comp})
  endif()
  set_property(GLOBAL APPEND PROPERTY NR_RUNTIME_COMPONENTS ${runtime_comp})
  # where the shared library is built, for dpkg-shlibdeps (cmake/Package.cmake)
  set_property(GLOBAL APPEND PROPERTY NR_SHARED_LIBRARY_DIRS ${CMAKE_CURRENT_BINARY_DIR})
  install(TARGETS ${L_SHARED} ${L_STATIC} EXPORT NebulaResource-${comp}-targets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ${runtime_comp} NAMELINK_COMPONENT dev
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
  install(EXPORT NebulaResource-${comp}-targets NAMESPACE nebula::
    FILE NebulaResource-${comp}-targets.cmake DESTINATION ${cmakedir} COMPONENT dev)
  list(REMOVE_ITEM L_REQUIRES core)
  string(CONCAT deps "# What the component ${comp} needs before its targets load; generated by\n"
                     "# cmake/Library.cmake, read by NebulaResourceConfig.cmake.\n")
  if(L_REQUIRES)
    list(JOIN L_REQUIRES " " r)
    string(APPEND deps "_nr_dep_component(${r})\n")
  endif()
  foreach(line ${L_CMAKE_DEPS})
    string(APPEND deps "${line}\n")
  endforeach()
  file(WRITE ${PROJECT_BINARY_DIR}/NebulaResource-${comp}-dependencies.cmake "${deps}")
  install(FILES ${PROJECT_BINARY_DIR}/NebulaResource-${comp}-dependencies.cmake
    DESTINATION ${cmakedir} COMPONENT dev)
  if(L_HEADERS)
    install(FILES ${L_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nebula COMPONENT dev)
  endif()

  # ---- pkg-config: shared by default, --static adds what the archive needs ----
  list(APPEND pc_req ${L_PC_REQUIRES})
  list(JOIN pc_req " " NR_PC_REQUIRES)
  list(JOIN L_PC_REQUIRES_PRIVATE " " NR_PC_REQUIRES_PRIVATE)
  list(JOIN L_PC_LIBS_PRIVATE " " NR_PC_LIBS_PRIVATE)
  set(NR_PC_NAME ${L_OUTPUT})
  set(NR_PC_DESCRIPTION "${L_PC_DESCRIPTION}")
  configure_file(${PROJECT_SOURCE_DIR}/cmake/nebula-resource-library.pc.in
    ${PROJECT_BINARY_DIR}/pkgconfig/${L_OUTPUT}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${L_OUTPUT}.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endfunction()
