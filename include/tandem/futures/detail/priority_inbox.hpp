// SPDX-License-Identifier: MIT
// <tandem/futures/detail/priority_inbox.hpp> — the thread pool's queue of tasks submitted with a
// TaskOptions::priority other than 0 (detail).
//
// Tasks of priority 0 (every plain submit) never come here: they keep the work-stealing
// deques, their LIFO for nested submits and their cost. A worker looks here before its deque
// for positive priorities and after every deque is empty for negative ones, so a higher
// priority runs first among the queued tasks, and ties run in submission order. The counters
// let a worker skip the lock with one relaxed load while the inbox is empty (the price of
// priorities when nobody uses them).
// Cost: push/take O(log n) under a FutexMutex.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "tandem/detail/futex_mutex.hpp"

namespace tandem::detail {

class FutureCore;

class PriorityInbox {
 public:
  /// Call under lock(): queues `t` (may throw bad_alloc, then nothing is queued).
  void push_locked(FutureCore* t, int priority) {
    heap_.push_back(Item{priority, seq_.fetch_add(1, std::memory_order_relaxed), t});
    std::push_heap(heap_.begin(), heap_.end(), lower);
    (priority > 0 ? high_ : low_).fetch_add(1, std::memory_order_relaxed);
  }
  /// The first task of priority > 0 (high) or of any priority (!high), or nullptr.
  FutureCore* take(bool high) noexcept {
    if (high ? high_.load(std::memory_order_relaxed) == 0
             : high_.load(std::memory_order_relaxed) + low_.load(std::memory_order_relaxed) == 0)
      return nullptr;
    mu_.lock();
    FutureCore* t = nullptr;
    if (!heap_.empty() && (!high || heap_.front().priority > 0)) t = pop_locked();
    mu_.unlock();
    return t;
  }
  /// Any task (shutdown's drains), or nullptr.
  FutureCore* take_any() noexcept {
    mu_.lock();
    FutureCore* t = heap_.empty() ? nullptr : pop_locked();
    mu_.unlock();
    return t;
  }
  bool maybe_nonempty() const noexcept {
    return high_.load(std::memory_order_relaxed) + low_.load(std::memory_order_relaxed) != 0;
  }
  std::uint64_t size() const noexcept {
    return high_.load(std::memory_order_relaxed) + low_.load(std::memory_order_relaxed);
  }
  std::uint64_t pushed() const noexcept { return seq_.load(std::memory_order_relaxed); }
  void lock() noexcept { mu_.lock(); }
  void unlock() noexcept { mu_.unlock(); }

 private:
  struct Item {
    int priority;
    std::uint64_t seq;
    FutureCore* task;
  };
  // The heap's front is the highest priority, then the earliest submitted.
  static bool lower(const Item& a, const Item& b) noexcept {
    return a.priority != b.priority ? a.priority < b.priority : a.seq > b.seq;
  }
  FutureCore* pop_locked() noexcept {
    std::pop_heap(heap_.begin(), heap_.end(), lower);
    Item it = heap_.back();
    heap_.pop_back();
    (it.priority > 0 ? high_ : low_).fetch_sub(1, std::memory_order_relaxed);
    return it.task;
  }

  FutexMutex mu_;
  std::vector<Item> heap_;  // guarded by mu_
  std::atomic<std::uint64_t> seq_{0};  // written under mu_
  std::atomic<std::uint64_t> high_{0}, low_{0};  // queued with priority > 0 / < 0
};

}  // namespace tandem::detail
