// SPDX-License-Identifier: MIT
// Children that misbehave: crash, kill themselves, close their pipes early, leave the session,
// spin forever. Every outcome is exact and nothing is left behind.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "support/fault_support.hpp"
#include "tandem/subprocess.hpp"

using namespace tandem::subprocess;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {
RunOptions captured() {
  RunOptions o;
  o.capture_output = true;
  o.timeout = 120s;
  return o;
}
}  // namespace

// POSIXProcessTestCase.test_run_abort: returncode -N for death by signal N.
TEST(SubprocessAdversarial, DeathBySignal) {
  EXPECT_EQ(run({"sh", "-c", "kill -SEGV $$"}, captured()).returncode, -SIGSEGV);
  EXPECT_EQ(run({"sh", "-c", "kill -ABRT $$"}, captured()).returncode, -SIGABRT);
  EXPECT_EQ(run({"sh", "-c", "kill -KILL $$"}, captured()).returncode, -SIGKILL);
  RunOptions c = captured();
  c.check = true;
  try {
    run({"sh", "-c", "kill -KILL $$"}, c);
    FAIL();
  } catch (const CalledProcessError& e) {
    EXPECT_EQ(e.returncode, -SIGKILL);
    EXPECT_STREQ(e.what(), "Command '['sh', '-c', 'kill -KILL $$']' died with signal 9 (SIGKILL).");
  }
}

// The child closes stdin/stdout/stderr at once and goes on: communicate still completes, the
// input that could not be written is dropped (EPIPE ignored, as Python) — no SIGPIPE here.
TEST(SubprocessAdversarial, ClosesItsPipesEarly) {
  RunOptions o = captured();
  o.input = std::string(8 << 20, 'x');
  CompletedProcess cp = run({"sh", "-c", "exec 0<&- 1>&- 2>&-; exit 3"}, o);
  EXPECT_EQ(cp.returncode, 3);
  EXPECT_EQ(cp.stdout_, "");
  EXPECT_EQ(cp.stderr_, "");
}

// A child that leaves for a session of its own, then spins: the timeout still kills it.
TEST(SubprocessAdversarial, SetsidThenSpinsIsKilledByTimeout) {
  RunOptions o = captured();
  o.timeout = 1s;
  auto t0 = steady::now();
  EXPECT_THROW(run({"setsid", "-w", "sh", "-c", "while :; do :; done"}, o), TimeoutExpired);
  EXPECT_LT(steady::now() - t0, 30s);
}

// A child that spins forever (busy loop, no syscalls) is killed by the timeout.
TEST(SubprocessAdversarial, SpinsForeverKilledByTimeout) {
  RunOptions o = captured();
  o.timeout = 0.5s;
  auto t0 = steady::now();
  try {
    run({"sh", "-c", "echo spinning; while :; do :; done"}, o);
    FAIL();
  } catch (const TimeoutExpired& e) {
    EXPECT_EQ(e.output, "spinning\n");
  }
  EXPECT_LT(steady::now() - t0, 30s);
  RunOptions a = captured();
  a.timeout = 0.5s;
  EXPECT_THROW(run_async({"sh", "-c", "while :; do :; done"}, a).result(60s), TimeoutExpired);
}

// Floods stderr while we write stdin and it ignores stdin: no deadlock either way.
TEST(SubprocessAdversarial, FloodsOneStreamIgnoresTheOther) {
  RunOptions o = captured();
  o.input = std::string(2 << 20, 'i');
  CompletedProcess cp = run({"sh", "-c", "head -c 3000000 /dev/zero >&2"}, o);
  EXPECT_EQ(cp.returncode, 0);
  EXPECT_EQ(cp.stderr_.size(), 3000000u);
}

// Everything above left nothing behind.
TEST(SubprocessAdversarial, NothingLeftBehind) {
  const int fds = faulttest::count_fds();
  for (int i = 0; i < 20; ++i) {
    RunOptions o = captured();
    o.input = "x";
    run({"sh", "-c", i % 2 ? "kill -KILL $$" : "exec 1>&-; exit 1"}, o);
  }
  EXPECT_EQ(faulttest::count_fds(), fds);
  EXPECT_EQ(faulttest::count_children(), 0);
}
