// SPDX-License-Identifier: MIT
// ProcessPoolExecutor's out-of-line members (<tandem/process_pool.hpp>): the public calls that
// reach the pool's state, which is complete only here and in src/process_pool/. Templates
// (submit, map) stay in the header; everything they need from the pool is submit_task().
#include "tandem/process_pool.hpp"

#include <signal.h>

#include "process_pool/pool_core.hpp"

namespace tandem {

ProcessPoolExecutor::ProcessPoolExecutor(ProcessPoolOptions opts)
    : core_(std::make_unique<detail::PoolCore>(opts)) {}

ProcessPoolExecutor::~ProcessPoolExecutor() { shutdown(true); }

void ProcessPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  close_timers();
  if (core_) core_->shutdown(wait, cancel_futures);
}

void ProcessPoolExecutor::terminate_workers() {
  shutdown(false, true);
  core_->signal_workers(SIGTERM);
}

void ProcessPoolExecutor::kill_workers() {
  shutdown(false, true);
  core_->signal_workers(SIGKILL);
}

std::size_t ProcessPoolExecutor::max_workers() const noexcept { return core_->max_workers(); }

std::vector<int> ProcessPoolExecutor::worker_pids() { return core_->pids(); }

int ProcessPoolExecutor::spare_pid() noexcept { return core_->spare_pid(); }

ProcessPoolStats ProcessPoolExecutor::stats() const noexcept { return core_->stats(); }

void ProcessPoolExecutor::submit_task(detail::PTask* t) { core_->submit(t); }

}  // namespace tandem
