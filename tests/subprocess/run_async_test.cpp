// SPDX-License-Identifier: MIT
// run_async: futures completed by one watcher thread.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/fault_support.hpp"
#include "tandem/futures.hpp"
#include "tandem/subprocess.hpp"

using namespace tandem::subprocess;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;


TEST(RunAsync, ResultLikeRun) {
  RunOptions o;
  o.capture_output = true;
  o.input = "kiwi";
  auto f = run_async({"sh", "-c", "cat; echo x >&2; exit 4"}, o);
  CompletedProcess cp = f.result(60s);
  EXPECT_EQ(cp.returncode, 4);
  EXPECT_EQ(cp.stdout_, "kiwi");
  EXPECT_EQ(cp.stderr_, "x\n");
  EXPECT_FALSE(f.cancel());
}

TEST(RunAsync, RethrowsWhatRunWould) {
  auto missing = run_async({"/nonexistent/program"});
  EXPECT_THROW(missing.result(60s), tandem::FileNotFoundError);
  RunOptions c;
  c.check = true;
  EXPECT_THROW(run_async({"false"}, c).result(60s), CalledProcessError);
  RunOptions t;
  t.timeout = 0.5s;
  t.capture_output = true;
  t.start_new_session = true;
  auto f = run_async({"sh", "-c", "echo partial; sleep 100 & sleep 100"}, t);
  try {
    f.result(60s);
    FAIL();
  } catch (const TimeoutExpired& e) {
    EXPECT_EQ(e.output, "partial\n");
  }
  RunOptions bad;
  bad.timeout = -1s;
  EXPECT_THROW(run_async({"true"}, bad).result(60s), tandem::ValueError);
}

TEST(RunAsync, LargeOutputBothWays) {
  RunOptions o;
  o.input = std::string(3 << 20, 'q');
  o.capture_output = true;
  CompletedProcess cp = run_async({"cat"}, o).result(120s);
  EXPECT_EQ(cp.stdout_.size(), o.input->size());
  EXPECT_TRUE(cp.stdout_ == *o.input);
}

// 200 concurrent sleepers, one watcher thread; as_completed sees them all.
TEST(RunAsync, TwoHundredConcurrentChildren) {
  // The watcher (and, under TSan, the sanitizer's own background thread, started with the
  // process's first thread) exists once one run_async has completed; 200 more add nothing.
  EXPECT_EQ(run_async({"true"}).result(60s).returncode, 0);
  const int before = faulttest::count_threads();
  auto t0 = steady::now();
  std::vector<tandem::Future<CompletedProcess>> fs;
  for (int i = 0; i < 200; ++i) fs.push_back(run_async({"sleep", "0.2"}));
  EXPECT_EQ(faulttest::count_threads(), before);  // the one watcher serves them all
  int n = 0;
  for (auto& f : tandem::as_completed(fs, 120s)) {
    EXPECT_EQ(f.result().returncode, 0);
    ++n;
  }
  EXPECT_EQ(n, 200);
  EXPECT_LT(steady::now() - t0, 60s);
  EXPECT_EQ(faulttest::count_children(), 0);
}
