// SPDX-License-Identifier: MIT
// when_all / when_any (<tandem/futures/combinators.hpp>) and future.then(executor, fn).
// Beyond Python (concurrent.futures.wait blocks; these are futures): the cases follow
// folly's collectAll/collectAny tests and the contract in docs/futures.md#combinators.
#include <gtest/gtest.h>

#include <coroutine>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tandem/futures.hpp"
#include "tandem/process_pool.hpp"

using namespace std::chrono_literals;
using tandem::Future;
using tandem::ThreadPoolExecutor;

namespace {
Future<int> ready(int v) {
  Future<int> f;
  f.set_result(v);
  return f;
}
int twice(int x) { return 2 * x; }
}  // namespace

TEST(WhenAll, TupleOfResultsInArgumentOrder) {
  Future<int> a;
  Future<std::string> b;
  Future<void> c;
  auto all = tandem::when_all(a, b, c);
  b.set_result("two");
  EXPECT_FALSE(all.done());
  c.set_result();
  a.set_result(1);
  auto t = all.result(0s);
  EXPECT_EQ(std::get<0>(t), 1);
  EXPECT_EQ(std::get<1>(t), "two");
  EXPECT_EQ(tandem::when_all().result(0s), std::tuple<>());
}

TEST(WhenAll, FirstFailureWinsWithoutWaitingForTheRest) {
  Future<int> a, b, c;
  auto all = tandem::when_all(a, b, c);
  b.set_exception(std::make_exception_ptr(tandem::ValueError("b failed")));
  ASSERT_TRUE(all.done());
  EXPECT_THROW(all.result(0s), tandem::ValueError);
  c.cancel();
  a.set_result(1);
  EXPECT_THROW(all.result(0s), tandem::ValueError);  // still the first
  Future<int> d;
  auto all2 = tandem::when_all(d, ready(1));
  d.cancel();
  EXPECT_THROW(all2.result(0s), tandem::CancelledError);
}

TEST(WhenAll, FromManyThreads) {
  ThreadPoolExecutor ex(4);
  auto f1 = ex.submit([] { return 1; });
  auto f2 = ex.submit([] { return 2.5; });
  auto f3 = ex.submit([] {});
  auto t = tandem::when_all(f1, f2, f3).result(60s);
  EXPECT_EQ(std::get<0>(t), 1);
  EXPECT_EQ(std::get<1>(t), 2.5);
}

TEST(WhenAny, FirstOutcomeValueOrFailure) {
  std::vector<Future<int>> fs(3);
  auto any = tandem::when_any(fs);
  fs[2].set_result(30);
  fs[0].set_result(10);
  EXPECT_EQ(any.result(0s), 30);
  std::vector<Future<int>> gs(2);
  auto any2 = tandem::when_any(gs);
  gs[1].set_exception(std::make_exception_ptr(tandem::ValueError("first")));
  gs[0].set_result(1);
  EXPECT_THROW(any2.result(0s), tandem::ValueError);
  EXPECT_THROW(tandem::when_any(std::vector<Future<int>>{}), tandem::ValueError);
  std::vector<Future<void>> vs(2);
  auto any3 = tandem::when_any(vs);
  vs[0].set_result();
  EXPECT_NO_THROW(any3.result(0s));
}

TEST(WhenAny, AlreadyDoneInput) {
  std::vector<Future<int>> fs{Future<int>(), ready(4)};
  EXPECT_EQ(tandem::when_any(fs).result(0s), 4);
}

TEST(Then, RunsOnAWorkerNeverInline) {
  ThreadPoolExecutor ex(2);
  const auto me = std::this_thread::get_id();
  Future<int> done = ready(20);
  auto next = done.then(ex, [me](int x) {
    EXPECT_NE(std::this_thread::get_id(), me);
    return x + 1;
  });
  EXPECT_EQ(next.result(60s), 21);
  Future<void> v;
  auto after = v.then(ex, [] { return std::string("after void"); });
  v.set_result();
  EXPECT_EQ(after.result(60s), "after void");
}

TEST(Then, FailurePassesOnWithoutCallingFn) {
  ThreadPoolExecutor ex(2);
  std::atomic<bool> called{false};
  Future<int> f;
  auto next = f.then(ex, [&](int x) {
    called = true;
    return x;
  });
  f.set_exception(std::make_exception_ptr(tandem::ValueError("no")));
  EXPECT_THROW(next.result(60s), tandem::ValueError);
  Future<int> g;
  auto n2 = g.then(ex, [&](int x) {
    called = true;
    return x;
  });
  g.cancel();
  EXPECT_THROW(n2.result(60s), tandem::CancelledError);
  EXPECT_FALSE(called.load());
  auto n3 = ready(1).then(ex, [](int) -> int { throw tandem::RuntimeError("in fn"); });
  EXPECT_THROW(n3.result(60s), tandem::RuntimeError);
}

TEST(Then, RefusedByAShutDownExecutor) {
  ThreadPoolExecutor ex(1);
  ex.shutdown(true);
  auto next = ready(1).then(ex, [](int x) { return x; });
  EXPECT_THROW(next.result(60s), tandem::RuntimeError);
}

TEST(Then, OnAProcessPool) {
  tandem::ProcessPoolExecutor ex(1);
  auto f = ex.submit(twice, 5).then(ex, twice).then(ex, twice);
  EXPECT_EQ(f.result(60s), 40);
}

namespace {
struct Detached {
  struct promise_type {
    Detached get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};
Detached sum_of(Future<int> a, Future<int> b, ThreadPoolExecutor& ex, Future<int> out) {
  auto [x, y] = co_await tandem::when_all(a, b);
  int z = co_await ready(x + y).then(ex, [](int s) { return s * 10; });
  out.set_result(z);
}
}  // namespace

TEST(Combinators, ComposeWithCoAwait) {
  ThreadPoolExecutor ex(2);
  Future<int> a, b, out;
  sum_of(a, b, ex, out);
  std::thread t([a, b]() mutable {
    a.set_result(1);
    b.set_result(2);
  });
  EXPECT_EQ(out.result(60s), 30);
  t.join();
}
