// SPDX-License-Identifier: MIT
// <tandem/futures/detail/timer_nodes.hpp> — the timers behind call_later/call_at/call_every
// (detail): each is a TimerNode (timer_service.hpp) that, when due, hands work to its executor.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "tandem/futures/future.hpp"
#include "tandem/futures/detail/timer_service.hpp"
#include "tandem/log.hpp"

namespace tandem::detail {

/// call_at on any executor: when due, `submit(ex)` (a call of the executor's submit with the
/// stored function and arguments) and the returned future's outcome becomes this one's. Until
/// then the future is PENDING and cancel() prevents the call; once submitted, cancel() is
/// passed to the executor's future (the process pool then stops a running task).
template <class R, class Ex, class Submit>
class DeferredSubmit final : public FutureState<R>, public TimerNode {
 public:
  DeferredSubmit(Ex* ex, Submit submit, TimerOwner* o) : ex_(ex), submit_(std::move(submit)) {
    owner = o;
  }

  void fire() noexcept override {
    bool go = false;
    try {
      go = this->set_running_or_notify_cancel();
    } catch (...) {  // completed by hand meanwhile
    }
    if (go) {
      try {
        Future<R> inner = submit_(*ex_);
        mu_.lock();
        inner_ = inner;
        mu_.unlock();
        this->add_ref();  // for the callback
        inner.state()->add_callback([self = this](FutureCore& c) {
          forward_outcome(static_cast<FutureState<R>&>(c), *self);
          self->release();
        });
      } catch (...) {  // refused (the executor shut down meanwhile, or broke)
        Outcome<R> o;
        o.error = std::current_exception();
        publish(*this, std::move(o));
      }
    }
    this->release();  // the timer's reference
  }
  void drop() noexcept override {
    try {
      this->cancel();
    } catch (...) {
    }
    this->release();
  }
  void discard() noexcept override { this->release(); }
  bool cancel_running() override {
    mu_.lock();
    Future<R> inner = inner_;
    mu_.unlock();
    return inner.cancel() && this->cancel_from_running();
  }

 private:
  Ex* ex_;
  Submit submit_;
  FutexMutex mu_;
  Future<R> inner_;
};

/// call_every's state: one timer re-armed after each tick has finished, at the next multiple of
/// the period from the first due time (ticks missed while one ran are skipped, never run in a
/// burst). Owned by the PeriodicHandles and, while queued or ticking, by itself.
class PeriodicBase : public TimerNode {
 public:
  PeriodicBase(std::int64_t first_due, std::int64_t period_ns, std::shared_ptr<TimerOwner> o)
      : first_(first_due), period_(period_ns), owner_ref_(std::move(o)) {
    owner = owner_ref_.get();
  }
  virtual ~PeriodicBase() = default;

  /// Queues the first tick; `self` is this object's shared_ptr.
  void start(std::shared_ptr<PeriodicBase> self) {
    self_ = self;
    try {
      TimerService::instance().add(this, first_);
    } catch (...) {
      self_.reset();
      throw;
    }
  }
  void cancel() noexcept {
    cancelled_.store(true, std::memory_order_release);
    TimerService::instance().cancel(this);  // queued: discard() lets go later
  }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }
  std::uint64_t ticks() const noexcept { return ticks_.load(std::memory_order_relaxed); }

  void drop() noexcept override {
    cancelled_.store(true, std::memory_order_release);
    self_.reset();
  }
  void discard() noexcept override { self_.reset(); }

 protected:
  /// After a tick: reports its failure (logged; the ticks go on) and queues the next one.
  void tick_done(std::exception_ptr error) noexcept {
    ticks_.fetch_add(1, std::memory_order_relaxed);
    if (error) report(error);
    std::shared_ptr<PeriodicBase> keep = std::move(self_);
    if (cancelled()) return;
    const std::int64_t now = steady_ns();
    const std::int64_t k = now < first_ ? 1 : (now - first_) / period_ + 1;
    self_ = keep;
    try {
      TimerService::instance().add(this, first_ + k * period_);
    } catch (...) {  // the executor shut down: no more ticks
      self_.reset();
    }
  }
  std::shared_ptr<PeriodicBase> self_;  // while queued or ticking

 private:
  static void report(std::exception_ptr e) noexcept {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      tandem::log(LogLevel::error, "futures",
                  std::string("exception in a call_every tick (the ticks go on): ") + ex.what());
    } catch (...) {
      tandem::log(LogLevel::error, "futures", "exception in a call_every tick (the ticks go on)");
    }
  }

  const std::int64_t first_, period_;
  std::shared_ptr<TimerOwner> owner_ref_;
  std::atomic<bool> cancelled_{false};
  std::atomic<std::uint64_t> ticks_{0};
};

template <class Ex, class Submit>
class Periodic final : public PeriodicBase {
 public:
  Periodic(Ex* ex, Submit submit, std::int64_t first_due, std::int64_t period_ns,
           std::shared_ptr<TimerOwner> o)
      : PeriodicBase(first_due, period_ns, std::move(o)), ex_(ex), submit_(std::move(submit)) {}

  void fire() noexcept override {
    if (cancelled()) {
      self_.reset();
      return;
    }
    try {
      auto f = submit_(*ex_);
      f.state()->add_callback([this](FutureCore& c) {
        tick_done(c.cancelled()       ? std::make_exception_ptr(CancelledError())
                  : c.has_exception() ? c.stored_exception()
                                      : nullptr);
      });
    } catch (...) {  // refused: the executor shut down meanwhile
      drop();
    }
  }

 private:
  Ex* ex_;
  Submit submit_;
};

}  // namespace tandem::detail
