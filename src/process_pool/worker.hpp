// SPDX-License-Identifier: MIT
// Internal to the process pool (src/process_pool/*.cpp). Not installed.
#pragma once

#include <cstdint>
#include <string>

#include "tandem/shipping/task.hpp"

namespace tandem::detail {

/// The worker process's main loop: returns (the process then exits 0) when the pool closes
/// the channel or the max_tasks quota is reached; _exit()s on fatal errors. `owner`: the pid
/// of the pool's process, whose death (however it dies) kills the worker. `init`: the
/// initializer's call task (an empty Task: none).
void worker_main(const std::string& sock_name, const shipping::Task& init,
                 std::uint64_t max_tasks, int owner);

}  // namespace tandem::detail
