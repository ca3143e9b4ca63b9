// SPDX-License-Identifier: MIT
// <tandem/process_pool/options.hpp> — how a ProcessPoolExecutor is built, and what its stats()
// report (docs/process_pool.md). The options shared with the other executors (MapOptions,
// TaskOptions) are in <tandem/futures/options.hpp>.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tandem/multiprocessing/start_method.hpp"
#include "tandem/shipping/task.hpp"

namespace tandem {

/// ProcessPoolExecutor(max_workers, mp_context, initializer, max_tasks_per_child), Python's
/// arguments by name (mp_context is the start method), and the spare worker (beyond Python).
struct ProcessPoolOptions {
  std::size_t max_workers = 0;  // 0: the number of CPUs this process may use
  mp::StartMethod start_method = mp::StartMethod::fork;
  void (*initializer)() = nullptr;
  std::size_t max_tasks_per_child = 0;  // 0: no limit
  // Python's initializer with initargs: `.initializer_call = tandem::shipping::ship(&open_db,
  // path, 3)` — checked at compile time as any task (a function or a serializable function
  // object, serializable arguments); its result, if any, is dropped. Runs where `initializer`
  // would, with the same failure rules; giving both is a ValueError. Empty: none.
  shipping::Task initializer_call{};
  // One extra process, started ahead of need and parked (0% CPU, in a blocking read) past its
  // handshake and initializer: a worker's death is answered by promoting it at once instead of
  // starting a process then (see <tandem/process_pool.hpp>). Costs one idle process (its
  // memory, one socket, one pidfd); false: no spare, replacements start on demand.
  bool spare_worker = true;
};

/// A snapshot of a ProcessPoolExecutor's counters (ProcessPoolExecutor::stats()). Each is read
/// on its own (relaxed): they agree with each other once the pool's dispatcher is idle or
/// after shutdown(); right after a future completes, `completed` and `running` may still lag
/// it by the dispatcher's pass that completed it. `running` and `queued` are as of the
/// dispatcher's last pass.
struct ProcessPoolStats {
  std::uint64_t submitted = 0;  // tasks accepted (a map chunk counts as one task)
  std::uint64_t completed = 0;  // futures completed: value, exception, cancelled, failure
  std::uint64_t running = 0;    // sent to a worker, not completed yet
  std::uint64_t queued = 0;     // waiting in the pool, not sent to a worker yet
  std::size_t workers = 0;      // worker processes alive now (never the spare)
  std::uint64_t restarts = 0;   // processes started after the first ones (replacements, spares)
  std::uint64_t deaths = 0;     // workers that died on their own: crash, exit, outside signal
  std::uint64_t timeouts = 0;   // workers the pool killed for a task's timeout
  std::uint64_t cancels = 0;    // workers the pool killed for cancel() of a running task
  std::uint64_t retired = 0;    // workers that exited after max_tasks_per_child tasks
};

}  // namespace tandem
