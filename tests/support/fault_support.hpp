// SPDX-License-Identifier: MIT
// Shared by the fault tests: what a test counts before and after to prove that nothing was
// left behind (descriptors, children, zombies, shared memory segments held), read from /proc.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <set>
#include <string>

namespace faulttest {

/// Open descriptors of this process.
inline int count_fds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

/// The parent pid of process `pid` from /proc/<pid>/stat, or -1 when it is gone.
inline int parent_of(int pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return -1;
  char buf[512];
  const std::size_t len = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[len] = 0;
  const char* close = std::strrchr(buf, ')');
  char state;
  int ppid;
  if (!close || std::sscanf(close + 2, "%c %d", &state, &ppid) != 2) return -1;
  return ppid;
}

/// Children of this process that still exist (zombies included).
inline int count_children() {
  int n = 0;
  const int me = static_cast<int>(getpid());
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      if (parent_of(std::atoi(e->d_name)) == me) ++n;
    }
    closedir(d);
  }
  return n;
}

/// Entries of a directory, but "." and "..".
inline int count_entries(const char* dir) {
  int n = 0;
  if (DIR* d = opendir(dir)) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
  }
  return n;
}

/// POSIX shared memory segments (/dev/shm entries) this process holds: mapped or open.
/// Not the whole of /dev/shm, which other tests running at the same time (SharedMemory,
/// the Python interop, MPI's transport) fill and empty: a count of it would flake under
/// `ctest -j`. Segments left named but held by nobody are the suite-wide leak check's
/// (tests/leakcheck), which runs after every test.
inline int count_shm() {
  std::set<std::string> held;
  if (FILE* f = std::fopen("/proc/self/maps", "r")) {
    char line[4096];
    while (std::fgets(line, sizeof line, f)) {
      const char* at = std::strstr(line, " /dev/shm/");
      if (at == nullptr) continue;
      std::string path(at + 1);
      while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
      held.insert(path);
    }
    std::fclose(f);
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char target[4096];
      const std::string link = std::string("/proc/self/fd/") + e->d_name;
      const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = 0;
      if (std::strncmp(target, "/dev/shm/", 9) == 0) held.insert(target);
    }
    closedir(d);
  }
  return static_cast<int>(held.size());
}

/// Threads of this process.
inline int count_threads() { return count_entries("/proc/self/task"); }

inline bool process_exists(int pid) { return kill(pid, 0) == 0; }

}  // namespace faulttest
