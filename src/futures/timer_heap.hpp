// SPDX-License-Identifier: MIT
// The timer service's queue: a 4-ary min-heap of (due, sequence, node) entries (internal to
// src/futures/timer_service.cpp).
//
// Why 4-ary and not std::push_heap/pop_heap's binary heap: the timer thread pops every entry
// once, and with a million pending timers the heap (24 MiB) is far larger than the caches,
// so a pop costs one cache miss per level it walks. Four children per node halve the depth
// (10 levels for a million entries instead of 20) while the four children sit in two
// adjacent cache lines; the extra comparisons are cheap next to the misses saved (the
// d-ary heap of D. B. Johnson, 1975; LaMarca & Ladner, "The influence of caches on the
// performance of heaps", 1996). Adding is cheap either way: random deadlines sift up about
// one level on average.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tandem::detail {

struct TimerNode;

class TimerHeap {
 public:
  struct Entry {
    std::int64_t due;
    std::uint64_t seq;  // ties: in order of add()
    TimerNode* node;
  };

  bool empty() const noexcept { return v_.empty(); }
  std::size_t size() const noexcept { return v_.size(); }
  const Entry& top() const noexcept { return v_.front(); }

  /// Strong guarantee: on bad_alloc the heap is unchanged.
  void push(const Entry& e) {
    v_.push_back(e);
    sift_up(v_.size() - 1);
  }
  void pop() noexcept {
    const Entry last = v_.back();
    v_.pop_back();
    if (!v_.empty()) sift_down(0, last);
  }
  void clear() noexcept { v_.clear(); }

  /// Keeps the entries for which keep(entry) is true (in O(n), heap order restored).
  template <class Keep>
  void filter(Keep&& keep) {
    std::size_t k = 0;
    for (std::size_t i = 0; i < v_.size(); ++i)
      if (keep(v_[i])) v_[k++] = v_[i];
    v_.resize(k);
    for (std::size_t i = v_.size() / kArity + 1; i-- > 0;)
      if (i < v_.size()) sift_down(i, v_[i]);
  }

 private:
  static constexpr std::size_t kArity = 4;

  static bool before(const Entry& a, const Entry& b) noexcept {
    return a.due != b.due ? a.due < b.due : a.seq < b.seq;
  }

  void sift_up(std::size_t i) noexcept {
    const Entry e = v_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!before(e, v_[parent])) break;
      v_[i] = v_[parent];
      i = parent;
    }
    v_[i] = e;
  }

  // Places `e` at hole `i` or below it.
  void sift_down(std::size_t i, const Entry e) noexcept {
    const std::size_t n = v_.size();
    for (;;) {
      const std::size_t first = i * kArity + 1;
      if (first >= n) break;
      const std::size_t end = first + kArity < n ? first + kArity : n;
      std::size_t best = first;
      for (std::size_t c = first + 1; c < end; ++c)
        if (before(v_[c], v_[best])) best = c;
      if (!before(v_[best], e)) break;
      v_[i] = v_[best];
      i = best;
    }
    v_[i] = e;
  }

  std::vector<Entry> v_;
};

}  // namespace tandem::detail
