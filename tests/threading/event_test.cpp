// SPDX-License-Identifier: MIT
// tandem::Event — ports of CPython Lib/test/lock_tests.py (EventTests) plus stress.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <pthread.h>
#include <random>
#include <latch>
#include <thread>
#include <vector>

#include "tandem/threading/event.hpp"

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace tandem::detail {
struct SyncTestPeer {
  static std::uint32_t waiters(const Event& e) { return e.waiters_.load(); }
  static bool spinning_off(const Event& e) { return e.spin_.spinning_off(); }
};
}  // namespace tandem::detail

namespace {

// Runs f in n threads and joins them (lock_tests.Bunch + wait_for_finished).
template <class F>
void run_threads(int n, F f) {
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i) ts.emplace_back([&f, i] { f(i); });
  for (auto& t : ts) t.join();
}

}  // namespace

// lock_tests.EventTests.test_is_set
TEST(Event, IsSet) {
  tandem::Event evt;
  EXPECT_FALSE(evt.is_set());
  evt.set();
  EXPECT_TRUE(evt.is_set());
  evt.set();
  EXPECT_TRUE(evt.is_set());
  evt.clear();
  EXPECT_FALSE(evt.is_set());
  evt.clear();
  EXPECT_FALSE(evt.is_set());
}

// lock_tests.EventTests._check_notify: all threads get notified.
static void check_notify(tandem::Event& evt) {
  constexpr int N = 5;
  std::atomic<int> results1{0}, results2{0};
  std::latch started(N);
  std::vector<std::thread> ts;
  for (int i = 0; i < N; ++i)
    ts.emplace_back([&] {
      started.count_down();
      if (evt.wait()) ++results1;
      if (evt.wait()) ++results2;
    });
  started.wait();
  EXPECT_EQ(results1.load(), 0);  // nobody returns before set()
  evt.set();
  for (auto& t : ts) t.join();
  EXPECT_EQ(results1.load(), N);
  EXPECT_EQ(results2.load(), N);
}

// lock_tests.EventTests.test_notify
TEST(Event, Notify) {
  tandem::Event evt;
  check_notify(evt);
  // Another time, after an explicit clear()
  evt.set();
  evt.clear();
  check_notify(evt);
}

// lock_tests.EventTests.test_timeout
TEST(Event, Timeout) {
  tandem::Event evt;
  constexpr int N = 5;
  std::atomic<int> false0{0}, false_timed{0}, true0{0}, true_timed{0};
  run_threads(N, [&](int) {
    if (!evt.wait(0s)) ++false0;
    auto t0 = steady::now();
    bool r = evt.wait(100ms);
    if (!r && steady::now() - t0 >= 100ms) ++false_timed;
  });
  EXPECT_EQ(false0.load(), N);
  EXPECT_EQ(false_timed.load(), N);
  evt.set();
  run_threads(N, [&](int) {
    if (evt.wait(0s)) ++true0;
    if (evt.wait(500ms)) ++true_timed;
  });
  EXPECT_EQ(true0.load(), N);
  EXPECT_EQ(true_timed.load(), N);
}

// Python clamps a negative timeout to 0.
TEST(Event, NegativeTimeoutIsZero) {
  tandem::Event evt;
  EXPECT_FALSE(evt.wait(-1s));
  evt.set();
  EXPECT_TRUE(evt.wait(-1s));
}

// lock_tests.EventTests.test_set_and_clear (issue #13502, gh-57711): wait() returns true
// even when the event is cleared before the waiting thread is woken up. Deterministic
// version: instead of sleeping 0.5 s, set()+clear() run once every waiter has announced
// itself as sleeping (it took its snapshot of the state before that).
TEST(Event, SetAndClear) {
  constexpr int N = 5;
  for (int round = 0; round < 50; ++round) {
    tandem::Event evt;
    std::atomic<int> trues{0};
    std::latch started(N);
    std::vector<std::thread> ts;
    for (int i = 0; i < N; ++i)
      ts.emplace_back([&] {
        started.count_down();
        if (evt.wait(30s)) ++trues;
      });
    started.wait();
    while (tandem::detail::SyncTestPeer::waiters(evt) != N) std::this_thread::yield();
    evt.set();
    evt.clear();
    for (auto& t : ts) t.join();
    EXPECT_EQ(trues.load(), N);
    EXPECT_FALSE(evt.is_set());
  }
}

// lock_tests.EventTests.test_reset_internal_locks has no direct equivalent (no internal
// lock to replace); what it protects is that an Event keeps working from a clean state
// after heavy use. Here: an Event constructed in place over a used one behaves as new.
TEST(Event, ReconstructedIsFresh) {
  alignas(tandem::Event) unsigned char buf[sizeof(tandem::Event)];
  auto* evt = new (buf) tandem::Event;
  evt->set();
  EXPECT_TRUE(evt->wait(0s));
  evt->~Event();
  evt = new (buf) tandem::Event(tandem::detail::Scope::shared);
  EXPECT_FALSE(evt->is_set());
  EXPECT_FALSE(evt->wait(1ms));
  std::thread t([&] { evt->set(); });
  EXPECT_TRUE(evt->wait());
  t.join();
  evt->~Event();
}

// What set() publishes is visible after wait() returns true.
TEST(Event, PublishesWrites) {
  for (int round = 0; round < 200; ++round) {
    tandem::Event evt;
    int payload = 0;
    std::thread t([&] {
      payload = round + 1;
      evt.set();
    });
    EXPECT_TRUE(evt.wait());
    EXPECT_EQ(payload, round + 1);
    t.join();
  }
}

// Ping-pong: the benchmarked pattern, as a correctness test.
TEST(Event, PingPong) {
  tandem::Event ping, pong;
  constexpr int kRounds = 20000;
  std::thread t([&] {
    for (int i = 0; i < kRounds; ++i) {
      ping.wait();
      ping.clear();
      pong.set();
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    ping.set();
    pong.wait();
    pong.clear();
  }
  t.join();
  EXPECT_FALSE(ping.is_set());
  EXPECT_FALSE(pong.is_set());
}

// Stress: set/clear storms against many timed and untimed waiters; nobody hangs, the
// final set() releases everyone, and waiters do get woken by the storm.
TEST(EventStress, SetClearStorm) {
  tandem::Event evt;
  std::atomic<bool> stop{false};
  constexpr int kWaiters = 6;
  std::atomic<long> woke{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kWaiters; ++i)
    ts.emplace_back([&, i] {
      while (!stop.load()) {
        bool r = (i % 2) ? evt.wait(1ms) : evt.wait(30s);
        if (r) ++woke;
      }
    });
  std::thread storm([&] {
    for (int i = 0; i < 20000; ++i) {
      evt.set();
      evt.clear();
    }
  });
  storm.join();
  stop = true;
  evt.set();
  for (auto& t : ts) t.join();
  EXPECT_GT(woke.load(), 0);
}

// Stress: no spurious wake-up — clear() storms never make a waiter return true.
TEST(EventStress, ClearStormNoSpuriousWakeup) {
  tandem::Event evt;
  std::atomic<bool> stop{false};
  std::atomic<int> spurious{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      for (int k = 0; k < 200; ++k)
        if (evt.wait(100us)) ++spurious;
    });
  std::thread storm([&] {
    while (!stop.load()) evt.clear();
  });
  for (auto& t : ts) t.join();
  stop = true;
  storm.join();
  EXPECT_EQ(spurious.load(), 0);
}

// --- The adaptive spin (detail::SpinHistory) -------------------------------------------

// Spins that keep missing switch the spin off; a probe that finds the condition true
// switches it on again.
TEST(SpinHistory, MissesSwitchOffAndProbeSwitchesOn) {
  tandem::detail::SpinHistory h;
  const auto never = tandem::detail::Deadline::never();
  int checks = 0;
  for (std::uint32_t i = 0; i < tandem::detail::SpinHistory::kMaxMisses; ++i) {
    EXPECT_FALSE(h.spin([&] { ++checks; return false; }, never));
  }
  EXPECT_GT(checks, 0);
  EXPECT_TRUE(h.spinning_off());
  // Off: most waits do not look at the condition at all; one in kProbeEvery does.
  int probes = 0;
  bool succeeded = false;
  for (std::uint32_t i = 0; i < tandem::detail::SpinHistory::kProbeEvery && !succeeded; ++i)
    succeeded = h.spin([&] { ++probes; return true; }, never);
  EXPECT_TRUE(succeeded);
  EXPECT_EQ(probes, 1);
  EXPECT_FALSE(h.spinning_off());
}

// The spin never outlasts the wait's deadline, and a miss does not stop it from running
// again on time.
TEST(SpinHistory, StopsAtDeadline) {
  tandem::detail::SpinHistory h;
  auto dl = tandem::detail::Deadline::after(std::chrono::microseconds(1));
  EXPECT_FALSE(h.spin([] { return false; }, dl));
  EXPECT_TRUE(dl.expired());
  EXPECT_TRUE(h.spin([] { return true; }, tandem::detail::Deadline::never()));
}

// A waiter whose spins all miss sleeps instead; it must still be woken by set(), however
// the spin history looks (here: switched off by a series of timed-out waits).
TEST(Event, WakesWithSpinSwitchedOff) {
  tandem::Event evt;
  for (int i = 0; i < 8; ++i) EXPECT_FALSE(evt.wait(200us));
  EXPECT_TRUE(tandem::detail::SyncTestPeer::spinning_off(evt));
  for (int round = 0; round < 50; ++round) {
    std::atomic<bool> done{false};
    std::thread t([&] {
      EXPECT_TRUE(evt.wait(30s));
      done = true;
    });
    while (tandem::detail::SyncTestPeer::waiters(evt) == 0 && !done.load()) std::this_thread::yield();
    evt.set();
    t.join();
    evt.clear();
  }
}

static double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// An idle waiter uses no CPU: the spin is bounded, then it sleeps. 300 ms of waiting may
// cost a few microseconds of spinning, nowhere near 100 ms of CPU.
TEST(Event, IdleWaiterDoesNotSpin) {
  tandem::Event evt;
  double cpu = 0;
  std::thread t([&] {
    double c0 = thread_cpu_seconds();
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(evt.wait(100ms));
    cpu = thread_cpu_seconds() - c0;
  });
  t.join();
  EXPECT_LT(cpu, 0.1);
}

// Stress: ping-pongs whose partners alternate between answering at once (spins succeed)
// and dawdling (spins miss, waits sleep, the history switches the spin off and probes),
// with timed and untimed waits mixed: every round trip completes, none is lost.
TEST(EventStress, PingPongWithChangingPace) {
  constexpr int kPairs = 3, kRounds = 3000;
  std::vector<std::thread> ts;
  std::atomic<int> timeouts{0};
  for (int p = 0; p < kPairs; ++p) {
    ts.emplace_back([&, p] {
      tandem::Event ping, pong;
      std::thread b([&] {
        std::minstd_rand rng(static_cast<unsigned>(p));
        for (int i = 0; i < kRounds; ++i) {
          while (!ping.wait(5ms)) ++timeouts;  // a timed wait that may time out, then retry
          ping.clear();
          if ((i / 100) % 2) {  // a dawdling phase: long enough that the spin misses
            for (int k = 0, n = static_cast<int>(rng() % 3); k < n; ++k) std::this_thread::yield();
            auto until = steady::now() + std::chrono::microseconds(rng() % 50);
            while (steady::now() < until) {
            }
          }
          pong.set();
        }
      });
      for (int i = 0; i < kRounds; ++i) {
        ping.set();
        EXPECT_TRUE(pong.wait());
        pong.clear();
      }
      b.join();
      EXPECT_FALSE(ping.is_set());
      EXPECT_FALSE(pong.is_set());
    });
  }
  for (auto& t : ts) t.join();
  SUCCEED() << timeouts.load() << " timed waits expired and were retried";
}

// Stress: many waiters with random timeouts on one Event whose spin history is hammered
// from all sides; every waiter alive at a set() returns true, none hangs.
TEST(EventStress, ManyWaitersRandomTimeouts) {
  tandem::Event evt;
  constexpr int kWaiters = 8, kSets = 2000;
  std::atomic<bool> stop{false};
  std::atomic<long> trues{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kWaiters; ++i)
    ts.emplace_back([&, i] {
      std::minstd_rand rng(static_cast<unsigned>(i) + 7);
      while (!stop.load()) {
        bool r = (rng() % 3 == 0) ? evt.wait() : evt.wait(std::chrono::microseconds(rng() % 200));
        if (r) ++trues;
      }
      // A waiter may start only after the set/clear loop (a loaded machine), or see `stop`
      // right after a timed wait expired: the last set() stays, so this wait must see it.
      if (evt.wait()) ++trues;
    });
  for (int k = 0; k < kSets; ++k) {
    evt.set();
    evt.clear();
    if (k % 64 == 0) std::this_thread::yield();
  }
  stop = true;
  evt.set();  // releases the untimed waiters for good
  for (auto& t : ts) t.join();
  EXPECT_GE(trues.load(), kWaiters);
}
