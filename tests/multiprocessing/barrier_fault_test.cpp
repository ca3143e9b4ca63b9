// SPDX-License-Identifier: MIT
// tandem::mp::Barrier under SIGKILL (barrier.hpp, "Crash safety"): a process killed inside
// wait() — asleep waiting for the others, or in the middle of the barrier's action with the
// state's mutex held — breaks the barrier for the others (BrokenBarrierError), who wait with
// no timeout and so would hang otherwise; reset() then makes it usable again.
//
// Children never use gtest macros; they report through exit codes. Every child arms
// alarm(60) (fork_helper.hpp), so a hang is a failure, not a stuck suite.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "support/fork_helper.hpp"
#include "tandem/multiprocessing/barrier.hpp"
#include "tandem/multiprocessing/semaphore.hpp"
#include "tandem/threading/thread.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;

namespace {

constexpr int kBroken = 0, kReturned = 1;

/// A child that waits on the barrier without a timeout: exit 0 on BrokenBarrierError.
mptest::Child waiter(mp::Barrier& b, mp::Semaphore& entering) {
  return mptest::fork_child([&] {
    entering.release();
    try {
      b.wait();
      return kReturned;
    } catch (const tandem::BrokenBarrierError&) {
      return kBroken;
    }
  });
}

/// Until `n` parties are inside wait() (they announced themselves just before entering).
void await_waiting(mp::Barrier& b, mp::Semaphore& entering, int n) {
  for (int i = 0; i < n; ++i) ASSERT_TRUE(entering.acquire(60s));
  const auto limit = std::chrono::steady_clock::now() + 60s;
  while (b.n_waiting() < n && std::chrono::steady_clock::now() < limit) ::sched_yield();
  ASSERT_EQ(b.n_waiting(), n);
}

/// The barrier works again: `parties` processes (this one included) complete a cycle.
void expect_usable(mp::Barrier& b, int parties) {
  std::vector<mptest::Child> others;
  for (int i = 1; i < parties; ++i)
    others.push_back(mptest::fork_child([&] { return b.wait(60s) >= 0 ? 0 : 1; }));
  EXPECT_GE(b.wait(60s), 0);
  for (auto& c : others) EXPECT_EQ(c.join(), 0);
}

}  // namespace

// Three parties: two wait, one of them is SIGKILLed; the survivor, waiting with no timeout,
// gets BrokenBarrierError (it would hang forever if the dead one counted as arrived).
TEST(MpBarrierFault, KilledWaiterBreaksTheBarrierForTheOthers) {
  mp::Barrier b(3);
  mp::Semaphore entering(0);
  auto survivor = waiter(b, entering);
  auto victim = waiter(b, entering);
  await_waiting(b, entering, 2);
  victim.kill(SIGKILL);
  EXPECT_EQ(victim.join(), -SIGKILL);
  EXPECT_EQ(survivor.join(), kBroken);
  EXPECT_TRUE(b.broken());
  EXPECT_THROW(b.wait(1s), tandem::BrokenBarrierError);
  b.reset();
  EXPECT_EQ(b.n_waiting(), 0);
  expect_usable(b, 3);
}

// The last arrival finds that a party died waiting: it does not trip a cycle counting the
// dead one, it breaks the barrier (at once: it does not wait).
TEST(MpBarrierFault, LastArrivalAfterAKilledWaiterGetsBroken) {
  mp::Barrier b(2);
  mp::Semaphore entering(0);
  auto victim = waiter(b, entering);
  await_waiting(b, entering, 1);
  victim.kill(SIGKILL);
  EXPECT_EQ(victim.join(), -SIGKILL);
  EXPECT_THROW(b.wait(), tandem::BrokenBarrierError);
  b.reset();
  expect_usable(b, 2);
}

// The last arrival is SIGKILLed while running the action, i.e. holding the state's mutex;
// this process, already waiting with no timeout, gets BrokenBarrierError.
TEST(MpBarrierFault, KilledInTheActionBreaksTheBarrier) {
  mp::Semaphore in_action(0), entering(0);
  mp::Barrier b(2, [&] {
    in_action.release();
    for (;;) ::pause();  // killed here
  });
  auto last = mptest::fork_child([&] {
    const auto limit = std::chrono::steady_clock::now() + 60s;
    while (b.n_waiting() < 1 && std::chrono::steady_clock::now() < limit) ::sched_yield();
    b.wait();
    return kReturned;  // never: the action does not return
  });
  tandem::Thread killer([&] {
    if (in_action.acquire(60s)) last.kill(SIGKILL);
  });
  killer.start();
  EXPECT_THROW(b.wait(), tandem::BrokenBarrierError);
  killer.join();
  EXPECT_EQ(last.join(), -SIGKILL);
  b.reset();  // counts the dead one out: filling again, nobody waiting
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0);
}
