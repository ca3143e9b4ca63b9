// SPDX-License-Identifier: MIT
// <tandem/multiprocessing/detail/robust_mutex.hpp> — the crash-safe mutex under mp::Lock,
// mp::RLock,
// mp::Barrier and mp::Value/Array's lock.
//
// Why this one object uses glibc and not tandem's futex layer: recovering a lock whose
// holder died needs the kernel's robust-futex protocol. At a thread's death (SIGKILL
// included) the kernel walks the thread's robust list (set_robust_list(2)), marks every
// futex word still holding that thread's tid with FUTEX_OWNER_DIED and wakes one waiter at
// once — no polling, no timeout, the next acquirer runs within microseconds of the death.
// That list has a single head per thread and glibc owns it (it registers it for every
// thread and links its robust pthread mutexes into it); a second, private list would
// replace glibc's and break its mutexes. So the mutex is a pthread_mutex_t with
// PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST; EOWNERDEAD is answered with
// pthread_mutex_consistent() at once and reported to the caller, and timed waits use
// pthread_mutex_clocklock(CLOCK_MONOTONIC), the steady clock of every other tandem timeout.
// Its speed is that of a futex mutex (ANCHORS: ~34 M locked increments/s for 2 processes).
//
// Guarantees
//  * Mutual exclusion across threads and processes mapping the same memory; lock is an
//    acquire operation, unlock a release.
//  * A holder that dies (thread exit or process death, any signal) never blocks the others:
//    the next acquirer gets the mutex with Acquired::recovered. The protected data may be
//    half-updated; the caller decides (owner_died() on the public locks).
//  * The owner is the holder's kernel tid, kept by glibc in the futex word; owner() reads
//    it (0 when free) — the kernel's own truth, reset at the owner's death, so a recycled
//    tid can never be mistaken for the dead owner.
//  * Not recursive: relocking by the owner blocks (a timed lock times out).
// Trivially destructible and pointer-free (pthread_mutex_t is plain data): it can live in a
// SharedRegion and is never pthread_mutex_destroy()ed (a no-op for glibc's robust mutexes).
#pragma once

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdint>

#include "tandem/detail/wait.hpp"

namespace tandem::mp::detail {

using tandem::detail::Deadline;

class RobustMutex {
 public:
  enum class Acquired : std::uint8_t { no, yes, recovered };

  /// Initialises the pthread mutex (process-shared, robust); the creator calls it once
  /// before any other process can see the memory.
  RobustMutex() noexcept;

  /// Blocks until locked or the deadline passes.
  Acquired lock(Deadline deadline = Deadline::never()) noexcept;
  Acquired try_lock() noexcept;
  /// 0 on success; EPERM when the caller does not hold it (free or another's).
  int unlock() noexcept;

  /// The kernel tid of the holder, 0 when free (also after the holder died).
  std::uint32_t owner() const noexcept {
    return static_cast<std::uint32_t>(__atomic_load_n(&m_.__data.__lock, __ATOMIC_RELAXED)) &
           0x3fffffffu;  // FUTEX_TID_MASK
  }
  bool is_owned() const noexcept { return owner() == tandem::detail::current_tid(); }

 private:
  pthread_mutex_t m_;
};

/// Whether process `pid` no longer exists (kill(pid, 0) fails with ESRCH); keeps errno.
/// For the objects that record their waiters' pids (mp::Condition, mp::Barrier). A process
/// killed but not yet reaped by its parent (a zombie) still exists, and so does a dead
/// process's pid once the system reuses it: false then, as for a live one.
inline bool process_gone(std::int32_t pid) noexcept {
  if (pid <= 0) return false;
  const int saved = errno;
  const bool gone = ::kill(pid, 0) != 0 && errno == ESRCH;
  errno = saved;
  return gone;
}

}  // namespace tandem::mp::detail
