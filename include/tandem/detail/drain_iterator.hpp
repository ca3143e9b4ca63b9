// SPDX-License-Identifier: MIT
// <tandem/detail/drain_iterator.hpp> — `for (T item : q)` over every tandem queue (Python 3.13's
// queue.shutdown() makes a queue finite: iterating gets items until it is shut down and
// drained), written once for the thread queues, mp::Queue and the Manager's queue proxies.
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <utility>

namespace tandem::detail {

/// A single-pass input iterator that blocks in ++ for the next item. Q provides
/// `bool drain_next(std::optional<T>& out)`: waits without a timeout for an item and stores it
/// (true), or returns false once the queue is shut down and empty — the end of the range.
/// The item is moved out by operator*: dereference once per step. Q may keep drain_next
/// private and befriend this template.
template <class Q, class T>
class DrainIterator {
 public:
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using iterator_concept = std::input_iterator_tag;
  DrainIterator() = default;
  explicit DrainIterator(Q* q) : q_(q) { ++*this; }
  T&& operator*() const { return std::move(*cur_); }
  DrainIterator& operator++() {
    cur_.reset();
    if (!q_->drain_next(cur_)) q_ = nullptr;
    return *this;
  }
  void operator++(int) { ++*this; }
  friend bool operator==(const DrainIterator& it, std::default_sentinel_t) {
    return it.q_ == nullptr;
  }

 private:
  Q* q_ = nullptr;
  mutable std::optional<T> cur_;
};

}  // namespace tandem::detail
