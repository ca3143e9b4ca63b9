// SPDX-License-Identifier: MIT
// tandem::mp::Semaphore, mp::BoundedSemaphore — multiprocessing.Semaphore / BoundedSemaphore
// (docs/multiprocessing.md#synchronization-primitives), in shared memory.
//
// Guarantees: those of tandem::Semaphore / BoundedSemaphore (<tandem/threading/semaphore.hpp>),
//  across every process that shares the object (made before fork()/Process::start()). The
//  state is the very same tandem::Semaphore, placed in a SharedRegion and built with
//  detail::Scope::shared so that its futex wake-ups cross processes.
// Crash safety: the counter is a single atomic word, so a process dying anywhere in
//  acquire()/release() leaves it consistent (its unit is simply taken or not). A unit taken
//  by a process that then dies is not given back — a semaphore has no owner to recover
//  from (Python's behaves the same). A process killed while asleep in acquire() leaves the
//  sleeper count one too high: releases then make one harmless futex_wake system call.
// Memory ordering: release() is a release operation, a successful acquire() an acquire.
// Differences from Python: release(n) takes a count (threading's; multiprocessing's takes
//  none); over-releasing a BoundedSemaphore raises ValueError("Semaphore released too many
//  times") (threading's message; multiprocessing says "semaphore or lock released too many
//  times"); get_value() is spelled value() as in tandem::Semaphore, and get_value() too.
#pragma once

#include <chrono>
#include <cstdint>

#include "tandem/detail/lockable.hpp"
#include "tandem/multiprocessing/detail/shared_region.hpp"
#include "tandem/threading/semaphore.hpp"

namespace tandem::mp {

class Semaphore : public tandem::detail::Lockable<Semaphore> {
 public:
  /// ValueError("semaphore initial value must be >= 0") when value < 0.
  explicit Semaphore(std::int64_t value = 1)
      : region_(detail::make_shared_state<tandem::Semaphore>(value, tandem::detail::Scope::shared)),
        s_(region_.at<tandem::Semaphore>()) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  bool acquire(bool blocking = true) { return s_->acquire(blocking); }
  /// Waits at most `timeout` (negative counts as 0); false when it expired first.
  bool acquire(duration timeout) { return s_->acquire(timeout); }
  void release(std::int64_t n = 1) { s_->release(n); }
  std::int64_t value() const noexcept { return s_->value(); }
  std::int64_t get_value() const noexcept { return s_->value(); }
  /// Python 3.14's Semaphore.locked(): true when an acquire would block.
  bool locked() const noexcept { return s_->value() == 0; }

  bool try_acquire() { return acquire(false); }
  template <class Rep, class Period>
  bool try_acquire_for(const std::chrono::duration<Rep, Period>& d) {
    return acquire(duration(d));
  }
  /// As std::counting_semaphore::try_acquire_until (and tandem::Semaphore's): waits until
  /// `tp` on its clock, converted once to a timeout on the steady clock; a time already past
  /// makes one non-blocking attempt.
  template <class Clock, class Dur>
  bool try_acquire_until(const std::chrono::time_point<Clock, Dur>& tp) {
    return acquire(duration(tp - Clock::now()));
  }

 protected:
  explicit Semaphore(detail::SharedRegion region) noexcept
      : region_(std::move(region)), s_(region_.at<tandem::Semaphore>()) {}

 private:
  detail::SharedRegion region_;
  tandem::Semaphore* s_;
};

/// A Semaphore whose value may never exceed its initial value.
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(std::int64_t value = 1)
      : Semaphore(detail::make_shared_state<tandem::BoundedSemaphore>(
            value, tandem::detail::Scope::shared)),
        initial_(value) {}
  std::int64_t initial_value() const noexcept { return initial_; }

 private:
  std::int64_t initial_;
};

}  // namespace tandem::mp
