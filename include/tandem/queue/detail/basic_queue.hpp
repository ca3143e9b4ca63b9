// SPDX-License-Identifier: MIT
// tandem::detail::BasicQueue — the Python semantics of queue.Queue (docs/queue.md)
// on top of a non-blocking engine (RingEngine, LockedEngine, FifoEngine). The public classes
// and their specification are in queue.hpp; this file says how.
//
// State besides the engine:
//   done_        Python's unfinished_tasks is engine.pushed() - done_. The engine counts
//                every accepted put itself (the ring's tail position: claimed before any
//                consumer can see the item, so join() never sees 0 while an item is queued),
//                so a put touches no counter of ours: one contended atomic less per item.
//                done_ counts task_done() calls plus items discarded by
//                shutdown(immediate=True). Invariant: done_ <= pushed() (Python's "never
//                below 0"): done_ only grows by CAS, bounded by a value of popped() or
//                pushed() read before (popped() <= pushed(), and consumers usually find
//                the bound on their own cache line, the head). join() waits for
//                done_ == pushed(), read in that order (done_ then pushed() >= done_: equal
//                means unfinished was 0 at the first read).
//   state_       0 open, 1 shut down, 3 shut down immediately (bit 2 = immediate).
//   not_empty_, not_full_, all_done_   Notifiers (notifier.hpp): a notify costs one fence
//                and one load unless somebody sleeps.
//
// Shutdown. shutdown() sets state_, then closes the engine: a put that claimed a slot before
// the close is linearized before the shutdown, later puts get ShutDown. "Shut down and
// drained" is the engine's exact closed-and-empty answer, so non-immediate gets return every
// item put before the shutdown and then raise ShutDown. Immediate: the shutter discards the
// queued items; a put that claimed a slot before the close but publishes after the discard
// checks state_ after publishing (Dekker: put's light fence against shutdown's heavy one) and
// discards itself; a
// get that sees immediate, before or right after taking an item, discards and raises
// ShutDown. So after shutdown(immediate=True) returns, no get returns an item.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <utility>

#include "tandem/detail/drain_iterator.hpp"
#include "tandem/detail/asymmetric_fence.hpp"
#include "tandem/detail/notifier.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"
#include "tandem/queue/detail/ring_engine.hpp"

namespace tandem::detail {

inline constexpr const char* kQueueTimeoutMessage = "'timeout' must be a non-negative number";

template <class T, class Engine>
class BasicQueue {
 public:
  using value_type = T;

  template <class... EngineArgs>
  explicit BasicQueue(std::size_t maxsize, EngineArgs&&... args)
      : engine_(maxsize, std::forward<EngineArgs>(args)...), maxsize_(maxsize) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  void put(T item) { put_impl(item, Deadline::never(), true); }
  template <class Rep, class Period>
  void put(T item, std::chrono::duration<Rep, Period> timeout) {
    // Python checks the timeout only when bounded (docs/queue.md#timeouts); an
    // unbounded put never blocks, so its timeout is ignored.
    Deadline d = maxsize_ != 0 ? checked_deadline(timeout, kQueueTimeoutMessage) : Deadline::never();
    put_impl(item, d, true);
  }
  void put_nowait(T item) { put_impl(item, Deadline::never(), false); }

  T get() { return take(Deadline::never(), true); }
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return take(checked_deadline(timeout, kQueueTimeoutMessage), true);
  }
  T get_nowait() { return take(Deadline::never(), false); }

  std::optional<T> try_get() {
    std::optional<T> out;
    pop(out, Deadline::never(), false);
    return out;
  }
  template <class Rep, class Period>
  std::optional<T> try_get(std::chrono::duration<Rep, Period> timeout) {
    std::optional<T> out;
    pop(out, checked_deadline(timeout, kQueueTimeoutMessage), true);
    return out;
  }

  void task_done() {
    if (!release_task()) throw ValueError("task_done() called too many times");
  }

  void join() { join_until(Deadline::never()); }
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(checked_deadline(timeout, kQueueTimeoutMessage));
  }

  std::size_t qsize() const noexcept { return engine_.size(); }
  bool empty() const noexcept { return qsize() == 0; }
  bool full() const noexcept { return maxsize_ != 0 && qsize() >= maxsize_; }
  std::size_t maxsize() const noexcept { return maxsize_; }
  /// Python's unfinished_tasks: puts not yet matched by task_done(); approximate under
  /// concurrency.
  std::size_t unfinished_tasks() const noexcept {
    std::size_t d = done_.load(std::memory_order_acquire);
    return engine_.pushed() - d;
  }

  void shutdown(bool immediate = false) {
    state_.fetch_or(immediate ? kImmediate : kShut, std::memory_order_seq_cst);
    engine_.close();
    if (immediate) {
      heavy_fence();  // pairs with put's light_fence(): a late publisher or this discard
      discard_all();
    }
    not_full_.notify_all();
    not_empty_.notify_all();
    all_done_.notify_all();
  }
  bool is_shutdown() const noexcept { return state_.load(std::memory_order_acquire) != 0; }

  // `for (T item : queue)`: gets items until the queue is shut down and drained.
  using iterator = tandem::detail::DrainIterator<BasicQueue, T>;
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend class tandem::detail::DrainIterator<BasicQueue, T>;
  bool drain_next(std::optional<T>& out) { return pop(out, Deadline::never(), true) == PopStatus::item; }
  static constexpr std::uint32_t kShut = 1, kImmediate = 3;

  void put_impl(T& item, Deadline deadline, bool block) {
    // Python raises ShutDown at entry, even when there is room.
    if (state_.load(std::memory_order_acquire) != 0) throw ShutDown();
    for (;;) {
      PushStatus st = engine_.try_push(item, []() noexcept {});
      if (st == PushStatus::ok) break;
      if (st == PushStatus::closed) throw ShutDown();
      if (!block || deadline.expired()) throw Full();
      await(not_full_, [this] { return engine_.can_push(); }, deadline);
    }
    // One fence serves both the wake-up check and the pairing with shutdown(): the light
    // half of an asymmetric fence (a compiler barrier), whose heavy half sleepers and
    // shutdown(immediate) pay (asymmetric_fence.hpp).
    light_fence();
    std::uint32_t state = state_.load(std::memory_order_relaxed);
    if (state == 0) {
      not_empty_.notify_one_fenced();
      return;
    }
    // This put claimed its slot before the shutdown closed the engine and published after
    // it: getters asleep on "closed and drained" must all re-check.
    if (state == kImmediate) discard_all();  // linearized before the shutdown: removed
    not_empty_.notify_all();
  }

  T take(Deadline deadline, bool block) {
    std::optional<T> out;
    switch (pop(out, deadline, block)) {
      case PopStatus::item:
        break;
      case PopStatus::empty:
        throw Empty();
      case PopStatus::closed:
        throw ShutDown();
    }
    return std::move(*out);
  }

  // empty: nothing within the deadline; closed: shut down and drained (or immediate).
  PopStatus pop(std::optional<T>& out, Deadline deadline, bool block) {
    for (;;) {
      if (state_.load(std::memory_order_acquire) == kImmediate) {
        seq_cst_fence();
        discard_all();
        return PopStatus::closed;
      }
      PopStatus st = engine_.try_pop(out);
      if (st == PopStatus::item) {
        if (state_.load(std::memory_order_acquire) == kImmediate) {
          out.reset();  // taken during an immediate shutdown: discarded like the rest
          release_tasks(1);
          continue;
        }
        not_full_.notify_one();
        // After a shutdown, taking the last item makes "drained" true for every sleeper.
        if (state_.load(std::memory_order_relaxed) != 0) not_empty_.notify_all();
        return st;
      }
      if (st == PopStatus::closed) return st;
      if (!block || deadline.expired()) return PopStatus::empty;
      await(not_empty_, [this] { return engine_.can_pop(); }, deadline);
    }
  }

  bool join_until(Deadline deadline) {
    auto done = [this] {
      std::size_t d = done_.load(std::memory_order_acquire);
      return engine_.pushed() == d;
    };
    return await(all_done_, done, deadline);
  }

  // Python's task_done(): false (and no change) when there is nothing to release.
  bool release_task() noexcept {
    std::size_t d = done_.load(std::memory_order_relaxed);
    std::size_t bound = engine_.popped();  // usually enough: a consumer just took an item
    for (;;) {
      if (d >= bound) {
        bound = engine_.pushed();
        if (d >= bound) return false;
      }
      if (done_.compare_exchange_weak(d, d + 1, std::memory_order_acq_rel,
                                      std::memory_order_relaxed))
        break;
    }
    // Wake join() only if somebody sleeps there and this was the last unfinished task. The
    // light fence pairs with the joiner's heavy one: it sees done_ or we see it waiting.
    light_fence();
    if (all_done_.waiting() && !engine_.pushed_more_than(d + 1)) all_done_.notify_all();
    return true;
  }
  // Adds k to done_, never beyond pushed() (Python: unfinished lowered once per removed
  // item, floor 0).
  void release_tasks(std::size_t k) noexcept {
    if (k == 0) return;
    std::size_t d = done_.load(std::memory_order_relaxed);
    for (;;) {
      std::size_t p = engine_.pushed();
      std::size_t next = p - d > k ? d + k : p;
      if (next == d) return;
      if (done_.compare_exchange_weak(d, next, std::memory_order_acq_rel,
                                      std::memory_order_relaxed))
        break;
    }
    all_done_.notify_all();
  }

  // shutdown(immediate=True): destroy every queued item, one unfinished task each.
  void discard_all() noexcept {
    release_tasks(engine_.discard());
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  Engine engine_;
  // Read on every put and get, written once or twice: kept off the hot lines.
  alignas(64) const std::size_t maxsize_;
  std::atomic<std::uint32_t> state_{0};
  alignas(64) std::atomic<std::size_t> done_{0};
  alignas(64) Notifier not_empty_;
  alignas(64) Notifier not_full_;
  alignas(64) Notifier all_done_;
};

}  // namespace tandem::detail
