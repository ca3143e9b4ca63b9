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

#include "detail/sanitizers.hpp"  // TANDEM_TSAN
#include "support/file_gate.hpp"
#include "support/pool_test_support.hpp"
#include "tandem/futures.hpp"
#include "tandem/process_pool.hpp"

namespace {

using namespace std::chrono_literals;

int add(int a, int b) { return a + b; }

/// Returns v at once when `gate` is empty (a quick function, as the worker learns), else once
/// the gate opens (its first slow run).
int quick_or_gated(std::string gate, int v) {
  return gate.empty() ? v : conformance::wait_for_file(std::move(gate), v);
}

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

/// A (20 + 22) finishes while B (gate "b", then 2) still blocks: A's future is done alone.
void expect_a_before_b(std::vector<tandem::Future<int>>& ab, conformance::Gates& gates) {
  auto [done, not_done] = tandem::wait(ab, 60s, tandem::ReturnWhen::FIRST_COMPLETED);
  ASSERT_EQ(done.size(), 1u) << "A's result waited behind B";
  EXPECT_EQ(ab[0].result(0s), 42);
  EXPECT_FALSE(ab[1].done());
  gates.open("b");
  EXPECT_EQ(ab[1].result(60s), 2);
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
  expect_a_before_b(ab, gates);
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

// The first slow run of a function the worker has seen run quickly many times: nothing tells
// the worker beforehand (KnownFunctions says quick), so the result finished before it goes
// out while it runs — the worker's watchdog thread sends what is pending (worker.cpp). Found
// as MpiPool.MapTimeout failing on CI: map(sleep, [0, 0, 6]) with timeout=5 got one 0.
TEST_P(ResultLatency, QuickResultDoesNotWaitForTheFirstSlowRunOfAQuickFunction) {
#if defined(TANDEM_TSAN)
  GTEST_SKIP() << "ThreadSanitizer: workers have no watchdog thread (worker.cpp)";
#endif
  tandem::ProcessPoolExecutor ex(opts(1));
  conformance::Gates gates;
  {  // quick_or_gated without a gate: quick (the worker's KnownFunctions: always < 100 us)
    std::vector<tandem::Future<int>> warm;
    for (int i = 0; i < 20; ++i) warm.push_back(ex.submit(quick_or_gated, std::string(), i));
    for (int i = 0; i < 20; ++i) ASSERT_EQ(warm[i].result(60s), i);
  }
  {  // then a short measured task time: the pool sends the worker batches, not single tasks
    std::vector<tandem::Future<int>> warm;
    for (int i = 0; i < 2000; ++i) warm.push_back(ex.submit(add, i, 1));
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(warm[i].result(60s), i + 1);
  }
  // X (another function) holds the worker while A and B queue up behind it, so that they
  // reach the worker together.
  auto x = ex.submit(conformance::raise_when_file, gates.path("x"));
  ASSERT_TRUE(becomes_running(x));
  std::vector<tandem::Future<int>> ab{ex.submit(add, 20, 22),
                                      ex.submit(quick_or_gated, gates.path("b"), 2)};
  ASSERT_TRUE(becomes_running(ab[1])) << "B never reached the worker";
  gates.open("x");
  EXPECT_THROW(x.result(60s), std::exception);
  expect_a_before_b(ab, gates);
}

INSTANTIATE_TEST_SUITE_P(All, ResultLatency, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

}  // namespace

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
