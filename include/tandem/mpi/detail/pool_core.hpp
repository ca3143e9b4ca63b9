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
//    about to run a task that may be long (src/shipping/known_functions.hpp): a quick task's
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
#include "tandem/mpi/detail/job.hpp"
#include "tandem/mpi/options.hpp"

namespace tandem {

class ProcessPoolExecutor;

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
