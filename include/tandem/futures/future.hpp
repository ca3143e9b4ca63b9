// SPDX-License-Identifier: MIT
// tandem::Future<T> — concurrent.futures.Future (docs/futures.md#future).
//
// Guarantees
//  * A copyable handle to one shared state (copies compare equal and see the same outcome).
//    T may be void or move-only. A default-constructed Future is PENDING, for executors and
//    tests to complete with set_running_or_notify_cancel / set_result / set_exception.
//  * States PENDING → RUNNING → FINISHED, or PENDING → CANCELLED. cancel() succeeds only while
//    PENDING (and again on a cancelled future); done() is true when FINISHED or CANCELLED.
//  * result() waits, then returns the value, rethrows the stored exception (the very same
//    exception object, as Python), or throws CancelledError; result(timeout) throws
//    TimeoutError when the future is not done in time (0: check without waiting; negative
//    counts as 0). For a copyable T result() returns a copy, as Python hands out a reference
//    to a shared object; **for a move-only T it returns `const T&`**, valid while any handle
//    to this future lives.
//  * exception() returns the stored exception_ptr, or nullptr when the task returned
//    normally (test presence with `!= nullptr`; gh-132063), CancelledError when cancelled.
//  * add_done_callback(fn): fn(future) runs once, in registration order, in the thread that
//    completes or cancels the future — or at once in the calling thread when the future is
//    already done. An exception thrown by a callback is reported on stderr ("exception
//    calling callback for <Future at 0x...>") and swallowed; later callbacks still run.
//  * A second set_* throws InvalidStateError("FINISHED: <Future ...>") or ("CANCELLED: ...").
//    set_running_or_notify_cancel() on a RUNNING or FINISHED future throws
//    RuntimeError("Future in unexpected state").
//  * then(fn): a Future of fn(result) (fn() for Future<void>), completed by the thread that
//    completes this one; an exception (or cancellation, as CancelledError) propagates.
//  * `co_await future` in a C++20 coroutine suspends until done (resumed by the completing
//    thread, through a done callback) and yields result().
//  * Called inside a ThreadPoolExecutor task, result()/exception() run other queued tasks of
//    that pool while they wait, so waiting on a task submitted from a task never deadlocks.
// Memory ordering: completing a future is a release, and every observer of done() == true
//  (result, exception, callbacks, wait, as_completed) acquires: whatever the task wrote
//  before finishing is visible to whoever sees the outcome.
// Cost: one allocation per future (the executor's task lives in the same block); completing
//  costs one atomic RMW (plus a futex wake only when somebody sleeps); no mutex unless a
//  callback is registered.
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "tandem/detail/timeout.hpp"
#include "tandem/futures/detail/future_core.hpp"

namespace tandem {

template <class T>
class Future;

namespace detail {

/// The state of a Future<T>: the core plus storage for the value.
template <class T>
class FutureState : public FutureCore {
 public:
  FutureState() noexcept {}
  ~FutureState() override {
    std::uint32_t s = load();
    if ((s & kPhaseMask) == kFinished && !(s & kHasExc)) value_.~T();
  }
  template <class... A>
  void set_value(A&&... a) {
    begin_set();
    emplace_claimed(std::forward<A>(a)...);
  }
  /// After a successful begin_set(): builds the value (or stores the constructor's
  /// exception) and publishes.
  template <class... A>
  void emplace_claimed(A&&... a) noexcept {
    try {
      ::new (static_cast<void*>(&value_)) T(std::forward<A>(a)...);
    } catch (...) {
      store_exception(std::current_exception());
      end_set(true);
      return;
    }
    end_set(false);
  }
  T& value() noexcept { return value_; }

 private:
  union {
    T value_;
  };
};

template <>
class FutureState<void> : public FutureCore {
 public:
  void set_value() {
    begin_set();
    end_set(false);
  }
  void emplace_claimed() noexcept { end_set(false); }
};

/// The outcome of a computation run before its future is claimed (a task's call, a decoded
/// reply): the value, or the exception it threw. Executors capture() it, then publish() it.
template <class T>
struct Outcome {
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr error;

  template <class F>
  static Outcome capture(F&& f) {
    Outcome o;
    try {
      if constexpr (std::is_void_v<T>) {
        std::forward<F>(f)();
        o.value.emplace(true);
      } else {
        o.value.emplace(std::forward<F>(f)());
      }
    } catch (...) {
      o.error = std::current_exception();
    }
    return o;
  }
};

/// Claims `s` and stores `o` in it; false, storing nothing, when the future was already set
/// (by hand, or a timeout) or cancelled meanwhile.
template <class T>
bool publish(FutureState<T>& s, Outcome<T>&& o) noexcept {
  try {
    s.begin_set();
  } catch (...) {
    return false;
  }
  if (!o.value) {
    s.store_exception(std::move(o.error));
    s.end_set(true);
  } else if constexpr (std::is_void_v<T>) {
    s.emplace_claimed();
  } else {
    s.emplace_claimed(std::move(*o.value));
  }
  return true;
}

/// Completes `to` (RUNNING) with the outcome of the done future `from`, which nobody else
/// reads (so its value may be moved out): the value, the exception, or the cancellation.
template <class R>
void forward_outcome(FutureState<R>& from, FutureState<R>& to) noexcept {
  if (from.cancelled()) {
    to.cancel_from_running();
    return;
  }
  try {
    to.begin_set();
  } catch (...) {  // completed by hand meanwhile
    return;
  }
  if (from.has_exception()) {
    to.store_exception(from.stored_exception());
    to.end_set(true);
  } else if constexpr (std::is_void_v<R>) {
    to.emplace_claimed();
  } else {
    to.emplace_claimed(std::move(from.value()));  // a throwing move becomes the outcome
  }
}

struct AdoptRef {};

template <class T>
struct ResultType {
  using type = std::conditional_t<std::is_copy_constructible_v<T>, T, const T&>;
};
template <>
struct ResultType<void> {
  using type = void;
};

}  // namespace detail

template <class T>
class Future {
 public:
  using value_type = T;
  /// What result() returns: a copy for copyable T, a const reference for move-only T.
  using result_type = typename detail::ResultType<T>::type;

  Future() : s_(new detail::FutureState<T>) {}
  Future(detail::FutureState<T>* s, detail::AdoptRef) noexcept : s_(s) {}
  Future(const Future& o) noexcept : s_(o.s_) {
    if (s_) s_->add_ref();
  }
  Future(Future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Future& operator=(Future o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Future() {
    if (s_) s_->release();
  }

  bool cancel() { return s_->cancel(); }
  bool cancelled() const noexcept { return s_->cancelled(); }
  bool running() const noexcept { return s_->running(); }
  bool done() const noexcept { return s_->done(); }

  result_type result() {
    s_->wait_done_helping(detail::Deadline::never());
    return get();
  }
  result_type result(duration timeout) {
    if (!s_->wait_done_helping(detail::clamped_deadline(timeout))) throw TimeoutError();
    return get();
  }
  std::exception_ptr exception() {
    s_->wait_done_helping(detail::Deadline::never());
    return get_exception();
  }
  std::exception_ptr exception(duration timeout) {
    if (!s_->wait_done_helping(detail::clamped_deadline(timeout))) throw TimeoutError();
    return get_exception();
  }

  void add_done_callback(std::function<void(Future<T>)> fn) {
    s_->add_callback([fn = std::move(fn)](detail::FutureCore& c) {
      fn(Future(static_cast<detail::FutureState<T>*>(&c)));
    });
  }

  /// A Future of fn(result()) (fn() when T is void).
  template <class F>
  auto then(F fn) {
    using U = std::decay_t<decltype(call_with_result(fn, std::declval<Future&>()))>;
    Future<U> next;
    s_->add_callback([next, fn = std::move(fn)](detail::FutureCore& c) mutable {
      Future self(static_cast<detail::FutureState<T>*>(&c));
      if (!next.set_running_or_notify_cancel()) return;
      try {
        if constexpr (std::is_void_v<U>) {
          call_with_result(fn, self);
          next.set_result();
        } else {
          next.set_result(call_with_result(fn, self));
        }
      } catch (...) {
        next.set_exception(std::current_exception());
      }
    });
    return next;
  }

  /// A Future of fn(result()) (fn() when T is void) run on a worker of `ex` — submitted there
  /// with ex.submit(fn, value) once this future is done, never called inline (not even when
  /// this future is already done). A failure (exception or cancellation, as CancelledError)
  /// passes on to the returned future without calling fn. `ex` must outlive this future's
  /// completion; if it refuses the task (shut down), the returned future gets that error.
  /// Cancelling the returned future before fn is submitted prevents the call.
  template <class Ex, class F>
  auto then(Ex& ex, F fn) {
    using Inner = decltype(submit_continuation(ex, fn, std::declval<Future&>()));
    using U = typename Inner::value_type;
    Future<U> next;
    s_->add_callback([next, fn = std::move(fn), ex = &ex](detail::FutureCore& c) mutable {
      Future self(static_cast<detail::FutureState<T>*>(&c));
      try {
        if (!next.set_running_or_notify_cancel()) return;
      } catch (...) {  // completed by hand
        return;
      }
      try {
        Future<U> inner = submit_continuation(*ex, fn, self);
        inner.state()->add_callback([next](detail::FutureCore& ic) mutable {
          detail::forward_outcome(static_cast<detail::FutureState<U>&>(ic), *next.state());
        });
      } catch (...) {  // this future's failure, or the executor's refusal
        detail::Outcome<U> o;
        o.error = std::current_exception();
        detail::publish(*next.state(), std::move(o));
      }
    });
    return next;
  }

  bool set_running_or_notify_cancel() { return s_->set_running_or_notify_cancel(); }
  void set_result()
    requires std::is_void_v<T>
  {
    s_->set_value();
  }
  template <class U = T>
    requires(!std::is_void_v<T> && std::is_constructible_v<T, U &&>)
  void set_result(U&& value) {
    s_->set_value(std::forward<U>(value));
  }
  void set_exception(std::exception_ptr e) {
    if (!e) throw ValueError("set_exception needs an exception");
    s_->begin_set();
    s_->store_exception(std::move(e));
    s_->end_set(true);
  }

  // Awaitable: `co_await future`.
  bool await_ready() const noexcept { return done(); }
  bool await_suspend(std::coroutine_handle<> h) {
    return s_->try_add_callback([h](detail::FutureCore&) { h.resume(); }) != 0;
  }
  result_type await_resume() { return result(); }

  friend bool operator==(const Future& a, const Future& b) noexcept { return a.s_ == b.s_; }
  /// The shared state: for executors and wait()/as_completed().
  detail::FutureState<T>* state() const noexcept { return s_; }

 private:
  explicit Future(detail::FutureState<T>* s) noexcept : s_(s) { s_->add_ref(); }
  template <class>
  friend class Future;

  template <class F>
  static decltype(auto) call_with_result(F& fn, Future& self) {
    if constexpr (std::is_void_v<T>) {
      self.get();
      return fn();
    } else if constexpr (std::is_copy_constructible_v<T>) {
      return fn(self.get());
    } else {
      return fn(self.get());
    }
  }

  template <class Ex, class F>
  static auto submit_continuation(Ex& ex, F& fn, Future& self) {
    if constexpr (std::is_void_v<T>) {
      self.get();
      return ex.submit(fn);
    } else {
      return ex.submit(fn, self.get());
    }
  }

  result_type get() {
    std::uint32_t s = s_->load();
    if ((s & detail::FutureCore::kPhaseMask) == detail::FutureCore::kCancelled)
      throw CancelledError();
    if (s & detail::FutureCore::kHasExc) std::rethrow_exception(s_->stored_exception());
    if constexpr (!std::is_void_v<T>) return s_->value();
  }
  std::exception_ptr get_exception() {
    if (s_->cancelled()) throw CancelledError();
    return s_->has_exception() ? s_->stored_exception() : nullptr;
  }

  detail::FutureState<T>* s_;
};

}  // namespace tandem

template <class T>
struct std::hash<tandem::Future<T>> {
  std::size_t operator()(const tandem::Future<T>& f) const noexcept {
    return std::hash<const void*>()(f.state());
  }
};
