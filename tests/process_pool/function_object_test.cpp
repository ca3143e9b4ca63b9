// SPDX-License-Identifier: MIT
// ProcessPoolExecutor: tasks that are serializable function objects (a struct with its
// parameters and an operator()), and initializers with arguments (Python's initargs), for each
// start method. CPython: executor.py InitializerMixin.test_initializer passes initargs
// ('initialized',) to its init function; Python ships any picklable callable, a tandem task
// may be any serializable function object.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/process_pool.hpp"
#include "support/pool_test_support.hpp"

namespace {

using namespace std::chrono_literals;

// A function object carrying its parameters: an aggregate, so serializable with no code.
struct Affine {
  long a = 0;
  long b = 0;
  long operator()(long x) const { return a * x + b; }
};

// State mutated by a non-const operator(): each task runs on its own decoded copy.
struct Counter {
  int calls = 0;
  std::string tag;
  std::string operator()(int times) {
    for (int i = 0; i < times; ++i) ++calls;
    return tag + ":" + std::to_string(calls);
  }
};

// Two parameters, a throwing case, and a serialize() member instead of aggregate decoding.
struct Divider {
  int by = 1;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(by);
  }
  int operator()(int x, int y) const {
    if (by == 0) throw std::domain_error("divide by zero");
    return (x + y) / by;
  }
};

// A function object whose call reports where it ran.
struct WhereAmI {
  int shift = 0;
  int operator()() const { return static_cast<int>(getpid()) + shift; }
};

std::string g_init;  // set in each worker by its initializer
int g_init_count = 0;
void init_with(std::string prefix, int n) {
  g_init = prefix + "/" + std::to_string(n);
  ++g_init_count;
}
std::string read_init() { return g_init + "#" + std::to_string(g_init_count); }
void init_rejects(int code) { throw std::invalid_argument("bad init " + std::to_string(code)); }
int init_returns_value(std::string s) {
  g_init = std::move(s);
  return 7;  // dropped, as Python drops an initializer's result
}
struct InitObject {
  std::map<std::string, int> settings;
  void operator()() const {
    g_init = "object";
    for (const auto& [k, v] : settings) g_init += "," + k + "=" + std::to_string(v);
  }
};
void plain_init() { g_init = "plain"; }

class FunctionObjects : public tandem_test::PoolByStartMethod {};

TEST_P(FunctionObjects, SubmitCarriesTheObjectsState) {
  tandem::ProcessPoolExecutor ex(opts(2));
  std::vector<tandem::Future<long>> fs;
  for (long i = 0; i < 20; ++i) fs.push_back(ex.submit(Affine{i, 100 + i}, i));
  for (long i = 0; i < 20; ++i) EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(60s), i * i + 100 + i);
}

TEST_P(FunctionObjects, EachTaskGetsAFreshCopy) {
  tandem::ProcessPoolExecutor ex(opts(1));
  Counter c{5, "t"};
  EXPECT_EQ(ex.submit(c, 2).result(60s), "t:7");
  EXPECT_EQ(ex.submit(c, 2).result(60s), "t:7");  // the worker's copy did not persist
  EXPECT_EQ(c.calls, 5);                          // nor did the caller's change
}

TEST_P(FunctionObjects, ExceptionComesBackWithItsType) {
  tandem::ProcessPoolExecutor ex(opts(1));
  auto f = ex.submit(Divider{0}, 1, 2);
  EXPECT_THROW(f.result(60s), std::domain_error);
  EXPECT_EQ(ex.submit(Divider{3}, 4, 5).result(60s), 3);
}

TEST_P(FunctionObjects, RunsInTheWorker) {
  tandem::ProcessPoolExecutor ex(opts(1));
  const int got = ex.submit(WhereAmI{1}).result(60s);
  EXPECT_NE(got, static_cast<int>(getpid()) + 1);
  const auto pids = ex.worker_pids();
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_EQ(got, pids[0] + 1);
}

TEST_P(FunctionObjects, MapEveryItemInOrder) {
  tandem::ProcessPoolExecutor ex(opts(2));
  std::vector<long> in(1000);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<long>(i);
  std::vector<long> out;
  for (long v : ex.map(Affine{3, -1}, in, tandem::MapOptions{.chunksize = 37})) out.push_back(v);
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(out[i], 3 * in[i] - 1) << i;
}

TEST_P(FunctionObjects, MapOfTwoRangesStopsAtTheException) {
  tandem::ProcessPoolExecutor ex(opts(2));
  const std::vector<int> xs{1, 2, 3}, ys{1, 2, 3};
  std::vector<int> got;
  for (int v : ex.map(Divider{2}, xs, ys)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  auto r = ex.map(Divider{0}, xs, ys);
  EXPECT_THROW(for (int v : r) (void)v, std::domain_error);
}

TEST_P(FunctionObjects, InitializerWithArguments) {
  auto o = opts(2);
  o.initializer_call = tandem::shipping::ship(&init_with, std::string("db"), 3);
  tandem::ProcessPoolExecutor ex(o);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(ex.submit(read_init).result(60s), "db/3#1");
}

TEST_P(FunctionObjects, InitializerObject) {
  auto o = opts(1);
  o.initializer_call = tandem::shipping::ship(InitObject{{{"a", 1}, {"b", 2}}});
  tandem::ProcessPoolExecutor ex(o);
  EXPECT_EQ(ex.submit(read_init).result(60s), "object,a=1,b=2#0");
}

TEST_P(FunctionObjects, InitializerResultIsDropped) {
  auto o = opts(1);
  o.initializer_call = tandem::shipping::ship(&init_returns_value, std::string("seven"));
  tandem::ProcessPoolExecutor ex(o);
  EXPECT_EQ(ex.submit(read_init).result(60s), "seven#0");
}

// executor.py: FailingInitializerMixin — with initargs: the pool breaks after retries.
TEST_P(FunctionObjects, FailingInitializerWithArguments) {
  auto o = opts(2);
  o.initializer_call = tandem::shipping::ship(&init_rejects, 9);
  tandem_test::expect_broken_by_initializer(o);
}

TEST_P(FunctionObjects, InitializerAndInitializerCallAreExclusive) {
  auto o = opts(1);
  o.initializer = &plain_init;
  o.initializer_call = tandem::shipping::ship(&init_with, std::string("x"), 1);
  EXPECT_THROW(tandem::ProcessPoolExecutor ex(o), tandem::ValueError);
}

INSTANTIATE_TEST_SUITE_P(All, FunctionObjects, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

}  // namespace

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
