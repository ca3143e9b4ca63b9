// SPDX-License-Identifier: MIT
#include "tandem/subprocess/errors.hpp"

#include <signal.h>

#include <cstdio>

#include "tandem/subprocess/options.hpp"

namespace tandem::subprocess {

std::string repr_args(const std::vector<std::string>& args) {
  std::string r = "[";
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i) r += ", ";
    r += '\'';
    for (char c : args[i]) {
      if (c == '\'' || c == '\\') r += '\\';
      r += c;
    }
    r += '\'';
  }
  return r + "]";
}

namespace {

std::string format_seconds(duration t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", t.count());
  return buf;
}

std::string called_text(int rc, const std::vector<std::string>& cmd) {
  if (rc < 0) {
    const char* name = sigabbrev_np(-rc);
    return "Command '" + repr_args(cmd) + "' died with signal " + std::to_string(-rc) +
           (name ? std::string(" (SIG") + name + ")." : std::string("."));
  }
  return "Command '" + repr_args(cmd) + "' returned non-zero exit status " + std::to_string(rc) + ".";
}

}  // namespace

TimeoutExpired::TimeoutExpired(std::vector<std::string> cmd_, duration timeout_, std::string output_,
                               std::string stderr_text)
    : Error("Command '" + repr_args(cmd_) + "' timed out after " + format_seconds(timeout_) + " seconds"),
      SubprocessError(),
      TimeoutError(VirtualBase{}),
      cmd(std::move(cmd_)),
      timeout(timeout_),
      output(std::move(output_)),
      stderr_(std::move(stderr_text)) {}

CalledProcessError::CalledProcessError(int returncode_, std::vector<std::string> cmd_, std::string output_,
                                       std::string stderr_text)
    : Error(called_text(returncode_, cmd_)),
      SubprocessError(),
      returncode(returncode_),
      cmd(std::move(cmd_)),
      output(std::move(output_)),
      stderr_(std::move(stderr_text)) {}

void CompletedProcess::check_returncode() const {
  if (returncode != 0) throw CalledProcessError(returncode, args, stdout_, stderr_);
}

}  // namespace tandem::subprocess
