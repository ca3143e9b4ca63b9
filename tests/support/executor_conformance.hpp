// SPDX-License-Identifier: MIT
// One test body, every executor: the behaviour concurrent.futures promises for any Executor
// (CPython Lib/test/test_concurrent_futures/executor.py ExecutorTest, test_wait.py,
// test_as_completed.py, test_shutdown.py), run against ThreadPoolExecutor,
// ProcessPoolExecutor (tests/futures/conformance_test.cpp) and MpiPoolExecutor
// (tests/mpi/mpi_conformance_mpitest.cpp, under mpirun).
//
// Usage: a traits struct per executor with `using Executor = …;` and
// `static std::unique_ptr<Executor> make();`, then
//   INSTANTIATE_TYPED_TEST_SUITE_P(Name, ExecutorConformance, ::testing::Types<Traits...>);
// Every task is a plain function, so the same body works where tasks are shipped to other
// processes (function identity + serialization). A task that must stay running until the
// test lets it go waits for a file (file_gate.hpp); TearDown opens every gate before the
// executor shuts down. The executor has at least two workers.
//
// Futures that no executor made stand in for CPython's module-level PENDING_FUTURE,
// RUNNING_FUTURE, CANCELLED_FUTURE, CANCELLED_AND_NOTIFIED_FUTURE, EXCEPTION_FUTURE and
// SUCCESSFUL_FUTURE (test_concurrent_futures/util.py), mixed with the executor's own: wait()
// and as_completed() take any futures. One deliberate difference (wait.hpp): a cancelled
// future counts as done at once, so CANCELLED_FUTURE lands in `done` where CPython puts it
// in `not_done`.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/file_gate.hpp"
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
inline int divide(int a, int b) {  // divmod(a, b): ZeroDivisionError for b == 0
  if (b == 0) throw std::domain_error("division by zero");
  return a / b;
}

// CPython's util.py futures, made fresh for each test.
using F = tandem::Future<int>;
using Fs = std::vector<F>;
inline F pending_future() { return F(); }
inline F running_future() {
  F f;
  f.set_running_or_notify_cancel();
  return f;
}
inline F cancelled_future() {
  F f;
  f.cancel();
  return f;
}
inline F cancelled_and_notified_future() {
  F f = cancelled_future();
  f.set_running_or_notify_cancel();
  return f;
}
inline F exception_future() {
  F f;
  f.set_exception(std::make_exception_ptr(std::runtime_error("OSError")));
  return f;
}
inline F successful_future() {
  F f;
  f.set_result(42);
  return f;
}

/// CPython's CANCELLED_AND_NOTIFIED_FUTURE, EXCEPTION_FUTURE and SUCCESSFUL_FUTURE: the
/// futures several tests pass along with the executor's, all done before the call.
struct Finished {
  F cancelled_notified = cancelled_and_notified_future();
  F failed = exception_future();
  F ok = successful_future();
  /// These three, then `more`.
  Fs plus(std::initializer_list<F> more = {}) const {
    Fs all{cancelled_notified, failed, ok};
    all.insert(all.end(), more.begin(), more.end());
    return all;
  }
};

/// `got` holds exactly the futures of `want` (as Python's set equality; wait() and
/// as_completed() drop duplicates).
inline ::testing::AssertionResult same_set(const Fs& got, const Fs& want) {
  auto has = [](const Fs& v, const F& f) { return std::find(v.begin(), v.end(), f) != v.end(); };
  Fs unique;
  for (const F& f : got)
    if (!has(unique, f)) unique.push_back(f);
  if (unique.size() != got.size()) return ::testing::AssertionFailure() << "duplicates";
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " futures, want " << want.size();
  for (const F& f : want)
    if (!has(got, f)) return ::testing::AssertionFailure() << "a future is missing";
  return ::testing::AssertionSuccess();
}

}  // namespace conformance

template <class Traits>
class ExecutorConformance : public ::testing::Test {
 protected:
  void SetUp() override { ex = Traits::make(); }
  void TearDown() override {
    gates.open_all();  // before shutdown(wait=true), which waits for the gated tasks
    ex.reset();
  }
  /// A task of the executor that returns `value` once gate `name` opens.
  conformance::F gated(const std::string& name, int value) {
    return ex->submit(conformance::wait_for_file, gates.path(name), value);
  }
  /// Opens gate `name` and checks that `f`, gated on it, then returns `value`.
  void release(const std::string& name, conformance::F f, int value) {
    gates.open(name);
    EXPECT_EQ(f.result(), value);
  }

  conformance::Gates gates;  // outlives ex: the files go once the gated tasks have ended
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

// test_wait.py WaitTests.test_20369: a future given twice is reported once.
TYPED_TEST_P(ExecutorConformance, WaitDuplicates) {
  using namespace conformance;
  F f = this->ex->submit(add, 1, 2);
  auto r = tandem::wait(Fs{f, f}, tandem::ReturnWhen::ALL_COMPLETED);
  EXPECT_TRUE(same_set(r.done, {f}));
  EXPECT_TRUE(r.not_done.empty());
}

// test_wait.py WaitTests.test_first_completed. CANCELLED_FUTURE is done here (wait.hpp), so
// it alone would satisfy FIRST_COMPLETED: the executor's futures are first waited for on
// their own, which is CPython's case without the cancelled one.
TYPED_TEST_P(ExecutorConformance, WaitFirstCompleted) {
  using namespace conformance;
  F cancelled = cancelled_future();
  F future1 = this->ex->submit(add, 21, 21);
  F future2 = this->gated("event", 0);
  auto r = tandem::wait(Fs{future1, future2}, tandem::ReturnWhen::FIRST_COMPLETED);
  EXPECT_TRUE(same_set(r.done, {future1}));
  EXPECT_TRUE(same_set(r.not_done, {future2}));
  r = tandem::wait(Fs{cancelled, future1, future2}, tandem::ReturnWhen::FIRST_COMPLETED);
  EXPECT_TRUE(same_set(r.done, {cancelled, future1}));  // CPython: {future1}
  EXPECT_TRUE(same_set(r.not_done, {future2}));         // CPython: {CANCELLED, future2}
  this->release("event", future2, 0);
}

// test_wait.py WaitTests.test_first_completed_some_already_completed
TYPED_TEST_P(ExecutorConformance, WaitFirstCompletedSomeAlreadyCompleted) {
  using namespace conformance;
  Finished fin;
  F future1 = this->gated("event", 1);
  auto r = tandem::wait(Fs{fin.cancelled_notified, fin.ok, future1},
                        tandem::ReturnWhen::FIRST_COMPLETED);
  EXPECT_TRUE(same_set(r.done, {fin.cancelled_notified, fin.ok}));
  EXPECT_TRUE(same_set(r.not_done, {future1}));
  this->release("event", future1, 1);
}

// test_wait.py WaitTests.test_first_exception: future1 done, future2 fails (a thread opens
// its gate while wait() runs), future3 stays running. CPython submits all three, then a
// thread opens future2's gate once future1 is done. Here future1 is awaited before the
// others are submitted: MpiPoolExecutor sends tasks in batches and answers a batch as a
// whole, so a task sharing a batch with future2 would not be done before future2's gate
// opened, and that thread would wait forever.
TYPED_TEST_P(ExecutorConformance, WaitFirstException) {
  using namespace conformance;
  F future1 = this->ex->submit(add, 2, 40);
  EXPECT_EQ(future1.result(), 42);
  const std::string event1 = this->gates.path("event1");
  F future2 = this->ex->submit(raise_when_file, event1);
  F future3 = this->gated("event2", 3);
  std::thread t([event1] { open_gate(event1); });
  auto r = tandem::wait(Fs{future1, future2, future3}, tandem::ReturnWhen::FIRST_EXCEPTION);
  t.join();
  EXPECT_TRUE(same_set(r.done, {future1, future2}));
  EXPECT_TRUE(same_set(r.not_done, {future3}));
  EXPECT_NE(future2.exception(), nullptr);
  this->release("event2", future3, 3);
}

// test_wait.py WaitTests.test_first_exception_some_already_complete (CANCELLED_FUTURE: done)
TYPED_TEST_P(ExecutorConformance, WaitFirstExceptionSomeAlreadyComplete) {
  using namespace conformance;
  Finished fin;
  F cancelled = cancelled_future();
  F future1 = this->ex->submit(divide, 21, 0);
  F future2 = this->gated("event", 2);
  auto r = tandem::wait(Fs{fin.ok, cancelled, fin.cancelled_notified, future1, future2},
                        tandem::ReturnWhen::FIRST_EXCEPTION);
  EXPECT_TRUE(same_set(r.done, {fin.ok, cancelled, fin.cancelled_notified, future1}));
  EXPECT_TRUE(same_set(r.not_done, {future2}));  // CPython: {CANCELLED_FUTURE, future2}
  EXPECT_NE(future1.exception(), nullptr);
  this->release("event", future2, 2);
}

// test_wait.py WaitTests.test_first_exception_one_already_failed
TYPED_TEST_P(ExecutorConformance, WaitFirstExceptionOneAlreadyFailed) {
  using namespace conformance;
  F failed = exception_future();
  F future1 = this->gated("event", 1);
  auto r = tandem::wait(Fs{failed, future1}, tandem::ReturnWhen::FIRST_EXCEPTION);
  EXPECT_TRUE(same_set(r.done, {failed}));
  EXPECT_TRUE(same_set(r.not_done, {future1}));
  this->release("event", future1, 1);
}

// test_wait.py WaitTests.test_all_completed
TYPED_TEST_P(ExecutorConformance, WaitAllCompleted) {
  using namespace conformance;
  Finished fin;
  F future1 = this->ex->submit(divide, 2, 0);
  F future2 = this->ex->submit(add, 2, 40);
  auto r = tandem::wait(fin.plus({future1, future2}), tandem::ReturnWhen::ALL_COMPLETED);
  EXPECT_TRUE(same_set(r.done, fin.plus({future1, future2})));
  EXPECT_TRUE(r.not_done.empty());
  EXPECT_NE(future1.exception(), nullptr);
  EXPECT_EQ(future2.result(), 42);
}

// test_wait.py WaitTests.test_timeout: the split at the deadline, no exception.
TYPED_TEST_P(ExecutorConformance, WaitTimeout) {
  using namespace conformance;
  Finished fin;
  F future = this->gated("event", 5);
  auto r = tandem::wait(fin.plus({future}), std::chrono::milliseconds(50),
                        tandem::ReturnWhen::ALL_COMPLETED);
  EXPECT_TRUE(same_set(r.done, fin.plus()));
  EXPECT_TRUE(same_set(r.not_done, {future}));
  this->release("event", future, 5);
}

// test_as_completed.py AsCompletedTests.test_no_timeout
TYPED_TEST_P(ExecutorConformance, AsCompletedNoTimeout) {
  using namespace conformance;
  Finished fin;
  F future1 = this->ex->submit(add, 2, 40);
  F future2 = this->ex->submit(add, 7, 35);
  Fs completed;
  for (F& f : tandem::as_completed(fin.plus({future1, future2}))) completed.push_back(f);
  EXPECT_TRUE(same_set(completed, fin.plus({future1, future2})));
}

// test_as_completed.py AsCompletedTests.test_future_times_out, for a zero and a short
// timeout: the done futures come out, then TimeoutError while the task is still gated.
TYPED_TEST_P(ExecutorConformance, AsCompletedTimesOut) {
  using namespace conformance;
  Finished fin;
  int round = 0;
  for (auto timeout : {std::chrono::milliseconds(0), std::chrono::milliseconds(100)}) {
    SCOPED_TRACE(timeout.count());
    const std::string event = "event" + std::to_string(round++);
    F future = this->gated(event, 0);
    Fs completed;
    bool timed_out = false;
    try {
      for (F& f : tandem::as_completed(fin.plus({future}), timeout)) completed.push_back(f);
    } catch (const tandem::TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_TRUE(same_set(completed, fin.plus()));
    this->release(event, future, 0);
  }
}

// test_as_completed.py AsCompletedTests.test_duplicate_futures (bpo-20367): a future given
// three times, pending when as_completed() is called, comes out once.
TYPED_TEST_P(ExecutorConformance, AsCompletedDuplicateFutures) {
  using namespace conformance;
  F future1 = this->gated("event", 1);
  auto range = tandem::as_completed(Fs{future1, future1, future1});
  EXPECT_EQ(range.size(), 1u);
  this->gates.open("event");
  Fs completed;
  for (F& f : range) completed.push_back(f);
  EXPECT_TRUE(same_set(completed, {future1}));
}

// test_as_completed.py AsCompletedTests.test_correct_timeout_exception_msg, with the
// executor's gated task in RUNNING_FUTURE's place (running or still queued: unfinished),
// then with RUNNING_FUTURE itself.
TYPED_TEST_P(ExecutorConformance, AsCompletedTimeoutMessage) {
  using namespace conformance;
  auto message = [](Fs fs) -> std::string {
    try {
      for (F& f : tandem::as_completed(std::move(fs), std::chrono::seconds(0))) (void)f;
    } catch (const tandem::TimeoutError& e) {
      return e.what();
    }
    return "no TimeoutError";
  };
  EXPECT_EQ(message(Fs{cancelled_and_notified_future(), pending_future(), this->gated("event", 0),
                       successful_future()}),
            "2 (of 4) futures unfinished");
  EXPECT_EQ(message(Fs{cancelled_and_notified_future(), pending_future(), running_future(),
                       successful_future()}),
            "2 (of 4) futures unfinished");
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
                            WaitAndAsCompleted, WaitDuplicates, WaitFirstCompleted,
                            WaitFirstCompletedSomeAlreadyCompleted, WaitFirstException,
                            WaitFirstExceptionSomeAlreadyComplete,
                            WaitFirstExceptionOneAlreadyFailed, WaitAllCompleted, WaitTimeout,
                            AsCompletedNoTimeout, AsCompletedTimesOut,
                            AsCompletedDuplicateFutures, AsCompletedTimeoutMessage,
                            SubmitAfterShutdownRaises, ManyTasks);
