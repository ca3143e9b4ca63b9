// SPDX-License-Identifier: MIT
// <tandem/subprocess/run.hpp> — run, check_output, call, check_call, run_async
// (docs/subprocess.md#guarantees).
//
// Guarantees
//  * run(): Popen + communicate(input) + wait, as Python. capture_output sets stdout and
//    stderr to PIPE (ValueError if either is set too); input makes stdin a PIPE (ValueError if
//    stdin_ is set too).
//  * run(timeout): on expiry the child is killed with SIGKILL — its whole process group when it
//    leads one (start_new_session, process_group = 0) — and reaped, and run throws
//    TimeoutExpired with the output read so far, within the timeout plus a small margin even
//    when a grandchild still holds a pipe open (cpython#76116: Python waits for EOF; here, once
//    the child is reaped, reading stops after a grace of 0.1 s).
//  * check → CalledProcessError(returncode, args, stdout, stderr) on a non-zero status.
//  * run_async(): the same as run, completed by one process-wide background thread that
//    watches every run_async child through epoll over its pidfd and pipes (started at the first
//    call; 1,000 concurrent children cost 1,000 pidfds, not 1,000 threads). The future rethrows
//    what run would throw (FileNotFoundError, TimeoutExpired, CalledProcessError…); it works
//    with tandem::wait, as_completed and progress. cancel() is false once started (always).
//    A process fork()ed while children run has no watcher for them: its own run_async calls
//    start a new one. The watcher is never destroyed (no static-destruction order to get
//    wrong); at exit, children still running are left running, as Python's would be.
#pragma once

#include <string>
#include <vector>

#include "tandem/futures/future.hpp"
#include "tandem/subprocess/options.hpp"

namespace tandem::subprocess {

CompletedProcess run(std::vector<std::string> args, RunOptions options = {});
/// run with stdout PIPE and check=true; returns stdout.
std::string check_output(std::vector<std::string> args, RunOptions options = {});
/// run without capture; returns the returncode.
int call(std::vector<std::string> args, RunOptions options = {});
/// call; a non-zero status throws CalledProcessError (without output).
void check_call(std::vector<std::string> args, RunOptions options = {});
Future<CompletedProcess> run_async(std::vector<std::string> args, RunOptions options = {});

}  // namespace tandem::subprocess
