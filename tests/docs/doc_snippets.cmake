# SPDX-License-Identifier: MIT
# The guides' programs (included from tests/CMakeLists.txt, so the tests made here are tests of
# tests/ and require the leak-check fixture like the others).
#
# Every ```cpp block of docs/*.md that contains `int main` is a complete program. At configure
# time each is written to <build>/tests/docs/docs_<page>_<n>.cpp (n counts the page's programs
# from 1; the file is rewritten only when the block changed) behind a #line directive, so a
# compiler error names the line of the .md file. Each becomes an executable and a CTest test of
# that name, which passes when the program exits 0. `tandem_doc_snippets` builds them all.
# Editing a page re-runs the configure step (CMAKE_CONFIGURE_DEPENDS); a new page is picked up
# by the glob. A ```cpp block without `int main` (a fragment) is not built.
#  * A program that includes <tandem/mpi.hpp> links tandem::mpi and runs twice, as tests/mpi/
#    does: without mpirun (world size 1: a local process pool) and under
#    `mpirun --oversubscribe -n 3` (test docs_<page>_<n>_mpirun). It is left out when
#    tandem::mpi is not built, and under ThreadSanitizer (docs/mpi.md#sanitizers).
#
# Also here: docs_anchors (check_doc_anchors.cmake), which fails when a reference
# `docs/<page>.md#<section>` in the tree, or a link `<page>.md#<section>` between the guides,
# names no heading of that page — code comments cite the guides' sections that way.

file(GLOB tandem_doc_pages CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
set(tandem_doc_dir ${CMAKE_CURRENT_BINARY_DIR}/docs)
add_custom_target(tandem_doc_snippets)

# How many lines `text` holds (its newline characters).
function(tandem_doc_count_lines text out)
  string(REGEX MATCHALL "\n" nl "${text}")
  list(LENGTH nl n)
  set(${out} ${n} PARENT_SCOPE)
endfunction()

foreach(page IN LISTS tandem_doc_pages)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${page})
  get_filename_component(stem ${page} NAME_WE)
  file(READ ${page} text)
  # `rest` always starts with the newline that ends the line before line `line`.
  set(rest "\n${text}")
  set(line 1)
  set(n 0)
  while(TRUE)
    string(FIND "${rest}" "\n```cpp\n" open)
    if(open EQUAL -1)
      break()
    endif()
    math(EXPR upto "${open} + 1")
    string(SUBSTRING "${rest}" 0 ${upto} before)
    tandem_doc_count_lines("${before}" k)
    math(EXPR fence "${line} + ${k} - 1")       # the line of ```cpp
    math(EXPR body "${open} + 7")               # the newline ending the ```cpp line
    string(SUBSTRING "${rest}" ${body} -1 after)
    string(FIND "${after}" "\n```" close)
    if(close EQUAL -1)
      message(FATAL_ERROR "${page}:${fence}: a ```cpp block is never closed")
    endif()
    math(EXPR len "${close}")
    string(SUBSTRING "${after}" 1 ${len} code)  # the block's lines, each ending in a newline
    math(EXPR upto "${close} + 1")
    string(SUBSTRING "${after}" 0 ${upto} inside)
    tandem_doc_count_lines("${inside}" c)
    math(EXPR line "${fence} + ${c}")           # the line of the closing fence
    string(SUBSTRING "${after}" ${close} -1 rest)

    string(FIND "${code}" "int main" has_main)
    if(has_main EQUAL -1)
      continue()
    endif()
    math(EXPR n "${n} + 1")
    set(name docs_${stem}_${n})
    set(uses_mpi OFF)
    if("${code}" MATCHES "tandem/mpi\\.hpp")
      set(uses_mpi ON)
      if(NOT TARGET tandem_mpi OR CMAKE_CXX_FLAGS MATCHES "sanitize=thread")
        message(STATUS "tandem: ${name} (an MPI program) not built: no tandem::mpi here, or TSan")
        continue()
      endif()
    endif()

    math(EXPR first "${fence} + 1")
    set(src ${tandem_doc_dir}/${name}.cpp)
    set(content "#line ${first} \"${page}\"\n${code}")
    set(old "")
    if(EXISTS ${src})
      file(READ ${src} old)
    endif()
    if(NOT "${old}" STREQUAL "${content}")
      file(WRITE ${src} "${content}")
    endif()

    add_executable(${name} ${src})
    target_link_libraries(${name} PRIVATE tandem::tandem tandem_warnings)
    add_dependencies(${name} tandem_leakcheck)  # the fixture's program, built with any test
    add_dependencies(tandem_doc_snippets ${name})
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES TIMEOUT 120)
    if(uses_mpi)
      target_link_libraries(${name} PRIVATE tandem::mpi)
      set(env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
              ASAN_OPTIONS=detect_leaks=0:abort_on_error=1)
      set_tests_properties(${name} PROPERTIES ENVIRONMENT "${env}" PROCESSORS 2)
      set(mpirun ${MPIEXEC_EXECUTABLE})
      if(NOT mpirun)
        find_program(tandem_doc_mpirun NAMES mpirun mpiexec)
        set(mpirun ${tandem_doc_mpirun})
      endif()
      if(mpirun)
        add_test(NAME ${name}_mpirun
                 COMMAND ${mpirun} --oversubscribe -n 3 $<TARGET_FILE:${name}>)
        set_tests_properties(${name}_mpirun PROPERTIES ENVIRONMENT "${env}" PROCESSORS 2
                             TIMEOUT 120)
      endif()
    endif()
  endwhile()
endforeach()

add_test(NAME docs_anchors
         COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
                 -P ${CMAKE_CURRENT_LIST_DIR}/check_doc_anchors.cmake)
