// SPDX-License-Identifier: MIT
// mp::Pool's non-template parts: construction, close/terminate/join, the callback report
// (<tandem/multiprocessing/pool.hpp>).
#include "tandem/multiprocessing/pool.hpp"

#include <string>

#include "detail/exception_text.hpp"
#include "tandem/log.hpp"

namespace tandem::mp {

namespace {

ProcessPoolOptions executor_options(const PoolOptions& o) {
  ProcessPoolOptions p;
  p.max_workers = o.processes;
  p.start_method = o.start_method;
  p.initializer = o.initializer;
  p.initializer_call = o.initializer_call;
  p.max_tasks_per_child = o.maxtasksperchild;
  return p;
}

}  // namespace

void detail::report_pool_callback_exception(std::exception_ptr e) noexcept {
  try {
    std::string type, what;
    tandem::detail::describe(e, &type, &what);
    tandem::log(LogLevel::error, "multiprocessing",
                "exception calling callback for <AsyncResult>: " + type + ": " + what);
  } catch (...) {  // std::string's allocation
    tandem::log(LogLevel::error, "multiprocessing", "exception calling callback for <AsyncResult>");
  }
}

Pool::Pool(PoolOptions opts)
    : ex_(executor_options(opts)), callbacks_(std::make_unique<ThreadPoolExecutor>(1)) {}

Pool::~Pool() {
  try {
    terminate();
  } catch (...) {  // a destructor does not throw; terminate() only fails on a broken system
  }
}

void Pool::close() {
  int expected = kRun;
  state_.compare_exchange_strong(expected, kClose, std::memory_order_acq_rel);
}

void Pool::terminate() {
  std::lock_guard<std::mutex> lock(end_);
  state_.store(kTerminate, std::memory_order_release);
  if (joined_) return;
  ex_.kill_workers();   // running tasks fail with WorkerDied, pending ones are cancelled
  ex_.shutdown(true);   // every future has completed: their deliveries are queued
  callbacks_->shutdown(true);  // every AsyncResult is complete, its callbacks have run
  joined_ = true;
}

void Pool::join() {
  if (state_.load(std::memory_order_acquire) == kRun) throw ValueError("Pool is still running");
  std::lock_guard<std::mutex> lock(end_);
  if (joined_) return;
  ex_.shutdown(true);
  callbacks_->shutdown(true);
  joined_ = true;
}

}  // namespace tandem::mp
