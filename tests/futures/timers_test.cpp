// SPDX-License-Identifier: MIT
// call_later / call_at / call_every on the executors (<tandem/futures/timers.hpp>). There is no
// CPython test to port (concurrent.futures has no timers); the cases follow asyncio's
// test_events.py call_later/call_at tests (test_call_later, test_call_at,
// TimerTests.test_timer_comparison order) where they apply, plus cancellation and shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tandem/futures.hpp"
#include "tandem/log.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/threading/event.hpp"

using namespace std::chrono_literals;
using tandem::Future;
using tandem::ThreadPoolExecutor;
using Clock = std::chrono::steady_clock;

namespace {
int triple(int x) { return 3 * x; }
}  // namespace

// asyncio test_events: test_call_later — the callable runs no sooner than the delay.
TEST(Timers, CallLaterRunsAfterTheDelayOnAWorker) {
  ThreadPoolExecutor ex(2);
  const auto t0 = Clock::now();
  const auto caller = std::this_thread::get_id();
  Future<std::thread::id> f = ex.call_later(50ms, [] { return std::this_thread::get_id(); });
  EXPECT_FALSE(f.done());
  std::thread::id ran = f.result(60s);
  EXPECT_GE(Clock::now() - t0, 50ms);
  EXPECT_NE(ran, caller);
}

// asyncio test_events: test_call_at — an absolute steady-clock time; a past one is "now".
TEST(Timers, CallAtAndPastTimesRunAsSoonAsPossible) {
  ThreadPoolExecutor ex(1);
  const auto t0 = Clock::now();
  auto f = ex.call_at(t0 + 30ms, [](int a, int b) { return a + b; }, 40, 2);
  EXPECT_EQ(f.result(60s), 42);
  EXPECT_GE(Clock::now() - t0, 30ms);
  EXPECT_EQ(ex.call_at(t0 - 1h, [] { return 7; }).result(60s), 7);
  EXPECT_EQ(ex.call_later(-5s, [] { return 8; }).result(60s), 8);
}

// Timers fire in deadline order, ties in the order they were made (one worker: the order
// they are queued is the order they run).
TEST(Timers, FireInDeadlineOrderTiesInEntryOrder) {
  ThreadPoolExecutor ex(1);
  std::mutex mu;
  std::vector<int> order;
  auto rec = [&](int i) {
    std::lock_guard g(mu);
    order.push_back(i);
  };
  const auto at = Clock::now() + 80ms;
  std::vector<Future<void>> fs;
  fs.push_back(ex.call_at(at + 20ms, rec, 4));
  fs.push_back(ex.call_at(at, rec, 1));
  fs.push_back(ex.call_at(at, rec, 2));
  fs.push_back(ex.call_at(at, rec, 3));
  fs.push_back(ex.call_at(at - 40ms, rec, 0));
  for (auto& f : fs) f.result(60s);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

// The same at scale, through the timer heap's deeper levels and its rebuilds: 3,000 timers with
// random (often equal) deadlines, 40% cancelled (more dead entries than live ones: the heap
// is rebuilt without them); one worker, so the calls run in firing order, which must be
// deadline order with ties in entry order, and exactly the uncancelled ones run.
TEST(Timers, ManyTimersFireInDeadlineOrderThroughRebuilds) {
  ThreadPoolExecutor ex(1);
  constexpr int kTimers = 3000;
  std::mutex mu;
  std::vector<int> order;
  auto rec = [&](int i) {
    std::lock_guard g(mu);
    order.push_back(i);
  };
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> ms(0, 60);  // few distinct values: many ties
  const auto base = Clock::now() + 150ms;
  std::vector<Clock::time_point> due(kTimers);
  std::vector<Future<void>> fs;
  for (int i = 0; i < kTimers; ++i) {
    due[static_cast<std::size_t>(i)] = base + std::chrono::milliseconds(ms(rng));
    fs.push_back(ex.call_at(due[static_cast<std::size_t>(i)], rec, i));
  }
  std::vector<int> want;
  for (int i = 0; i < kTimers; ++i) {
    if (i % 5 < 2)
      EXPECT_TRUE(fs[static_cast<std::size_t>(i)].cancel()) << i;
    else
      want.push_back(i);
  }
  std::stable_sort(want.begin(), want.end(), [&](int a, int b) {
    return due[static_cast<std::size_t>(a)] < due[static_cast<std::size_t>(b)];
  });
  for (int i = 0; i < kTimers; ++i) {
    if (i % 5 < 2)
      EXPECT_TRUE(fs[static_cast<std::size_t>(i)].cancelled());
    else
      fs[static_cast<std::size_t>(i)].result(60s);
  }
  std::lock_guard g(mu);
  EXPECT_EQ(order, want);
}

TEST(Timers, CancelOfAPendingTimerPreventsTheCall) {
  ThreadPoolExecutor ex(2);
  std::atomic<bool> called{false};
  auto f = ex.call_later(100ms, [&] { called = true; });
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.result(0s), tandem::CancelledError);
  // A later timer has fired: the cancelled one's time has passed too.
  ex.call_later(200ms, [] {}).result(60s);
  EXPECT_FALSE(called.load());
}

TEST(Timers, ExceptionReachesTheFuture) {
  ThreadPoolExecutor ex(1);
  auto f = ex.call_later(1ms, []() -> int { throw tandem::ValueError("boom"); });
  EXPECT_THROW(f.result(60s), tandem::ValueError);
}

TEST(Timers, ShutdownCancelsPendingTimersAndRefusesNewOnes) {
  auto ex = std::make_unique<ThreadPoolExecutor>(1);
  std::atomic<bool> called{false};
  auto f = ex->call_later(1h, [&] { called = true; });
  auto p = ex->call_every(1h, [&] { called = true; });
  const auto t0 = Clock::now();
  ex->shutdown(true);
  EXPECT_LT(Clock::now() - t0, 30s);  // did not wait for the hour
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(ex->call_later(1ms, [] {}), tandem::RuntimeError);
  EXPECT_THROW(ex->call_every(1s, [] {}), tandem::RuntimeError);
  ex.reset();
  EXPECT_FALSE(called.load());
}

TEST(Timers, DestroyingTheExecutorWithPendingTimersIsSafe) {
  std::vector<Future<int>> fs;
  {
    ThreadPoolExecutor ex(2);
    for (int i = 0; i < 100; ++i) fs.push_back(ex.call_later(i % 2 ? 1h : 0s, [i] { return i; }));
  }
  for (int i = 0; i < 100; ++i) {
    if (i % 2) {
      EXPECT_TRUE(fs[i].cancelled()) << i;
    } else {
      // Due at once: either it was handed to the pool before the shutdown (and ran), or the
      // shutdown took it first (cancelled). Never lost, never both.
      EXPECT_TRUE(fs[i].done()) << i;
      if (!fs[i].cancelled()) {
        EXPECT_EQ(fs[i].result(0s), i);
      }
    }
  }
}

TEST(Timers, CallEveryTicksUntilCancelled) {
  ThreadPoolExecutor ex(2);
  std::atomic<int> ticks{0};
  tandem::Event fifth;
  tandem::PeriodicHandle h = ex.call_every(10ms, [&] {
    if (++ticks == 5) fifth.set();
  });
  ASSERT_TRUE(fifth.wait(60s));
  h.cancel();
  EXPECT_TRUE(h.cancelled());
  const int at_cancel = ticks.load();
  ex.call_later(100ms, [] {}).result(60s);  // ten periods later
  EXPECT_LE(ticks.load(), at_cancel + 1);   // at most one tick already under way
  EXPECT_GE(h.ticks(), 5u);
  EXPECT_THROW(ex.call_every(0s, [] {}), tandem::ValueError);
}

// A tick that overruns skips the ticks it missed: no burst, no overlap, and the next tick
// starts on the period's grid.
TEST(Timers, CallEverySkipsMissedTicksInsteadOfBursting) {
  ThreadPoolExecutor ex(4);
  std::mutex mu;
  std::vector<Clock::time_point> starts;
  std::atomic<int> running{0}, overlaps{0};
  tandem::Event done;
  constexpr auto kPeriod = 40ms;
  auto h = ex.call_every(kPeriod, [&] {
    if (running.fetch_add(1) != 0) ++overlaps;
    std::size_t n;
    {
      std::lock_guard g(mu);
      starts.push_back(Clock::now());
      n = starts.size();
    }
    if (n == 1) tandem::Event().wait(150ms);  // overruns ~4 periods (a timed wait, not a sync)
    running.fetch_sub(1);
    if (n == 3) done.set();
  });
  ASSERT_TRUE(done.wait(60s));
  h.cancel();
  std::lock_guard g(mu);
  EXPECT_EQ(overlaps.load(), 0);
  ASSERT_GE(starts.size(), 3u);
  // After the slow first tick (>= 150 ms), the second starts once, not 3 ticks in a burst:
  // the gap to the third is about one period again.
  EXPECT_GE(starts[1] - starts[0], 150ms);
  EXPECT_GE(starts[2] - starts[1], kPeriod - 5ms);
}

TEST(Timers, CallEveryTickExceptionIsLoggedAndTicksGoOn) {
  std::mutex mu;
  std::vector<std::string> logged;
  tandem::set_log_handler([&](tandem::LogLevel, std::string_view, std::string_view msg) {
    std::lock_guard g(mu);
    logged.emplace_back(msg);
  });
  {
    ThreadPoolExecutor ex(1);
    std::atomic<int> ticks{0};
    tandem::Event third;
    auto h = ex.call_every(5ms, [&] {
      int n = ++ticks;
      if (n == 3) third.set();
      if (n == 1) throw tandem::ValueError("tick failed");
    });
    ASSERT_TRUE(third.wait(60s));
    h.cancel();
  }
  tandem::set_log_handler(nullptr);
  std::lock_guard g(mu);
  ASSERT_FALSE(logged.empty());
  EXPECT_NE(logged[0].find("tick failed"), std::string::npos);
}

TEST(Timers, ManyTimersCostNoThreads) {
  ThreadPoolExecutor ex(2);
  std::vector<Future<int>> fs;
  for (int i = 0; i < 5000; ++i) fs.push_back(ex.call_later((i % 50) * 1ms, [i] { return i; }));
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(fs[i].result(60s), i);
  EXPECT_LE(ex.stats().workers, 2u);
}

// The same members on the process pool: the function is shipped when the timer falls due.
TEST(Timers, ProcessPoolCallLaterAndCallEvery) {
  tandem::ProcessPoolExecutor ex(1);
  const auto t0 = Clock::now();
  auto f = ex.call_later(50ms, triple, 14);
  EXPECT_EQ(f.result(60s), 42);
  EXPECT_GE(Clock::now() - t0, 50ms);
  auto c = ex.call_later(1h, triple, 1);
  EXPECT_TRUE(c.cancel());
  auto h = ex.call_every(5ms, triple, 2);
  while (h.ticks() < 3) ex.call_later(10ms, triple, 0).result(60s);
  h.cancel();
  auto late = ex.call_later(1h, triple, 3);
  ex.shutdown(true);
  EXPECT_TRUE(late.cancelled());
}
