// SPDX-License-Identifier: MIT
// <tandem/multiprocessing/async_result.hpp> — mp::AsyncResult<R> (multiprocessing.pool.
// AsyncResult), mp::AsyncCallbacks<R> and mp::IMapIterator<R> (what Pool::imap and
// imap_unordered return): the results of a mp::Pool (<tandem/multiprocessing/pool.hpp>,
// docs/multiprocessing.md#pool).
//
// Guarantees
//  * An AsyncResult is a handle on a tandem::Future<R> that the pool completes only after the
//    callbacks it was given have returned: by the time get() or wait() returns, the callback
//    (or error_callback) has run — as Python, whose result handler calls the callback before
//    it sets the result's event.
//  * Copies share the result (as the Python object would be shared); any thread may wait on
//    it. Waiting blocks in tandem's waiting layer (a futex), never spins; every wait has a
//    timeout overload measured on the steady clock.
//  * get() re-raises the task's exception: a standard or tandem exception keeps its C++ type
//    (ProcessPoolExecutor's rule), a task whose worker died raises tandem::WorkerDied.
// Differences from Python
//  * get(timeout) raises tandem::TimeoutError (Python: multiprocessing.TimeoutError, not the
//    builtin) — tandem has one TimeoutError for every module.
//  * A result never hangs: a dead worker fails it with WorkerDied (Python's get() waits
//    forever, bpo-22393), Pool::terminate() fails the outstanding ones (pool.hpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/futures/future.hpp"
#include "tandem/futures/map_range.hpp"  // detail::MapChunk

namespace tandem::mp {

/// apply_async's / map_async's callback and error_callback, by name. Each runs in the parent,
/// on the pool's callback thread (one thread: callbacks run one at a time, in the order the
/// results completed), never in a worker process. They must not block for long: every
/// later result's callbacks wait behind them.
template <class R>
struct AsyncCallbacks {
  std::function<void(const R&)> callback{};
  std::function<void(std::exception_ptr)> error_callback{};
};
/// For a function returning void: the callback takes nothing (Python passes it None).
template <>
struct AsyncCallbacks<void> {
  std::function<void()> callback{};
  std::function<void(std::exception_ptr)> error_callback{};
};

template <class R>
class AsyncResult {
 public:
  /// Built by Pool; `f` is completed once the callbacks have run.
  explicit AsyncResult(Future<R> f) : f_(std::move(f)) {}

  /// Waits for the result; returns it or re-raises the task's exception.
  R get() {
    if constexpr (std::is_void_v<R>) {
      f_.result();
    } else {
      return R(f_.result());
    }
  }
  /// As get(), but TimeoutError if it is not ready within `timeout`.
  R get(duration timeout) {
    if constexpr (std::is_void_v<R>) {
      f_.result(timeout);
    } else {
      return R(f_.result(timeout));
    }
  }
  /// Waits until the result is ready (never throws the task's exception).
  void wait() { (void)f_.exception(); }
  /// Waits at most `timeout`; whether the result is ready (Python returns None and the caller
  /// asks ready(); the bool saves that second call).
  bool wait(duration timeout) {
    try {
      (void)f_.exception(timeout);
      return true;
    } catch (const TimeoutError&) {
      return false;
    }
  }
  bool ready() const noexcept { return f_.done(); }
  /// Whether the task returned without an exception; ValueError("... not ready") before.
  bool successful() const {
    if (!f_.done()) throw ValueError("AsyncResult not ready");
    return Future<R>(f_).exception() == nullptr;
  }

 private:
  Future<R> f_;
};

/// The lazy range of Pool::imap (input order) and Pool::imap_unordered (completion order):
/// Python's IMapIterator. Every task is submitted when imap() is called (as Python's task
/// handler does); iterating waits for the next result only. Single pass, move-only.
///  * next() returns the next value, std::nullopt at the end, or re-raises that item's
///    exception — and iteration may go on after it, as Python's next(); next(timeout) raises
///    TimeoutError when the next result is not ready in time (the position is kept: calling
///    again waits again).
///  * Range-for: `for (R v : it)` stops at the first exception (it propagates out of the loop).
///  * With chunksize > 1, an item that raised ends its chunk: the chunk's later items are
///    skipped (Python skips the whole chunk, earlier items included; tandem keeps those).
template <class R>
class IMapIterator {
 public:
  using Chunk = tandem::detail::MapChunk<R>;
  /// `ordered` false: chunks are consumed in the order they complete.
  IMapIterator(std::vector<Future<Chunk>> chunks, bool ordered)
      : chunks_(std::move(chunks)) {
    if (!ordered) {
      order_ = std::make_shared<Order>();
      order_->slots.resize(chunks_.size());
      for (std::size_t i = 0; i < chunks_.size(); ++i)
        chunks_[i].add_done_callback([o = order_, i](Future<Chunk>) {
          o->slots[o->n.fetch_add(1, std::memory_order_relaxed)].set_result(i);
        });
    }
  }
  IMapIterator(IMapIterator&&) noexcept = default;
  IMapIterator& operator=(IMapIterator&&) noexcept = default;

  std::optional<R> next() { return step(std::nullopt); }
  std::optional<R> next(duration timeout) { return step(timeout); }

  struct end_t {};
  class iterator {
   public:
    R operator*() {
      if (!value_) owner_->fill(*this);
      R v = std::move(*value_);
      value_.reset();
      return v;
    }
    iterator& operator++() { return *this; }
    bool operator==(end_t) {
      if (!value_) owner_->fill(*this);
      return !value_;
    }

   private:
    friend class IMapIterator;
    explicit iterator(IMapIterator* o) : owner_(o) {}
    IMapIterator* owner_;
    std::optional<R> value_;
  };
  iterator begin() { return iterator(this); }
  end_t end() { return {}; }

 private:
  struct Order {
    std::atomic<std::size_t> n{0};
    std::vector<Future<std::size_t>> slots;
  };

  void fill(iterator& it) { it.value_ = step(std::nullopt); }

  std::optional<R> step(const std::optional<duration>& timeout) {
    for (;;) {
      if (cur_) {
        if (pos_ < cur_->values.size()) return std::move(cur_->values[pos_++]);
        std::exception_ptr e = std::exchange(cur_->error, nullptr);
        cur_.reset();
        if (e) std::rethrow_exception(e);
      }
      if (k_ == chunks_.size()) return std::nullopt;
      std::size_t idx = k_;
      if (order_) idx = timeout ? order_->slots[k_].result(*timeout) : order_->slots[k_].result();
      Future<Chunk>& f = chunks_[idx];
      if (timeout) {
        try {
          (void)f.exception(*timeout);
        } catch (const TimeoutError&) {
          if (!f.done()) throw;
        } catch (...) {  // done (cancelled): result() below raises it
        }
      }
      ++k_;
      pos_ = 0;
      Future<Chunk> taken = std::exchange(f, Future<Chunk>());
      cur_.emplace(Chunk(taken.result()));  // a failed chunk (WorkerDied, ...) raises here
    }
  }

  std::vector<Future<Chunk>> chunks_;
  std::shared_ptr<Order> order_;  // null: input order
  std::size_t k_ = 0;             // chunks taken
  std::optional<Chunk> cur_;      // the chunk being handed out
  std::size_t pos_ = 0;
};

}  // namespace tandem::mp
