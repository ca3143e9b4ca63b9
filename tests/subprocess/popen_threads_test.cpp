// SPDX-License-Identifier: MIT
// Popen from several threads, descriptors' flags, and the environment's edge cases. Comments
// name the CPython test (Lib/test/test_subprocess.py) each case ports.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tandem/subprocess.hpp"

using namespace tandem::subprocess;
using namespace std::chrono_literals;

// ProcessTestCase.test_threadsafe_wait: several threads wait on one child; one reaps it, all
// see the same returncode, none blocks forever or reaps something else.
TEST(PopenThreads, ThreadsafeWait) {
  PopenOptions o;
  o.stdin_ = PIPE;
  Popen p({"sh", "-c", "read x; exit 9"}, o);
  std::atomic<int> agreed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] {
      int rc = i % 2 ? p.wait() : p.wait(120s);
      if (rc == 9) agreed.fetch_add(1);
    });
  std::thread poller([&] {
    while (!p.poll()) p.send_signal(0);  // poll() and send_signal() race with the waiters
  });
  p.stdin_().write("go\n");
  for (auto& t : ts) t.join();
  poller.join();
  EXPECT_EQ(agreed.load(), 4);
  EXPECT_EQ(p.returncode(), 9);
}

// POSIXProcessTestCase.test_pipe_cloexec: the parent's ends of the pipes are close-on-exec,
// so a child started by another thread meanwhile inherits none of them.
TEST(PopenThreads, PipesAreCloexec) {
  PopenOptions o;
  o.stdin_ = PIPE;
  o.stdout_ = PIPE;
  o.stderr_ = PIPE;
  Popen p({"cat"}, o);
  for (Stream* s : {&p.stdin_(), &p.stdout_(), &p.stderr_()}) EXPECT_TRUE(::fcntl(s->fileno(), F_GETFD) & FD_CLOEXEC);
  p.stdin_().close();
  EXPECT_EQ(p.wait(60s), 0);
}

// ProcessTestCase.test_empty_env: env={} gives the child no variable at all.
TEST(PopenThreads, EmptyEnv) {
  RunOptions o;
  o.env.emplace();  // (not `= {}`: g++ 12 -O2 sees a maybe-uninitialized map there)
  o.stdout_ = PIPE;
  EXPECT_EQ(run({"/usr/bin/env"}, o).stdout_, "");
  // Without PATH in env, a bare name is searched in os.defpath (/bin:/usr/bin), as Python.
  EXPECT_EQ(run({"true"}, o).returncode, 0);
}

// Many threads each running children at once: every one gets its own output.
TEST(PopenThreads, ConcurrentRuns) {
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        RunOptions o;
        o.capture_output = true;
        o.input = std::to_string(t * 100 + i);
        if (run({"cat"}, o).stdout_ == *o.input) ok.fetch_add(1);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 40);
}
