// SPDX-License-Identifier: MIT
// <tandem/detail/futex_mutex.hpp> — the mutex core shared by tandem's locks.
//
// The three-state futex mutex of Ulrich Drepper, "Futexes Are Tricky" (2011), mutex #3:
// 0 = unlocked, 1 = locked, 2 = locked and someone may be sleeping. Unlock costs one atomic
// exchange, plus a futex wake only when state 2 says a thread may sleep. Before sleeping a
// contender spins briefly (bounded; see spin_briefly) because a critical section is usually
// shorter than a sleep/wake round trip (~5 us here).
//
// Memory ordering: a successful lock is an acquire, unlock is a release; everything written
// inside a critical section happens-before the next holder's critical section.
// No owner is recorded (Python's Lock may be released by any thread).
// One 32-bit word and no pointers: it works in shared memory with Scope::shared.
#pragma once

#include <atomic>
#include <cstdint>

#include "tandem/detail/wait.hpp"

namespace tandem::detail {

class FutexMutex {
 public:
  explicit FutexMutex(Scope scope = Scope::local) noexcept : scope_(scope) {}
  FutexMutex(const FutexMutex&) = delete;
  FutexMutex& operator=(const FutexMutex&) = delete;

  bool try_lock() noexcept {
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  /// Blocks until locked or the deadline passes; returns whether the lock was taken.
  bool lock(Deadline deadline = Deadline::never()) noexcept {
    if (try_lock()) return true;
    return lock_slow(deadline);
  }

  /// Returns false (and changes nothing) when the mutex was not locked.
  bool unlock() noexcept {
    std::uint32_t prev = state_.exchange(0, std::memory_order_release);
    if (prev == 2) futex_wake(state_, 1, scope_);
    return prev != 0;
  }

  bool locked() const noexcept { return state_.load(std::memory_order_relaxed) != 0; }

 private:
  bool lock_slow(Deadline deadline) noexcept {
    // A zero timeout means "try once": spinning would only delay the answer.
    if (deadline.expired()) return false;
    if (spin_briefly([&] {
          return state_.load(std::memory_order_relaxed) == 0 && try_lock();
        }))
      return true;
    // From here on we announce a possible sleeper (state 2) so the unlocker wakes us.
    while (state_.exchange(2, std::memory_order_acquire) != 0) {
      if (!futex_wait(state_, 2, deadline, scope_) && deadline.expired()) {
        // One last attempt, so that "timed out" never hides a lock that is free right now.
        std::uint32_t expected = 0;
        return state_.compare_exchange_strong(expected, 2, std::memory_order_acquire,
                                              std::memory_order_relaxed);
      }
    }
    return true;
  }

  std::atomic<std::uint32_t> state_{0};
  Scope scope_;
};

}  // namespace tandem::detail
