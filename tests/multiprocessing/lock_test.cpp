// SPDX-License-Identifier: MIT
// tandem::mp::Lock / mp::RLock — ports of CPython Lib/test/_test_multiprocessing.py
// (_TestLock) and lock_tests.py cases that make sense across processes. Children are real
// fork()ed processes.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "support/fork_helper.hpp"
#include "tandem/multiprocessing/lock.hpp"
#include "tandem/multiprocessing/rlock.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;

// _TestLock.test_lock (release of an unlocked lock: RuntimeError, tandem's threading type,
// where Python's multiprocessing raises ValueError)
TEST(MpLock, Lock) {
  mp::Lock lock;
  EXPECT_TRUE(lock.acquire());
  EXPECT_FALSE(lock.acquire(false));
  lock.release();
  EXPECT_THROW(lock.release(), tandem::RuntimeError);
  try {
    lock.release();
  } catch (const tandem::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "release unlocked lock");
  }
}

// _TestLock.test_lock_context
TEST(MpLock, LockContext) {
  mp::Lock lock;
  {
    std::lock_guard g(lock);
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
}

// lock_tests.BaseLockTests.test_timeout; a negative timeout counts as 0 (multiprocessing)
TEST(MpLock, Timeout) {
  mp::Lock lock;
  EXPECT_TRUE(lock.acquire(tandem::duration(-1)));
  EXPECT_FALSE(lock.acquire(0s));
  EXPECT_FALSE(lock.acquire(tandem::duration(-1)));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(lock.acquire(50ms));  // not reentrant: the holder times out
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_FALSE(lock.try_lock_for(1ms));
  lock.release();
  EXPECT_TRUE(lock.try_lock_until(std::chrono::steady_clock::now() + 1s));
  lock.unlock();
}

// Another process sees the lock held, and cannot release it (robust mutexes have owners).
TEST(MpLock, HeldAcrossProcesses) {
  mp::Lock lock;
  lock.acquire();
  auto child = mptest::fork_child([&] {
    if (!lock.locked()) return 1;
    if (lock.acquire(false)) return 2;
    if (lock.acquire(20ms)) return 3;
    try {
      lock.release();
      return 4;
    } catch (const tandem::RuntimeError& e) {
      if (std::string(e.what()) != "cannot release un-acquired lock") return 5;
    }
    return 0;
  });
  EXPECT_EQ(child.join(), 0);
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.owner_died());
  lock.release();
}

// A child blocked in acquire() is woken by the parent's release (futex across processes).
TEST(MpLock, ReleaseWakesOtherProcess) {
  mp::Lock lock;
  mptest::Pipe ready;
  lock.acquire();
  auto child = mptest::fork_child([&] {
    ready.signal();
    if (!lock.acquire()) return 1;
    lock.release();
    return 0;
  });
  ready.wait();
  lock.release();
  EXPECT_EQ(child.join(), 0);
}

// A lock made before fork and destroyed in the child (its destructor runs there) stays
// intact for the parent: a child's handle only unmaps.
TEST(MpLock, ChildDestroyingItsCopyIsHarmless) {
  auto* lock = new mp::Lock;
  lock->acquire();
  auto child = mptest::fork_child([&] {
    delete lock;
    return 0;
  });
  EXPECT_EQ(child.join(), 0);
  EXPECT_TRUE(lock->locked());
  lock->release();
  EXPECT_TRUE(lock->acquire(false));
  lock->release();
  delete lock;
}

// _TestLock.test_rlock
TEST(MpRLock, RLock) {
  mp::RLock lock;
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire());
  lock.release();
  lock.release();
  lock.release();
  EXPECT_THROW(lock.release(), tandem::RuntimeError);
}

// lock_tests.RLockTests.test_different_thread, across processes
TEST(MpRLock, OtherProcessCannotReleaseOrEnter) {
  mp::RLock lock;
  lock.acquire();
  lock.acquire();
  auto child = mptest::fork_child([&] {
    if (lock.is_owned()) return 1;
    if (lock.acquire(false)) return 2;
    try {
      lock.release();
      return 3;
    } catch (const tandem::RuntimeError&) {
    }
    return 0;
  });
  EXPECT_EQ(child.join(), 0);
  EXPECT_EQ(lock.recursion_count(), 2u);
  lock.release();
  lock.release();
  EXPECT_FALSE(lock.locked());
}

// lock_tests.RLockTests.test_different_thread (threads of one process)
TEST(MpRLock, OtherThreadCannotRelease) {
  mp::RLock lock;
  lock.acquire();
  bool threw = false;
  std::thread([&] {
    try {
      lock.release();
    } catch (const tandem::RuntimeError&) {
      threw = true;
    }
  }).join();
  EXPECT_TRUE(threw);
  lock.release();
}

// Threads of one process still get mutual exclusion (the lock works as a thread lock too).
TEST(MpLock, ThreadsMutualExclusion) {
  mp::Lock lock;
  long counter = 0;
  std::thread t[2];
  for (auto& th : t)
    th = std::thread([&] {
      for (int i = 0; i < 20000; ++i) {
        std::lock_guard g(lock);
        ++counter;
      }
    });
  for (auto& th : t) th.join();
  EXPECT_EQ(counter, 40000);
}

// Timed acquires from threads are seen by ThreadSanitizer as lock acquisitions.
TEST(MpRLock, TimedAcquireFromThreads) {
  mp::RLock lock;
  long counter = 0;
  std::thread t[2];
  for (auto& th : t)
    th = std::thread([&] {
      for (int i = 0; i < 5000; ++i) {
        while (!lock.acquire(10s)) {
        }
        ++counter;
        lock.release();
      }
    });
  for (auto& th : t) th.join();
  EXPECT_EQ(counter, 10000);
}

// No fds leak: every handle closes its memfd.
TEST(MpLock, NoLeakedFds) {
  const int before = mptest::count_open_fds();
  {
    mp::Lock a;
    mp::RLock b;
    EXPECT_EQ(mptest::count_open_fds(), before + 2);
  }
  EXPECT_EQ(mptest::count_open_fds(), before);
}
