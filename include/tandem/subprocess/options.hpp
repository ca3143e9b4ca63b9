// SPDX-License-Identifier: MIT
// <tandem/subprocess/options.hpp> — where a child's streams go and how it is started:
// Python's Popen keyword arguments as an aggregate (docs/subprocess.md#python-side-by-side).
//
//   PopenOptions o;  o.stdout_ = PIPE;  o.cwd = "/tmp";  o.env_extra["LC_ALL"] = "C";
//
// Redirect: Inherit (the default: the parent's descriptor), PIPE (a pipe to this process:
// Popen::stdout_() etc.), DEVNULL (/dev/null), STDOUT (stderr only: wherever stdout goes), an
// int (a descriptor of this process, e.g. another Popen's stdout_().fileno() for a pipeline), or
// a path (opened read-only for stdin; created/truncated, mode 0666 & ~umask, for stdout and
// stderr — an extension of Python, which takes only open files).
//
// Differences from Python
//  * env_extra (not in Python): variables added to (overriding) the inherited environment, or
//    to `env` when that is given too — the usual `env={**os.environ, 'X': '1'}` without the copy.
//  * No text mode, encoding or bufsize: streams carry bytes in std::string.
//  * No preexec_fn (unsafe with threads; Python deprecates it with threads too), no user/group
//    switching, no restore_signals=False: the child always starts with every signal at its
//    default disposition and an empty signal mask.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tandem/detail/wait.hpp"

namespace tandem::subprocess {

using tandem::duration;

struct Inherit {};
struct Pipe {};
struct DevNull {};
struct ToStdout {};
inline constexpr Pipe PIPE;
inline constexpr DevNull DEVNULL;
inline constexpr ToStdout STDOUT;
using Redirect = std::variant<Inherit, Pipe, DevNull, ToStdout, int, std::filesystem::path>;

struct PopenOptions {
  Redirect stdin_, stdout_, stderr_;  // default: inherit
  std::optional<std::filesystem::path> cwd;
  std::optional<std::map<std::string, std::string>> env;  // replaces the environment
  std::map<std::string, std::string> env_extra;           // added to the inherited one
  bool shell = false;                                     // args[0] run by /bin/sh -c
  std::optional<std::string> executable;                  // the program to run instead of args[0]
  bool start_new_session = false;                         // setsid() in the child
  std::optional<pid_t> process_group;                     // setpgid(0, *process_group)
  bool close_fds = true;  // descriptors ≥ 3 closed in the child (but pass_fds)
  std::vector<int> pass_fds;
  std::optional<mode_t> umask;
};

/// What communicate() returns: a stream that was not a PIPE gives "" (Python: None).
struct Output {
  std::string stdout_, stderr_;
};

/// What run() returns (subprocess.CompletedProcess).
struct CompletedProcess {
  std::vector<std::string> args;
  int returncode = 0;
  std::string stdout_, stderr_;
  /// Throws CalledProcessError when returncode != 0.
  void check_returncode() const;
};

struct RunOptions : PopenOptions {
  std::optional<std::string> input;  // written to stdin (which becomes a PIPE), then closed
  bool capture_output = false;       // stdout_ = stderr_ = PIPE
  std::optional<duration> timeout;   // the child (its group if it leads one) is killed
  bool check = false;                // a non-zero returncode throws CalledProcessError
};

}  // namespace tandem::subprocess
