// SPDX-License-Identifier: MIT
// <tandem/sched.hpp> — tandem::scheduler, Python's sched.scheduler (docs/sched.md): events
// entered at a time and a priority, run in order by whoever calls run().
//
//   tandem::scheduler s;
//   s.enter(0.5s, 1, [] { std::puts("later"); });
//   s.enter(0.1s, 1, [] { std::puts("sooner"); });
//   s.run();                                  // "sooner", then "later"; returns when empty
//
// Guarantees (Python's, sched.py)
//  * Events run in order of time, then priority (lower number first), then entry order.
//  * Thread-safe: any thread may enter, cancel, inspect, or run (several runners share the
//    events, each event runs once). An action runs outside the lock, in the thread that called
//    run(), and may itself enter or cancel events; its exception propagates out of run() with
//    the event already gone, and run() may be called again.
//  * cancel(e) of an event no longer queued (run, or cancelled): ValueError, as Python's
//    list.remove.
//  * run(false) runs the events that are due and returns the delay until the next one, or
//    nullopt when the queue is empty (Python's None); run() blocks until the queue is empty.
// Stronger than Python: with the default clock, a blocked run() wakes as soon as another
// thread enters an earlier event or cancels the one it waits for (Python's sleeps its whole
// delay), and it sleeps in tandem's waiting layer (0% CPU). With a custom time/delay function
// pair (Python's scheduler(timefunc, delayfunc), for tests and simulated time) it behaves as
// Python's exactly: delayfunc is called outside the lock for the whole delay.
// Differences: times are std::chrono::steady_clock time points, delays tandem::duration
// (seconds as double); an action is a callable (bind arguments by capture or as extra
// arguments of enter/enterabs: they are copied, Python's argument tuple).
// Cost: enter/cancel O(log n) under a tandem::Lock; queue() O(n) copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/detail/wait.hpp"  // tandem::duration
#include "tandem/threading/condition.hpp"
#include "tandem/threading/lock.hpp"

namespace tandem {

/// sched.Event without its action: what enter() returns and cancel() takes, and what queue()
/// lists. Events compare as Python's named tuples do: by time, priority, then sequence.
struct SchedEvent {
  std::chrono::steady_clock::time_point time;
  int priority = 0;
  std::uint64_t sequence = 0;  // entry order, unique in its scheduler
  friend auto operator<=>(const SchedEvent&, const SchedEvent&) = default;
};
using EventHandle = SchedEvent;

class scheduler {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  /// The steady clock, and waits that wake early when the queue changes.
  scheduler() = default;
  /// Python's scheduler(timefunc, delayfunc): time comes from `timefunc`, and run() calls
  /// `delayfunc(d)` (outside the lock) to wait d before it looks at the queue again; a
  /// delayfunc that returns early is simply called again. delayfunc(0) after every action.
  scheduler(std::function<time_point()> timefunc, std::function<void(duration)> delayfunc);
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  /// Schedules `action(args...)` at `time` (args are copied now).
  template <class F, class... Args>
  EventHandle enterabs(time_point time, int priority, F action, Args... args) {
    return add(time, priority, bind(std::move(action), std::move(args)...));
  }
  /// Schedules `action(args...)` `delay` from now (now: the time function's).
  template <class F, class... Args>
  EventHandle enter(duration delay, int priority, F action, Args... args) {
    return add(now() + std::chrono::duration_cast<clock::duration>(delay), priority,
               bind(std::move(action), std::move(args)...));
  }
  /// Removes `event` from the queue; ValueError when it is not queued (ran or was cancelled).
  void cancel(const EventHandle& event);
  bool empty() const;
  /// Runs the events as they fall due. blocking: until the queue is empty (then nullopt);
  /// otherwise: runs those due now and returns the delay until the next (nullopt: empty).
  std::optional<duration> run(bool blocking = true);
  /// The queued events in the order they will run (Python's scheduler.queue).
  std::vector<EventHandle> queue() const;

 private:
  template <class F, class... Args>
  static std::function<void()> bind(F f, Args... args) {
    static_assert(std::is_invocable_v<F&, Args&...>,
                  "tandem::scheduler: the action must be callable with the given arguments");
    if constexpr (sizeof...(Args) == 0) {
      return std::function<void()>(std::move(f));
    } else {
      return [f = std::move(f), t = std::make_tuple(std::move(args)...)]() mutable {
        std::apply(f, t);
      };
    }
  }
  EventHandle add(time_point time, int priority, std::function<void()> action);
  time_point now() const { return timefunc_ ? timefunc_() : clock::now(); }

  mutable Lock lock_;
  Condition changed_{lock_};  // an earlier event entered, or an event cancelled
  std::map<SchedEvent, std::function<void()>> q_;
  std::uint64_t next_sequence_ = 0;
  std::function<time_point()> timefunc_;
  std::function<void(duration)> delayfunc_;
};

}  // namespace tandem
