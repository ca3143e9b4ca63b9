// SPDX-License-Identifier: MIT
// <tandem/process_pool/detail/task.hpp> — a process-pool task: the future's state and the
// task's wire form in one allocation (the dispatcher, src/process_pool/pool_core.cpp, owns it
// from submit to completion).
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
#include "tandem/futures/options.hpp"
#include "tandem/process_pool/options.hpp"
#include "tandem/shipping/ship.hpp"

namespace tandem {

namespace detail {

class PoolCore;

/// The pool's view of a task (the dispatcher thread owns it from submit to completion).
struct PTask {
  PTask* next = nullptr;         // intrusive link of the submit stack (dispatcher after)
  PTask* cancel_next = nullptr;  // link of the cancel stack (written by the cancelling thread)
  std::uint64_t id = 0;    // unique in the pool
  shipping::Task wire;
  double timeout_s = 0;    // 0: none
  int priority = 0;        // TaskOptions::priority (ready_queue.hpp)
  int worker = -1;         // slot it was sent to, -1 while queued in the parent
  int kill_reason = 0;     // set by the dispatcher when it kills the worker for this task
  PoolCore* pool = nullptr;

  virtual FutureCore& core() noexcept = 0;
  /// Completes the future from outcome bytes (value or the task's exception).
  virtual void deliver(std::span<const std::byte> outcome) noexcept = 0;
  /// Completes the future of a task that died after finishing `count` items of a map chunk
  /// (their values, serialized one after another): the chunk's values and `e` at the next
  /// item (shipping/detail/shipped_map.hpp). Any other task: fail(e).
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

/// cancel() of a RUNNING process task: kills the worker running it
/// (src/process_pool/pool_core.cpp).
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

}  // namespace detail
}  // namespace tandem
