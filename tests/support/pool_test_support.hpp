// SPDX-License-Identifier: MIT
// Shared by the process pool tests: a fixture parameterised by the start method, the
// instantiation over fork, forkserver and spawn with readable test names, and main()'s body.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tandem/multiprocessing.hpp"
#include "tandem/process_pool.hpp"

namespace tandem_test {

class PoolByStartMethod : public ::testing::TestWithParam<tandem::mp::StartMethod> {
 protected:
  tandem::ProcessPoolOptions opts(std::size_t n) {
    tandem::ProcessPoolOptions o;
    o.max_workers = n;
    o.start_method = GetParam();
    return o;
  }
};

inline auto all_start_methods() {
  using tandem::mp::StartMethod;
  return ::testing::Values(StartMethod::fork, StartMethod::forkserver, StartMethod::spawn);
}

inline std::string start_method_name(
    const ::testing::TestParamInfo<tandem::mp::StartMethod>& info) {
  switch (info.param) {
    case tandem::mp::StartMethod::fork: return "fork";
    case tandem::mp::StartMethod::forkserver: return "forkserver";
    default: return "spawn";
  }
}

/// Joins a started process within 60 s and returns its exit code; kills it and returns -1
/// when it does not end in time.
inline int join_exitcode(tandem::mp::Process& p) {
  if (!p.join(std::chrono::seconds(60))) {
    p.kill();
    p.join();
    return -1;
  }
  return *p.exitcode();
}

/// executor.py's FailingInitializerMixin: a pool whose initializer always fails breaks
/// (after its retries) instead of restarting workers forever — the first task fails with
/// BrokenProcessPool, and so does every later submit.
inline void expect_broken_by_initializer(const tandem::ProcessPoolOptions& o) {
  tandem::ProcessPoolExecutor ex(o);
  auto add = [](int a, int b) { return a + b; };
  auto f = ex.submit(add, 1, 2);
  EXPECT_THROW(f.result(std::chrono::seconds(60)), tandem::BrokenProcessPool);
  EXPECT_THROW(ex.submit(add, 1, 2), tandem::BrokenProcessPool);
}

/// The body of main(): mp::init(argc, argv) first, so that a spawned worker is taken over
/// there (and the fork server starts while the process is single-threaded).
inline int run_pool_tests(int argc, char** argv) {
  tandem::mp::init(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

}  // namespace tandem_test
