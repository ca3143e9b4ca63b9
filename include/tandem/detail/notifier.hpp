// SPDX-License-Identifier: MIT
// <tandem/detail/notifier.hpp> — an event count whose notify consumes the waiters it wakes.
//
// Same protocol as detail::EventCount (prepare_wait / re-check / wait, see eventcount.hpp),
// but the waiter count and the epoch share one 64-bit word (folly::EventCount's layout:
// waiters in the high half, the futex epoch in the low half), so a notify can take the
// waiters it wakes off the count in the same atomic step that bumps the epoch.
//
// Why: a queue notifies on every put and every get. With a plain event count, once a
// sleeper exists every notify pays a futex_wake system call until the woken thread has been
// scheduled and has taken itself off the count — on a loaded 2-core machine that can be a
// whole time slice of useless system calls. Here the first notify consumes the sleeper and
// the following ones cost one fence and one load again.
//
// Invariant: the count is >= the number of threads asleep (or about to sleep) on the current
// epoch. notify_one() removes one unit, bumps the epoch and wakes one sleeper; every waiter
// prepared before the bump returns from wait() (perhaps spuriously) and re-checks its
// condition. A waiter returns its unit itself only when it leaves with the epoch unchanged
// (cancel_wait, or timed out with no notify): its unit is then certainly still counted.
// Stale units (a waiter that returned spuriously after a notify_one) are consumed by the next
// notify, costing one needless wake, never a lost one.
//
// A waiter that was woken but then finds nothing (its resource was taken by a running
// thread) loops and waits again; a waiter that times out after being woken must re-check its
// condition before giving up (the queue does: it always tries the operation once more), so a
// wake meant for an available resource is never dropped.
//
// Memory ordering: Dekker, as in EventCount: prepare_wait() is a seq_cst RMW followed by a
// fence, notify is a fence followed by a load. For Scope::local the fences are the two
// halves of an asymmetric fence (asymmetric_fence.hpp): the waiter, which is about to sleep
// anyway, pays a membarrier(2) (~0.5 us), and every notify only a compiler barrier. For
// Scope::shared (other processes) both are seq_cst fences.
//
// Layout: one 64-bit word; futex(2) waits on its low 32 bits (little-endian only), so it is
// pointer-free and may live in shared memory (Scope::shared).
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

#include "tandem/detail/asymmetric_fence.hpp"
#include "tandem/detail/wait.hpp"

namespace tandem::detail {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "Notifier waits on the low half of a 64-bit word");

class Notifier {
 public:
  explicit Notifier(Scope scope = Scope::local) noexcept : scope_(scope) {
    if (scope == Scope::local) asymmetric_fences();  // decide now, not on a hot path
  }
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  using Key = std::uint32_t;

  Key prepare_wait() noexcept {
    std::uint64_t s = state_.fetch_add(kWaiter, std::memory_order_seq_cst);
    if (scope_ == Scope::local) {
      heavy_fence();
    } else {
      seq_cst_fence();
    }
    return epoch(s);
  }

  /// The caller found its condition true after prepare_wait(): withdraw.
  void cancel_wait(Key key) noexcept { withdraw(key); }

  /// Sleeps until a notify after prepare_wait() or the deadline. Returns false only on
  /// timeout with no notify; the caller re-checks its condition either way.
  bool wait(Key key, Deadline deadline = Deadline::never()) noexcept {
    while (epoch(state_.load(std::memory_order_acquire)) == key) {
      if (!futex_wait(word(), key, deadline, scope_)) return !withdraw(key);
    }
    return true;
  }

  void notify_one() noexcept {
    waker_fence();
    notify_one_fenced();
  }
  /// The fence a waker issues between making the condition true and looking for sleepers:
  /// light_fence() for Scope::local, seq_cst_fence() for Scope::shared.
  void waker_fence() const noexcept {
    if (scope_ == Scope::local) {
      light_fence();
    } else {
      seq_cst_fence();
    }
  }
  /// notify_one() for a caller that has just issued waker_fence() (or a seq_cst fence).
  void notify_one_fenced() noexcept {
    std::uint64_t s = state_.load(std::memory_order_seq_cst);
    while (s >> 32) {
      std::uint64_t next = ((s >> 32) - 1) << 32 | static_cast<std::uint32_t>(s + 1);
      if (state_.compare_exchange_weak(s, next, std::memory_order_seq_cst,
                                       std::memory_order_relaxed)) {
        futex_wake(word(), 1, scope_);
        return;
      }
    }
  }

  /// Somebody is (about to be) asleep; for a caller that has issued waker_fence().
  bool waiting() const noexcept { return (state_.load(std::memory_order_seq_cst) >> 32) != 0; }

  void notify_all() noexcept {
    waker_fence();
    std::uint64_t s = state_.load(std::memory_order_seq_cst);
    while (s >> 32) {
      std::uint64_t next = static_cast<std::uint32_t>(s + 1);
      if (state_.compare_exchange_weak(s, next, std::memory_order_seq_cst,
                                       std::memory_order_relaxed)) {
        futex_wake(word(), std::numeric_limits<int>::max(), scope_);
        return;
      }
    }
  }

 private:
  static constexpr std::uint64_t kWaiter = std::uint64_t{1} << 32;
  static Key epoch(std::uint64_t s) noexcept { return static_cast<Key>(s); }

  // Takes this waiter's unit back if no notify happened since prepare_wait(); returns
  // whether it did.
  bool withdraw(Key key) noexcept {
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    while (epoch(s) == key && (s >> 32) != 0) {
      if (state_.compare_exchange_weak(s, s - kWaiter, std::memory_order_relaxed,
                                       std::memory_order_relaxed))
        return true;
    }
    return false;
  }

  const std::atomic<std::uint32_t>& word() const noexcept {
    // The kernel only compares the 32-bit value at this address; it is never loaded through
    // this reference in C++.
    const void* low_half = &state_;
    return *static_cast<const std::atomic<std::uint32_t>*>(low_half);
  }

  alignas(8) std::atomic<std::uint64_t> state_{0};
  Scope scope_;
};

/// How many sched_yield()s a waiter may try before sleeping. await() below uses none; the
/// constant stays for code with a yield phase of its own. Why none: yielding is a bet that the
/// CPU goes to a thread of ours, and on an overloaded machine it goes to someone else's.
/// Measured here (Linux 6.18, EEVDF scheduler, 2 vCPUs), Queue(1024) 2 producers /
/// 2 consumers beside three CPU-bound processes: with 8 yields per wait single yields took
/// up to 65-116 ms (each yield moves the yielder's deadline back a slice, and repeated yields
/// pile up) and the queue collapsed to 0.3-2 M items/s; with 2 yields, or with yields that
/// switch themselves off for a while after a slow one, it still collapsed in most runs.
/// Sleeping instead (futex; a woken thread is placed afresh) kept 12-28 M items/s there, as
/// much as moodycamel's spinning semaphore. On a quiet machine yields were worth up to ~1.5x
/// on that workload — not worth a 50x collapse.
inline constexpr int kAwaitYields = 8;

/// Waits until `cond()` is true or the deadline passes: spins briefly, then sleeps (no
/// yields: see kAwaitYields). Returns cond()'s final truth.
template <class Cond>
bool await(Notifier& n, Cond&& cond, Deadline deadline = Deadline::never()) {
  if (spin_briefly(cond)) return true;
  for (;;) {
    auto key = n.prepare_wait();
    if (cond()) {
      n.cancel_wait(key);
      return true;
    }
    if (!n.wait(key, deadline) || deadline.expired()) return cond();
    if (cond()) return true;
  }
}

}  // namespace tandem::detail
