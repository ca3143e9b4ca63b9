# SPDX-License-Identifier: MIT
# Builds and runs a consumer that takes tandem in with add_subdirectory() from the source tree
# (tests/install/subdir_consumer), and checks that the sub-build brings only the library: no
# tandem tests in the consumer's CTest. Invoked by CTest with
# -DSOURCE_DIR=… -DWORK_DIR=… -DGENERATOR=… -DMAKE_PROGRAM=… -DCXX=…
# The cache is dropped each run, so tandem's option defaults are those of a first configure;
# object files are kept, so a re-run only rebuilds what changed.
include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
file(REMOVE ${WORK_DIR}/CMakeCache.txt)
step("configuring the add_subdirectory consumer"
     ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/subdir_consumer -B ${WORK_DIR}
     ${consumer_configure_args} -DTANDEM_SOURCE_DIR=${SOURCE_DIR})
step("building the add_subdirectory consumer" ${CMAKE_COMMAND} --build ${WORK_DIR} --parallel 2)
run_consumer("the add_subdirectory consumer" ${WORK_DIR}/subdir_consumer)
step("listing the consumer's tests" ${CMAKE_CTEST_COMMAND} -N --test-dir ${WORK_DIR})
if(NOT step_output MATCHES "Total Tests: 1\n")
  message(FATAL_ERROR "the consumer's CTest should list its one test, not tandem's:\n${step_output}")
endif()
message(STATUS "add_subdirectory consumer: ok")
