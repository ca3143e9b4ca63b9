// SPDX-License-Identifier: MIT
// ProcessPoolExecutor::map: CPython's timeout case, and the bound on the chunks submitted
// ahead of the consumer when buffersize is set (MapRange, futures/map_range.hpp). For each
// start method. Own main(): mp::init(argc, argv) first.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

#include "support/pool_test_support.hpp"
#include "tandem/errors.hpp"
#include "tandem/process_pool.hpp"

namespace {

using namespace std::chrono_literals;

/// Sleeps `ms` milliseconds and returns it; a negative `ms` blocks until the worker is killed.
int sleep_then(int ms) {
  if (ms < 0)
    for (;;) pause();
  usleep(static_cast<useconds_t>(ms) * 1000);
  return ms;
}
int square(int x) { return x * x; }

/// An input range of 0..n-1 that counts, in this process, the items map() read from it.
struct CountedInput {
  int n;
  int* reads;
  struct iterator {
    int i;
    int* reads;
    int operator*() const {
      ++*reads;
      return i;
    }
    iterator& operator++() {
      ++i;
      return *this;
    }
    bool operator==(const iterator& o) const { return i == o.i; }
  };
  iterator begin() const { return {0, reads}; }
  iterator end() const { return {n, reads}; }
};

class Map : public tandem_test::PoolByStartMethod {};

// CPython Lib/test/test_concurrent_futures/executor.py: ExecutorTest.test_map_timeout (run
// for the process pool by test_process_pool.py): map(time.sleep, [0, 0, 6], timeout=5) gives
// the first two results, then TimeoutError. Here the third task blocks until it is killed:
// the timeout cancels the chunks not consumed, and cancelling a running process task kills
// its worker (process_pool.hpp), so the pool is not held up by it.
TEST_P(Map, Timeout) {
  tandem::ProcessPoolExecutor ex(opts(2));
  ASSERT_EQ(ex.submit(sleep_then, 0).result(60s), 0);  // a worker is up
  std::vector<int> results;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    for (int r : ex.map(sleep_then, std::vector<int>{0, 0, -1}, tandem::MapOptions{.timeout = 5s}))
      results.push_back(r);
    FAIL() << "expected TimeoutError";
  } catch (const tandem::TimeoutError&) {
  }
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(results, (std::vector<int>{0, 0}));
  EXPECT_EQ(ex.submit(square, 3).result(60s), 9);  // the blocked task's worker was replaced
}

// buffersize n: the constructor submits n chunks; while the values of chunk j are handed out,
// at most n chunks after it have been submitted, so at most (j + 1 + n) * chunksize items have
// been read from the input.
TEST_P(Map, BuffersizeBoundsTheChunksAhead) {
  constexpr int kItems = 200, kChunk = 5, kBuffer = 3;
  tandem::ProcessPoolExecutor ex(opts(2));
  int reads = 0;
  CountedInput in{kItems, &reads};
  auto m = ex.map(square, in,
                  tandem::MapOptions{.chunksize = kChunk, .buffersize = kBuffer});
  EXPECT_EQ(reads, kBuffer * kChunk);
  int i = 0;
  for (int r : m) {
    EXPECT_EQ(r, i * i);
    EXPECT_LE(reads, std::min(kItems, (i / kChunk + 1 + kBuffer) * kChunk)) << "at item " << i;
    ++i;
  }
  EXPECT_EQ(i, kItems);
  EXPECT_EQ(reads, kItems);
}

INSTANTIATE_TEST_SUITE_P(All, Map, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

}  // namespace

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
