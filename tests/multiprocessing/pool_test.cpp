// SPDX-License-Identifier: MIT
// mp::Pool and mp::AsyncResult (<tandem/multiprocessing/pool.hpp>): CPython
// Lib/test/_test_multiprocessing.py's _TestPool and _TestPoolWorkerLifetime, ported. Own
// main(): mp::init(argc, argv) first (spawn workers).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/pool_test_support.hpp"
#include "tandem/errors.hpp"
#include "tandem/log.hpp"
#include "tandem/multiprocessing.hpp"

namespace {

using namespace std::chrono_literals;
using tandem::mp::AsyncCallbacks;
using tandem::mp::Pool;
using tandem::mp::PoolOptions;

int sqr(int x) { return x * x; }
int mul(int a, int b) { return a * b; }
int my_pid(int) { return static_cast<int>(getpid()); }
/// Blocks until its worker is killed.
int block_forever(int) {
  for (;;) pause();
}
/// x * x; a negative x blocks until its worker is killed.
int sqr_or_block(int x) {
  if (x < 0) block_forever(x);
  return x * x;
}
/// Throws a standard exception for odd x.
int odd_raises(int x) {
  if (x % 2) throw std::out_of_range("odd " + std::to_string(x));
  return x;
}
int parse_int(std::string s) { return std::stoi(s); }  // std::invalid_argument for "a"
void nothing() {}
/// Writes a byte to `started`, then reads one byte from `fd` and returns it (pipes inherited
/// through fork).
int signal_then_read(int started, int fd) {
  char c = 's';
  if (write(started, &c, 1) != 1) return -1;
  return read(fd, &c, 1) == 1 ? c : -1;
}

int g_initialized = 0;
void init_worker() { g_initialized = 42; }
void init_worker_with(int base, int times) { g_initialized = base * times; }
int initialized(int) { return g_initialized; }

// A serializable function object: Python's Pool ships any picklable callable.
struct Power {
  int exponent = 1;
  int operator()(int x) const {
    int r = 1;
    for (int i = 0; i < exponent; ++i) r *= x;
    return r;
  }
};
struct Weighted {
  int w = 1;
  int operator()(int a, int b) const { return w * (a + b); }
};

std::vector<int> squares(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i * i);
  return v;
}
std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// test_apply
TEST(MpPool, Apply) {
  Pool pool(2);
  EXPECT_EQ(pool.apply(sqr, 5), 25);
  EXPECT_EQ(pool.apply(mul, 3, 4), 12);
}

// test_map
TEST(MpPool, Map) {
  Pool pool(2);
  EXPECT_EQ(pool.map(sqr, iota(10)), squares(10));
  EXPECT_EQ(pool.map(sqr, iota(100), 20), squares(100));
}

// test_starmap
TEST(MpPool, Starmap) {
  Pool pool(2);
  std::vector<std::tuple<int, int>> args;
  std::vector<int> expected;
  for (int i = 0; i < 10; ++i) {
    args.emplace_back(i, i + 1);
    expected.push_back(i * (i + 1));
  }
  EXPECT_EQ(pool.starmap(mul, args, 0), expected);
  EXPECT_EQ(pool.starmap(mul, args, 2), expected);
}

// test_starmap_async
TEST(MpPool, StarmapAsync) {
  Pool pool(2);
  std::vector<std::tuple<int, int>> args{{1, 2}, {3, 4}, {5, 6}};
  EXPECT_EQ(pool.starmap_async(mul, args, 1).get(60s), (std::vector<int>{2, 12, 30}));
}

// test_map_async
TEST(MpPool, MapAsync) {
  Pool pool(2);
  auto r = pool.map_async(sqr, iota(10));
  EXPECT_EQ(r.get(60s), squares(10));
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
}

// test_map_async_callbacks
TEST(MpPool, MapAsyncCallbacks) {
  Pool pool(2);
  std::vector<std::vector<int>> values;
  std::vector<std::exception_ptr> errors;
  AsyncCallbacks<std::vector<int>> cbs{
      .callback = [&](const std::vector<int>& v) { values.push_back(v); },
      .error_callback = [&](std::exception_ptr e) { errors.push_back(e); }};
  pool.map_async(parse_int, std::vector<std::string>{"1"}, 0, cbs).wait();
  ASSERT_EQ(values.size(), 1u);  // the callback ran before wait() returned
  EXPECT_EQ(values[0], (std::vector<int>{1}));
  EXPECT_TRUE(errors.empty());
  auto r = pool.map_async(parse_int, std::vector<std::string>{"a"}, 0, cbs);
  EXPECT_TRUE(r.wait(60s));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THROW(std::rethrow_exception(errors[0]), std::invalid_argument);
  EXPECT_FALSE(r.successful());
  EXPECT_EQ(values.size(), 1u);
}

// test_map_chunksize; and chunksize 0 is Python's divmod(len, processes * 4) (+1).
TEST(MpPool, MapChunksize) {
  Pool pool(2);
  for (std::size_t cs : {1u, 2u, 3u, 1000u})
    EXPECT_EQ(pool.map_async(sqr, iota(10), cs).get(60s), squares(10));
  const auto before = pool.executor().stats().submitted;
  EXPECT_EQ(pool.map(sqr, iota(100)), squares(100));  // chunksize 100/8 + 1 = 13: 8 chunks
  EXPECT_EQ(pool.executor().stats().submitted - before, 8u);
}

// test_async
TEST(MpPool, Async) {
  Pool pool(2);
  auto r = pool.apply_async(sqr, 7);
  EXPECT_EQ(r.get(60s), 49);
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  r.wait();
}

// test_async_timeout
TEST(MpPool, AsyncTimeout) {
  Pool pool(2);
  auto r = pool.apply_async(block_forever, 0);
  EXPECT_THROW(r.get(50ms), tandem::TimeoutError);
  EXPECT_FALSE(r.wait(10ms));
  EXPECT_FALSE(r.ready());
  EXPECT_THROW((void)r.successful(), tandem::ValueError);  // not ready
}  // terminate(): the blocked worker is killed

// test_imap
TEST(MpPool, Imap) {
  Pool pool(2);
  std::vector<int> got;
  for (int v : pool.imap(sqr, iota(10))) got.push_back(v);
  EXPECT_EQ(got, squares(10));
  auto it = pool.imap(sqr, iota(10));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(it.next(60s), i * i);
  EXPECT_EQ(it.next(), std::nullopt);  // StopIteration
  got.clear();
  for (int v : pool.imap(sqr, iota(1000), 100)) got.push_back(v);
  EXPECT_EQ(got, squares(1000));
  EXPECT_THROW(pool.imap(sqr, iota(3), 0), tandem::ValueError);
}

// test_imap (its exception part, test_imap_handle_iterable_exception does not apply: the
// input range is read by the caller): an item's exception at its position, then iteration
// goes on.
TEST(MpPool, ImapExceptionAtItsPosition) {
  Pool pool(2);
  auto it = pool.imap(odd_raises, iota(4));
  EXPECT_EQ(it.next(60s), 0);
  EXPECT_THROW(it.next(60s), std::out_of_range);
  EXPECT_EQ(it.next(60s), 2);
  EXPECT_THROW(it.next(60s), std::out_of_range);
  EXPECT_EQ(it.next(60s), std::nullopt);
}

// test_imap's it.next(timeout): TimeoutError, and the position is kept (a second call waits
// again instead of moving on). The blocking item is alone: a quick result of the same function
// can be held behind it in its worker (pool.hpp, inherited from the executor).
TEST(MpPool, ImapNextTimeout) {
  Pool pool(3);
  auto it = pool.imap(sqr_or_block, std::vector<int>{-1});
  EXPECT_THROW(it.next(20ms), tandem::TimeoutError);
  EXPECT_THROW(it.next(10ms), tandem::TimeoutError);
  auto un = pool.imap_unordered(sqr_or_block, std::vector<int>{-1}, 1);
  EXPECT_THROW(un.next(20ms), tandem::TimeoutError);
  EXPECT_THROW(un.next(10ms), tandem::TimeoutError);
  EXPECT_EQ(pool.apply(sqr, 3), 9);  // the third worker serves
}

// test_imap_unordered
TEST(MpPool, ImapUnordered) {
  Pool pool(2);
  for (std::size_t cs : {1u, 53u}) {
    std::vector<int> got;
    for (int v : pool.imap_unordered(sqr, iota(200), cs)) got.push_back(v);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, squares(200));
  }
}

// test_make_pool
TEST(MpPool, MakePool) {
  Pool pool(PoolOptions{.processes = 3});
  EXPECT_EQ(pool.processes(), 3u);
  Pool dflt;
  EXPECT_GE(dflt.processes(), 1u);
}

// test_terminate: terminate() with tasks pending returns at once; no result hangs.
TEST(MpPool, Terminate) {
  Pool pool(2);
  std::vector<tandem::mp::AsyncResult<int>> rs;
  for (int i = 0; i < 20; ++i) rs.push_back(pool.apply_async(block_forever, i));
  const auto t0 = std::chrono::steady_clock::now();
  pool.terminate();
  pool.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  for (auto& r : rs) {
    ASSERT_TRUE(r.ready());
    try {
      r.get();
      ADD_FAILURE() << "a terminated task has no value";
    } catch (const tandem::WorkerDied&) {
    } catch (const tandem::CancelledError&) {
    }
  }
  EXPECT_THROW(pool.apply_async(sqr, 1), tandem::ValueError);
}

// test_empty_iterable
TEST(MpPool, EmptyIterable) {
  Pool pool(1);
  EXPECT_EQ(pool.map(sqr, std::vector<int>{}), std::vector<int>{});
  EXPECT_EQ(pool.starmap(mul, std::vector<std::tuple<int, int>>{}, 0), std::vector<int>{});
  EXPECT_EQ(pool.map_async(sqr, std::vector<int>{}).get(60s), std::vector<int>{});
  EXPECT_EQ(pool.imap(sqr, std::vector<int>{}).next(), std::nullopt);
  EXPECT_EQ(pool.imap_unordered(sqr, std::vector<int>{}, 1).next(), std::nullopt);
}

// test_context: `with Pool(2) as p:` — the destructor is terminate().
TEST(MpPool, Context) {
  auto r = [] {
    Pool p(2);
    auto res = p.map_async(sqr, iota(10));
    EXPECT_EQ(res.get(60s), squares(10));
    return res;
  }();
  EXPECT_EQ(r.get(), squares(10));
}

// test_traceback: the task's exception keeps its standard C++ type.
TEST(MpPool, ExceptionTypeKept) {
  Pool pool(1);
  EXPECT_THROW(pool.apply(odd_raises, 1), std::out_of_range);
  auto r = pool.apply_async(odd_raises, 3);
  r.wait();
  EXPECT_FALSE(r.successful());
  EXPECT_THROW(r.get(), std::out_of_range);
  EXPECT_THROW(pool.map(odd_raises, iota(10), 3), std::out_of_range);
}

// Lifecycle: ValueError "Pool not running" after close; join() before close raises.
TEST(MpPool, CloseJoin) {
  Pool pool(2);
  EXPECT_THROW(pool.join(), tandem::ValueError);
  auto r = pool.map_async(sqr, iota(50), 5);
  pool.close();
  EXPECT_THROW(pool.apply(sqr, 1), tandem::ValueError);
  EXPECT_THROW(pool.map(sqr, iota(2)), tandem::ValueError);
  pool.join();  // the submitted work completes
  ASSERT_TRUE(r.ready());
  EXPECT_EQ(r.get(), squares(50));
  pool.join();  // again: nothing to do
}

// Callbacks run in the parent, on a thread of its own, before get() returns; a throwing
// callback is reported and does not stop the pool.
TEST(MpPool, CallbacksRunInParent) {
  Pool pool(2);
  std::atomic<int> pid{0};
  std::thread::id where;
  auto r = pool.apply_async(my_pid, 0, AsyncCallbacks<int>{.callback = [&](const int&) {
                              pid = static_cast<int>(getpid());
                              where = std::this_thread::get_id();
                            }});
  EXPECT_NE(r.get(60s), static_cast<int>(getpid()));  // the task ran in a worker
  EXPECT_EQ(pid.load(), static_cast<int>(getpid()));  // its callback in the parent
  EXPECT_NE(where, std::this_thread::get_id());

  std::atomic<int> reports{0};
  auto old = tandem::set_log_handler(
      [&](tandem::LogLevel, std::string_view, std::string_view) { ++reports; });
  auto bad = pool.apply_async(
      sqr, 4, AsyncCallbacks<int>{.callback = [](const int&) { throw std::runtime_error("cb"); }});
  EXPECT_EQ(bad.get(60s), 16);
  tandem::set_log_handler(old);
  EXPECT_EQ(reports.load(), 1);
  EXPECT_EQ(pool.apply(sqr, 6), 36);
}

// Callbacks run in completion order: the task submitted second completes (and calls back)
// first; the first one is released only after that callback has run.
TEST(MpPool, CallbacksInCompletionOrder) {
  int go[2], started[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(started), 0);
  std::vector<int> order;
  {
    Pool pool(2);
    auto push = [&](const int& v) { order.push_back(v); };
    auto first = pool.apply_async(signal_then_read, started[1], go[0],
                                  AsyncCallbacks<int>{.callback = push});
    char c;
    ASSERT_EQ(read(started[0], &c, 1), 1);  // it runs: the second task goes to the other worker
    auto second = pool.apply_async(sqr, 2, AsyncCallbacks<int>{.callback = push});
    EXPECT_EQ(second.get(60s), 4);
    ASSERT_EQ(write(go[1], "x", 1), 1);
    EXPECT_EQ(first.get(60s), 'x');
  }
  EXPECT_EQ(order, (std::vector<int>{4, 'x'}));
  for (int fd : {go[0], go[1], started[0], started[1]}) close(fd);
}

// apply_async of a void function: AsyncResult<void>.
TEST(MpPool, VoidFunction) {
  Pool pool(1);
  bool called = false;
  auto r = pool.apply_async(nothing, AsyncCallbacks<void>{.callback = [&] { called = true; }});
  r.get(60s);
  EXPECT_TRUE(called);
  EXPECT_TRUE(r.successful());
  pool.apply(nothing);
}

// initializer runs in every worker (test_initializer of _TestInitializers).
TEST(MpPool, Initializer) {
  Pool pool(PoolOptions{.processes = 2, .initializer = init_worker});
  EXPECT_EQ(pool.map(initialized, iota(4)), (std::vector<int>{42, 42, 42, 42}));
}

// _TestPoolWorkerLifetime.test_pool_worker_lifetime: maxtasksperchild replaces workers.
TEST(MpPool, WorkerLifetime) {
  Pool pool(PoolOptions{.processes = 3, .maxtasksperchild = 10});
  std::vector<tandem::mp::AsyncResult<int>> rs;
  for (int i = 0; i < 100; ++i) rs.push_back(pool.apply_async(my_pid, i));
  std::set<int> pids;
  for (auto& r : rs) pids.insert(r.get(60s));
  EXPECT_GE(pids.size(), 10u);  // 100 tasks, at most 10 per worker
  pool.close();
  pool.join();
}

// _TestInitializers.test_pool_initializer passes initargs: here they travel with the call.
TEST(MpPool, InitializerWithArguments) {
  Pool pool(PoolOptions{.processes = 2,
                        .initializer_call = tandem::shipping::ship(&init_worker_with, 6, 7)});
  EXPECT_EQ(pool.map(initialized, iota(4)), (std::vector<int>{42, 42, 42, 42}));
}

TEST(MpPool, FunctionObjects) {
  Pool pool(2);
  EXPECT_EQ(pool.apply(Power{3}, 4), 64);
  EXPECT_EQ(pool.apply_async(Weighted{10}, 1, 2).get(60s), 30);
  EXPECT_EQ(pool.map(Power{2}, iota(50), 7), squares(50));
  std::vector<int> got;
  for (int v : pool.imap(Power{2}, iota(30), 4)) got.push_back(v);
  EXPECT_EQ(got, squares(30));
  got.clear();
  for (int v : pool.imap_unordered(Power{2}, iota(30), 4)) got.push_back(v);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, squares(30));
  std::vector<std::tuple<int, int>> args{{1, 2}, {3, 4}};
  EXPECT_EQ(pool.starmap(Weighted{2}, args, 1), (std::vector<int>{6, 14}));
}

// Start methods other than fork (test_context's get_context): spawn.
TEST(MpPool, Spawn) {
  Pool pool(PoolOptions{.processes = 1, .start_method = tandem::mp::StartMethod::spawn});
  EXPECT_EQ(pool.map(sqr, iota(5)), squares(5));
  EXPECT_EQ(pool.map(Power{3}, iota(5)), (std::vector<int>{0, 1, 8, 27, 64}));
}

}  // namespace

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
