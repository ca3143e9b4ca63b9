# SPDX-License-Identifier: MIT
# Installs the build tree (with tandem::mpi) into a scratch prefix, then builds a consumer that
# asks for the optional component, find_package(tandem CONFIG COMPONENTS mpi), links
# tandem::mpi and runs a map at world size 1 (no mpirun: a local process pool runs the tasks).
# Invoked by CTest with -DBUILD_DIR=… -DSOURCE_DIR=… -DWORK_DIR=… -DGENERATOR=… -DMAKE_PROGRAM=… -DCXX=…
include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
build_consumer("the find_package(tandem COMPONENTS mpi) consumer"
               ${SOURCE_DIR}/tests/install/mpi_consumer ${WORK_DIR}/consumer -DCMAKE_PREFIX_PATH=${prefix})
run_consumer("the find_package(tandem COMPONENTS mpi) consumer" ${WORK_DIR}/consumer/mpi_consumer
             "mpi consumer ok 338350")
message(STATUS "find_package(tandem COMPONENTS mpi) consumer: ok")
