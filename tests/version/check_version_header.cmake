# SPDX-License-Identifier: MIT
# Test version_header (cmake -DVERSION=<project version> -DHEADER=<version.hpp> -P …): the
# macros of <tandem/version.hpp> state the version of project(tandem VERSION …).
file(READ ${HEADER} text)
foreach(part MAJOR MINOR PATCH)
  if(NOT text MATCHES "#define TANDEM_VERSION_${part} ([0-9]+)\n")
    message(FATAL_ERROR "${HEADER}: no TANDEM_VERSION_${part}")
  endif()
  list(APPEND numbers ${CMAKE_MATCH_1})
endforeach()
list(JOIN numbers . from_numbers)
if(NOT text MATCHES "#define TANDEM_VERSION_STRING \"([^\"]*)\"")
  message(FATAL_ERROR "${HEADER}: no TANDEM_VERSION_STRING")
endif()
set(string ${CMAKE_MATCH_1})
if(NOT from_numbers STREQUAL VERSION OR NOT string STREQUAL VERSION)
  message(FATAL_ERROR "${HEADER} says ${from_numbers} (\"${string}\"), project(tandem VERSION) says "
                      "${VERSION}: change both together (and CHANGELOG.md)")
endif()
message(STATUS "version.hpp: ${VERSION}")
