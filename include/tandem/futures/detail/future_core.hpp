// SPDX-License-Identifier: MIT
// <tandem/futures/detail/future_core.hpp> — the type-independent shared state behind Future<T>.
//
// The whole state machine lives in one 32-bit futex word (`state_`), so that a waiter sleeps
// on the word itself through the waiting layer and a completer pays one atomic RMW and no
// system call when nobody sleeps and no callback is registered:
//
//   phase (bits 0-2):  PENDING --set_running_or_notify_cancel--> RUNNING
//                      PENDING --cancel()--> CANCELLED
//                      PENDING|RUNNING --set_*: claim--> SETTING --publish--> FINISHED
//   kHasExc    the FINISHED future holds an exception
//   kSleepers  some thread sleeps in futex_wait on the word: the completer must wake it
//   kCallbacks the callback list is not empty: the completer must run it
//
// SETTING exists so that two set_* calls cannot both write the value: the claim is a CAS,
// the loser gets InvalidStateError, and readers never see a half-built value (done() is
// false until the publishing RMW, a release, which result()'s acquire load pairs with).
//
// Callbacks (and the waiters of wait()/as_completed(), which are callbacks too) are kept in
// a vector guarded by a FutexMutex, both in a CallbackList allocated by the first
// registration (so a state without callbacks is 32 bytes of core: the vtable pointer, the
// word, the reference count, the exception and that list's pointer). Only the slow path
// touches them: registering a callback,
// or completing a future whose kCallbacks bit is set. Registration sets kCallbacks with a
// CAS that fails once the future is done, and the completer takes the mutex after seeing the
// bit, so every callback runs exactly once: either by the completer or, when the future is
// already done, at once by the thread registering it.
//
// Lifetime: intrusive reference count. An executor allocates its task and the future state
// as one object (a subclass overriding run_task()), so a future costs one allocation.
//
// The producer of a future need not be in the same process as the code that runs the tasks:
// a process-pool's reader thread completes futures with set_result/set_exception exactly as
// a thread-pool worker does; only this word and the callbacks are involved.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <utility>
#include <vector>

#include "tandem/log.hpp"
#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"
#include "tandem/futures/detail/block_pool.hpp"

namespace tandem::detail {

class FutureCore;

/// Installed (thread_local) by an executor's worker threads: lets Future::result() called
/// inside a task run other queued tasks while it waits, so that a task waiting on a task it
/// submitted cannot deadlock the pool. Returns whether the future is done.
struct WaitHelper {
  virtual bool help_until(FutureCore& f, Deadline deadline) = 0;

 protected:
  ~WaitHelper() = default;
};
inline thread_local WaitHelper* t_wait_helper = nullptr;

/// What an executor's worker wants to hear from a running task (see run_task).
struct TaskHooks {
  virtual void finishing() noexcept = 0;

 protected:
  ~TaskHooks() = default;
};

/// Python logs "exception calling callback for <Future ...>" and carries on; so do we.
// Cold and out of the completion path: a callback that throws is a bug being reported.
[[gnu::cold, gnu::noinline]] inline void report_callback_exception(const void* future,
                                                                  std::exception_ptr e) noexcept {
  const char* what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  char text[64];
  std::snprintf(text, sizeof text, "exception calling callback for <Future at %p>: ", future);
  try {
    tandem::log(LogLevel::error, "futures", std::string(text) + what);
  } catch (...) {  // std::string's allocation
    tandem::log(LogLevel::error, "futures", text);
  }
}

class FutureCore {
 public:
  enum : std::uint32_t {
    kPending = 0,
    kRunning = 1,
    kSetting = 2,
    kFinished = 3,
    kCancelled = 4,
    kPhaseMask = 7,
    kHasExc = 8,
    kSleepers = 16,
    kCallbacks = 32,
  };
  using Callback = std::function<void(FutureCore&)>;

  FutureCore() noexcept = default;
  // Every state (with its task: one object) lives in the block pool (block_pool.hpp): a wave
  // of a million futures costs neither malloc's slow path nor a page fault per 4 KiB again.
  static void* operator new(std::size_t bytes) { return block_alloc(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept { block_free(p, bytes); }
  // A value or task aligned beyond the pool's 16 bytes (alignas(32) and up) bypasses it.
  static void* operator new(std::size_t bytes, std::align_val_t al) {
    return ::operator new(bytes, al);
  }
  static void operator delete(void* p, std::size_t, std::align_val_t al) noexcept {
    ::operator delete(p, al);  // the unsized form: clang has sized deallocation off by default
  }
  FutureCore(const FutureCore&) = delete;
  FutureCore& operator=(const FutureCore&) = delete;
  virtual ~FutureCore() { delete cbs_.load(std::memory_order_relaxed); }

  /// Executor hook: run the task this state belongs to and complete it, calling
  /// hooks->finishing() (when not null) after the user function returns and before the
  /// future completes — so whoever sees the result also sees the worker idle again.
  virtual void run_task(TaskHooks* /*hooks*/) noexcept {}

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  /// Starts the count at n instead of 1 (a fresh state about to be shared n ways).
  void init_refs(std::uint32_t n) noexcept { refs_.store(n, std::memory_order_relaxed); }

  static bool is_done(std::uint32_t s) noexcept {
    std::uint32_t p = s & kPhaseMask;
    return p == kFinished || p == kCancelled;
  }
  std::uint32_t load() const noexcept { return state_.load(std::memory_order_acquire); }
  bool done() const noexcept { return is_done(load()); }
  bool cancelled() const noexcept { return (load() & kPhaseMask) == kCancelled; }
  bool running() const noexcept {
    std::uint32_t p = load() & kPhaseMask;
    return p == kRunning || p == kSetting;
  }
  bool has_exception() const noexcept {
    std::uint32_t s = load();
    return (s & kPhaseMask) == kFinished && (s & kHasExc);
  }

  /// Python's cancel(): only a PENDING future can be cancelled; cancelling twice is true.
  bool cancel() {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      std::uint32_t p = s & kPhaseMask;
      if (p == kCancelled) return true;
      if (p == kRunning) return cancel_running();
      if (p != kPending) return false;
      if (state_.compare_exchange_weak(s, (s & ~kPhaseMask) | kCancelled,
                                       std::memory_order_acq_rel, std::memory_order_relaxed)) {
        after_done(s);
        return true;
      }
    }
  }

  /// Executor hook: cancel() of a RUNNING future. The default keeps Python's rule (false: a
  /// running task cannot be cancelled). An executor that can stop a running task (the process
  /// pool kills its worker) overrides it and calls cancel_from_running().
  virtual bool cancel_running() { return false; }
  /// RUNNING → CANCELLED (waking waiters, running callbacks); false when this call did not
  /// make that transition (the future was not RUNNING).
  bool cancel_from_running() {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if ((s & kPhaseMask) != kRunning) return false;
      if (state_.compare_exchange_weak(s, (s & ~kPhaseMask) | kCancelled,
                                       std::memory_order_acq_rel, std::memory_order_relaxed)) {
        after_done(s);
        return true;
      }
    }
  }

  bool set_running_or_notify_cancel() {
    std::uint32_t s = kPending;
    if (state_.compare_exchange_strong(s, kRunning, std::memory_order_acquire,
                                       std::memory_order_relaxed))
      return true;
    for (;;) {
      std::uint32_t p = s & kPhaseMask;
      if (p == kCancelled) return false;
      if (p != kPending) throw RuntimeError("Future in unexpected state");
      if (state_.compare_exchange_weak(s, (s & ~kPhaseMask) | kRunning,
                                       std::memory_order_acquire, std::memory_order_relaxed))
        return true;
    }
  }

  /// Claims the right to store the outcome (PENDING/RUNNING → SETTING).
  void begin_set() {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      std::uint32_t p = s & kPhaseMask;
      if (p != kPending && p != kRunning) throw_invalid_state(p);
      if (state_.compare_exchange_weak(s, (s & ~kPhaseMask) | kSetting,
                                       std::memory_order_acquire, std::memory_order_relaxed))
        return;
    }
  }
  /// Publishes the outcome stored since begin_set() (SETTING → FINISHED, flags kept).
  void end_set(bool exception) noexcept {
    std::uint32_t add = std::uint32_t{kFinished - kSetting} + (exception ? std::uint32_t{kHasExc} : 0u);
    std::uint32_t old = state_.fetch_add(add, std::memory_order_acq_rel);
    if (old & (kSleepers | kCallbacks)) after_done(old);
  }
  void store_exception(std::exception_ptr e) noexcept { exc_ = std::move(e); }
  const std::exception_ptr& stored_exception() const noexcept { return exc_; }

  /// Sleeps until done or the deadline passes; returns done(). Never spins unboundedly.
  bool wait_done(Deadline deadline) noexcept {
    std::uint32_t s = load();
    if (is_done(s)) return true;
    if (spin_briefly([&] { return done(); })) return true;
    s = load();
    for (;;) {
      if (is_done(s)) return true;
      if (!(s & kSleepers)) {
        if (!state_.compare_exchange_weak(s, s | kSleepers, std::memory_order_acquire,
                                          std::memory_order_acquire))
          continue;
        s |= kSleepers;
      }
      if (!futex_wait(state_, s, deadline) && deadline.expired()) return done();
      s = load();
    }
  }
  /// As wait_done, but lets an executor worker run queued work meanwhile.
  bool wait_done_helping(Deadline deadline) {
    if (done()) return true;
    if (WaitHelper* h = t_wait_helper) return h->help_until(*this, deadline);
    return wait_done(deadline);
  }

  /// Registers `fn` unless the future is already done. Returns an id for remove_callback,
  /// or 0 when the future was done (fn was not stored and the caller should run it).
  std::uint64_t try_add_callback(Callback&& fn) {
    if (is_done(state_.load(std::memory_order_acquire))) return 0;  // no list for nothing
    CallbackList& l = callback_list();
    l.mu.lock();
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (is_done(s)) {
        l.mu.unlock();
        return 0;
      }
      if ((s & kCallbacks) ||
          state_.compare_exchange_weak(s, s | kCallbacks, std::memory_order_acq_rel,
                                       std::memory_order_relaxed))
        break;
    }
    std::uint64_t id = l.next_id++;
    try {
      l.entries.push_back(Entry{id, std::move(fn)});
    } catch (...) {
      l.mu.unlock();
      throw;
    }
    l.mu.unlock();
    return id;
  }
  /// Runs `fn` when the future is done: at once, in this thread, if it already is.
  void add_callback(Callback fn) {
    if (try_add_callback(std::move(fn)) == 0) invoke(fn);
  }
  /// Forgets a callback that has not run yet; false when it already ran (or is running).
  bool remove_callback(std::uint64_t id) noexcept {
    CallbackList* l = cbs_.load(std::memory_order_acquire);
    if (!l) return false;
    l->mu.lock();
    bool found = false;
    for (auto it = l->entries.begin(); it != l->entries.end(); ++it) {
      if (it->id == id) {
        l->entries.erase(it);
        found = true;
        break;
      }
    }
    l->mu.unlock();
    return found;
  }

  [[noreturn]] void throw_invalid_state(std::uint32_t phase) const;

 private:
  struct Entry {
    std::uint64_t id;
    Callback fn;
  };
  // Out of line, made by the first registration: most futures never get a callback, and
  // every byte of a state is paid for a million times over by a wave of submits (fresh
  // memory costs a page fault per 4 KiB: block_pool.hpp).
  struct CallbackList {
    FutexMutex mu;
    std::uint64_t next_id = 1;
    std::vector<Entry> entries;
  };
  CallbackList& callback_list() {
    CallbackList* l = cbs_.load(std::memory_order_acquire);
    if (l) return *l;
    auto* mine = new CallbackList;
    if (cbs_.compare_exchange_strong(l, mine, std::memory_order_acq_rel,
                                     std::memory_order_acquire))
      return *mine;
    delete mine;  // another registration made it first
    return *l;
  }

  void invoke(Callback& fn) noexcept {
    try {
      fn(*this);
    } catch (...) {
      report_callback_exception(this, std::current_exception());
    }
  }

  void after_done(std::uint32_t old) noexcept {
    if (old & kSleepers) futex_wake_all(state_);
    if (old & kCallbacks) {
      // Keep the state alive while callbacks run: one may drop the last other handle.
      add_ref();
      CallbackList& l = *cbs_.load(std::memory_order_acquire);  // made before kCallbacks was set
      l.mu.lock();
      std::vector<Entry> cbs = std::move(l.entries);
      l.entries.clear();
      l.mu.unlock();
      for (Entry& e : cbs) invoke(e.fn);
      release();
    }
  }

  std::atomic<std::uint32_t> state_{kPending};
  std::atomic<std::uint32_t> refs_{1};
  std::exception_ptr exc_;
  std::atomic<CallbackList*> cbs_{nullptr};
};

inline void FutureCore::throw_invalid_state(std::uint32_t phase) const {
  char buf[96];
  const char* name = phase == kCancelled ? "CANCELLED" : "FINISHED";
  const char* st = phase == kCancelled ? "cancelled" : phase == kFinished ? "finished" : "running";
  std::snprintf(buf, sizeof buf, "%s: <Future at %p state=%s>", name,
                static_cast<const void*>(this), st);
  throw InvalidStateError(buf);
}

}  // namespace tandem::detail
