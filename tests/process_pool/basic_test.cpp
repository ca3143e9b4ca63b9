// SPDX-License-Identifier: MIT
// ProcessPoolExecutor: core behaviour (submit, results, exceptions, map, shutdown).
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/process_pool.hpp"

namespace {

int add(int a, int b) { return a + b; }
int thrower(int) { throw std::out_of_range("bad index"); }
std::string greet(std::string s) { return "hello " + s; }

TEST(ProcessPool, SubmitResult) {
  tandem::ProcessPoolExecutor ex(2);
  EXPECT_EQ(ex.submit(add, 2, 3).result(), 5);
  EXPECT_EQ(ex.submit(greet, std::string("x")).result(), "hello x");
}

TEST(ProcessPool, ManyTasks) {
  tandem::ProcessPoolExecutor ex(2);
  std::vector<tandem::Future<int>> fs;
  for (int i = 0; i < 10000; ++i) fs.push_back(ex.submit(add, i, 1));
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(fs[i].result(), i + 1);
}

TEST(ProcessPool, ExceptionSameType) {
  tandem::ProcessPoolExecutor ex(1);
  auto f = ex.submit(thrower, 1);
  EXPECT_THROW(f.result(), std::out_of_range);
}

TEST(ProcessPool, Map) {
  tandem::ProcessPoolExecutor ex(2);
  std::vector<int> a(1000), b(1000);
  for (int i = 0; i < 1000; ++i) a[i] = i, b[i] = 2 * i;
  int k = 0;
  for (int r : ex.map(add, a, b, tandem::MapOptions{.chunksize = 7})) ASSERT_EQ(r, 3 * k++);
  EXPECT_EQ(k, 1000);
}

int die_by_sigkill(int) {
  raise(SIGKILL);
  return 0;
}
int spin(int) {
  volatile unsigned x = 0;
  for (;;) x = x + 1;
}

// stats() (issue 11): counters of tasks and of worker deaths by cause.
TEST(ProcessPool, Stats) {
  tandem::ProcessPoolExecutor ex(tandem::ProcessPoolOptions{.max_workers = 1, .max_tasks_per_child = 3});
  std::vector<tandem::Future<int>> fs;
  for (int i = 0; i < 7; ++i) fs.push_back(ex.submit(add, i, 1));
  for (int i = 0; i < 7; ++i) EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(), i + 1);
  EXPECT_THROW(ex.submit(die_by_sigkill, 0).result(), tandem::WorkerDied);
  EXPECT_THROW(ex.submit(tandem::TaskOptions{.timeout = std::chrono::milliseconds(100)}, spin, 0)
                   .result(),
               tandem::TimeoutError);
  EXPECT_EQ(ex.submit(add, 1, 1).result(), 2);
  EXPECT_EQ(ex.stats().workers, 1u);
  ex.shutdown();  // the counters are final (a pass of the dispatcher may follow a result)
  const tandem::ProcessPoolStats s = ex.stats();
  EXPECT_EQ(s.submitted, 10u);
  EXPECT_EQ(s.completed, 10u);
  EXPECT_EQ(s.running, 0u);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(s.workers, 0u);
  EXPECT_EQ(s.deaths, 1u);
  EXPECT_EQ(s.timeouts, 1u);
  EXPECT_EQ(s.cancels, 0u);
  EXPECT_EQ(s.retired, 2u);  // 7 tasks at 3 per worker: two workers retired after their quota
  EXPECT_GE(s.restarts, 3u);  // replacements (the last spare may still be starting)
}

// The dispatcher thread has a short distinct OS name (issue 11): "pp<pool>-disp", one per pool.
TEST(ProcessPool, DispatcherThreadName) {
  auto names = [] {
    std::set<std::string> out;
    if (DIR* d = opendir("/proc/self/task")) {
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
        std::string n;
        std::getline(comm, n);
        if (n.rfind("pp", 0) == 0 && n.size() > 5 && n.substr(n.size() - 5) == "-disp")
          out.insert(n);
      }
      closedir(d);
    }
    return out;
  };
  const auto before = names();
  tandem::ProcessPoolExecutor a(1), b(1);
  const auto during = names();
  EXPECT_EQ(during.size(), before.size() + 2);
}

}  // namespace
