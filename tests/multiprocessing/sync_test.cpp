// SPDX-License-Identifier: MIT
// tandem::mp::Semaphore / BoundedSemaphore / Event / Condition / Barrier — ports of CPython
// Lib/test/_test_multiprocessing.py (_TestSemaphore, _TestCondition, _TestEvent,
// _TestBarrier), across real fork()ed processes.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "support/fork_helper.hpp"
#include "tandem/multiprocessing/array.hpp"
#include "tandem/multiprocessing/barrier.hpp"
#include "tandem/multiprocessing/condition.hpp"
#include "tandem/multiprocessing/event.hpp"
#include "tandem/multiprocessing/semaphore.hpp"
#include "tandem/multiprocessing/value.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;

namespace {
auto since(std::chrono::steady_clock::time_point t0) { return std::chrono::steady_clock::now() - t0; }
}  // namespace

// _TestSemaphore.test_semaphore (_test_semaphore)
TEST(MpSemaphore, Semaphore) {
  mp::Semaphore sem(2);
  EXPECT_TRUE(sem.acquire());
  EXPECT_EQ(sem.get_value(), 1);
  EXPECT_TRUE(sem.acquire());
  EXPECT_EQ(sem.get_value(), 0);
  EXPECT_FALSE(sem.acquire(false));
  EXPECT_TRUE(sem.locked());
  sem.release();
  EXPECT_EQ(sem.get_value(), 1);
  sem.release();
  EXPECT_EQ(sem.get_value(), 2);
  EXPECT_THROW(mp::Semaphore(-1), tandem::ValueError);
}

// _TestSemaphore.test_bounded_semaphore
TEST(MpSemaphore, BoundedSemaphore) {
  mp::BoundedSemaphore sem(2);
  EXPECT_TRUE(sem.acquire());
  sem.release();
  EXPECT_THROW(sem.release(), tandem::ValueError);
  EXPECT_EQ(sem.get_value(), 2);
  EXPECT_EQ(sem.initial_value(), 2);
}

// _TestSemaphore.test_timeout
TEST(MpSemaphore, Timeout) {
  mp::Semaphore sem(0);
  EXPECT_FALSE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(0s));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(sem.acquire(50ms));
  EXPECT_GE(since(t0), 50ms);
}

// try_acquire_until (parity with tandem::Semaphore): a deadline on any clock; a deadline
// already past is one non-blocking try; a unit released by another process before the
// deadline is taken.
TEST(MpSemaphore, TryAcquireUntil) {
  mp::Semaphore sem(0);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(sem.try_acquire_until(t0 + 50ms));
  EXPECT_GE(since(t0), 50ms);
  EXPECT_FALSE(sem.try_acquire_until(std::chrono::system_clock::now() - 1s));
  sem.release();
  EXPECT_TRUE(sem.try_acquire_until(std::chrono::steady_clock::now() - 1s));
  mp::Semaphore go(0);
  auto child = mptest::fork_child([&] {
    if (!go.acquire(30s)) return 1;
    sem.release();
    return 0;
  });
  go.release();
  EXPECT_TRUE(sem.try_acquire_until(std::chrono::system_clock::now() + 30s));
  EXPECT_EQ(child.join(), 0);
  mp::BoundedSemaphore bounded(1);
  EXPECT_TRUE(bounded.try_acquire_until(std::chrono::steady_clock::now()));
  EXPECT_FALSE(bounded.try_acquire_until(std::chrono::steady_clock::now() + 1ms));
}

// A child blocked in acquire() is woken by the parent's release; units cross both ways.
TEST(MpSemaphore, AcrossProcesses) {
  mp::Semaphore to_child(0), to_parent(0);
  auto child = mptest::fork_child([&] {
    for (int i = 0; i < 1000; ++i) {
      if (!to_child.acquire(30s)) return 1;
      to_parent.release();
    }
    return 0;
  });
  for (int i = 0; i < 1000; ++i) {
    to_child.release();
    ASSERT_TRUE(to_parent.acquire(30s));
  }
  EXPECT_EQ(child.join(), 0);
}

// _TestEvent.test_event
TEST(MpEvent, Event) {
  mp::Event event;
  EXPECT_FALSE(event.is_set());
  EXPECT_FALSE(event.wait(0s));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(event.wait(50ms));
  EXPECT_GE(since(t0), 50ms);
  event.set();
  EXPECT_TRUE(event.is_set());
  EXPECT_TRUE(event.wait());
  EXPECT_TRUE(event.wait(0s));
  event.clear();
  EXPECT_FALSE(event.is_set());
  // A child sets it while we wait.
  mptest::Pipe ready;
  auto child = mptest::fork_child([&] {
    ready.wait();
    event.set();
    return 0;
  });
  ready.signal();
  EXPECT_TRUE(event.wait(30s));
  EXPECT_EQ(child.join(), 0);
}

// set() wakes waiters in several processes at once.
TEST(MpEvent, SetWakesAllProcesses) {
  mp::Event event;
  mp::Semaphore waiting(0);
  std::vector<mptest::Child> children;
  for (int i = 0; i < 4; ++i)
    children.push_back(mptest::fork_child([&] {
      waiting.release();
      return event.wait(30s) ? 0 : 1;
    }));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(waiting.acquire(30s));
  event.set();
  for (auto& c : children) EXPECT_EQ(c.join(), 0);
}

// Helpers for the Condition tests: waiters report "sleeping" (while still holding the lock,
// so once the parent holds the lock they really wait) and "woken".
struct CondFixture {
  mp::Condition cond;
  mp::Semaphore sleeping{0}, woken{0};
  mptest::Child waiter(std::optional<tandem::duration> timeout = {}) {
    return mptest::fork_child([this, timeout] {
      cond.acquire();
      sleeping.release();
      const bool r = timeout ? cond.wait(*timeout) : cond.wait();
      cond.release();
      woken.release();
      return r ? 0 : 7;  // 7: timed out
    });
  }
  void await_sleepers(int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(sleeping.acquire(30s));
    std::lock_guard g(cond);  // all n are inside wait() now
  }
};

// _TestCondition.test_notify
TEST(MpCondition, Notify) {
  CondFixture f;
  auto a = f.waiter();
  auto b = f.waiter();
  f.await_sleepers(2);
  EXPECT_FALSE(f.woken.acquire(0s));
  {
    std::lock_guard g(f.cond);
    f.cond.notify();
  }
  EXPECT_TRUE(f.woken.acquire(30s));
  EXPECT_FALSE(f.woken.acquire(50ms));  // exactly one
  {
    std::lock_guard g(f.cond);
    f.cond.notify();
  }
  EXPECT_TRUE(f.woken.acquire(30s));
  EXPECT_EQ(a.join(), 0);
  EXPECT_EQ(b.join(), 0);
}

// _TestCondition.test_notify_all: waiters with a short timeout time out; notify_all wakes
// the others.
TEST(MpCondition, NotifyAll) {
  CondFixture f;
  std::vector<mptest::Child> timed, plain;
  for (int i = 0; i < 3; ++i) timed.push_back(f.waiter(10ms));
  for (int i = 0; i < 3; ++i) plain.push_back(f.waiter());
  f.await_sleepers(6);
  for (auto& c : timed) EXPECT_EQ(c.join(), 7);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(f.woken.acquire(30s));
  EXPECT_FALSE(f.woken.acquire(50ms));
  {
    std::lock_guard g(f.cond);
    f.cond.notify_all();
  }
  for (auto& c : plain) EXPECT_EQ(c.join(), 0);
}

// _TestCondition.test_notify_n: notify(2) wakes 2, notify(4) the remaining 4, notify(3) none.
TEST(MpCondition, NotifyN) {
  CondFixture f;
  std::vector<mptest::Child> children;
  for (int i = 0; i < 6; ++i) children.push_back(f.waiter());
  f.await_sleepers(6);
  {
    std::lock_guard g(f.cond);
    f.cond.notify(2);
  }
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(f.woken.acquire(30s));
  EXPECT_FALSE(f.woken.acquire(50ms));
  {
    std::lock_guard g(f.cond);
    f.cond.notify(4);
  }
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(f.woken.acquire(30s));
  {
    std::lock_guard g(f.cond);
    f.cond.notify(3);  // nobody left
  }
  for (auto& c : children) EXPECT_EQ(c.join(), 0);
}

// _TestCondition.test_timeout
TEST(MpCondition, Timeout) {
  mp::Condition cond;
  std::lock_guard g(cond);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(cond.wait(50ms));
  EXPECT_GE(since(t0), 50ms);
  EXPECT_FALSE(cond.wait(tandem::duration(-1)));
}

// _TestCondition.test_waitfor: the child waits for state == 4 while the parent steps it.
TEST(MpCondition, WaitFor) {
  mp::Condition cond;
  mp::Value<int> state(0, false);
  mp::Semaphore ready(0);
  auto child = mptest::fork_child([&] {
    std::lock_guard g(cond);
    if (!cond.wait_for([&] { return state.value() == 0; })) return 1;
    ready.release();
    if (!cond.wait_for([&] { return state.value() == 4; })) return 2;
    return state.value() == 4 ? 0 : 3;
  });
  ASSERT_TRUE(ready.acquire(30s));
  for (int i = 0; i < 4; ++i) {
    std::lock_guard g(cond);
    state.value() += 1;
    cond.notify();
  }
  EXPECT_EQ(child.join(), 0);
}

// _TestCondition.test_waitfor_timeout
TEST(MpCondition, WaitForTimeout) {
  mp::Condition cond;
  mp::Value<int> state(0, false);
  mp::Semaphore sem(0);
  auto child = mptest::fork_child([&] {
    std::lock_guard g(cond);
    const auto t0 = std::chrono::steady_clock::now();
    const bool r = cond.wait_for([&] { return state.value() != 0; }, 100ms);
    if (r) return 1;
    if (since(t0) < 100ms) return 2;
    sem.release();
    return 0;
  });
  ASSERT_TRUE(sem.acquire(30s));
  // Only increment once the child timed out (it cannot see this change).
  for (int i = 0; i < 4; ++i) {
    std::lock_guard g(cond);
    state.value() += 1;
    cond.notify();
  }
  EXPECT_EQ(child.join(), 0);
}

// Misuse: wait/notify without the lock (exact for both lock types); with an mp::Lock.
TEST(MpCondition, UnownedLockAndPlainLock) {
  mp::Lock lock;
  mp::Condition cond(lock);
  EXPECT_THROW(cond.wait(0s), tandem::RuntimeError);
  EXPECT_THROW(cond.notify(), tandem::RuntimeError);
  lock.acquire();
  auto child = mptest::fork_child([&] {
    try {
      cond.notify();  // held, but by the parent
      return 1;
    } catch (const tandem::RuntimeError&) {
      return 0;
    }
  });
  EXPECT_EQ(child.join(), 0);
  EXPECT_FALSE(cond.wait(1ms));
  EXPECT_TRUE(lock.locked());
  lock.release();
  // An RLock held twice is released completely while waiting.
  mp::RLock r;
  mp::Condition rc(r);
  r.acquire();
  r.acquire();
  EXPECT_FALSE(rc.wait(1ms));
  EXPECT_EQ(r.recursion_count(), 2u);
  r.release();
  r.release();
}

// locked() (parity with tandem::Condition): whether any process holds the Condition's lock
// — its own RLock, or the Lock/RLock it was given.
TEST(MpCondition, Locked) {
  mp::Condition own;
  EXPECT_FALSE(own.locked());
  own.acquire();
  own.acquire();  // the default lock is an RLock
  EXPECT_TRUE(own.locked());
  own.release();
  EXPECT_TRUE(own.locked());
  own.release();
  EXPECT_FALSE(own.locked());

  mp::Lock lock;
  mp::Condition cond(lock);
  EXPECT_FALSE(cond.locked());
  lock.acquire();
  EXPECT_TRUE(cond.locked());
  lock.release();
  EXPECT_FALSE(cond.locked());

  // Held by another process: seen as locked here; free again once the child released.
  mp::Semaphore held(0), done(0);
  auto child = mptest::fork_child([&] {
    cond.acquire();
    held.release();
    if (!done.acquire(30s)) return 1;
    cond.release();
    return 0;
  });
  ASSERT_TRUE(held.acquire(30s));
  EXPECT_TRUE(cond.locked());
  EXPECT_FALSE(cond.acquire(false));
  done.release();
  EXPECT_EQ(child.join(), 0);
  EXPECT_FALSE(cond.locked());
}

// _TestBarrier.test_barrier / test_barrier_10 / test_wait_return: indices 0..n-1 per cycle,
// action once per cycle, over several cycles.
TEST(MpBarrier, Cycles) {
  constexpr int kParties = 3, kCycles = 5;
  mp::Value<int> actions(0, false);
  mp::Array<int> seen(kParties * kCycles, -1, false);
  mp::Barrier barrier(kParties, [&] { actions.value() += 1; });
  std::vector<mptest::Child> children;
  for (int p = 0; p < kParties - 1; ++p)
    children.push_back(mptest::fork_child([&, p] {
      for (int c = 0; c < kCycles; ++c) seen[static_cast<std::size_t>(c * kParties + p)] = static_cast<int>(barrier.wait(30s));
      return 0;
    }));
  for (int c = 0; c < kCycles; ++c)
    seen[static_cast<std::size_t>(c * kParties + kParties - 1)] = static_cast<int>(barrier.wait(30s));
  for (auto& ch : children) EXPECT_EQ(ch.join(), 0);
  EXPECT_EQ(actions.value(), kCycles);
  for (int c = 0; c < kCycles; ++c) {
    std::vector<int> idx(seen.begin() + c * kParties, seen.begin() + (c + 1) * kParties);
    std::sort(idx.begin(), idx.end());
    EXPECT_EQ(idx, (std::vector<int>{0, 1, 2}));
  }
  EXPECT_EQ(barrier.parties(), kParties);
  EXPECT_EQ(barrier.n_waiting(), 0);
  EXPECT_FALSE(barrier.broken());
}

// _TestBarrier.test_abort / test_timeout: a timeout in one process breaks the barrier for
// the others; reset() repairs it.
TEST(MpBarrier, TimeoutBreaksAndResetRepairs) {
  mp::Barrier barrier(3);
  auto child = mptest::fork_child([&] {
    try {
      barrier.wait(30s);
      return 1;
    } catch (const tandem::BrokenBarrierError&) {
      return 0;
    }
  });
  // Only 2 of 3 arrive: our short timeout breaks it, and the child sees it broken.
  EXPECT_THROW(barrier.wait(50ms), tandem::BrokenBarrierError);
  EXPECT_EQ(child.join(), 0);
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW(barrier.wait(), tandem::BrokenBarrierError);
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  mp::Barrier two(2);
  auto c2 = mptest::fork_child([&] { return two.wait(30s) >= 0 ? 0 : 1; });
  EXPECT_GE(two.wait(30s), 0);
  EXPECT_EQ(c2.join(), 0);
  two.abort();
  EXPECT_THROW(two.wait(), tandem::BrokenBarrierError);
  EXPECT_THROW(mp::Barrier(0), tandem::ValueError);
}

TEST(MpSync, NoLeakedFds) {
  const int before = mptest::count_open_fds();
  {
    mp::Semaphore s;
    mp::BoundedSemaphore b;
    mp::Event e;
    mp::Condition c;
    mp::Barrier bar(2);
  }
  EXPECT_EQ(mptest::count_open_fds(), before);
}
