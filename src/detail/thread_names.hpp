// SPDX-License-Identifier: MIT
// Internal: names a thread that tandem starts without a tandem::Thread (a pool's worker, a
// dispatcher). Not installed.
#pragma once

#include <string>

namespace tandem::detail {

/// Sets the calling thread's Python-level name — what current_thread_name() returns there,
/// e.g. "ThreadPoolExecutor-0_1", as Python's worker threads are named — and its OS name
/// (what top, ps -L and gdb show; Linux keeps 15 bytes, so pools use short distinct forms
/// such as "tp0-1").
void name_this_thread(const std::string& python_name, const std::string& os_name);

}  // namespace tandem::detail
