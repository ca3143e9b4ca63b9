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

#include <cxxabi.h>
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

#include "process_launch.hpp"
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

// ---- per-process module state (rewritten in each child right after fork) -----------------
// Written only by init() and by a child before it runs user code (single-threaded then).
std::vector<int> g_identity;                 // Python's current_process()._identity
std::atomic<int> g_counter{0};               // Python's _children counter
std::string g_current_name = "MainProcess";  // current_process().name
bool g_daemon_process = false;               // this process is a daemon child
Process* g_self = nullptr;                   // in a child: the object whose run() runs
char* g_argv_begin = nullptr;                // the argv area saved by init()
std::size_t g_argv_size = 0;
std::atomic<bool> g_warned_threads{false};
std::atomic<bool> g_init_called{false};

std::string default_name(const std::vector<int>& identity) {
  std::string n = "Process-";
  for (std::size_t i = 0; i < identity.size(); ++i) {
    if (i) n += ':';
    n += std::to_string(identity[i]);
  }
  return n;
}

std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = (status == 0 && s) ? s : mangled;
  std::free(s);
  return out;
}

using detail::flush_all;
using detail::write_stderr;

/// Python's "Process NAME:" + traceback, as "Process NAME:\nTYPE: what()\n".
void report_exception(const std::string& name, std::exception_ptr e) {
  std::string type, what;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    type = demangle(typeid(ex).name());
    what = ex.what();
  } catch (...) {
    const std::type_info* ti = abi::__cxa_current_exception_type();
    type = ti ? demangle(ti->name()) : "unknown exception";
  }
  write_stderr("Process " + name + ":\n" + type + (what.empty() ? "" : ": " + what) + "\n");
}

/// Python 3.12+: DeprecationWarning "This process (pid=N) is multi-threaded, use of fork()
/// may lead to deadlocks in the child." Counted through /proc/self/task; once per process.
void warn_if_multithreaded() {
  if (g_warned_threads.load(std::memory_order_relaxed)) return;
  if (detail::is_multithreaded() && !g_warned_threads.exchange(true, std::memory_order_relaxed))
    write_stderr("tandem: This process (pid=" + std::to_string(::getpid()) +
                 ") is multi-threaded, use of fork() may lead to deadlocks in the child.\n");
}

/// The child's title: comm (15 bytes, cut on a UTF-8 boundary) and, after init(), argv.
void set_process_title(const std::string& name) {
  std::size_t n = std::min<std::size_t>(name.size(), 15);
  while (n > 0 && n < name.size() && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  const std::string comm = name.substr(0, n);
  ::prctl(PR_SET_NAME, comm.c_str(), 0, 0, 0);
  if (g_argv_begin && g_argv_size > 0) {
    const std::size_t len = std::min(name.size(), g_argv_size - 1);
    std::memcpy(g_argv_begin, name.data(), len);
    std::memset(g_argv_begin + len, 0, g_argv_size - len);
  }
}

int decode_status(const siginfo_t& si) {
  if (si.si_code == CLD_EXITED) return si.si_status;
  return -si.si_status;  // CLD_KILLED, CLD_DUMPED
}

}  // namespace

// ---- internal helpers shared with spawn.cpp / forkserver.cpp (process_launch.hpp) -------------

namespace detail {

struct TokenFactory {
  static StopToken make(std::atomic<std::uint32_t>* word) noexcept { return StopToken(word); }
};

void write_stderr(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

/// Everything buffered goes out now: before fork() so the child cannot print it again,
/// and before the child's _exit() so its output is not lost.
void flush_all() noexcept {
  try {
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
  } catch (...) {
  }
  std::fflush(nullptr);
}

bool is_multithreaded() {
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return false;
  int threads = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++threads;
  ::closedir(d);
  return threads > 1;
}

bool init_was_called() noexcept { return g_init_called.load(std::memory_order_acquire); }

int bytes_to_memfd(const std::vector<std::byte>& bytes, const char* name) {
  const int fd = static_cast<int>(::syscall(SYS_memfd_create, name, MFD_CLOEXEC));
  if (fd < 0) throw RuntimeError(std::string("memfd_create failed: ") + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw RuntimeError(std::string("writing a memfd failed: ") + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  return fd;
}

namespace {
[[noreturn]] void boot_fail(const std::string& what) {
  write_stderr("tandem: cannot start the child process: " + what + "\n");
  ::_exit(1);
}
}  // namespace

void boot_worker(int payload_fd, int stop_fd, int expected_parent) noexcept {
  // The boot message: read it whole, then let the memfd go.
  std::vector<std::byte> bytes;
  BootMessage msg;
  try {
    struct stat st {};
    if (::fstat(payload_fd, &st) != 0) boot_fail("the boot message is missing");
    bytes.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::pread(payload_fd, bytes.data() + done, bytes.size() - done,
                                static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) boot_fail("the boot message cannot be read");
      done += static_cast<std::size_t>(n);
    }
    ::close(payload_fd);
    msg = tandem::deserialize<BootMessage>(bytes);
  } catch (const std::exception& e) {
    boot_fail(std::string("bad boot message: ") + e.what());
  }
  // The handshake: the task's offsets mean something only in the very same binary.
  const shipping::BuildId& mine = shipping::build_id();
  if (msg.build_id != mine.bytes() || msg.build_source != static_cast<std::uint8_t>(mine.source()))
    boot_fail("the parent runs another build of this program (this one: " + mine.describe() +
              ")");
  void* page = ::mmap(nullptr, sizeof(ProcessShared), PROT_READ | PROT_WRITE, MAP_SHARED,
                      stop_fd, 0);
  if (page == MAP_FAILED) boot_fail(std::string("mmap of the stop page: ") + std::strerror(errno));
  ::close(stop_fd);
  auto* shared = std::launder(static_cast<ProcessShared*>(page));

  // This process's module state, as child_main() sets it for fork.
  g_self = nullptr;
  g_identity = msg.identity;
  g_counter.store(0, std::memory_order_relaxed);
  g_current_name = msg.name;
  g_daemon_process = msg.daemon;
  g_warned_threads.store(false, std::memory_order_relaxed);
  if (msg.daemon) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    const int parent = expected_parent != 0 ? expected_parent : msg.parent_pid;
    if (static_cast<int>(::getppid()) != parent) ::raise(SIGKILL);
  }
  set_process_title(g_current_name);
  int code = 0;
  try {
    const shipping::ResolvedTask r = shipping::resolve(msg.task, shipping::TaskKind::process);
    reinterpret_cast<ProcessTrampoline>(r.trampoline)(r.function, msg.task.args,
                                                      TokenFactory::make(&shared->stop));
  } catch (...) {
    report_exception(g_current_name, std::current_exception());
    code = 1;
  }
  flush_all();
  ::_exit(code);
}

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

std::string current_process_name() { return g_current_name; }

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
      identity_(g_identity),
      daemon_(options.daemon),
      start_method_(options.start_method),
      target_(std::move(parts.target)),
      shipped_(std::move(parts.shipped)) {
  identity_.push_back(g_counter.fetch_add(1, std::memory_order_relaxed) + 1);
  name_ = options.name.empty() ? default_name(identity_) : std::move(options.name);
  // fork: an fd-less anonymous page (shm.hpp says why); spawn/forkserver: a memfd, since the
  // child must map the page from a descriptor.
  if (start_method_ != StartMethod::fork) {
    page_fd_ = static_cast<int>(::syscall(SYS_memfd_create, "tandem-stop", MFD_CLOEXEC));
    if (page_fd_ < 0 || ::ftruncate(page_fd_, sizeof(detail::ProcessShared)) != 0) {
      const int err = errno;
      if (page_fd_ >= 0) ::close(page_fd_);
      throw RuntimeError(std::string("memfd for the stop page: ") + std::strerror(err));
    }
  }
  void* p = ::mmap(nullptr, sizeof(detail::ProcessShared), PROT_READ | PROT_WRITE,
                   page_fd_ >= 0 ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS, page_fd_, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    if (page_fd_ >= 0) ::close(page_fd_);
    throw RuntimeError(std::string("mmap of the stop page failed: ") + std::strerror(err));
  }
  page_ = ::new (p) detail::ProcessShared();
}

Process::~Process() {
  try {
    const std::uint32_t ph = phase_.load(std::memory_order_acquire);
    if (g_self != this && in_creator() && ph == kRunning) {
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
  if (pidfd_ >= 0) ::close(pidfd_);
  if (status_fd_ >= 0) ::close(status_fd_);
  ::munmap(page_, sizeof(detail::ProcessShared));
  if (page_fd_ >= 0) ::close(page_fd_);
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
  if (g_daemon_process) fail("daemonic processes are not allowed to have children");
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
  flush_all();
  const int parent = static_cast<int>(::getpid());
  const pid_t pid = ::fork();
  if (pid < 0) fail(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) child_main(parent);
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
}

void Process::child_main(int parent_pid) noexcept {
  // Only this thread exists here. Rebuild the module state for this process first.
  g_self = this;
  g_identity = identity_;
  g_counter.store(0, std::memory_order_relaxed);
  g_current_name = name_;  // not name(): its lock may have been held by a thread at fork()
  g_daemon_process = daemon_;
  g_warned_threads.store(false, std::memory_order_relaxed);
  if (daemon_) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    // The parent may have died between fork() and prctl(): then nobody will send the signal.
    if (static_cast<int>(::getppid()) != parent_pid) ::raise(SIGKILL);
  }
  set_process_title(g_current_name);
  int code = 0;
  try {
    run();
  } catch (...) {
    report_exception(g_current_name, std::current_exception());
    code = 1;
  }
  flush_all();
  ::_exit(code);
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
    phase_.store(kReaped, std::memory_order_release);
    tandem::detail::futex_wake_all(phase_);
  } else {
    // Another thread is inside a waitid() (or the server's report) that is about to return.
    while (phase_.load(std::memory_order_acquire) != kReaped)
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
  join(duration(std::numeric_limits<double>::infinity()));
}

bool Process::join(duration timeout) {
  if (!in_creator()) throw RuntimeError("can only join a child process");
  const std::uint32_t ph = phase_.load(std::memory_order_acquire);
  if (ph < kRunning) throw RuntimeError("can only join a started process");
  if (ph == kReaped) return true;
  if (!wait_exit(tandem::detail::clamped_deadline(timeout))) return false;
  reap_now();
  return true;
}

bool Process::is_alive() {
  if (g_self == this) return true;
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
  if (g_self == this) {
    g_current_name = copy;
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
