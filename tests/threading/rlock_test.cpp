// SPDX-License-Identifier: MIT
// tandem::RLock — ports of CPython Lib/test/lock_tests.py (BaseLockTests, RLockTests).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "tandem/threading/event.hpp"
#include "tandem/threading/rlock.hpp"

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// lock_tests.BaseLockTests.test_acquire_destroy / test_acquire_release
TEST(RLock, AcquireRelease) {
  tandem::RLock lock;
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
}

// lock_tests.BaseLockTests.test_try_acquire (reentrant: the owner succeeds again)
TEST(RLock, TryAcquire) {
  tandem::RLock lock;
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
  lock.release();
  EXPECT_FALSE(lock.locked());
}

// lock_tests.BaseLockTests.test_try_acquire_contended
TEST(RLock, TryAcquireContended) {
  tandem::RLock lock;
  lock.acquire();
  bool got = true;
  std::thread([&] { got = lock.acquire(false); }).join();
  EXPECT_FALSE(got);
  lock.release();
}

// lock_tests.BaseLockTests.test_acquire_contended
TEST(RLock, AcquireContended) {
  tandem::RLock lock;
  lock.acquire();
  constexpr int N = 5;
  std::atomic<int> done{0};
  std::latch started(N);
  std::vector<std::thread> ts;
  for (int i = 0; i < N; ++i)
    ts.emplace_back([&] {
      started.count_down();
      lock.acquire();
      ++done;
      lock.release();
    });
  started.wait();
  EXPECT_EQ(done.load(), 0);
  lock.release();
  for (auto& t : ts) t.join();
  EXPECT_EQ(done.load(), N);
}

// lock_tests.BaseLockTests.test_with
TEST(RLock, With) {
  tandem::RLock lock;
  try {
    std::lock_guard g(lock);
    EXPECT_TRUE(lock.locked());
    throw std::logic_error("boom");
  } catch (const std::logic_error&) {
  }
  EXPECT_FALSE(lock.locked());
  bool got = false;
  std::thread([&] {
    got = lock.acquire(false);
    if (got) lock.release();
  }).join();
  EXPECT_TRUE(got);
}

// lock_tests.BaseLockTests.test_timeout
TEST(RLock, Timeout) {
  tandem::RLock lock;
  EXPECT_THROW(lock.acquire(tandem::duration(-0.5)), tandem::ValueError);
  try {
    lock.acquire(-1s);
  } catch (const tandem::ValueError& e) {
    EXPECT_STREQ(e.what(), "timeout value must be a non-negative number");
  }
  EXPECT_TRUE(lock.acquire(0s));
  lock.release();
  EXPECT_TRUE(lock.acquire(tandem::duration(1e100)));  // beyond any real wait: forever
  lock.release();
  lock.acquire();
  std::thread([&] {
    EXPECT_FALSE(lock.acquire(0s));
    auto t0 = steady::now();
    EXPECT_FALSE(lock.acquire(50ms));
    EXPECT_GE(steady::now() - t0, 50ms);
  }).join();
  lock.release();
}

// lock_tests.RLockTests.test_reacquire
TEST(RLock, Reacquire) {
  tandem::RLock lock;
  lock.acquire();
  lock.acquire();
  lock.release();
  lock.acquire();
  lock.release();
  lock.release();
  EXPECT_FALSE(lock.locked());
}

static void expect_unacquired(const std::function<void()>& f) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const tandem::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot release un-acquired lock");
  }
}

// lock_tests.RLockTests.test_release_unacquired
TEST(RLock, ReleaseUnacquired) {
  tandem::RLock lock;
  expect_unacquired([&] { lock.release(); });
  lock.acquire();
  lock.acquire();
  lock.release();
  lock.acquire();
  lock.release();
  lock.release();
  expect_unacquired([&] { lock.release(); });
}

// lock_tests.RLockTests.test_release_save_unacquired
TEST(RLock, ReleaseSaveUnacquired) {
  tandem::RLock lock;
  expect_unacquired([&] { lock.release_save(); });
  lock.acquire();
  lock.acquire();
  lock.release();
  lock.acquire();
  lock.release();
  lock.release();
  expect_unacquired([&] { lock.release_save(); });
}

// lock_tests.RLockTests.test_different_thread: cannot release from a different thread
TEST(RLock, DifferentThread) {
  tandem::RLock lock;
  tandem::Event acquired, finish;
  std::thread t([&] {
    lock.acquire();
    acquired.set();
    finish.wait();
    lock.release();
  });
  acquired.wait();
  expect_unacquired([&] { lock.release(); });
  EXPECT_TRUE(lock.locked());
  finish.set();
  t.join();
  EXPECT_FALSE(lock.locked());
}

// lock_tests.RLockTests.test__is_owned (+ _recursion_count, 3.12)
TEST(RLock, IsOwned) {
  tandem::RLock lock;
  EXPECT_FALSE(lock.is_owned());
  lock.acquire();
  EXPECT_TRUE(lock.is_owned());
  lock.acquire();
  EXPECT_TRUE(lock.is_owned());
  EXPECT_EQ(lock.recursion_count(), 2u);
  bool other = true;
  std::uint32_t other_count = 7;
  std::thread([&] {
    other = lock.is_owned();
    other_count = lock.recursion_count();
  }).join();
  EXPECT_FALSE(other);
  EXPECT_EQ(other_count, 0u);
  lock.release();
  EXPECT_TRUE(lock.is_owned());
  lock.release();
  EXPECT_FALSE(lock.is_owned());
}

// _release_save / _acquire_restore: full release at any depth, restored afterwards.
TEST(RLock, ReleaseSaveRestore) {
  tandem::RLock lock;
  lock.acquire();
  lock.acquire();
  lock.acquire();
  auto saved = lock.release_save();
  EXPECT_FALSE(lock.locked());
  EXPECT_FALSE(lock.is_owned());
  bool got = false;
  std::thread([&] {
    got = lock.acquire(false);
    if (got) lock.release();
  }).join();
  EXPECT_TRUE(got);
  lock.acquire_restore(saved);
  EXPECT_EQ(lock.recursion_count(), 3u);
  lock.release();
  lock.release();
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(RLock, StandardLockable) {
  tandem::RLock lock;
  {
    std::scoped_lock g(lock);
    std::unique_lock u(lock, std::defer_lock);
    EXPECT_TRUE(u.try_lock_for(1ms));  // reentrant
    EXPECT_EQ(lock.recursion_count(), 2u);
  }
  EXPECT_FALSE(lock.locked());
  lock.lock();
  std::thread([&] {
    EXPECT_FALSE(lock.try_lock());
    EXPECT_FALSE(lock.try_lock_for(1ms));
    EXPECT_FALSE(lock.try_lock_until(steady::now() + 1ms));
  }).join();
  lock.unlock();
}

// lock_tests.BaseLockTests.test_thread_leak-like stress: mutual exclusion with recursion
// and timed acquires mixed in.
TEST(RLockStress, MutualExclusion) {
  tandem::RLock lock;
  long counter = 0;
  constexpr int kThreads = 6, kIters = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        if ((i + t) % 5 == 0) {
          while (!lock.acquire(100us)) {
          }
        } else {
          lock.acquire();
        }
        lock.acquire();  // recursive
        ++counter;
        lock.release();
        ++counter;
        lock.release();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, 2L * kThreads * kIters);
  EXPECT_FALSE(lock.locked());
}
