// SPDX-License-Identifier: MIT
// <tandem/detail/condition_lock.hpp> — the lock under a Condition, written once for
// threading's Condition and mp::Condition.
//
// Python's Condition wraps a Lock or an RLock (an RLock when none is given) and forwards
// acquire/release to it; wait() must drop the lock completely — an RLock at whatever depth the
// caller holds it — and take it back at the same depth. Both Conditions do exactly that over
// their own Lock/RLock types, so the choice of lock and the drop/restore live here.
#pragma once

#include <utility>

#include "tandem/detail/wait.hpp"  // tandem::duration

namespace tandem::detail {

/// A Lock* or an RLock*, exactly one set. L has acquire(bool), acquire(duration), release(),
/// locked(), lock(); R has those and release_save() / acquire_restore(saved) (Python's
/// RLock._release_save / _acquire_restore).
template <class L, class R>
class ConditionLock {
 public:
  // The underlying lock, forwarded (Python's acquire/release/__enter__/__exit__).
  bool acquire(bool blocking = true) {
    return rlock_ ? rlock_->acquire(blocking) : lock_->acquire(blocking);
  }
  bool acquire(duration timeout) {
    return rlock_ ? rlock_->acquire(timeout) : lock_->acquire(timeout);
  }
  void release() { rlock_ ? rlock_->release() : lock_->release(); }
  /// Whether any thread holds the underlying lock (Python 3.14's Lock/RLock.locked()).
  bool locked() const noexcept { return rlock_ ? rlock_->locked() : lock_->locked(); }

 protected:
  using Saved = decltype(std::declval<R&>().release_save());

  ConditionLock() noexcept = default;
  explicit ConditionLock(L* lock) noexcept : lock_(lock) {}
  explicit ConditionLock(R* rlock) noexcept : rlock_(rlock) {}
  ~ConditionLock() = default;

  /// Drops the lock completely for a wait; the caller has checked that it holds it, so this
  /// does not throw.
  Saved release_all() {
    if (rlock_) return rlock_->release_save();
    lock_->release();
    return Saved{0};
  }
  /// Takes the lock back as release_all() found it (blocking, no timeout: cannot fail).
  void reacquire(Saved saved) {
    if (rlock_) {
      rlock_->acquire_restore(saved);
    } else {
      lock_->lock();
    }
  }

  L* lock_ = nullptr;  // exactly one of lock_ / rlock_ is set
  R* rlock_ = nullptr;
};

}  // namespace tandem::detail
