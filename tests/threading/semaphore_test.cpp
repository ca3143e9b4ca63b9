// SPDX-License-Identifier: MIT
// tandem::Semaphore / BoundedSemaphore — ports of CPython Lib/test/lock_tests.py
// (BaseSemaphoreTests, SemaphoreTests, BoundedSemaphoreTests) and test_threading.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tandem/threading/semaphore.hpp"

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace tandem::detail {
struct SyncTestPeer {
  static std::uint32_t sleepers(const Semaphore& s) { return s.waiters_.load(); }
};
}  // namespace tandem::detail

namespace {

template <class Sem>
class SemaphoreTest : public ::testing::Test {};
using SemTypes = ::testing::Types<tandem::Semaphore, tandem::BoundedSemaphore>;
TYPED_TEST_SUITE(SemaphoreTest, SemTypes);

template <class F>
void run_threads(int n, F f) {
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i) ts.emplace_back([&f, i] { f(i); });
  for (auto& t : ts) t.join();
}

void wait_until(const std::function<bool()>& cond) {
  auto give_up = steady::now() + 30s;
  while (!cond()) {
    ASSERT_LT(steady::now(), give_up) << "condition never became true";
    std::this_thread::yield();
  }
}

}  // namespace

// lock_tests.BaseSemaphoreTests.test_constructor
TYPED_TEST(SemaphoreTest, Constructor) {
  EXPECT_THROW(TypeParam(-1), tandem::ValueError);
  EXPECT_THROW(TypeParam(INT64_MIN + 1), tandem::ValueError);
  try {
    TypeParam s(-1);
    FAIL();
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "semaphore initial value must be >= 0");
  }
  EXPECT_THROW(TypeParam(std::int64_t{1} << 40), tandem::ValueError);  // C++ limit: 2^32-1
  TypeParam zero(0);
  EXPECT_EQ(zero.value(), 0);
}

// lock_tests.BaseSemaphoreTests.test_acquire / test_acquire_destroy
TYPED_TEST(SemaphoreTest, Acquire) {
  TypeParam sem(1);
  EXPECT_TRUE(sem.acquire());
  sem.release();
  TypeParam sem2(2);
  sem2.acquire();
  sem2.acquire();
  EXPECT_EQ(sem2.value(), 0);
  sem2.release();
  sem2.release();
  EXPECT_EQ(sem2.value(), 2);
  { TypeParam destroyed_while_acquired; destroyed_while_acquired.acquire(); }
}

// lock_tests.BaseSemaphoreTests.test_acquire_contended (release one at a time) and
// test_multirelease (the same with release(n)).
template <class Sem>
static void check_contended(bool multirelease) {
  Sem sem(7);
  sem.acquire();
  constexpr int N = 10;
  std::atomic<int> phase{0};
  std::mutex mu;
  std::vector<int> results;
  auto record = [&] {
    std::lock_guard g(mu);
    results.push_back(phase.load());
  };
  auto count = [&] {
    std::lock_guard g(mu);
    return results.size();
  };
  std::atomic<std::uint32_t> finished{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < N; ++i)
    ts.emplace_back([&] {
      sem.acquire();
      record();
      sem.acquire();
      record();
      ++finished;
    });
  wait_until([&] { return count() >= 6; });
  // Every thread has now finished or sleeps in an acquire: nobody got a 7th unit.
  wait_until([&] { return tandem::detail::SyncTestPeer::sleepers(sem) + finished.load() == N; });
  {
    std::lock_guard g(mu);
    EXPECT_EQ(results, std::vector<int>(6, 0));
  }
  phase = 1;
  if (multirelease) {
    sem.release(7);
  } else {
    for (int i = 0; i < 7; ++i) sem.release();
  }
  wait_until([&] { return count() >= 13; });
  phase = 2;
  if (multirelease) {
    sem.release(6);
  } else {
    for (int i = 0; i < 6; ++i) sem.release();
  }
  wait_until([&] { return count() >= 19; });
  {
    std::lock_guard g(mu);
    auto sorted = results;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int> expected(6, 0);
    expected.insert(expected.end(), 7, 1);
    expected.insert(expected.end(), 6, 2);
    EXPECT_EQ(sorted, expected);
  }
  // The semaphore is still locked
  EXPECT_FALSE(sem.acquire(false));
  // Final release, to let the last thread finish
  sem.release();
  for (auto& t : ts) t.join();
}

TYPED_TEST(SemaphoreTest, AcquireContended) { check_contended<TypeParam>(false); }
TYPED_TEST(SemaphoreTest, Multirelease) { check_contended<TypeParam>(true); }

// lock_tests.BaseSemaphoreTests.test_try_acquire
TYPED_TEST(SemaphoreTest, TryAcquire) {
  TypeParam sem(2);
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(false));
  sem.release();
  EXPECT_TRUE(sem.acquire(false));
}

// lock_tests.BaseSemaphoreTests.test_try_acquire_contended
TYPED_TEST(SemaphoreTest, TryAcquireContended) {
  TypeParam sem(4);
  sem.acquire();
  std::atomic<int> trues{0}, falses{0};
  run_threads(5, [&](int) {
    for (int k = 0; k < 2; ++k) (sem.acquire(false) ? trues : falses)++;
  });
  EXPECT_EQ(trues.load(), 3);
  EXPECT_EQ(falses.load(), 7);
}

// lock_tests.BaseSemaphoreTests.test_acquire_timeout
TYPED_TEST(SemaphoreTest, AcquireTimeout) {
  TypeParam sem(2);
  EXPECT_TRUE(sem.acquire(5ms));
  EXPECT_TRUE(sem.acquire(5ms));
  EXPECT_FALSE(sem.acquire(5ms));
  sem.release();
  EXPECT_TRUE(sem.acquire(5ms));
  auto t0 = steady::now();
  EXPECT_FALSE(sem.acquire(100ms));
  EXPECT_GE(steady::now() - t0, 100ms);
  // Python: a negative timeout counts as 0 (probed).
  EXPECT_FALSE(sem.acquire(-1s));
  sem.release();
  EXPECT_TRUE(sem.acquire(-1s));
}

// lock_tests.BaseSemaphoreTests.test_default_value: the default initial value is 1.
TYPED_TEST(SemaphoreTest, DefaultValue) {
  TypeParam sem;
  EXPECT_EQ(sem.value(), 1);
  sem.acquire();
  std::atomic<bool> finished{false};
  std::thread t([&] {
    sem.acquire();
    sem.release();
    finished = true;
  });
  // Instead of sleeping: wait until the thread sleeps in the semaphore.
  wait_until([&] { return tandem::detail::SyncTestPeer::sleepers(sem) == 1; });
  EXPECT_FALSE(finished.load());
  sem.release();
  t.join();
  EXPECT_TRUE(finished.load());
}

// lock_tests.BaseSemaphoreTests.test_with
TYPED_TEST(SemaphoreTest, With) {
  TypeParam sem(2);
  auto with = [&](bool err) {
    std::lock_guard g(sem);
    EXPECT_TRUE(sem.acquire(false));
    sem.release();
    std::lock_guard g2(sem);
    EXPECT_FALSE(sem.acquire(false));
    if (err) throw std::invalid_argument("TypeError");
  };
  with(false);
  EXPECT_TRUE(sem.acquire(false));
  sem.release();
  EXPECT_THROW(with(true), std::invalid_argument);
  EXPECT_TRUE(sem.acquire(false));
  sem.release();
}

TYPED_TEST(SemaphoreTest, ReleaseNMustBePositive) {
  TypeParam sem(1);
  sem.acquire();
  try {
    sem.release(0);
    FAIL();
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "n must be one or more");
  }
  EXPECT_THROW(sem.release(-3), tandem::ValueError);
  EXPECT_EQ(sem.value(), 0);
}

TYPED_TEST(SemaphoreTest, StdSpellings) {
  TypeParam sem(1);
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_FALSE(sem.try_acquire());
  EXPECT_FALSE(sem.try_acquire_for(1ms));
  EXPECT_FALSE(sem.try_acquire_until(steady::now() + 1ms));
  sem.release();
  EXPECT_TRUE(sem.try_acquire_for(1ms));
}

// lock_tests.SemaphoreTests.test_release_unacquired: unbounded releases are allowed and
// increment the semaphore's value.
TEST(Semaphore, ReleaseUnacquired) {
  tandem::Semaphore sem(1);
  sem.release();
  EXPECT_EQ(sem.value(), 2);
  sem.acquire();
  sem.acquire();
  sem.release();
}

TEST(Semaphore, ValueLimit) {
  tandem::Semaphore sem(UINT32_MAX);
  EXPECT_THROW(sem.release(), tandem::ValueError);
  EXPECT_EQ(sem.value(), std::int64_t{UINT32_MAX});
}

// lock_tests.BoundedSemaphoreTests.test_release_unacquired: cannot go past the initial value
TEST(BoundedSemaphore, ReleaseUnacquired) {
  tandem::BoundedSemaphore sem;
  try {
    sem.release();
    FAIL();
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "Semaphore released too many times");
  }
  sem.acquire();
  sem.release();
  EXPECT_THROW(sem.release(), tandem::ValueError);
  EXPECT_EQ(sem.value(), 1);
}

// Python probed: a release(n) that would overshoot leaves the value unchanged.
TEST(BoundedSemaphore, Multirelease) {
  tandem::BoundedSemaphore sem(5);
  EXPECT_EQ(sem.initial_value(), 5);
  for (int i = 0; i < 3; ++i) sem.acquire();
  EXPECT_THROW(sem.release(4), tandem::ValueError);
  EXPECT_EQ(sem.value(), 2);
  sem.release(3);
  EXPECT_EQ(sem.value(), 5);
  EXPECT_THROW(sem.release(), tandem::ValueError);
}

// test_threading.ThreadTests.test_BoundedSemaphore_limit: releases from other threads.
TEST(BoundedSemaphore, Limit) {
  for (int limit = 1; limit < 10; ++limit) {
    tandem::BoundedSemaphore bs(limit);
    run_threads(limit, [&](int) { bs.acquire(); });
    run_threads(limit, [&](int) { bs.release(); });
    EXPECT_THROW(bs.release(), tandem::ValueError);
  }
}

// Concurrent releases can never push a BoundedSemaphore past its bound: exactly as many
// releases succeed as units were taken.
TEST(BoundedSemaphore, ConcurrentOverRelease) {
  for (int round = 0; round < 50; ++round) {
    tandem::BoundedSemaphore bs(8);
    for (int i = 0; i < 8; ++i) bs.acquire();
    std::atomic<int> ok{0}, refused{0};
    run_threads(4, [&](int) {
      for (int k = 0; k < 4; ++k) {
        try {
          bs.release();
          ++ok;
        } catch (const tandem::ValueError&) {
          ++refused;
        }
      }
    });
    EXPECT_EQ(ok.load(), 8);
    EXPECT_EQ(refused.load(), 8);
    EXPECT_EQ(bs.value(), 8);
  }
}
