// SPDX-License-Identifier: MIT
// ProcessPoolExecutor: core behaviour (submit, results, exceptions, map, shutdown).
#include <gtest/gtest.h>

#include <dirent.h>

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
