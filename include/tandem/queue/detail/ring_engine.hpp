// SPDX-License-Identifier: MIT
// tandem::detail::RingEngine — the lock-free FIFO engine behind a bounded Queue<T>.
//
// Algorithm: Dmitry Vyukov's bounded MPMC queue (1024cores.net, "Bounded MPMC queue"):
// an array of cells, each with a sequence number saying whose turn the cell is. A producer
// claims position `pos` by CAS on the tail when cell[pos % capacity].seq == pos, writes the
// item, then publishes with seq = pos + 1; a consumer claims `pos` on the head when
// seq == pos + 1, moves the item out, and frees the cell with seq = pos + capacity. The index
// is pos % capacity, so any capacity works (a power of two takes a mask instead of a
// division) and the capacity is exactly the queue's maxsize.
//
// Closing (for shutdown): the tail's top bit is a "closed" mark (as crossbeam-channel's
// array flavour does). A producer's claim CAS fails once it is set, so "claimed before the
// close" and "refused after it" are decided by one atomic word: every item claimed before
// close() is a real item that consumers must still drain, and "closed and drained" is exact
// (head == tail and the mark is set).
//
// Requirements: T is nothrow-move-constructible and nothrow-destructible, so nothing can
// fail between claiming a cell and publishing it.
//
// Memory ordering: publishing is a release store and claiming for pop reads it with acquire,
// so everything the producer did before put() happens-before the consumer's use of the item
// (likewise freeing a cell happens-before the next push into it). The caller issues the
// seq_cst fence its wake-up protocol needs.
//
// Cost: one CAS and one store per push or pop, no system call, no allocation after
// construction. Not wait-free: a producer preempted between claim and publish holds up the
// consumers of that cell (they see "not ready" and wait), as in Vyukov's original.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>

namespace tandem::detail {

enum class PushStatus { ok, full, closed };
enum class PopStatus { item, empty, closed };  // closed: closed and drained

template <class T>
class RingEngine {
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>);

 public:
  /// capacity >= 2: with one cell "published at pos" (seq pos + 1) and "free for pos + 1"
  /// (seq pos + capacity) would be the same number.
  explicit RingEngine(std::size_t capacity)
      : cap_(capacity),
        mask_((capacity & (capacity - 1)) == 0 ? capacity - 1 : 0),
        cells_(new Cell[capacity]) {
    for (std::size_t i = 0; i < cap_; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  RingEngine(const RingEngine&) = delete;
  RingEngine& operator=(const RingEngine&) = delete;
  ~RingEngine() { discard(); }

  /// Moves `item` in (only on ok); `before_publish()` runs after the claim, before any
  /// consumer can see the item.
  template <class OnPublish>
  PushStatus try_push(T& item, OnPublish&& before_publish) noexcept {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    Cell* cell;
    for (;;) {
      if (pos & kClosed) return PushStatus::closed;
      cell = &at(pos);
      std::size_t seq = cell->seq.load(std::memory_order_acquire);
      auto diff = static_cast<std::intptr_t>(seq - pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed,
                                        std::memory_order_relaxed))
          break;
      } else if (diff < 0) {
        // The cell still holds the item put `capacity` positions ago: full. (A stale pos
        // cannot get here: a cell behind the tail has seq > pos.)
        return PushStatus::full;
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
    ::new (static_cast<void*>(cell->storage)) T(std::move(item));
    before_publish();
    cell->seq.store(pos + 1, std::memory_order_release);
    return PushStatus::ok;
  }

  PopStatus try_pop(std::optional<T>& out) noexcept {
    std::size_t pos = head_.load(std::memory_order_relaxed);
    Cell* cell;
    for (;;) {
      cell = &at(pos);
      std::size_t seq = cell->seq.load(std::memory_order_acquire);
      auto diff = static_cast<std::intptr_t>(seq - (pos + 1));
      if (diff == 0) {
        // release: whoever reads this head also sees tail >= it (task accounting)
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_release,
                                        std::memory_order_relaxed))
          break;
      } else if (diff < 0) {
        // Nothing published at pos. Drained for good only if nobody claimed it and nobody
        // ever will; otherwise a put is in flight (or the queue is simply empty).
        std::size_t t = tail_.load(std::memory_order_acquire);
        return (t == (pos | kClosed)) ? PopStatus::closed : PopStatus::empty;
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
    T* p = std::launder(reinterpret_cast<T*>(cell->storage));
    out.emplace(std::move(*p));
    p->~T();
    cell->seq.store(pos + cap_, std::memory_order_release);
    return PopStatus::item;
  }

  /// The front item is published (a pop would succeed now), or the ring is closed and
  /// drained: a getter should stop sleeping.
  bool can_pop() const noexcept {
    std::size_t pos = head_.load(std::memory_order_acquire);
    if (at(pos).seq.load(std::memory_order_acquire) == pos + 1) return true;
    return tail_.load(std::memory_order_acquire) == (pos | kClosed);
  }
  /// The cell at the tail is free (a push would succeed now), or the ring is closed.
  bool can_push() const noexcept {
    std::size_t pos = tail_.load(std::memory_order_acquire);
    if (pos & kClosed) return true;
    return at(pos).seq.load(std::memory_order_acquire) == pos;
  }

  /// Pops and destroys every published item; returns how many.
  std::size_t discard() noexcept {
    std::size_t n = 0;
    std::optional<T> sink;
    while (try_pop(sink) == PopStatus::item) {
      sink.reset();
      ++n;
    }
    return n;
  }

  void close() noexcept { tail_.fetch_or(kClosed, std::memory_order_seq_cst); }
  bool closed() const noexcept { return tail_.load(std::memory_order_acquire) & kClosed; }

  /// Positions ever claimed by a push (published or about to be) / by a pop (taken or being
  /// taken); popped() <= pushed() as read in this order.
  std::size_t pushed() const noexcept { return tail_.load(std::memory_order_acquire) & ~kClosed; }
  std::size_t popped() const noexcept { return head_.load(std::memory_order_acquire); }
  /// Surely more than n positions were ever claimed by pushes. Looks at the consumers' side
  /// first (the head, and whether the cell at the head is published), so that a consumer
  /// asking about its own recent item rarely touches the producers' cache line (the tail).
  bool pushed_more_than(std::size_t n) const noexcept {
    std::size_t h = head_.load(std::memory_order_acquire);
    if (n < h) return true;
    if (n == h && at(h).seq.load(std::memory_order_acquire) == h + 1) return true;
    return pushed() > n;
  }

  /// Claimed minus taken, at most the capacity; approximate under concurrency.
  std::size_t size() const noexcept {
    std::size_t h = head_.load(std::memory_order_acquire);
    std::size_t t = tail_.load(std::memory_order_acquire) & ~kClosed;  // read after h: t >= h
    std::size_t n = t - h;
    return n > cap_ ? cap_ : n;
  }

 private:
  static constexpr std::size_t kClosed = std::size_t{1} << (sizeof(std::size_t) * 8 - 1);
  struct Cell {
    std::atomic<std::size_t> seq;
    alignas(T) unsigned char storage[sizeof(T)];
  };

  Cell& at(std::size_t pos) const noexcept {
    return cells_[mask_ ? (pos & mask_) : (pos % cap_)];
  }

  const std::size_t cap_;
  const std::size_t mask_;  // capacity - 1 for a power of two (> 1), else 0: use %
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};  // alignas also pads the object's end
};

}  // namespace tandem::detail
