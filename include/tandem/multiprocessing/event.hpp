// SPDX-License-Identifier: MIT
// tandem::mp::Event — multiprocessing.Event, in shared memory
// (docs/multiprocessing.md#synchronization-primitives).
//
// Guarantees: those of tandem::Event (<tandem/threading/event.hpp>) across every process
//  sharing the object (made before fork()/Process::start()): set() wakes every waiter in
//  every process; a waiter woken by set() returns true even if clear() ran before it was
//  scheduled; wait(timeout) returns false only when the timeout expired. The state is the
//  very same tandem::Event, placed in a SharedRegion and built with detail::Scope::shared.
// Crash safety: the state is one atomic word, so a process dying anywhere leaves it
//  consistent; one killed while asleep in wait() leaves the sleeper count one too high,
//  which only costs later set() calls one harmless futex_wake system call.
// Memory ordering: set() is a release, a wait() that returns true an acquire.
// Differences from Python: none in behaviour (timeouts are std::chrono durations; a
//  negative one counts as 0).
#pragma once

#include "tandem/multiprocessing/detail/shared_region.hpp"
#include "tandem/threading/event.hpp"

namespace tandem::mp {

class Event {
 public:
  Event()
      : region_(detail::make_shared_state<tandem::Event>(tandem::detail::Scope::shared)),
        e_(region_.at<tandem::Event>()) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept { return e_->is_set(); }
  void set() noexcept { e_->set(); }
  void clear() noexcept { e_->clear(); }
  bool wait() noexcept { return e_->wait(); }
  bool wait(duration timeout) noexcept { return e_->wait(timeout); }

 private:
  detail::SharedRegion region_;
  tandem::Event* e_;
};

}  // namespace tandem::mp
