// SPDX-License-Identifier: MIT
// ProcessPoolExecutor: core behaviour (submit, results, exceptions, map, shutdown).
#include <gtest/gtest.h>

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

}  // namespace
