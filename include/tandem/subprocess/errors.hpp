// SPDX-License-Identifier: MIT
// <tandem/subprocess/errors.hpp> — subprocess.SubprocessError, TimeoutExpired and
// CalledProcessError (docs/subprocess.md#python-side-by-side).
//
// Guarantees
//  * SubprocessError is a tandem::Error (a virtual base), so `catch (const tandem::Error&)`
//    catches all three. TimeoutExpired is also a tandem::TimeoutError: code that catches
//    timeouts generically sees it.
//  * what() is Python's text: "Command '['sleep', '10']' timed out after 1 seconds",
//    "Command '['false']' returned non-zero exit status 1.", "... died with signal 9." (Python
//    prints the signal's enum repr, "<Signals.SIGKILL: 9>").
//  * The members are Python's attributes: `output` is the child's stdout (Python's `output`,
//    alias `stdout`), `stderr_` its stderr; empty when not captured (Python: None).
#pragma once

#include <string>
#include <vector>

#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"

namespace tandem::subprocess {

/// Python's repr of an argument list: ['ls', '-l'].
std::string repr_args(const std::vector<std::string>& args);

class SubprocessError : public virtual Error {
 public:
  explicit SubprocessError(const std::string& what) : Error(what) {}

 protected:
  SubprocessError() : Error("") {}  // for derived classes: they initialise the virtual base
};

/// A timeout passed while waiting for a child (wait, communicate, run). communicate() and
/// wait() leave the child running; run() has killed it.
class TimeoutExpired : public SubprocessError, public TimeoutError {
 public:
  TimeoutExpired(std::vector<std::string> cmd_, duration timeout_, std::string output_ = {},
                 std::string stderr_text = {});
  std::vector<std::string> cmd;
  duration timeout;
  std::string output, stderr_;
};

/// check=true (run), check_call, check_output or check_returncode() saw a non-zero status.
class CalledProcessError : public SubprocessError {
 public:
  CalledProcessError(int returncode_, std::vector<std::string> cmd_, std::string output_ = {},
                     std::string stderr_text = {});
  int returncode;
  std::vector<std::string> cmd;
  std::string output, stderr_;
};

}  // namespace tandem::subprocess
