// SPDX-License-Identifier: MIT
// The child is started by glibc's posix_spawn, which since 2.24 runs the child with
// clone(CLONE_VM|CLONE_VFORK) on a separate stack (no copy of the parent's page tables) and
// reports an exec failure's errno to the parent. Everything Popen needs maps to spawn
// attributes and file actions, except the umask: for that one option the child is started with
// vfork(2) and a close-on-exec error pipe, the scheme of CPython's _posixsubprocess.
#include "subprocess/spawn.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "tandem/errors.hpp"

extern char** environ;

namespace tandem::subprocess::detail {

int pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int pidfd_send_signal(int pidfd, int sig) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

bool reap_pidfd(int pidfd, bool block, int& returncode) noexcept {
  siginfo_t si{};
  int r;
  do r = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED | (block ? 0 : WNOHANG));
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    returncode = 0;  // ECHILD: reaped behind our back (SIGCHLD ignored); Python says 0 too
    return true;
  }
  if (si.si_pid == 0) return false;
  returncode = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
  return true;
}

namespace {

// Descriptors opened for the child (pipe ends, files); closed when the parent is done.
struct FdList {
  std::vector<int> fds;
  ~FdList() {
    for (int fd : fds) ::close(fd);
  }
  int keep(int fd) {
    fds.push_back(fd);
    return fd;
  }
};

// What the child does before exec, in order; applied by posix_spawn's file actions, or by hand
// in the vfork child.
struct Action {
  enum Kind { dup2, open_null, close, close_from, chdir } kind;
  int fd = -1, target = -1;
  const char* path = nullptr;
};

void check_no_nul(const std::string& s, const char* what) {
  if (s.find('\0') != std::string::npos) throw ValueError(std::string("embedded null byte in ") + what);
}

// A descriptor ≥ 3 (close-on-exec) so that dup2 onto 0-2 never clobbers a later source.
int above_stdio(int fd, FdList& owned) {
  if (fd >= 3) return fd;
  int hi = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (hi < 0) raise_os_error(errno);
  return owned.keep(hi);
}

struct Plan {
  std::vector<Action> actions;
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, envp;
  char** env = environ;
  std::string program;    // as given, or resolved against the child's PATH
  bool search = false;    // posix_spawnp: search the parent's PATH
  std::string cwd;
  int parent_end[3] = {-1, -1, -1};
  FdList owned;
};

void redirect(Plan& plan, const Redirect& r, int target, const char* name) {
  if (std::holds_alternative<Inherit>(r)) return;
  if (std::holds_alternative<ToStdout>(r)) {
    if (target != 2) throw ValueError(std::string("STDOUT is only valid for stderr, not ") + name);
    plan.actions.push_back({Action::dup2, 1, 2});
    return;
  }
  if (std::holds_alternative<DevNull>(r)) {
    plan.actions.push_back({Action::open_null, -1, target, "/dev/null"});
    return;
  }
  int child_fd;
  if (std::holds_alternative<Pipe>(r)) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) raise_os_error(errno);
    int mine = target == 0 ? p[1] : p[0];
    child_fd = target == 0 ? p[0] : p[1];
    plan.parent_end[target] = mine;
    plan.owned.keep(child_fd);
  } else if (auto* given = std::get_if<int>(&r)) {
    if (*given < 0) throw ValueError(std::string("bad file descriptor for ") + name);
    child_fd = *given;
  } else {
    const auto& path = std::get<std::filesystem::path>(r);
    int flags = target == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC;
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0666);
    if (fd < 0) raise_os_error(errno, path.string());
    child_fd = plan.owned.keep(fd);
  }
  if (child_fd != target) child_fd = above_stdio(child_fd, plan.owned);
  plan.actions.push_back({Action::dup2, child_fd, target});
}

// execvp's search, done in the parent against the PATH the child will have (Python's
// os.get_exec_path(env)); the first executable candidate, else the first that exists (for its
// EACCES), else the name itself (ENOENT).
std::string resolve(const std::string& name, const std::string& path) {
  std::string first_existing;
  std::size_t start = 0;
  for (;;) {
    std::size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string cand = (dir.empty() ? std::string(".") : dir) + "/" + name;
    struct stat st;
    if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(cand.c_str(), X_OK) == 0) return cand;
      if (first_existing.empty()) first_existing = cand;
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return first_existing.empty() ? name : first_existing;
}

void build_command(Plan& plan, const std::vector<std::string>& args, const PopenOptions& o) {
  if (args.empty()) throw ValueError("args must not be empty");
  for (const auto& a : args) check_no_nul(a, "argument");
  if (o.shell) {
    plan.argv_s = {"/bin/sh", "-c"};
    plan.argv_s.insert(plan.argv_s.end(), args.begin(), args.end());
  } else {
    plan.argv_s = args;
  }
  plan.program = o.executable.value_or(plan.argv_s[0]);
  check_no_nul(plan.program, "executable");
  for (auto& a : plan.argv_s) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);

  const std::string* child_path = nullptr;
  if (o.env || !o.env_extra.empty()) {
    std::map<std::string, std::string> env;
    if (o.env) {
      env = *o.env;
    } else {
      for (char** e = environ; *e; ++e) {
        const char* eq = std::strchr(*e, '=');
        if (eq) env.emplace(std::string(*e, static_cast<std::size_t>(eq - *e)), std::string(eq + 1));
      }
    }
    for (const auto& [k, v] : o.env_extra) env[k] = v;
    for (const auto& [k, v] : env) {
      if (k.empty() || k.find('=') != std::string::npos) throw ValueError("illegal environment variable name");
      check_no_nul(k, "environment");
      check_no_nul(v, "environment");
      plan.env_s.push_back(k + "=" + v);
    }
    for (auto& e : plan.env_s) plan.envp.push_back(e.data());
    plan.envp.push_back(nullptr);
    plan.env = plan.envp.data();
    if (o.env) {
      static const std::string defpath = "/bin:/usr/bin";  // Python's os.defpath
      auto it = env.find("PATH");
      if (plan.program.find('/') == std::string::npos)
        plan.program = resolve(plan.program, it == env.end() ? defpath : it->second);
      child_path = &plan.program;
    } else if (o.env_extra.count("PATH") && plan.program.find('/') == std::string::npos) {
      plan.program = resolve(plan.program, o.env_extra.at("PATH"));
      child_path = &plan.program;
    }
  }
  plan.search = !child_path && plan.program.find('/') == std::string::npos;
}

void build_fds(Plan& plan, const PopenOptions& o) {
  if (o.cwd) {
    plan.cwd = o.cwd->string();
    check_no_nul(plan.cwd, "cwd");
    struct stat st;
    if (::stat(plan.cwd.c_str(), &st) != 0) raise_os_error(errno, plan.cwd);
    if (!S_ISDIR(st.st_mode)) raise_os_error(ENOTDIR, plan.cwd);
  }
  redirect(plan, o.stdin_, 0, "stdin");
  redirect(plan, o.stdout_, 1, "stdout");
  redirect(plan, o.stderr_, 2, "stderr");
  std::set<int> pass(o.pass_fds.begin(), o.pass_fds.end());
  for (int fd : pass) {
    if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) raise_os_error(EBADF, "pass_fds entry " + std::to_string(fd));
    if (fd > 2) plan.actions.push_back({Action::dup2, fd, fd});  // clears FD_CLOEXEC in the child
  }
  if (o.close_fds) {
    // close_range's gaps around pass_fds, as CPython's _close_open_fds: below the highest
    // passed fd, only inheritable ones need closing (the others close at exec anyway).
    int lo = 3;
    for (int fd : pass) {
      if (fd < 3) continue;
      for (int g = lo; g < fd; ++g) {
        int fl = ::fcntl(g, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC)) plan.actions.push_back({Action::close, g});
      }
      lo = fd + 1;
    }
    plan.actions.push_back({Action::close_from, lo});
  }
  if (!plan.cwd.empty()) plan.actions.push_back({Action::chdir, -1, -1, plan.cwd.c_str()});
}

int spawn_posix(Plan& plan, const PopenOptions& o, pid_t& pid) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  for (const Action& a : plan.actions) {
    switch (a.kind) {
      case Action::dup2: posix_spawn_file_actions_adddup2(&fa, a.fd, a.target); break;
      case Action::open_null: posix_spawn_file_actions_addopen(&fa, a.target, a.path, a.target == 0 ? O_RDONLY : O_WRONLY, 0); break;
      case Action::close: posix_spawn_file_actions_addclose(&fa, a.fd); break;
      case Action::close_from: posix_spawn_file_actions_addclosefrom_np(&fa, a.fd); break;
      case Action::chdir: posix_spawn_file_actions_addchdir_np(&fa, a.path); break;
    }
  }
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  if (o.start_new_session) flags |= POSIX_SPAWN_SETSID;
  if (o.process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&at, *o.process_group);
  }
  posix_spawnattr_setflags(&at, flags);
  int rc = plan.search ? ::posix_spawnp(&pid, plan.program.c_str(), &fa, &at, plan.argv.data(), plan.env)
                       : ::posix_spawn(&pid, plan.program.c_str(), &fa, &at, plan.argv.data(), plan.env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  return rc;
}

// The vfork child: only async-signal-safe calls, then exec or report errno on `errpipe`.
[[noreturn]] void vfork_child(const Plan& plan, const PopenOptions& o, const char* program, int errpipe) {
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  int err = 0;
  for (const Action& a : plan.actions) {
    int r = 0;
    switch (a.kind) {
      case Action::dup2:
        r = a.fd == a.target ? ::fcntl(a.fd, F_SETFD, 0) : ::dup2(a.fd, a.target);
        break;
      case Action::open_null: {
        int fd = ::open(a.path, a.target == 0 ? O_RDONLY : O_WRONLY);
        r = fd < 0 ? -1 : fd == a.target ? 0 : ::dup2(fd, a.target);
        if (fd >= 0 && fd != a.target) ::close(fd);
        break;
      }
      case Action::close: ::close(a.fd); break;
      case Action::close_from:  // everything from a.fd up, but the error pipe
        if (a.fd < errpipe) ::close_range(static_cast<unsigned>(a.fd), static_cast<unsigned>(errpipe - 1), 0);
        ::close_range(static_cast<unsigned>(std::max(a.fd, errpipe + 1)), ~0u, 0);
        break;
      case Action::chdir: r = ::chdir(a.path); break;
    }
    if (r < 0) {
      err = errno;
      break;
    }
  }
  if (!err && o.start_new_session && ::setsid() < 0) err = errno;
  if (!err && o.process_group && ::setpgid(0, *o.process_group) < 0) err = errno;
  if (!err) {
    ::umask(*o.umask);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(program, plan.argv.data(), plan.env);
    err = errno;
  }
  while (::write(errpipe, &err, sizeof err) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

int spawn_vfork(Plan& plan, const PopenOptions& o, pid_t& pid) {
  if (plan.search) {
    const char* path = std::getenv("PATH");
    plan.program = resolve(plan.program, path ? path : "/bin:/usr/bin");
  }
  int ep[2];
  if (::pipe2(ep, O_CLOEXEC) != 0) return errno;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // no handler may run in the child sharing our memory
  pid = ::vfork();
  if (pid == 0) vfork_child(plan, o, plan.program.c_str(), ep[1]);
  int saved = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(ep[1]);
  if (pid < 0) {
    ::close(ep[0]);
    return saved;
  }
  int err = 0;
  ssize_t n;
  do n = ::read(ep[0], &err, sizeof err);
  while (n < 0 && errno == EINTR);
  ::close(ep[0]);
  if (n == sizeof err) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return err;
  }
  return 0;
}

}  // namespace

Spawned spawn(const std::vector<std::string>& args, const PopenOptions& o) {
  Plan plan;
  build_command(plan, args, o);
  Spawned s;
  FdList mine;  // the parent's ends, closed on failure
  try {
    build_fds(plan, o);
  } catch (...) {
    for (int fd : plan.parent_end)
      if (fd >= 0) ::close(fd);
    throw;
  }
  for (int fd : plan.parent_end)
    if (fd >= 0) mine.keep(fd);
  pid_t pid = -1;
  int rc = o.umask ? spawn_vfork(plan, o, pid) : spawn_posix(plan, o, pid);
  if (rc != 0) raise_os_error(rc, plan.program);
  s.pid = pid;
  s.pidfd = pidfd_open(pid);
  if (s.pidfd < 0) {
    int e = errno;
    ::kill(pid, SIGKILL);
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    raise_os_error(e);
  }
  mine.fds.clear();
  s.in = plan.parent_end[0];
  s.out = plan.parent_end[1];
  s.err = plan.parent_end[2];
  s.leads_group = o.start_new_session || (o.process_group && *o.process_group == 0);
  return s;
}

}  // namespace tandem::subprocess::detail
