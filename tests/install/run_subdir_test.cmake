# SPDX-License-Identifier: MIT
# Builds and runs a consumer that takes tandem in with add_subdirectory() from the source tree
# (tests/install/subdir_consumer), and checks that the sub-build brings only the library: no
# tandem tests in the consumer's CTest. Invoked by CTest with
# -DSOURCE_DIR=… -DWORK_DIR=… -DGENERATOR=… -DMAKE_PROGRAM=… -DCXX=…
# The cache is dropped each run, so tandem's option defaults are those of a first configure;
# object files are kept, so a re-run only rebuilds what changed.
include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
file(REMOVE ${WORK_DIR}/CMakeCache.txt)
build_consumer("the add_subdirectory consumer" ${SOURCE_DIR}/tests/install/subdir_consumer
               ${WORK_DIR} -DTANDEM_SOURCE_DIR=${SOURCE_DIR})
run_consumer("the add_subdirectory consumer" ${WORK_DIR}/subdir_consumer)
check_only_own_test("the add_subdirectory consumer" ${WORK_DIR})
message(STATUS "add_subdirectory consumer: ok")
