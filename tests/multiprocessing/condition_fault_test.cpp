// SPDX-License-Identifier: MIT
// Fault tests for mp::Condition with real signals: a waiter SIGKILLed while queued must not
// swallow a notify() meant for the live waiters (the slot records its process, notify()
// skips slots whose process is gone), and a process killed holding the Condition's lock
// never wedges the others (the RLock is robust). CPython's multiprocessing.Condition has no
// answer to either: notify() waits on a semaphore the dead waiter never releases.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "support/fork_helper.hpp"
#include "tandem/multiprocessing/condition.hpp"
#include "tandem/multiprocessing/manager.hpp"
#include "tandem/multiprocessing/value.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;

namespace {

constexpr int detail_max_waiters() { return mp::detail::ConditionState::kMaxWaiters; }

/// A child that queues itself on `c` and reports (through `queued`, while holding the lock,
/// so it is in the queue once the parent gets the lock) — exit 0 when notified.
template <class C>
mptest::Child waiter(C& c, const mptest::Pipe& queued) {
  return mptest::fork_child([&] {
    std::lock_guard g(c);
    queued.signal();
    return c.wait(60s) ? 0 : 1;
  });
}

/// Waits until a waiter is queued: it signalled with the lock held, and queued itself before
/// wait() released it, so holding the lock once afterwards is enough.
template <class C>
void until_queued(C& c, const mptest::Pipe& queued) {
  ASSERT_EQ(queued.wait(), 'x');
  std::lock_guard g(c);
}

}  // namespace

// The oldest waiter is SIGKILLed (and reaped); notify(1) must wake the live one behind it.
TEST(MpConditionFault, KilledWaiterDoesNotSwallowNotify) {
  mp::Condition c;
  mptest::Pipe queued;
  auto dead = waiter(c, queued);
  until_queued(c, queued);
  dead.kill(SIGKILL);
  EXPECT_EQ(dead.join(), -SIGKILL);
  auto live = waiter(c, queued);
  until_queued(c, queued);
  {
    std::lock_guard g(c);
    c.notify();
  }
  EXPECT_EQ(live.join(), 0) << "notify() was spent on the dead waiter's slot";
}

// Several dead waiters between live ones: notify(2) still wakes exactly the two live ones,
// and later waits reuse the freed slots.
TEST(MpConditionFault, NotifyNSkipsEveryDeadWaiter) {
  mp::Condition c;
  mptest::Pipe queued;
  std::vector<mptest::Child> live;
  for (int round = 0; round < 2; ++round) {
    for (int k = 0; k < 3; ++k) {
      auto dead = waiter(c, queued);
      until_queued(c, queued);
      dead.kill(SIGKILL);
      EXPECT_EQ(dead.join(), -SIGKILL);
    }
    live.push_back(waiter(c, queued));
    until_queued(c, queued);
  }
  {
    std::lock_guard g(c);
    c.notify(2);
  }
  for (auto& w : live) EXPECT_EQ(w.join(), 0);
  // The queue is empty again: a wait with a timeout times out (nobody is left to wake).
  std::lock_guard g(c);
  EXPECT_FALSE(c.wait(10ms));
}

// notify_all() with dead waiters queued wakes the live ones and drops the dead slots.
TEST(MpConditionFault, NotifyAllWithDeadWaiters) {
  mp::Condition c;
  mptest::Pipe queued;
  auto a = waiter(c, queued);
  until_queued(c, queued);
  auto dead = waiter(c, queued);
  until_queued(c, queued);
  auto b = waiter(c, queued);
  until_queued(c, queued);
  dead.kill(SIGKILL);
  EXPECT_EQ(dead.join(), -SIGKILL);
  {
    std::lock_guard g(c);
    c.notify_all();
  }
  EXPECT_EQ(a.join(), 0);
  EXPECT_EQ(b.join(), 0);
}

// A process SIGKILLed while holding the Condition's lock (outside wait()): the next acquirer
// gets the lock at once, and waiting/notifying keep working.
TEST(MpConditionFault, HolderKilledWithTheLock) {
  mp::Condition c;
  mptest::Pipe held;
  auto holder = mptest::fork_child([&] {
    c.acquire();
    held.signal();
    for (;;) ::pause();
    return 0;
  });
  ASSERT_EQ(held.wait(), 'x');
  holder.kill(SIGKILL);
  EXPECT_EQ(holder.join(), -SIGKILL);
  ASSERT_TRUE(c.acquire(30s));
  c.release();
  mptest::Pipe queued;
  auto w = waiter(c, queued);
  until_queued(c, queued);
  {
    std::lock_guard g(c);
    c.notify();
  }
  EXPECT_EQ(w.join(), 0);
}

// The same protection through mp::Manager's Condition (the same shared block).
TEST(MpConditionFault, ManagerConditionKilledWaiter) {
  mp::Manager m;
  auto c = m.Condition();
  mptest::Pipe queued;
  auto dead = waiter(c, queued);
  until_queued(c, queued);
  dead.kill(SIGKILL);
  EXPECT_EQ(dead.join(), -SIGKILL);
  auto live = waiter(c, queued);
  until_queued(c, queued);
  {
    std::lock_guard g(c);
    c.notify();
  }
  EXPECT_EQ(live.join(), 0);
}

// Processes SIGKILLed after notify() chose their waiters but before those re-acquired the lock
// cannot free their slots. 16 processes × 64 waiting threads leave all 1024 slots in that
// state; the next wait() must reclaim them (their processes are gone) instead of raising
// "too many waiters on an mp::Condition".
TEST(MpConditionFault, SlotsOfKilledWokenWaitersAreReclaimed) {
  constexpr int kThreads = 64;
  constexpr int kRounds = detail_max_waiters() / kThreads;
  mp::Condition c;
  for (int round = 0; round < kRounds; ++round) {
    mptest::Pipe queued;
    auto child = mptest::fork_child([&] {
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&] {
          std::lock_guard g(c);
          queued.signal();
          c.wait();  // woken by notify_all, then blocked on the lock until SIGKILL
        });
      for (auto& t : threads) t.join();
      return 1;  // never reached
    });
    for (int t = 0; t < kThreads; ++t) ASSERT_EQ(queued.wait(), 'x');
    {
      std::lock_guard g(c);  // all 64 are queued; they cannot re-acquire while we hold it
      c.notify_all();
      child.kill(SIGKILL);
      EXPECT_EQ(child.join(), -SIGKILL);
    }
  }
  std::lock_guard g(c);
  bool notified = true;
  EXPECT_NO_THROW(notified = c.wait(1ms));  // a slot was free again: a plain timeout
  EXPECT_FALSE(notified);
  // And a live waiter is still woken normally.
  mptest::Pipe queued;
  c.release();
  auto w = waiter(c, queued);
  until_queued(c, queued);
  c.acquire();
  c.notify();
  c.release();
  EXPECT_EQ(w.join(), 0);
  c.acquire();
}
