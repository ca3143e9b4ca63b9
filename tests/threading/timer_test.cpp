// SPDX-License-Identifier: MIT
// tandem::Timer — ports of CPython Lib/test/test_threading.py TimerTests, plus cancel cases.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "tandem/threading/lock.hpp"
#include "tandem/threading/timer.hpp"

using namespace std::chrono_literals;

// test_threading.TimerTests.test_init_immutable_default_args: two Timers share nothing —
// each calls its own copy of the function, once.
TEST(Timer, InitImmutableDefaultArgs) {
  tandem::Lock mutex;
  std::vector<std::string> calls;
  std::atomic<int> fired{0};
  auto spy = [&](std::string tag) {
    return [&, tag]() mutable {
      {
        std::lock_guard g(mutex);
        calls.push_back(tag);
      }
      tag += " mutated";  // mutating one timer's copy must not leak into the other
      ++fired;
      fired.notify_all();
    };
  };
  auto fn = spy("call");
  tandem::Timer timer1(10ms, fn);
  timer1.start();
  fired.wait(0);
  tandem::Timer timer2(10ms, fn);
  timer2.start();
  fired.wait(1);
  timer1.join();
  timer2.join();
  EXPECT_EQ(calls, (std::vector<std::string>{"call", "call"}));
}

TEST(Timer, FiresAfterInterval) {
  std::atomic<bool> fired{false};
  auto t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point when;
  tandem::Timer t(50ms, [&] {
    when = std::chrono::steady_clock::now();
    fired = true;
  });
  t.start();
  t.join();
  EXPECT_TRUE(fired.load());
  EXPECT_GE(when - t0, 50ms);
  EXPECT_EQ(t.name().rfind("Thread-", 0), 0u) << t.name();
}

TEST(Timer, CancelBeforeStart) {
  std::atomic<bool> fired{false};
  tandem::Timer t(0s, [&] { fired = true; });
  t.cancel();
  t.start();
  t.join();
  EXPECT_FALSE(fired.load());
}

TEST(Timer, CancelWhileWaiting) {
  std::atomic<bool> fired{false};
  tandem::Timer t(3600s, [&] { fired = true; });
  t.start();
  t.cancel();
  EXPECT_TRUE(t.join(30s));  // woken at once, not after an hour
  EXPECT_FALSE(fired.load());
  t.cancel();  // idempotent
}

TEST(Timer, CancelAfterFiredDoesNothing) {
  std::atomic<int> fired{0};
  tandem::Timer t(0s, [&] { ++fired; });
  t.start();
  t.join();
  t.cancel();
  EXPECT_EQ(fired.load(), 1);
}

TEST(Timer, NegativeIntervalFiresAtOnce) {
  std::atomic<bool> fired{false};
  tandem::Timer t(-5s, [&] { fired = true; });
  t.start();
  EXPECT_TRUE(t.join(30s));
  EXPECT_TRUE(fired.load());
}

// request_stop() counts as cancel(); so does destroying a pending non-daemon Timer.
TEST(Timer, StopRequestCancels) {
  std::atomic<bool> fired{false};
  {
    tandem::Timer t(3600s, [&] { fired = true; }, {.name = "slow timer"});
    EXPECT_EQ(t.name(), "slow timer");
    t.start();
  }  // ~Thread: request_stop() + join(): returns promptly
  EXPECT_FALSE(fired.load());
}

// The function may take the Timer's stop token; a Timer is a Thread (start once, join...).
TEST(Timer, IsAThread) {
  std::atomic<bool> got_token{false};
  tandem::Timer t(1ms, [&](std::stop_token st) { got_token = !st.stop_requested(); });
  EXPECT_THROW(t.join(), tandem::RuntimeError);
  t.start();
  EXPECT_THROW(t.start(), tandem::RuntimeError);
  t.join();
  EXPECT_TRUE(got_token.load());
}

// Stress: many timers, half cancelled at random points; each fires at most once.
TEST(TimerStress, ManyTimersRandomCancel) {
  std::atomic<int> fired{0};
  for (int round = 0; round < 20; ++round) {
    std::vector<std::unique_ptr<tandem::Timer>> timers;
    for (int i = 0; i < 10; ++i) {
      timers.push_back(std::make_unique<tandem::Timer>(std::chrono::microseconds(i * 50),
                                                       [&] { ++fired; }));
      timers.back()->start();
      if (i % 2) timers.back()->cancel();
    }
    for (auto& t : timers) t->join();
  }
  EXPECT_LE(fired.load(), 20 * 10);
  EXPECT_GE(fired.load(), 20 * 5);  // the uncancelled ones always fire
}
