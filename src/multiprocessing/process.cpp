// SPDX-License-Identifier: MIT
// tandem::mp::Process — compiled part (see <tandem/multiprocessing/process.hpp>).
//
// Parent side: fork(), then pidfd_open(pid). The pidfd is the child's "sentinel" (Python's
// Process.sentinel): it polls readable once the child has exited, so join(timeout) is one
// ppoll(2) with the remaining time — the only blocking call of tandem that is not a futex
// wait, because the death of a process is not a store to any word. The child is our own
// unreaped child until waitid(), so its pid cannot be reused under the pidfd.
//
// Child side: child_main() runs run(), flushes, and _exit()s; it never returns.
#include "tandem/multiprocessing/process.hpp"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <iostream>
#include <limits>
#include <new>
#include <typeinfo>

#include "detail/exception_text.hpp"
#include "multiprocessing/process_launch.hpp"
#include "multiprocessing/process_state.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/shipping/build_id.hpp"
#include "tandem/threading/thread.hpp"

#ifndef P_PIDFD
#define P_PIDFD 3  // <linux/wait.h>; glibc < 2.36 does not define it
#endif

namespace tandem::mp {
namespace {

using tandem::detail::Deadline;
using tandem::detail::Scope;

constexpr std::uint32_t kNew = 0, kStarting = 1, kRunning = 2, kReaped = 3;
constexpr int kUnknownStatus = 255;  // the child was reaped by someone else

// init()'s record of the argv area, read by children (never written after init()).
char* g_argv_begin = nullptr;
std::size_t g_argv_size = 0;
std::atomic<bool> g_init_called{false};

using detail::g_mp;

std::string default_name(const std::vector<int>& identity) {
  std::string n = "Process-";
  for (std::size_t i = 0; i < identity.size(); ++i) {
    if (i) n += ':';
    n += std::to_string(identity[i]);
  }
  return n;
}

using detail::flush_all;
using detail::write_stderr;

}  // namespace

namespace detail {

void report_exception(const std::string& name, std::exception_ptr e) {
  std::string type, what;
  tandem::detail::describe(e, &type, &what);
  write_stderr("Process " + name + ":\n" + type + (what.empty() ? "" : ": " + what) + "\n");
}

}  // namespace detail

namespace {

/// Python 3.12+: DeprecationWarning "This process (pid=N) is multi-threaded, use of fork()
/// may lead to deadlocks in the child." detail::is_multithreaded() counts; once per process.
void warn_if_multithreaded() {
  if (g_mp.warned_threads.load(std::memory_order_relaxed)) return;
  if (detail::is_multithreaded() && !g_mp.warned_threads.exchange(true, std::memory_order_relaxed))
    write_stderr("tandem: This process (pid=" + std::to_string(::getpid()) +
                     ") is multi-threaded, use of fork() may lead to deadlocks in the child.\n",
                 LogLevel::warning);
}

/// The title's bytes: `comm` (15 bytes, cut on a UTF-8 boundary, NUL-terminated) and, when
/// `area` is set (init() saved argv), the argv area. Never inlined: start() runs it once on
/// scratch buffers before its first fork(), so that the memcpy()/memset() it calls are bound
/// by the dynamic loader in the parent — with lazy binding, every child would otherwise
/// resolve them again (process_launch.hpp, child_exit(), says what that costs).
[[gnu::noinline]] void fill_title(const std::string& name, char (&comm)[16], char* area,
                                  std::size_t area_size) noexcept {
  std::size_t n = std::min<std::size_t>(name.size(), 15);
  while (n > 0 && n < name.size() && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  std::memcpy(comm, name.data(), n);
  std::memset(comm + n, 0, sizeof comm - n);
  if (area != nullptr && area_size > 0) {
    const std::size_t len = std::min(name.size(), area_size - 1);
    std::memcpy(area, name.data(), len);
    std::memset(area + len, 0, area_size - len);
  }
}

/// Binds, in this process, what a fork child calls that the parent may never have called.
void prebind_child_path() noexcept {
  static std::atomic<bool> done{false};
  if (done.load(std::memory_order_relaxed) || done.exchange(true, std::memory_order_relaxed))
    return;
  char comm[16];
  char area[32];
  fill_title(std::string(20, 'x'), comm, area, sizeof area);
}

}  // namespace

namespace detail {

void set_process_title(const std::string& name) {
  char comm[16];
  fill_title(name, comm, g_argv_begin, g_argv_size);
  detail::child_prctl(PR_SET_NAME, reinterpret_cast<unsigned long>(comm));
}

}  // namespace detail

namespace {

using detail::report_exception;
using detail::set_process_title;

int decode_status(const siginfo_t& si) {
  if (si.si_code == CLD_EXITED) return si.si_status;
  return -si.si_status;  // CLD_KILLED, CLD_DUMPED
}

}  // namespace

// ---- the module state (process_state.hpp) -----------------------------------------------------

namespace detail {

ModuleState g_mp;

bool init_was_called() noexcept { return g_init_called.load(std::memory_order_acquire); }

}  // namespace detail

// ---- module functions ------------------------------------------------------------------------

void init(int argc, char** argv) {
  if (argc > 0 && argv != nullptr && argv[0] != nullptr) {
    // The argv strings are contiguous in the area the kernel set up; stop at the first gap.
    char* end = argv[0] + std::strlen(argv[0]) + 1;
    for (int i = 1; i < argc && argv[i] == end; ++i) end = argv[i] + std::strlen(argv[i]) + 1;
    g_argv_begin = argv[0];
    g_argv_size = static_cast<std::size_t>(end - argv[0]);
  }
  if (g_init_called.exchange(true, std::memory_order_acq_rel)) return;
  detail::spawn_child_entry(argc, argv);  // a spawned child never comes back from here
  detail::forkserver_start();             // while this process is still single-threaded
}

std::string current_process_name() { return g_mp.current_name; }

bool sleep(duration d, StopToken token) {
  if (!(d.count() >= 0)) throw ValueError("sleep length must be non-negative");
  if (token.word_ == nullptr) {
    tandem::sleep(d);
    return true;
  }
  std::atomic<std::uint32_t>& word = *token.word_;
  const Deadline deadline = Deadline::after(d);
  while (word.load(std::memory_order_acquire) == 0) {
    if (!tandem::detail::futex_wait(word, 0, deadline, Scope::shared) && deadline.expired())
      return word.load(std::memory_order_acquire) == 0;
  }
  return false;
}

// ---- Process ---------------------------------------------------------------------------------

Process::Process() : Process(detail::TargetParts{}, ProcessOptions{}) {}

Process::Process(ProcessOptions options) : Process(detail::TargetParts{}, std::move(options)) {}

Process::Process(detail::TargetParts parts, ProcessOptions options)
    : creator_pid_(static_cast<int>(::getpid())),
      identity_(g_mp.identity ? *g_mp.identity : std::vector<int>{}),
      daemon_(options.daemon),
      start_method_(options.start_method ? *options.start_method : get_start_method()),
      target_(std::move(parts.target)),
      shipped_(std::move(parts.shipped)) {
  identity_.push_back(g_mp.counter.fetch_add(1, std::memory_order_relaxed) + 1);
  name_ = options.name.empty() ? default_name(identity_) : std::move(options.name);
  if (start_method_ == StartMethod::fork) {
    // A word of this process's pool of anonymous shared pages (process_support.cpp): no fd,
    // and no mmap/munmap of a page of its own per Process.
    page_ = detail::acquire_stop_word();
    return;
  }
  // spawn/forkserver: a memfd, since the child must map the page from a descriptor.
  page_fd_ = static_cast<int>(::syscall(SYS_memfd_create, "tandem-stop", MFD_CLOEXEC));
  if (page_fd_ < 0 || ::ftruncate(page_fd_, sizeof(detail::ProcessShared)) != 0) {
    const int err = errno;
    if (page_fd_ >= 0) ::close(page_fd_);
    throw RuntimeError(std::string("memfd for the stop page: ") + std::strerror(err));
  }
  void* p = ::mmap(nullptr, sizeof(detail::ProcessShared), PROT_READ | PROT_WRITE, MAP_SHARED,
                   page_fd_, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    ::close(page_fd_);
    throw RuntimeError(std::string("mmap of the stop page failed: ") + std::strerror(err));
  }
  page_ = ::new (p) detail::ProcessShared();
}

Process::~Process() {
  const bool creator = g_mp.self != this && in_creator();
  try {
    const std::uint32_t ph = phase_.load(std::memory_order_acquire);
    if (creator && ph == kRunning) {
      if (!daemon_) {
        request_stop();
        join();
      } else {
        terminate();
        if (!join(std::chrono::seconds(1))) {
          kill();
          join();
        }
      }
    }
  } catch (...) {
    // join() only throws for misuse, which the checks above exclude.
  }
  // Before pidfd_ goes: active_children() uses it. Never started: never registered.
  if (creator && phase_.load(std::memory_order_acquire) != kNew) detail::unregister_child(this);
  if (pidfd_ >= 0) ::close(pidfd_);
  if (status_fd_ >= 0) ::close(status_fd_);
  if (page_fd_ >= 0) {
    ::munmap(page_, sizeof(detail::ProcessShared));
    ::close(page_fd_);
  } else if (creator) {
    detail::release_stop_word(page_);  // the child is reaped: nobody watches the word now
  }
}

bool Process::in_creator() const { return static_cast<int>(::getpid()) == creator_pid_; }

void Process::start() {
  if (!in_creator())
    throw RuntimeError("can only start a process object created by current process");
  std::uint32_t expected = kNew;
  if (!phase_.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel))
    throw RuntimeError("cannot start a process twice");
  auto fail = [this](const std::string& message) {
    phase_.store(kNew, std::memory_order_release);  // a failed start() may be retried
    throw RuntimeError(message);
  };
  if (g_mp.daemon_process) fail("daemonic processes are not allowed to have children");
  if (start_method_ != StartMethod::fork) {
    try {
      start_shipped();
    } catch (...) {
      phase_.store(kNew, std::memory_order_release);
      throw;
    }
    return;
  }
  warn_if_multithreaded();
  prebind_child_path();
  flush_all();
  const pid_t pid = ::fork();
  if (pid < 0) fail(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) child_main(creator_pid_);  // in_creator() said getpid() == creator_pid_
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    siginfo_t si{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED) < 0 && errno == EINTR) {
    }
    fail(std::string("pidfd_open failed (Linux 5.3 or later is needed): ") + std::strerror(err));
  }
  pidfd_ = fd;
  pid_.store(static_cast<int>(pid), std::memory_order_release);
  target_.reset();  // Python drops its reference to the target once the child has it
  phase_.store(kRunning, std::memory_order_release);
  register_started();
}

void Process::register_started() noexcept {
  try {
    detail::register_child(this);
  } catch (...) {
    // No memory for one pointer: the child runs, active_children() will not list it.
  }
}

void Process::start_shipped() {
  const char* method = start_method_ == StartMethod::spawn ? "spawn" : "forkserver";
  if (!shipped_ || target_ == nullptr)
    throw RuntimeError(std::string("start method '") + method +
                       "' needs a target that is a function pointer or a lambda without "
                       "captures, with serializable arguments (a closure or an overridden "
                       "run() can only be started with fork)");
  if (start_method_ == StartMethod::spawn && !detail::init_was_called())
    throw RuntimeError(
        "start method 'spawn' needs tandem::mp::init(argc, argv) as the first line of main(): "
        "the spawned child runs this program's main(), and is taken over there");
  detail::BootMessage msg;
  const shipping::BuildId& id = shipping::build_id();
  msg.build_id = id.bytes();
  msg.build_source = static_cast<std::uint8_t>(id.source());
  msg.task = *shipped_;
  msg.name = name();
  msg.identity = identity_;
  msg.daemon = daemon_;
  msg.parent_pid = static_cast<int>(::getpid());
  msg.parent_name = g_mp.current_name;
  msg.start_method = g_mp.start_method.load(std::memory_order_acquire);
  const std::vector<std::byte> boot = tandem::serialize(msg);
  flush_all();
  const detail::Launched l = start_method_ == StartMethod::spawn
                                 ? detail::spawn_worker(boot, page_fd_)
                                 : detail::forkserver_worker(boot, page_fd_);
  pidfd_ = l.pidfd;
  status_fd_ = l.status_fd;
  pid_.store(l.pid, std::memory_order_release);
  target_.reset();
  shipped_.reset();
  phase_.store(kRunning, std::memory_order_release);
  register_started();
}

void Process::child_main(int parent_pid) noexcept {
  // Only this thread exists here. Rebuild the module state for this process first.
  g_mp.self = this;
  g_mp.identity = &identity_;  // this object lives until _exit(): no copy, no malloc here
  g_mp.counter.store(0, std::memory_order_relaxed);
  g_mp.parent_pid = parent_pid;
  g_mp.parent_name.swap(g_mp.current_name);  // the creator's name; a swap allocates nothing
  g_mp.current_name = name_;  // not name(): its lock may have been held by a thread at fork()
  detail::forget_children();
  g_mp.daemon_process = daemon_;
  g_mp.warned_threads.store(false, std::memory_order_relaxed);
  if (daemon_) {
    detail::child_prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died between fork() and prctl(): then nobody will send the signal.
    if (static_cast<int>(::syscall(SYS_getppid)) != parent_pid) ::raise(SIGKILL);
  }
  set_process_title(g_mp.current_name);
  int code = 0;
  try {
    run();
  } catch (...) {
    report_exception(g_mp.current_name, std::current_exception());
    code = 1;
  }
  flush_all();
  detail::child_exit(code);
}

void Process::run() {
  if (target_) target_->call(stop_token());
}

bool Process::wait_exit(Deadline deadline) {
  for (;;) {
    pollfd pfd{pidfd_, POLLIN, 0};
    timespec ts{};
    const timespec* tsp = nullptr;
    if (!deadline.is_never()) {
      const auto ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.remaining()).count();
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      tsp = &ts;
    }
    const int n = ::ppoll(&pfd, 1, tsp, nullptr);
    if (n > 0) return true;
    if (n == 0) {
      if (deadline.expired()) return false;
      continue;
    }
    if (errno != EINTR) throw RuntimeError(std::string("ppoll on a pidfd failed: ") + std::strerror(errno));
  }
}

void Process::reap_now() {
  // Blocks until the child has exited when called on a running one (untimed join()):
  // waitid() without WNOHANG, or the server's report, is the wait itself.
  if (reaper_.exchange(1, std::memory_order_acq_rel) == 0) {
    if (status_fd_ >= 0) {
      // forkserver: the child is the server's; the server reports its exit code.
      exitcode_ = detail::forkserver_exit_code(status_fd_);
    } else {
      siginfo_t si{};
      int rc;
      do rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_), &si, WEXITED);
      while (rc < 0 && errno == EINTR);
      if (rc < 0 && errno == EINVAL) {  // Linux 5.3 has pidfd_open but not P_PIDFD
        do rc = ::waitid(P_PID, static_cast<id_t>(pid_.load()), &si, WEXITED);
        while (rc < 0 && errno == EINTR);
      }
      exitcode_ = rc == 0 ? decode_status(si) : kUnknownStatus;
    }
    // seq_cst store, then load: pairs with the waiter's flag-then-check below, so either the
    // waiter sees kReaped or we see its flag — and the common case pays no futex_wake.
    phase_.store(kReaped, std::memory_order_seq_cst);
    if (reap_waiters_.load(std::memory_order_seq_cst) != 0)
      tandem::detail::futex_wake_all(phase_);
  } else {
    // Another thread is inside a waitid() (or the server's report); it returns once the
    // child has exited.
    reap_waiters_.store(1, std::memory_order_seq_cst);
    while (phase_.load(std::memory_order_seq_cst) != kReaped)
      tandem::detail::futex_wait(phase_, kRunning);
  }
}

bool Process::try_reap() {
  const std::uint32_t ph = phase_.load(std::memory_order_acquire);
  if (ph == kReaped) return true;
  if (ph != kRunning) return false;
  pollfd pfd{pidfd_, POLLIN, 0};
  if (::poll(&pfd, 1, 0) <= 0) return false;
  reap_now();
  return true;
}

void Process::join() {
  if (!in_creator()) throw RuntimeError("can only join a child process");
  const std::uint32_t ph = phase_.load(std::memory_order_acquire);
  if (ph < kRunning) throw RuntimeError("can only join a started process");
  if (ph == kReaped) return;
  reap_now();  // one blocking waitid(): no ppoll() first when there is no deadline
}

bool Process::join(duration timeout) {
  if (!in_creator()) throw RuntimeError("can only join a child process");
  const std::uint32_t ph = phase_.load(std::memory_order_acquire);
  if (ph < kRunning) throw RuntimeError("can only join a started process");
  if (ph == kReaped) return true;
  const Deadline deadline = tandem::detail::clamped_deadline(timeout);
  if (!deadline.is_never() && !wait_exit(deadline)) return false;
  reap_now();
  return true;
}

bool Process::is_alive() {
  if (g_mp.self == this) return true;
  if (!in_creator()) throw RuntimeError("can only test a child process");
  if (phase_.load(std::memory_order_acquire) < kRunning) return false;
  return !try_reap();
}

std::optional<int> Process::exitcode() {
  if (in_creator() ? try_reap() : phase_.load(std::memory_order_acquire) == kReaped)
    return exitcode_;
  return std::nullopt;
}

std::string Process::name() const {
  name_mu_.lock();
  std::string n = name_;
  name_mu_.unlock();
  return n;
}

void Process::set_name(std::string name) {
  name_mu_.lock();
  name_ = std::move(name);
  std::string copy = name_;
  name_mu_.unlock();
  if (g_mp.self == this) {
    g_mp.current_name = copy;
    set_process_title(copy);
  }
}

void Process::set_daemon(bool daemon) {
  if (phase_.load(std::memory_order_acquire) != kNew)
    throw RuntimeError("process has already started");
  daemon_ = daemon;
}

void Process::send_signal(int sig) {
  // Through the pidfd: the signal cannot reach another process that reused the pid.
  if (phase_.load(std::memory_order_acquire) != kRunning || pidfd_ < 0) return;
  ::syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0);  // ESRCH once it has exited
}

void Process::terminate() { send_signal(SIGTERM); }

void Process::kill() { send_signal(SIGKILL); }

void Process::request_stop() noexcept {
  page_->stop.store(1, std::memory_order_release);
  tandem::detail::futex_wake_all(page_->stop, Scope::shared);
}

}  // namespace tandem::mp
