// SPDX-License-Identifier: MIT
// The waiting layer: futex_wait/futex_wake with deadlines, and EventCount.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tandem/detail/eventcount.hpp"
#include "tandem/detail/wait.hpp"

using namespace std::chrono_literals;
using tandem::detail::Deadline;
using tandem::detail::EventCount;

TEST(Futex, WaitReturnsAtOnceWhenValueDiffers) {
  std::atomic<std::uint32_t> w{1};
  EXPECT_TRUE(tandem::detail::futex_wait(w, 0, Deadline::after(10s)));
}

TEST(Futex, WaitTimesOutOnTheSteadyClock) {
  std::atomic<std::uint32_t> w{0};
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(tandem::detail::futex_wait(w, 0, Deadline::after(20ms)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
}

TEST(Futex, ExpiredDeadlineDoesNotSleep) {
  std::atomic<std::uint32_t> w{0};
  EXPECT_FALSE(tandem::detail::futex_wait(w, 0, Deadline::after(tandem::duration(-1))));
}

TEST(Futex, HugeTimeoutIsForever) {
  EXPECT_TRUE(Deadline::after(std::chrono::hours::max()).is_never());
  EXPECT_TRUE(Deadline::after(tandem::duration(1e300)).is_never());
}

TEST(Futex, WakeReleasesASleeper) {
  std::atomic<std::uint32_t> w{0};
  std::thread t([&] {
    while (w.load() == 0) tandem::detail::futex_wait(w, 0);
  });
  w.store(1);
  tandem::detail::futex_wake_all(w);
  t.join();
  SUCCEED();
}

TEST(EventCount, NoLostWakeupsUnderStress) {
  // A producer flips a counter; consumers wait for each value through the event count.
  EventCount ec;
  std::atomic<int> value{0};
  constexpr int kRounds = 20000;
  std::vector<std::thread> waiters;
  for (int t = 0; t < 3; ++t)
    waiters.emplace_back([&] {
      for (int i = 1; i <= kRounds; i += 97)
        tandem::detail::await(ec, [&] { return value.load() >= i; });
    });
  for (int i = 1; i <= kRounds; ++i) {
    value.store(i);
    ec.notify_all();
  }
  for (auto& t : waiters) t.join();
  SUCCEED();
}

TEST(EventCount, AwaitHonoursTheDeadline) {
  EventCount ec;
  EXPECT_FALSE(tandem::detail::await(ec, [] { return false; }, Deadline::after(10ms)));
  EXPECT_FALSE(ec.has_waiters());
}
