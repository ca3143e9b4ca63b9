// SPDX-License-Identifier: MIT
// RobustMutex: pthread robust, process-shared mutex (see robust_mutex.hpp for why glibc).
#include <pthread.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "tandem/log.hpp"
#include "tandem/multiprocessing/detail/robust_mutex.hpp"

#include "detail/sanitizers.hpp"

#ifdef TANDEM_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace tandem::mp::detail {
namespace {

void check(int rc, const char* what) {
  if (rc != 0) {
    tandem::log(LogLevel::critical, "multiprocessing",
                std::string("tandem: ") + what + " failed (" + std::to_string(rc) + ")");
    std::abort();  // only on a broken libc: robust shared mutexes are in glibc since 2.4
  }
}

}  // namespace

RobustMutex::RobustMutex() noexcept {
  pthread_mutexattr_t a;
  check(pthread_mutexattr_init(&a), "pthread_mutexattr_init");
  check(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED), "setpshared");
  check(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), "setrobust");
  check(pthread_mutex_init(&m_, &a), "pthread_mutex_init");
  pthread_mutexattr_destroy(&a);
}

RobustMutex::Acquired RobustMutex::lock(Deadline deadline) noexcept {
  int rc;
  if (deadline.is_never()) {
    rc = pthread_mutex_lock(&m_);
  } else {
    rc = pthread_mutex_trylock(&m_);
    if (rc == EBUSY) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          deadline.time_point().time_since_epoch())
                          .count();
      timespec ts{};
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
#ifdef TANDEM_TSAN
      // ThreadSanitizer intercepts pthread_mutex_lock/trylock/timedlock but not clocklock:
      // tell it about this acquisition so it sees the happens-before edge.
      __tsan_mutex_pre_lock(&m_, __tsan_mutex_try_lock);
#endif
      do {
        rc = pthread_mutex_clocklock(&m_, CLOCK_MONOTONIC, &ts);
      } while (rc == EINTR);
#ifdef TANDEM_TSAN
      __tsan_mutex_post_lock(
          &m_,
          __tsan_mutex_try_lock |
              ((rc == 0 || rc == EOWNERDEAD) ? 0u : unsigned(__tsan_mutex_try_lock_failed)),
          0);
#endif
    }
  }
  if (rc == 0) return Acquired::yes;
  if (rc == EOWNERDEAD) {
    // The holder died: take over and make the mutex usable again. Whether the data it
    // guarded is consistent is for the caller to judge (owner_died()).
    pthread_mutex_consistent(&m_);
    return Acquired::recovered;
  }
  return Acquired::no;  // ETIMEDOUT, EBUSY, EDEADLK; ENOTRECOVERABLE cannot happen (above)
}

RobustMutex::Acquired RobustMutex::try_lock() noexcept {
  const int rc = pthread_mutex_trylock(&m_);
  if (rc == 0) return Acquired::yes;
  if (rc == EOWNERDEAD) {
    pthread_mutex_consistent(&m_);
    return Acquired::recovered;
  }
  return Acquired::no;
}

int RobustMutex::unlock() noexcept {
  // glibc checks ownership for robust mutexes itself (EPERM), but a racy unlock of a
  // mutex the caller does not hold must never reach it as a "successful" call.
  if (!is_owned()) return EPERM;
  return pthread_mutex_unlock(&m_);
}

}  // namespace tandem::mp::detail
