// SPDX-License-Identifier: MIT
// <tandem/detail/eventcount.hpp> — "wait until a condition holds" without a mutex.
//
// An event count (Vyukov's eventcount; folly::EventCount has the same shape) lets a thread
// sleep until some lock-free condition becomes true, and lets the thread that makes it true
// pay only a fence and a load when nobody sleeps:
//
//   waiter:                              notifier:
//     for (;;) {                           make the condition true (any store)
//       if (cond()) break;                 ec.notify_one()  /  ec.notify_all()
//       auto key = ec.prepare_wait();
//       if (cond()) { ec.cancel_wait(); break; }
//       ec.wait(key, deadline);          // sleeps only if no notify came after prepare_wait
//     }
//
// Memory ordering: prepare_wait() is a seq_cst RMW on `waiters_`, notify is a seq_cst fence
// followed by a load of `waiters_` (Dekker): either the notifier sees the waiter and bumps
// the epoch (so the futex wait does not sleep, or is woken), or the waiter's second check
// sees the condition. No lost wake-ups; spurious returns are possible and callers loop.
//
// Two separate 32-bit words, no pointers: an EventCount may live in shared memory
// (construct it with Scope::shared).
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

#include "tandem/detail/wait.hpp"

namespace tandem::detail {

class EventCount {
 public:
  explicit EventCount(Scope scope = Scope::local) noexcept : scope_(scope) {}
  EventCount(const EventCount&) = delete;
  EventCount& operator=(const EventCount&) = delete;

  using Key = std::uint32_t;

  Key prepare_wait() noexcept {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    return epoch_.load(std::memory_order_seq_cst);
  }
  void cancel_wait() noexcept { waiters_.fetch_sub(1, std::memory_order_relaxed); }
  /// Sleeps unless a notify happened since prepare_wait(); ends the wait either way.
  /// Returns false when the deadline passed.
  bool wait(Key key, Deadline deadline = Deadline::never()) noexcept {
    bool in_time = true;
    while (epoch_.load(std::memory_order_acquire) == key) {
      if (!futex_wait(epoch_, key, deadline, scope_)) {
        in_time = false;
        break;
      }
    }
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return in_time || epoch_.load(std::memory_order_acquire) != key;
  }

  void notify_one() noexcept { notify(1); }
  void notify_all() noexcept { notify(std::numeric_limits<int>::max()); }
  void notify(int n) noexcept {
    seq_cst_fence();
    if (waiters_.load(std::memory_order_seq_cst) == 0) return;
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(epoch_, n, scope_);
  }
  bool has_waiters() const noexcept {
    seq_cst_fence();
    return waiters_.load(std::memory_order_seq_cst) != 0;
  }

 private:
  alignas(8) std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> waiters_{0};
  Scope scope_;
};

/// Waits until `cond()` is true or the deadline passes, through `ec`. Returns cond()'s
/// final truth (so a condition that became true exactly at the deadline still counts).
template <class Cond>
bool await(EventCount& ec, Cond&& cond, Deadline deadline = Deadline::never()) {
  for (;;) {
    if (cond()) return true;
    auto key = ec.prepare_wait();
    if (cond()) {
      ec.cancel_wait();
      return true;
    }
    if (!ec.wait(key, deadline) && deadline.expired()) return cond();
  }
}

}  // namespace tandem::detail
