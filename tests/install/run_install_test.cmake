# Installs the build tree into a scratch prefix, then builds and runs a consumer through
# find_package(tandem CONFIG) and another through pkg-config. Invoked by CTest with
# -DBUILD_DIR=… -DSOURCE_DIR=… -DWORK_DIR=… -DCXX=…
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()

execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer
                        -B ${WORK_DIR}/consumer -DCMAKE_PREFIX_PATH=${prefix}
                        -DCMAKE_CXX_COMPILER=${CXX}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc)
  message(FATAL_ERROR "configuring the find_package consumer failed:\n${out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/consumer
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc)
  message(FATAL_ERROR "building the find_package consumer failed:\n${out}")
endif()
execute_process(COMMAND ${WORK_DIR}/consumer/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(rc OR NOT out MATCHES "consumer ok 2000")
  message(FATAL_ERROR "find_package consumer failed: ${rc} ${out}")
endif()

find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  # pkg-config's own search path honours PKG_CONFIG_PATH; lib dir name depends on GNUInstallDirs.
  file(GLOB_RECURSE pcs ${prefix}/*/tandem.pc)
  list(GET pcs 0 pc)
  get_filename_component(pcdir ${pc} DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} ${pcdir})
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs tandem OUTPUT_VARIABLE flags
                  RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc)
    message(FATAL_ERROR "pkg-config does not know tandem")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  execute_process(COMMAND ${CXX} ${SOURCE_DIR}/tests/install/consumer/main.cpp ${flags}
                          -o ${WORK_DIR}/pc_consumer
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc)
    message(FATAL_ERROR "building with pkg-config flags failed:\n${out}")
  endif()
  execute_process(COMMAND ${WORK_DIR}/pc_consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  if(rc OR NOT out MATCHES "consumer ok 2000")
    message(FATAL_ERROR "pkg-config consumer failed: ${rc} ${out}")
  endif()
endif()
message(STATUS "install, find_package and pkg-config consumers: ok")
