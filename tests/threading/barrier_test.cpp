// SPDX-License-Identifier: MIT
// tandem::Barrier — ports of CPython Lib/test/lock_tests.py (BarrierTests) plus the
// details of docs/threading.md#barrier.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tandem/threading/barrier.hpp"

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

constexpr int N = 5;

// lock_tests.BarrierTests.run_threads: f in N-1 new threads and in this one.
void run_threads(const std::function<void()>& f) {
  std::vector<std::thread> ts;
  for (int i = 0; i < N - 1; ++i) ts.emplace_back(f);
  f();
  for (auto& t : ts) t.join();
}

void poll_until(const std::function<bool()>& cond) {
  auto give_up = steady::now() + 30s;
  while (!cond()) {
    ASSERT_LT(steady::now(), give_up) << "condition never became true";
    std::this_thread::yield();
  }
}

// lock_tests.BarrierTests.setUp / tearDown: a barrier of N with a default timeout.
class BarrierTest : public ::testing::Test {
 protected:
  void TearDown() override { barrier.abort(); }
  tandem::Barrier barrier{N, {}, 30s};
};

}  // namespace

TEST(Barrier, Constructor) {
  try {
    tandem::Barrier b(0);
    FAIL();
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "parties must be > 0");
  }
  EXPECT_THROW(tandem::Barrier(-3), tandem::ValueError);
  tandem::Barrier b(3, {}, 2s);
  EXPECT_EQ(b.parties(), 3);
  EXPECT_EQ(b.n_waiting(), 0);
  EXPECT_FALSE(b.broken());
}

// lock_tests.BarrierTests.multipass
static void multipass(tandem::Barrier& barrier, std::atomic<int>& r0, std::atomic<int>& r1,
                      int passes) {
  EXPECT_EQ(barrier.parties(), N);
  for (int i = 0; i < passes; ++i) {
    ++r0;
    EXPECT_EQ(r1.load(), i * N);
    barrier.wait();
    ++r1;
    EXPECT_EQ(r0.load(), (i + 1) * N);
    barrier.wait();
  }
  EXPECT_EQ(barrier.n_waiting(), 0);
  EXPECT_FALSE(barrier.broken());
}

// lock_tests.BarrierTests.test_barrier: passed in lockstep
TEST_F(BarrierTest, Barrier) {
  std::atomic<int> r0{0}, r1{0};
  run_threads([&] { multipass(barrier, r0, r1, 1); });
}

// lock_tests.BarrierTests.test_barrier_10
TEST_F(BarrierTest, Barrier10) {
  std::atomic<int> r0{0}, r1{0};
  run_threads([&] { multipass(barrier, r0, r1, 10); });
}

// lock_tests.BarrierTests.test_wait_return
TEST_F(BarrierTest, WaitReturn) {
  std::atomic<std::int64_t> sum{0};
  run_threads([&] { sum += barrier.wait(); });
  EXPECT_EQ(sum.load(), 0 + 1 + 2 + 3 + 4);
}

// Impl-detail kept: the index is the arrival order.
TEST(Barrier, IndexIsArrivalOrder) {
  tandem::Barrier b(4);
  std::vector<std::int64_t> got(4, -1);
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) {
    ts.emplace_back([&, i] { got[i] = b.wait(); });
    poll_until([&] { return b.n_waiting() == i + 1; });
  }
  got[3] = b.wait();
  for (auto& t : ts) t.join();
  EXPECT_EQ(got, (std::vector<std::int64_t>{0, 1, 2, 3}));
}

// lock_tests.BarrierTests.test_action
TEST(Barrier, Action) {
  std::atomic<int> results{0};
  tandem::Barrier barrier(N, [&] { ++results; });
  run_threads([&] {
    barrier.wait();
    EXPECT_EQ(results.load(), 1);
  });
  run_threads([&] {
    barrier.wait();
    EXPECT_EQ(results.load(), 2);  // once per cycle
  });
}

// An action that throws breaks the barrier; the exception propagates in that thread only.
TEST(Barrier, ActionThrows) {
  tandem::Barrier barrier(N, [] { throw std::out_of_range("action"); });
  std::atomic<int> broken{0}, action_errors{0};
  run_threads([&] {
    try {
      barrier.wait();
    } catch (const tandem::BrokenBarrierError&) {
      ++broken;
    } catch (const std::out_of_range&) {
      ++action_errors;
    }
  });
  EXPECT_EQ(action_errors.load(), 1);
  EXPECT_EQ(broken.load(), N - 1);
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW(barrier.wait(), tandem::BrokenBarrierError);
}

// lock_tests.BarrierTests.test_abort
TEST_F(BarrierTest, Abort) {
  std::atomic<int> results1{0}, results2{0};
  run_threads([&] {
    try {
      auto i = barrier.wait();
      if (i == N / 2) throw std::runtime_error("RuntimeError");
      barrier.wait();
      ++results1;
    } catch (const tandem::BrokenBarrierError&) {
      ++results2;
    } catch (const std::runtime_error&) {
      barrier.abort();
    }
  });
  EXPECT_EQ(results1.load(), 0);
  EXPECT_EQ(results2.load(), N - 1);
  EXPECT_TRUE(barrier.broken());
}

// lock_tests.BarrierTests.test_reset: a reset frees the waiting threads
TEST_F(BarrierTest, Reset) {
  std::atomic<int> results1{0}, results2{0}, results3{0};
  run_threads([&] {
    auto i = barrier.wait();
    if (i == N / 2) {
      // Wait until the other threads are all in the barrier (polling, as CPython does).
      poll_until([&] { return barrier.n_waiting() >= N - 1; });
      barrier.reset();
    } else {
      try {
        barrier.wait();
        ++results1;
      } catch (const tandem::BrokenBarrierError&) {
        ++results2;
      }
    }
    // Now, pass the barrier again
    barrier.wait();
    ++results3;
  });
  EXPECT_EQ(results1.load(), 0);
  EXPECT_EQ(results2.load(), N - 1);
  EXPECT_EQ(results3.load(), N);
}

// lock_tests.BarrierTests.test_abort_and_reset
TEST_F(BarrierTest, AbortAndReset) {
  std::atomic<int> results1{0}, results2{0}, results3{0};
  tandem::Barrier barrier2(N);
  run_threads([&] {
    try {
      auto i = barrier.wait();
      if (i == N / 2) throw std::runtime_error("RuntimeError");
      barrier.wait();
      ++results1;
    } catch (const tandem::BrokenBarrierError&) {
      ++results2;
    } catch (const std::runtime_error&) {
      barrier.abort();
    }
    // Synchronize and reset the barrier. Must synchronize first so that everyone has
    // left it when we reset, and after so that no one enters it before the reset.
    if (barrier2.wait() == N / 2) barrier.reset();
    barrier2.wait();
    barrier.wait();
    ++results3;
  });
  EXPECT_EQ(results1.load(), 0);
  EXPECT_EQ(results2.load(), N - 1);
  EXPECT_EQ(results3.load(), N);
}

// lock_tests.BarrierTests.test_timeout. Instead of the late thread sleeping 1 s, it waits
// until the others' 0.1 s timeout has broken the barrier.
TEST_F(BarrierTest, Timeout) {
  run_threads([&] {
    auto i = barrier.wait();
    if (i == N / 2) poll_until([&] { return barrier.broken(); });  // one thread is late
    EXPECT_THROW(barrier.wait(100ms), tandem::BrokenBarrierError);
  });
}

// lock_tests.BarrierTests.test_default_timeout
TEST(Barrier, DefaultTimeout) {
  tandem::Barrier barrier(N, {}, 100ms);
  std::atomic<int> timed_out_late{0};
  run_threads([&] {
    // An explicit timeout for the first round: on a loaded machine the threads may take longer
    // than the 100 ms default just to start, and only the second wait tests the default.
    auto i = barrier.wait(60s);
    if (i == N / 2) poll_until([&] { return barrier.broken(); });  // later than 0.1 s
    auto t0 = steady::now();
    EXPECT_THROW(barrier.wait(), tandem::BrokenBarrierError);
    if (steady::now() - t0 >= 100ms) ++timed_out_late;
  });
  EXPECT_GE(timed_out_late.load(), 1);  // someone did wait the full default timeout
}

// lock_tests.BarrierTests.test_single_thread
TEST(Barrier, SingleThread) {
  int actions = 0;
  tandem::Barrier b(1, [&] { ++actions; });
  EXPECT_EQ(b.wait(), 0);
  EXPECT_EQ(b.wait(), 0);
  EXPECT_EQ(actions, 2);
  EXPECT_EQ(b.wait(0s), 0);  // the last arrival never times out
}

// Probed on CPython: Barrier(2).wait(timeout=0) breaks it at once; so does a negative timeout.
TEST(Barrier, ZeroTimeoutBreaksAtOnce) {
  tandem::Barrier b(2);
  EXPECT_THROW(b.wait(0s), tandem::BrokenBarrierError);
  EXPECT_TRUE(b.broken());
  b.reset();
  EXPECT_FALSE(b.broken());
  EXPECT_THROW(b.wait(-1s), tandem::BrokenBarrierError);
  EXPECT_TRUE(b.broken());
}

// abort() with no one waiting; every later wait() raises until reset().
TEST(Barrier, AbortThenResetIdle) {
  tandem::Barrier b(2);
  b.abort();
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0);
  EXPECT_THROW(b.wait(), tandem::BrokenBarrierError);
  b.reset();
  std::thread t([&] { b.wait(); });
  b.wait();
  t.join();
  EXPECT_FALSE(b.broken());
}

// A thread arriving while the previous cycle drains waits for the drain, then joins
// the next cycle (no error). Many fast cycles make draining overlaps certain to occur.
TEST(Barrier, DrainingPhase) {
  constexpr int kCycles = 2000, kParties = 3;
  tandem::Barrier b(kParties);
  std::atomic<std::int64_t> index_sum{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kParties; ++t)
    ts.emplace_back([&] {
      for (int c = 0; c < kCycles; ++c) index_sum += b.wait();
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(index_sum.load(), std::int64_t{kCycles} * (0 + 1 + 2));
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0);
}
