# SPDX-License-Identifier: MIT
# Helpers of the consumer tests' scripts (tests/install/run_*_test.cmake).

# The consumers are configured like the build that runs them (tests/CMakeLists.txt passes
# -DGENERATOR=… -DMAKE_PROGRAM=… -DCXX=…), never with CMake's default generator, whose build
# program (make) a machine set up by scripts/deps does not have. consumer_configure_args
# holds the -G/-DCMAKE_MAKE_PROGRAM/-DCMAKE_CXX_COMPILER arguments of a consumer's configure.
foreach(var GENERATOR CXX)
  if(NOT ${var})
    message(FATAL_ERROR "run with -D${var}=… (see tests/CMakeLists.txt)")
  endif()
endforeach()
set(consumer_configure_args -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX}")
if(MAKE_PROGRAM)
  list(APPEND consumer_configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()

# step(<what> <command> <args>...): runs the command; if it fails, the test fails with <what>
# and everything the command printed. Its output is left in step_output.
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# build_consumer(<what> <source dir> <binary dir> [<configure args>...]): configures a consumer
# project like this build (consumer_configure_args), then builds it.
function(build_consumer what source_dir binary_dir)
  step("configuring ${what}" ${CMAKE_COMMAND} -S ${source_dir} -B ${binary_dir}
       ${consumer_configure_args} ${ARGN})
  step("building ${what}" ${CMAKE_COMMAND} --build ${binary_dir} --parallel 2)
endfunction()

# run_consumer(<what> <program> [<expected>]): runs a consumer, whose output must match
# <expected> (default: the right count of a build of consumer/main.cpp).
function(run_consumer what program)
  set(expected "consumer ok 2000")
  if(ARGC GREATER 2)
    set(expected "${ARGV2}")
  endif()
  step("${what}" ${program})
  if(NOT step_output MATCHES "${expected}")
    message(FATAL_ERROR "${what} printed a wrong result (expected ${expected}): ${step_output}")
  endif()
endfunction()

# check_only_own_test(<what> <binary dir>): the consumer's CTest lists its one test, none of
# tandem's (a tandem taken in by add_subdirectory or FetchContent must add no tests).
function(check_only_own_test what binary_dir)
  step("listing the tests of ${what}" ${CMAKE_CTEST_COMMAND} -N --test-dir ${binary_dir})
  if(NOT step_output MATCHES "Total Tests: 1\n")
    message(FATAL_ERROR "the CTest of ${what} should list its one test, not tandem's:\n${step_output}")
  endif()
endfunction()
