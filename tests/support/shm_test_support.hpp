// SPDX-License-Identifier: MIT
// Helpers for the tests of mp::SharedMemory / ShareableList / SharedMemoryManager: whether a
// segment exists, a bounded wait for a condition, the children of a process, and running
// the real python3 on a script.
//
// Python 3.11's resource_tracker unlinks, when the interpreter exits, every segment it
// created *or attached to*; the scripts that attach to a tandem segment therefore call
// untrack() (from kPrelude: resource_tracker.unregister) right after attaching, and the scripts that create
// one unlink it themselves once tandem has read it.
#pragma once

#include <poll.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "support/fault_support.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/subprocess.hpp"

namespace shmtest {

inline bool shm_exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

/// Polls `done` every few milliseconds (poll() ticks, no fixed sleep) until it holds or
/// `limit` passes; returns whether it held.
inline bool wait_until(const std::function<bool()>& done,
                       tandem::duration limit = std::chrono::seconds(60)) {
  const auto dl = tandem::detail::Deadline::after(limit);
  while (!done()) {
    if (dl.expired()) return done();
    ::poll(nullptr, 0, 5);
  }
  return true;
}

/// Processes whose parent is `pid`.
inline std::vector<int> children_of(int pid) {
  std::vector<int> out;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      const int child = std::atoi(e->d_name);
      if (faulttest::parent_of(child) == pid) out.push_back(child);
    }
    closedir(d);
  }
  return out;
}

/// Shared mappings of process `pid` (lines of /proc/<pid>/maps whose permissions end in
/// 's'), or -1 when it cannot be read.
inline int shared_mappings(int pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  if (!maps) return -1;
  int n = 0;
  for (std::string line; std::getline(maps, line);) {
    const auto space = line.find(' ');
    if (space != std::string::npos && line.size() > space + 4 && line[space + 4] == 's') ++n;
  }
  return n;
}

/// What every script starts with: sys, shared_memory, and untrack(shm), which takes a
/// SharedMemory off this interpreter's resource tracker.
inline const std::string kPrelude =
    "import sys\n"
    "from multiprocessing import resource_tracker, shared_memory\n"
    "def untrack(shm): resource_tracker.unregister(shm._name, 'shared_memory')\n";

/// Runs `python3 -c script args...`, stdout captured; the test fails on a non-zero exit.
inline std::string python(const std::string& script, std::vector<std::string> args = {}) {
  std::vector<std::string> argv{"python3", "-c", kPrelude + script};
  argv.insert(argv.end(), args.begin(), args.end());
  tandem::subprocess::RunOptions o;
  o.capture_output = true;
  const auto r = tandem::subprocess::run(argv, o);
  if (r.returncode != 0)
    throw std::runtime_error("python3 failed (" + std::to_string(r.returncode) + "): " + r.stderr_);
  return r.stdout_;
}

/// A python3 child whose stdin/stdout are pipes, for a line-by-line hand-shake.
inline tandem::subprocess::Popen python_session(const std::string& script) {
  tandem::subprocess::PopenOptions o;
  o.stdin_ = tandem::subprocess::PIPE;
  o.stdout_ = tandem::subprocess::PIPE;
  return tandem::subprocess::Popen({"python3", "-u", "-c", kPrelude + script}, o);
}

/// Strips one trailing newline.
inline std::string chomp(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace shmtest
