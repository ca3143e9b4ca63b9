// SPDX-License-Identifier: MIT
// tandem::Thread — threading.Thread (docs/threading.md#thread), the excepthook, and
// current_thread_name() / sleep().
//
// Guarantees
//  * start() runs run() in a new OS thread and returns only once that thread is running:
//    is_alive() is true (until run() ends), ident() and native_id() are set. A second start()
//    throws RuntimeError("threads can only be started once"), also after the thread ended.
//  * join() may be called by any number of threads at once, any number of times. It returns
//    once run() has returned, the excepthook (if any) has run, and the OS thread has exited
//    (so its thread_local destructors have run); the OS thread is reaped exactly once.
//    join(timeout) returns true when run() has finished (a negative timeout counts as 0).
//  * The OS thread name (pthread_setname_np, 15 bytes on Linux, cut on a UTF-8 boundary) is
//    set from name() at start, and again by set_name() when the thread renames itself — as
//    Python 3.14 does.
//  * An exception escaping run() is kept (exception()) and handed to the excepthook in the
//    thread itself, before is_alive() turns false. It never reaches the joiner.
//  * Cooperative stop, as std::jthread: request_stop() / stop_token(); a target taking a
//    std::stop_token receives it. The destructor of a running non-daemon thread calls
//    request_stop() then join(); a daemon thread is detached instead.
// Memory ordering: everything the caller did before start() happens-before run() begins;
//  everything run() (and the excepthook) did happens-before join() returning, join(timeout)
//  returning true, and is_alive() / exception() observing the end of the thread.
// Cost: start() is one pthread_create plus one futex round trip (the start handshake);
//  join() on a finished thread is one atomic load and, once, a pthread_join. All waiting is
//  futex(2) on 32-bit words of a shared state block (<tandem/detail/wait.hpp>).
// Lifetime: the target, the name, the stop source and the exception live in a state block
//  owned jointly by the Thread object and by the OS thread (a shared_ptr), so a detached
//  daemon thread built from a target keeps running safely after its Thread is destroyed.
//  HAZARD for subclasses: an overridden run() uses the object itself, and C++ destroys the
//  subclass's members before ~Thread() gets to stop/join. A subclass whose thread may still
//  be running must call request_stop() and join() in its own destructor (and should not be
//  a daemon that outlives its object).
// Differences from Python:
//  * ThreadOptions.daemon defaults to false instead of inheriting the creating thread's flag.
//  * The default name is "Thread-N" even with a target (C++ lambdas have no __name__); N
//    comes from one global counter shared with the "Dummy-N" names, as in Python.
//  * join() returns void, join(timeout) returns whether the thread finished (Python returns
//    None and asks you to call is_alive()).
//  * There is no interpreter shutdown: non-daemon threads are joined by ~Thread(), not at
//    exit. A daemon thread is killed when main() returns, like Python's.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "tandem/contextvars.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"

namespace tandem {

struct ThreadOptions {
  std::string name{};  // empty: "Thread-N"
  bool daemon = false;
  /// Python 3.14's Thread(context=...): run() runs inside this Context (its sets land
  /// there). nullopt: the thread starts in an empty context, as Python's default
  /// (sys.flags.thread_inherit_context off). Pass tandem::copy_context() to inherit.
  std::optional<Context> context{};
};

class Thread;

/// What the excepthook receives (Python's threading.ExceptHookArgs: exc_type, exc_value,
/// thread; exc_traceback has no C++ counterpart — a std::exception_ptr carries no stack).
struct ExceptHookArgs {
  std::exception_ptr exc_value;  // never null
  std::string exc_type;          // demangled type name, e.g. "std::runtime_error"
  Thread* thread;                // nullptr when a detached daemon's Thread no longer exists
  std::string name;              // the thread's name, always present
};

using ExceptHook = std::function<void(const ExceptHookArgs&)>;

/// Installs `hook` as threading.excepthook and returns the previous one. An empty function
/// restores the default. Thread-safe; a hook already running keeps running.
ExceptHook set_excepthook(ExceptHook hook);
/// threading.__excepthook__: prints "Exception in thread NAME:\nTYPE: what()\n" to stderr.
void default_excepthook(const ExceptHookArgs& args);

/// threading.current_thread().name: the Thread's name inside a tandem thread, the worker's
/// name inside a ThreadPoolExecutor worker ("<thread_name_prefix>_N", as Python's), "MainThread"
/// on the process's main thread, "Dummy-N" on any other thread (fixed per thread).
std::string current_thread_name();

/// time.sleep: sleeps for `d` on the steady clock (through the futex waiting layer).
/// Negative: ValueError("sleep length must be non-negative").
void sleep(duration d);
/// Sleeps for `d` unless a stop is requested on `token` first. Returns true when it slept
/// the whole time, false when woken early by the stop request (or one was already made).
bool sleep(duration d, std::stop_token token);

namespace detail {

struct ThreadState;  // defined in src/threading/thread.cpp

/// Sleeps until `word` is non-zero (returns false), a stop is requested on `token` (sets
/// `word` to 1, returns false) or `deadline` passes with `word` still 0 (returns true).
/// The waker stores a non-zero value and calls futex_wake_all(word).
bool wait_while_zero(std::atomic<std::uint32_t>& word, Deadline deadline,
                     const std::stop_token& token);

/// A type-erased target: move-only (std::function would demand a copyable callable).
struct TargetBase {
  virtual ~TargetBase() = default;
  virtual void call(std::stop_token token) = 0;
};

template <class F>
struct Target final : TargetBase {
  explicit Target(F f) : fn(std::move(f)) {}
  void call(std::stop_token token) override {
    if constexpr (std::is_invocable_v<F&, std::stop_token>)
      std::invoke(fn, std::move(token));
    else
      std::invoke(fn);
  }
  F fn;
};

}  // namespace detail

class Thread {
 public:
  /// For subclasses that override run(). Name "Thread-N", not a daemon.
  Thread();
  explicit Thread(ThreadOptions options);
  /// threading.Thread(target=f): `target` is called as target() or target(stop_token).
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, ThreadOptions> &&
             (std::is_invocable_v<std::decay_t<F>&> ||
              std::is_invocable_v<std::decay_t<F>&, std::stop_token>))
  explicit Thread(F target, ThreadOptions options = {})
      : Thread(std::make_unique<detail::Target<std::decay_t<F>>>(std::move(target)),
               std::move(options)) {}

  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  /// Running non-daemon: request_stop() + join(). Running daemon: detached (see HAZARD above).
  virtual ~Thread();

  void start();
  void join();
  bool join(duration timeout);
  bool is_alive() const noexcept;

  std::string name() const;
  void set_name(std::string name);
  bool daemon() const noexcept;
  void set_daemon(bool daemon);

  std::optional<std::thread::id> ident() const noexcept;
  std::optional<long> native_id() const noexcept;

  void request_stop() noexcept;
  std::stop_token stop_token() const noexcept;

  /// What escaped run(), once the thread has finished; null otherwise.
  std::exception_ptr exception() const noexcept;

 protected:
  /// Calls the target (if any). Subclasses override it.
  virtual void run();

 private:
  Thread(std::unique_ptr<detail::TargetBase> target, ThreadOptions options);
  void join_until(detail::Deadline deadline, bool* finished);
  // For Timer's destructor: once started, waits until the thread has entered Thread::run()
  // (an overriding run() counts only once it has returned), so that destroying the subclass
  // part cannot race with the virtual call of run().
  void await_run_entered() const noexcept;
  friend struct detail::ThreadState;
  friend class Timer;

  std::shared_ptr<detail::ThreadState> state_;
};

}  // namespace tandem
