// SPDX-License-Identifier: MIT
// Workloads "mp start fork", "mp start forkserver", "mp start spawn": mp::Process start()
// + join() of an empty target, K times in a row; the mean per process, in ms (issue 4:
// fork <= 0.3 ms, spawn <= 2 ms; CPython 1.8-3.1 / 11 / ~51 ms, ANCHORS.md). The floor:
// fork + exit + waitpid ~0.2 ms, posix_spawn of the program ~1.1 ms.
//
// spawn and forkserver need mp::init(argc, argv) at the top of main() (main.cpp has it):
// a spawned child is a fresh exec of tandem_compare that mp::init takes over; the fork
// server is started there while tandem_compare is still single-threaded.
// Peers: a bare fork() + _exit(0) + waitpid(), the physical floor of "mp start fork"; and
// posix_spawn() of this very program with a malformed spawn marker, so that the child exits
// in mp::init() (stderr to /dev/null) — exec, the dynamic loader and static initialisation
// of tandem_compare with nothing of tandem's boot: the floor of "mp start spawn".
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "compare/harness.hpp"
#include "tandem/multiprocessing/process.hpp"

namespace tandem_bench {
namespace {

namespace mp = tandem::mp;

void empty_target() {}

/// K is not Sizes::scaled(): that rounds up to 100, too many spawns for a warm-up.
std::size_t starts(const Sizes& s, double base) {
  return std::max<std::size_t>(3, static_cast<std::size_t>(base * s.scale));
}

double start_join(const Sizes& s, double base, mp::StartMethod method, const char* workload) {
  const std::size_t k = starts(s, base);
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < k; ++i) {
    mp::Process p(&empty_target, mp::ProcessOptions{.start_method = method});
    p.start();
    p.join();
    if (p.exitcode() != 0) fail(workload, "tandem::mp::Process", "the child failed");
  }
  return seconds_since(t0) * 1e3 / static_cast<double>(k);
}

const Register fork_start("mp start fork", "tandem::mp::Process", "ms/proc", [](const Sizes& s) {
  return start_join(s, 400, mp::StartMethod::fork, "mp start fork");
});

const Register raw_fork("mp start fork", "fork+_exit+waitpid", "ms/proc", [](const Sizes& s) {
  const std::size_t k = starts(s, 400);
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < k; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid || status != 0)
      fail("mp start fork", "fork+_exit+waitpid", "the child failed");
  }
  return seconds_since(t0) * 1e3 / static_cast<double>(k);
});

const Register forkserver_start("mp start forkserver", "tandem::mp::Process", "ms/proc",
                                [](const Sizes& s) {
  return start_join(s, 300, mp::StartMethod::forkserver, "mp start forkserver");
});

extern "C" char** environ;

const Register raw_spawn("mp start spawn", "posix_spawn+waitpid (same program)", "ms/proc",
                         [](const Sizes& s) {
  const std::size_t k = starts(s, 100);
  char arg0[] = "tandem_compare";
  char arg1[] = "--tandem-spawn=x";  // malformed: the child's mp::init() _exit(1)s at once
  char* argv[] = {arg0, arg1, nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < k; ++i) {
    pid_t pid = 0;
    int status = 0;
    if (::posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv, environ) != 0 ||
        ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 1)
      fail("mp start spawn", "posix_spawn+waitpid (same program)", "the child failed");
  }
  const double ms = seconds_since(t0) * 1e3 / static_cast<double>(k);
  posix_spawn_file_actions_destroy(&fa);
  return ms;
});

const Register spawn_start("mp start spawn", "tandem::mp::Process", "ms/proc", [](const Sizes& s) {
  return start_join(s, 100, mp::StartMethod::spawn, "mp start spawn");
});

}  // namespace
}  // namespace tandem_bench
