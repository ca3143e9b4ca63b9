// SPDX-License-Identifier: MIT
// tandem::ThreadPoolExecutor — concurrent.futures.ThreadPoolExecutor
// (docs/futures.md#threadpoolexecutor).
//
// Guarantees
//  * max_workers 0 means min(32, cpus + 4) as Python 3.13+, where cpus counts the CPUs the
//    constructing thread may run on (its affinity mask: os.process_cpu_count()), not every
//    CPU of the machine — under taskset or a cpuset the pool is sized for what it can use.
//    Workers start lazily, one per submit that finds no idle worker, up to max_workers,
//    and are reused; a worker's name (current_thread_name()) is "<prefix>_N"
//    ("ThreadPoolExecutor-K_N" without a prefix), as Python's; its OS name (top, ps -L, gdb:
//    15 bytes at most) is "tp<pool>-<N>", distinct per pool. The process pool's dispatcher
//    thread is "pp<pool>-disp".
//  * submit(fn, args...) → Future<R>: fn and args are decay-copied into the task, which is
//    run once by some worker; any exception it throws reaches the future. After shutdown:
//    RuntimeError("cannot schedule new futures after shutdown"); on a broken pool:
//    BrokenThreadPool. A submit racing with shutdown() is either refused or runs — never lost.
//  * initializer runs first in every worker. If it throws, the message is printed
//    ("Exception in initializer: ..."), the pool becomes broken: every task not yet started
//    and every later submit fails with BrokenThreadPool("A thread initializer failed, the
//    thread pool is not usable anymore"); running tasks finish.
//  * map(fn, ranges..., MapOptions) → a lazy range of results in input order (zip: stops at
//    the shortest range). buffersize 0 submits everything at the call (Python's default);
//    buffersize n keeps at most n chunks in flight and reads the input lazily. Unlike
//    Python's ThreadPoolExecutor, chunksize is honoured: items travel in batches of
//    chunksize per task (a large chunksize makes map much cheaper per item). The timeout is
//    one deadline fixed at the call (TimeoutError from the iterator). An exception from fn
//    is rethrown at its position and ends the iteration; remaining tasks are cancelled, as
//    when the range is destroyed early. A lazy map needs the executor alive while iterated.
//    (The range is MapRange, map_range.hpp, shared with the process and MPI pools.)
//  * shutdown(wait = true, cancel_futures = false) as Python; callable repeatedly, and
//    every shutdown(true) waits for every worker (also one racing another). The destructor
//    is shutdown(true) — Python's `with` block.
//  * shutdown(true), or the destructor, called from one of the pool's own tasks (where
//    Python raises "cannot join current thread"): waits for every other worker and runs
//    what is left, then returns inside the task; that worker exits once its task ends, and
//    the pool's internal state lives until it has (it is shared with the workers), so
//    destroying the executor from its own task is safe. Several tasks doing this at once
//    do not wait for each other. A task that waits for a task calling shutdown(true)
//    deadlocks, as in Python.
//  * Outside threads that submit may come and go freely: each gets a private submit
//    deque that is handed back when the thread exits (tasks left in it still run).
//  * fork(): in a child, every pool inherited from the parent is broken — its workers do
//    not exist there. submit() raises BrokenThreadPool("the thread pool was inherited
//    through fork(): ..."); shutdown() and the destructor return without waiting and fail
//    the tasks still queued with BrokenThreadPool (call one of them before waiting on
//    such a future in the child); futures of tasks that were running at the fork never
//    complete in the child. The child may create and use new pools.
// Beyond Python
//  * result()/exception() called inside a task run other queued tasks of the pool while
//    they wait, so a task may submit work and wait for it without deadlocking the pool.
//  * Idle workers sleep in futex(2): 0% CPU when idle. A busy worker is never woken.
//  * Work stealing (one Chase-Lev deque per worker and per submitting thread) so submission
//    scales; a task submitted from a task goes to its worker's deque and runs LIFO there.
//  * Context: every submit, map and call_later/call_at runs its task in a copy of the
//    submitter's contextvars context taken at the call (as asyncio's tasks): a ContextVar set
//    before submit is seen inside the task, and sets inside never leak back. Free when no
//    ContextVar was ever set (an empty context is a null pointer).
//  * stats(): submitted, completed, queued, workers, workers_busy, submitters (outside
//    threads holding a private submit deque).
// Differences: shutdown(wait=true) from one of the pool's own tasks returns (see above)
//  instead of raising RuntimeError. Cancelled futures count as done for wait()/as_completed()
//  (see wait.hpp).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/contextvars.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/futures/future.hpp"
#include "tandem/futures/map_range.hpp"
#include "tandem/futures/options.hpp"  // ThreadPoolOptions, MapOptions, TaskOptions
#include "tandem/futures/timers.hpp"
#include "tandem/futures/detail/pool_scheduler.hpp"
#include "tandem/futures/detail/task_state.hpp"
#include "tandem/futures/detail/timer_service.hpp"

namespace tandem {

class ThreadPoolExecutor;

namespace detail {

/// MapRange's Submit for ThreadPoolExecutor::map: one pool task per chunk, which runs fn over
/// the items and keeps the exception that stops it in the chunk.
template <class R, class Fn, class Item>
struct ThreadMapSubmit {
  ThreadPoolExecutor* ex;
  std::shared_ptr<Fn> fn;  // shared with the chunks, which may outlive the range (cancelled)
  Future<MapChunk<R>> operator()(std::vector<Item> items);
};

}  // namespace detail

/// The lazy, in-order range returned by ThreadPoolExecutor::map (see map_range.hpp).
template <class R, class Fn, class... Rs>
using MapResult = MapRange<R, detail::MapItem<Rs...>,
                           detail::ThreadMapSubmit<R, Fn, detail::MapItem<Rs...>>, Rs...>;

class ThreadPoolExecutor : public detail::ExecutorTimers<ThreadPoolExecutor> {
 public:
  explicit ThreadPoolExecutor(std::size_t max_workers = 0)
      : ThreadPoolExecutor(ThreadPoolOptions{max_workers, {}, {}}) {}
  explicit ThreadPoolExecutor(ThreadPoolOptions opts) : sched_(make_sched(std::move(opts))) {}
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;
  ~ThreadPoolExecutor() { shutdown(true); }

  template <class F, class... Args>
    requires(!std::is_same_v<std::decay_t<F>, TaskOptions>)
  auto submit(F&& fn, Args&&... args) {
    if constexpr (takes_stop_token<F, Args...>) {
      return submit(TaskOptions{}, std::forward<F>(fn), std::forward<Args>(args)...);
    } else {
      auto call = make_call(std::forward<F>(fn), std::forward<Args>(args)...);
      using R = typename CallResult<false, decltype(call)>::type;
      auto* st = new detail::TaskState<R, decltype(call)>(std::move(call));
      st->init_refs(2);
      Future<R> fut(st, detail::AdoptRef{});
      sched_->enqueue(st);
      return fut;
    }
  }

  /// submit with per-task options: priority (higher first among queued tasks), timeout (from
  /// the task's start: the future fails with TimeoutError, the thread is not stopped), and a
  /// std::stop_token as fn's first parameter when fn takes one (see task_state.hpp).
  template <class F, class... Args>
  auto submit(const TaskOptions& topts, F&& fn, Args&&... args) {
    constexpr bool stop = takes_stop_token<F, Args...>;
    auto call = make_call(std::forward<F>(fn), std::forward<Args>(args)...);
    using R = typename CallResult<stop, decltype(call)>::type;
    std::int64_t timeout_ns = -1;
    if (topts.timeout) {
      const double s = topts.timeout->count();
      timeout_ns = s > 0 ? static_cast<std::int64_t>(std::min(s, 1e9) * 1e9) : 0;
    }
    auto* st = new detail::OptionTask<R, decltype(call), stop>(std::move(call), timeout_ns);
    st->init_refs(2);
    Future<R> fut(st, detail::AdoptRef{});
    if (topts.priority != 0)
      sched_->enqueue_priority(st, topts.priority);
    else
      sched_->enqueue(st);
    return fut;
  }

  /// call_at with the task itself waiting in the timer (timers.hpp has the contract).
  template <class F, class... Args>
  auto call_at(time_point when, F fn, Args... args) {
    auto call = make_call(std::move(fn), std::move(args)...);
    using R = typename CallResult<false, decltype(call)>::type;
    using Task = detail::DelayedTask<R, decltype(call), detail::PoolScheduler>;
    auto* st = new Task(std::move(call), sched_.get(), timer_owner());
    st->init_refs(2);  // the future and the timer
    Future<R> fut(st, detail::AdoptRef{});
    try {
      detail::TimerService::instance().add(st, detail::to_ns(when));
    } catch (...) {
      st->release();
      throw;
    }
    return fut;
  }

  template <class F, class... Args>
  auto map(F&& fn, Args&&... args) {
    return detail::call_with_map_options(
        [&](const MapOptions& opts, auto&&... ranges) {
          return map_impl(std::forward<F>(fn), opts, std::forward<decltype(ranges)>(ranges)...);
        },
        std::forward<Args>(args)...);
  }

  /// Also cancels the pool's pending timers and stops its call_every ticks (timers.hpp).
  void shutdown(bool wait = true, bool cancel_futures = false) {
    close_timers();
    sched_->shutdown(wait, cancel_futures);
  }
  PoolStats stats() const noexcept { return sched_->stats(); }
  std::size_t max_workers() const noexcept { return sched_->max_workers(); }

 private:
  template <class F, class... Args>
  static constexpr bool takes_stop_token =
      std::is_invocable_v<std::decay_t<F>&, std::stop_token, std::decay_t<Args>...> &&
      !std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>...>;

  /// fn and args decay-copied into one callable, call() or call(token), that runs in a copy
  /// of the caller's context (contextvars.hpp: free when no ContextVar was ever set).
  template <class F, class... Args>
  static auto make_call(F&& fn, Args&&... args) {
    return [ctx = copy_context(), f = std::forward<F>(fn),
            tup = std::make_tuple(std::forward<Args>(args)...)](auto&&... token) mutable
           -> decltype(auto) {
      return std::move(ctx).run([&]() -> decltype(auto) {
        return std::apply(
            [&](auto&&... a) -> decltype(auto) {
              return std::invoke(f, token..., std::forward<decltype(a)>(a)...);
            },
            std::move(tup));
      });
    };
  }
  template <bool Stop, class Call>
  struct CallResult {
    using type = std::remove_cvref_t<decltype(std::declval<Call&>()())>;
  };
  template <class Call>
  struct CallResult<true, Call> {
    using type = std::remove_cvref_t<decltype(std::declval<Call&>()(std::stop_token{}))>;
  };

  static std::shared_ptr<detail::PoolScheduler> make_sched(ThreadPoolOptions opts) {
    return std::make_shared<detail::PoolScheduler>(std::move(opts));
  }

  template <class F, class... Rs>
  auto map_impl(F&& fn, const MapOptions& opts, Rs&&... ranges) {
    static_assert(sizeof...(Rs) > 0, "map needs at least one range");
    using Fn = std::decay_t<F>;
    using R = std::remove_cvref_t<
        std::invoke_result_t<Fn&, typename detail::HeldRange<Rs>::value_type...>>;
    static_assert(!std::is_void_v<R>, "map needs a function that returns a value");
    if (opts.chunksize < 1) throw ValueError("chunksize must be >= 1.");
    using Item = detail::MapItem<Rs...>;
    return MapResult<R, Fn, Rs...>(
        detail::ThreadMapSubmit<R, Fn, Item>{this, std::make_shared<Fn>(std::forward<F>(fn))},
        opts, std::forward<Rs>(ranges)...);
  }

  std::shared_ptr<detail::PoolScheduler> sched_;  // shared with the worker threads
};

template <class R, class Fn, class Item>
Future<detail::MapChunk<R>> detail::ThreadMapSubmit<R, Fn, Item>::operator()(
    std::vector<Item> items) {
  return ex->submit([fn = fn, items = std::move(items)]() mutable {
    MapChunk<R> c;
    c.values.reserve(items.size());
    try {
      for (Item& it : items) c.values.push_back(std::apply(*fn, std::move(it)));
    } catch (...) {
      c.error = std::current_exception();
    }
    return c;
  });
}

}  // namespace tandem
