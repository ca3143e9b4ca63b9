# SPDX-License-Identifier: MIT
# Install rules: headers, the library, an exported CMake package (tandem::tandem with a
# version file), a pkg-config file, and LICENSE, README.md and CHANGELOG.md in the doc dir.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# A shared build can install the static archives too, as Debian's -dev packages do (the
# package preset): libtandem.a (tandem::tandem_static) and libtandem_mpi.a (tandem::mpi_static)
# are archives of the shared libraries' own position-independent objects (nothing compiled twice).
option(TANDEM_ALSO_STATIC "With BUILD_SHARED_LIBS=ON, also build and install the static libraries"
       OFF)
set(tandem_static_targets)
if(TANDEM_ALSO_STATIC AND BUILD_SHARED_LIBS)
  foreach(lib tandem tandem_mpi)
    if(NOT TARGET ${lib})
      continue()
    endif()
    add_library(${lib}_static STATIC $<TARGET_OBJECTS:${lib}>)
    get_target_property(export_name ${lib} EXPORT_NAME)
    set_target_properties(${lib}_static PROPERTIES OUTPUT_NAME ${lib} EXPORT_NAME ${export_name}_static)
    foreach(prop INTERFACE_INCLUDE_DIRECTORIES INTERFACE_COMPILE_FEATURES INTERFACE_COMPILE_DEFINITIONS
                 INTERFACE_COMPILE_OPTIONS INTERFACE_LINK_OPTIONS INTERFACE_LINK_LIBRARIES)
      get_target_property(value ${lib} ${prop})
      if(value)
        list(TRANSFORM value REPLACE "^tandem$" "tandem_static")  # tandem_mpi_static needs tandem_static
        set_property(TARGET ${lib}_static PROPERTY ${prop} "${value}")
      endif()
    endforeach()
    if(lib STREQUAL "tandem")
      # A shared library's PRIVATE libcrypto is not in its interface; the archive's users need it.
      target_link_libraries(tandem_static PRIVATE OpenSSL::Crypto)
    endif()
    list(APPEND tandem_static_targets ${lib}_static)
  endforeach()
endif()

install(TARGETS tandem EXPORT tandemTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET tandem_static)
  install(TARGETS tandem_static EXPORT tandemTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
install(DIRECTORY include/tandem DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tandemTargets NAMESPACE tandem::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tandem)

set(TANDEM_LICENSE_FILE ${CMAKE_INSTALL_DOCDIR}/LICENSE)
configure_package_config_file(cmake/tandemConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/tandemConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tandem
  PATH_VARS TANDEM_LICENSE_FILE)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/tandemConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tandemConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/tandemConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tandem)

# The .pc file finds its prefix relative to itself, so an installed tree can be moved.
file(RELATIVE_PATH TANDEM_PC_TO_PREFIX "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
# A static-only build's libtandem.a needs libcrypto on every link line; a shared build's users
# get it through `pkg-config --static` (Requires.private) when they link the archive.
if(BUILD_SHARED_LIBS)
  set(TANDEM_PC_EXTRA_LIBS "")
else()
  set(TANDEM_PC_EXTRA_LIBS " -lcrypto")
endif()
configure_file(cmake/tandem.pc.in ${CMAKE_CURRENT_BINARY_DIR}/tandem.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tandem.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The optional MPI component: its own export file, loaded by tandemConfig.cmake only when the
# consumer's machine has MPI too (so the core package never depends on MPI).
if(TARGET tandem_mpi)
  install(TARGETS tandem_mpi EXPORT tandemMpiTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  if(TARGET tandem_mpi_static)
    install(TARGETS tandem_mpi_static EXPORT tandemMpiTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  endif()
  install(EXPORT tandemMpiTargets NAMESPACE tandem:: FILE tandemMpiTargets.cmake
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tandem)
endif()

install(FILES LICENSE README.md CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
