// SPDX-License-Identifier: MIT
// submit(TaskOptions{timeout, priority}, fn, args...) on the thread pool, and tasks that take a
// std::stop_token (<tandem/futures/options.hpp>, detail/task_state.hpp). Beyond Python: no
// CPython test exists; the cases state the contract of docs/futures.md#task-options.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stop_token>
#include <vector>

#include "tandem/futures.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/threading/event.hpp"

using namespace std::chrono_literals;
using tandem::Future;
using tandem::TaskOptions;
using tandem::ThreadPoolExecutor;

namespace {
// Waits until a stop is requested (through an Event, not a spin); true when it was.
bool wait_for_stop(std::stop_token tok, double timeout_s) {
  tandem::Event stopped;
  std::stop_callback cb(tok, [&] { stopped.set(); });
  return stopped.wait(tandem::duration(timeout_s));
}
int square(int x) { return x * x; }
// Keeps a one-worker pool busy until `gate` is set, so that what is submitted next queues.
bool occupy_the_worker(ThreadPoolExecutor& ex, tandem::Event& gate) {
  auto blocked = std::make_shared<tandem::Event>();  // set() may still run as we return
  ex.submit([blocked, &gate] {
    blocked->set();
    gate.wait();
  });
  return blocked->wait(60s);
}
}  // namespace

TEST(TaskOptions, HigherPriorityRunsFirstAmongQueuedTasksTiesInOrder) {
  ThreadPoolExecutor ex(1);
  tandem::Event gate;
  ASSERT_TRUE(occupy_the_worker(ex, gate));
  std::mutex mu;
  std::vector<int> order;
  auto rec = [&](int id) {
    std::lock_guard g(mu);
    order.push_back(id);
  };
  std::vector<Future<void>> fs;
  const int prios[] = {0, 5, -1, 5, 10, 0, -3};
  for (int i = 0; i < 7; ++i) fs.push_back(ex.submit(TaskOptions{.priority = prios[i]}, rec, i));
  gate.set();
  for (auto& f : fs) f.result(60s);
  // 10; the two 5s in order; the 0s (deque) in order; -1; -3.
  EXPECT_EQ(order, (std::vector<int>{4, 1, 3, 0, 5, 2, 6}));
  EXPECT_EQ(ex.stats().submitted, 8u);
}

TEST(TaskOptions, PriorityTasksAreCancelledByShutdownCancelFutures) {
  ThreadPoolExecutor ex(1);
  tandem::Event gate;
  ASSERT_TRUE(occupy_the_worker(ex, gate));
  auto hi = ex.submit(TaskOptions{.priority = 3}, [] { return 1; });
  auto lo = ex.submit(TaskOptions{.priority = -3}, [] { return 2; });
  ex.shutdown(false, true);
  EXPECT_TRUE(hi.cancelled());
  EXPECT_TRUE(lo.cancelled());
  gate.set();
  ex.shutdown(true);
  EXPECT_THROW(ex.submit(TaskOptions{.priority = 1}, [] {}), tandem::RuntimeError);
}

TEST(TaskOptions, PriorityTasksQueuedAtShutdownWaitStillRun) {
  std::vector<Future<int>> fs;
  {
    ThreadPoolExecutor ex(2);
    for (int i = 0; i < 200; ++i)
      fs.push_back(ex.submit(TaskOptions{.priority = i % 3 - 1}, square, i));
  }
  for (int i = 0; i < 200; ++i) EXPECT_EQ(fs[i].result(0s), i * i);
}

TEST(TaskOptions, CancelOfARunningStoppableTaskRequestsStopAndCancels) {
  ThreadPoolExecutor ex(2);
  tandem::Event started;
  std::atomic<bool> saw_stop{false};
  auto f = ex.submit([&](std::stop_token tok) {
    started.set();
    saw_stop = wait_for_stop(tok, 60.0);
    return 1;
  });
  ASSERT_TRUE(started.wait(60s));
  EXPECT_TRUE(f.running());
  EXPECT_TRUE(f.cancel());  // a running task that takes a token can be cancelled
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.result(0s), tandem::CancelledError);
  ex.shutdown(true);
  EXPECT_TRUE(saw_stop.load());
}

TEST(TaskOptions, PlainRunningTaskCannotBeCancelledAsPython) {
  ThreadPoolExecutor ex(1);
  tandem::Event started, gate;
  auto f = ex.submit([&] {
    started.set();
    gate.wait();
    return 5;
  });
  ASSERT_TRUE(started.wait(60s));
  EXPECT_FALSE(f.cancel());
  gate.set();
  EXPECT_EQ(f.result(60s), 5);
}

TEST(TaskOptions, TimeoutRequestsStopAndFailsTheFuture) {
  ThreadPoolExecutor ex(2);
  std::atomic<bool> saw_stop{false};
  auto f = ex.submit(TaskOptions{.timeout = 50ms}, [&](std::stop_token tok, int x) {
    saw_stop = wait_for_stop(tok, 60.0);
    return x;
  }, 7);
  EXPECT_THROW(f.result(60s), tandem::TimeoutError);
  ex.shutdown(true);
  EXPECT_TRUE(saw_stop.load());
}

TEST(TaskOptions, TimeoutFailsTheFutureEvenWhenTheTaskIgnoresIt) {
  ThreadPoolExecutor ex(2);
  tandem::Event gate;
  auto f = ex.submit(TaskOptions{.timeout = 30ms}, [&] {
    gate.wait();
    return 1;
  });
  EXPECT_THROW(f.result(60s), tandem::TimeoutError);
  EXPECT_TRUE(f.done());
  gate.set();  // the worker was still busy: the thread cannot be killed
  ex.shutdown(true);
  EXPECT_THROW(f.result(0s), tandem::TimeoutError);  // the late outcome is discarded
}

TEST(TaskOptions, TimeoutCountsFromTheStartNotTheSubmit) {
  ThreadPoolExecutor ex(1);
  tandem::Event gate;
  ASSERT_TRUE(occupy_the_worker(ex, gate));
  auto f = ex.submit(TaskOptions{.timeout = 30s}, square, 6);
  EXPECT_THROW(f.result(100ms), tandem::TimeoutError);  // result()'s own timeout: still queued
  gate.set();
  EXPECT_EQ(f.result(60s), 36);
}

TEST(TaskOptions, FastTasksWithTimeoutsLeaveNoTimersBehind) {
  ThreadPoolExecutor ex(2);
  std::vector<Future<int>> fs;
  for (int i = 0; i < 2000; ++i) fs.push_back(ex.submit(TaskOptions{.timeout = 1h}, square, i));
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(fs[i].result(60s), i * i);
  ex.shutdown(true);
  // Each task removed its timeout timer as it finished: nothing waits an hour.
  EXPECT_EQ(tandem::detail::TimerService::instance().size(), 0u);
}

TEST(TaskOptions, ExceptionsAndVoidResults) {
  ThreadPoolExecutor ex(2);
  auto e = ex.submit(TaskOptions{.timeout = 10s, .priority = 2},
                     []() -> int { throw tandem::ValueError("x"); });
  EXPECT_THROW(e.result(60s), tandem::ValueError);
  std::atomic<int> n{0};
  ex.submit(TaskOptions{.priority = -1}, [&](std::stop_token) { ++n; }).result(60s);
  EXPECT_EQ(n.load(), 1);
}

// The process pool honours priority in its dispatcher's queue.
TEST(TaskOptions, ProcessPoolPriorityOrdersTheQueue) {
  tandem::ProcessPoolExecutor ex(1);
  ASSERT_EQ(ex.submit(square, 1).result(60s), 1);  // the worker is up
  std::vector<Future<int>> fs;
  for (int i = 0; i < 50; ++i)
    fs.push_back(ex.submit(TaskOptions{.priority = i % 2 ? 1 : 0}, square, i));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(fs[i].result(60s), i * i);
}
