// SPDX-License-Identifier: MIT
// tandem::Semaphore, tandem::BoundedSemaphore — threading.Semaphore / BoundedSemaphore
// (docs/threading.md#semaphore).
//
// Guarantees
//  * A counter that acquire() decrements, blocking while it is 0, and release(n) increments
//    by n, waking up to n blocked threads. No owner: any thread may release, also without a
//    matching acquire (the value may rise above its initial value — Semaphore only).
//  * BoundedSemaphore: a release that would take the value above its initial value throws
//    ValueError("Semaphore released too many times") and leaves the value unchanged (the
//    check and the addition are one CAS, so concurrent releases cannot slip past the bound).
//  * acquire(duration) returns false only when the timeout expired without a unit becoming
//    available to it. A negative timeout counts as 0 (Python does the same).
//  * Wake-up order is unspecified (Python's is FIFO by implementation accident; its docs
//    promise nothing), and there is no fairness guarantee.
// Memory ordering: release() is a release operation and a successful acquire() an acquire
//  operation, so what a releaser wrote is visible to the thread that takes its unit.
// Cost: acquire with a unit available is one load and one CAS; release is one CAS and one
//  load — no system call when nobody sleeps (a separate waiter count says so). A blocked
//  acquirer spins briefly, then sleeps in futex(2) on the counter word itself.
// Layout: two 32-bit words (count, sleepers) and no pointers; constructed with
//  detail::Scope::shared it works in memory shared between processes (mp::Semaphore).
// Also offered, for C++ code: std::counting_semaphore's try_acquire / try_acquire_for /
//  try_acquire_until, and lock()/unlock() so std::lock_guard works as Python's `with sem:`.
// Differences from Python: the value is limited to 2^32-1 (a larger initial value or a
//  release past it throws ValueError("semaphore value too large")); Python's
//  acquire(blocking=False, timeout=...) ValueError has no C++ spelling (the overloads make
//  that call impossible).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>

#include "tandem/detail/lockable.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"

namespace tandem {
namespace detail {
struct SyncTestPeer;  // defined by the tests only
}  // namespace detail

class Semaphore : public detail::Lockable<Semaphore> {
 public:
  /// ValueError("semaphore initial value must be >= 0") when value < 0.
  explicit Semaphore(std::int64_t value = 1) : Semaphore(value, false) {}
  /// Scope::shared: the Semaphore may be placed in memory shared between processes
  /// (mp::Semaphore does).
  Semaphore(std::int64_t value, detail::Scope scope) : Semaphore(value, false, scope) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  /// acquire(true) blocks until a unit is taken and returns true; acquire(false) tries once.
  bool acquire(bool blocking = true) {
    if (try_take(std::memory_order_relaxed)) return true;
    return blocking && acquire_slow(detail::Deadline::never());
  }
  /// Waits at most `timeout` (negative counts as 0); false when it expired first.
  bool acquire(duration timeout) {
    if (try_take(std::memory_order_relaxed)) return true;
    return acquire_slow(detail::clamped_deadline(timeout));
  }

  /// Adds n (ValueError("n must be one or more") when n < 1) and wakes up to n waiters.
  void release(std::int64_t n = 1) {
    if (n < 1) throw ValueError("n must be one or more");
    std::uint32_t c = count_.load(std::memory_order_relaxed);
    do {
      if (n > static_cast<std::int64_t>(bound_) - c)
        throw ValueError(bounded_ ? "Semaphore released too many times"
                                  : "semaphore value too large");
    } while (!count_.compare_exchange_weak(c, c + static_cast<std::uint32_t>(n),
                                           std::memory_order_seq_cst,
                                           std::memory_order_relaxed));
    // Dekker with acquire_slow(): it bumps waiters_ then reads count_; we changed count_
    // and now read waiters_ (all seq_cst), so either it sees the units or we see it.
    if (waiters_.load(std::memory_order_seq_cst) != 0)
      detail::futex_wake(count_, static_cast<int>(std::min<std::int64_t>(n, INT_MAX)), scope_);
  }

  /// The current value (a snapshot; other threads may change it at once).
  std::int64_t value() const noexcept { return count_.load(std::memory_order_relaxed); }

  // std::counting_semaphore-like spellings.
  bool try_acquire() { return acquire(false); }
  template <class Rep, class Period>
  bool try_acquire_for(const std::chrono::duration<Rep, Period>& d) {
    return acquire(duration(d));
  }
  template <class Clock, class Dur>
  bool try_acquire_until(const std::chrono::time_point<Clock, Dur>& tp) {
    return acquire(duration(tp - Clock::now()));
  }

 protected:
  Semaphore(std::int64_t value, bool bounded, detail::Scope scope = detail::Scope::local)
      : bound_(bounded ? checked_initial(value) : UINT32_MAX), bounded_(bounded), scope_(scope) {
    count_.store(checked_initial(value), std::memory_order_relaxed);
  }
  std::int64_t bound_value() const noexcept { return bound_; }

 private:
  friend struct detail::SyncTestPeer;

  static std::uint32_t checked_initial(std::int64_t value) {
    if (value < 0) throw ValueError("semaphore initial value must be >= 0");
    if (value > static_cast<std::int64_t>(UINT32_MAX))
      throw ValueError("semaphore value too large");
    return static_cast<std::uint32_t>(value);
  }

  bool try_take(std::memory_order load_order) noexcept {
    std::uint32_t c = count_.load(load_order);
    while (c != 0)
      if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return true;
    return false;
  }

  bool acquire_slow(detail::Deadline deadline) noexcept {
    if (detail::spin_briefly([&] { return try_take(std::memory_order_relaxed); })) return true;
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    bool taken = false;
    for (;;) {
      if (try_take(std::memory_order_seq_cst)) {
        taken = true;
        break;
      }
      // Sleeps only while the count is still 0, so a release between our check and the
      // sleep makes futex_wait return at once.
      if (!detail::futex_wait(count_, 0, deadline, scope_) && deadline.expired()) {
        taken = try_take(std::memory_order_seq_cst);  // "timed out" never hides a free unit
        break;
      }
    }
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return taken;
  }

  std::atomic<std::uint32_t> count_{0};
  std::atomic<std::uint32_t> waiters_{0};  // threads in (or about to enter) futex_wait
  const std::uint32_t bound_;              // the initial value when bounded, else 2^32-1
  const bool bounded_;
  const detail::Scope scope_;
};

/// threading.BoundedSemaphore: a Semaphore whose value may never exceed its initial value.
class BoundedSemaphore : public Semaphore {
 public:
  /// ValueError("semaphore initial value must be >= 0") when value < 0.
  explicit BoundedSemaphore(std::int64_t value = 1) : Semaphore(value, true) {}
  BoundedSemaphore(std::int64_t value, detail::Scope scope) : Semaphore(value, true, scope) {}
  /// The initial value, which release() may not exceed.
  std::int64_t initial_value() const noexcept { return bound_value(); }
};

}  // namespace tandem
