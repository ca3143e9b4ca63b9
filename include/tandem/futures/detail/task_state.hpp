// SPDX-License-Identifier: MIT
// <tandem/futures/detail/task_state.hpp> — a thread-pool task and its future's state in one
// allocation (detail): the plain task of submit(), the task of submit(TaskOptions, ...)
// (timeout, stop token), and the task a call_at timer hands to the pool when due.
#pragma once

#include <stop_token>
#include <string>
#include <utility>

#include "tandem/futures/future.hpp"
#include "tandem/futures/detail/timer_service.hpp"

namespace tandem::detail {

/// Runs `fn` unless the future was cancelled meanwhile, and publishes its outcome.
template <class R, class Call>
void run_and_publish(FutureState<R>& st, TaskHooks* hooks, Call&& call) noexcept {
  bool go = false;
  try {
    go = st.set_running_or_notify_cancel();
  } catch (...) {  // completed by hand before it ran: nothing to do
  }
  if (!go) {
    if (hooks) hooks->finishing();
    return;
  }
  Outcome<R> o = Outcome<R>::capture(std::forward<Call>(call));
  if (hooks) hooks->finishing();
  publish(st, std::move(o));  // false: someone set the future by hand meanwhile
}

template <class R, class Fn>
class TaskState : public FutureState<R> {
 public:
  explicit TaskState(Fn&& fn) : fn_(std::move(fn)) {}
  void run_task(TaskHooks* hooks) noexcept override { run_and_publish(*this, hooks, fn_); }

 private:
  Fn fn_;
};

/// call_at on a ThreadPoolExecutor: the task itself waits in the timer service and is queued
/// in the pool when due (no second allocation, no second future).
template <class R, class Fn, class Pool>
class DelayedTask final : public TaskState<R, Fn>, public TimerNode {
 public:
  DelayedTask(Fn&& fn, Pool* pool, TimerOwner* o) : TaskState<R, Fn>(std::move(fn)), pool_(pool) {
    owner = o;
  }
  void fire() noexcept override {
    if (!this->cancelled()) {
      this->add_ref();  // the pool's; enqueue drops it when it refuses the task
      try {
        pool_->enqueue(this);
      } catch (...) {  // shut down (or broken) meanwhile: as a timer cancelled by shutdown
        this->cancel();
      }
    }
    this->release();  // the timer's
  }
  void drop() noexcept override {
    this->cancel();
    this->release();
  }
  void discard() noexcept override { this->release(); }

 private:
  Pool* pool_;
};

/// submit(TaskOptions, fn, args...) on a ThreadPoolExecutor. With a timeout, a timer armed at
/// the task's start fails the future with TimeoutError when it passes (the thread cannot be
/// stopped: the worker stays busy until fn returns, and its outcome is discarded). When fn
/// takes a std::stop_token (Stop), cancel() of the running future and the timeout request a
/// stop; cancel() then succeeds at once (CANCELLED), whether or not fn honours it.
template <class R, class Fn, bool Stop>
class OptionTask final : public FutureState<R>, public TimerNode {
 public:
  OptionTask(Fn&& fn, std::int64_t timeout_ns)
      : fn_(std::move(fn)), timeout_ns_(timeout_ns) {
    if constexpr (Stop) stop_ = std::stop_source();
  }

  void run_task(TaskHooks* hooks) noexcept override {
    bool timed = false;
    run_and_publish(*this, hooks, [&]() -> R {
      if (timeout_ns_ >= 0) {
        this->add_ref();  // the timer's
        try {
          TimerService::instance().add(this, steady_ns() + timeout_ns_);
          timed = true;
        } catch (...) {
          this->release();
          throw;
        }
      }
      struct Disarm {  // also when fn throws
        OptionTask* t;
        bool& timed;
        ~Disarm() {
          if (timed) TimerService::instance().cancel(t);  // its entry: discard() later
        }
      } disarm{this, timed};
      if constexpr (Stop)
        return fn_(stop_.get_token());
      else
        return fn_();
    });
  }

  void fire() noexcept override {  // the timeout passed
    if constexpr (Stop) stop_.request_stop();
    try {
      this->begin_set();
      this->store_exception(std::make_exception_ptr(
          TimeoutError("the task ran past its timeout of " +
                       std::to_string(static_cast<double>(timeout_ns_) / 1e9) + " s")));
      this->end_set(true);
    } catch (...) {  // it finished (or was cancelled) in the meantime
    }
    this->release();
  }
  void drop() noexcept override { this->release(); }
  void discard() noexcept override { this->release(); }

  bool cancel_running() override {
    if constexpr (Stop) {
      stop_.request_stop();
      return this->cancel_from_running();
    } else {
      return false;  // Python's rule: a running task cannot be cancelled
    }
  }

 private:
  Fn fn_;
  std::int64_t timeout_ns_;  // < 0: none
  std::stop_source stop_{std::nostopstate};
};

}  // namespace tandem::detail
