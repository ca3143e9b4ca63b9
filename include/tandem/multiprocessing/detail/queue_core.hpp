// SPDX-License-Identifier: MIT
// tandem::mp::detail::QueueCore — Python's queue semantics (blocking, timeouts, Full/Empty,
// 3.13 shutdown, task_done/join) over a ByteRing of serialized records. The typed front
// ends (mp::Queue<T>, JoinableQueue<T>, SimpleQueue<T>) serialize and call in here; the
// specification is in queue.hpp.
//
// Waking. Three process-shared Notifiers (notifier.hpp) live in the ring's control block:
// not_empty (getters sleep there), not_full (putters), all_done (join). A put notifies one
// getter, a get one putter, and a notify costs a load (plus a fence off x86-64) unless
// someone sleeps, so a busy peer is never woken (a kernel wake is ~5 us). Before sleeping,
// a waiter spins briefly and yields a few times (see detail::await in notifier.hpp).
// Records differ in size, so a woken putter may still not fit and sleep again: futex
// wakes in FIFO order, so the next get wakes the next putter, and an empty ring has room
// for any record — no putter waits forever while gets go on.
//
// Crash and wake-ups. A process killed after a notify picked it, but before it acted, takes
// that wake-up with it. Sleeps are therefore cut into slices of kRecheck: a waiter re-checks
// its condition at least that often, so a lost wake-up costs at most kRecheck of latency,
// never a hang. (An idle waiter costs a few futex calls a second — not a spin.)
#pragma once

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>

#include "tandem/detail/notifier.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/detail/byte_ring.hpp"

namespace tandem::mp::detail {

inline constexpr std::chrono::milliseconds kRecheck{250};

/// Wakes a sleeper of `n` after a put or get has published and released its robust lock.
/// The wake-up check needs a StoreLoad fence between the publishing store and the load of
/// the sleeper count (Dekker, notifier.hpp). On x86-64 the unlock that just ran is a locked
/// RMW (glibc unlocks a robust mutex with xchg/cmpxchg: it must see FUTEX_WAITERS), and a
/// locked instruction is a full barrier (Intel SDM vol. 3 §9.2.2, AMD APM vol. 2 §7.4.2),
/// so the fence is already paid; a second one costs a store-buffer drain per item (measured:
/// ~half of a put's time in a 1→1 process stream). Elsewhere the fence is issued.
inline void notify_after_unlock(Notifier& n) noexcept {
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
  std::atomic_signal_fence(std::memory_order_seq_cst);
  n.notify_one_fenced();
#else
  n.notify_one();
#endif
}

/// multiprocessing.Queue's rule (docs/multiprocessing.md#timeouts): a negative (or NaN) timeout
/// counts as 0 — no ValueError, unlike queue.Queue.
template <class Rep, class Period>
Deadline mp_deadline(std::chrono::duration<Rep, Period> timeout) noexcept {
  double s = std::chrono::duration_cast<duration>(timeout).count();
  if (std::isnan(s) || s < 0) s = 0;
  return Deadline::after(duration(s));
}

/// Waits until cond() or the deadline, in slices of kRecheck (see above). Returns cond().
template <class Cond>
bool await_sliced(Notifier& n, Cond&& cond, Deadline deadline) {
  if (tandem::detail::spin_briefly(cond, 16)) return true;
  for (int i = 0; i < tandem::detail::kAwaitYields && !deadline.expired(); ++i) {
    ::sched_yield();
    if (cond()) return true;
  }
  for (;;) {
    auto key = n.prepare_wait();
    if (cond()) {
      n.cancel_wait(key);
      return true;
    }
    Deadline slice = Deadline::after(duration(kRecheck));
    if (!deadline.is_never() && deadline.time_point() < slice.time_point()) slice = deadline;
    n.wait(key, slice);
    if (cond()) return true;
    if (deadline.expired()) return false;
  }
}

class QueueCore {
 public:
  enum class Got : std::uint8_t { item, empty, closed };

  QueueCore(std::size_t maxsize, std::size_t ring_bytes) : ring_(maxsize, ring_bytes) {}
  /// Adopts an existing ring's region (mp::Manager's queues in processes started earlier).
  explicit QueueCore(SharedRegion region) : ring_(std::move(region)) {}

  /// Publishes a record of `len` bytes written by `write`. ShutDown, Full, ValueError.
  template <class Write>
  void put(std::size_t len, Write&& write, Deadline deadline, bool block) {
    check_open();
    if (len > ring_.max_payload()) throw_too_large(len);
    if (ring_.state() != RingControl::kOpen) throw ShutDown();  // Python: at entry
    RingControl& c = ring_.control();
    for (;;) {
      switch (ring_.try_push(len, write, deadline)) {
        case ByteRing::Push::ok:
          notify_after_unlock(c.not_empty);
          return;
        case ByteRing::Push::shut:
          throw ShutDown();
        case ByteRing::Push::timeout:
          throw Full();
        case ByteRing::Push::too_large:  // checked above; try_push never reports it
          throw_too_large(len);
        case ByteRing::Push::full:
          break;
      }
      if (!block || deadline.expired()) throw Full();
      await_sliced(c.not_full, [&] { return ring_.can_push(len); }, deadline);
    }
  }

  /// Takes the oldest record into `read`. item / empty (non-blocking or timed out) /
  /// closed (shut down and drained, or shut down immediately).
  template <class Read>
  Got get(Read&& read, Deadline deadline, bool block) {
    check_open();
    RingControl& c = ring_.control();
    for (;;) {
      bool drained = false;
      switch (ring_.try_pop(read, deadline, drained)) {
        case ByteRing::Pop::item:
          notify_after_unlock(c.not_full);
          return Got::item;
        case ByteRing::Pop::closed:
          return Got::closed;
        case ByteRing::Pop::timeout:
          return Got::empty;
        case ByteRing::Pop::empty:
          break;
      }
      if (!block || deadline.expired()) return Got::empty;
      await_sliced(c.not_empty, [&] { return ring_.can_pop(); }, deadline);
    }
  }

  /// Batch put (mp::Queue::put_many): publishes records 0…n-1 in order, one put_lock hold
  /// per run of records that fit, sleeping as put() while the ring is full. Returns n, or
  /// fewer when the deadline passed (or !block and the ring filled up). ShutDown when the queue is
  /// shut down, ValueError at a record larger than
  /// max_item_bytes(), any exception of size/write: each after publishing the records before.
  template <class Size, class Write>
  std::size_t put_many(std::size_t n, Size&& size, Write&& write, Deadline deadline, bool block) {
    check_open();
    if (n == 0) return 0;
    if (ring_.state() != RingControl::kOpen) throw ShutDown();
    RingControl& c = ring_.control();
    std::size_t done = 0;
    for (;;) {
      ByteRing::Push st = ByteRing::Push::ok;
      const std::size_t before = done;
      try {
        done = ring_.try_push_many(done, n, size, write, deadline, st);
      } catch (...) {
        notify_after_unlock(c.not_empty);  // a prefix may have been published
        throw;
      }
      if (done != before) notify_after_unlock(c.not_empty);
      switch (st) {
        case ByteRing::Push::ok:
          return done;
        case ByteRing::Push::shut:
          throw ShutDown();
        case ByteRing::Push::timeout:
          return done;
        case ByteRing::Push::too_large:
          throw_too_large(size(done));
        case ByteRing::Push::full:
          break;
      }
      if (!block || deadline.expired()) return done;
      const std::size_t len = size(done);
      await_sliced(c.not_full, [&] { return ring_.can_push(len); }, deadline);
    }
  }

  /// Batch get (mp::Queue::get_many): waits as get() for a first record, then takes up to
  /// `max` under one get_lock hold. Returns how many were read (0: empty — non-blocking or
  /// timed out — or closed, told apart by `got`).
  template <class Read>
  std::size_t get_many(std::size_t max, Read&& read, Deadline deadline, bool block, Got& got) {
    check_open();
    got = Got::empty;
    if (max == 0) return 0;
    RingControl& c = ring_.control();
    for (;;) {
      ByteRing::Pop st = ByteRing::Pop::item;
      std::size_t k = 0;
      try {
        k = ring_.try_pop_many(max, read, deadline, st);
      } catch (...) {
        notify_after_unlock(c.not_full);
        throw;
      }
      switch (st) {
        case ByteRing::Pop::item:
          notify_after_unlock(c.not_full);
          got = Got::item;
          return k;
        case ByteRing::Pop::closed:
          got = Got::closed;
          return 0;
        case ByteRing::Pop::timeout:
          return 0;
        case ByteRing::Pop::empty:
          break;
      }
      if (!block || deadline.expired()) return 0;
      await_sliced(c.not_empty, [&] { return ring_.can_pop(); }, deadline);
    }
  }

  /// ValueError for a record larger than the ring takes (put and put_many).
  [[noreturn]] void throw_too_large(std::size_t len) const {
    throw ValueError("item of " + std::to_string(len) +
                     " bytes serialized is larger than the queue's record limit of " +
                     std::to_string(ring_.max_payload()) + " bytes (half of ring_bytes)");
  }

  void task_done() {
    check_open();
    switch (ring_.task_done()) {
      case ByteRing::TaskDone::too_many:
        throw ValueError("task_done() called too many times");
      case ByteRing::TaskDone::all_done:
        ring_.control().all_done.notify_all();
        break;
      case ByteRing::TaskDone::ok:
        break;
    }
  }
  bool join(Deadline deadline) {
    return await_sliced(ring_.control().all_done, [&] { return ring_.unfinished() == 0; },
                        deadline);
  }

  void shutdown(bool immediate) {
    check_open();
    const bool discarded = ring_.shut(immediate);
    RingControl& c = ring_.control();
    c.not_full.notify_all();
    c.not_empty.notify_all();
    if (discarded || immediate) c.all_done.notify_all();
  }
  bool is_shutdown() const noexcept { return ring_.state() != RingControl::kOpen; }

  /// This handle (this process's copy) will no longer be used: later calls through it raise
  /// ValueError("Queue is closed"). Other processes are not affected (as Python's close()).
  void close() noexcept { closed_.store(true, std::memory_order_release); }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  std::size_t qsize() const noexcept { return ring_.size(); }
  std::size_t maxsize() const noexcept { return ring_.maxsize(); }
  std::size_t unfinished_tasks() const noexcept { return ring_.unfinished(); }
  std::size_t ring_bytes() const noexcept { return ring_.capacity(); }
  std::size_t max_item_bytes() const noexcept { return ring_.max_payload(); }
  const ByteRing& ring() const noexcept { return ring_; }

 private:
  void check_open() const {
    if (closed()) throw ValueError("Queue is closed");
  }

  ByteRing ring_;
  std::atomic<bool> closed_{false};
};

}  // namespace tandem::mp::detail
