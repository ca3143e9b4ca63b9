// SPDX-License-Identifier: MIT
// tandem::mp::Process — multiprocessing.Process (docs/multiprocessing.md#process), its
// cross-process stop token, and the module functions init() / current_process_name() / sleep().
//
// Guarantees
//  * start() fork()s: the child is a copy of the parent, so a target may be any callable —
//    a lambda with captures, a functor, a subclass's run() using its members. start()
//    returns once the child exists: is_alive() is true and pid() is set. A second start()
//    throws RuntimeError("cannot start a process twice"), also after the child ended.
//  * The child runs run() (the target, called as target() or target(StopToken)), flushes
//    std::cout/std::cerr/std::clog and every C stdio stream, and leaves with _exit(code):
//    it never returns into the parent's main(), and never runs the parent's atexit
//    handlers or static destructors (a std::exit(n) the child calls itself still does).
//  * exitcode(): nullopt before start() and while the child runs; then 0 after a normal
//    return; 1 when run() throws — the exception is reported on the child's stderr as
//    "Process NAME:\nTYPE: what()\n" (Python prints "Process NAME:" and a traceback); n
//    when the child calls std::exit(n) / _exit(n); −N when a signal N killed it
//    (terminate() → −15, kill() → −9, abort() → −6, a segfault → −11).
//  * The death of the child is observed through a pidfd (pidfd_open, Linux ≥ 5.3):
//    join(timeout) sleeps in ppoll(2) on it — 0% CPU, no polling loop, no SIGCHLD handler.
//    The child is reaped (waitid(P_PIDFD)) exactly once, by join(), is_alive() or
//    exitcode() — whichever first sees it dead — so no zombie outlives the object.
//    join() may be called from several threads at once.
//  * request_stop() sets a flag in shared memory mapped before fork(): the child's
//    StopToken sees it at once and mp::sleep(d, token) wakes at once (futex(2) with
//    Scope::shared on that page). This is the stop the seed's ch11_06 wanted: its parent
//    set `self.running = False`, which the Python child — a copy — never saw. (The flag is
//    one word of a page shared by many Processes, recycled once its Process is destroyed:
//    a grandchild left running with a copy of the child's token may then see a later
//    Process's stop.)
//  * daemon: a daemon child dies with its parent (prctl(PR_SET_PDEATHSIG, SIGKILL) set
//    right after fork(), then a getppid() check closes the race with a parent that died
//    during the fork). set_daemon() after start(): RuntimeError("process has already
//    started"). A daemon process may not start processes of its own (as in Python:
//    RuntimeError("daemonic processes are not allowed to have children")).
//  * name(): "Process-N" by default, nested as "Process-1:2" in a child's children, as in
//    Python. It is also the child's title: prctl(PR_SET_NAME) (15 bytes, what `ps` and
//    `top` show as the command) and, when mp::init(argc, argv) was called, the argv area
//    (what `ps -f` shows as the command line).
//  * Using fork() while the process has more than one thread prints, once per process,
//    "This process (pid=N) is multi-threaded, use of fork() may lead to deadlocks in the
//    child." on stderr, like Python 3.12+ (only the forking thread exists in the child: a
//    lock another thread held at fork() stays locked there forever — including a stdio
//    lock, which the child's final flush would then wait on). Threads are counted only
//    after glibc's __libc_single_threaded says a thread was ever created (so a sanitizer's
//    own runtime thread, made without pthread_create, does not count).
//  * Unflushed output is written before fork() (std::cout and C stdio are flushed), so
//    the child can never print the parent's buffered text a second time.
// Memory ordering: everything the parent did before start() is in the child's copy. The
//  child's memory is its own: results come back only through shared memory (the stop page,
//  mp::Value/Array, queues) or the exit code. What the child wrote to MAP_SHARED memory
//  before exiting is visible to the parent once join() returns / join(timeout) returns true.
// Cost: start() is one fork() and one pidfd_open (plus one stat of /proc/self/task once
//  the process has ever had a second thread); the stop word comes from a pool of shared
//  pages mapped 1024 words at a time. join() is one blocking waitid (join(timeout): a ppoll
//  first). What dominates is the kernel's fork/exit and the page faults both sides take on
//  memory they touch after fork(): the child's path touches as few pages as it can and never
//  runs the dynamic loader's lazy binding (see src/multiprocessing/process_launch.hpp,
//  child_exit()).
// Lifetime (the destructor; Python has no equivalent, it acts at interpreter exit):
//  * a running non-daemon child: request_stop(), then join() — without a bound, as Python
//    joins non-daemonic children at exit and as ~Thread does; a child that ignores its stop
//    token keeps the parent waiting, so call terminate()/kill() first if that can happen;
//  * a running daemon child: terminate() (SIGTERM, as Python's exit handler does to
//    daemonic children), join(1 s), then kill() and join() if it is still there;
//  * in both cases the child is reaped and the pidfd and the stop page are released.
//  Unlike tandem::Thread, a subclass needs no destructor of its own: run() executes on the
//  child's copy of the object, never on the parent's.
// Differences from Python:
//  * RuntimeError where Python asserts (docs/multiprocessing.md#errors): "cannot start a
//    process twice", "can only join a started process", "can only join a child process",
//    "process has already started", "can only start a process object created by current
//    process", "daemonic processes are not allowed to have children".
//  * join() returns void; join(timeout) returns whether the child has finished. A negative
//    timeout counts as 0.
//  * pid() is 0 before start() (Python: None). terminate()/kill() before start() or after
//    the child was reaped do nothing.
//  * ProcessOptions.daemon defaults to false (Python inherits the creator's flag, which is
//    false in every process allowed to create children, so the result is the same).
//  * The default start method is fork (Python ≤ 3.13 on Linux; 3.14 uses forkserver);
//    mp::set_start_method() changes it (<tandem/multiprocessing/functions.hpp>). A Process
//    without ProcessOptions::start_method takes the default when it is constructed (Python:
//    at start()).
//    Python pickles the Process object for spawn/forkserver; we ship the target instead (next
//    section), so a closure or an overridden run() works only with fork.
// Start methods (ProcessOptions::start_method)
//  * fork: as above; any callable.
//  * spawn: a fresh exec of this program (posix_spawn of /proc/self/exe — the same file even
//    if it was replaced on disk since); main() must call mp::init(argc, argv) first, which
//    takes the child over (it runs the target and _exit()s; main's body never runs). Without
//    that call in this process, start() throws RuntimeError at once ("start method 'spawn'
//    needs tandem::mp::init(argc, argv) as the first line of main() ...") — the parent checks
//    its own flag, since the child runs the same main(). The child is ours: pidfd + waitid,
//    as with fork. Nothing of the parent's memory is inherited: globals are as at startup.
//  * forkserver: a fork of the fork server (src/multiprocessing/forkserver.cpp), which mp::init()
//  starts
//    while the program is single-threaded. Without mp::init() the server starts at the first
//    forkserver start(), with a warning on stderr if threads exist by then. The child is the
//    server's, not ours: join()/is_alive() wait on a pidfd the server sends us (SCM_RIGHTS),
//    terminate()/kill() signal through it, and the server reports the exit code on a
//    per-process socket (255 if the server itself was killed). Memory is the server's: the
//    program as it was when mp::init() ran.
//  * For both, the target is shipped (<tandem/shipping/ship.hpp>): a function pointer or a
//    lambda without captures, called as f(args...) or f(StopToken, args...), with arguments
//    given as a std::tuple (`Process(f, std::tuple{1, "x"s}, {.start_method = ...})`), each
//    tandem::Serializable. Since the start method is a run-time option, a target that cannot
//    be shipped (a closure, a pointer argument) is found at start(): RuntimeError("start
//    method 'spawn' needs a target that is a function pointer or a lambda without captures,
//    with serializable arguments ..."); shippable() tells beforehand. The child checks the
//    build-id (another build of the program refuses to run the task: stderr + exit 1).
//  * request_stop() reaches the child in every method: for spawn/forkserver the stop page is
//    a memfd the child maps (so those Processes hold one descriptor each until destroyed).
//  * A target that throws: "Process NAME:\nTYPE: what()" on stderr, exit code 1, as fork.
//  * daemon: the child dies with its parent (spawn: the creator; forkserver: the server, which
//    exits when the main process does).
//  * Cost (start + join of an empty target, Release, 2-vCPU VM, quiet): fork ≈ 0.2 ms,
//    forkserver ≈ 0.3 ms, spawn ≈ 1.2 ms (CPython: 2-3 / 11 / ~50 ms). spawn is the exec
//    and the dynamic loader of the program (its relocations, CPUID probes of glibc/libgcc,
//    static initialisers): ~90% of it is the child's before main(), which the bench's
//    "posix_spawn+waitpid (same program)" peer measures alone.
//  * PR_SET_PDEATHSIG fires when the *thread* that called start() ends, not only the
//    process: start daemon processes from a thread that lives as long as they should
//    (the main thread, typically).
//  * If something else reaps the child (waitpid(-1) elsewhere, SIGCHLD set to SIG_IGN),
//    its status is lost: exitcode() is then 255.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tandem/detail/futex_mutex.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/detail/shm.hpp"
#include "tandem/multiprocessing/start_method.hpp"
#include "tandem/shipping/ship.hpp"

namespace tandem::mp {


/// Optional first line of main() — required for StartMethod::spawn. Saves argv (children show
/// their name as their command line in `ps`); in a child started with StartMethod::spawn it
/// takes over: runs the shipped target and _exit()s, never returning into main(); otherwise
/// it starts the fork server (StartMethod::forkserver) while the process is single-threaded.
/// Calling it again is harmless (only the first call acts).
void init(int argc, char** argv);

/// multiprocessing.current_process().name: "MainProcess", or the name of the Process whose
/// child is running.
std::string current_process_name();

namespace detail {
/// The page a Process shares with its child (a futex word in shared memory).
struct ProcessShared {
  std::atomic<std::uint32_t> stop{0};  // 1 once request_stop() was called
};
}  // namespace detail

namespace detail {
struct TokenFactory;  // src/multiprocessing/process.cpp: makes the token of a spawned/forkserver child
}

/// The child's view of request_stop(): a cross-process std::stop_token. Copyable and cheap.
/// Valid in the child for the whole of run(); in the parent while the Process object lives.
/// A default-constructed token never stops.
class StopToken {
 public:
  StopToken() noexcept = default;
  bool stop_requested() const noexcept {
    return word_ != nullptr && word_->load(std::memory_order_acquire) != 0;
  }
  bool stop_possible() const noexcept { return word_ != nullptr; }

 private:
  friend class Process;
  friend struct detail::TokenFactory;
  friend bool sleep(duration, StopToken);
  explicit StopToken(std::atomic<std::uint32_t>* word) noexcept : word_(word) {}
  std::atomic<std::uint32_t>* word_ = nullptr;
};

/// Sleeps for `d` unless a stop is requested on `token` first — in any process: the parent's
/// request_stop() wakes the child at once. Returns true when it slept the whole time, false
/// when a stop was (or had already been) requested. Negative `d`: ValueError("sleep length
/// must be non-negative").
bool sleep(duration d, StopToken token);

struct ProcessOptions {
  std::string name{};  // empty: "Process-N"
  bool daemon = false;
  /// nullopt: mp::get_start_method() when the Process is constructed (fork unless
  /// mp::set_start_method() chose another; that call then fixes the default, as Python's
  /// start() does).
  std::optional<StartMethod> start_method{};
};

namespace detail {
/// A type-erased target, called as target() or target(StopToken).
struct ProcessTargetBase {
  virtual ~ProcessTargetBase() = default;
  virtual void call(StopToken token) = 0;
};

template <class F>
struct ProcessTarget final : ProcessTargetBase {
  explicit ProcessTarget(F f) : fn(std::move(f)) {}
  void call(StopToken token) override {
    if constexpr (std::is_invocable_v<F&, StopToken>)
      std::invoke(fn, token);
    else
      std::invoke(fn);
  }
  F fn;
};

/// The trampoline of a shipped Process target (shipping::TaskKind::process): decodes the
/// arguments and calls fn(args...) or fn(token, args...). Exceptions propagate (to the boot
/// code, which reports them as "Process NAME:" and exits 1).
using ProcessTrampoline = void (*)(std::uintptr_t fn, std::span<const std::byte> args,
                                   StopToken token);

template <class Fp>
struct ProcessEntry {
  static constexpr bool ok = false;
};
template <bool WithToken, class Fp, class... P>
struct ProcessEntryBase {
  using args_tuple = std::tuple<std::decay_t<P>...>;
  static constexpr bool ok = (!shipping::detail::mutable_ref_param<P> && ...) &&
                             (Serializable<std::decay_t<P>> && ...);
  template <class... A>
  static constexpr bool accepts() {
    if constexpr (sizeof...(A) != sizeof...(P))
      return false;
    else
      return (std::is_constructible_v<std::decay_t<P>, const A&> && ...);
  }
  static void invoke(std::uintptr_t fn, std::span<const std::byte> in, StopToken token) {
    const auto f = reinterpret_cast<Fp>(fn);
    auto args = tandem::deserialize<args_tuple>(in);
    std::apply(
        [&](auto&... a) {
          if constexpr (WithToken)
            f(token, std::move(a)...);
          else
            f(std::move(a)...);
        },
        args);
  }
};
template <class R, class... P>
struct ProcessEntry<R (*)(P...)> : ProcessEntryBase<false, R (*)(P...), P...> {};
template <class R, class T, class... P>
  requires std::is_same_v<std::remove_cvref_t<T>, StopToken>
struct ProcessEntry<R (*)(T, P...)> : ProcessEntryBase<true, R (*)(T, P...), P...> {};

/// The shipped form of target(args...) for spawn/forkserver, or nullopt when the target is
/// not shippable (a closure, non-serializable arguments, code outside the executable).
template <class F, class... A>
std::optional<shipping::Task> ship_process_target(const F& fn, const std::tuple<A...>& args) {
  using FI = shipping::detail::function_info<F>;
  if constexpr (FI::kind == shipping::detail::FnKind::ok) {
    using Fp = typename FI::pointer;
    using E = ProcessEntry<Fp>;
    if constexpr (E::ok) {
      if constexpr (E::template accepts<A...>()) {
        const Fp f = fn;
        shipping::Task t;
        t.args = tandem::serialize(std::apply(
            [](const auto&... a) { return typename E::args_tuple(a...); }, args));
        try {
          shipping::seal(t, shipping::address_of(&E::invoke), shipping::address_of(f),
                         shipping::TaskKind::process);
        } catch (const ValueError&) {
          return std::nullopt;
        }
        return t;
      }
    }
  }
  return std::nullopt;
}

struct TargetParts {
  std::unique_ptr<ProcessTargetBase> target;
  std::optional<shipping::Task> shipped;
};
}  // namespace detail

class Process {
 public:
  /// For subclasses that override run(). Name "Process-N", not a daemon, the default start
  /// method (mp::get_start_method()).
  Process();
  explicit Process(ProcessOptions options);
  /// multiprocessing.Process(target=f): the child calls target() or target(StopToken).
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, ProcessOptions> &&
             (std::is_invocable_v<std::decay_t<F>&> ||
              std::is_invocable_v<std::decay_t<F>&, StopToken>))
  explicit Process(F target, ProcessOptions options = {})
      : Process(Resolved{}, std::move(target), std::tuple<>{}, resolved(std::move(options))) {}
  /// multiprocessing.Process(target=f, args=(...)): the child calls target(args...) or
  /// target(token, args...) — e.g. `Process(work, std::tuple{42, "x"s}, {.start_method =
  /// StartMethod::spawn})`. With fork, any callable and any arguments (copied into the child);
  /// with spawn/forkserver, see "Start methods" above.
  template <class F, class... Args>
    requires(std::is_invocable_v<std::decay_t<F>&, Args&...> ||
             std::is_invocable_v<std::decay_t<F>&, StopToken, Args&...>)
  Process(F target, std::tuple<Args...> args, ProcessOptions options = {})
      : Process(Resolved{}, std::move(target), std::move(args), resolved(std::move(options))) {}

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  /// See "Lifetime" above.
  virtual ~Process();

  void start();
  void join();
  /// True when the child has finished (and is reaped). Negative: as 0.
  bool join(duration timeout);
  /// False before start(); reaps the child when it has exited. True in the child itself.
  bool is_alive();
  std::optional<int> exitcode();
  /// The child's pid; 0 before start().
  int pid() const noexcept { return pid_.load(std::memory_order_acquire); }
  /// Python's Process.sentinel: a descriptor that becomes readable (POLLIN) when the child
  /// has exited — the child's pidfd, owned by this object (do not close it; valid until the
  /// Process is destroyed, also after the child was reaped). -1 before start(). For
  /// mp::connection::wait() or a poll(2) of the caller's own.
  int sentinel() const noexcept { return pidfd_; }
  std::string name() const;
  /// Renames the object; inside the child, also renames the process (PR_SET_NAME, argv).
  void set_name(std::string name);
  bool daemon() const noexcept { return daemon_; }
  void set_daemon(bool daemon);
  StartMethod start_method() const noexcept { return start_method_; }

  /// SIGTERM (Python's terminate()); nothing once the child has been reaped.
  void terminate();
  /// SIGKILL (Python's kill()); nothing once the child has been reaped.
  void kill();

  /// Sets the shared stop flag: the child's StopToken reports it and mp::sleep wakes.
  void request_stop() noexcept;
  /// The token request_stop() sets (the one run() should watch).
  StopToken stop_token() const noexcept { return StopToken(&page_->stop); }
  /// Whether start() can use StartMethod::spawn / forkserver: the target was shipped.
  bool shippable() const noexcept { return shipped_.has_value(); }

 protected:
  /// Calls the target (if any). Subclasses override it; it runs in the child.
  virtual void run();

 private:
  struct Resolved {};
  /// `o` with its start method filled in (the default when it has none).
  static ProcessOptions resolved(ProcessOptions o) {
    if (!o.start_method) o.start_method = get_start_method();
    return o;
  }
  // `o.start_method` is set; reading it after `o` was moved from is fine (a moved-from
  // std::optional<enum> keeps its value), so the order of the two arguments does not matter.
  template <class F, class... Args>
  Process(Resolved, F target, std::tuple<Args...> args, ProcessOptions o)
      : Process(make_parts(std::move(target), std::move(args), *o.start_method), std::move(o)) {}
  template <class F, class... Args>
  static detail::TargetParts make_parts(F target, std::tuple<Args...> args, StartMethod m) {
    detail::TargetParts parts;
    if (m != StartMethod::fork) parts.shipped = detail::ship_process_target(target, args);
    if constexpr (sizeof...(Args) == 0) {
      parts.target = std::make_unique<detail::ProcessTarget<F>>(std::move(target));
    } else {
      auto call = [f = std::move(target), a = std::move(args)](StopToken token) mutable {
        if constexpr (std::is_invocable_v<F&, StopToken, Args&...>)
          std::apply([&](auto&... x) { std::invoke(f, token, x...); }, a);
        else
          std::apply([&](auto&... x) { std::invoke(f, x...); }, a);
      };
      parts.target = std::make_unique<detail::ProcessTarget<decltype(call)>>(std::move(call));
    }
    return parts;
  }
  Process(detail::TargetParts parts, ProcessOptions options);
  [[noreturn]] void child_main(int parent_pid) noexcept;
  void start_shipped();
  void register_started() noexcept;
  bool wait_exit(tandem::detail::Deadline deadline);
  bool try_reap();
  void reap_now();
  void send_signal(int sig);
  bool in_creator() const;

  // Parent-side state machine in `phase_` (a local futex word): kNew → kStarting (start()
  // won the CAS) → kRunning (pid_/pidfd_ set) → kReaped (exitcode_ set). The reaper is
  // whoever swaps reaper_ 0 → 1 after seeing the pidfd readable.
  std::atomic<std::uint32_t> phase_{0};
  std::atomic<std::uint32_t> reaper_{0};
  std::atomic<std::uint32_t> reap_waiters_{0};  // 1 once a thread sleeps on phase_ for the reaper
  std::atomic<int> pid_{0};  // atomic: pid() may race with start() in another thread
  int pidfd_ = -1;
  int exitcode_ = 0;  // valid once phase_ == kReaped
  int creator_pid_;
  mutable tandem::detail::FutexMutex name_mu_;
  std::string name_;  // guarded by name_mu_
  std::vector<int> identity_;  // Python's _identity: (1, 2) ⇒ "Process-1:2"
  bool daemon_;
  StartMethod start_method_;
  std::unique_ptr<detail::ProcessTargetBase> target_;
  std::optional<shipping::Task> shipped_;  // spawn/forkserver: the target as a Task
  int status_fd_ = -1;  // forkserver: the socket the server reports the exit status on
  // The stop word: for fork, a word of a pool of anonymous shared pages (1024 words a page,
  // src/multiprocessing/process_support.cpp); for spawn and forkserver, a memfd page (page_fd_),
  // which the
  // child maps from the fd it is sent.
  detail::ProcessShared* page_ = nullptr;
  int page_fd_ = -1;
};

}  // namespace tandem::mp
