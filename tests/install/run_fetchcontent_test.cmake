# SPDX-License-Identifier: MIT
# Builds and runs a consumer that takes tandem in with FetchContent from a git URL
# (tests/install/fetch_consumer), as a user fetching the project's repository would. HEAD of
# the source tree is cloned into the work dir first and fetched from there (file://), so the
# test sees the committed tree: uncommitted changes are not part of it. The fetched tandem must
# bring the library only (no tests in the consumer's CTest) and leave the consumer's build
# type alone. Invoked by CTest with
# -DSOURCE_DIR=… -DWORK_DIR=… -DGIT=… -DGENERATOR=… -DMAKE_PROGRAM=… -DCXX=…
include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
step("git rev-parse HEAD" ${GIT} -C ${SOURCE_DIR} rev-parse HEAD)
string(STRIP "${step_output}" head)
step("cloning HEAD of ${SOURCE_DIR}" ${GIT} clone --quiet --bare ${SOURCE_DIR} ${WORK_DIR}/tandem.git)
build_consumer("the FetchContent consumer" ${SOURCE_DIR}/tests/install/fetch_consumer ${WORK_DIR}/build
               -DTANDEM_GIT_URL=file://${WORK_DIR}/tandem.git -DTANDEM_GIT_TAG=${head})
run_consumer("the FetchContent consumer" ${WORK_DIR}/build/fetch_consumer)
check_only_own_test("the FetchContent consumer" ${WORK_DIR}/build)
file(STRINGS ${WORK_DIR}/build/CMakeCache.txt build_type REGEX "^CMAKE_BUILD_TYPE:")
if(NOT build_type MATCHES "^CMAKE_BUILD_TYPE:[A-Z]+=$")
  message(FATAL_ERROR "a fetched tandem set the consumer's build type: ${build_type}")
endif()
message(STATUS "FetchContent consumer (${head}): ok")
