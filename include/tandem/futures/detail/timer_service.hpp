// SPDX-License-Identifier: MIT
// <tandem/futures/detail/timer_service.hpp> — the one timer thread of the process, behind every
// executor's call_later/call_at/call_every and the thread pool's per-task timeouts (detail).
//
// Design
//  * A 4-ary min-heap (src/futures/timer_heap.hpp: half the depth of a binary one, so half
//    the cache misses per pop) of (due, sequence, node) entries under one FutexMutex: the keys live in
//    the heap's array, so sifting never touches the nodes (a million timers stay cache-
//    friendly). cancel() marks a node (one CAS: queued -> cancelled) and leaves its entry; the
//    entry is discarded when it reaches the top, or sooner when cancelled entries outnumber
//    the live ones (the heap is then rebuilt without them, as asyncio does), so a task that
//    finishes inside a long timeout does not keep its memory for long: at most as many dead
//    entries as live ones.
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
// Cost: add O(log n) under the lock, cancel one CAS (plus, rarely, an O(n) rebuild); no
// allocation besides the heap's growth.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tandem::detail {

/// What an executor's timers share: closed by the executor's shutdown.
struct TimerOwner {
  std::atomic<bool> closed{false};
};

/// A timer. The service holds a reference to it while it is queued, handed to exactly one of
/// fire(), drop() or discard() when its entry leaves the queue (the node then belongs to the
/// callee). A node may be queued again after fire() (a periodic timer).
struct TimerNode {
  enum : std::uint8_t { kIdle = 0, kQueued = 1, kCancelled = 2, kFiring = 3 };
  std::atomic<std::uint8_t> timer_state{kIdle};
  TimerOwner* owner = nullptr;  // nullptr: no executor (a task's timeout)

  /// Due: runs on the timer thread, outside the lock. Must not block or run user code.
  virtual void fire() noexcept = 0;
  /// Removed unfired by its owner's close: cancel what it stands for and let go.
  virtual void drop() noexcept = 0;
  /// The entry of a node cancel()ed earlier leaves the queue: let go of the queue's reference.
  virtual void discard() noexcept = 0;

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
  /// Stops `n` from firing: true when it was queued (its entry is discarded later, through
  /// n->discard()); false when it already fired, is firing, or is not queued.
  bool cancel(TimerNode* n) noexcept;
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
