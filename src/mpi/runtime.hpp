// SPDX-License-Identifier: MIT
// Internal to tandem::mpi: the process-wide MPI state, the wire format of task and result
// batches, and the polling backoff shared by worker ranks and rank 0's communicator thread.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "tandem/mpi/detail/pool_core.hpp"
#include "shipping/known_functions.hpp"

namespace tandem::mpi::detail {

enum Tag : int { kTagTasks = 1, kTagResults = 2, kTagExit = 3 };

struct Runtime {
  bool inited = false;
  bool finalized = false;
  int rank = 0;
  int size = 1;
  MPI_Comm comm = MPI_COMM_NULL;   // a dup of MPI_COMM_WORLD: tandem's messages only
  std::uint64_t worker_max_idle_ns = 1000000;
  // The executor slot of rank 0: 0 free, 1 an executor is open, 2 one is draining after
  // shutdown (its communicator thread still owns MPI). A futex word.
  std::atomic<std::uint32_t> slot{0};
  std::atomic<PoolCore::Impl*> active{nullptr};
};
Runtime& runtime();

/// One task in a batch: the sealed offsets, then args_len argument bytes.
struct TaskHeader {
  std::uint64_t trampoline, function, check, args_len;
  std::uint8_t kind;
  std::uint8_t pad[7];
};
static_assert(sizeof(TaskHeader) == 40);

/// Runs every task of a batch, appending for each an 8-byte length and its outcome bytes
/// (shipping/ship.hpp's outcome format) to `out`. A task that fails to resolve gets a
/// DecodeError outcome. RuntimeError when the batch itself is malformed. Before a task whose
/// function `known` does not know to be quick, calls send(out) when `out` holds results: the
/// results of a batch may thus travel as several messages, in order (known_functions.hpp).
void run_batch(std::span<const std::byte> in, std::vector<std::byte>& out,
               shipping::KnownFunctions& known,
               const std::function<void(std::vector<std::byte>&)>& send);

/// Starts shutdown(wait = false) of the open executor (finalize() with one still open).
void shutdown_active(PoolCore::Impl* impl) noexcept;

/// Polls, then yields, then asks for sleeps doubling from 1 µs up to max_ns.
class Backoff {
 public:
  explicit Backoff(std::uint64_t max_ns) noexcept : max_ns_(max_ns ? max_ns : 1) {}
  void reset() noexcept { n_ = 0; }
  /// After an empty poll: pauses or yields itself and returns 0, or returns the nanoseconds
  /// the caller should sleep.
  std::uint64_t next() noexcept;

 private:
  std::uint64_t max_ns_;
  unsigned n_ = 0;
};

}  // namespace tandem::mpi::detail
