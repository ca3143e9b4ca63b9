// SPDX-License-Identifier: MIT
// tandem::Lock — threading.Lock (docs/threading.md#lock).
//
// Guarantees
//  * Mutual exclusion; acquire is an acquire operation and release a release operation, so
//    whatever one holder wrote is visible to the next holder.
//  * Not reentrant: a second acquire by the holder blocks (or times out).
//  * No owner, exactly like Python: any thread may release a locked Lock.
//  * No fairness guarantee (Python makes none either); a sleeping waiter is woken by the
//    release that finds it and then competes with running threads.
//  * Meets the standard Lockable and TimedLockable requirements: lock/unlock/try_lock,
//    try_lock_for/try_lock_until, so std::lock_guard, std::unique_lock and std::scoped_lock
//    work (the `with lock:` of C++).
// Cost: an uncontended acquire+release is two atomic RMWs and no system call; a waiter spins
//  briefly, then sleeps in futex(2) (0% CPU while blocked).
// Differences from Python: a timeout is a std::chrono duration (negative → ValueError, like
//  Python's "timeout value must be a non-negative number"); OverflowError does not exist —
//  a timeout too large to represent waits forever.
#pragma once

#include <chrono>

#include "tandem/detail/lockable.hpp"
#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/errors.hpp"

namespace tandem {

class Lock : public detail::Lockable<Lock> {
 public:
  Lock() noexcept = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  /// acquire(True) blocks until the lock is held; acquire(false) tries once.
  bool acquire(bool blocking = true) {
    return blocking ? m_.lock() : m_.try_lock();
  }
  /// Waits at most `timeout`; 0 tries once. Negative: ValueError.
  bool acquire(duration timeout) {
    detail::check_timeout(timeout);
    // The clock is read only when the lock is taken: a free lock costs what acquire() costs.
    return m_.try_lock() || m_.lock(detail::Deadline::after(timeout));
  }
  /// RuntimeError("release unlocked lock") when not locked.
  void release() {
    if (!m_.unlock()) throw RuntimeError("release unlocked lock");
  }
  bool locked() const noexcept { return m_.locked(); }

 private:
  detail::FutexMutex m_;
};

}  // namespace tandem
