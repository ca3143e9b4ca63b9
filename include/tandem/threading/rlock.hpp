// SPDX-License-Identifier: MIT
// tandem::RLock — threading.RLock (docs/threading.md#rlock).
//
// Guarantees
//  * Mutual exclusion between threads; the owning thread may acquire again, and the lock is
//    free once it has been released as many times as it was acquired.
//  * Only the owner may release: release() by another thread, or with nothing held, throws
//    RuntimeError("cannot release un-acquired lock").
//  * No fairness guarantee (as Python). Standard Lockable and TimedLockable, so
//    std::lock_guard / std::unique_lock / std::scoped_lock work.
// Memory ordering: the first acquire is an acquire operation, the last release a release
//  operation (through the FutexMutex core); recursive acquires and releases by the owner
//  touch only owner-private state.
// Cost: a recursive acquire/release is a thread-local read, one relaxed load and a plain
//  increment; a first acquire adds one CAS (FutexMutex), a last release one exchange.
// Layout: the owner is the kernel thread id (detail::current_tid(), 32 bits) rather than a
//  pointer or std::thread::id, so the same design works in shared memory later. A thread
//  that exits while holding an RLock leaves it held; if the kernel then reuses that tid
//  for a new thread, the new thread is taken for the owner (Python has the same hazard
//  with get_ident()).
// Differences from Python: timeouts are std::chrono durations (negative → ValueError,
//  "timeout value must be a non-negative number"); no OverflowError — a timeout too large
//  to represent waits forever.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "tandem/detail/lockable.hpp"
#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"

namespace tandem {

class RLock : public detail::Lockable<RLock> {
 public:
  RLock() noexcept = default;
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  /// acquire(true) blocks until held; acquire(false) tries once. The owner always succeeds.
  bool acquire(bool blocking = true) {
    return acquire_until(detail::Deadline::never(), blocking);
  }
  /// Waits at most `timeout`; 0 tries once. Negative: ValueError.
  bool acquire(duration timeout) {
    detail::check_timeout(timeout);
    // Try before reading the clock: a free or owned lock costs what acquire() costs.
    return acquire_until(detail::Deadline::never(), false) ||
           acquire_until(detail::Deadline::after(timeout), true);
  }

  /// Undoes one acquire; the last one frees the lock.
  void release() {
    if (owner_.load(std::memory_order_relaxed) != detail::current_tid() || count_ == 0)
      throw RuntimeError("cannot release un-acquired lock");
    if (--count_ == 0) {
      owner_.store(0, std::memory_order_relaxed);
      m_.unlock();
    }
  }

  /// Whether any thread holds the lock (Python 3.14's RLock.locked()).
  bool locked() const noexcept { return m_.locked(); }

  // ---- For Condition (Python's RLock._is_owned / _recursion_count / _release_save /
  // ---- _acquire_restore); ordinary code has no use for them.

  /// Whether the calling thread holds the lock.
  bool is_owned() const noexcept {
    return owner_.load(std::memory_order_relaxed) == detail::current_tid();
  }
  /// How many times the calling thread holds the lock (0 when it is not the owner).
  std::uint32_t recursion_count() const noexcept { return is_owned() ? count_ : 0; }

  /// What release_save() took away, for acquire_restore() to put back.
  struct SavedState {
    std::uint32_t count;
  };
  /// For Condition: releases the lock completely, whatever the recursion level.
  /// RuntimeError("cannot release un-acquired lock") when the caller does not own it.
  SavedState release_save() {
    if (!is_owned() || count_ == 0) throw RuntimeError("cannot release un-acquired lock");
    SavedState saved{count_};
    count_ = 0;
    owner_.store(0, std::memory_order_relaxed);
    m_.unlock();
    return saved;
  }
  /// For Condition: blocks until the lock is held again at the saved recursion level.
  void acquire_restore(SavedState saved) noexcept {
    m_.lock();
    owner_.store(detail::current_tid(), std::memory_order_relaxed);
    count_ = saved.count;
  }

 private:
  bool acquire_until(detail::Deadline deadline, bool blocking) {
    const std::uint32_t me = detail::current_tid();
    // Only this thread ever stores `me` into owner_, so a relaxed load that reads `me`
    // proves ownership; any other value means "not mine".
    if (owner_.load(std::memory_order_relaxed) == me) {
      if (count_ == UINT32_MAX) throw RuntimeError("Internal lock count overflowed");
      ++count_;
      return true;
    }
    if (!(blocking ? m_.lock(deadline) : m_.try_lock())) return false;
    owner_.store(me, std::memory_order_relaxed);
    count_ = 1;
    return true;
  }

  detail::FutexMutex m_;
  std::atomic<std::uint32_t> owner_{0};  // kernel tid of the holder, 0 when free
  std::uint32_t count_ = 0;              // touched only by the holder
};

}  // namespace tandem
