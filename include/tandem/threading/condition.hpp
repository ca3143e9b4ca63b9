// SPDX-License-Identifier: MIT
// tandem::Condition — threading.Condition (docs/threading.md#condition,
// docs/threading.md#wake-up-guarantees).
//
// Guarantees (each one asserted by CPython's lock_tests.ConditionTests)
//  * No spurious wake-ups: wait() returns true only after a notify() chose this waiter,
//    false only when its timeout expired.
//  * FIFO notify: notify(n) wakes the n threads that have waited longest — exactly n when
//    at least n wait; notify_all() wakes every thread waiting at the time of the call.
//  * A waiter chosen by notify() keeps its wake-up even if its timeout expires before it
//    runs again: it returns true.
//  * wait() releases the lock completely — an RLock held recursively too — and re-acquires
//    it at the same recursion level before returning, on notify and on timeout alike.
//  * wait()/notify() without holding the lock throw RuntimeError("cannot wait on
//    un-acquired lock") / ("cannot notify on un-acquired lock").
// Design: every waiting thread has its own node, on its own stack, with its own 32-bit
//  futex word, linked into an intrusive FIFO list. The list is guarded by the user's lock
//  (Python's contract: wait and notify hold it), so Condition adds no lock of its own.
//  notify() unlinks a node, stores 1 into its word and wakes that word — while still
//  holding the lock, which is what keeps the node alive: its owner cannot return from
//  wait() before it has re-acquired the lock. A waiter that times out re-acquires the lock
//  and then either finds its word set (it was notified: true) or unlinks itself (false).
//  Because the nodes live on stacks, this Condition is process-local; the process-shared
//  one (multiprocessing.Condition) needs a pointer-free ticket design and comes separately.
// Ownership check with a plain Lock: like Python, "held" can only mean "locked" (a Lock
//  has no owner). Calling wait()/notify() while *another* thread holds the Lock passes the
//  check but is a programming error: in Python it releases the other thread's lock; here
//  it also races on the waiter list — undefined behaviour. With an RLock (the default) the
//  check is exact.
// Memory ordering: everything goes through the lock; a notified waiter returns holding it.
// Cost: notify() with nobody waiting is one ownership check and one load; waking a waiter
//  is one futex wake. A woken waiter then competes for the lock the notifier still holds.
// Differences from Python: wait_for returns bool (C++ has no truthy values); timeouts are
//  std::chrono durations, a negative one counts as 0 (as Python).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>

#include "tandem/detail/condition_lock.hpp"
#include "tandem/detail/condition_waits.hpp"
#include "tandem/detail/lockable.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"
#include "tandem/threading/lock.hpp"
#include "tandem/threading/rlock.hpp"

namespace tandem {
namespace detail {
struct SyncTestPeer;  // defined by the tests only
}  // namespace detail

class Condition : public detail::ConditionLock<Lock, RLock>,
                  public detail::Lockable<Condition>,
                  public detail::ConditionWaits<Condition> {
 public:
  /// Owns a fresh RLock, as Python's Condition() does.
  Condition() noexcept : ConditionLock(&own_) {}
  /// Uses `lock`, which must outlive the Condition.
  explicit Condition(Lock& lock) noexcept : ConditionLock(&lock) {}
  explicit Condition(RLock& lock) noexcept : ConditionLock(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  // acquire(), acquire(timeout), release(), locked(): the underlying lock's (ConditionLock).

  // wait(), wait(timeout), wait_for(pred), wait_for(pred, timeout): detail::ConditionWaits,
  // over wait_until() below.

  /// Wakes the n longest-waiting threads (fewer if fewer wait; n <= 0 wakes none).
  void notify(std::int64_t n = 1) {
    if (!is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
    for (; n > 0 && head_ != nullptr; --n) {
      Waiter* w = head_;
      unlink(w);
      w->word.store(1, std::memory_order_release);
      // Still under the lock: `w` stays alive until we release it (see the design note).
      detail::futex_wake(w->word, 1);
    }
  }
  /// Wakes every thread waiting now.
  void notify_all() { notify(INT64_MAX); }

 private:
  friend class detail::ConditionWaits<Condition>;
  friend struct detail::SyncTestPeer;

  struct Waiter {
    std::atomic<std::uint32_t> word{0};  // 1 once notify() chose this waiter
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
  };

  bool is_owned() const noexcept { return rlock_ ? rlock_->is_owned() : lock_->locked(); }

  void unlink(Waiter* w) noexcept {
    (w->prev ? w->prev->next : head_) = w->next;
    (w->next ? w->next->prev : tail_) = w->prev;
    w->prev = w->next = nullptr;
  }

  bool wait_until(detail::Deadline deadline) {
    if (!is_owned()) throw RuntimeError("cannot wait on un-acquired lock");
    Waiter w;
    w.prev = tail_;
    (tail_ ? tail_->next : head_) = &w;
    tail_ = &w;
    // From here to the re-acquire nothing throws: the owner check above makes
    // release_save()/release() succeed, and the re-acquire cannot fail.
    const Saved saved = release_all();
    bool notified = false;
    for (;;) {
      if (w.word.load(std::memory_order_acquire) != 0) {
        notified = true;
        break;
      }
      if (!detail::futex_wait(w.word, 0, deadline) && deadline.expired()) break;
    }
    reacquire(saved);
    // Under the lock again: a notify that came after our timeout still counts.
    if (!notified) {
      if (w.word.load(std::memory_order_relaxed) != 0) {
        notified = true;
      } else {
        unlink(&w);
      }
    }
    return notified;
  }

  RLock own_;                // the lock of Condition(); unused otherwise
  Waiter* head_ = nullptr;   // longest waiter; guarded by the user's lock
  Waiter* tail_ = nullptr;
};

}  // namespace tandem
