// SPDX-License-Identifier: MIT
// tandem::mp::Process — the helpers shared by the three start methods (process_launch.hpp,
// process_state.hpp): output flushing, the thread count behind the fork() warning, the boot
// of a spawn/forkserver child, and the pool of stop words of fork-started Processes.
#include <cxxabi.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define TANDEM_HAVE_SINGLE_THREADED 1
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <new>

#include "multiprocessing/process_launch.hpp"
#include "multiprocessing/process_state.hpp"
#include "tandem/log.hpp"
#include "tandem/shipping/build_id.hpp"

namespace tandem::mp::detail {

struct TokenFactory {
  static StopToken make(std::atomic<std::uint32_t>* word) noexcept { return StopToken(word); }
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TANDEM_PROCESS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TANDEM_PROCESS_SANITIZED 1
#endif
#endif

void child_exit(int code) noexcept {
#ifdef TANDEM_PROCESS_SANITIZED
  ::_exit(code);
#else
  for (;;) ::syscall(SYS_exit_group, code);
#endif
}

int child_prctl(int option, unsigned long arg) noexcept {
  return static_cast<int>(::syscall(SYS_prctl, option, arg, 0UL, 0UL, 0UL));
}

void write_stderr(const std::string& text, LogLevel level) {
  // The handler gets the text without its final newline (<tandem/log.hpp>).
  std::string_view t(text);
  if (!t.empty() && t.back() == '\n') t.remove_suffix(1);
  tandem::log(level, "multiprocessing", t);
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
#ifdef TANDEM_HAVE_SINGLE_THREADED
  // glibc ≥ 2.32: true means no pthread_create() ever ran in this process — no syscall
  // needed, the common case of a program that forks workers before it starts threads.
  if (__libc_single_threaded) return false;
#endif
  // One stat(): procfs counts the threads in the link count of /proc/self/task (2 + the
  // number of threads), cheaper than listing the directory, which stays the fallback.
  struct stat st {};
  if (::stat("/proc/self/task", &st) == 0 && st.st_nlink >= 3) return st.st_nlink > 3;
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return false;
  int threads = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++threads;
  ::closedir(d);
  return threads > 1;
}

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

// ---- the stop-word pool -----------------------------------------------------------------------
// A fork-started Process used to mmap a page of its own: an mmap, a fresh shmem inode, a page
// fault on first touch and an munmap (with the inode's eviction) per process — a sixth of
// the parent's work in start+join. Words now come 1024 to a page, mapped once per process.
// A word is reused only after its Process object is gone, and ~Process first reaps the child
// (fork children cannot outlive the object unjoined), so no live child watches a recycled
// word — except a grandchild the child started with a copy of its StopToken and left running,
// which the old per-process page kept seeing and a recycled word may now stop early.

namespace {

void pool_after_fork_child() noexcept {
  // The parent's chunks belong to the parent's Processes; the child starts a pool of its
  // own (the inherited mappings stay: Process objects copied into the child point there).
  ::new (&g_mp.pool_mu) tandem::detail::FutexMutex();
  g_mp.first.words = nullptr;  // its bitmap is cleared when the child maps a page of its own
  g_mp.pool = nullptr;
}

}  // namespace

ProcessShared* acquire_stop_word() {
  g_mp.pool_mu.lock();
  struct Unlock {
    ~Unlock() { g_mp.pool_mu.unlock(); }
  } unlock;
  if (!g_mp.pool_atfork) {
    if (::pthread_atfork(nullptr, nullptr, &pool_after_fork_child) != 0)
      throw RuntimeError("pthread_atfork failed");
    g_mp.pool_atfork = true;
  }
  auto take = [](StopChunk& c) -> ProcessShared* {
    for (std::size_t i = 0; i < StopChunk::kWords / 64; ++i) {
      if (c.used[i] == ~std::uint64_t{0}) continue;
      const int bit = __builtin_ctzll(~c.used[i]);
      c.used[i] |= std::uint64_t{1} << bit;
      ProcessShared* w = &c.words[i * 64 + static_cast<std::size_t>(bit)];
      w->stop.store(0, std::memory_order_relaxed);
      return w;
    }
    return nullptr;
  };
  if (g_mp.first.words != nullptr) {
    if (ProcessShared* w = take(g_mp.first)) return w;
    for (StopChunk* c = g_mp.pool; c != nullptr; c = c->next)
      if (ProcessShared* w = take(*c)) return w;
  }
  void* p = ::mmap(nullptr, StopChunk::kBytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw RuntimeError(std::string("mmap of the stop page failed: ") + std::strerror(errno));
  StopChunk* c = &g_mp.first;
  if (g_mp.first.words != nullptr) {
    c = new StopChunk;
    c->next = g_mp.pool;
    g_mp.pool = c;
  }
  for (auto& u : c->used) u = 0;
  c->words = ::new (p) ProcessShared[StopChunk::kWords];
  return take(*c);
}

void release_stop_word(ProcessShared* word) noexcept {
  g_mp.pool_mu.lock();
  for (StopChunk* c = &g_mp.first; c != nullptr; c = c == &g_mp.first ? g_mp.pool : c->next) {
    if (c->words != nullptr && word >= c->words && word < c->words + StopChunk::kWords) {
      const auto i = static_cast<std::size_t>(word - c->words);
      c->used[i / 64] &= ~(std::uint64_t{1} << (i % 64));
      break;
    }
  }
  g_mp.pool_mu.unlock();
}

// ---- the boot of a spawn / forkserver child ---------------------------------------------------

namespace {
[[noreturn]] void boot_fail(const std::string& what) {
  write_stderr("tandem: cannot start the child process: " + what + "\n");
  child_exit(1);
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

  // This process's module state, as Process::child_main() sets it for fork. `msg` lives
  // until _exit(), so the identity can point into it.
  g_mp.self = nullptr;
  g_mp.identity = &msg.identity;
  g_mp.counter.store(0, std::memory_order_relaxed);
  g_mp.current_name = msg.name;
  g_mp.parent_pid = msg.parent_pid;
  g_mp.parent_name = msg.parent_name;
  g_mp.start_method.store(msg.start_method, std::memory_order_relaxed);  // as Python's spawn
  forget_children();  // a forkserver child is a copy of the server, itself a copy of the main
  g_mp.daemon_process = msg.daemon;
  g_mp.warned_threads.store(false, std::memory_order_relaxed);
  if (msg.daemon) {
    child_prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int parent = expected_parent != 0 ? expected_parent : msg.parent_pid;
    if (static_cast<int>(::syscall(SYS_getppid)) != parent) ::raise(SIGKILL);
  }
  set_process_title(g_mp.current_name);
  int code = 0;
  try {
    const shipping::ResolvedTask r = shipping::resolve(msg.task, shipping::TaskKind::process);
    reinterpret_cast<ProcessTrampoline>(r.trampoline)(r.function, msg.task.args,
                                                      TokenFactory::make(&shared->stop));
  } catch (...) {
    report_exception(g_mp.current_name, std::current_exception());
    code = 1;
  }
  flush_all();
  child_exit(code);
}

}  // namespace tandem::mp::detail
