// SPDX-License-Identifier: MIT
// tandem::Thread — compiled part (see <tandem/threading/thread.hpp>).
//
// State machine of one thread, in the 32-bit futex word `phase` (low byte; bit 8 says that
// somebody sleeps on the word, so the common transitions cost no futex_wake system call):
//
//   kNew --start()--> kStarting --OS thread--> kRunning --run() + hook done--> kFinished
//        --first joiner's pthread_join--> kJoined
//
// Only start() leaves kNew (a CAS, so a second start() fails), only the OS thread moves to
// kRunning and kFinished, and only the joiner that wins `reaper` moves to kJoined. Each
// store is a release and each check an acquire, which gives the happens-before edges the
// header promises.
#include "detail/thread_names.hpp"
#include "tandem/log.hpp"
#include "tandem/threading/thread.hpp"

#include <cxxabi.h>
#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <typeinfo>

#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/timeout.hpp"
#include "detail/exception_text.hpp"
#include "threading/thread_registry.hpp"

namespace tandem {
namespace detail {
namespace {

constexpr std::uint32_t kNew = 0, kStarting = 1, kRunning = 2, kFinished = 3, kJoined = 4;
constexpr std::uint32_t kValueMask = 0xff;
constexpr std::uint32_t kSleepers = 0x100;

/// Waits until the value part of `w` is >= target, or the deadline passes.
bool await_at_least(std::atomic<std::uint32_t>& w, std::uint32_t target, Deadline deadline) {
  for (;;) {
    std::uint32_t v = w.load(std::memory_order_acquire);
    if ((v & kValueMask) >= target) return true;
    if (!(v & kSleepers)) {
      if (!w.compare_exchange_weak(v, v | kSleepers, std::memory_order_acquire,
                                   std::memory_order_acquire))
        continue;
      v |= kSleepers;
    }
    if (!futex_wait(w, v, deadline) && deadline.expired())
      return (w.load(std::memory_order_acquire) & kValueMask) >= target;
  }
}

/// Stores `value` (release) and wakes whoever announced they sleep on `w`.
void publish(std::atomic<std::uint32_t>& w, std::uint32_t value) {
  if (w.exchange(value, std::memory_order_acq_rel) & kSleepers) futex_wake_all(w);
}

std::atomic<unsigned long> g_counter{0};  // threading._counter: Thread-N and Dummy-N

std::string new_name(const char* prefix) {
  return prefix + std::to_string(g_counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

// The excepthook. A FutexMutex, not std::mutex: tandem blocks only through wait.hpp.
FutexMutex g_hook_mu;
ExceptHook g_hook;  // empty: default_excepthook

thread_local ThreadState* t_current = nullptr;

/// Linux limits thread names to 15 bytes; cut there, but never inside a UTF-8 sequence.
void set_os_thread_name(const std::string& name) {
  std::size_t n = name.size();
  if (n > 15) {
    n = 15;
    while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  }
  ::pthread_setname_np(::pthread_self(), name.substr(0, n).c_str());
}

void write_stderr(const std::string& text) {
  // Through the log handler, without the final newline (<tandem/log.hpp>).
  std::string_view t(text);
  if (!t.empty() && t.back() == '\n') t.remove_suffix(1);
  tandem::log(LogLevel::error, "threading", t);
}

}  // namespace

struct ThreadState {
  // Futex words (see the state machine above).
  std::atomic<std::uint32_t> phase{kNew};
  std::atomic<std::uint32_t> dispatched{0};  // 1: the OS thread no longer reads *owner
  std::atomic<std::uint32_t> owner_pin{0};   // 0 owner alive, 1 hook uses it, 2 owner gone
  std::atomic<std::uint32_t> reaper{0};      // whoever swaps 0→1 joins or detaches `os`
  std::atomic<std::uint32_t> started{0};     // 1: start() has stored `os` (+ kSleepers)

  Thread* const owner;
  const bool has_target;
  std::unique_ptr<TargetBase> target;
  mutable FutexMutex name_mu;
  std::string name;  // guarded by name_mu
  std::atomic<bool> daemon;
  std::stop_source stop;
  pthread_t os{};            // written by start(), read by the reaper after `started`
  std::thread::id ident;     // written by the OS thread before kRunning
  long native_id = 0;        // same
  std::exception_ptr error;  // written by the OS thread before kFinished
  std::optional<Context> context;  // ThreadOptions::context, entered around run()
  LiveThread live;                 // in enumerate() while kRunning

  ThreadState(Thread* o, std::unique_ptr<TargetBase> t, ThreadOptions opts)
      : owner(o),
        has_target(t != nullptr),
        target(std::move(t)),
        name(opts.name.empty() ? new_name("Thread-") : std::move(opts.name)),
        daemon(opts.daemon),
        context(std::move(opts.context)) {
    live.name = [this] { return get_name(); };
  }

  std::string get_name() const {
    name_mu.lock();
    std::string n = name;
    name_mu.unlock();
    return n;
  }

  void mark_dispatched() { publish(dispatched, 1); }

  void report(const std::exception_ptr& e);
  static void main(std::shared_ptr<ThreadState> self);
  static void* entry(void* self);  // pthread start routine; adopts a shared_ptr<ThreadState>*
  void finish() {
    mark_dispatched();
    unregister_thread(&live);
    t_current = nullptr;
  }
};

void* ThreadState::entry(void* self) {
  std::unique_ptr<std::shared_ptr<ThreadState>> owned(static_cast<std::shared_ptr<ThreadState>*>(self));
  main(std::move(*owned));
  return nullptr;
}

void ThreadState::report(const std::exception_ptr& e) {
  ExceptHookArgs args{e, {}, nullptr, get_name()};
  std::string what;
  describe(e, &args.exc_type, &what);
  // Pin the owner so that a daemon's ~Thread cannot free it while the hook looks at it.
  std::uint32_t alive = 0;
  bool pinned = owner_pin.compare_exchange_strong(alive, 1, std::memory_order_acquire);
  if (pinned) args.thread = owner;
  g_hook_mu.lock();
  ExceptHook hook = g_hook;
  g_hook_mu.unlock();
  try {
    if (hook)
      hook(args);
    else
      default_excepthook(args);
  } catch (...) {
    std::string type, msg;
    describe(std::current_exception(), &type, &msg);
    write_stderr("Exception in threading.excepthook:\n" + type + (msg.empty() ? "" : ": " + msg) +
                 "\n");
  }
  if (pinned) publish(owner_pin, 0);
}

void ThreadState::main(std::shared_ptr<ThreadState> self) {
  ThreadState& st = *self;
  t_current = &st;
  st.ident = std::this_thread::get_id();
  st.native_id = static_cast<long>(::gettid());
  set_os_thread_name(st.get_name());
  st.live.ident = st.ident;
  st.live.native_id = st.native_id;
  st.live.daemon = st.daemon.load(std::memory_order_relaxed);
  try {
    register_thread(&st.live);
  } catch (...) {
    // Out of memory for the list: the thread still runs, unlisted (unregister is a no-op).
  }
  publish(st.phase, kRunning);
  // From here the creator may return from start(); `owner` is valid because ~Thread waits
  // for `dispatched` (daemon with a target) or for kFinished (non-daemon) — see ~Thread.
  try {
    if (st.context)
      std::move(*st.context).run([&st] { st.owner->run(); });
    else
      st.owner->run();
  } catch (abi::__forced_unwind&) {
    // pthread_exit/cancel unwinds through here: it must go on, but the thread has ended.
    st.finish();
    publish(st.phase, kFinished);
    throw;
  } catch (...) {
    st.error = std::current_exception();
  }
  st.mark_dispatched();
  if (st.error) st.report(st.error);
  st.finish();
  publish(st.phase, kFinished);
}

bool wait_while_zero(std::atomic<std::uint32_t>& word, Deadline deadline,
                     const std::stop_token& token) {
  if (word.load(std::memory_order_acquire) != 0) return false;
  std::stop_callback on_stop(token, [&word] {
    word.store(1, std::memory_order_release);
    futex_wake_all(word);
  });
  // ~stop_callback waits for a callback running in another thread, so `word` outlives it.
  while (word.load(std::memory_order_acquire) == 0) {
    if (!futex_wait(word, 0, deadline) && deadline.expired())
      return word.load(std::memory_order_acquire) == 0;
  }
  return false;
}

}  // namespace detail

using detail::kFinished;
using detail::kJoined;
using detail::kNew;
using detail::kRunning;
using detail::kStarting;
using detail::kValueMask;

// ---- module functions ----------------------------------------------------------------------

ExceptHook set_excepthook(ExceptHook hook) {
  detail::g_hook_mu.lock();
  ExceptHook old = std::exchange(detail::g_hook, std::move(hook));
  detail::g_hook_mu.unlock();
  if (!old) old = default_excepthook;
  return old;
}

void default_excepthook(const ExceptHookArgs& args) {
  std::string type = args.exc_type, what;
  detail::describe(args.exc_value, &type, &what);
  detail::write_stderr("Exception in thread " + args.name + ":\n" + type +
                       (what.empty() ? "" : ": " + what) + "\n");
}

namespace detail {
namespace {
thread_local std::string t_pool_name;  // a pool thread's Python name (name_this_thread)
}  // namespace

void name_this_thread(const std::string& python_name, const std::string& os_name) {
  t_pool_name = python_name;
  set_os_thread_name(os_name);
  // Listed by enumerate() from now until the thread exits (enumerate reads the name from
  // another thread, hence the copy under a lock rather than t_pool_name itself).
  struct Listed {
    Listed() {
      live.name = [this] {
        mu.lock();
        std::string n = name;
        mu.unlock();
        return n;
      };
      live.ident = std::this_thread::get_id();
      live.native_id = static_cast<long>(::gettid());
      register_thread(&live);
    }
    ~Listed() { unregister_thread(&live); }
    FutexMutex mu;
    std::string name;
    LiveThread live;
  };
  thread_local Listed listed;
  std::string copy = python_name;
  listed.mu.lock();
  listed.name.swap(copy);
  listed.mu.unlock();
}
}  // namespace detail

std::string current_thread_name() {
  if (detail::t_current) return detail::t_current->get_name();
  if (!detail::t_pool_name.empty()) return detail::t_pool_name;
  if (::gettid() == ::getpid()) return "MainThread";
  thread_local std::string dummy = detail::new_name("Dummy-");
  return dummy;
}

void sleep(duration d) {
  if (!(d.count() >= 0)) throw ValueError("sleep length must be non-negative");
  auto deadline = detail::Deadline::after(d);
  std::atomic<std::uint32_t> never_set{0};
  while (!deadline.expired()) detail::futex_wait(never_set, 0, deadline);
}

bool sleep(duration d, std::stop_token token) {
  if (!(d.count() >= 0)) throw ValueError("sleep length must be non-negative");
  if (token.stop_requested()) return false;
  std::atomic<std::uint32_t> woken{0};
  return detail::wait_while_zero(woken, detail::Deadline::after(d), token);
}

// ---- Thread ----------------------------------------------------------------------------------

Thread::Thread() : Thread(std::unique_ptr<detail::TargetBase>{}, ThreadOptions{}) {}

Thread::Thread(ThreadOptions options)
    : Thread(std::unique_ptr<detail::TargetBase>{}, std::move(options)) {}

Thread::Thread(std::unique_ptr<detail::TargetBase> target, ThreadOptions options)
    : state_(std::make_shared<detail::ThreadState>(this, std::move(target), std::move(options))) {}

Thread::~Thread() {
  detail::ThreadState& st = *state_;
  auto detach = [&st] {
    if (st.reaper.exchange(1, std::memory_order_acq_rel) == 0) ::pthread_detach(st.os);
  };
  if (detail::t_current == &st) {
    // Destroyed by its own thread: nobody may join it now. start() may not have stored
    // `os` yet (it is past waiting for kRunning, so it will at once).
    detail::await_at_least(st.started, 1, detail::Deadline::never());
    detach();
  } else if ((st.started.load(std::memory_order_acquire) & kValueMask)) {
    if (!st.daemon.load(std::memory_order_relaxed)) {
      st.stop.request_stop();
      bool finished = false;
      join_until(detail::Deadline::never(), &finished);
    } else {
      // A daemon: let it run on without us. A target thread stops reading *this as soon as
      // run() starts; an overridden run() keeps using the object (the documented hazard).
      if (st.has_target) detail::await_at_least(st.dispatched, 1, detail::Deadline::never());
      detach();
    }
  }
  // The excepthook must not see a Thread* that is gone: wait out a hook that holds it.
  for (;;) {
    std::uint32_t v = st.owner_pin.load(std::memory_order_acquire);
    if ((v & kValueMask) == 0) {
      if (st.owner_pin.compare_exchange_weak(v, 2, std::memory_order_acq_rel)) break;
      continue;
    }
    if (!(v & detail::kSleepers) &&
        !st.owner_pin.compare_exchange_weak(v, v | detail::kSleepers, std::memory_order_acquire))
      continue;
    detail::futex_wait(st.owner_pin, v | detail::kSleepers);
  }
}

void Thread::start() {
  detail::ThreadState& st = *state_;
  std::uint32_t expected = kNew;
  if (!st.phase.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel))
    throw RuntimeError("threads can only be started once");
  // pthread_create rather than std::thread, for threading.stack_size().
  int rc = EAGAIN;
  pthread_attr_t attr;
  if (::pthread_attr_init(&attr) == 0) {
    std::size_t size = detail::next_stack_size();
    auto* arg = new std::shared_ptr<detail::ThreadState>(state_);
    rc = size ? ::pthread_attr_setstacksize(&attr, size) : 0;
    if (rc == 0) rc = ::pthread_create(&st.os, &attr, &detail::ThreadState::entry, arg);
    if (rc != 0) delete arg;
    ::pthread_attr_destroy(&attr);
  }
  if (rc != 0) {
    detail::publish(st.phase, kNew);  // Python lets a failed start() be retried
    throw RuntimeError("can't start new thread");
  }
  detail::await_at_least(st.phase, kRunning, detail::Deadline::never());
  detail::publish(st.started, 1);
}

void Thread::join_until(detail::Deadline deadline, bool* finished) {
  detail::ThreadState& st = *state_;
  // Checked first: inside run() start() may not have published `started` yet.
  if (detail::t_current == &st) throw RuntimeError("cannot join current thread");
  if (!(st.started.load(std::memory_order_acquire) & kValueMask))
    throw RuntimeError("cannot join thread before it is started");
  *finished = detail::await_at_least(st.phase, kFinished, deadline);
  if (!*finished) return;
  // run() is over. One joiner reaps the OS thread (it is about to exit: only thread_local
  // destructors are left); the others wait for that, within their own deadline.
  if (st.reaper.exchange(1, std::memory_order_acq_rel) == 0) {
    ::pthread_join(st.os, nullptr);
    detail::publish(st.phase, kJoined);
  } else {
    detail::await_at_least(st.phase, kJoined, deadline);
  }
}

void Thread::join() {
  bool finished = false;
  join_until(detail::Deadline::never(), &finished);
}

bool Thread::join(duration timeout) {
  bool finished = false;
  join_until(detail::clamped_deadline(timeout), &finished);
  return finished;
}

bool Thread::is_alive() const noexcept {
  return (state_->phase.load(std::memory_order_acquire) & kValueMask) == kRunning;
}

std::string Thread::name() const { return state_->get_name(); }

void Thread::set_name(std::string name) {
  detail::ThreadState& st = *state_;
  st.name_mu.lock();
  st.name = std::move(name);
  std::string copy = st.name;
  st.name_mu.unlock();
  if (detail::t_current == &st) detail::set_os_thread_name(copy);
}

bool Thread::daemon() const noexcept { return state_->daemon.load(std::memory_order_relaxed); }

void Thread::set_daemon(bool daemon) {
  if ((state_->phase.load(std::memory_order_acquire) & kValueMask) != kNew)
    throw RuntimeError("cannot set daemon status of active thread");
  state_->daemon.store(daemon, std::memory_order_relaxed);
}

std::optional<std::thread::id> Thread::ident() const noexcept {
  if ((state_->phase.load(std::memory_order_acquire) & kValueMask) < kRunning) return {};
  return state_->ident;
}

std::optional<long> Thread::native_id() const noexcept {
  if ((state_->phase.load(std::memory_order_acquire) & kValueMask) < kRunning) return {};
  return state_->native_id;
}

void Thread::request_stop() noexcept { state_->stop.request_stop(); }

std::stop_token Thread::stop_token() const noexcept { return state_->stop.get_token(); }

std::exception_ptr Thread::exception() const noexcept {
  if ((state_->phase.load(std::memory_order_acquire) & kValueMask) < kFinished) return {};
  return state_->error;
}

void Thread::await_run_entered() const noexcept {
  if (state_->started.load(std::memory_order_acquire) & kValueMask)
    detail::await_at_least(state_->dispatched, 1, detail::Deadline::never());
}

void Thread::run() {
  // Reading state_ here is safe: a daemon's ~Thread waits for mark_dispatched().
  detail::ThreadState* st = state_.get();
  st->mark_dispatched();
  if (st->target) {
    // Python's run() drops its target afterwards; here the captures die in this thread.
    std::unique_ptr<detail::TargetBase> target = std::move(st->target);
    target->call(st->stop.get_token());
  }
}

}  // namespace tandem
