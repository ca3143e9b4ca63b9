// SPDX-License-Identifier: MIT
// tandem::mpi::detail::Job — one shipped task on its way through an MpiPoolExecutor.
//
// A Job is the executor's half of a future: the sealed shipping::Task (offsets + arguments,
// <tandem/shipping/task.hpp>), an optional deadline, and the hooks the communicator thread
// calls when the task leaves for a worker rank (start), when its outcome comes back
// (complete) or when it is given up (fail, cancel). JobState<R> puts the Job and the
// Future<R>'s shared state in one allocation, with two references: the Future's and the
// executor's (dropped by release_job() once the communicator thread is done with it).
//
// Thread use: a Job is built by the submitting thread, handed over through the executor's
// lock-free queue (a release store that the communicator thread acquires), and from then on
// touched only by the communicator thread. Completion is the Future's own release (see
// future_core.hpp), so whoever sees the result sees everything the decode wrote.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <utility>

#include "tandem/detail/wait.hpp"
#include "tandem/futures/future.hpp"
#include "tandem/shipping/ship.hpp"

namespace tandem::mpi::detail {

struct Job {
  Job* next = nullptr;                 // the submission stack's link (communicator-owned after)
  shipping::Task task;
  tandem::detail::Deadline deadline = tandem::detail::Deadline::never();
  bool timed_out = false;              // failed by its deadline while a worker still runs it
  int priority = 0;                    // TaskOptions::priority: the order tasks leave in

  /// PENDING → RUNNING as the task leaves for a worker; false when the future was cancelled
  /// or already completed (timed out while queued): then the task is not sent.
  virtual bool start() noexcept = 0;
  /// Decodes the outcome bytes (shipping::take_result) into the future; a no-op on a future
  /// that was completed meanwhile (a timeout).
  virtual void complete(std::span<const std::byte> outcome) noexcept = 0;
  /// Fails the future with `e` unless it is already done.
  virtual void fail(std::exception_ptr e) noexcept = 0;
  /// Future::cancel() (shutdown(cancel_futures = true) on a task not yet sent).
  virtual void cancel_job() noexcept = 0;
  /// Drops the executor's reference.
  virtual void release_job() noexcept = 0;

 protected:
  ~Job() = default;
};

/// The future state of a task of result R, with its Job. `decode` turns the outcome bytes into
/// an R or throws the task's exception.
template <class R>
class JobState final : public tandem::detail::FutureState<R>, public Job {
 public:
  using Decode = std::conditional_t<std::is_void_v<R>, void, R> (*)(std::span<const std::byte>);
  explicit JobState(Decode decode) noexcept : decode_(decode) {}

  bool start() noexcept override {
    try {
      return this->set_running_or_notify_cancel();
    } catch (...) {  // already FINISHED (timed out while queued)
      return false;
    }
  }
  void complete(std::span<const std::byte> outcome) noexcept override {
    tandem::detail::publish(*this,
                            tandem::detail::Outcome<R>::capture([&] { return decode_(outcome); }));
  }
  void fail(std::exception_ptr e) noexcept override {
    tandem::detail::publish(*this, tandem::detail::Outcome<R>{{}, std::move(e)});
  }
  void cancel_job() noexcept override { this->cancel(); }
  void release_job() noexcept override { this->release(); }

 private:
  Decode decode_;
};

/// take_result<R> as a plain function pointer (JobState's decoder for submit()).
template <class R>
R decode_result(std::span<const std::byte> outcome) {
  return shipping::take_result<R>(outcome);
}

}  // namespace tandem::mpi::detail
