// SPDX-License-Identifier: MIT
// run, check_output, call, check_call. Comments name the CPython test (RunFuncTestCase etc.)
// each case ports.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "support/fault_support.hpp"
#include "tandem/subprocess.hpp"

using namespace tandem::subprocess;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// RunFuncTestCase.test_returncode / test_check
TEST(Run, ReturncodeAndCheck) {
  EXPECT_EQ(run({"sh", "-c", "exit 47"}).returncode, 47);
  RunOptions o;
  o.check = true;
  o.capture_output = true;
  try {
    run({"sh", "-c", "echo out; echo err >&2; exit 47"}, o);
    FAIL();
  } catch (const CalledProcessError& e) {
    EXPECT_EQ(e.returncode, 47);
    EXPECT_EQ(e.output, "out\n");
    EXPECT_EQ(e.stderr_, "err\n");
    EXPECT_EQ(e.cmd, (std::vector<std::string>{"sh", "-c", "echo out; echo err >&2; exit 47"}));
  }
  // RunFuncTestCase.test_check_zero
  EXPECT_EQ(run({"true"}, o).returncode, 0);
  // CompletedProcess.check_returncode
  CompletedProcess cp = run({"false"});
  EXPECT_THROW(cp.check_returncode(), CalledProcessError);
}

// RunFuncTestCase.test_capture_output / test_capture_stdout / test_capture_stderr
TEST(Run, CaptureOutputAndInput) {
  RunOptions o;
  o.capture_output = true;
  o.input = "pear";
  CompletedProcess cp = run({"sh", "-c", "cat; echo BDFL >&2"}, o);
  EXPECT_EQ(cp.stdout_, "pear");
  EXPECT_EQ(cp.stderr_, "BDFL\n");
  EXPECT_EQ(cp.args, (std::vector<std::string>{"sh", "-c", "cat; echo BDFL >&2"}));
}

// RunFuncTestCase.test_stdout_with_capture_output_arg / test_stdin_with_input_arg
TEST(Run, ConflictingArguments) {
  RunOptions o;
  o.capture_output = true;
  o.stdout_ = DEVNULL;
  EXPECT_THROW(run({"true"}, o), tandem::ValueError);
  RunOptions i;
  i.input = "x";
  i.stdin_ = DEVNULL;
  EXPECT_THROW(run({"true"}, i), tandem::ValueError);
  RunOptions t;
  t.timeout = -1s;
  EXPECT_THROW(run({"true"}, t), tandem::ValueError);
  EXPECT_THROW(run({}), tandem::ValueError);
}

// RunFuncTestCase.test_timeout / test_capture_output_timeout: killed, partial output kept.
TEST(Run, TimeoutKillsAndKeepsPartialOutput) {
  RunOptions o;
  o.capture_output = true;
  o.timeout = 1s;
  auto t0 = steady::now();
  try {
    run({"sh", "-c", "echo before; echo e >&2; exec sleep 100"}, o);
    FAIL();
  } catch (const TimeoutExpired& e) {
    EXPECT_EQ(e.output, "before\n");
    EXPECT_EQ(e.stderr_, "e\n");
    EXPECT_EQ(e.timeout, 1s);
    EXPECT_EQ(e.cmd[0], "sh");
  }
  EXPECT_LT(steady::now() - t0, 30s);
}

namespace {
// Runs `script` (which prints its background grandchild's pid first) with a 1 s timeout;
// returns that pid, checking that run() gave up within 3 s.
pid_t timed_out_grandchild(const std::string& script, bool new_session) {
  RunOptions o;
  o.capture_output = true;
  o.timeout = 1s;
  o.start_new_session = new_session;
  auto t0 = steady::now();
  std::string out;
  try {
    run({"sh", "-c", script}, o);
    ADD_FAILURE() << "no timeout";
  } catch (const TimeoutExpired& e) {
    out = e.output;
  }
  EXPECT_LT(steady::now() - t0, 3s);
  EXPECT_FALSE(out.empty());
  return out.empty() ? -1 : std::stoi(out);
}
}  // namespace

// cpython#76116 (bpo-31935): a grandchild keeps the pipe open. With start_new_session the
// whole group is killed: run returns within the timeout plus a margin and the grandchild is
// gone (its pidfd turns readable: it exited).
TEST(Run, GrandchildHoldingThePipeDoesNotHang) {
  pid_t grandchild = timed_out_grandchild("sleep 100 & echo $!; sleep 100", true);
  ASSERT_GT(grandchild, 0);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, grandchild, 0));
  if (pidfd >= 0) {  // (ESRCH: already gone and reaped)
    pollfd p{pidfd, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 30000), 1) << "grandchild " << grandchild << " still running";
    ::close(pidfd);
  } else {
    EXPECT_EQ(errno, ESRCH);
  }
}

// Without a group of its own, the grandchild survives the kill but still cannot hang run():
// reading stops after a short grace once the child is reaped (Python hangs here).
TEST(Run, GrandchildOutsideTheGroupStillDoesNotHang) {
  pid_t grandchild = timed_out_grandchild("sleep 100 & echo $!; exec sleep 100", false);
  if (grandchild > 0) ::kill(grandchild, SIGKILL);  // ours to clean up (reparented to init)
}

// ProcessTestCase.test_check_output / test_check_output_nonzero / test_call_seq / test_check_call_zero
TEST(Run, CheckOutputCallCheckCall) {
  EXPECT_EQ(check_output({"echo", "BDFL"}), "BDFL\n");
  EXPECT_THROW(check_output({"false"}), CalledProcessError);
  EXPECT_EQ(call({"sh", "-c", "exit 3"}), 3);
  EXPECT_NO_THROW(check_call({"true"}));
  try {
    check_call({"sh", "-c", "exit 5"});
    FAIL();
  } catch (const CalledProcessError& e) {
    EXPECT_EQ(e.returncode, 5);
  }
  RunOptions o;
  o.stdout_ = DEVNULL;
  EXPECT_THROW(check_output({"true"}, o), tandem::ValueError);  // stdout not allowed
  // ProcessTestCase.test_call_timeout
  RunOptions t;
  t.timeout = 0.2s;
  EXPECT_THROW(call({"sleep", "100"}, t), TimeoutExpired);
}

// Nothing is left behind: after many Popen/destructor cycles no descriptor and no child.
TEST(Run, NoZombiesNoLeakedFds) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  const int n = 250;
#else
  const int n = 1000;
#endif
  const int fds = faulttest::count_fds();
  const int children = faulttest::count_children();
  for (int i = 0; i < n; ++i) {
    PopenOptions o;
    o.stdin_ = PIPE;
    o.stdout_ = PIPE;
    if (i % 2)
      o.stderr_ = PIPE;
    else
      o.stderr_ = STDOUT;
    Popen p({"true"}, o);
  }
  EXPECT_EQ(faulttest::count_fds(), fds);
  EXPECT_EQ(faulttest::count_children(), children);
}
