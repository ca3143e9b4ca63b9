// SPDX-License-Identifier: MIT
// The futex(2) calls behind <tandem/detail/wait.hpp>.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "tandem/detail/wait.hpp"

namespace tandem::detail {
namespace {

// futex(2) takes the address of a 32-bit int; std::atomic<uint32_t> is exactly that
// (static_assert below), and the kernel only reads it.
static_assert(sizeof(std::atomic<std::uint32_t>) == 4 && alignof(std::atomic<std::uint32_t>) == 4);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

inline long sys_futex(const void* addr, int op, std::uint32_t val, const timespec* ts,
                      std::uint32_t val3) noexcept {
  return syscall(SYS_futex, addr, op, val, ts, nullptr, val3);
}

}  // namespace

bool futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                Deadline deadline, Scope scope) noexcept {
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline — the clock behind
  // std::chrono::steady_clock on Linux — so repeated waits never drift.
  int op = FUTEX_WAIT_BITSET;
  if (scope == Scope::local) op |= FUTEX_PRIVATE_FLAG;
  timespec ts{};
  const timespec* tsp = nullptr;
  if (!deadline.is_never()) {
    if (deadline.expired()) return false;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  deadline.time_point().time_since_epoch()).count();
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    tsp = &ts;
  }
  long rc = sys_futex(&word, op, expected, tsp, FUTEX_BITSET_MATCH_ANY);
  if (rc == -1 && errno == ETIMEDOUT) return false;
  return true;  // woken, EAGAIN (value changed) or EINTR: the caller re-checks
}

int futex_wake(const std::atomic<std::uint32_t>& word, int n, Scope scope) noexcept {
  int op = FUTEX_WAKE;
  if (scope == Scope::local) op |= FUTEX_PRIVATE_FLAG;
  long rc = sys_futex(&word, op, static_cast<std::uint32_t>(n), nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

namespace {
thread_local std::uint32_t t_tid = 0;
// fork() gives the child's only thread a new tid while thread_locals are copied: the atfork
// child handler runs in that very thread, so it can reset its cache.
[[maybe_unused]] const int t_atfork = ::pthread_atfork(nullptr, nullptr, [] { t_tid = 0; });
}  // namespace

std::uint32_t current_tid() noexcept {
  if (t_tid == 0) t_tid = static_cast<std::uint32_t>(::gettid());
  return t_tid;
}

}  // namespace tandem::detail
