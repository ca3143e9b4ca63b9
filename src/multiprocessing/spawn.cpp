// SPDX-License-Identifier: MIT
// StartMethod::spawn — see <tandem/multiprocessing/process.hpp> ("Start methods").
//
// Parent: the boot message goes into a memfd; posix_spawn() runs /proc/self/exe (the very
// file this process runs, even if it was replaced on disk since) with argv
// {argv0, "--tandem-spawn=P,S"}, where P and S are the descriptors the child finds the boot
// memfd and the stop-page memfd at (dup2'ed there by the spawn's file actions; both are
// CLOEXEC in the parent, so no other child inherits them). The child's signal mask is emptied
// and every signal reset to its default. Then pidfd_open(): the child is our own, reaped with
// waitid(P_PIDFD) as with fork.
// Child: main() → mp::init() sees the marker → boot_worker(), which never returns.
// posix_spawn uses clone(CLONE_VM|CLONE_VFORK) in glibc: no copy of the parent's memory, so
// the cost is the exec and the dynamic loader (ANCHORS.md: ~1.1 ms).
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "multiprocessing/process_launch.hpp"
#include "tandem/errors.hpp"

extern char** environ;

namespace tandem::mp::detail {
namespace {

constexpr const char kMarker[] = "--tandem-spawn=";

std::string g_argv0 = "tandem-worker";  // saved by spawn_child_entry (called by mp::init)

}  // namespace

void spawn_child_entry(int argc, char** argv) {
  if (argc >= 1 && argv && argv[0]) g_argv0 = argv[0];
  if (argc < 2 || argv == nullptr || argv[1] == nullptr ||
      std::strncmp(argv[1], kMarker, sizeof kMarker - 1) != 0)
    return;
  char* end = nullptr;
  const long payload = std::strtol(argv[1] + sizeof kMarker - 1, &end, 10);
  if (*end != ',') {
    write_stderr(std::string("tandem: malformed spawn marker ") + argv[1] + "\n");
    ::_exit(1);
  }
  const long stop = std::strtol(end + 1, nullptr, 10);
  boot_worker(static_cast<int>(payload), static_cast<int>(stop), 0);
}

Launched spawn_worker(const std::vector<std::byte>& boot, int stop_fd) {
  const int payload = bytes_to_memfd(boot, "tandem-boot");
  // Targets above both sources, so that one dup2 cannot clobber the other's source.
  const int p_target = std::max(payload, stop_fd) + 1, s_target = p_target + 1;
  const std::string marker =
      kMarker + std::to_string(p_target) + "," + std::to_string(s_target);
  std::string arg0 = g_argv0;
  char* argv[] = {arg0.data(), const_cast<char*>(marker.c_str()), nullptr};

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&fa, payload, p_target);
  posix_spawn_file_actions_adddup2(&fa, stop_fd, s_target);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(payload);
  if (rc != 0) throw RuntimeError(std::string("posix_spawn failed: ") + std::strerror(rc));
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    siginfo_t si{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED) < 0 && errno == EINTR) {
    }
    throw RuntimeError(std::string("pidfd_open failed (Linux 5.3 or later is needed): ") +
                       std::strerror(err));
  }
  return {static_cast<int>(pid), pidfd, -1};
}

}  // namespace tandem::mp::detail
