// SPDX-License-Identifier: MIT
// <tandem/futures/timers.hpp> — call_later, call_at and call_every on every executor
// (docs/futures.md#timers): the members ThreadPoolExecutor, ProcessPoolExecutor and
// MpiPoolExecutor share, written once here.
//
//   auto f = pool.call_later(2s, fetch, url);          // Future<R>: fetch(url) in 2 s, on a worker
//   tandem::PeriodicHandle h = pool.call_every(10s, health_check);
//   h.cancel();
//
// Guarantees
//  * One timer thread per process (futures/detail/timer_service.hpp), not a thread per timer:
//    thousands of pending call_laters cost memory, no threads; it sleeps until the next
//    deadline in the waiting layer (0% CPU when idle). The callable never runs on the timer
//    thread: when due it is submitted to the executor, exactly as submit(fn, args...) (so on
//    a ProcessPoolExecutor fn must be a shippable function and args serializable, checked at
//    compile time), and the returned future takes the outcome.
//  * call_at(t, ...): due at steady_clock time t; call_later(d, ...) = call_at(now + d, ...);
//    a negative delay or a past t means "as soon as possible". Timers due at the same moment
//    are submitted in the order they were made.
//  * A pending timer's future is PENDING: cancel() succeeds and prevents the call. Once
//    submitted, cancel() acts on the executor's task (a thread pool cannot stop a running
//    task; a process pool kills its worker).
//  * call_every(period, fn, args...) → PeriodicHandle: fn runs at first after one period, then
//    at every multiple of the period from there; the next tick is armed when a tick finishes,
//    so ticks never overlap and a tick that overruns skips the ticks it missed (no burst).
//    An exception from a tick is logged (tandem::log, "futures") and the ticks go on.
//    cancel(): no further tick starts; at most one tick already under way may still run.
//    Dropping the handle does not stop the ticks (as asyncio's TimerHandle); shutdown does.
//  * Context: the callable runs in a copy of the contextvars context of the call that made
//    the timer (each tick of call_every in its own copy), as asyncio's call_later.
//  * The timer thread runs no user callable; it may run done callbacks of a timer's future
//    when the executor refuses the task (the future then fails or is cancelled there).
//  * shutdown() of the executor cancels its pending timers (their futures report CANCELLED)
//    and stops its periodic calls; call_* after shutdown raises RuntimeError, as submit.
// Cost: a timer is one allocation (future + timer), O(log n) to queue; the timer thread is
// woken only when a new timer is due before the one it sleeps for.
// Beyond Python: concurrent.futures has no timers; asyncio's loop.call_later/call_at are the
// model (but here the result is a Future and the callable runs on the executor's workers).
#pragma once

#include <chrono>
#include <memory>
#include <tuple>
#include <utility>

#include "tandem/contextvars.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/futures/future.hpp"
#include "tandem/futures/detail/timer_nodes.hpp"
#include "tandem/futures/detail/timer_service.hpp"

namespace tandem {

/// What call_every returns: stops the periodic call. Copyable; every copy controls the same
/// periodic call.
class PeriodicHandle {
 public:
  PeriodicHandle() = default;
  explicit PeriodicHandle(std::shared_ptr<detail::PeriodicBase> p) : p_(std::move(p)) {}
  /// No tick starts after this returns (one already under way may finish).
  void cancel() noexcept {
    if (p_) p_->cancel();
  }
  bool cancelled() const noexcept { return !p_ || p_->cancelled(); }
  /// Ticks finished so far.
  std::uint64_t ticks() const noexcept { return p_ ? p_->ticks() : 0; }

 private:
  std::shared_ptr<detail::PeriodicBase> p_;
};

namespace detail {

/// The timer members of an executor (CRTP): Derived provides submit(fn, args...) and calls
/// close_timers() at the start of its shutdown. Derived may provide a faster call_at of its
/// own (ThreadPoolExecutor does); call_later goes through Derived's call_at.
template <class Derived>
class ExecutorTimers {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  template <class F, class... Args>
  auto call_later(duration delay, F fn, Args... args) {
    return self().call_at(std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  clamp(delay)),
                          std::move(fn), std::move(args)...);
  }

  template <class F, class... Args>
  auto call_at(time_point when, F fn, Args... args) {
    auto submit = make_submit(std::move(fn), std::move(args)...);
    using R = typename decltype(submit(std::declval<Derived&>()))::value_type;
    using Node = DeferredSubmit<R, Derived, decltype(submit)>;
    auto* n = new Node(&self(), std::move(submit), timer_owner_.get());
    n->init_refs(2);  // the future and the timer
    Future<R> fut(n, AdoptRef{});
    try {
      TimerService::instance().add(n, to_ns(when));
    } catch (...) {
      n->release();
      throw;
    }
    return fut;
  }

  template <class F, class... Args>
  PeriodicHandle call_every(duration period, F fn, Args... args) {
    if (!(period.count() > 0)) throw ValueError("call_every: the period must be positive");
    auto submit = make_submit(std::move(fn), std::move(args)...);
    const auto period_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(period).count();
    const std::int64_t first = steady_ns() + (period_ns > 0 ? period_ns : 1);
    auto p = std::make_shared<Periodic<Derived, decltype(submit)>>(
        &self(), std::move(submit), first, period_ns > 0 ? period_ns : 1, timer_owner_);
    p->start(p);
    return PeriodicHandle(std::move(p));
  }

 protected:
  ExecutorTimers() : timer_owner_(std::make_shared<TimerOwner>()) {}
  ~ExecutorTimers() = default;
  /// The executor's shutdown: cancels its pending timers, stops its periodic calls, refuses
  /// new ones; returns once no timer of this executor is being handed to it.
  void close_timers() noexcept { TimerService::instance().close_owner(*timer_owner_); }
  TimerOwner* timer_owner() const noexcept { return timer_owner_.get(); }
  static duration clamp(duration d) noexcept {
    // Past (or NaN): now. Beyond ~30 years: never fires in practice, and no overflow.
    if (!(d.count() > 0)) return duration(0);
    return d.count() < 1e9 ? d : duration(1e9);
  }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
  /// The submit a timer makes when due, in (a copy of) the context of the call that made the
  /// timer — the submit takes its task's context from there (contextvars.hpp).
  template <class F, class... Args>
  static auto make_submit(F fn, Args... args) {
    return [ctx = copy_context(), fn = std::move(fn),
            tup = std::make_tuple(std::move(args)...)](Derived& ex) {
      Context mine = ctx;  // Python's ctx.copy(): a periodic timer runs it once per tick
      return std::move(mine).run([&] {
        return std::apply([&](const auto&... a) { return ex.submit(fn, a...); }, tup);
      });
    };
  }

  std::shared_ptr<TimerOwner> timer_owner_;
};

}  // namespace detail
}  // namespace tandem
