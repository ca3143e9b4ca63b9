// SPDX-License-Identifier: MIT
// tandem::mpi::detail::PoolCore — the compiled half of MpiPoolExecutor (src/mpi/pool.cpp).
//
// Owns the communicator thread: the one thread of rank 0 that makes MPI calls while the
// executor lives (MPI_THREAD_SERIALIZED is all tandem asks of the MPI library). Submitting
// threads never touch MPI: submit() pushes a Job on a lock-free stack (one CAS) and rings a
// futex bell only when the communicator thread sleeps on it. The communicator thread:
//  * takes the whole stack at once (one exchange), restores FIFO order;
//  * sends batches (many tasks in one message, MPI_Isend) to the worker rank with the fewest
//    tasks in flight, keeping up to max_in_flight tasks per worker so a worker finds its next
//    batch waiting when it finishes one (adaptive by default: ~5 ms of work per rank);
//  * receives results (MPI_Improbe/MPI_Mrecv) — a worker answers its batches in order, so a
//    result message completes the next jobs of the oldest batch in flight to that rank, no
//    ids needed. A worker sends a batch's results in one message, or in several when it is
//    about to run a task that may be long (shipping/known_functions.hpp): a quick task's
//    result is not held until the rest of its batch has run;
//  * fails jobs whose deadline passed (TimeoutError; the worker rank keeps running them);
//  * sleeps: on the futex bell (no deadline) when nothing is in flight, else a backoff of
//    brief polls, sched_yield, then futex waits of 1 µs doubling to max_idle_sleep — MPI
//    messages cannot wake a futex, and OpenMPI's blocking receives busy-poll a core.
// At world size 1 (no worker ranks) there is no communicator thread: PoolCore owns a local
// tandem::ProcessPoolExecutor instead, and MpiPoolExecutor hands every task straight to it
// (local_pool()), so a crashing or hanging task costs a worker process, never the program.
// Nothing here includes <mpi.h>: users of <tandem/mpi.hpp> need MPI only at link time.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>

#include "tandem/detail/wait.hpp"
#include "tandem/mpi/job.hpp"

namespace tandem {

class ProcessPoolExecutor;

struct MpiPoolOptions {
  /// Tasks sent ahead to one worker rank, and tasks in one message. Both 0 (the default):
  /// adaptive — about 5 ms of work is kept queued at each worker rank, estimated from the
  /// batches' round trips: thousands of trivial tasks in batches of half that (throughput),
  /// down to 2 in flight and batches of 1 for tasks of seconds (balance over the ranks);
  /// it starts at 128 / 64. Setting either fixes both (0 then means 128 / 64); e.g.
  /// max_in_flight = 1 gives each worker exactly one task at a time, as mpi4py does.
  std::size_t max_in_flight = 0;
  std::size_t max_batch = 0;
  /// The longest sleep between two polls of an idle rank with results outstanding: the bound
  /// on the wake-up latency an idle poller adds, traded against the CPU polling costs
  /// (~0.1-0.5 % of a core at 1 ms).
  duration max_idle_sleep = std::chrono::milliseconds(1);
  /// World size 1 only (the program started without mpirun): the worker processes of the
  /// local ProcessPoolExecutor that stands in for the worker ranks; 0 (the default): the CPUs
  /// this process may use. Ignored under mpirun (the workers are the other ranks).
  std::size_t local_workers = 0;
};

struct MpiTaskOptions {
  /// Under mpirun: from submit() to the outcome. When it passes the future fails with
  /// TimeoutError; the worker rank cannot be interrupted and finishes the task, whose result
  /// is dropped. At world size 1 it is ProcessPoolExecutor's TaskOptions::timeout: it counts
  /// from the task's start in its worker process, which is killed (and replaced) when it
  /// passes — the timeout is enforced.
  std::optional<duration> timeout{};
};

namespace mpi::detail {

class PoolCore {
 public:
  explicit PoolCore(const MpiPoolOptions& opts);
  ~PoolCore();  // shutdown(true) then joins the communicator thread
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  /// Hands `job` to the communicator thread. RuntimeError("cannot schedule new futures after
  /// shutdown") once shut down (the job is untouched then).
  void submit(Job* job);
  void shutdown(bool wait, bool cancel_futures);
  std::size_t num_workers() const noexcept;
  /// World size 1: the process pool every task goes to instead of submit() (it lives as long
  /// as this PoolCore). nullptr under mpirun.
  ProcessPoolExecutor* local_pool() const noexcept { return local_; }

  struct Impl;

 private:
  Impl* impl_;
  ProcessPoolExecutor* local_ = nullptr;
};

}  // namespace mpi::detail
}  // namespace tandem
