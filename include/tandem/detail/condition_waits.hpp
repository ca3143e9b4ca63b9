// SPDX-License-Identifier: MIT
// <tandem/detail/condition_waits.hpp> — Python's Condition.wait / wait_for loops, written once
// for threading's Condition, mp::Condition and the Manager's ConditionProxy.
//
// Each of those classes has its own way to sleep (a waiter list on the stack, a futex in
// shared memory, a proxy slicing its waits to notice a dead manager); what Python specifies on
// top of that sleep — wait_for's order of checks and its single deadline — is the same, so it
// lives here. The waits happen with the lock held, as in Python: pred() is always evaluated
// under the lock.
#pragma once

#include "tandem/detail/timeout.hpp"
#include "tandem/detail/wait.hpp"

namespace tandem::detail {

/// CRTP: `class Condition : public detail::ConditionWaits<Condition>`. Derived provides
/// `bool wait_until(detail::Deadline)`: releases the lock, sleeps until notified or the
/// deadline, re-acquires the lock; false when the deadline passed. It may keep wait_until
/// private and befriend this template.
template <class Derived>
class ConditionWaits {
 public:
  /// Releases the lock, sleeps until notified, re-acquires the lock. Returns true.
  bool wait() { return self().wait_until(Deadline::never()); }
  /// As wait(), for at most `timeout` (negative counts as 0): false when it expired.
  bool wait(duration timeout) { return self().wait_until(clamped_deadline(timeout)); }

  /// Waits until pred() is true; pred is evaluated first, with the lock held.
  template <class Pred>
  bool wait_for(Pred pred) {
    bool result = static_cast<bool>(pred());
    while (!result) {
      wait();
      result = static_cast<bool>(pred());
    }
    return result;
  }
  /// As wait_for(pred), with one deadline for the whole call; returns pred()'s last value.
  template <class Pred>
  bool wait_for(Pred pred, duration timeout) {
    const Deadline deadline = clamped_deadline(timeout);
    bool result = static_cast<bool>(pred());
    // Python waits once even with a zero timeout (wait(0) lets other threads take the
    // lock), then re-checks, then gives up once the deadline has passed.
    for (bool first = true; !result; first = false) {
      if (!first && deadline.expired()) break;
      self().wait_until(deadline);
      result = static_cast<bool>(pred());
    }
    return result;
  }

 protected:
  ConditionWaits() = default;
  ~ConditionWaits() = default;

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace tandem::detail
