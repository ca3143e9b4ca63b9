// SPDX-License-Identifier: MIT
// <tandem/detail/lockable.hpp> — the C++ lock protocol written once for every lock-like class.
//
// Python's locks are used with `with`; C++'s with std::lock_guard, std::unique_lock and
// std::scoped_lock, which want Lockable (lock/try_lock/unlock) and TimedLockable
// (try_lock_for/try_lock_until). Every tandem lock-like class — the thread, process and
// Manager flavours of Lock, RLock, Condition and Semaphore — has Python's acquire()/release()
// and gets the C++ names from this mixin, so the two protocols mean the same everywhere:
//   lock()             = acquire()                  (blocks)
//   try_lock()         = acquire(false)             (one try)
//   unlock()           = release()
//   try_lock_for(d)    = acquire(d), a negative d counting as 0 (std's rule: a negative
//                        timeout tries once; Python's acquire raises ValueError for it)
//   try_lock_until(tp) = try_lock_for(tp - Clock::now()): a non-steady clock's time point is
//                        turned into a steady-clock wait at the call.
// Costs nothing over calling acquire() directly: every member is an inline forwarder.
#pragma once

#include <chrono>

#include "tandem/detail/wait.hpp"  // tandem::duration

namespace tandem::detail {

/// CRTP: `class Lock : public detail::Lockable<Lock>`. Derived must have public
/// acquire(bool blocking), release(), and acquire(duration) when try_lock_for/_until is used.
template <class Derived>
class Lockable {
 public:
  void lock() { self().acquire(true); }
  bool try_lock() { return self().acquire(false); }
  void unlock() { self().release(); }
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& d) {
    return self().acquire(d.count() < 0 ? duration(0) : duration(d));
  }
  template <class Clock, class Dur>
  bool try_lock_until(const std::chrono::time_point<Clock, Dur>& tp) {
    return try_lock_for(tp - Clock::now());
  }

 protected:
  Lockable() = default;
  ~Lockable() = default;

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace tandem::detail
