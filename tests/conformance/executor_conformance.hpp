// One test body, every executor: the behaviour concurrent.futures promises for any Executor
// (CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest, test_wait.py,
// test_as_completed.py, test_shutdown.py), run against ThreadPoolExecutor,
// ProcessPoolExecutor (tests/conformance/executor_conformance_test.cpp) and MpiPoolExecutor
// (tests/mpi/mpi_conformance_mpitest.cpp, under mpirun).
//
// Usage: a traits struct per executor with `using Executor = …;` and
// `static std::unique_ptr<Executor> make();`, then
//   INSTANTIATE_TYPED_TEST_SUITE_P(Name, ExecutorConformance, ::testing::Types<Traits...>);
// Every task is a plain function, so the same body works where tasks are shipped to other
// processes (function identity + serialization).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/futures.hpp"

namespace conformance {

inline int add(int a, int b) { return a + b; }
inline long long square(long long x) { return x * x; }
inline std::string greet(std::string who) { return "hello " + who; }
inline std::vector<int> reversed(std::vector<int> v) { return {v.rbegin(), v.rend()}; }
inline void nothing() {}
inline int out_of_range_at(int i) {
  if (i == 13) throw std::out_of_range("unlucky " + std::to_string(i));
  return i;
}
inline int throws_value_error() { throw tandem::ValueError("bad value"); }
struct CustomError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
inline int throws_custom() { throw CustomError("custom failure"); }

}  // namespace conformance

template <class Traits>
class ExecutorConformance : public ::testing::Test {
 protected:
  void SetUp() override { ex = Traits::make(); }
  void TearDown() override { ex.reset(); }
  std::unique_ptr<typename Traits::Executor> ex;
};

TYPED_TEST_SUITE_P(ExecutorConformance);

// executor.py ExecutorTest.test_submit
TYPED_TEST_P(ExecutorConformance, SubmitReturnsTheResult) {
  EXPECT_EQ(this->ex->submit(conformance::add, 2, 3).result(), 5);
  EXPECT_EQ(this->ex->submit(conformance::greet, std::string("tandem")).result(), "hello tandem");
  EXPECT_EQ(this->ex->submit(conformance::reversed, std::vector<int>{1, 2, 3}).result(),
            (std::vector<int>{3, 2, 1}));
  auto v = this->ex->submit(conformance::nothing);
  v.result();
  EXPECT_TRUE(v.done());
}

// test_future.py test_result_with_exception, across executors: the task's exception reaches
// its future with its standard type (or tandem's own type) and its message.
TYPED_TEST_P(ExecutorConformance, ExceptionsKeepTheirType) {
  // The futures stay alive until the end of the test: result() rethrows the very exception
  // object the future holds, and libstdc++'s exception_ptr reference count is not visible to
  // ThreadSanitizer, which would otherwise see the executor's thread drop the last reference
  // after the catch block and report a race that cannot happen.
  auto f = this->ex->submit(conformance::out_of_range_at, 13);
  try {
    f.result();
    FAIL() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "unlucky 13");
  }
  auto g = this->ex->submit(conformance::throws_value_error);
  EXPECT_THROW(g.result(), tandem::ValueError);
  // A user's own type: the same type in a thread pool, RemoteError (a std::runtime_error
  // too) across processes; its message always arrives.
  auto h = this->ex->submit(conformance::throws_custom);
  try {
    h.result();
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("custom failure"), std::string::npos) << e.what();
  }
  auto ok = this->ex->submit(conformance::out_of_range_at, 12);
  EXPECT_EQ(ok.exception(), nullptr);
}

// executor.py ExecutorTest.test_map (+ chunksize variants of test_process_pool.py)
TYPED_TEST_P(ExecutorConformance, MapKeepsInputOrder) {
  std::vector<long long> xs(1000);
  std::iota(xs.begin(), xs.end(), 0);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{250}}) {
    std::vector<long long> got;
    for (long long y : this->ex->map(conformance::square, xs, tandem::MapOptions{.chunksize = chunk}))
      got.push_back(y);
    ASSERT_EQ(got.size(), xs.size()) << "chunksize " << chunk;
    for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(got[i], xs[i] * xs[i]);
  }
}

// executor.py: map over several iterables is Python's zip (stops at the shortest)
TYPED_TEST_P(ExecutorConformance, MapZipsRanges) {
  std::vector<int> a{1, 2, 3, 4}, b{10, 20, 30};
  std::vector<int> got;
  for (int s : this->ex->map(conformance::add, a, b)) got.push_back(s);
  EXPECT_EQ(got, (std::vector<int>{11, 22, 33}));
}

// executor.py ExecutorTest.test_map_exception: the exception surfaces at its position
TYPED_TEST_P(ExecutorConformance, MapRaisesAtThePosition) {
  std::vector<int> xs(20);
  std::iota(xs.begin(), xs.end(), 0);
  std::vector<int> got;
  try {
    for (int y : this->ex->map(conformance::out_of_range_at, xs)) got.push_back(y);
    FAIL() << "no exception";
  } catch (const std::out_of_range&) {
  }
  EXPECT_EQ(got.size(), 13u);
}

// test_as_completed.py test_no_timeout + test_wait.py test_all_completed
TYPED_TEST_P(ExecutorConformance, WaitAndAsCompleted) {
  std::vector<tandem::Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(this->ex->submit(conformance::add, i, 1));
  int sum = 0;
  for (auto& f : tandem::as_completed(fs)) sum += f.result();
  EXPECT_EQ(sum, 50 * 51 / 2);
  auto split = tandem::wait(fs);
  EXPECT_EQ(split.done.size(), fs.size());
  EXPECT_TRUE(split.not_done.empty());
}

// test_shutdown.py test_run_after_shutdown
TYPED_TEST_P(ExecutorConformance, SubmitAfterShutdownRaises) {
  this->ex->shutdown();
  EXPECT_THROW(this->ex->submit(conformance::add, 1, 1), tandem::RuntimeError);
  this->ex->shutdown();  // again: harmless
}

// Many small tasks: every future completes with its own result.
TYPED_TEST_P(ExecutorConformance, ManyTasks) {
  constexpr int kTasks = 10000;
  std::vector<tandem::Future<int>> fs;
  fs.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) fs.push_back(this->ex->submit(conformance::add, i, i));
  long long sum = 0;
  for (int i = 0; i < kTasks; ++i) {
    int r = fs[i].result();
    ASSERT_EQ(r, 2 * i);
    sum += r;
  }
  EXPECT_EQ(sum, static_cast<long long>(kTasks) * (kTasks - 1));
}

REGISTER_TYPED_TEST_SUITE_P(ExecutorConformance, SubmitReturnsTheResult, ExceptionsKeepTheirType,
                            MapKeepsInputOrder, MapZipsRanges, MapRaisesAtThePosition,
                            WaitAndAsCompleted, SubmitAfterShutdownRaises, ManyTasks);
