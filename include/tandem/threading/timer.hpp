// SPDX-License-Identifier: MIT
// tandem::Timer — threading.Timer (docs/threading.md#timer).
//
// Guarantees
//  * A Thread whose run() waits `interval` on the steady clock (measured from when the thread
//    starts running, as in Python) and then calls `function` — unless cancel() came first.
//  * cancel() before start(): the function never runs (the thread still starts and ends at
//    once). cancel() while waiting: wakes the timer thread at once, the function never runs.
//    cancel() after the function fired: does nothing. cancel() is idempotent and never blocks.
//  * request_stop() (and so the destructor of a pending non-daemon Timer) counts as cancel().
//  * A negative interval counts as 0 (Python's Event.wait clamps it).
// Memory ordering: whatever the caller did before start() happens-before `function` runs;
//  what `function` did happens-before join() returns.
// Lifetime: the cancel flag lives with the function in the thread's target, so a daemon
//  Timer that is destroyed while waiting is safe; the function then still fires on time.
// Cost: one thread per Timer (like Python); waiting is one futex sleep with a deadline.
// Differences from Python: `args`/`kwargs` are not separate parameters — bind them into the
//  callable (a lambda or std::bind_front). The function may also take a std::stop_token,
//  which is the Timer's own.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "tandem/detail/timeout.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/threading/thread.hpp"

namespace tandem {

class Timer : public Thread {
 public:
  template <class F>
    requires(std::is_invocable_v<std::decay_t<F>&> ||
             std::is_invocable_v<std::decay_t<F>&, std::stop_token>)
  Timer(duration interval, F function, ThreadOptions options = {})
      : Timer(std::make_shared<std::atomic<std::uint32_t>>(0), interval, std::move(function),
              std::move(options)) {}

  /// Timer overrides nothing, but destroying its subclass part rewrites the vtable pointer
  /// that the new thread reads to call run(): let that call happen first (it is immediate).
  ~Timer() override { await_run_entered(); }

  /// Stops the timer if it is still waiting; nothing if it already fired.
  void cancel() noexcept {
    cancelled_->store(1, std::memory_order_release);
    detail::futex_wake_all(*cancelled_);
  }

 private:
  using Flag = std::shared_ptr<std::atomic<std::uint32_t>>;

  template <class F>
  Timer(Flag flag, duration interval, F function, ThreadOptions options)
      : Thread(
            [flag, interval, fn = std::move(function)](std::stop_token token) mutable {
              // The deadline starts when the thread runs (Python: finished.wait(interval)).
              if (!detail::wait_while_zero(*flag, detail::clamped_deadline(interval), token))
                return;
              if constexpr (std::is_invocable_v<F&, std::stop_token>)
                fn(std::move(token));
              else
                fn();
            },
            std::move(options)),
        cancelled_(std::move(flag)) {}

  Flag cancelled_;
};

}  // namespace tandem
