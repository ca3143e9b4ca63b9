// SPDX-License-Identifier: MIT
// <tandem/mpi/options.hpp> — how an MpiPoolExecutor is built, and a task's own options
// (docs/mpi.md). MapOptions is shared with the other executors (<tandem/futures/options.hpp>).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

#include "tandem/detail/wait.hpp"  // tandem::duration

namespace tandem {

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

}  // namespace tandem
