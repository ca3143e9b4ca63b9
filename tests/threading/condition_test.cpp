// SPDX-License-Identifier: MIT
// tandem::Condition — ports of CPython Lib/test/lock_tests.py (ConditionTests) plus the
// guarantees of docs/threading.md#wake-up-guarantees (FIFO, no spurious wake-ups, kept
// wake-ups).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "tandem/threading/condition.hpp"

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace tandem::detail {
struct SyncTestPeer {
  static int queued(const Condition& c) {
    int n = 0;
    for (auto* w = c.head_; w != nullptr; w = w->next) ++n;
    return n;
  }
};
}  // namespace tandem::detail

namespace {

// Polls `cond` (evaluated with the condition's lock held) until it is true. Threads that
// bump a counter under the lock right before wait() are certainly in the waiter list once
// the counter is seen under the lock (wait() enqueues before it releases the lock).
void wait_locked_until(tandem::Condition& cond, const std::function<bool()>& pred) {
  auto give_up = steady::now() + 30s;
  for (;;) {
    {
      std::lock_guard g(cond);
      if (pred()) return;
    }
    ASSERT_LT(steady::now(), give_up) << "condition never became true";
    std::this_thread::yield();
  }
}

void expect_runtime_error(const std::function<void()>& f, const char* msg) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const tandem::RuntimeError& e) {
    EXPECT_STREQ(e.what(), msg);
  }
}

}  // namespace

// lock_tests.ConditionTests.test_acquire
TEST(Condition, Acquire) {
  tandem::Condition cond;
  // By default we have an RLock: the condition can be acquired multiple times.
  cond.acquire();
  cond.acquire();
  cond.release();
  cond.release();
  EXPECT_FALSE(cond.locked());
  tandem::Lock lock;
  tandem::Condition cond2(lock);
  cond2.acquire();
  EXPECT_FALSE(lock.acquire(false));
  cond2.release();
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_FALSE(cond2.acquire(false));
  lock.release();
  {
    std::lock_guard g(cond2);
    EXPECT_FALSE(lock.acquire(false));
    EXPECT_TRUE(cond2.locked());
  }
  EXPECT_FALSE(cond2.locked());
}

// lock_tests.ConditionTests.test_unacquired_wait
TEST(Condition, UnacquiredWait) {
  tandem::Condition cond;
  expect_runtime_error([&] { cond.wait(); }, "cannot wait on un-acquired lock");
  expect_runtime_error([&] { cond.wait(1ms); }, "cannot wait on un-acquired lock");
  // With an RLock the check is exact: held by another thread is not held.
  tandem::RLock rlock;
  tandem::Condition cond2(rlock);
  std::thread([&] { rlock.acquire(); }).join();  // that thread exits holding it
  expect_runtime_error([&] { cond2.wait(0s); }, "cannot wait on un-acquired lock");
  // With a plain Lock "held" means "locked" (Python's quirk, documented).
  tandem::Lock lock;
  tandem::Condition cond3(lock);
  expect_runtime_error([&] { cond3.wait(0s); }, "cannot wait on un-acquired lock");
  lock.acquire();
  EXPECT_FALSE(cond3.wait(0s));
  EXPECT_TRUE(lock.locked());
  lock.release();
}

// lock_tests.ConditionTests.test_unacquired_notify
TEST(Condition, UnacquiredNotify) {
  tandem::Condition cond;
  expect_runtime_error([&] { cond.notify(); }, "cannot notify on un-acquired lock");
  expect_runtime_error([&] { cond.notify_all(); }, "cannot notify on un-acquired lock");
  tandem::Lock lock;
  tandem::Condition cond2(lock);
  expect_runtime_error([&] { cond2.notify(); }, "cannot notify on un-acquired lock");
  std::lock_guard g(cond2);
  cond2.notify();      // harmless when nobody waits
  cond2.notify_all();
}

// lock_tests.ConditionTests._check_notify, made deterministic: instead of _wait() sleeps,
// each worker counts its arrival under the lock right before wait(), and the main thread
// waits for the count under the lock (which proves the worker is enqueued). The recorded
// ids also check the FIFO order CPython's deque gives.
static void check_notify(tandem::Condition& cond) {
  constexpr int N = 5;
  int arrivals = 0;                 // guarded by cond
  int phase = 0;                    // guarded by cond
  std::vector<std::pair<bool, int>> results1, results2;  // guarded by cond
  std::vector<int> order1, order2;  // who woke, in wake order; guarded by cond
  std::vector<std::thread> ts;
  for (int i = 0; i < N; ++i) {
    ts.emplace_back([&, i] {
      cond.acquire();
      ++arrivals;
      bool r = cond.wait();
      results1.emplace_back(r, phase);
      order1.push_back(i);
      ++arrivals;
      r = cond.wait();
      results2.emplace_back(r, phase);
      order2.push_back(i);
      cond.release();
    });
    // Start the next worker only once this one waits: the queue order is 0, 1, 2, ...
    wait_locked_until(cond, [&] { return arrivals == i + 1; });
  }
  {
    std::lock_guard g(cond);
    EXPECT_TRUE(results1.empty());
    // Notify 3 threads at first
    cond.notify(3);
    phase = 1;
  }
  // The three woken ones re-enter the queue behind workers 3 and 4.
  wait_locked_until(cond, [&] { return arrivals == N + 3; });
  {
    std::lock_guard g(cond);
    EXPECT_EQ(results1, (std::vector<std::pair<bool, int>>(3, {true, 1})));
    EXPECT_TRUE(results2.empty());
    auto woke = order1;
    std::sort(woke.begin(), woke.end());
    EXPECT_EQ(woke, (std::vector<int>{0, 1, 2}));  // FIFO: the three longest waiters
    // Notify 2: FIFO says workers 3 and 4, still in their first wait.
    cond.notify(2);
    phase = 2;
  }
  wait_locked_until(cond, [&] { return arrivals == 2 * N; });
  {
    std::lock_guard g(cond);
    std::vector<std::pair<bool, int>> expect1(3, {true, 1});
    expect1.insert(expect1.end(), 2, {true, 2});
    EXPECT_EQ(results1, expect1);
    EXPECT_TRUE(results2.empty());
    // Notify 5 = all: three in their second wait (in order1's order), then 3 and 4.
    cond.notify(5);
    phase = 3;
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(results2, (std::vector<std::pair<bool, int>>(5, {true, 3})));
  EXPECT_EQ(order2.size(), 5u);
}

// lock_tests.ConditionTests.test_notify (twice: the internal state must still be right)
TEST(Condition, Notify) {
  tandem::Condition cond;
  check_notify(cond);
  check_notify(cond);
  tandem::Lock lock;
  tandem::Condition cond2(lock);
  check_notify(cond2);
}

// FIFO notify, one at a time: notify() always wakes the longest waiter.
TEST(Condition, FifoOrder) {
  tandem::Condition cond;
  constexpr int N = 6;
  int arrivals = 0;
  std::vector<int> woke;  // guarded by cond
  std::vector<std::thread> ts;
  for (int i = 0; i < N; ++i) {
    ts.emplace_back([&, i] {
      std::lock_guard g(cond);
      ++arrivals;
      EXPECT_TRUE(cond.wait());
      woke.push_back(i);
    });
    wait_locked_until(cond, [&] { return arrivals == i + 1; });
  }
  for (int k = 0; k < N; ++k) {
    {
      std::lock_guard g(cond);
      cond.notify();
    }
    wait_locked_until(cond, [&] { return static_cast<int>(woke.size()) == k + 1; });
    std::lock_guard g(cond);
    EXPECT_EQ(woke.back(), k);
  }
  for (auto& t : ts) t.join();
}

// notify(n) wakes exactly n when more wait; n <= 0 wakes nobody.
TEST(Condition, NotifyExactlyN) {
  tandem::Condition cond;
  constexpr int N = 6;
  int arrivals = 0, woken = 0;
  std::vector<std::thread> ts;
  for (int i = 0; i < N; ++i)
    ts.emplace_back([&] {
      std::lock_guard g(cond);
      ++arrivals;
      EXPECT_TRUE(cond.wait());
      ++woken;
    });
  wait_locked_until(cond, [&] { return arrivals == N; });
  using Peer = tandem::detail::SyncTestPeer;
  {
    std::lock_guard g(cond);
    EXPECT_EQ(Peer::queued(cond), N);
    cond.notify(0);
    cond.notify(-5);
    EXPECT_EQ(Peer::queued(cond), N);
    cond.notify(2);
    EXPECT_EQ(Peer::queued(cond), N - 2);
  }
  wait_locked_until(cond, [&] { return woken == 2; });
  {
    std::lock_guard g(cond);
    EXPECT_EQ(Peer::queued(cond), N - 2);
    cond.notify(100);  // more than wait: all of them
    EXPECT_EQ(Peer::queued(cond), 0);
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(woken, N);
}

// lock_tests.ConditionTests.test_timeout: wait(timeout) returns false after the timeout.
TEST(Condition, Timeout) {
  tandem::Condition cond;
  constexpr int N = 5;
  std::atomic<int> falses{0}, late_enough{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < N; ++i)
    ts.emplace_back([&] {
      cond.acquire();
      auto t1 = steady::now();
      bool result = cond.wait(100ms);
      auto t2 = steady::now();
      cond.release();
      if (!result) ++falses;
      if (t2 - t1 >= 100ms) ++late_enough;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(falses.load(), N);  // no spurious wake-ups
  EXPECT_EQ(late_enough.load(), N);
  // Negative counts as 0.
  std::lock_guard g(cond);
  EXPECT_FALSE(cond.wait(-1s));
}

// lock_tests.ConditionTests.test_waitfor
TEST(Condition, WaitFor) {
  tandem::Condition cond;
  int state = 0;  // guarded by cond
  std::thread t([&] {
    std::lock_guard g(cond);
    bool result = cond.wait_for([&] { return state == 4; });
    EXPECT_TRUE(result);
    EXPECT_EQ(state, 4);
  });
  for (int i = 0; i < 4; ++i) {
    std::lock_guard g(cond);
    ++state;
    cond.notify();
  }
  t.join();
}

// lock_tests.ConditionTests.test_waitfor_timeout
TEST(Condition, WaitForTimeout) {
  tandem::Condition cond;
  int state = 0;  // guarded by cond
  std::atomic<bool> success{false};
  std::thread t([&] {
    std::lock_guard g(cond);
    auto t0 = steady::now();
    bool result = cond.wait_for([&] { return state == 4; }, 100ms);
    EXPECT_FALSE(result);
    EXPECT_GE(steady::now() - t0, 100ms);
    success = true;
  });
  // Only increment 3 times, so state == 4 is never reached.
  for (int i = 0; i < 3; ++i) {
    std::lock_guard g(cond);
    ++state;
    cond.notify();
  }
  t.join();
  EXPECT_TRUE(success.load());
}

// wait_for evaluates the predicate first (no wait, no lock check needed when true) and
// returns its last value; a zero timeout still evaluates it twice, like Python.
TEST(Condition, WaitForEdgeCases) {
  tandem::Condition cond;
  int calls = 0;
  {
    std::lock_guard g(cond);
    EXPECT_TRUE(cond.wait_for([&] { return ++calls > 0; }, 0s));
    EXPECT_EQ(calls, 1);
    calls = 0;
    EXPECT_FALSE(cond.wait_for([&] { return ++calls < 0; }, 0s));
    EXPECT_EQ(calls, 2);
    EXPECT_FALSE(cond.wait_for([] { return false; }, -1s));
  }
  // A throwing predicate propagates with the lock held.
  std::lock_guard g(cond);
  EXPECT_THROW(cond.wait_for([]() -> bool { throw std::out_of_range("pred"); }),
               std::out_of_range);
  EXPECT_TRUE(cond.locked());
}

// A waiter chosen by notify() keeps its wake-up even when its timeout expires
// before it runs again.
TEST(Condition, NotifiedWaiterKeepsWakeupAfterTimeout) {
  tandem::Condition cond;
  bool waiting = false;
  std::atomic<int> result{-1};
  std::thread t([&] {
    std::lock_guard g(cond);
    waiting = true;
    result = cond.wait(20ms) ? 1 : 0;
  });
  wait_locked_until(cond, [&] { return waiting; });
  {
    std::lock_guard g(cond);
    // Hold the lock past the waiter's deadline, then notify: it cannot return before we
    // release, and must report the notify even though its own timeout has expired.
    auto past = steady::now() + 60ms;
    while (steady::now() < past) std::this_thread::yield();
    cond.notify();
  }
  t.join();
  EXPECT_EQ(result.load(), 1);
}

// wait() releases an RLock held recursively, completely, and restores the level —
// after a notify and after a timeout.
TEST(Condition, RecursionLevelRestored) {
  tandem::RLock rlock;
  tandem::Condition cond(rlock);
  rlock.acquire();
  rlock.acquire();
  rlock.acquire();
  EXPECT_FALSE(cond.wait(5ms));
  EXPECT_EQ(rlock.recursion_count(), 3u);
  std::thread t([&] {
    // Succeeds only because wait() released all three levels.
    std::lock_guard g(cond);
    cond.notify();
  });
  EXPECT_TRUE(cond.wait());
  EXPECT_EQ(rlock.recursion_count(), 3u);
  t.join();
  rlock.release();
  rlock.release();
  rlock.release();
  EXPECT_FALSE(rlock.locked());
}

// A waiter that timed out leaves the queue: a later notify(1) goes to the next waiter.
TEST(Condition, TimedOutWaiterLeavesQueue) {
  tandem::Condition cond;
  {
    std::lock_guard g(cond);
    EXPECT_FALSE(cond.wait(1ms));
  }
  int arrivals = 0;
  std::atomic<bool> woke{false};
  std::thread t([&] {
    std::lock_guard g(cond);
    ++arrivals;
    woke = cond.wait();
  });
  wait_locked_until(cond, [&] { return arrivals == 1; });
  {
    std::lock_guard g(cond);
    cond.notify(1);
  }
  t.join();
  EXPECT_TRUE(woke.load());
}
