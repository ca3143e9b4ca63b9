// SPDX-License-Identifier: MIT
// <tandem/process_pool/task.hpp> — a process-pool task: the future's state and the task's wire
// form in one allocation, and the pool core's narrow interface (src/process_pool.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <utility>

#include "tandem/futures/future.hpp"
#include "tandem/futures/map_range.hpp"
#include "tandem/serialize.hpp"
#include "tandem/multiprocessing/process.hpp"
#include "tandem/shipping/ship.hpp"

namespace tandem {

struct ProcessPoolOptions {
  std::size_t max_workers = 0;  // 0: the number of CPUs this process may use
  mp::StartMethod start_method = mp::StartMethod::fork;
  void (*initializer)() = nullptr;
  std::size_t max_tasks_per_child = 0;  // 0: no limit
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

struct TaskOptions {
  std::optional<duration> timeout{};
};

namespace detail::pp {

class PoolCore;

/// The pool's view of a task (the dispatcher thread owns it from submit to completion).
struct PTask {
  PTask* next = nullptr;         // intrusive link of the submit stack (dispatcher after)
  PTask* cancel_next = nullptr;  // link of the cancel stack (written by the cancelling thread)
  std::uint64_t id = 0;    // unique in the pool
  shipping::Task wire;
  double timeout_s = 0;    // 0: none
  int worker = -1;         // slot it was sent to, -1 while queued in the parent
  int kill_reason = 0;     // set by the dispatcher when it kills the worker for this task
  PoolCore* pool = nullptr;

  virtual FutureCore& core() noexcept = 0;
  /// Completes the future from outcome bytes (value or the task's exception).
  virtual void deliver(std::span<const std::byte> outcome) noexcept = 0;
  /// Completes the future of a task that died after finishing `count` items of a map chunk
  /// (their values, serialized one after another): the chunk's values and `e` at the next
  /// item (futures/shipped_map.hpp). Any other task: fail(e).
  virtual void deliver_partial(std::span<const std::byte> values, std::uint64_t count,
                               std::exception_ptr e) noexcept {
    (void)values;
    (void)count;
    fail(std::move(e));
  }
  /// Completes the future with `e` unless it is already done.
  void fail(std::exception_ptr e) noexcept {
    FutureCore& c = core();
    try {
      c.begin_set();
    } catch (...) {
      return;  // cancelled (or set) meanwhile
    }
    c.store_exception(std::move(e));
    c.end_set(true);
  }

 protected:
  ~PTask() = default;
};

template <class R>
struct is_map_chunk : std::false_type {};
template <class V>
struct is_map_chunk<MapChunk<V>> : std::true_type {};

/// cancel() of a RUNNING process task: kills the worker running it (src/process_pool.cpp).
bool cancel_running_task(PTask& t);

template <class R>
class ProcState final : public FutureState<R>, public PTask {
 public:
  FutureCore& core() noexcept override { return *this; }
  bool cancel_running() override { return cancel_running_task(*this); }
  void deliver_partial(std::span<const std::byte> values, std::uint64_t count,
                       std::exception_ptr e) noexcept override {
    if constexpr (is_map_chunk<R>::value) {
      R chunk;
      try {
        InArchive ar(values);
        for (std::uint64_t i = 0; i < count; ++i) {  // one serialize() frame per item
          if (ar.read_u8() != std::to_integer<std::uint8_t>(kFormatByte)) break;
          tandem::detail::load_value(ar, chunk.values.emplace_back());
        }
      } catch (...) {  // a value that does not decode ends the kept ones there
        if (!chunk.values.empty()) chunk.values.pop_back();
      }
      chunk.error = std::move(e);
      try {
        this->begin_set();
      } catch (...) {
        return;  // cancelled meanwhile
      }
      this->emplace_claimed(std::move(chunk));
    } else {
      PTask::deliver_partial(values, count, std::move(e));
    }
  }
  void deliver(std::span<const std::byte> outcome) noexcept override {
    std::exception_ptr err;
    std::optional<std::conditional_t<std::is_void_v<R>, int, R>> v;
    try {
      if constexpr (std::is_void_v<R>) {
        shipping::take_result<void>(outcome);
        v.emplace(0);
      } else {
        v.emplace(shipping::take_result<R>(outcome));
      }
    } catch (...) {
      err = std::current_exception();
    }
    try {
      this->begin_set();
    } catch (...) {
      return;  // cancelled while it ran: the outcome is dropped
    }
    if (err) {
      this->store_exception(std::move(err));
      this->end_set(true);
    } else if constexpr (std::is_void_v<R>) {
      this->emplace_claimed();
    } else {
      this->emplace_claimed(std::move(*v));
    }
  }
};

struct PoolDeleter {
  void operator()(PoolCore* p) const noexcept;
};
std::unique_ptr<PoolCore, PoolDeleter> make_pool(const ProcessPoolOptions& opts);
/// Hands a task to the pool (which takes one reference). RuntimeError after shutdown,
/// BrokenProcessPool when broken (the task is not taken then).
void pool_submit(PoolCore& p, PTask* t);
void pool_shutdown(PoolCore& p, bool wait, bool cancel_futures);
/// signal: SIGTERM or SIGKILL.
void pool_signal_workers(PoolCore& p, int sig);
std::size_t pool_max_workers(const PoolCore& p) noexcept;
/// The pids of the live workers (tests, diagnostics).
std::vector<int> pool_worker_pids(PoolCore& p);
/// The pid of the spare once it is ready to be promoted, else 0.
int pool_spare_pid(PoolCore& p) noexcept;
ProcessPoolStats pool_stats(const PoolCore& p) noexcept;

}  // namespace detail::pp
}  // namespace tandem
