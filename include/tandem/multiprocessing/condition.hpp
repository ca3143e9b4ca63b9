// SPDX-License-Identifier: MIT
// tandem::mp::Condition — multiprocessing.Condition, in shared memory
// (docs/multiprocessing.md#synchronization-primitives, docs/threading.md#condition).
//
// Guarantees
//  * FIFO notify and no spurious wake-ups, as tandem::Condition (and stronger than Python's
//    multiprocessing.Condition, which is neither FIFO nor exact with timeouts): notify(n)
//    wakes the n processes/threads that have waited longest — exactly n when at least n
//    wait; wait() returns true only after a notify() chose this waiter, false only when its
//    timeout expired; a waiter chosen by notify() keeps its wake-up even if its timeout
//    expires before it runs again.
//  * wait() releases the lock completely (an RLock held recursively too) and re-acquires it
//    at the same level before returning, on notify and on timeout alike.
//  * wait()/notify() by a thread that does not hold the lock: RuntimeError("cannot wait on
//    un-acquired lock") / ("cannot notify on un-acquired lock") — exact for both lock types,
//    since the robust locks know their owner (Python's multiprocessing: AssertionError).
// Design: the thread version's on-stack waiter nodes cannot be seen by another process, so
//  the nodes are slots of a fixed table in the shared region: each slot has its own 32-bit
//  futex word, and slots are linked into a FIFO list by 16-bit indices (no pointers). The
//  list is guarded by the user's lock, as in tandem::Condition; notify() unlinks the oldest
//  slot, stores 1 into its word and wakes it; the waiter frees its slot itself after it
//  re-acquired the lock, so a word is never reused while its owner may still read it.
// Limits: at most kMaxWaiters (1024) threads wait at once on one Condition; one more throws
//  RuntimeError("too many waiters on an mp::Condition").
// Crash safety: the lock is robust (a process killed holding it never wedges the others).
//  A process killed while waiting leaves its slot queued; each slot records its waiter's pid,
//  and notify() checks the oldest slot's process with kill(pid, 0): a slot whose process is
//  gone (ESRCH) is unlinked and freed without counting, so notify(n) still wakes n live
//  waiters (Python's multiprocessing.Condition loses the wake-up, or hangs notify(), there).
//  Limits of the check: a killed child that its parent has not reaped yet (a zombie) still
//  counts as alive, and so does a dead waiter's pid once the system reuses it — then that
//  notify wakes one fewer live waiter, as without the check. A process killed after notify()
//  chose it but before it re-acquired the lock cannot free its slot; chosen slots stay on a
//  "woken" list until their waiter frees them, and a wait() that finds no free slot first
//  frees the woken slots whose process is gone (so such deaths never exhaust the table).
//  tests/multiprocessing/condition_fault_test.cpp kills waiters with SIGKILL.
// Memory ordering: everything goes through the lock; a notified waiter returns holding it.
// Cost: notify() with nobody waiting is an ownership check and a load; waking a waiter is one
//  kill(pid, 0) (the liveness check, ~0.3 µs) and one futex wake; wait() adds a getpid().
//  One region (4 pages) per Condition, plus the default RLock's.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>

#include "tandem/detail/condition_lock.hpp"
#include "tandem/detail/condition_waits.hpp"
#include "tandem/detail/lockable.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/lock.hpp"
#include "tandem/multiprocessing/rlock.hpp"
#include "tandem/multiprocessing/detail/shared_region.hpp"

namespace tandem::mp {
namespace detail {

struct ConditionState {
  static constexpr std::uint16_t kMaxWaiters = 1024;
  static constexpr std::uint16_t kNone = 0xffff;

  ConditionState() noexcept {
    for (std::uint16_t i = 0; i < kMaxWaiters; ++i) next[i] = i + 1 < kMaxWaiters ? i + 1 : kNone;
    free_head = 0;
  }

  std::atomic<std::uint32_t> word[kMaxWaiters] = {};  // 1 once notify() chose the slot
  std::uint16_t next[kMaxWaiters];  // FIFO links while queued; free-list links when free
  std::uint16_t prev[kMaxWaiters] = {};
  std::int32_t owner[kMaxWaiters] = {};  // pid of the process waiting in a queued slot
  std::uint16_t head = kNone, tail = kNone, free_head = kNone;
  std::uint16_t woken_head = kNone;  // slots notify() chose, not yet freed by their waiter
};

/// A Condition together with its own RLock in one block (mp::Manager's m.Condition()).
struct ConditionBlock {
  RLockState lock;
  ConditionState cond;
};

}  // namespace detail

class Condition : public tandem::detail::ConditionLock<Lock, RLock>,
                  public tandem::detail::Lockable<Condition>,
                  public tandem::detail::ConditionWaits<Condition> {
 public:
  /// Owns a fresh mp::RLock, as Python's Condition() does.
  Condition() : own_(std::in_place), region_(make_region()), s_(state()) { rlock_ = &*own_; }
  /// Uses `lock`, which must outlive the Condition (and be shared the same way).
  explicit Condition(Lock& lock) : ConditionLock(&lock), region_(make_region()), s_(state()) {}
  explicit Condition(RLock& lock) : ConditionLock(&lock), region_(make_region()), s_(state()) {}
  /// A handle on a ConditionBlock that lives elsewhere (mp::Manager maps it from a memfd
  /// another process made); its lock is the block's RLock. Not owning: the block must stay
  /// mapped while the handle lives.
  explicit Condition(detail::ConditionBlock& block) : s_(&block.cond) {
    own_.emplace(block.lock);
    rlock_ = &*own_;
  }
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  // acquire(), acquire(timeout), release(), locked() (any thread of any process; a snapshot):
  // the underlying lock's (tandem::detail::ConditionLock).

  // wait(), wait(timeout), wait_for(pred), wait_for(pred, timeout): detail::ConditionWaits,
  // over wait_until() below.

  /// Wakes the n longest waiters (fewer if fewer wait; n <= 0 wakes none).
  void notify(std::int64_t n = 1) {
    if (!is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
    while (n > 0 && s_->head != kNone) {
      const std::uint16_t i = s_->head;
      unlink(i);
      if (owner_gone(s_->owner[i])) {  // killed while waiting: nobody will free the slot
        free_slot(i);
        continue;
      }
      --n;
      push_woken(i);
      s_->word[i].store(1, std::memory_order_release);
      tandem::detail::futex_wake(s_->word[i], 1, tandem::detail::Scope::shared);
    }
  }
  void notify_all() { notify(INT64_MAX); }

 private:
  friend class tandem::detail::ConditionWaits<Condition>;
  static constexpr std::uint16_t kNone = detail::ConditionState::kNone;

  static detail::SharedRegion make_region() {
    return detail::make_shared_state<detail::ConditionState>();
  }
  detail::ConditionState* state() const noexcept {
    return region_.at<detail::ConditionState>();
  }
  bool is_owned() const noexcept { return rlock_ ? rlock_->is_owned() : lock_->is_owned(); }

  /// Whether the process that queued a slot no longer exists (reaped). Keeps errno.
  static bool owner_gone(std::int32_t pid) noexcept { return detail::process_gone(pid); }
  void free_slot(std::uint16_t i) noexcept {
    s_->next[i] = s_->free_head;
    s_->free_head = i;
  }

  void push_woken(std::uint16_t i) noexcept {
    s_->prev[i] = kNone;
    s_->next[i] = s_->woken_head;
    if (s_->woken_head != kNone) s_->prev[s_->woken_head] = i;
    s_->woken_head = i;
  }
  void unlink_woken(std::uint16_t i) noexcept {
    const std::uint16_t p = s_->prev[i], n = s_->next[i];
    (p != kNone ? s_->next[p] : s_->woken_head) = n;
    if (n != kNone) s_->prev[n] = p;
  }
  /// Frees the woken slots whose waiter's process died before it could free them itself.
  void reclaim_woken() noexcept {
    for (std::uint16_t i = s_->woken_head; i != kNone;) {
      const std::uint16_t n = s_->next[i];
      if (owner_gone(s_->owner[i])) {
        unlink_woken(i);
        free_slot(i);
      }
      i = n;
    }
  }

  void unlink(std::uint16_t i) noexcept {
    const std::uint16_t p = s_->prev[i], n = s_->next[i];
    (p != kNone ? s_->next[p] : s_->head) = n;
    (n != kNone ? s_->prev[n] : s_->tail) = p;
  }

  bool wait_until(tandem::detail::Deadline deadline) {
    if (!is_owned()) throw RuntimeError("cannot wait on un-acquired lock");
    if (s_->free_head == kNone) reclaim_woken();
    const std::uint16_t i = s_->free_head;
    if (i == kNone) throw RuntimeError("too many waiters on an mp::Condition");
    s_->free_head = s_->next[i];
    s_->word[i].store(0, std::memory_order_relaxed);
    s_->owner[i] = static_cast<std::int32_t>(::getpid());
    s_->prev[i] = s_->tail;
    s_->next[i] = kNone;
    (s_->tail != kNone ? s_->next[s_->tail] : s_->head) = i;
    s_->tail = i;
    // Nothing throws from here to the re-acquire: ownership was checked above.
    const Saved saved = release_all();
    bool notified = false;
    for (;;) {
      if (s_->word[i].load(std::memory_order_acquire) != 0) {
        notified = true;
        break;
      }
      if (!tandem::detail::futex_wait(s_->word[i], 0, deadline, tandem::detail::Scope::shared) &&
          deadline.expired())
        break;
    }
    reacquire(saved);
    // Under the lock again: a notify that came after our timeout still counts.
    if (!notified) {
      if (s_->word[i].load(std::memory_order_relaxed) != 0) {
        notified = true;
      } else {
        unlink(i);
      }
    }
    if (notified) unlink_woken(i);
    free_slot(i);
    return notified;
  }

  std::optional<RLock> own_;  // the lock of Condition() / Condition(block); empty otherwise
  detail::SharedRegion region_;  // empty for a handle on a ConditionBlock
  detail::ConditionState* s_;
};

}  // namespace tandem::mp
