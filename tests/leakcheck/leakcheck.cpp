// SPDX-License-Identifier: MIT
// tandem_leakcheck — the suite-wide check that nothing outlives the tests (issue 4: "no
// leaked processes, zombies or shared-memory segments after the suite"). Run by CTest as the
// setup and the cleanup of the fixture `tandem_leakcheck` (tests/leakcheck/CMakeLists.txt):
//
//   tandem_leakcheck baseline <state-file> <build-dir>   before every other test
//   tandem_leakcheck check    <state-file> <build-dir>   after every other test
//
// What counts as ours: a process whose executable (/proc/<pid>/exe, " (deleted)" stripped)
// lies inside <build-dir>. That covers every test binary and what it starts — fork()ed
// children and grandchildren (also once re-parented to init or to a subreaper), spawned
// children (an exec of /proc/self/exe), fork servers and manager servers (forks) — and
// nothing of another build tree or of the system, so concurrent runs in other build
// directories and unrelated processes are never reported nor touched. Processes that were
// already there at `baseline` (same pid and same start time) are not ours to judge.
//
// `check` reports, then removes, and exits 1 if it found any:
//  * our processes still alive. They get up to kGrace to go by themselves first (a fork
//    server or a daemon child ends a moment after its parent: that is not a leak). The wait
//    is on pidfds, not a sleep. Then each is SIGKILLed through its pidfd (which names that
//    very process, never a recycled pid) and awaited.
//  * zombies whose parent is one of our processes (a child never reaped).
//  * /dev/shm entries that appeared since `baseline`, owned by this user and held open or
//    mapped by no process outside our tree (tandem itself uses memfds only, so any such
//    entry is a leak of a test or a regression); they are unlinked. Entries that another
//    process (another build's test run, say) holds are left alone.
// The state file holds "P <pid> <starttime>" and "S <name>" lines. Linux only; run as any
// user (as root, /proc shows every process; as a user, our processes are all readable).
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr auto kGrace = std::chrono::seconds(30);

struct Proc {
  int pid = 0, ppid = 0;
  char state = '?';
  unsigned long long start = 0;  // clock ticks after boot: with the pid, one process
  std::string exe;               // empty when unreadable (zombie, kernel thread, EACCES)
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string exe_of(int pid) {
  char buf[PATH_MAX];
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string exe(buf, static_cast<std::size_t>(n));
  const std::string deleted = " (deleted)";
  if (exe.size() > deleted.size() && exe.ends_with(deleted)) exe.resize(exe.size() - deleted.size());
  return exe;
}

std::map<int, Proc> scan() {
  std::map<int, Proc> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end != 0 || pid <= 0) continue;
    const std::string stat = read_file("/proc/" + std::string(e->d_name) + "/stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;  // gone meanwhile
    std::istringstream f(stat.substr(close + 2));
    Proc p;
    p.pid = static_cast<int>(pid);
    std::string skip;
    f >> p.state >> p.ppid;
    for (int field = 5; field < 22; ++field) f >> skip;  // fields 5..21
    f >> p.start;
    if (!f) continue;
    p.exe = exe_of(p.pid);
    out[p.pid] = p;
  }
  ::closedir(d);
  return out;
}

std::set<std::string> shm_entries() {
  std::set<std::string> out;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') out.insert(e->d_name);
    ::closedir(d);
  }
  return out;
}

struct Checker {
  std::string tree;  // "<build-dir>/"
  std::string self_exe = exe_of(static_cast<int>(::getpid()));
  std::set<std::pair<int, unsigned long long>> baseline;

  bool ours(const Proc& p) const {
    return p.pid != ::getpid() && !p.exe.empty() && p.exe != self_exe &&
           p.exe.compare(0, tree.size(), tree) == 0 && !baseline.count({p.pid, p.start});
  }
  /// Our processes, and zombies whose parent is one of ours.
  std::vector<Proc> leaked(bool with_zombies) const {
    const auto all = scan();
    std::vector<Proc> out;
    for (const auto& [pid, p] : all) {
      if (p.state == 'Z') {
        const auto parent = all.find(p.ppid);
        if (with_zombies && parent != all.end() && ours(parent->second)) out.push_back(p);
      } else if (ours(p)) {
        out.push_back(p);
      }
    }
    return out;
  }
};

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

/// Waits (on pidfds) until none of `ps` is alive or `until` passes.
void await_exit(const std::vector<Proc>& ps, std::chrono::steady_clock::time_point until) {
  std::vector<pollfd> fds;
  for (const Proc& p : ps)
    if (const int fd = pidfd_open(p.pid); fd >= 0) fds.push_back({fd, POLLIN, 0});
  std::size_t open = fds.size();
  while (open > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (pollfd& f : fds) {
      if (f.fd >= 0 && f.revents != 0) {
        ::close(f.fd);
        f.fd = -1;  // poll ignores negative fds
        --open;
      }
    }
  }
  for (const pollfd& f : fds)
    if (f.fd >= 0) ::close(f.fd);
}

std::string describe(const Proc& p) {
  std::string cmd = read_file("/proc/" + std::to_string(p.pid) + "/cmdline");
  for (char& c : cmd)
    if (c == 0) c = ' ';
  return "pid " + std::to_string(p.pid) + " ppid " + std::to_string(p.ppid) + " state " +
         p.state + " exe " + (p.exe.empty() ? "?" : p.exe) + " cmdline: " + cmd;
}

/// Whether some process outside our tree has /dev/shm/<name> open or mapped.
bool held_by_others(const std::string& name, const Checker& c) {
  const std::string path = "/dev/shm/" + name;
  for (const auto& [pid, p] : scan()) {
    if (c.ours(p) || pid == ::getpid()) continue;
    const std::string dir = "/proc/" + std::to_string(pid);
    if (read_file(dir + "/maps").find(path) != std::string::npos) return true;
    if (DIR* d = ::opendir((dir + "/fd").c_str())) {
      bool found = false;
      while (dirent* e = ::readdir(d)) {
        char buf[PATH_MAX];
        const ssize_t n = ::readlinkat(::dirfd(d), e->d_name, buf, sizeof buf - 1);
        if (n > 0 && std::string(buf, static_cast<std::size_t>(n)) == path) found = true;
      }
      ::closedir(d);
      if (found) return true;
    }
  }
  return false;
}

int baseline(const std::string& file, Checker& c) {
  std::ofstream out(file, std::ios::trunc);
  int n = 0;
  for (const auto& [pid, p] : scan()) {
    if (c.ours(p)) {
      out << "P " << pid << ' ' << p.start << '\n';
      ++n;
    }
  }
  for (const std::string& s : shm_entries()) out << "S " << s << '\n';
  out.close();
  if (!out) {
    std::cerr << "tandem_leakcheck: cannot write " << file << '\n';
    return 2;
  }
  std::cout << "baseline: " << n << " process(es) of " << c.tree << " already running, "
            << shm_entries().size() << " /dev/shm entries\n";
  return 0;
}

int check(const std::string& file, Checker& c) {
  std::ifstream in(file);
  if (!in) {
    std::cerr << "tandem_leakcheck: no baseline at " << file << " (the setup test did not run)\n";
    return 2;
  }
  std::set<std::string> shm_before;
  for (std::string kind; in >> kind;) {
    if (kind == "P") {
      int pid = 0;
      unsigned long long start = 0;
      in >> pid >> start;
      c.baseline.insert({pid, start});
    } else {
      std::string name;
      in >> name;
      shm_before.insert(name);
    }
  }
  int failures = 0;
  // Processes: let those on their way out go, then report and kill the rest.
  const auto until = std::chrono::steady_clock::now() + kGrace;
  // (Zombies are not waited for: their pidfds are readable at once, and only the death of
  // their parent, itself one of ours and waited for here, can clear them.)
  for (auto ps = c.leaked(false); !ps.empty() && std::chrono::steady_clock::now() < until;
       ps = c.leaked(false))
    await_exit(ps, until);
  const auto ps = c.leaked(true);
  for (const Proc& p : ps) {
    std::cout << (p.state == 'Z' ? "LEAKED ZOMBIE: " : "LEAKED PROCESS: ") << describe(p) << '\n';
    ++failures;
  }
  for (const Proc& p : ps) {
    if (p.state == 'Z') continue;  // reaped by init once its parent is killed below
    if (const int fd = pidfd_open(p.pid); fd >= 0) {
      ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
      ::close(fd);
    }
  }
  await_exit(ps, std::chrono::steady_clock::now() + std::chrono::seconds(30));
  // Shared memory created during the run and left behind.
  for (const std::string& name : shm_entries()) {
    if (shm_before.count(name)) continue;
    struct stat st {};
    const std::string path = "/dev/shm/" + name;
    if (::stat(path.c_str(), &st) != 0 || st.st_uid != ::geteuid()) continue;
    if (held_by_others(name, c)) continue;
    std::cout << "LEAKED /dev/shm ENTRY: " << path << " (unlinked)\n";
    ::unlink(path.c_str());
    ++failures;
  }
  if (failures != 0) {
    std::cout << failures << " leak(s) after the suite (see above; the processes were killed)\n";
    return 1;
  }
  std::cout << "no leaked processes, zombies or /dev/shm entries under " << c.tree << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || (std::strcmp(argv[1], "baseline") != 0 && std::strcmp(argv[1], "check") != 0)) {
    std::cerr << "usage: tandem_leakcheck baseline|check <state-file> <build-dir>\n";
    return 2;
  }
  char real[PATH_MAX];
  if (::realpath(argv[3], real) == nullptr) {
    std::cerr << "tandem_leakcheck: no build directory " << argv[3] << '\n';
    return 2;
  }
  Checker c;
  c.tree = std::string(real) + "/";
  return std::strcmp(argv[1], "baseline") == 0 ? baseline(argv[2], c) : check(argv[2], c);
}
