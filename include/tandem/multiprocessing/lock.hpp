// SPDX-License-Identifier: MIT
// tandem::mp::Lock — multiprocessing.Lock, crash-safe
// (docs/multiprocessing.md#synchronization-primitives).
//
// Guarantees
//  * Mutual exclusion between the threads of every process that shares the lock (made
//    before fork()/Process::start(): the child inherits it); acquire is an acquire
//    operation and release a release operation, across processes too.
//  * Robust: when the holder dies — SIGKILL, a crash, a thread exiting with it held — the
//    next acquirer gets the lock at once (the kernel wakes it; no deadlock, no timeout
//    needed) and owner_died() then returns true: the data the lock protects may be
//    half-updated. Python's SemLock stays locked forever in that case (cpython#88304).
//  * Not reentrant: a second acquire by the holder blocks (acquire(duration) times out).
//  * No fairness guarantee (as Python).
//  * Standard Lockable and TimedLockable (lock/unlock/try_lock/try_lock_for/_until), so
//    `std::lock_guard g(lock);` is Python's `with lock:`.
// Cost: an uncontended acquire+release is two atomic RMWs in glibc and no system call; a
//  waiter sleeps in futex(2). Built on detail::RobustMutex — see robust_mutex.hpp for why
//  this primitive uses glibc's robust pthread mutex instead of tandem's futex layer.
// Sharing: the handle owns a SharedRegion (one memfd, one page); see shared_region.hpp for
//  the ownership rule across fork (the creator's handle must outlive the children's use).
// Differences from Python
//  * Only the holder may release (the kernel's robust protocol records an owner): release()
//    by another thread or process throws RuntimeError("cannot release un-acquired lock").
//    Python's multiprocessing.Lock, a semaphore, lets anyone release it.
//  * Misuse throws tandem's threading types, for one vocabulary across tandem:
//    release() of an unlocked lock → RuntimeError("release unlocked lock") where Python's
//    multiprocessing raises ValueError("semaphore or lock released too many times").
//  * A negative timeout counts as 0 (as multiprocessing.Lock; threading's raises ValueError).
//  * owner_died() is new; locked() is Python 3.14's.
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

/// The shared part of an mp::Lock (also embedded in Value/Array's shared block).
struct LockState {
  RobustMutex mutex;
  std::uint32_t recovered = 0;  // the current holding began by recovery; guarded by mutex
};

}  // namespace detail

class Lock : public tandem::detail::Lockable<Lock> {
 public:
  Lock() : region_(detail::make_shared_state<detail::LockState>()),
           s_(region_.at<detail::LockState>()) {}
  /// A handle on a LockState that lives elsewhere (inside a Value's region); not owning.
  explicit Lock(detail::LockState& state) noexcept : s_(&state) {}
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  /// acquire(true) blocks until held; acquire(false) tries once.
  bool acquire(bool blocking = true) {
    return took(blocking ? s_->mutex.lock() : s_->mutex.try_lock());
  }
  /// Waits at most `timeout` (negative counts as 0); false when it expired.
  bool acquire(duration timeout) { return took(s_->mutex.lock(tandem::detail::clamped_deadline(timeout))); }

  /// RuntimeError("release unlocked lock") when free; RuntimeError("cannot release
  /// un-acquired lock") when another thread or process holds it.
  void release() {
    if (s_->mutex.unlock() != 0)
      throw RuntimeError(s_->mutex.owner() == 0 ? "release unlocked lock"
                                                : "cannot release un-acquired lock");
  }
  bool locked() const noexcept { return s_->mutex.owner() != 0; }

  /// True when the current holding began by taking the lock over from a holder that died
  /// (meaningful while the caller holds the lock). The next ordinary acquire resets it.
  bool owner_died() const noexcept {
    return __atomic_load_n(&s_->recovered, __ATOMIC_RELAXED) != 0;
  }
  /// Whether the calling thread holds the lock (for Condition).
  bool is_owned() const noexcept { return s_->mutex.is_owned(); }

 private:
  bool took(detail::RobustMutex::Acquired a) noexcept {
    if (a == detail::RobustMutex::Acquired::no) return false;
    __atomic_store_n(&s_->recovered, a == detail::RobustMutex::Acquired::recovered ? 1u : 0u,
                     __ATOMIC_RELAXED);
    return true;
  }

  detail::SharedRegion region_;  // empty for a non-owning handle
  detail::LockState* s_;
};

}  // namespace tandem::mp
