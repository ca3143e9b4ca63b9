// SPDX-License-Identifier: MIT
// tandem::Lock — ports of CPython Lib/test/lock_tests.py (BaseLockTests, LockTests).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "tandem/threading/lock.hpp"

using namespace std::chrono_literals;

// lock_tests.BaseLockTests.test_acquire_destroy / test_acquire_release
TEST(Lock, AcquireRelease) {
  tandem::Lock lock;
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
}

// lock_tests.BaseLockTests.test_try_acquire
TEST(Lock, TryAcquire) {
  tandem::Lock lock;
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_FALSE(lock.acquire(false));
  lock.release();
}

// lock_tests.BaseLockTests.test_try_acquire_contended
TEST(Lock, TryAcquireContended) {
  tandem::Lock lock;
  lock.acquire();
  bool got = true;
  std::thread([&] { got = lock.acquire(false); }).join();
  EXPECT_FALSE(got);
  lock.release();
}

// lock_tests.BaseLockTests.test_timeout
TEST(Lock, TimeoutArguments) {
  tandem::Lock lock;
  EXPECT_THROW(lock.acquire(tandem::duration(-0.5)), tandem::ValueError);
  EXPECT_TRUE(lock.acquire(0s));
  lock.release();
  EXPECT_TRUE(lock.acquire(tandem::duration(1e100)));  // beyond any real wait: forever
  EXPECT_FALSE(lock.acquire(0s));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(lock.acquire(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  lock.release();
}

// lock_tests.LockTests.test_reacquire (a second acquire by the holder blocks)
TEST(Lock, NotReentrant) {
  tandem::Lock lock;
  lock.acquire();
  EXPECT_FALSE(lock.acquire(10ms));
  lock.release();
}

// lock_tests.LockTests.test_different_thread: any thread may release
TEST(Lock, ReleaseFromAnotherThread) {
  tandem::Lock lock;
  lock.acquire();
  std::thread([&] { lock.release(); }).join();
  EXPECT_FALSE(lock.locked());
}

// lock_tests.LockTests.test_state_after_timeout
TEST(Lock, StateAfterTimeout) {
  tandem::Lock lock;
  lock.acquire();
  std::thread([&] { EXPECT_FALSE(lock.acquire(10ms)); }).join();
  lock.release();
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(Lock, ReleaseUnlockedRaises) {
  tandem::Lock lock;
  try {
    lock.release();
    FAIL();
  } catch (const tandem::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "release unlocked lock");
  }
}

// std Lockable / TimedLockable
TEST(Lock, StandardLockable) {
  tandem::Lock lock;
  {
    std::lock_guard g(lock);
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
  std::unique_lock u(lock, std::defer_lock);
  EXPECT_TRUE(u.try_lock_for(1ms));
  EXPECT_FALSE(lock.try_lock_until(std::chrono::steady_clock::now() + 1ms));
}

// lock_tests.BaseLockTests.test_thread_leak / stress: many threads, many increments.
TEST(LockStress, MutualExclusion) {
  tandem::Lock lock;
  long counter = 0;
  constexpr int kThreads = 8, kIters = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        if ((i + t) % 7 == 0) {
          while (!lock.acquire(1ms)) {
          }
        } else {
          lock.acquire();
        }
        ++counter;
        lock.release();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, long{kThreads} * kIters);
}
