// SPDX-License-Identifier: MIT
// tandem::Event — threading.Event (docs/threading.md#event,
// docs/threading.md#wake-up-guarantees).
//
// Guarantees
//  * set() wakes every thread blocked in wait(); wait() returns true at once when the flag
//    is set, true after a set() that happened while it waited, and false only when its
//    timeout expired.
//  * A waiter woken by set() returns true even if clear() ran before it was scheduled
//    (gh-57711, lock_tests.EventTests.test_set_and_clear): the waiter looks at a set
//    *generation*, not at the flag.
//  * No spurious wake-ups are visible: wait() never returns true without a set().
// Memory ordering: set() is a release and a wait() that returns true is an acquire, so
//  whatever the setter wrote before set() is visible after wait() returns true (also when
//  is_set() returns true).
// Cost: set() on an already set Event is one load; set() with nobody waiting is one RMW
//  and one load — no system call (a waiter count tells whether anybody sleeps). clear() is
//  one RMW. wait() on a set Event is one load. A waiter on a clear Event first spins
//  (pause loop, re-reading the state) and then sleeps in futex(2) (0% CPU while asleep).
//  The spin is adaptive and bounded (detail::SpinHistory, one more 32-bit word per Event):
//  at most 2x the recent average successful spin + 2 us, never over 12 us on the steady
//  clock (about what waking an idle vCPU costs here), never past the wait's deadline;
//  after 4 spins in a row that missed (a loaded machine, or an Event set rarely) waits skip
//  the spin and only every 64th wait of a thread probes with one. So a ping-pong between two running threads stays off the kernel (no futex call
//  at all), and on an oversubscribed machine a waiter goes to sleep at once instead of
//  holding the CPU its setter needs. The spin only reads state_: it changes neither the
//  semantics nor the memory ordering above.
// Layout: three 32-bit words and no pointers — state = (generation << 1) | flag, the
//  waiter count and the spin history — so an Event constructed with Scope::shared works in
//  shared memory (multiprocessing.Event). The generation is 31 bits: a waiter would misread "no set"
//  only if exactly 2^31 set() calls happened while it was descheduled between two loads.
// Differences from Python: none in behaviour; a timeout is a std::chrono duration and a
//  negative one counts as 0, as in Python.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "tandem/detail/timeout.hpp"
#include "tandem/detail/wait.hpp"

namespace tandem {
namespace detail {
struct SyncTestPeer;  // defined by the tests only: lets them see how many threads sleep
}  // namespace detail

class Event {
 public:
  Event() noexcept = default;
  /// Scope::shared: the Event may be placed in memory shared between processes.
  explicit Event(detail::Scope scope) noexcept : scope_(scope) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept { return (state_.load(std::memory_order_acquire) & 1u) != 0; }

  /// Sets the flag and wakes every waiter. Setting a set Event does nothing.
  void set() noexcept {
    // Acquire: setting an already set Event still synchronises with the setter that set it.
    std::uint32_t s = state_.load(std::memory_order_acquire);
    do {
      if (s & 1u) return;
      // Flag 0 → 1 and generation + 1 in one addition: (g << 1 | 0) + 3 == ((g + 1) << 1 | 1).
    } while (!state_.compare_exchange_weak(s, s + 3u, std::memory_order_seq_cst,
                                           std::memory_order_acquire));
    // Dekker with wait(): the waiter bumps waiters_ then reads state_; we changed state_ and
    // now read waiters_ (all seq_cst), so one of us sees the other.
    if (waiters_.load(std::memory_order_seq_cst) != 0) detail::futex_wake_all(state_, scope_);
  }

  /// Clears the flag; threads that were already woken by set() still return true.
  void clear() noexcept { state_.fetch_and(~1u, std::memory_order_relaxed); }

  /// Blocks until the flag is set. Always returns true.
  bool wait() noexcept { return wait_until(detail::Deadline::never()); }
  /// Blocks at most `timeout` (negative counts as 0); false when it expired first.
  bool wait(duration timeout) noexcept {
    // Fast paths before reading the clock: a set flag, and a poll (timeout <= 0).
    if (is_set()) return true;
    if (!(timeout.count() > 0)) return false;
    return wait_until(detail::Deadline::after(timeout));
  }

 private:
  friend struct detail::SyncTestPeer;

  bool wait_until(detail::Deadline deadline) noexcept {
    const std::uint32_t seen = state_.load(std::memory_order_acquire);
    if (seen & 1u) return true;
    // While the flag is 0 only set() changes state_ (clear() of a cleared flag is a no-op
    // at the bit level), so any change from `seen` means a set() happened.
    auto changed = [&] { return state_.load(std::memory_order_acquire) != seen; };
    // Spin only while spinning has lately paid off for this Event (SpinHistory): it
    // catches a setter that is running right now, and is switched off when setters must
    // first be scheduled (a loaded machine, or a rare set()).
    if (spin_.spin(changed, deadline)) return true;
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    bool result = true;
    while (state_.load(std::memory_order_seq_cst) == seen) {
      if (!detail::futex_wait(state_, seen, deadline, scope_) && deadline.expired()) {
        result = changed();
        break;
      }
    }
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return result;
  }

  std::atomic<std::uint32_t> state_{0};
  std::atomic<std::uint32_t> waiters_{0};
  detail::SpinHistory spin_;
  detail::Scope scope_ = detail::Scope::local;
};

}  // namespace tandem
