// SPDX-License-Identifier: MIT
// <tandem/subprocess/popen.hpp> — subprocess.Popen: one child process (docs/subprocess.md#guarantees).
//
//   Popen p({"sort"}, {.stdin_ = PIPE, .stdout_ = PIPE});  // (an aggregate: fields in order)
//   auto [out, err] = p.communicate("b\na\n");
//
// Guarantees
//  * Start: posix_spawn (glibc runs it as clone(CLONE_VM|CLONE_VFORK), so the cost does not grow
//    with this process's memory; a vfork when `umask` is set, which posix_spawn cannot do). When
//    the program cannot be run (not found, not executable, bad cwd, a pass_fds entry not open)
//    the constructor throws FileNotFoundError / PermissionError / OSError with the child's
//    errno — in the parent, before it returns, as Python. Empty args, a NUL byte in an argument
//    or in the environment → ValueError.
//  * The child starts with stdin/stdout/stderr as redirected, every other descriptor closed
//    (close_fds, the default; pass_fds stay open, made inheritable in the child only), every
//    signal at its default disposition, an empty signal mask. All descriptors this class opens
//    are O_CLOEXEC, so a child started concurrently by another thread inherits none of them.
//  * Waiting uses a pidfd: wait(timeout) is a poll(2) on it, reaping is waitid(P_PIDFD) — no
//    SIGCHLD handler, and never a child this object did not start. returncode is -N when the
//    child was killed by signal N.
//  * communicate() is deadlock-free on all three pipes at once (poll, non-blocking descriptors,
//    partial writes). communicate(input, timeout) throws TimeoutExpired carrying what was read
//    so far and leaves the child running; the next communicate() continues (the input is not
//    written twice) and returns everything, as Python.
//  * Writing to a child that has exited never raises SIGPIPE in the caller.
//  * The destructor closes the pipes and waits for the child, like leaving Python's `with`:
//    no zombie, no descriptor is left. (A child that never exits blocks it, as in Python; kill()
//    first when that may happen.)
//  * Threads: poll(), wait(), returncode(), send_signal() may be called from several threads
//    at once; the streams and communicate() belong to one thread at a time (as in Python).
// Differences from Python: no text mode (bytes in std::string); an unpiped stream in Output is
// "" rather than None; stdin_()/stdout_()/stderr_() on a stream that is not a PIPE throws
// ValueError (Python's attribute is None).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/subprocess/errors.hpp"
#include "tandem/subprocess/options.hpp"
#include "tandem/subprocess/stream.hpp"

namespace tandem::subprocess {

namespace detail {
struct PopenAccess;
}

class Popen {
 public:
  Popen(std::vector<std::string> args, PopenOptions options = {});
  Popen(const Popen&) = delete;
  Popen& operator=(const Popen&) = delete;
  ~Popen();

  pid_t pid() const noexcept { return pid_; }
  std::vector<std::string> args() const { return args_; }
  /// The exit status once reaped (by poll or wait), -N for signal N; nullopt before.
  std::optional<int> returncode() const noexcept;
  std::optional<int> poll();
  int wait();
  int wait(duration timeout);  // TimeoutExpired; negative → ValueError
  Output communicate(std::string_view input = {});
  Output communicate(std::string_view input, duration timeout);
  void send_signal(int sig);  // nothing once the child has been reaped (Python)
  void terminate() { send_signal(15); }
  void kill() { send_signal(9); }
  /// Whether the child leads its own process group (start_new_session or process_group == 0):
  /// run(timeout) then kills the whole group.
  bool leads_group() const noexcept { return leads_group_; }

  Stream& stdin_();
  Stream& stdout_();
  Stream& stderr_();

 private:
  friend struct detail::PopenAccess;
  std::optional<int> reap(bool block);
  bool wait_until(const tandem::detail::Deadline& dl);
  Output communicate_until(std::string_view input, const tandem::detail::Deadline& dl,
                           std::optional<duration> timeout);

  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool leads_group_ = false;
  static constexpr int kNone = -0x7fffffff;
  std::atomic<int> returncode_{kNone};
  std::mutex reap_mu_;
  Stream in_, out_, err_;
  // communicate()'s progress, kept across a TimeoutExpired (Python's _communication_started,
  // _input_offset, _fileobj2output).
  bool comm_started_ = false, comm_started_input_saved_ = false;
  std::size_t input_offset_ = 0;
  std::string pending_input_;  // filled only when a communicate() times out mid-input
  std::string comm_out_, comm_err_;
};

}  // namespace tandem::subprocess
