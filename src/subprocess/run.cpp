// SPDX-License-Identifier: MIT
#include "tandem/subprocess/run.hpp"

#include "subprocess/popen_access.hpp"
#include "subprocess/run_support.hpp"
#include "tandem/detail/timeout.hpp"
#include "tandem/subprocess/popen.hpp"

namespace tandem::subprocess {

using tandem::detail::Deadline;

namespace detail {

void prepare_run(RunOptions& o) {
  if (o.timeout) tandem::detail::check_timeout(*o.timeout);
  if (o.input) {
    if (!std::holds_alternative<Inherit>(o.stdin_)) throw ValueError("stdin and input arguments may not both be used.");
    o.stdin_ = PIPE;
  }
  if (o.capture_output) {
    if (!std::holds_alternative<Inherit>(o.stdout_) || !std::holds_alternative<Inherit>(o.stderr_))
      throw ValueError("stdout and stderr arguments may not be used with capture_output.");
    o.stdout_ = PIPE;
    o.stderr_ = PIPE;
  }
}

CompletedProcess finish_run(std::vector<std::string> args, int rc, std::string out, std::string err, bool check) {
  if (check && rc != 0) throw CalledProcessError(rc, std::move(args), std::move(out), std::move(err));
  return CompletedProcess{std::move(args), rc, std::move(out), std::move(err)};
}

}  // namespace detail

CompletedProcess run(std::vector<std::string> args, RunOptions o) {
  detail::prepare_run(o);
  Popen p(args, o);
  const Deadline dl = o.timeout ? Deadline::after(*o.timeout) : Deadline::never();
  const std::string_view input = o.input ? std::string_view(*o.input) : std::string_view();
  Output out;
  try {
    out = detail::PopenAccess::communicate_until(p, input, dl, o.timeout);
  } catch (const TimeoutExpired&) {
    // Python kills the child and then reads to EOF, which never comes while a grandchild holds
    // the pipe (cpython#76116). Here: kill the tree, reap, read for a short grace, stop.
    detail::PopenAccess::kill_tree(p);
    detail::PopenAccess::reap(p);
    Output rest;
    try {
      rest = detail::PopenAccess::communicate_until(p, {}, Deadline::after(duration(detail::kGraceSeconds)), duration(0));
    } catch (const TimeoutExpired& partial) {
      rest = Output{partial.output, partial.stderr_};
    }
    throw TimeoutExpired(std::move(args), *o.timeout, std::move(rest.stdout_), std::move(rest.stderr_));
  } catch (...) {
    detail::PopenAccess::kill_tree(p);  // Python: process.kill(); the destructor reaps
    throw;
  }
  return detail::finish_run(std::move(args), *p.returncode(), std::move(out.stdout_), std::move(out.stderr_), o.check);
}

std::string check_output(std::vector<std::string> args, RunOptions o) {
  if (!std::holds_alternative<Inherit>(o.stdout_)) throw ValueError("stdout argument not allowed, it will be overridden.");
  o.stdout_ = PIPE;
  o.check = true;
  return run(std::move(args), std::move(o)).stdout_;
}

int call(std::vector<std::string> args, RunOptions o) { return run(std::move(args), std::move(o)).returncode; }

void check_call(std::vector<std::string> args, RunOptions o) {
  int rc = call(args, std::move(o));
  if (rc != 0) throw CalledProcessError(rc, std::move(args));
}

}  // namespace tandem::subprocess
