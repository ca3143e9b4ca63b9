// SPDX-License-Identifier: MIT
// Helpers for the multiprocessing tests: cross-process events and slots in shared memory,
// pipes, and a fixture that checks that a test leaves no zombie and no open fd behind.
//
// gtest and fork(): a child never uses EXPECT/ASSERT (its failures would be lost with it);
// it reports through shared memory, a pipe or its exit code, and the parent checks.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "tandem/detail/wait.hpp"
#include "tandem/multiprocessing/detail/shm.hpp"

namespace mptest {

using tandem::detail::Deadline;
using tandem::detail::Scope;

/// A one-shot event usable across fork(): place it in a SharedPage.
struct SharedEvent {
  std::atomic<std::uint32_t> word{0};
  void set() {
    word.store(1, std::memory_order_release);
    tandem::detail::futex_wake_all(word, Scope::shared);
  }
  bool is_set() const { return word.load(std::memory_order_acquire) != 0; }
  /// Generous timeouts only: a loaded 2-core machine can be slow to schedule a child.
  bool wait(tandem::duration timeout = tandem::duration(60)) const {
    const Deadline dl = Deadline::after(timeout);
    while (!is_set())
      if (!tandem::detail::futex_wait(word, 0, dl, Scope::shared) && dl.expired()) return is_set();
    return true;
  }
};

/// A small shared blackboard for child → parent reports.
struct Board {
  SharedEvent ready, go, done;
  std::atomic<int> value{0};
  std::atomic<int> pid{0};
  std::atomic<int> count{0};
  char text[128];
  void put_text(const std::string& s) {
    std::size_t n = std::min(s.size(), sizeof text - 1);
    std::memcpy(text, s.data(), n);
    text[n] = 0;
  }
};

template <class T>
using Shared = tandem::mp::detail::SharedPage<T>;

/// A pipe whose ends close with the object (O_CLOEXEC, so nothing leaks into exec()s).
struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      r = fds[0];
      w = fds[1];
    }
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (r >= 0) ::close(r);
    r = -1;
  }
  void close_write() {
    if (w >= 0) ::close(w);
    w = -1;
  }
  /// Reads until EOF (every write end closed).
  std::string read_all() {
    std::string out;
    char buf[512];
    for (;;) {
      ssize_t n = ::read(r, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  void write_str(const std::string& s) const {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::write(w, s.data() + off, s.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
};

inline int count_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

/// A fork()ed child running f() -> its exit code (an exception: 98, its what() on stderr).
/// alarm(60) turns a hang into a failure. The child never touches gtest.
template <class F>
pid_t spawn(F f) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::alarm(60);
    int rc = 98;
    try {
      rc = f();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    } catch (...) {
    }
    ::_exit(rc);
  }
  return pid;
}
/// Reaps `pid`: its exit code, or -signal if a signal ended it.
inline int join(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

/// Every test must leave no child behind (neither running nor a zombie) and no fd open.
class ProcessFixture : public ::testing::Test {
 protected:
  void SetUp() override { fds_before_ = count_fds(); }
  void TearDown() override {
    errno = 0;
    const pid_t r = ::waitpid(-1, nullptr, WNOHANG);
    EXPECT_EQ(r, -1) << "a child process was left behind (pid " << r << ")";
    EXPECT_EQ(errno, ECHILD);
    EXPECT_EQ(count_fds(), fds_before_) << "file descriptors leaked";
  }

 private:
  int fds_before_ = 0;
};

}  // namespace mptest
