// SPDX-License-Identifier: MIT
// tandem::MapRange — the lazy, in-order range that every executor's map() returns
// (Executor.map, docs/futures.md#map), written once for ThreadPoolExecutor,
// ProcessPoolExecutor and MpiPoolExecutor. What differs between them is only how a chunk of
// items becomes a task: the range is parameterised by a `Submit` callable
//   Future<detail::MapChunk<R>> submit(std::vector<Item> items)
// that starts fn over `items` somewhere (a worker thread, a worker process, an MPI rank) and
// whose future holds the values computed, in order, and the exception that stopped the chunk
// (if any) — never an exception of its own for an exception of fn's.
//
// Guarantees
//  * Inputs: ranges..., zipped (stops at the shortest; any of them may be infinite). An lvalue
//    range is held by reference (it must outlive the MapRange), a temporary is moved in. One
//    Item is built per position from the ranges' current elements: Item(*it1, *it2, ...).
//  * Chunking: items travel in chunks of opts.chunksize (>= 1: the executor's map() checks
//    and raises ValueError("chunksize must be >= 1."), as Python). One submit per chunk.
//  * buffersize 0 (Python's None): every chunk is submitted in the constructor, which reads
//    the whole input. buffersize n: the constructor submits n chunks and each later step
//    that starts waiting for a new chunk first submits one more, so at most n + 1 chunks are
//    ever submitted and not yet consumed (n while a chunk's values are being handed out) —
//    Python 3.14's bound, which also appends before it pops. The input is read lazily, one
//    chunk ahead of submission.
//  * Results come in input order: begin() and ++ wait for the next chunk's future only when
//    the previous chunk's values are used up.
//  * The timeout is one deadline fixed when the MapRange is built (the map() call), not per
//    item. Past it, the step that waits throws TimeoutError, and every chunk not yet
//    consumed is cancelled.
//  * An exception of fn is rethrown by the step that reaches its position (after the values
//    computed before it in the same chunk); the iteration then ends (== end()) and every later
//    chunk is cancelled. An exception of the chunk's future itself (BrokenThreadPool,
//    WorkerDied, a DecodeError, ...) and a chunk cancelled from outside (CancelledError) are
//    rethrown the same way, at the chunk's first position.
//  * Destroying the range, also early, cancels every chunk not yet consumed (Future::cancel:
//    a chunk that is running finishes; a process pool kills its worker, see process_pool.hpp)
//    and does not wait for any of them. An exception from `submit` (e.g. RuntimeError after
//    shutdown) propagates from the constructor or the step that submitted, after cancelling
//    what the constructor had already submitted.
//  * size_hint(): how many results a full iteration yields when every input range has a
//    size (std::size, read at the map() call: the shortest), else std::nullopt — what
//    tandem::progress() shows as the total of a map.
//  * Results may be move-only: *it is an R& to the current value, moved out of its chunk;
//    ++ destroys it.
//  * Single pass (begin(), end(), an input iterator: detail::PullRange, pull_range.hpp); the
//  MapRange may be moved before begin() (its input state is
//    on the heap, so iterators into a range it owns stay valid), not after: the iterator
//    points at it. Not thread-safe: one consumer thread. The executor must outlive it.
// Waiting is Future's: wait_done_helping, so a map iterated inside a ThreadPoolExecutor task
// runs other queued tasks of that pool while it waits instead of blocking a worker.
// Cost per chunk: one std::vector of items, one submit, one future wait; per item a move in
// and a move out.
// Differences from Python: chunksize is honoured by every executor (Python's threads ignore
// it); a chunk's exception surfaces at its position, with the values before it delivered.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/detail/timeout.hpp"
#include "tandem/errors.hpp"
#include "tandem/futures/future.hpp"
#include "tandem/futures/options.hpp"
#include "tandem/futures/detail/pull_range.hpp"

namespace tandem {

namespace detail {

/// What one chunk produced: fn's values in input order, then the exception that stopped it.
template <class R>
struct MapChunk {
  std::vector<R> values;
  std::exception_ptr error;
};

// map's inputs, held without std::ranges (clang 14 cannot compile libstdc++ 12's ranges
// concepts, and tandem builds with both): an lvalue range is held by reference, as Python
// holds the iterable it was given; an rvalue range (a temporary) is moved in. Any type with
// begin()/end() found by ADL or as members works, including infinite ranges.
namespace adl {
using std::begin;
using std::end;
template <class T>
auto begin_of(T& t) -> decltype(begin(t)) {
  return begin(t);
}
template <class T>
auto end_of(T& t) -> decltype(end(t)) {
  return end(t);
}
using std::size;
template <class T>
auto size_of(T& t) -> decltype(size(t)) {
  return size(t);
}
}  // namespace adl

/// A range whose length is known without reading it (a container, an array: std::size or an
/// ADL size()).
template <class T>
concept SizedInput = requires(T& t) { adl::size_of(t); };

template <class R>
class HeldRange {
  using T = std::remove_reference_t<R>;
  using Store = std::conditional_t<std::is_lvalue_reference_v<R>, T*, T>;

 public:
  using range_type = T;
  using iterator = decltype(adl::begin_of(std::declval<T&>()));
  using value_type = std::decay_t<decltype(*std::declval<iterator&>())>;

  explicit HeldRange(R&& r) : r_(store(std::forward<R>(r))) {}
  T& get() noexcept {
    if constexpr (std::is_lvalue_reference_v<R>) {
      return *r_;
    } else {
      return r_;
    }
  }

 private:
  static Store store(R&& r) {
    if constexpr (std::is_lvalue_reference_v<R>) {
      return &r;
    } else {
      return Store(std::move(r));
    }
  }
  Store r_;
};

/// The item type a map over Rs... hands to fn by default: a tuple of the ranges' values.
template <class... Rs>
using MapItem = std::tuple<typename HeldRange<Rs>::value_type...>;

/// The inputs of one map() call and their read positions: on the heap, so that a MapRange
/// can move without invalidating iterators into a range it owns.
template <class... Rs>
struct MapInput {
  explicit MapInput(Rs&&... rs) : ranges(HeldRange<Rs>(std::forward<Rs>(rs))...) {
    its = std::apply([](auto&... h) { return std::make_tuple(adl::begin_of(h.get())...); },
                     ranges);
  }
  /// How many items the zip yields: the shortest input's size, when every input has one.
  std::optional<std::size_t> size() {
    if constexpr ((SizedInput<typename HeldRange<Rs>::range_type> && ...)) {
      return std::apply(
          [](auto&... h) {
            return std::min({static_cast<std::size_t>(adl::size_of(h.get()))...});
          },
          ranges);
    } else {
      return std::nullopt;
    }
  }
  bool at_end() {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return ((std::get<I>(its) == adl::end_of(std::get<I>(ranges).get())) || ...);
    }(std::index_sequence_for<Rs...>{});
  }
  /// Appends Item(*its...) to `out` and advances every range.
  template <class Item>
  void take(std::vector<Item>& out) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      out.emplace_back(*std::get<I>(its)...);
      (++std::get<I>(its), ...);
    }(std::index_sequence_for<Rs...>{});
  }
  std::tuple<HeldRange<Rs>...> ranges;
  std::tuple<typename HeldRange<Rs>::iterator...> its;
};

template <class... Args>
constexpr bool last_is_map_options() {
  if constexpr (sizeof...(Args) == 0) {
    return false;
  } else {
    return std::is_same_v<std::remove_cvref_t<std::tuple_element_t<sizeof...(Args) - 1,
                                                                    std::tuple<Args...>>>,
                          MapOptions>;
  }
}

/// map(fn, ranges..., [MapOptions]) → impl(options, ranges...): splits off the optional last
/// argument, forwarding each range with its value category.
template <class Impl, class... Args>
auto call_with_map_options(Impl&& impl, Args&&... args) {
  if constexpr (last_is_map_options<Args...>()) {
    auto tup = std::forward_as_tuple(std::forward<Args>(args)...);
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return impl(std::get<sizeof...(Args) - 1>(tup), std::get<I>(std::move(tup))...);
    }(std::make_index_sequence<sizeof...(Args) - 1>{});
  } else {
    return impl(MapOptions{}, std::forward<Args>(args)...);
  }
}

}  // namespace detail

template <class R, class Item, class Submit, class... Rs>
class MapRange : public detail::PullRange<MapRange<R, Item, Submit, Rs...>, R> {
  friend detail::PullRange<MapRange, R>;
  using Chunk = detail::MapChunk<R>;
  static_assert(std::is_same_v<std::invoke_result_t<Submit&, std::vector<Item>>, Future<Chunk>>,
                "Submit must be callable as Future<detail::MapChunk<R>>(std::vector<Item>)");

 public:
  MapRange(Submit submit, const MapOptions& opts, Rs&&... ranges)
      : submit_(std::move(submit)),
        chunksize_(opts.chunksize),
        buffersize_(opts.buffersize),
        deadline_(opts.timeout ? detail::clamped_deadline(*opts.timeout)
                               : detail::Deadline::never()),
        in_(std::make_unique<detail::MapInput<Rs...>>(std::forward<Rs>(ranges)...)),
        size_hint_(in_->size()) {
    const std::size_t limit = buffersize_ == 0 ? SIZE_MAX : buffersize_;
    try {
      for (std::size_t i = 0; i < limit && submit_chunk(); ++i) {
      }
    } catch (...) {
      cancel_rest();  // the destructor will not run
      throw;
    }
  }
  MapRange(MapRange&&) noexcept = default;
  ~MapRange() { cancel_rest(); }

  /// The number of results a complete iteration yields, when every input range had a size
  /// at the map() call (the shortest of them); std::nullopt otherwise. An exception of fn,
  /// a timeout or a cancellation ends the iteration sooner. tandem::progress() takes its
  /// total from here. (Not size(): the range is a single-pass input range, and a size()
  /// present for some inputs only would make it look like a sized range to generic code.)
  std::optional<std::size_t> size_hint() const noexcept { return size_hint_; }

 private:
  // Reads up to chunksize items and submits them; false once the input is used up.
  bool submit_chunk() {
    if (input_done_) return false;
    std::vector<Item> items;
    items.reserve(chunksize_);
    while (items.size() < chunksize_) {
      if (in_->at_end()) {
        input_done_ = true;
        break;
      }
      in_->take(items);
    }
    if (items.empty()) return false;
    futs_.push_back(submit_(std::move(items)));
    return !input_done_;
  }

  void advance() {
    current_.reset();
    if (pos_ < cur_.values.size()) {
      current_.emplace(std::move(cur_.values[pos_++]));
      return;
    }
    if (cur_.error) fail(std::exchange(cur_.error, nullptr));
    if (futs_.empty()) return;
    if (buffersize_ != 0) submit_chunk();
    Future<Chunk> f = std::move(futs_.front());
    futs_.pop_front();
    if (!f.state()->wait_done_helping(deadline_)) {
      f.cancel();
      fail(std::make_exception_ptr(TimeoutError()));
    }
    // The chunk's future is kept until the next chunk (or the range's end): the state that
    // holds an exception then outlives the caller's handler of it, so the last reference to
    // the exception is dropped through the future's own counter, never only through the
    // runtime's exception refcount (which ThreadSanitizer cannot see).
    held_.emplace(std::move(f));
    if (held_->state()->has_exception()) fail(held_->state()->stored_exception());
    if (held_->cancelled()) fail(std::make_exception_ptr(CancelledError()));
    cur_ = std::move(held_->state()->value());
    pos_ = 0;
    advance();
  }

  // Ends the iteration at this position: nothing after it is waited for or submitted.
  [[noreturn]] void fail(std::exception_ptr e) {
    cancel_rest();
    input_done_ = true;
    std::rethrow_exception(std::move(e));
  }

  void cancel_rest() {
    for (Future<Chunk>& f : futs_) f.cancel();
    futs_.clear();
  }

  Submit submit_;
  std::size_t chunksize_;
  std::size_t buffersize_;
  detail::Deadline deadline_;
  std::unique_ptr<detail::MapInput<Rs...>> in_;
  std::optional<std::size_t> size_hint_;  // read before the constructor reads any input
  bool input_done_ = false;
  std::deque<Future<Chunk>> futs_;
  std::optional<Future<Chunk>> held_;  // the chunk being consumed (see advance())
  Chunk cur_;
  std::size_t pos_ = 0;
  std::optional<R> current_;
};

/// MapRange with its template arguments deduced from `submit` and the ranges.
template <class R, class Item, class Submit, class... Rs>
MapRange<R, Item, std::decay_t<Submit>, Rs...> make_map_range(Submit&& submit,
                                                              const MapOptions& opts,
                                                              Rs&&... ranges) {
  return MapRange<R, Item, std::decay_t<Submit>, Rs...>(std::forward<Submit>(submit), opts,
                                                        std::forward<Rs>(ranges)...);
}

}  // namespace tandem
