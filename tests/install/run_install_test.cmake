# SPDX-License-Identifier: MIT
# Installs the build tree into a scratch prefix, then builds and runs a consumer through
# find_package(tandem CONFIG) and another through pkg-config. Invoked by CTest with
# -DBUILD_DIR=… -DSOURCE_DIR=… -DWORK_DIR=… -DGENERATOR=… -DMAKE_PROGRAM=… -DCXX=…
include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/check_installed_headers.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
check_installed_headers(${SOURCE_DIR} ${prefix}/include)

build_consumer("the find_package consumer" ${SOURCE_DIR}/tests/install/consumer ${WORK_DIR}/consumer
               -DCMAKE_PREFIX_PATH=${prefix})
run_consumer("the find_package consumer" ${WORK_DIR}/consumer/consumer)

find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  # pkg-config's own search path honours PKG_CONFIG_PATH; lib dir name depends on GNUInstallDirs.
  file(GLOB_RECURSE pcs ${prefix}/*/tandem.pc)
  list(GET pcs 0 pc)
  get_filename_component(pcdir ${pc} DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} ${pcdir})
  step("pkg-config --cflags --libs tandem" ${PKG_CONFIG} --cflags --libs tandem)
  string(STRIP "${step_output}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  # The .pc leaves the C++ standard to its user (tandem needs C++20 or later).
  step("building with pkg-config flags"
       ${CXX} -std=c++20 ${SOURCE_DIR}/tests/install/consumer/main.cpp ${flags} -o ${WORK_DIR}/pc_consumer)
  run_consumer("the pkg-config consumer" ${WORK_DIR}/pc_consumer)
endif()
message(STATUS "install, find_package and pkg-config consumers: ok")
