// SPDX-License-Identifier: MIT
// tandem::wait / as_completed — ports of CPython Lib/test/test_concurrent_futures/
// test_wait.py (WaitTests) and test_as_completed.py (AsCompletedTests).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "tandem/futures.hpp"

using namespace std::chrono_literals;
using tandem::Future;
using tandem::ReturnWhen;

namespace {
Future<int> done_ok(int v) {
  Future<int> f;
  f.set_result(v);
  return f;
}
Future<int> done_exc() {
  Future<int> f;
  f.set_exception(std::make_exception_ptr(std::runtime_error("x")));
  return f;
}
bool contains(const std::vector<Future<int>>& v, const Future<int>& f) {
  return std::find(v.begin(), v.end(), f) != v.end();
}
}  // namespace

// test_wait.WaitTests.test_20369 (duplicates are dropped)
TEST(Wait, DuplicatesDropped) {
  auto f = done_ok(1);
  auto r = tandem::wait(std::vector<Future<int>>{f, f});
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_TRUE(r.not_done.empty());
}

TEST(Wait, Empty) {
  auto r = tandem::wait(std::vector<Future<int>>{});
  EXPECT_TRUE(r.done.empty() && r.not_done.empty());
}

// test_wait.WaitTests.test_first_completed (our cancelled-counts-as-done decision)
TEST(Wait, FirstCompleted) {
  Future<int> pending, later;
  Future<int> cancelled;
  cancelled.cancel();
  std::thread t([later]() mutable { later.set_result(5); });
  auto r = tandem::wait(std::vector<Future<int>>{pending, later}, 60s, ReturnWhen::FIRST_COMPLETED);
  t.join();
  EXPECT_TRUE(contains(r.done, later));
  EXPECT_TRUE(contains(r.not_done, pending));
  auto r2 = tandem::wait(std::vector<Future<int>>{cancelled, pending}, 60s, ReturnWhen::FIRST_COMPLETED);
  // CPython would say not_done (docs/futures.md#cancellation).
  EXPECT_TRUE(contains(r2.done, cancelled));
}

// test_wait.WaitTests.test_first_completed_some_already_completed
TEST(Wait, FirstCompletedSomeAlreadyCompleted) {
  Future<int> pending;
  auto ok = done_ok(1);
  auto r = tandem::wait(std::vector<Future<int>>{pending, ok}, ReturnWhen::FIRST_COMPLETED);
  EXPECT_TRUE(contains(r.done, ok));
  EXPECT_TRUE(contains(r.not_done, pending));
}

// test_wait.WaitTests.test_first_exception
TEST(Wait, FirstException) {
  Future<int> pending, slow_fail;
  std::thread t([slow_fail]() mutable {
    slow_fail.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
  });
  auto r = tandem::wait(std::vector<Future<int>>{pending, slow_fail, done_ok(1)}, 60s,
                        ReturnWhen::FIRST_EXCEPTION);
  t.join();
  EXPECT_TRUE(contains(r.done, slow_fail));
  EXPECT_TRUE(contains(r.not_done, pending));
}

// test_wait.WaitTests.test_first_exception_one_already_failed
TEST(Wait, FirstExceptionOneAlreadyFailed) {
  Future<int> pending;
  auto bad = done_exc();
  auto r = tandem::wait(std::vector<Future<int>>{pending, bad}, ReturnWhen::FIRST_EXCEPTION);
  EXPECT_TRUE(contains(r.done, bad));
  EXPECT_EQ(r.not_done.size(), 1u);
}

// test_wait.WaitTests.test_first_exception_some_already_complete: no exception → all
TEST(Wait, FirstExceptionNoneFailedWaitsForAll) {
  Future<int> a;
  std::thread t([a]() mutable { a.set_result(3); });
  auto r = tandem::wait(std::vector<Future<int>>{a, done_ok(1)}, 60s, ReturnWhen::FIRST_EXCEPTION);
  t.join();
  EXPECT_EQ(r.done.size(), 2u);
}

// test_wait.WaitTests.test_all_completed
TEST(Wait, AllCompleted) {
  std::vector<Future<int>> fs(5);
  std::thread t([fs]() mutable {
    for (std::size_t i = 0; i < fs.size(); ++i) fs[i].set_result(static_cast<int>(i));
  });
  auto r = tandem::wait(fs, 60s);
  t.join();
  EXPECT_EQ(r.done.size(), 5u);
  EXPECT_TRUE(r.not_done.empty());
}

// test_wait.WaitTests.test_timeout (a timeout returns the split, never raises)
TEST(Wait, TimeoutReturnsSplit) {
  Future<int> pending;
  auto ok = done_ok(1);
  auto t0 = std::chrono::steady_clock::now();
  auto r = tandem::wait(std::vector<Future<int>>{pending, ok}, 50ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_TRUE(contains(r.done, ok));
  EXPECT_TRUE(contains(r.not_done, pending));
}

// test_as_completed.AsCompletedTests.test_no_timeout
TEST(AsCompleted, NoTimeout) {
  std::vector<Future<int>> fs{done_ok(1), done_exc(), Future<int>{}};
  std::thread t([f = fs[2]]() mutable { f.set_result(3); });
  std::vector<Future<int>> got;
  for (auto& f : tandem::as_completed(fs)) got.push_back(f);
  t.join();
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(got.back(), fs[2]);
}

// test_as_completed.AsCompletedTests.test_future_times_out / test_correct_timeout_exception_msg
TEST(AsCompleted, TimeoutMessage) {
  std::vector<Future<int>> fs{done_ok(1), Future<int>{}, Future<int>{}, done_ok(2)};
  std::vector<Future<int>> got;
  try {
    for (auto& f : tandem::as_completed(fs, 50ms)) got.push_back(f);
    FAIL();
  } catch (const tandem::TimeoutError& e) {
    EXPECT_STREQ(e.what(), "2 (of 4) futures unfinished");
  }
  EXPECT_EQ(got.size(), 2u);
}

// test_as_completed.AsCompletedTests.test_zero_timeout
TEST(AsCompleted, ZeroTimeout) {
  std::vector<Future<int>> fs{done_ok(1), Future<int>{}};
  int n = 0;
  EXPECT_THROW(
      {
        for (auto& f : tandem::as_completed(fs, 0s)) {
          (void)f;
          ++n;
        }
      },
      tandem::TimeoutError);
  EXPECT_EQ(n, 1);
}

// test_as_completed.AsCompletedTests.test_duplicate_futures
TEST(AsCompleted, DuplicateFutures) {
  auto f = done_ok(1);
  int n = 0;
  for (auto& g : tandem::as_completed(std::vector<Future<int>>{f, f, f})) {
    (void)g;
    ++n;
  }
  EXPECT_EQ(n, 1);
}

// Completion order through a pool.
TEST(AsCompleted, CompletionOrder) {
  std::vector<Future<int>> fs(4);
  auto ac = tandem::as_completed(fs, 60s);
  std::thread t([fs]() mutable {
    fs[2].set_result(2);
    fs[0].set_result(0);
    fs[3].cancel();
    fs[1].set_result(1);
  });
  std::vector<Future<int>> got;
  for (auto& f : ac) got.push_back(f);
  t.join();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], fs[2]);
  EXPECT_EQ(got[1], fs[0]);
  EXPECT_EQ(got[2], fs[3]);
  EXPECT_EQ(got[3], fs[1]);
}

// A destroyed as_completed range detaches its waiter (callbacks after it are harmless).
TEST(AsCompleted, DetachOnDestroy) {
  Future<int> f;
  { auto ac = tandem::as_completed(std::vector<Future<int>>{f}); }
  f.set_result(1);
  EXPECT_EQ(f.result(), 1);
}
