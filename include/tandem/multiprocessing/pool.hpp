// SPDX-License-Identifier: MIT
// <tandem/multiprocessing/pool.hpp> — mp::Pool: Python's multiprocessing.Pool, a thin layer on
// tandem::ProcessPoolExecutor (<tandem/process_pool.hpp>), which it owns
// (docs/multiprocessing.md#pool).
//
//   tandem::mp::Pool pool(4);
//   int r = pool.apply(add, 2, 3);                              // 5, computed in a worker
//   std::vector<int> sq = pool.map(square, std::vector{1, 2, 3});
//   auto ar = pool.apply_async(slow, 7, tandem::mp::AsyncCallbacks<int>{.callback = log_it});
//   for (int v : pool.imap_unordered(square, inputs, 16)) ...  // in completion order
//
// Guarantees
//  * Every task is a ProcessPoolExecutor task: fn is a function pointer or a lambda without
//    captures, arguments and result tandem::Serializable — checked at compile time. There is
//    no second scheduler: apply_async is submit(); map, starmap and imap send one task per
//    chunk of `chunksize` items (the executor's map chunks); results come back through the
//    executor's futures. So the executor's guarantees hold: a worker that dies fails only the
//    task it was running with tandem::WorkerDied and is replaced at once (the pool keeps
//    serving), results finished before a crash are kept, nothing outlives the owner.
//  * Task exceptions keep their standard or tandem C++ type (others: RemoteError).
//  * Callbacks (AsyncCallbacks) run in the parent on one callback thread owned by the pool, in
//    completion order, before the AsyncResult becomes ready. An exception thrown by a callback
//    is reported through tandem::log ("exception calling callback for <AsyncResult>: ...",
//    source "multiprocessing") and swallowed: the AsyncResult still gets the task's outcome
//    and the pool keeps working (in Python it kills the result handler thread and the pool
//    hangs).
//  * map/starmap/map_async read the whole input first (Python turns it into a list). chunksize
//    0: Python's default, ceil(len / (4 * processes)). map and map_async raise the exception
//    of the first failing item in input order (Python: the first failing chunk to complete);
//    as in Python they do not fail fast: the other chunks run to completion.
//  * close(): no new work, submitted work goes on. join(): after close() or terminate(), waits
//    until every submitted task has completed and its callbacks have run, then for the
//    workers to exit; ValueError("Pool is still running") before. Work submitted after
//    close() or terminate(): ValueError("Pool not running").
//  * terminate() (and the destructor, as Python's `with Pool() as p:`): stops the workers now
//    (SIGKILL, the executor's kill_workers()) and waits for them; nothing is left behind —
//    no process, no zombie. Every outstanding AsyncResult completes (difference from Python,
//    where they hang forever): a task that was running fails with WorkerDied, one not started
//    yet with tandem::CancelledError; the error callbacks run.
//  * Blocking calls (apply, map, starmap, join, AsyncResult::get/wait, IMapIterator::next)
//    wait in tandem's waiting layer, never spin; AsyncResult and IMapIterator have timeout
//    overloads on the steady clock.
// Latency (inherited from the executor's result batching, <tandem/process_pool.hpp>): a quick
//  result can be held in its worker until the next task of the same function there returns,
//  when that next run is the function's first slow one (a worker flushes its results before a
//  function it has not seen finish quickly). With Python's pool each result travels at once.
// Cost: what the executor's tasks cost, plus one hop to the callback thread per AsyncResult
//  (a ThreadPoolExecutor task); imap_unordered one extra Future per chunk.
// Differences from Python
//  * initargs: the initializer and its arguments travel together, as
//    `.initializer_call = shipping::ship(&init, args...)`; `initializer` stays a plain
//    function pointer. No kwds: arguments are C++ arguments.
//  * map/starmap/map_async of a function returning void do not compile (Python returns a list
//    of None): a vector of nothing carries no information; use apply_async per item, or
//    return a value.
//  * An exception thrown while reading the input range propagates from the call itself
//    (map/imap read the input eagerly, as Python's task handler does, but in the caller).
//  * processes 0 and maxtasksperchild 0 mean Python's None (CPU count / no limit).
//  * maxtasksperchild is allowed with fork (the executor supports it).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/futures/thread_pool.hpp"
#include "tandem/multiprocessing/async_result.hpp"
#include "tandem/multiprocessing/start_method.hpp"
#include "tandem/process_pool.hpp"

namespace tandem::mp {

/// Pool(processes, initializer, maxtasksperchild, context), Python's names.
struct PoolOptions {
  std::size_t processes = 0;            // 0: the CPUs this process may use
  void (*initializer)() = nullptr;      // runs first in every worker
  std::size_t maxtasksperchild = 0;     // 0: no limit
  StartMethod start_method = get_start_method();  // the default context's, as Python's Pool()
  // initializer with initargs: `.initializer_call = tandem::shipping::ship(&init, args...)`
  // (ProcessPoolOptions::initializer_call). Giving both is a ValueError.
  shipping::Task initializer_call{};
};

namespace detail {

template <class T>
struct is_callbacks : std::false_type {};
template <class R>
struct is_callbacks<AsyncCallbacks<R>> : std::true_type {};

template <class... Args>
constexpr bool last_is_callbacks() {
  if constexpr (sizeof...(Args) == 0) {
    return false;
  } else {
    return is_callbacks<
        std::remove_cvref_t<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>>>::value;
  }
}

/// fn's signature as a function pointer type, after ProcessPoolExecutor's compile-time checks.
template <class F>
using PoolFn = typename shipping::detail::function_info<std::decay_t<F>>::pointer;
/// What fn travels as: the function pointer, or the serializable function object.
template <class F>
using PoolCallee = shipping::callee_t<F>;

template <class F>
using PoolSig = shipping::detail::Signature<PoolFn<F>>;
template <class F>
using PoolResult = std::remove_cvref_t<typename PoolSig<F>::result>;
template <class F>
using PoolItem = typename tandem::detail::ShippedMap<PoolCallee<F>>::Item;

/// Reports a callback's exception and swallows it (pool.hpp: the pool keeps working).
void report_pool_callback_exception(std::exception_ptr e) noexcept;

}  // namespace detail

class Pool {
 public:
  explicit Pool(std::size_t processes = 0) : Pool(PoolOptions{.processes = processes}) {}
  explicit Pool(PoolOptions opts);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  /// terminate(), as Python's `with Pool() as p:` on exit.
  ~Pool();

  /// fn(args...) in a worker; blocks for the result.
  template <class F, class... Args>
  auto apply(F fn, Args&&... args) {
    return apply_async(fn, std::forward<Args>(args)...).get();
  }

  /// fn(args...) in a worker; the last argument may be an AsyncCallbacks<R>.
  template <class F, class... Args>
  auto apply_async(F fn, Args&&... args) {
    if constexpr (detail::last_is_callbacks<Args...>()) {
      return apply_split(fn, std::forward_as_tuple(std::forward<Args>(args)...),
                         std::make_index_sequence<sizeof...(Args) - 1>{});
    } else {
      using R = typename tandem::detail::ShipResult<F>::type;
      return apply_with(AsyncCallbacks<R>{}, fn, std::forward<Args>(args)...);
    }
  }

  /// fn over every item, in chunks; blocks; the results in input order.
  template <class F, class Range>
  auto map(F fn, Range&& items, std::size_t chunksize = 0) {
    return map_async(fn, std::forward<Range>(items), chunksize).get();
  }
  template <class F, class Range, class R = detail::PoolResult<F>>
  AsyncResult<std::vector<R>> map_async(F fn, Range&& items, std::size_t chunksize = 0,
                                        AsyncCallbacks<std::vector<R>> cbs = {}) {
    return map_impl<false>(fn, std::forward<Range>(items), chunksize, std::move(cbs));
  }
  /// fn(std::get<I>(t)...) for every tuple t.
  template <class F, class Range>
  auto starmap(F fn, Range&& tuples, std::size_t chunksize = 0) {
    return map_impl<true>(fn, std::forward<Range>(tuples), chunksize,
                          AsyncCallbacks<std::vector<detail::PoolResult<F>>>{}).get();
  }
  template <class F, class Range, class R = detail::PoolResult<F>>
  AsyncResult<std::vector<R>> starmap_async(F fn, Range&& tuples, std::size_t chunksize = 0,
                                            AsyncCallbacks<std::vector<R>> cbs = {}) {
    return map_impl<true>(fn, std::forward<Range>(tuples), chunksize, std::move(cbs));
  }

  /// Lazy, in input order (IMapIterator). chunksize >= 1, else ValueError.
  template <class F, class Range>
  IMapIterator<detail::PoolResult<F>> imap(F fn, Range&& items, std::size_t chunksize = 1) {
    return imap_impl(fn, std::forward<Range>(items), chunksize, true);
  }
  /// Lazy, in completion order (chunk by chunk; in input order within a chunk).
  template <class F, class Range>
  IMapIterator<detail::PoolResult<F>> imap_unordered(F fn, Range&& items, std::size_t chunksize) {
    return imap_impl(fn, std::forward<Range>(items), chunksize, false);
  }

  /// No new work; what was submitted runs to completion.
  void close();
  /// Kills the workers now; outstanding results fail (WorkerDied / CancelledError).
  void terminate();
  /// After close() or terminate(): waits for the submitted work, its callbacks and the
  /// workers. ValueError("Pool is still running") before.
  void join();

  /// The number of worker processes (processes, or the CPU count for 0).
  std::size_t processes() const noexcept { return ex_.max_workers(); }
  /// The executor underneath (its stats(), worker_pids()): diagnostics and tests.
  ProcessPoolExecutor& executor() noexcept { return ex_; }

 private:
  enum State : int { kRun, kClose, kTerminate };

  void check_running() const {
    if (state_.load(std::memory_order_acquire) != kRun) throw ValueError("Pool not running");
  }

  template <bool Star, class F, class Range, class R>
  AsyncResult<std::vector<R>> map_impl(F fn, Range&& items, std::size_t chunksize,
                                       AsyncCallbacks<std::vector<R>> cbs) {
    return gather<R>(chunks_of(fn, read_items<Star, F>(std::forward<Range>(items)), chunksize),
                     std::move(cbs));
  }

  template <class F, class Range>
  IMapIterator<detail::PoolResult<F>> imap_impl(F fn, Range&& items, std::size_t chunksize,
                                                bool ordered) {
    if (chunksize < 1) throw ValueError("Chunksize must be 1+, not 0");
    return IMapIterator<detail::PoolResult<F>>(
        chunks_of(fn, read_items<false, F>(std::forward<Range>(items)), chunksize), ordered);
  }

  template <class F, class Tuple, std::size_t... I>
  auto apply_split(F fn, Tuple&& t, std::index_sequence<I...>) {
    constexpr std::size_t N = std::tuple_size_v<std::remove_reference_t<Tuple>>;
    return apply_with(std::move(std::get<N - 1>(t)), fn, std::get<I>(std::move(t))...);
  }

  template <class R, class F, class... Args>
  AsyncResult<R> apply_with(AsyncCallbacks<R> cbs, F fn, Args&&... args) {
    check_running();
    Future<R> f = ex_.submit(fn, std::forward<Args>(args)...);
    return attach<R>(std::move(f), std::move(cbs), [](Future<R>& src) -> R {
      if constexpr (std::is_void_v<R>) {
        src.result();
      } else {
        return R(src.result());
      }
    });
  }

  /// The input as the executor's map items; `star`: each element is a tuple of arguments.
  template <bool Star, class F, class Range>
  std::vector<detail::PoolItem<F>> read_items(Range&& range) {
    static_assert(shipping::detail::callable_kind<std::decay_t<F>>,
                  "tandem::mp::Pool: fn must be a function pointer, a function, a lambda "
                  "without captures, or a serializable function object");
    static_assert(detail::PoolSig<F>::params_ok && detail::PoolSig<F>::args_serializable && detail::PoolSig<F>::result_ok,
                  "tandem::mp::Pool: fn's parameters and result must be tandem::Serializable "
                  "and taken by value or const reference");
    static_assert(!std::is_void_v<detail::PoolResult<F>>,
                  "tandem::mp::Pool::map/starmap/imap need a function that returns a value "
                  "(see pool.hpp: Differences from Python)");
    check_running();
    std::vector<detail::PoolItem<F>> items;
    for (auto&& x : range) {
      if constexpr (Star) {  // a tuple of arguments: fn(get<I>(x)...)
        items.push_back(std::apply(
            [](auto&&... a) { return detail::PoolItem<F>(std::forward<decltype(a)>(a)...); }, x));
      } else {
        items.push_back(detail::PoolItem<F>(x));
      }
    }
    return items;
  }

  template <class F>
  std::vector<Future<tandem::detail::MapChunk<detail::PoolResult<F>>>> chunks_of(
      F fn, std::vector<detail::PoolItem<F>> items, std::size_t chunksize) {
    if (chunksize == 0) {  // Python's map: divmod(len, processes * 4), +1 for a remainder
      const std::size_t per = processes() * 4;
      chunksize = items.size() / per + (items.size() % per ? 1 : 0);
      if (chunksize == 0) chunksize = 1;
    }
    tandem::detail::MapSubmit<detail::PoolCallee<F>> submit{&ex_, detail::PoolCallee<F>(fn)};
    std::vector<Future<tandem::detail::MapChunk<detail::PoolResult<F>>>> out;
    out.reserve((items.size() + chunksize - 1) / chunksize);
    for (std::size_t at = 0; at < items.size(); at += chunksize) {
      const std::size_t end = std::min(items.size(), at + chunksize);
      out.push_back(submit(std::vector<detail::PoolItem<F>>(std::make_move_iterator(items.begin() + at),
                                                std::make_move_iterator(items.begin() + end))));
    }
    return out;
  }

  /// One AsyncResult for every chunk: ready when the last chunk is, the values in order or
  /// the first error in input order.
  template <class R>
  AsyncResult<std::vector<R>> gather(std::vector<Future<tandem::detail::MapChunk<R>>> chunks,
                                     AsyncCallbacks<std::vector<R>> cbs) {
    using Chunk = tandem::detail::MapChunk<R>;
    Future<std::vector<Future<Chunk>>> all;  // completed when the last chunk is
    auto left = std::make_shared<std::atomic<std::size_t>>(chunks.size());
    if (chunks.empty()) {
      all.set_result(std::vector<Future<Chunk>>{});
    } else {
      auto held = std::make_shared<std::vector<Future<Chunk>>>(chunks);
      for (auto& c : chunks)
        c.add_done_callback([left, held, all](Future<Chunk>) mutable {
          if (left->fetch_sub(1, std::memory_order_acq_rel) == 1) all.set_result(*held);
        });
    }
    return attach<std::vector<R>>(
        std::move(all), std::move(cbs), [](Future<std::vector<Future<Chunk>>>& src) {
          // Every chunk is done; this conversion runs once and nothing else sees the chunks'
          // futures, so their values are moved out (no copy of each chunk) into one vector
          // sized up front (no regrowth: on a fork pool every fresh page written costs a
          // copy-on-write fault).
          std::vector<Future<Chunk>> chunks = src.result();
          std::size_t total = 0;
          for (Future<Chunk>& c : chunks)
            if (!c.state()->has_exception() && !c.cancelled())
              total += c.state()->value().values.size();
          std::vector<R> values;
          values.reserve(total);
          for (Future<Chunk>& c : chunks) {
            if (c.state()->has_exception() || c.cancelled()) c.result();  // WorkerDied, ...
            Chunk& got = c.state()->value();
            std::move(got.values.begin(), got.values.end(), std::back_inserter(values));
            if (got.error) std::rethrow_exception(got.error);
          }
          return values;
        });
  }

  /// The AsyncResult of `src`: when src completes, conv(src) and the callbacks run on the
  /// callback thread, then the AsyncResult's future is completed.
  template <class R, class S, class Conv>
  AsyncResult<R> attach(Future<S> src, AsyncCallbacks<R> cbs, Conv conv) {
    Future<R> out;
    ThreadPoolExecutor* cb = callbacks_.get();
    src.add_done_callback([cb, out, cbs = std::move(cbs), conv](Future<S> done) mutable {
      auto deliver = [out, cbs = std::move(cbs), conv, done]() mutable {
        std::exception_ptr err;
        if constexpr (std::is_void_v<R>) {
          try {
            conv(done);
          } catch (...) {
            err = std::current_exception();
          }
          if (!err) {
            if (cbs.callback) call_guarded([&] { cbs.callback(); });
            out.set_result();
            return;
          }
        } else {
          std::optional<R> v;
          try {
            v.emplace(conv(done));
          } catch (...) {
            err = std::current_exception();
          }
          if (!err) {
            if (cbs.callback) call_guarded([&] { cbs.callback(*v); });
            out.set_result(std::move(*v));
            return;
          }
        }
        if (cbs.error_callback) call_guarded([&] { cbs.error_callback(err); });
        out.set_exception(err);
      };
      try {
        cb->submit(deliver);
      } catch (...) {  // the callback thread is gone (cannot happen before join/terminate)
        deliver();
      }
    });
    return AsyncResult<R>(std::move(out));
  }

  template <class Fn>
  static void call_guarded(Fn&& fn) noexcept {
    try {
      fn();
    } catch (...) {
      detail::report_pool_callback_exception(std::current_exception());
    }
  }

  ProcessPoolExecutor ex_;  // first: a fork pool forks before the callback thread exists
  std::unique_ptr<ThreadPoolExecutor> callbacks_;
  std::atomic<int> state_{kRun};
  std::mutex end_;  // serializes terminate() and join()
  bool joined_ = false;
};

}  // namespace tandem::mp
