// SPDX-License-Identifier: MIT
// A finished task's result reaches its future while a long task that came after it in the
// same batch still runs. CPython's workers send every result on its own, so wait(...,
// FIRST_COMPLETED) and as_completed see a quick task at once; tandem's workers batch the
// results of quick tasks (src/process_pool/worker.cpp, KnownFunctions) but must not hold them
// behind a long task. For each start method. Own main(): mp::init(argc, argv) first.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/file_gate.hpp"
#include "support/pool_test_support.hpp"
#include "tandem/futures.hpp"
#include "tandem/process_pool.hpp"

namespace {

using namespace std::chrono_literals;

int add(int a, int b) { return a + b; }

/// Polls a future's state (there is no blocking wait for "sent to a worker"), bounded.
template <class T>
bool becomes_running(const tandem::Future<T>& f) {
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (!f.running() && !f.done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    usleep(1000);
  }
  return true;
}

class ResultLatency : public tandem_test::PoolByStartMethod {};

// One worker: X waits for a gate; behind it quick task A and long task B (the same function as
// X, which the worker has seen take long) reach the worker together. Once X is let go, A's result
// must arrive while B still blocks.
TEST_P(ResultLatency, QuickResultDoesNotWaitForTheLongTaskBehindIt) {
  tandem::ProcessPoolExecutor ex(opts(1));
  {  // a short measured task time: the pool then sends the worker batches, not single tasks
    std::vector<tandem::Future<int>> warm;
    for (int i = 0; i < 2000; ++i) warm.push_back(ex.submit(add, i, 1));
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(warm[i].result(60s), i + 1);
  }
  conformance::Gates gates;  // after the pool: opened before its shutdown waits, whatever fails
  auto x = ex.submit(conformance::wait_for_file, gates.path("x"), 1);
  ASSERT_TRUE(becomes_running(x));
  std::vector<tandem::Future<int>> ab{ex.submit(add, 20, 22),
                                      ex.submit(conformance::wait_for_file, gates.path("b"), 2)};
  ASSERT_TRUE(becomes_running(ab[1])) << "B never reached the worker";
  gates.open("x");
  EXPECT_EQ(x.result(60s), 1);
  auto [done, not_done] = tandem::wait(ab, 60s, tandem::ReturnWhen::FIRST_COMPLETED);
  ASSERT_EQ(done.size(), 1u) << "A's result waited behind B";
  EXPECT_EQ(ab[0].result(0s), 42);
  EXPECT_FALSE(ab[1].done());
  gates.open("b");
  EXPECT_EQ(ab[1].result(60s), 2);
}

// A function the worker has never run may be long: results before its first run go out.
TEST_P(ResultLatency, QuickResultDoesNotWaitForAnUnknownFunction) {
  tandem::ProcessPoolExecutor ex(opts(1));
  {
    std::vector<tandem::Future<int>> warm;
    for (int i = 0; i < 2000; ++i) warm.push_back(ex.submit(add, i, 1));
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(warm[i].result(60s), i + 1);
  }
  conformance::Gates gates;
  std::vector<tandem::Future<int>> ab{ex.submit(add, 1, 2),
                                      ex.submit(conformance::wait_for_file, gates.path("b"), 2)};
  auto [done, not_done] = tandem::wait(ab, 60s, tandem::ReturnWhen::FIRST_COMPLETED);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(ab[0].result(0s), 3);
  gates.open("b");
  EXPECT_EQ(ab[1].result(60s), 2);
}

INSTANTIATE_TEST_SUITE_P(All, ResultLatency, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

}  // namespace

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
