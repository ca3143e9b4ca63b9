// SPDX-License-Identifier: MIT
// <tandem/futures/detail/timer_service.hpp> — the one timer thread of the process, behind every
// executor's call_later/call_at/call_every and the thread pool's per-task timeouts (detail).
//
// Design
//  * A binary min-heap of (due, sequence, node) under one FutexMutex; each node remembers its
//    heap position, so removing a timer before it fires (a task that finished inside its
//    timeout, PeriodicHandle::cancel, an executor's shutdown) is O(log n) and frees it at once
//    instead of keeping it until its deadline.
//  * One thread, started by the first timer, sleeps in the waiting layer (futex_wait with the
//    next deadline) — 0% CPU when idle. add() wakes it only when the new timer is due before
//    the time the thread sleeps until, so a burst of later timers costs no system call.
//  * Due timers are taken out in batches under the lock and fired outside it, in deadline
//    order (ties: in order of add()). fire() never runs user code: it hands a task to an
//    executor (or fails a future), so one slow callback cannot delay the other timers.
//  * Owners: each executor has a TimerOwner. close_owner() (the executor's shutdown) refuses
//    new timers of that owner, removes its queued ones (their futures are cancelled), and waits
//    for a batch being fired at that moment, so no node touches the executor afterwards.
//  * fork(): the child starts with an empty service (the parent's timers belong to the
//    parent's executors, unusable there); its first timer starts a new thread.
// Cost: add/remove O(log n) under the lock; no allocation besides the heap's growth.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tandem::detail {

/// What an executor's timers share: closed by the executor's shutdown.
struct TimerOwner {
  std::atomic<bool> closed{false};
};

/// A timer. The service holds a reference to it while it is queued, handed to fire() or
/// drop() when it leaves the queue (the node then belongs to the callee).
struct TimerNode {
  std::int64_t due = 0;         // steady clock, nanoseconds
  std::uint64_t seq = 0;        // order of add(), for ties
  std::int64_t heap_index = -1;  // guarded by the service's lock; -1: not queued
  TimerOwner* owner = nullptr;  // nullptr: no executor (a task's timeout)

  /// Due: runs on the timer thread, outside the lock. Must not block or run user code.
  virtual void fire() noexcept = 0;
  /// Removed unfired by its owner's close: cancel what it stands for and let go.
  virtual void drop() noexcept = 0;

 protected:
  ~TimerNode() = default;
};

inline std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
inline std::int64_t to_ns(std::chrono::steady_clock::time_point tp) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
}

class TimerService {
 public:
  /// The process's service (created on first use, never destroyed: timers may be added
  /// during static destruction).
  static TimerService& instance();

  /// Queues `n` to fire at `due_ns`. RuntimeError("cannot schedule new futures after
  /// shutdown") when its owner is closed (the node is not taken then).
  void add(TimerNode* n, std::int64_t due_ns);
  /// Takes `n` out of the queue; true when it was queued (the caller then holds the queue's
  /// reference), false when it already fired, is firing, or was never added.
  bool remove(TimerNode* n) noexcept;
  /// The executor's shutdown: refuses its new timers, drops the queued ones, and waits until
  /// no fire() of this owner is under way (unless called from the timer thread itself).
  void close_owner(TimerOwner& o) noexcept;
  /// Timers queued now (tests, diagnostics).
  std::size_t size() const noexcept;

  class Impl;

 private:
  TimerService() = default;
};

}  // namespace tandem::detail
