// SPDX-License-Identifier: MIT
// Tests for mp::Manager's Condition() and Barrier(n) (manager_sync.hpp): handles that reach
// processes started BEFORE the object existed. Children are fork()ed processes that receive
// the handle bytes through a pipe and report through their exit code (manager_test.cpp's
// helpers, in manager_test_support.hpp).
//
// CPython's _test_multiprocessing.py runs _TestCondition and _TestBarrier with the 'manager'
// type too; the cases ported below name theirs.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "support/manager_test_support.hpp"
#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing/manager.hpp"
#include "tandem/serialize.hpp"

namespace mp = tandem::mp;
using namespace std::chrono_literals;
using namespace mgrtest;

namespace {

class ManagerSync : public mptest::ProcessFixture {};

template <class P>
P round_trip(const P& p) {
  return tandem::deserialize<P>(tandem::serialize(p));
}

}  // namespace

TEST_F(ManagerSync, ConditionInTheSameProcess) {
  mp::Manager m;
  auto c = round_trip(m.Condition());
  ASSERT_TRUE(c);
  // _TestCondition.test_timeout: a wait nobody notifies times out with false.
  std::lock_guard g(c);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.wait(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  c.notify();  // nobody waits: nothing happens
  c.notify_all();
  EXPECT_TRUE(c.wait_for([] { return true; }, 0ms));
  // The lock is an RLock: the holder may take it again.
  EXPECT_TRUE(c.acquire(false));
  c.release();
}

TEST_F(ManagerSync, ConditionMisuse) {
  mp::Manager m;
  auto c = m.Condition();
  try {
    c.wait(1ms);
    FAIL() << "wait without the lock";
  } catch (const tandem::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot wait on un-acquired lock");
  }
  try {
    c.notify();
    FAIL() << "notify without the lock";
  } catch (const tandem::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot notify on un-acquired lock");
  }
  EXPECT_THROW(c.release(), tandem::RuntimeError);
  mp::ConditionProxy empty;
  EXPECT_FALSE(empty);
  EXPECT_THROW(empty.acquire(), tandem::RuntimeError);
  EXPECT_THROW(empty.release(), tandem::RuntimeError);
}

// _TestCondition.test_notify (manager): a process started before the Condition existed waits
// for a predicate the parent makes true, then answers through the same Condition.
TEST_F(ManagerSync, ConditionReachesAChildStartedBefore) {
  mptest::Pipe p;
  const pid_t child = spawn([&] {
    p.close_write();
    auto c = recv_handle<mp::ConditionProxy>(p.r);
    auto v = recv_handle<mp::ValueProxy<int>>(p.r);
    std::lock_guard g(c);
    if (!c.wait_for([&] { return v.value() == 1; }, 30s)) return 1;
    v.value() = 2;
    c.notify();
    return 0;
  });
  p.close_read();
  mp::Manager m;
  auto c = m.Condition();
  auto v = m.Value<int>(0);
  send_bytes(p.w, tandem::serialize(c));
  send_bytes(p.w, tandem::serialize(v));
  {
    std::lock_guard g(c);
    v.value() = 1;
    c.notify_all();
  }
  {
    std::lock_guard g(c);
    EXPECT_TRUE(c.wait_for([&] { return v.value() == 2; }, 30s));
  }
  EXPECT_EQ(join(child), 0);
}

// _TestCondition.test_notify_n / test_notify_all (manager): with 3 processes waiting,
// notify(2) wakes exactly 2 of them, notify_all() the last one.
TEST_F(ManagerSync, ConditionNotifyNWakesExactlyN) {
  constexpr int kChildren = 3;
  mptest::Pipe pipes[kChildren];  // one each: children reading one pipe would mix handles
  pid_t children[kChildren];
  for (int i = 0; i < kChildren; ++i) {
    children[i] = spawn([&] {
      mptest::Pipe& p = pipes[i];
      p.close_write();
      auto c = recv_handle<mp::ConditionProxy>(p.r);
      auto arrived = recv_handle<mp::SemaphoreProxy>(p.r);
      auto woken = recv_handle<mp::SemaphoreProxy>(p.r);
      std::lock_guard g(c);
      arrived.release();  // under the Condition's lock: queued before the parent gets it
      const bool notified = c.wait(60s);
      woken.release();
      return notified ? 0 : 1;
    });
  }
  for (auto& p : pipes) p.close_read();
  mp::Manager m;
  auto c = m.Condition();
  auto arrived = m.Semaphore(0), woken = m.Semaphore(0);
  for (auto& p : pipes) {
    send_bytes(p.w, tandem::serialize(c));
    send_bytes(p.w, tandem::serialize(arrived));
    send_bytes(p.w, tandem::serialize(woken));
  }
  for (int i = 0; i < kChildren; ++i) ASSERT_TRUE(arrived.acquire(60s));
  {
    std::lock_guard g(c);  // every child is inside wait() once we hold the lock
    c.notify(2);
  }
  ASSERT_TRUE(woken.acquire(60s));
  ASSERT_TRUE(woken.acquire(60s));
  EXPECT_FALSE(woken.acquire(100ms)) << "notify(2) woke a third process";
  {
    std::lock_guard g(c);
    c.notify_all();
  }
  EXPECT_TRUE(woken.acquire(60s));
  for (pid_t child : children) EXPECT_EQ(join(child), 0);
}

TEST_F(ManagerSync, UseAfterShutdown) {
  mp::Manager m;
  auto c = m.Condition();
  auto b = m.Barrier(2);
  c.acquire();
  m.shutdown();
  c.release();  // still works: a guard's destructor must not throw
  EXPECT_THROW(c.acquire(), tandem::RuntimeError);
  EXPECT_THROW(c.notify(), tandem::RuntimeError);
  EXPECT_THROW(b.wait(), tandem::RuntimeError);
  EXPECT_THROW(b.parties(), tandem::RuntimeError);
}

TEST_F(ManagerSync, WrongKindIsADecodeError) {
  mp::Manager m;
  const auto bytes = tandem::serialize(m.Condition());
  EXPECT_THROW(tandem::deserialize<mp::BarrierProxy>(bytes), tandem::DecodeError);
  EXPECT_THROW(tandem::deserialize<mp::LockProxy>(bytes), tandem::DecodeError);
  EXPECT_THROW(tandem::deserialize<mp::ConditionProxy>(tandem::serialize(m.Barrier(2))),
               tandem::DecodeError);
}

TEST_F(ManagerSync, BarrierArguments) {
  mp::Manager m;
  try {
    m.Barrier(0);
    FAIL() << "Barrier(0)";
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "parties must be > 0");
  }
  auto b = round_trip(m.Barrier(3));
  EXPECT_EQ(b.parties(), 3);
  EXPECT_EQ(b.n_waiting(), 0);
  EXPECT_FALSE(b.broken());
}

// _TestBarrier.test_barrier (manager): 2 processes started before the Barrier existed and
// this one pass it 20 times; every cycle hands out the indices 0, 1, 2 once each.
TEST_F(ManagerSync, BarrierCyclesAcrossProcesses) {
  constexpr int kChildren = 2, kCycles = 20;
  mptest::Pipe pipes[kChildren];
  pid_t children[kChildren];
  for (int i = 0; i < kChildren; ++i) {
    children[i] = spawn([&] {
      mptest::Pipe& p = pipes[i];
      p.close_write();
      auto b = recv_handle<mp::BarrierProxy>(p.r);
      auto sum = recv_handle<mp::ValueProxy<long>>(p.r);
      long mine = 0;
      for (int k = 0; k < kCycles; ++k) mine += b.wait(60s);
      std::lock_guard g(sum.get_lock());
      sum.value() += mine;
      return 0;
    });
  }
  for (auto& p : pipes) p.close_read();
  mp::Manager m;
  auto b = m.Barrier(kChildren + 1);
  auto sum = m.Value<long>(0);
  for (auto& p : pipes) {
    send_bytes(p.w, tandem::serialize(b));
    send_bytes(p.w, tandem::serialize(sum));
  }
  long mine = 0;
  for (int k = 0; k < kCycles; ++k) mine += b.wait(60s);
  for (pid_t child : children) EXPECT_EQ(join(child), 0);
  EXPECT_EQ(sum.get() + mine, kCycles * (0 + 1 + 2));
  EXPECT_FALSE(b.broken());
}

// _TestBarrier.test_default_timeout (manager): the timeout given to m.Barrier() is the
// default of every process's handle; it breaks the barrier for everyone.
TEST_F(ManagerSync, BarrierDefaultTimeoutReachesTheChild) {
  mptest::Pipe p;
  const pid_t child = spawn([&] {
    p.close_write();
    auto b = recv_handle<mp::BarrierProxy>(p.r);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      b.wait();  // nobody else comes: the default 100 ms expire
      return 1;
    } catch (const tandem::BrokenBarrierError&) {
    }
    return std::chrono::steady_clock::now() - t0 >= 100ms ? 0 : 2;
  });
  p.close_read();
  mp::Manager m;
  auto b = m.Barrier(2, 100ms);
  send_bytes(p.w, tandem::serialize(b));
  EXPECT_EQ(join(child), 0);
  EXPECT_TRUE(b.broken());
  EXPECT_THROW(b.wait(), tandem::BrokenBarrierError);
  b.reset();  // _TestBarrier.test_reset: usable again
  EXPECT_FALSE(b.broken());
}

// _TestBarrier.test_abort (manager), and shutdown: a process blocked in wait() wakes with
// BrokenBarrierError when the owner shuts the manager down (it aborts the barrier).
TEST_F(ManagerSync, BarrierWaitWakesAtShutdown) {
  mptest::Pipe p;
  const pid_t child = spawn([&] {
    p.close_write();
    auto b = recv_handle<mp::BarrierProxy>(p.r);
    try {
      b.wait(60s);
      return 1;
    } catch (const tandem::BrokenBarrierError&) {
      return 0;
    }
  });
  p.close_read();
  mp::Manager m;
  auto b = m.Barrier(2);
  send_bytes(p.w, tandem::serialize(b));
  // Polls the barrier's state (the child is inside wait() once counted), 1 ms apart.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (b.n_waiting() != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  ASSERT_EQ(b.n_waiting(), 1);
  m.shutdown();
  EXPECT_EQ(join(child), 0);
}

// Stress: a one-slot buffer guarded by one manager Condition, filled by this process and
// emptied by 3 consumer processes started before the Condition existed. The producer waits
// for the slot to empty (with a generous timeout) before each put, so a lost wake-up — a
// notify() that woke nobody while a consumer slept with an item there — fails the test
// instead of hiding. Every item is taken exactly once (the sum checks it).
TEST_F(ManagerSync, ConditionOneSlotBufferStress) {
  constexpr int kConsumers = 3, kItems = 3000;
  struct Slot {
    int full;  // 0 / 1
    int item;
    int done;
  };
  mptest::Pipe pipes[kConsumers];
  pid_t children[kConsumers];
  for (int i = 0; i < kConsumers; ++i) {
    children[i] = spawn([&] {
      mptest::Pipe& p = pipes[i];
      p.close_write();
      auto c = recv_handle<mp::ConditionProxy>(p.r);
      auto slot = recv_handle<mp::ValueProxy<Slot>>(p.r);
      auto sum = recv_handle<mp::ValueProxy<long>>(p.r);
      long mine = 0;
      std::lock_guard g(c);
      for (;;) {
        Slot& s = slot.value();
        if (!c.wait_for([&] { return s.full != 0 || s.done != 0; }, 60s)) return 1;
        if (s.full == 0) break;  // done and drained
        mine += s.item;
        s.full = 0;
        c.notify_all();  // the producer waits for the slot to empty
      }
      std::lock_guard g2(sum.get_lock());
      sum.value() += mine;
      return 0;
    });
  }
  for (auto& p : pipes) p.close_read();
  mp::Manager m;
  auto c = m.Condition();
  auto slot = m.Value<Slot>(Slot{0, 0, 0});
  auto sum = m.Value<long>(0);
  for (auto& p : pipes) {
    send_bytes(p.w, tandem::serialize(c));
    send_bytes(p.w, tandem::serialize(slot));
    send_bytes(p.w, tandem::serialize(sum));
  }
  {
    std::lock_guard g(c);
    Slot& s = slot.value();
    for (int i = 1; i <= kItems; ++i) {
      ASSERT_TRUE(c.wait_for([&] { return s.full == 0; }, 30s)) << "lost wake-up at item " << i;
      s.item = i;
      s.full = 1;
      c.notify();  // exactly one consumer
    }
    ASSERT_TRUE(c.wait_for([&] { return s.full == 0; }, 30s));
    s.done = 1;
    c.notify_all();
  }
  for (pid_t child : children) EXPECT_EQ(join(child), 0);
  EXPECT_EQ(sum.get(), static_cast<long>(kItems) * (kItems + 1) / 2);
}
