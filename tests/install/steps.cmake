# SPDX-License-Identifier: MIT
# Helpers of the consumer tests' scripts (run_install_test.cmake, run_subdir_test.cmake).

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

# run_consumer(<what> <program>): runs a build of consumer/main.cpp, which must report the
# right count.
function(run_consumer what program)
  step("${what}" ${program})
  if(NOT step_output MATCHES "consumer ok 2000")
    message(FATAL_ERROR "${what} printed a wrong result: ${step_output}")
  endif()
endfunction()
