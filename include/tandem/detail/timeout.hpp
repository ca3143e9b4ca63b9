// SPDX-License-Identifier: MIT
// Validation of user-supplied timeouts, with Python's messages (docs/threading.md#timeouts,
// docs/queue.md#timeouts).
#pragma once

#include <cmath>

#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"

namespace tandem::detail {

/// Throws ValueError(message) when `timeout` is negative or NaN; returns its deadline.
inline Deadline checked_deadline(duration timeout,
                                 const char* message = "timeout value must be a non-negative number") {
  if (!(timeout.count() >= 0)) throw ValueError(message);
  return Deadline::after(timeout);
}

/// Throws ValueError(message) when `timeout` is negative or NaN. Lets a caller try its fast
/// path before it pays for reading the clock (a Deadline is built only when a wait is needed).
inline void check_timeout(duration timeout,
                          const char* message = "timeout value must be a non-negative number") {
  if (!(timeout.count() >= 0)) throw ValueError(message);
}

/// A negative timeout counts as 0 (Thread.join, Event.wait, Condition.wait...): Python clamps.
inline Deadline clamped_deadline(duration timeout) noexcept {
  if (std::isnan(timeout.count()) || timeout.count() < 0) timeout = duration(0);
  return Deadline::after(timeout);
}

}  // namespace tandem::detail
