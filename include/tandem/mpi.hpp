// SPDX-License-Identifier: MIT
// <tandem/mpi.hpp> — the same tasks on a cluster: MpiPoolExecutor over MPI (OpenMPI), the
// model being `python -m mpi4py.futures` in world mode. Optional component `tandem::mpi`
// (built when CMake finds MPI; link tandem::mpi).
//
//   int main(int argc, char** argv) {
//     tandem::mpi::init(argc, argv);        // ranks 1..N-1 serve tasks in here, never return
//     tandem::MpiPoolExecutor ex;           // rank 0: workers = every other rank
//     auto f = ex.submit(square, 7);        // same Future, wait, as_completed as the others
//     for (int y : ex.map(square, xs, tandem::MapOptions{.chunksize = 1000})) ...
//   }                                       // `mpirun -n 3 ./app`
//
// init(argc, argv) — the first line of main on every rank:
//  * MPI_Init_thread(MPI_THREAD_SERIALIZED) unless MPI is initialised already (MULTIPLE is
//    never required: one thread at a time makes MPI calls). Duplicates MPI_COMM_WORLD, so
//    tandem's traffic never matches the program's own messages.
//  * Build-id check: every rank's GNU build-id (shipping/build_id.hpp) is gathered
//    (MPI_Allgather); a rank running another binary prints both ids and the job is aborted
//    (MPI_Abort) — shipped tasks name code by offsets, which only the same binary can honour.
//  * Ranks 1..N-1 then serve tasks: they never return. They exit (MPI_Finalize, then
//    std::exit(0), so their atexit handlers and static destructors run) when rank 0 calls
//    finalize() — explicitly, or at its exit (registered with atexit). Workers therefore
//    serve every MpiPoolExecutor rank 0 makes, one after another, not just the first.
//  * Idle workers do not spin: they poll with MPI_Improbe, backing off from brief polls to
//    sched_yield to nanosleep doubling up to 1 ms (env TANDEM_MPI_MAX_IDLE_SLEEP_US). A worker
//    that was idle a while therefore takes up to that long to notice new work; a busy worker
//    finds its next batch already queued. Idle cost: ~1000 wake-ups/s of a few µs.
//  * World size 1 (the binary started without mpirun, or `mpirun -n 1`): a message on
//    stderr says so, and each MpiPoolExecutor runs its tasks on a local ProcessPoolExecutor
//    (<tandem/process_pool.hpp>; MpiPoolOptions::local_workers processes, default one per
//    CPU, fork start method) — the same shipping, serialization and exception mapping, so the
//    program works, in parallel on this machine, and never hangs. The process pool's failure
//    model then holds rather than MPI's (below): a task that crashes its worker fails with
//    WorkerDied and the worker is replaced, so a faulty task never takes the program down
//    (a worker thread in this process could not survive it); a per-task timeout is enforced.
//
// MpiPoolExecutor (rank 0 only; one at a time — a second while one is open is a
// RuntimeError; after shutdown(wait = false) the next waits for the previous to drain):
//  * submit(fn, args...) / submit(MpiTaskOptions{.timeout}, fn, args...) → Future<R>: fn a
//    function pointer or captureless lambda, args and R serializable — all checked at compile
//    time (shipping::ship's static_asserts). RuntimeError("cannot schedule new futures after
//    shutdown") after shutdown. submit(TaskOptions{.timeout, .priority}, ...) as every executor:
//    the timeout as MpiTaskOptions', a higher priority leaves the communicator's queue first.
//  * call_later / call_at / call_every (futures/timers.hpp): submitted when due; shutdown()
//    cancels the pending ones.
//  * map(fn, ranges..., MapOptions{timeout, chunksize, buffersize}) → a lazy, in-order range
//    (mpi/map.hpp); chunksize is what makes map fast: one message carries a chunk.
//  * shutdown(wait = true, cancel_futures = false) as Python; the destructor is
//    shutdown(true). num_workers(): world size − 1 (at world size 1: the local pool's
//    max_workers()).
//  * Exceptions thrown by tasks come back as in the process pool: the same standard or
//    tandem exception type, else RemoteError with the type name and message.
// Failure model under mpirun (docs/mpi.md; at world size 1 see above):
//  * A rank that dies (crash, OOM kill, std::exit in a task) takes the job with it: OpenMPI
//    aborts every rank (its default error handler) — unlike ProcessPoolExecutor, which
//    replaces the worker. No future is left hanging, because no process is left at all.
//  * A per-task timeout is reported, not enforced: the future fails with TimeoutError when it
//    passes, but the worker rank cannot be killed without killing the job, so it finishes
//    the task (and its later tasks wait behind it); the late result is dropped.
//  * cancel() succeeds only before the task is sent to a worker (PENDING), as in Python.
// At world size 1 every future is the local pool's: a timeout counts from the task's start
//  in its worker, which is killed (TimeoutError) and replaced; cancel() of a RUNNING task
//  kills its worker and returns true; a worker's death fails only its task (WorkerDied).
//  Making a second executor while one is open is still a RuntimeError (as under mpirun, so a
//  program tested locally behaves the same on a cluster); after shutdown(wait = false) the
//  next one may open at once while the previous pool drains on its own.
// Thread safety: submit, map, shutdown may be called from any threads of rank 0. While an
//  executor is open its communicator thread owns MPI: the program must not make MPI calls of
//  its own concurrently (before and after, it may).
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "tandem/errors.hpp"
#include "tandem/futures/future.hpp"
#include "tandem/futures/thread_pool.hpp"
#include "tandem/futures/wait.hpp"
#include "tandem/mpi/detail/job.hpp"
#include "tandem/mpi/detail/pool_core.hpp"
#include "tandem/mpi/map.hpp"
#include "tandem/futures/timers.hpp"
#include "tandem/mpi/options.hpp"  // MpiPoolOptions, MpiTaskOptions
#include "tandem/process_pool.hpp"
#include "tandem/shipping/ship.hpp"

namespace tandem::mpi {

/// See the file comment. Ranks other than 0 never return.
void init(int& argc, char**& argv);
/// Rank 0: tells the worker ranks to exit and finalizes MPI (waits for an executor still
/// open). Registered with atexit by init(); calling it earlier is allowed, once.
void finalize();
/// This process's rank in MPI_COMM_WORLD, and the world's size (RuntimeError before init).
int rank();
int world_size();

}  // namespace tandem::mpi

namespace tandem {

class MpiPoolExecutor : public tandem::detail::ExecutorTimers<MpiPoolExecutor> {
 public:
  explicit MpiPoolExecutor(MpiPoolOptions opts = {}) : core_(opts) {}
  MpiPoolExecutor(const MpiPoolExecutor&) = delete;
  MpiPoolExecutor& operator=(const MpiPoolExecutor&) = delete;
  /// Cancels the pending timers, then PoolCore's destructor: shutdown(true).
  ~MpiPoolExecutor() { close_timers(); }

  template <class F, class... Args>
    requires(!std::is_same_v<std::decay_t<F>, MpiTaskOptions> &&
             !std::is_same_v<std::decay_t<F>, TaskOptions>)
  auto submit(F fn, Args&&... args) {
    return submit(TaskOptions{}, fn, std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  auto submit(const MpiTaskOptions& topts, F fn, Args&&... args) {
    return submit(TaskOptions{.timeout = topts.timeout}, fn, std::forward<Args>(args)...);
  }

  /// TaskOptions as every executor takes them: timeout as MpiTaskOptions::timeout; priority
  /// orders the tasks the communicator has not sent yet (higher first; ties in submission
  /// order) — at world size 1, the local process pool's dispatcher queue.
  template <class F, class... Args>
  auto submit(const TaskOptions& topts, F fn, Args&&... args) {
    shipping::Task t = shipping::ship(fn, std::forward<Args>(args)...);  // static_asserts
    if constexpr (shipping::Shippable<F, Args...>) {
      using R = shipping::shipped_result_t<F>;
      if (ProcessPoolExecutor* local = core_.local_pool())
        return local->template submit_wire<R>(std::move(t), topts);
      auto* st = new mpi::detail::JobState<R>(&mpi::detail::decode_result<R>);
      st->task = std::move(t);
      if (topts.timeout) st->deadline = tandem::detail::clamped_deadline(*topts.timeout);
      st->priority = topts.priority;
      st->init_refs(2);
      try {
        core_.submit(st);
      } catch (...) {
        st->release();
        st->release();
        throw;
      }
      return Future<R>(st, tandem::detail::AdoptRef{});
    } else {
      return Future<int>();  // unreachable: ship() failed to compile
    }
  }

  template <class F, class... Args>
  auto map(F fn, Args&&... args) {
    return tandem::detail::call_with_map_options(
        [&](const MapOptions& opts, auto&&... ranges) {
          return map_impl(fn, opts, std::forward<decltype(ranges)>(ranges)...);
        },
        std::forward<Args>(args)...);
  }

  /// Also cancels the pending timers and stops call_every ticks (futures/timers.hpp).
  void shutdown(bool wait = true, bool cancel_futures = false) {
    close_timers();
    core_.shutdown(wait, cancel_futures);
  }
  std::size_t num_workers() const noexcept { return core_.num_workers(); }

 private:
  template <class F, class... Rs>
  auto map_impl(F fn, const MapOptions& opts, Rs&&... ranges) {
    static_assert(sizeof...(Rs) > 0, "map needs at least one range");
    using FI = shipping::detail::function_info<F>;
    static_assert(shipping::detail::callable_kind<F>,
                  "tandem::MpiPoolExecutor::map: fn must be a function pointer, a function, a "
                  "lambda without captures (its code must be named in another process), or a "
                  "serializable function object");
    if constexpr (shipping::detail::callable_kind<F>) {
      using Fp = typename FI::pointer;
      using C = shipping::callee_t<F>;
      using S = shipping::detail::Signature<Fp>;
      static_assert(S::arity == sizeof...(Rs),
                    "tandem::MpiPoolExecutor::map: fn takes one parameter per range");
      static_assert(S::params_ok && S::args_serializable,
                    "tandem::MpiPoolExecutor::map: fn's parameters must be serializable and "
                    "not taken by non-const reference");
      static_assert(!std::is_void_v<typename S::result> && S::result_ok,
                    "tandem::MpiPoolExecutor::map: fn must return a serializable value");
      if (opts.chunksize < 1) throw ValueError("chunksize must be >= 1.");
      return MpiMapResult<C, Rs...>(mpi::detail::MapSubmit<C>{&core_, C(std::move(fn))}, opts,
                                     std::forward<Rs>(ranges)...);
    }
  }

  mpi::detail::PoolCore core_;
};

}  // namespace tandem
