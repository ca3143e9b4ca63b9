// SPDX-License-Identifier: MIT
// tandem::mp::RLock — multiprocessing.RLock, crash-safe
// (docs/multiprocessing.md#synchronization-primitives); the default lock of mp::Value,
// mp::Array and mp::Condition.
//
// Guarantees
//  * Mutual exclusion between threads of all processes sharing it; the owning thread may
//    acquire again, and the lock is free once released as many times as acquired.
//  * Robust: if the owner dies holding it (at any recursion level) the next acquirer gets
//    it at once, with recursion level 1, and owner_died() returns true.
//  * Only the owner may release: otherwise RuntimeError("cannot release un-acquired lock")
//    (Python's multiprocessing raises AssertionError("attempt to release recursive lock not
//    owned by thread"); tandem keeps threading's type and message).
//  * Standard Lockable / TimedLockable: `std::lock_guard g(value.get_lock());`.
// Ownership is the kernel tid held in the robust mutex's futex word (detail::RobustMutex::
//  owner()), which the kernel clears when the owner dies — so, unlike a stored tid, a
//  recycled tid is never taken for the dead owner. The recursion count lives in shared
//  memory and is touched only by the owner.
// Memory ordering: the first acquire is an acquire operation, the last release a release.
// Cost: a recursive acquire/release is one relaxed load plus a counter update; a first
//  acquire/last release is the robust mutex's lock/unlock (no system call uncontended).
// Differences from Python: a negative timeout counts as 0 (as multiprocessing's).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "tandem/detail/lockable.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/detail/robust_mutex.hpp"
#include "tandem/multiprocessing/detail/shared_region.hpp"

namespace tandem::mp {
namespace detail {

/// The shared part of an mp::RLock (also embedded in Value/Array's shared block).
struct RLockState {
  RobustMutex mutex;
  std::uint32_t count = 0;      // recursion level; touched only by the owner
  std::uint32_t recovered = 0;  // the current holding began by recovery; owner only
};

}  // namespace detail

class RLock : public tandem::detail::Lockable<RLock> {
 public:
  RLock() : region_(detail::make_shared_state<detail::RLockState>()),
            s_(region_.at<detail::RLockState>()) {}
  /// A handle on an RLockState that lives elsewhere (inside a Value's region); not owning.
  explicit RLock(detail::RLockState& state) noexcept : s_(&state) {}
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  /// acquire(true) blocks until held; acquire(false) tries once. The owner always succeeds.
  bool acquire(bool blocking = true) {
    // Try the lock before asking "do I own it?": reading the owner word first would pull the
    // contended line in shared and upgrade it for the CAS — two coherence transfers instead
    // of one (measured ~0.6x the bare robust mutex, bench/RESULTS.md). A try by the owner
    // fails (EBUSY/EDEADLK) and falls through to the recursion check.
    if (took(s_->mutex.try_lock())) return true;
    if (s_->mutex.is_owned()) return again();
    return blocking && took(s_->mutex.lock());
  }
  /// Waits at most `timeout` (negative counts as 0); false when it expired.
  bool acquire(duration timeout) {
    if (took(s_->mutex.try_lock())) return true;
    if (s_->mutex.is_owned()) return again();
    return took(s_->mutex.lock(tandem::detail::clamped_deadline(timeout)));
  }

  /// Undoes one acquire; the last one frees the lock.
  void release() {
    if (!s_->mutex.is_owned() || s_->count == 0)
      throw RuntimeError("cannot release un-acquired lock");
    if (--s_->count == 0) s_->mutex.unlock();
  }

  /// Whether any thread of any process holds the lock (Python 3.14's RLock.locked()).
  bool locked() const noexcept { return s_->mutex.owner() != 0; }
  /// True when the current holding began by taking the lock over from an owner that died.
  bool owner_died() const noexcept {
    return s_->mutex.is_owned() && __atomic_load_n(&s_->recovered, __ATOMIC_RELAXED) != 0;
  }

  // ---- For Condition (Python's _is_owned / _release_save / _acquire_restore).
  bool is_owned() const noexcept { return s_->mutex.is_owned(); }
  std::uint32_t recursion_count() const noexcept { return is_owned() ? s_->count : 0; }
  struct SavedState {
    std::uint32_t count;
  };
  SavedState release_save() {
    if (!is_owned() || s_->count == 0) throw RuntimeError("cannot release un-acquired lock");
    SavedState saved{s_->count};
    s_->count = 0;
    s_->mutex.unlock();
    return saved;
  }
  void acquire_restore(SavedState saved) noexcept {
    took(s_->mutex.lock());
    s_->count = saved.count;
  }

 private:
  bool again() {
    if (s_->count == UINT32_MAX) throw RuntimeError("Internal lock count overflowed");
    ++s_->count;
    return true;
  }
  bool took(detail::RobustMutex::Acquired a) noexcept {
    if (a == detail::RobustMutex::Acquired::no) return false;
    // After a recovery the dead owner's count is meaningless: start afresh.
    s_->count = 1;
    s_->recovered = a == detail::RobustMutex::Acquired::recovered ? 1u : 0u;
    return true;
  }

  detail::SharedRegion region_;  // empty for a non-owning handle
  detail::RLockState* s_;
};

}  // namespace tandem::mp
