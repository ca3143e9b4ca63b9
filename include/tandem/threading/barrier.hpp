// SPDX-License-Identifier: MIT
// tandem::Barrier — threading.Barrier (docs/threading.md#barrier).
//
// Guarantees
//  * wait() blocks until `parties` threads have called it, then releases them all and
//    returns each its arrival index in this cycle: the first arrival 0, the last
//    parties-1 (CPython's impl-detail, kept).
//  * The last arrival runs `action` once per cycle, holding the barrier's lock, before any
//    thread of the cycle returns. If action throws, the barrier breaks: the exception
//    propagates in that thread and the others get BrokenBarrierError.
//  * A waiter whose timeout expires breaks the barrier (and raises BrokenBarrierError), as do
//    the others and every later wait() until reset(). A timeout of 0 (or negative) from a
//    thread that is not the last arrival breaks it at once. wait() without a timeout uses
//    the barrier's default timeout, if one was given.
//  * abort() breaks the barrier; reset() makes current waiters raise BrokenBarrierError and
//    returns the barrier to its initial state once they have left, also from broken.
//  * Cyclic: a thread arriving while the previous cycle still drains (its threads have not
//    all left wait() yet) or while a reset is in progress blocks until that is over.
// Algorithm: CPython's Lib/threading.py Barrier, states filling / draining / resetting /
//  broken with a count of threads inside wait(), ported onto a FutexMutex guarding the
//  state and one futex word `seq_` bumped on every state change (a condition variable
//  whose wake-ups may be spurious: every wait loops on its predicate, as CPython's do).
// Memory ordering: all state is under the mutex; what threads wrote before wait() is
//  visible to every thread after its wait() returns (through the mutex), and so is what
//  `action` wrote.
// Cost: wait() is one mutex round trip; the last arrival wakes the others with one
//  futex_wake; a thread that arrives while nobody waits makes no system call.
// Layout: 32-bit words and no pointers, except the std::function holding `action`.
// Differences from Python: `action` must not call this barrier's methods (it runs under
//  the barrier's lock; Python deadlocks the same way). Indices and counts are int64.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"

namespace tandem {

class Barrier {
 public:
  /// ValueError("parties must be > 0") when parties < 1.
  explicit Barrier(std::int64_t parties, std::function<void()> action = {},
                   std::optional<duration> timeout = {})
      : parties_(checked_parties(parties)), action_(std::move(action)), timeout_(timeout) {}
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// Waits for the other parties (at most the default timeout, if any); returns the
  /// arrival index. BrokenBarrierError when the barrier is or becomes broken or reset.
  std::int64_t wait() {
    return wait_impl(timeout_ ? detail::clamped_deadline(*timeout_) : detail::Deadline::never());
  }
  /// As wait(), for at most `timeout` (negative counts as 0) instead of the default.
  std::int64_t wait(duration timeout) { return wait_impl(detail::clamped_deadline(timeout)); }

  /// Breaks the barrier; threads in wait() and later callers get BrokenBarrierError.
  void abort() {
    Guard g(m_);
    break_locked();
  }

  /// Back to the initial state; threads now in wait() get BrokenBarrierError.
  void reset() {
    Guard g(m_);
    if (count_ > 0) {
      // Draining: the cycle completed and its threads are leaving; the last one out
      // returns the barrier to filling anyway.
      if (state_ == State::filling || state_ == State::broken) state_ = State::resetting;
    } else {
      state_ = State::filling;
    }
    notify_all_locked();
  }

  std::int64_t parties() const noexcept { return parties_; }
  /// Threads waiting in the current cycle (0 while draining, resetting or broken).
  std::int64_t n_waiting() const {
    Guard g(m_);
    return state_ == State::filling ? count_ : 0;
  }
  bool broken() const {
    Guard g(m_);
    return state_ == State::broken;
  }

 private:
  enum class State : std::uint32_t { filling, draining, resetting, broken };

  struct Guard {
    explicit Guard(detail::FutexMutex& mutex) noexcept : m(mutex) { m.lock(); }
    ~Guard() { m.unlock(); }
    detail::FutexMutex& m;
  };

  static std::int64_t checked_parties(std::int64_t parties) {
    if (parties < 1) throw ValueError("parties must be > 0");
    return parties;
  }

  // --- the condition variable over m_ (called with m_ held) ---
  /// Sleeps until the next state change or the deadline; may return spuriously.
  void wait_locked(detail::Deadline deadline) noexcept {
    // seq_ is read and bumped only under m_, so a change after we unlock makes
    // futex_wait return at once: no lost wake-up.
    const std::uint32_t key = seq_.load(std::memory_order_relaxed);
    ++sleepers_;
    m_.unlock();
    detail::futex_wait(seq_, key, deadline);
    m_.lock();
    --sleepers_;
  }
  void notify_all_locked() noexcept {
    seq_.fetch_add(1, std::memory_order_relaxed);
    if (sleepers_ != 0) detail::futex_wake_all(seq_);
  }

  // --- CPython's algorithm (called with m_ held) ---
  std::int64_t wait_impl(detail::Deadline deadline) {
    Guard g(m_);
    // Block while the previous cycle drains or a reset completes.
    while (state_ == State::draining || state_ == State::resetting)
      wait_locked(detail::Deadline::never());
    if (state_ == State::broken) throw BrokenBarrierError();
    const std::int64_t index = count_++;
    try {
      if (index + 1 == parties_) {
        trip_locked();
      } else {
        await_trip_locked(deadline);
      }
    } catch (...) {
      leave_locked();
      throw;
    }
    leave_locked();
    return index;
  }

  void trip_locked() {
    if (action_) {
      try {
        action_();
      } catch (...) {
        break_locked();
        throw;
      }
    }
    state_ = State::draining;
    notify_all_locked();
  }

  void await_trip_locked(detail::Deadline deadline) {
    while (state_ == State::filling) {
      if (deadline.expired()) {
        break_locked();
        throw BrokenBarrierError();
      }
      wait_locked(deadline);
    }
    if (state_ == State::broken || state_ == State::resetting) throw BrokenBarrierError();
  }

  /// The last thread out of a draining or resetting cycle reopens the barrier.
  void leave_locked() noexcept {
    if (--count_ == 0 && (state_ == State::draining || state_ == State::resetting)) {
      state_ = State::filling;
      notify_all_locked();
    }
  }

  void break_locked() noexcept {
    state_ = State::broken;
    notify_all_locked();
  }

  mutable detail::FutexMutex m_;
  std::atomic<std::uint32_t> seq_{0};  // futex word: bumped on each state change
  std::uint32_t sleepers_ = 0;         // threads in wait_locked(); guarded by m_
  State state_ = State::filling;       // guarded by m_
  std::int64_t count_ = 0;             // threads inside wait(); guarded by m_
  const std::int64_t parties_;
  std::function<void()> action_;
  std::optional<duration> timeout_;
};

}  // namespace tandem
