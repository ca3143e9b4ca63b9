// SPDX-License-Identifier: MIT
// tandem::detail::LockedEngine — a container behind a FutexMutex: the engine of unbounded
// queues, LifoQueue, PriorityQueue, SimpleQueue, and of any queue whose T may throw when
// moved. Same non-blocking interface as RingEngine (ring_engine.hpp); the blocking and the
// Python semantics live in the front end (basic_queue.hpp).
//
// Every operation holds the mutex for a few instructions (plus the container's own work);
// the size is mirrored in an atomic so that qsize() and the wake-up checks never take the
// mutex. Memory ordering: the mutex orders pushes and pops; the item a pop returns was
// pushed under the same mutex, so the push happens-before the pop.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <utility>

#include "tandem/detail/futex_mutex.hpp"
#include "tandem/queue/detail/ring_engine.hpp"  // PushStatus, PopStatus

namespace tandem::detail {

template <class T, class Container>
class LockedEngine {
 public:
  template <class... Args>
  explicit LockedEngine(std::size_t maxsize, Args&&... args)
      : maxsize_(maxsize), c_(std::forward<Args>(args)...) {}
  LockedEngine(const LockedEngine&) = delete;
  LockedEngine& operator=(const LockedEngine&) = delete;

  template <class OnPublish>
  PushStatus try_push(T& item, OnPublish&& before_publish) {
    Guard g(m_);
    if (closed_.load(std::memory_order_relaxed)) return PushStatus::closed;
    std::size_t n = size_.load(std::memory_order_relaxed);
    if (maxsize_ != 0 && n >= maxsize_) return PushStatus::full;
    c_.push(item);  // strong guarantee: a throw changes nothing
    before_publish();
    pushed_.store(pushed_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    size_.store(n + 1, std::memory_order_release);
    return PushStatus::ok;
  }

  PopStatus try_pop(std::optional<T>& out) {
    // Seen empty without the lock: nothing to take (a push in progress counts as not yet
    // there, as it would under the lock).
    if (size_.load(std::memory_order_acquire) == 0) {
      return closed_.load(std::memory_order_acquire) && size_.load(std::memory_order_acquire) == 0
                 ? PopStatus::closed
                 : PopStatus::empty;
    }
    Guard g(m_);
    std::size_t n = size_.load(std::memory_order_relaxed);
    if (n == 0) return closed_.load(std::memory_order_relaxed) ? PopStatus::closed : PopStatus::empty;
    c_.pop_into(out);  // strong guarantee
    popped_.store(popped_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    size_.store(n - 1, std::memory_order_release);
    return PopStatus::item;
  }

  bool can_pop() const noexcept {
    return size_.load(std::memory_order_acquire) != 0 || closed_.load(std::memory_order_acquire);
  }
  bool can_push() const noexcept {
    return maxsize_ == 0 || size_.load(std::memory_order_acquire) < maxsize_ ||
           closed_.load(std::memory_order_acquire);
  }
  /// Destroys every queued item without moving it; returns how many.
  std::size_t discard() noexcept {
    Guard g(m_);
    std::size_t n = size_.load(std::memory_order_relaxed);
    c_.clear();
    popped_.store(popped_.load(std::memory_order_relaxed) + n, std::memory_order_release);
    size_.store(0, std::memory_order_release);
    return n;
  }

  void close() noexcept {
    Guard g(m_);
    closed_.store(true, std::memory_order_seq_cst);
  }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  std::size_t size() const noexcept { return size_.load(std::memory_order_acquire); }
  /// Items ever accepted / ever removed (popped or discarded); popped() <= pushed().
  std::size_t pushed() const noexcept { return pushed_.load(std::memory_order_acquire); }
  std::size_t popped() const noexcept { return popped_.load(std::memory_order_acquire); }
  /// Surely more than n items were ever pushed (false may be stale).
  bool pushed_more_than(std::size_t n) const noexcept { return pushed() > n; }

 private:
  struct Guard {
    explicit Guard(FutexMutex& m) noexcept : m(m) { m.lock(); }
    ~Guard() { m.unlock(); }
    FutexMutex& m;
  };

  mutable FutexMutex m_;
  const std::size_t maxsize_;  // 0: unbounded
  std::atomic<std::size_t> size_{0};
  std::atomic<bool> closed_{false};
  // Written under m_ only; atomic so that the queue's task accounting can read them freely.
  std::atomic<std::size_t> pushed_{0};
  std::atomic<std::size_t> popped_{0};
  Container c_;
};

}  // namespace tandem::detail
