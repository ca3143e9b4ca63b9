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

class Condition : public detail::Lockable<Condition> {
 public:
  /// Owns a fresh RLock, as Python's Condition() does.
  Condition() noexcept : rlock_(&own_) {}
  /// Uses `lock`, which must outlive the Condition.
  explicit Condition(Lock& lock) noexcept : lock_(&lock) {}
  explicit Condition(RLock& lock) noexcept : rlock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  // The underlying lock, forwarded (Python's acquire/release/__enter__/__exit__).
  bool acquire(bool blocking = true) {
    return rlock_ ? rlock_->acquire(blocking) : lock_->acquire(blocking);
  }
  bool acquire(duration timeout) {
    return rlock_ ? rlock_->acquire(timeout) : lock_->acquire(timeout);
  }
  void release() { rlock_ ? rlock_->release() : lock_->release(); }
  bool locked() const noexcept { return rlock_ ? rlock_->locked() : lock_->locked(); }

  /// Releases the lock, sleeps until notified, re-acquires the lock. Returns true.
  bool wait() { return wait_until(detail::Deadline::never()); }
  /// As wait(), for at most `timeout` (negative counts as 0): false when it expired.
  bool wait(duration timeout) { return wait_until(detail::clamped_deadline(timeout)); }

  /// Waits until pred() is true; pred is evaluated first, with the lock held.
  template <class Pred>
  bool wait_for(Pred pred) {
    bool result = static_cast<bool>(pred());
    while (!result) {
      wait();
      result = static_cast<bool>(pred());
    }
    return result;
  }
  /// As wait_for(pred), with one deadline for the whole call; returns pred()'s last value.
  template <class Pred>
  bool wait_for(Pred pred, duration timeout) {
    const detail::Deadline deadline = detail::clamped_deadline(timeout);
    bool result = static_cast<bool>(pred());
    // Python waits once even with a zero timeout (wait(0) lets other threads take the
    // lock), then re-checks, then gives up once the deadline has passed.
    for (bool first = true; !result; first = false) {
      if (!first && deadline.expired()) break;
      wait_until(deadline);
      result = static_cast<bool>(pred());
    }
    return result;
  }

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
    RLock::SavedState saved{0};
    if (rlock_) {
      saved = rlock_->release_save();
    } else {
      lock_->release();
    }
    bool notified = false;
    for (;;) {
      if (w.word.load(std::memory_order_acquire) != 0) {
        notified = true;
        break;
      }
      if (!detail::futex_wait(w.word, 0, deadline) && deadline.expired()) break;
    }
    if (rlock_) {
      rlock_->acquire_restore(saved);
    } else {
      lock_->lock();
    }
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
  Lock* lock_ = nullptr;     // exactly one of lock_ / rlock_ is set
  RLock* rlock_ = nullptr;
  Waiter* head_ = nullptr;   // longest waiter; guarded by the user's lock
  Waiter* tail_ = nullptr;
};

}  // namespace tandem
