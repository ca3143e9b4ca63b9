// SPDX-License-Identifier: MIT
// The orders of the locked queue engine: FIFO, LIFO and a binary min-heap — Python's
// Queue._put/_get, LifoQueue._put/_get and PriorityQueue (heapq) — each with the strong
// exception guarantee, so that a throwing copy, move or comparison leaves the queue as it was
// (CPython's FailingQueueTest).
//
//   push(T& item)              moves item in; on exception nothing changed
//   pop_into(optional<T>& out) moves the next item into out and removes it; on exception
//                              nothing changed (the item stays queued)
//   size(), clear()
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace tandem::detail {

// std::deque's push_back/push_front have the strong guarantee for any T; taking the front
// out is a construction from it, then a nothrow pop.
template <class T>
class FifoContainer {
 public:
  void push(T& item) { q_.push_back(std::move(item)); }
  void pop_into(std::optional<T>& out) {
    out.emplace(std::move(q_.front()));
    q_.pop_front();
  }
  std::size_t size() const noexcept { return q_.size(); }
  void clear() noexcept { q_.clear(); }

 private:
  std::deque<T> q_;
};

template <class T>
class LifoContainer {
 public:
  void push(T& item) { q_.push_back(std::move(item)); }
  void pop_into(std::optional<T>& out) {
    out.emplace(std::move(q_.back()));
    q_.pop_back();
  }
  std::size_t size() const noexcept { return q_.size(); }
  void clear() noexcept { q_.clear(); }

 private:
  std::deque<T> q_;
};

// A binary heap, smallest (by Compare) first, like heapq. Comparisons only read, and all
// of them are made before anything moves; the moves that follow cannot throw because a T
// whose move may throw is held through a unique_ptr. So a comparison or a move that throws
// leaves the heap untouched. Not stable, as heapq.
template <class T, class Compare = std::less<T>>
class HeapContainer {
  static constexpr bool kInline = std::is_nothrow_move_constructible_v<T> &&
                                  std::is_nothrow_move_assignable_v<T>;
  using Slot = std::conditional_t<kInline, T, std::unique_ptr<T>>;

 public:
  explicit HeapContainer(Compare comp = Compare()) : comp_(std::move(comp)) {}

  void push(T& item) {
    h_.reserve(h_.size() + 1);  // the only allocation, before any change
    std::size_t i = h_.size();
    while (i > 0) {  // find the item's place, comparing only
      std::size_t parent = (i - 1) / 2;
      if (!comp_(item, ref(h_[parent]))) break;
      i = parent;
    }
    if constexpr (kInline) {
      h_.push_back(std::move(item));
    } else {
      h_.push_back(std::make_unique<T>(std::move(item)));  // may throw: nothing changed yet
    }
    // nothrow from here: rotate the new slot up the path to i
    Slot tmp = std::move(h_.back());
    for (std::size_t j = h_.size() - 1; j > i; j = (j - 1) / 2) h_[j] = std::move(h_[(j - 1) / 2]);
    h_[i] = std::move(tmp);
  }

  void pop_into(std::optional<T>& out) {
    std::size_t last = h_.size() - 1;
    // The path along which the last item sinks from the root, by comparisons only.
    std::size_t path[sizeof(std::size_t) * 8];
    std::size_t depth = 0, i = 0;
    for (;;) {
      std::size_t c = 2 * i + 1;
      if (c >= last) break;
      if (c + 1 < last && comp_(ref(h_[c + 1]), ref(h_[c]))) ++c;
      if (!comp_(ref(h_[c]), ref(h_[last]))) break;
      path[depth++] = c;
      i = c;
    }
    out.emplace(std::move(ref(h_[0])));  // may throw: nothing changed yet
    // nothrow from here
    std::size_t hole = 0;
    for (std::size_t k = 0; k < depth; ++k) {
      h_[hole] = std::move(h_[path[k]]);
      hole = path[k];
    }
    if (hole != last) h_[hole] = std::move(h_[last]);
    h_.pop_back();
  }

  std::size_t size() const noexcept { return h_.size(); }
  void clear() noexcept { h_.clear(); }

 private:
  static T& ref(Slot& s) noexcept {
    if constexpr (kInline) {
      return s;
    } else {
      return *s;
    }
  }

  std::vector<Slot> h_;
  Compare comp_;
};

}  // namespace tandem::detail
