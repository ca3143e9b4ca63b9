// SPDX-License-Identifier: MIT
// The physical floor for a thread-to-thread wake-up: futex(2) called directly, with nothing
// between the caller and the kernel — no waiter count, no spinning, no deadline handling.
// A flag is a 32-bit word; raising it always pays a FUTEX_WAKE, lowering it is a store.
// Benchmarks compare tandem's waiting primitives against this.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace tandem_bench {

struct RawFutexFlag {
  std::atomic<std::uint32_t> word{0};

  void raise() noexcept {
    word.store(1, std::memory_order_release);
    syscall(SYS_futex, &word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, nullptr, nullptr, 0);
  }
  /// Sleeps until raised, then lowers the flag again (consumes the raise).
  void wait_and_lower() noexcept {
    while (word.load(std::memory_order_acquire) == 0)
      syscall(SYS_futex, &word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, nullptr, nullptr, 0);
    word.store(0, std::memory_order_relaxed);
  }
};

}  // namespace tandem_bench
