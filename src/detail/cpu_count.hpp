// SPDX-License-Identifier: MIT
// tandem::detail::process_cpu_count — Python 3.13's os.process_cpu_count(): the CPUs this
// process may run on, which is what a pool's default size should follow.
//
// Guarantees
//  * The number of CPUs in the calling thread's affinity mask (sched_getaffinity(0), as
//    CPython reads it), so `taskset -c 0 ./app`, a container's cpuset or an earlier
//    sched_setaffinity all shrink it; hardware_concurrency() counts every online CPU and
//    would oversize the pool there.
//  * At least 1. Where the mask cannot be read (a kernel with more CPUs than cpu_set_t
//    holds, 1024), the online CPU count is used instead, as os.process_cpu_count() falls
//    back to os.cpu_count().
#pragma once

#include <sched.h>

#include <cstddef>
#include <thread>

namespace tandem::detail {

inline std::size_t process_cpu_count() noexcept {
  cpu_set_t set;
  std::size_t n = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    n = static_cast<std::size_t>(CPU_COUNT(&set));
  else
    n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

}  // namespace tandem::detail
