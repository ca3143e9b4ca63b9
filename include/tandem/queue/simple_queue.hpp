// SPDX-License-Identifier: MIT
// tandem::SimpleQueue — queue.SimpleQueue (docs/queue.md#simplequeue): an unbounded FIFO with
// no task tracking and no shutdown.
//
// Guarantees
//  * put / put_nowait never block (the queue is unbounded) and never fail except by running
//    out of memory (std::bad_alloc) or by T's move throwing (the queue is then unchanged).
//  * get() blocks while empty; get(timeout) raises Empty when the timeout passes and
//    ValueError("'timeout' must be a non-negative number") for a negative timeout, even when
//    items are queued (test_negative_timeout_raises_exception); get_nowait() raises Empty.
//  * try_get() / try_get(timeout) return std::nullopt instead of raising Empty.
// Memory ordering: a put happens-before the get that returns its item.
// Cost: a futex mutex around a std::deque, held for a few instructions; a getter spins
//  briefly, then sleeps; put wakes a getter only when one sleeps (one fence + one load
//  otherwise).
// Differences from Python: put takes no block/timeout arguments (Python ignores them);
//  Python's SimpleQueue is reentrant (a put from a __del__ or signal handler during a put) —
//  a C++ put is not async-signal-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <utility>

#include "tandem/detail/notifier.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/errors.hpp"
#include "tandem/queue/detail/basic_queue.hpp"  // kQueueTimeoutMessage
#include "tandem/queue/detail/containers.hpp"
#include "tandem/queue/detail/locked_engine.hpp"

namespace tandem {

template <class T>
class SimpleQueue {
 public:
  using value_type = T;

  SimpleQueue() = default;
  SimpleQueue(const SimpleQueue&) = delete;
  SimpleQueue& operator=(const SimpleQueue&) = delete;

  void put(T item) {
    engine_.try_push(item, [] {});  // unbounded and never closed: always ok
    not_empty_.notify_one();
  }
  void put_nowait(T item) { put(std::move(item)); }

  T get() { return take(detail::Deadline::never(), true); }
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return take(detail::checked_deadline(timeout, detail::kQueueTimeoutMessage), true);
  }
  T get_nowait() { return take(detail::Deadline::never(), false); }

  std::optional<T> try_get() {
    std::optional<T> out;
    pop(out, detail::Deadline::never(), false);
    return out;
  }
  template <class Rep, class Period>
  std::optional<T> try_get(std::chrono::duration<Rep, Period> timeout) {
    std::optional<T> out;
    pop(out, detail::checked_deadline(timeout, detail::kQueueTimeoutMessage), true);
    return out;
  }

  bool empty() const noexcept { return engine_.size() == 0; }
  std::size_t qsize() const noexcept { return engine_.size(); }

 private:
  T take(detail::Deadline deadline, bool block) {
    std::optional<T> out;
    if (!pop(out, deadline, block)) throw Empty();
    return std::move(*out);
  }

  bool pop(std::optional<T>& out, detail::Deadline deadline, bool block) {
    for (;;) {
      if (engine_.try_pop(out) == detail::PopStatus::item) return true;
      if (!block || deadline.expired()) return false;
      detail::await(not_empty_, [this] { return engine_.can_pop(); }, deadline);
    }
  }

  detail::LockedEngine<T, detail::FifoContainer<T>> engine_{0};
  detail::Notifier not_empty_;
};

}  // namespace tandem
