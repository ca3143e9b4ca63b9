// SPDX-License-Identifier: MIT
// <tandem/process_pool.hpp> — tandem::ProcessPoolExecutor: concurrent.futures.ProcessPoolExecutor
// (docs/process_pool.md) that is never broken.
//
//   tandem::ProcessPoolExecutor ex(2);
//   tandem::Future<int> f = ex.submit(add, 2, 3);                 // add runs in a worker process
//   auto g = ex.submit(tandem::TaskOptions{.timeout = 2s}, slow, 7);   // killed after 2 s
//   for (int r : ex.map(square, inputs, tandem::MapOptions{.chunksize = 1000})) ...
//
// Guarantees
//  * submit(fn, args...) → Future<R> (the same Future as ThreadPoolExecutor's): fn is a
//    function pointer or a lambda without captures; the arguments and the result must be
//    tandem::Serializable — checked at compile time with a static_assert saying which rule
//    failed (<tandem/shipping/ship.hpp>), never a run-time "cannot pickle". The call travels
//    as (trampoline offset, function offset, serialized arguments); every worker proves at
//    its start (hello) that it runs the same binary (GNU build-id). A worker of another binary
//    breaks the pool at once (its replacements would run it too): BrokenProcessPool naming
//    both build-ids for every pending future and every later submit.
//  * An exception thrown by the task comes back as the same type when it is a standard or
//    tandem exception type, otherwise RemoteError(type name, what()).
//  * max_workers 0: the CPUs this process may use. Start methods fork (default, as mp::Process),
//    forkserver and spawn (both need tandem::mp::init(argc, argv) first in main()). The
//    workers start in the constructor (from the calling thread, so a fork pool built before
//    other threads exist forks a single-threaded process); replacements start from the
//    pool's dispatcher thread.
//  * initializer (or initializer_call, with its arguments) runs first in every worker. A worker that dies before its initializer
//    returns (it threw — "Exception in initializer: ..." on stderr —, crashed, or sent corrupt
//    data in its handshake) is replaced; after 3 such deaths in a row (no worker became ready
//    in between) the pool is broken: every pending future and every later submit fail with
//    BrokenProcessPool("... initializer ..."), instead of looping forever. SIGKILLs from
//    outside during the initializer (the out-of-memory killer's victims) break it after 10 in
//    a row: an operator's or a chaos test's kills of random workers must not. Only a kill
//    while the initializer runs counts (never without an initializer, never before it began),
//    and never one the pool made itself (timeout, cancel, terminate/kill_workers).
// Never broken (where Python's pool breaks for good)
//  * Each worker has a private channel (a UNIX stream socket): no queue is shared by the
//    workers, so a worker killed mid-read corrupts nothing. The parent never blocks on a
//    worker (non-blocking sends, buffered per worker).
//  * A worker's death is seen through its pidfd (~60 µs). It fails only the task it was
//    running, with WorkerDied (a BrokenProcessPool): pid, exit code or signal, "running this
//    task", and a hint ("killed by SIGKILL — possibly the out-of-memory killer"). No finished
//    result is ever lost: a worker keeps each result, the moment its task returns, in a log in
//    memory it shares with the pool (a memfd), and sends the log in batches; when it dies the
//    pool reads the log and delivers the results it had not sent yet, before it fails
//    anything. Tasks it had received but not started are re-queued and run elsewhere — never
//    twice: a task runs at most once. A map chunk keeps its finished items the same way: a
//    crash in item k fails item k (map's iteration ends there) and items before it keep
//    their values. A replacement worker takes over at once; the pool keeps serving.
//  * Nothing outlives the owner: every worker and the spare die with the process that owns
//    the pool, however it dies (SIGKILL included), whatever their task does to its session or
//    process group — PR_SET_PDEATHSIG against the thread that started them (only the main
//    thread or the pool's dispatcher start workers: both live as long as the pool), and under
//    forkserver, whose server may belong to another process, a thread in the worker that
//    watches the owner's pidfd and kills the worker's process group with it. Measured: gone
//    2-20 ms after the owner's SIGKILL. Processes a task started itself die with the worker's
//    process group when the pool sees the worker die; if the owner is SIGKILLed, only under
//    forkserver (the watcher kills the group) — under fork and spawn they are orphaned.
//  * The spare (ProcessPoolOptions::spare_worker, on by default): one extra process started
//    ahead of need, connected and past its initializer, parked in a blocking read (0% CPU).
//    It never runs a task and is not a worker: max_workers(), worker_pids() and the
//    concurrency do not count it. A worker's death promotes it into the dead worker's place at
//    once (no process start on that path: SIGKILL → result of a task submitted then ~0.3 ms
//    median on a loaded 2-CPU machine, ~0.1-0.2 ms of it the kernel's teardown of the dead
//    process before its pidfd is readable; ~0.7-1.5 ms without the spare); the next spare is
//    forked when the pool's dispatcher has nothing else to do (at most ~2 ms later), so its
//    fork never delays results being awaited. If the spare is not ready yet (two deaths in
//    quick succession), the one still starting is promoted anyway. Cost: one idle process
//    (its memory — copy-on-write shared with the parent under fork —, a socket, a pidfd).
//    Its initializer failing counts as any worker's (3 deaths in a row break the pool);
//    shutdown, terminate_workers() and kill_workers() end it with the workers.
//  * Each worker leads its own process group; the group is SIGKILLed when the worker dies or
//    is killed, so processes a task started do not outlive it.
//  * submit(TaskOptions{.timeout = d}, fn, args...): d counts from the moment the task starts
//    in its worker; past it the parent SIGKILLs the worker (the task cannot stop it), the
//    future fails with TimeoutError, and a replacement starts. The pool watches whichever
//    task the worker runs, also one behind finished tasks whose results are still batched
//    (those are delivered from the worker's log when it is killed).
//  * submit(TaskOptions{.priority = p}, ...): the dispatcher sends higher priorities first
//    among the tasks it still holds (ties in submission order); tasks already sent to a
//    worker's window keep their place. Priority 0, the default, costs nothing extra.
//  * call_later / call_at / call_every (futures/timers.hpp): the function is shipped and
//    submitted when the timer falls due; shutdown() cancels pending timers.
//  * future.cancel() on a RUNNING task kills (and replaces) its worker and returns true — a
//    documented difference from Python, where cancel() of a running task returns false. A
//    task is RUNNING from the moment it is sent to a worker (Python's call-queue quirk,
//    docs/process_pool.md#cancellation); cancelling one that was sent but has not started yet
//    skips it without killing anybody.
//  * max_tasks_per_child n: a worker exits after n tasks and is replaced (the parent never
//    sends it more than it may run). Allowed with fork too (Python refuses fork).
//  * shutdown(wait, cancel_futures) as Python; never hangs on a dead worker; callable
//    repeatedly; the destructor is shutdown(true). terminate_workers()/kill_workers() are
//    shutdown(false, true) then SIGTERM/SIGKILL to every worker (Python 3.14): running futures
//    fail with WorkerDied, pending ones are cancelled. Every future completes.
//  * map(fn, ranges..., MapOptions{timeout, chunksize, buffersize}): as ThreadPoolExecutor::map
//    (zip, in order, lazily iterated; buffersize n bounds the chunks in flight and reads the
//    input lazily); each chunk of chunksize calls travels as one task and one frame, and its
//    results as one outcome. An exception ends the iteration at its position.
// Performance: tasks go to workers in batches (one frame, one write, one wake per batch), at
//  most a window of them per worker, sized from the measured task time (~200 µs of work) so
//  that long tasks are not queued behind each other while other workers idle; results come
//  back batched the same way, at most ~100 µs late -- and never held behind a long task: a
//  worker sends what it has before running a function it has not yet seen finish quickly
//  (first run, or once >= 100 µs), so wait(FIRST_COMPLETED) and as_completed see a quick task
//  at once, as in CPython; and while a task runs, a watchdog thread in the worker sends the
//  results finished before it within ~1 ms (so the first slow run of a function that was
//  always quick holds nothing back either; it looks every 1 ms only while results wait).
//  Idle: every thread and process of the pool sleeps (0% CPU).
// Differences from Python: cancel() of a running task (above); a dead worker never breaks the
//  pool; the timeout; a task's result after its worker's death is WorkerDied, not
//  BrokenProcessPool for everyone; no Python-level "mp_context" — a start method.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/detail/timeout.hpp"
#include "tandem/futures/future.hpp"
#include "tandem/futures/options.hpp"       // MapOptions, TaskOptions
#include "tandem/futures/timers.hpp"        // call_later, call_at, call_every
#include "tandem/futures/thread_pool.hpp"
#include "tandem/process_pool/detail/task.hpp"
#include "tandem/process_pool/options.hpp"  // ProcessPoolOptions, ProcessPoolStats
#include "tandem/shipping/detail/shipped_map.hpp"
#include "tandem/shipping/ship.hpp"

namespace tandem {

namespace detail {

template <class F, bool Ok = shipping::detail::callable_kind<std::decay_t<F>>>
struct ShipResult {
  using type = int;  // unused: ship()'s static_assert has already explained the error
};
template <class F>
struct ShipResult<F, true> {
  using type = shipping::shipped_result_t<F>;
};

}  // namespace detail

class ProcessPoolExecutor;

namespace detail {

/// MapRange's Submit for ProcessPoolExecutor::map: one shipped task per chunk
/// (shipping/detail/shipped_map.hpp), sent like any other task.
template <class C>
struct MapSubmit {
  using SM = ShippedMap<C>;
  ProcessPoolExecutor* ex;
  C fn;  // shipping::callee_t: a function pointer, or a serializable function object
  Future<MapChunk<typename SM::Result>> operator()(std::vector<typename SM::Item> items);
};

}  // namespace detail

/// The lazy, in-order range returned by ProcessPoolExecutor::map (see map_range.hpp).
template <class R, class C, class... Rs>
using ProcessMapResult =
    MapRange<R, typename detail::ShippedMap<C>::Item, detail::MapSubmit<C>, Rs...>;

class ProcessPoolExecutor : public detail::ExecutorTimers<ProcessPoolExecutor> {
 public:
  explicit ProcessPoolExecutor(std::size_t max_workers = 0)
      : ProcessPoolExecutor(ProcessPoolOptions{.max_workers = max_workers}) {}
  /// Starts the dispatcher thread and the workers (src/process_pool.cpp; the pool's state is
  /// behind a pointer, so this header does not depend on how the pool is built).
  explicit ProcessPoolExecutor(ProcessPoolOptions opts);
  ProcessPoolExecutor(const ProcessPoolExecutor&) = delete;
  ProcessPoolExecutor& operator=(const ProcessPoolExecutor&) = delete;
  /// shutdown(true): waits for every submitted task, then for the workers to exit.
  ~ProcessPoolExecutor();

  template <class F, class... Args>
    requires(!std::is_same_v<std::decay_t<F>, TaskOptions>)
  auto submit(F fn, Args&&... args) {
    return submit(TaskOptions{}, fn, std::forward<Args>(args)...);
  }

  template <class F, class... Args>
  auto submit(const TaskOptions& topts, F fn, Args&&... args) {
    using R = typename detail::ShipResult<F>::type;
    shipping::Task wire = shipping::ship(fn, std::forward<Args>(args)...);
    return submit_wire<R>(std::move(wire), topts);
  }

  template <class F, class... Args>
  auto map(F fn, Args&&... args) {
    return detail::call_with_map_options(
        [&](const MapOptions& opts, auto&&... ranges) {
          return map_impl(fn, opts, std::forward<decltype(ranges)>(ranges)...);
        },
        std::forward<Args>(args)...);
  }

  void shutdown(bool wait = true, bool cancel_futures = false);
  /// shutdown(false, true), then SIGTERM to every worker (Python 3.14).
  void terminate_workers();
  /// shutdown(false, true), then SIGKILL to every worker (Python 3.14).
  void kill_workers();
  std::size_t max_workers() const noexcept;
  /// The pids of the workers alive now (diagnostics and tests); never the spare's.
  std::vector<int> worker_pids();
  /// The spare's pid once it is ready to be promoted (past its initializer), else 0 (none
  /// configured, being started, or after shutdown). Diagnostics and tests.
  int spare_pid() noexcept;
  /// Counters: tasks submitted, completed, running, queued; workers alive; restarts; worker
  /// deaths by cause (its own, timeout, cancel, max_tasks_per_child). Cheap: relaxed loads.
  ProcessPoolStats stats() const noexcept;

  /// Submits an already shipped task whose result type is R (map's chunks; advanced use).
  template <class R>
  Future<R> submit_wire(shipping::Task wire, const TaskOptions& topts = {}) {
    auto* st = new detail::ProcState<R>;
    st->wire = std::move(wire);
    if (topts.timeout) {
      const double s = topts.timeout->count();
      st->timeout_s = s > 0 ? s : 1e-9;
    }
    st->priority = topts.priority;
    st->init_refs(2);
    Future<R> fut(st, detail::AdoptRef{});
    try {
      submit_task(st);
    } catch (...) {
      st->release();
      throw;
    }
    return fut;
  }

 private:
  /// Hands a task to the dispatcher (which takes one reference). RuntimeError after shutdown,
  /// BrokenProcessPool when broken (the task is not taken then).
  void submit_task(detail::PTask* t);

  template <class F, class... Rs>
  auto map_impl(F fn, const MapOptions& opts, Rs&&... ranges) {
    static_assert(sizeof...(Rs) > 0, "map needs at least one range");
    using FI = shipping::detail::function_info<std::decay_t<F>>;
    static_assert(shipping::detail::callable_kind<std::decay_t<F>>,
                  "tandem::ProcessPoolExecutor::map: fn must be a function pointer, a function, "
                  "a lambda without captures, or a serializable function object");
    using Fp = typename FI::pointer;
    using C = shipping::callee_t<F>;
    using S = shipping::detail::Signature<Fp>;
    static_assert(S::template accepts<typename detail::HeldRange<Rs>::value_type...>(),
                  "tandem::ProcessPoolExecutor::map: fn must take one argument per range");
    static_assert(S::params_ok && S::args_serializable && S::result_ok,
                  "tandem::ProcessPoolExecutor::map: fn's parameters and result must be "
                  "tandem::Serializable and taken by value or const reference");
    using R = std::remove_cvref_t<typename S::result>;
    static_assert(!std::is_void_v<R>, "map needs a function that returns a value");
    if (opts.chunksize < 1) throw ValueError("chunksize must be >= 1.");
    return ProcessMapResult<R, C, Rs...>(detail::MapSubmit<C>{this, C(std::move(fn))}, opts,
                                          std::forward<Rs>(ranges)...);
  }

  std::unique_ptr<detail::PoolCore> core_;  // complete only in src/process_pool/
};

template <class C>
Future<detail::MapChunk<typename detail::ShippedMap<C>::Result>>
detail::MapSubmit<C>::operator()(std::vector<typename SM::Item> items) {
  return ex->template submit_wire<MapChunk<typename SM::Result>>(SM::task(fn, std::move(items)));
}

}  // namespace tandem
