// SPDX-License-Identifier: MIT
// <tandem/futures/detail/work_deque.hpp> — the per-thread task deque of the thread pool.
//
// The Chase-Lev work-stealing deque (D. Chase, Y. Lev, "Dynamic Circular Work-Stealing
// Deque", SPAA 2005) in the C11 formulation of N. M. Le, A. Pop, A. Cohen, F. Zappa Nardelli,
// "Correct and Efficient Work-Stealing for Weak Memory Models", PPoPP 2013 (Fig. 1). One
// owner pushes and takes at the bottom (LIFO), any number of thieves steal at the top
// (FIFO); only the last element and steals cost a CAS.
//
// Deviations from the paper: the release fence before publishing `bottom` is folded into a
// release store (same code on x86, and ThreadSanitizer understands it); retired arrays are
// kept until the deque dies (a thief may still read the old one), which bounds the waste to
// the sum of a geometric series.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "tandem/detail/wait.hpp"  // seq_cst_fence

namespace tandem::detail {

template <class T>
class WorkDeque {
  static_assert(std::is_pointer_v<T>);

 public:
  explicit WorkDeque(std::int64_t capacity = 256) {
    Array* a = grow_to(nullptr, capacity, 0, 0);
    mask_ = a->mask;
    buf_ = a->buf.get();
  }
  WorkDeque(const WorkDeque&) = delete;
  WorkDeque& operator=(const WorkDeque&) = delete;

  /// Owner only.
  ///
  /// Touches only the owner's cache line while the array has room: thieves advance top_
  /// (a cache miss to read) and the Array header may share a line with anything, so the
  /// owner keeps its own copies — a lower bound of top_ (top_ only grows: the room it shows
  /// is never more than there is) and the array's mask and buffer — and reloads top_ only
  /// when the copy says full.
  void push(T x) {
    std::int64_t b = bottom_.load(std::memory_order_relaxed);
    if (b - top_seen_ > mask_) {
      top_seen_ = top_.load(std::memory_order_acquire);
      if (b - top_seen_ > mask_) {
        Array* a = grow_to(array_.load(std::memory_order_relaxed), (mask_ + 1) * 2, top_seen_, b);
        mask_ = a->mask;
        buf_ = a->buf.get();
      }
    }
    buf_[static_cast<std::size_t>(b & mask_)].store(x, std::memory_order_relaxed);
    bottom_.store(b + 1, std::memory_order_release);
  }

  /// Owner only: the most recently pushed element, or nullptr.
  T take() {
    std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
    Array* a = array_.load(std::memory_order_relaxed);
    bottom_.store(b, std::memory_order_relaxed);
    seq_cst_fence();
    std::int64_t t = top_.load(std::memory_order_relaxed);
    if (t > b) {
      bottom_.store(b + 1, std::memory_order_relaxed);
      return nullptr;
    }
    T x = a->slot(b).load(std::memory_order_relaxed);
    if (t == b) {
      if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed))
        x = nullptr;
      bottom_.store(b + 1, std::memory_order_relaxed);
    }
    return x;
  }

  /// Any thread: the oldest element, or nullptr when empty or when another thief won.
  T steal() {
    std::int64_t t = top_.load(std::memory_order_acquire);
    seq_cst_fence();
    std::int64_t b = bottom_.load(std::memory_order_acquire);
    if (t >= b) return nullptr;
    Array* a = array_.load(std::memory_order_acquire);
    T x = a->slot(t).load(std::memory_order_relaxed);
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed))
      return nullptr;
    return x;
  }

  /// A snapshot; exact only when nobody operates concurrently.
  bool empty() const noexcept {
    return bottom_.load(std::memory_order_acquire) <= top_.load(std::memory_order_acquire);
  }
  std::int64_t size() const noexcept {
    std::int64_t n = bottom_.load(std::memory_order_acquire) - top_.load(std::memory_order_acquire);
    return n > 0 ? n : 0;
  }

 private:
  struct Array {
    std::int64_t mask;
    std::unique_ptr<std::atomic<T>[]> buf;
    std::atomic<T>& slot(std::int64_t i) noexcept { return buf[static_cast<std::size_t>(i & mask)]; }
  };

  Array* grow_to(Array* old, std::int64_t cap, std::int64_t t, std::int64_t b) {
    auto a = std::make_unique<Array>();
    a->mask = cap - 1;
    a->buf = std::make_unique<std::atomic<T>[]>(static_cast<std::size_t>(cap));
    for (std::int64_t i = t; i < b; ++i)
      a->slot(i).store(old->slot(i).load(std::memory_order_relaxed), std::memory_order_relaxed);
    Array* raw = a.get();
    arrays_.push_back(std::move(a));
    array_.store(raw, std::memory_order_release);
    return raw;
  }

  alignas(64) std::atomic<std::int64_t> top_{0};
  alignas(64) std::atomic<std::int64_t> bottom_{0};
  std::atomic<Array*> array_{nullptr};
  // The owner's copies (push): written and read by the owner only, on bottom_'s line.
  std::int64_t top_seen_ = 0;
  std::int64_t mask_ = 0;
  std::atomic<T>* buf_ = nullptr;
  std::vector<std::unique_ptr<Array>> arrays_;  // owner only
};

}  // namespace tandem::detail
