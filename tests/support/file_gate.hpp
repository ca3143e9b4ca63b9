// SPDX-License-Identifier: MIT
// Gates for the executor conformance suite: a task that stays running until the test lets
// it go, wherever the task runs — a pool thread, a pool process (fork, forkserver, spawn) or
// an MPI rank on this host. The test owns a temporary directory; a gate is a file name in
// it, open once the file exists. Every such process shares /tmp, so a file is the one signal
// they all see without a shared-memory object passed through the task.
//
// Guarantees
//  * wait_for_file(path, v) returns v once `path` exists, without sleeping: it watches the
//    directory with inotify(7) (set up before the first look, so a file created in between
//    is seen either way) and wakes on the creation. A slow 1 s re-check covers a missed
//    event (a 10 ms one stands in when no inotify instance is available). After kGateBound
//    (generous: a broken test fails, it never hangs) it throws std::runtime_error; it
//    throws at once when the directory does not exist.
//  * raise_when_file(path) waits the same way, then throws std::runtime_error.
//  * Gates::path(name) names a gate (creating the directory at the first call); open(name)
//    opens it, as open_gate(path) does from any thread. open_all() opens every gate named so
//    far — call it before the executor's shutdown(wait=true), which would otherwise wait
//    for the gated tasks. The destructor opens the remaining gates and removes the files
//    and the directory. Gates itself is for one thread.
#pragma once

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>

namespace conformance {

inline constexpr std::chrono::seconds kGateBound{120};

inline int wait_for_file(std::string path, int value) {
  using clock = std::chrono::steady_clock;
  const std::string dir = path.substr(0, path.rfind('/'));
  if (::access(dir.c_str(), F_OK) != 0)
    throw std::runtime_error("wait_for_file: no directory " + dir);
  // Without an inotify instance (the per-user limit, 128 by default, is shared with every
  // other program) the loop below still works, re-checking every 10 ms.
  int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd >= 0 && ::inotify_add_watch(fd, dir.c_str(), IN_CREATE | IN_MOVED_TO) < 0) {
    ::close(fd);
    fd = -1;
  }
  const auto deadline = clock::now() + kGateBound;
  for (;;) {
    if (::access(path.c_str(), F_OK) == 0) break;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("wait_for_file: the gate never opened: " + path);
    }
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::min<long long>(left, fd >= 0 ? 1000 : 10)));
    char events[4096];
    while (fd >= 0 && ::read(fd, events, sizeof events) > 0) {
    }
  }
  if (fd >= 0) ::close(fd);
  return value;
}

inline int raise_when_file(std::string path) {
  wait_for_file(path, 0);
  throw std::runtime_error("this is an exception");
}

/// Opens the gate at `path` (creates the file).
inline void open_gate(const std::string& path) {
  if (std::FILE* f = std::fopen(path.c_str(), "w")) std::fclose(f);
}

class Gates {
 public:
  Gates() = default;
  Gates(const Gates&) = delete;
  Gates& operator=(const Gates&) = delete;
  ~Gates() {
    open_all();
    for (const std::string& n : names_) std::remove(file(n).c_str());
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }

  std::string path(const std::string& name) {
    if (dir_.empty()) {
      char tmpl[] = "/tmp/tandem_conformance_XXXXXX";
      if (!::mkdtemp(tmpl)) throw std::runtime_error("Gates: mkdtemp failed");
      dir_ = tmpl;
    }
    names_.insert(name);
    return file(name);
  }
  void open(const std::string& name) { open_gate(path(name)); }
  void open_all() {
    for (const std::string& n : names_) open(n);
  }

 private:
  std::string file(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
  std::set<std::string> names_;
};

}  // namespace conformance
