# SPDX-License-Identifier: MIT
# The installed headers are exactly include/tandem/ (the public headers and the detail/ folders
# their templates need), never a header of src/, and each "tandem/…" include of an installed
# header resolves inside the installed tree. Called by run_install_test.cmake after
# `cmake --install`, with -DSOURCE_DIR=… and PREFIX_INCLUDE=<prefix>/include.
function(check_installed_headers SOURCE_DIR PREFIX_INCLUDE)
  file(GLOB_RECURSE installed RELATIVE ${PREFIX_INCLUDE} ${PREFIX_INCLUDE}/tandem/*)
  file(GLOB_RECURSE public RELATIVE ${SOURCE_DIR}/include ${SOURCE_DIR}/include/tandem/*)
  list(SORT installed)
  list(SORT public)
  if(NOT installed STREQUAL public)
    set(extra ${installed})
    list(REMOVE_ITEM extra ${public})
    set(missing ${public})
    list(REMOVE_ITEM missing ${installed})
    message(FATAL_ERROR "installed headers differ from include/tandem/: extra [${extra}], "
                        "missing [${missing}]")
  endif()
  # A header that only src/ uses lives in src/<module>/; installing it (or a copy under the
  # same module path) would make it a promise to users.
  file(GLOB_RECURSE internal RELATIVE ${SOURCE_DIR}/src ${SOURCE_DIR}/src/*.hpp)
  foreach(h IN LISTS internal)
    foreach(candidate tandem/${h} ${h})
      if(EXISTS ${PREFIX_INCLUDE}/${candidate})
        message(FATAL_ERROR "src-only header src/${h} is installed as ${candidate}")
      endif()
    endforeach()
  endforeach()
  foreach(h IN LISTS installed)
    file(STRINGS ${PREFIX_INCLUDE}/${h} includes REGEX "^#include [\"<]tandem/")
    foreach(line IN LISTS includes)
      string(REGEX MATCH "tandem/[^\">]+" inc "${line}")
      if(NOT EXISTS ${PREFIX_INCLUDE}/${inc})
        message(FATAL_ERROR "installed ${h} includes ${inc}, which is not installed")
      endif()
    endforeach()
  endforeach()
  list(LENGTH installed n)
  list(LENGTH internal m)
  message(STATUS "installed headers: the ${n} of include/tandem/, none of src/'s ${m}")
endfunction()
