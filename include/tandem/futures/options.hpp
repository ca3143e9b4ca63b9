// SPDX-License-Identifier: MIT
// <tandem/futures/options.hpp> — the knobs of tandem's executors that are not specific to one
// pool: how a ThreadPoolExecutor is built, how map() runs, and a task's own options
// (docs/futures.md). Each pool's own options sit beside it (process_pool/options.hpp,
// mpi/options.hpp).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "tandem/detail/wait.hpp"  // tandem::duration: seconds as a double, as Python's floats

namespace tandem {

/// ThreadPoolExecutor(max_workers, thread_name_prefix, initializer), Python's arguments by name.
/// The initializer runs once in each worker thread before its first task; when it throws, the
/// pool is broken (BrokenThreadPool) as in Python.
struct ThreadPoolOptions {
  std::size_t max_workers = 0;  // 0: min(32, cpus + 4), as Python
  std::string thread_name_prefix{};
  std::function<void()> initializer{};
};

/// Executor::map(fn, inputs, MapOptions{...}): Python's timeout (from the call, for the whole
/// iteration), chunksize (ignored by ThreadPoolExecutor, as in Python) and buffersize (3.14:
/// at most this many results computed ahead of the consumer).
struct MapOptions {
  std::optional<duration> timeout{};
  std::size_t chunksize = 1;
  std::size_t buffersize = 0;  // 0: no bound on results in flight (Python's None)
};

/// submit(TaskOptions{...}, fn, args...): per-task options, beyond Python; one type for every
/// executor.
///  * timeout counts from the task's start. ProcessPoolExecutor kills the worker running a task
///    that passes it (the task really stops); ThreadPoolExecutor fails the future with
///    TimeoutError and requests a stop through the task's std::stop_token when it takes one
///    (a thread cannot be killed: the worker stays busy until the task returns).
///  * priority: higher runs first among the tasks still queued (ties in submission order);
///    0, the default, keeps a plain submit's path and cost. ProcessPoolExecutor orders its
///    dispatcher's queue (tasks already sent to a worker's window keep their place).
struct TaskOptions {
  std::optional<duration> timeout{};
  int priority = 0;
};

}  // namespace tandem
