// SPDX-License-Identifier: MIT
// Test helpers: real child processes made with fork(), and pipes to hand-shake with them.
// A child runs a callable returning its exit code (0 = success); an exception gives 99.
// Every child arms alarm(60), so a child that would hang dies with SIGALRM and the test
// fails instead of hanging.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <stdexcept>

namespace mptest {

/// Exit status as Python's exitcode: the code, or -N when killed by signal N.
inline int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1000;
}

struct Child {
  pid_t pid = -1;
  explicit Child(pid_t p) noexcept : pid(p) {}
  Child(Child&& o) noexcept : pid(o.pid) { o.pid = -1; }
  Child& operator=(Child&&) = delete;
  /// Waits for the child and returns its exit code (or -signal).
  int join() {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
    }
    pid = -1;
    return decode(status);
  }
  void kill(int sig = SIGKILL) const { ::kill(pid, sig); }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      join();
    }
  }
};

template <class F>
Child fork_child(F f) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::alarm(60);
    int rc = 99;
    try {
      rc = f();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: exception: %s\n", e.what());
    } catch (...) {
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  return Child{pid};
}

/// A one-way pipe for "I am ready" hand-shakes between processes.
struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (::pipe2(fd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  }
  ~Pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  Pipe(const Pipe&) = delete;
  void signal(char c = 'x') const {
    while (::write(fd[1], &c, 1) != 1) {
    }
  }
  /// The next byte, or 0 at end of file (every writer gone).
  char wait() const {
    char c = 0;
    for (;;) {
      const ssize_t n = ::read(fd[0], &c, 1);
      if (n == 1) return c;
      if (n == 0) return 0;
    }
  }
};

inline long long monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

/// Open fds of this process (to check that a suite leaks none).
inline int count_open_fds() {
  int n = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) != -1) ++n;
  return n;
}

}  // namespace mptest
