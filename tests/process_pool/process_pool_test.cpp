// SPDX-License-Identifier: MIT
// ProcessPoolExecutor: CPython's test_process_pool.py / executor.py cases that apply, for each
// start method. This binary has its own main(): mp::init(argc, argv) comes first, so that
// spawned workers are taken over there (and the fork server starts single-threaded).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/process_pool.hpp"
#include "support/pool_test_support.hpp"

namespace {

using namespace std::chrono_literals;

int add(int a, int b) { return a + b; }
int my_pid() { return static_cast<int>(getpid()); }
void sleep_ms(int ms) { usleep(static_cast<useconds_t>(ms) * 1000); }
int square(int x) { return x * x; }
int mul(int a, int b) { return a * b; }
struct MyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
int raise_custom(int) { throw MyError("custom failure"); }
int raise_value(int) { throw tandem::ValueError("bad value"); }
int div0(int x) {
  if (x == 5) throw std::domain_error("five");
  return x;
}
int g_init = 0;
void init_set() { g_init = 42; }
int read_init() { return g_init; }
void init_throw() { throw std::runtime_error("initializer says no"); }

class StartMethods : public tandem_test::PoolByStartMethod {};

// executor.py: test_submit
TEST_P(StartMethods, Submit) {
  tandem::ProcessPoolExecutor ex(opts(2));
  EXPECT_EQ(ex.submit(add, 2, 3).result(), 5);
  EXPECT_NE(ex.submit(my_pid).result(), getpid());
}

// executor.py: test_map
TEST_P(StartMethods, Map) {
  tandem::ProcessPoolExecutor ex(opts(2));
  std::vector<int> in(100);
  for (int i = 0; i < 100; ++i) in[i] = i;
  std::vector<int> out;
  for (int r : ex.map(square, in)) out.push_back(r);
  ASSERT_EQ(out.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(out[i], i * i);
}

// test_process_pool.py: test_map_chunksize
TEST_P(StartMethods, MapChunksize) {
  tandem::ProcessPoolExecutor ex(opts(2));
  std::vector<int> in(1000);
  for (int i = 0; i < 1000; ++i) in[i] = i;
  for (std::size_t cs : {1, 2, 10, 999, 1000, 5000}) {
    std::vector<int> out;
    for (int r : ex.map(square, in, tandem::MapOptions{.chunksize = cs})) out.push_back(r);
    ASSERT_EQ(out.size(), 1000u);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(out[i], i * i);
  }
  EXPECT_THROW(ex.map(square, in, tandem::MapOptions{.chunksize = 0}), tandem::ValueError);
}

// executor.py: test_map_exception
TEST_P(StartMethods, MapException) {
  tandem::ProcessPoolExecutor ex(opts(2));
  std::vector<int> in{1, 2, 3, 4, 5, 6};
  std::vector<int> got;
  auto m = ex.map(div0, in, tandem::MapOptions{.chunksize = 2});
  EXPECT_THROW(
      {
        for (int r : m) got.push_back(r);
      },
      std::domain_error);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4}));
}

// buffersize (3.14): input read lazily with a bounded window.
TEST_P(StartMethods, MapBuffersize) {
  tandem::ProcessPoolExecutor ex(opts(2));
  std::vector<int> in(500);
  for (int i = 0; i < 500; ++i) in[i] = i;
  long sum = 0;
  for (int r : ex.map(square, in, tandem::MapOptions{.chunksize = 10, .buffersize = 3})) sum += r;
  long want = 0;
  for (int i = 0; i < 500; ++i) want += i * i;
  EXPECT_EQ(sum, want);
}

// test_process_pool.py: test_traceback (the type and message come back)
TEST_P(StartMethods, Exceptions) {
  tandem::ProcessPoolExecutor ex(opts(1));
  EXPECT_THROW(ex.submit(raise_value, 1).result(), tandem::ValueError);
  // The future outlives the handler: the exception object is shared with it (as Python
  // raises the stored exception itself), and libstdc++'s exception refcount is invisible to
  // ThreadSanitizer, which would otherwise report the pool thread's release as a race.
  auto f = ex.submit(raise_custom, 1);
  try {
    f.result();
    FAIL();
  } catch (const tandem::RemoteError& e) {
    EXPECT_NE(std::string(e.what()).find("custom failure"), std::string::npos);
    EXPECT_NE(e.type_name().find("MyError"), std::string::npos);
  }
}

// executor.py: InitializerMixin.test_initializer
TEST_P(StartMethods, Initializer) {
  auto o = opts(2);
  o.initializer = init_set;
  tandem::ProcessPoolExecutor ex(o);
  EXPECT_EQ(ex.submit(read_init).result(), 42);
}

// executor.py: FailingInitializerMixin.test_initializer — the pool breaks (after retries)
// instead of looping forever.
TEST_P(StartMethods, FailingInitializer) {
  auto o = opts(2);
  o.initializer = init_throw;
  tandem_test::expect_broken_by_initializer(o);
}

// test_process_pool.py: test_max_tasks_per_child — the same pid for 3 tasks, then another.
TEST_P(StartMethods, MaxTasksPerChild) {
  auto o = opts(1);
  o.max_tasks_per_child = 3;
  tandem::ProcessPoolExecutor ex(o);
  int p1 = ex.submit(my_pid).result();
  EXPECT_EQ(ex.submit(my_pid).result(), p1);
  EXPECT_EQ(ex.submit(my_pid).result(), p1);
  int p2 = ex.submit(my_pid).result();
  EXPECT_NE(p2, p1);
  // Many tasks through retiring workers (gh-115634: CPython hung here).
  std::vector<tandem::Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(ex.submit(add, i, i));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(fs[i].result(30s), 2 * i);
}

// CPython Lib/test/test_concurrent_futures/test_process_pool.py: test_max_tasks_early_shutdown
// — shutdown() right after submitting twice as many tasks as there are workers that may each
// run one: every task still runs (the retiring workers are replaced). Python skips fork, which
// it refuses with max_tasks_per_child; tandem allows it.
TEST_P(StartMethods, MaxTasksEarlyShutdown) {
  auto o = opts(3);
  o.max_tasks_per_child = 1;
  tandem::ProcessPoolExecutor ex(o);
  std::vector<tandem::Future<int>> fs;
  for (int i = 0; i < 6; ++i) fs.push_back(ex.submit(mul, i, i));
  ex.shutdown();
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(fs[i].done()) << i;
    EXPECT_EQ(fs[i].result(), i * i);
  }
}

// executor.py: test_shutdown / ExecutorShutdownTest.test_run_after_shutdown
TEST_P(StartMethods, RunAfterShutdown) {
  tandem::ProcessPoolExecutor ex(opts(1));
  ex.shutdown();
  EXPECT_THROW(ex.submit(add, 1, 1), tandem::RuntimeError);
  ex.shutdown();  // again: harmless
}

// ExecutorShutdownTest.test_cancel_futures
TEST_P(StartMethods, ShutdownCancelFutures) {
  tandem::ProcessPoolExecutor ex(opts(1));
  std::vector<tandem::Future<void>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(ex.submit(sleep_ms, 20));
  ex.shutdown(true, true);
  int cancelled = 0;
  for (auto& f : fs) {
    ASSERT_TRUE(f.done());
    if (f.cancelled()) ++cancelled;
  }
  EXPECT_GT(cancelled, 10);
}

// ExecutorShutdownTest.test_shutdown_no_wait: pending work still runs.
TEST_P(StartMethods, ShutdownNoWait) {
  tandem::ProcessPoolExecutor ex(opts(2));
  std::vector<tandem::Future<int>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back(ex.submit(add, i, 0));
  ex.shutdown(false);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(fs[i].result(30s), i);
}

// test_process_pool.py: test_terminate_workers / test_kill_workers (3.14)
TEST_P(StartMethods, KillWorkers) {
  tandem::ProcessPoolExecutor ex(opts(2));
  auto running = ex.submit(sleep_ms, 60000);
  std::vector<tandem::Future<void>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(ex.submit(sleep_ms, 60000));
  while (!running.running()) usleep(1000);
  ex.kill_workers();
  // RUNNING means "sent to a worker" (Python's call-queue rule): one killed before it began
  // is cancelled; one that began fails with WorkerDied (a BrokenProcessPool).
  queued.push_back(running);
  for (auto& f : queued) {
    try {
      f.result(30s);
      FAIL() << "a 60 s task finished";
    } catch (const tandem::BrokenProcessPool&) {
    } catch (const tandem::CancelledError&) {
    }
  }
  EXPECT_THROW(ex.submit(add, 1, 1), tandem::RuntimeError);
}

TEST_P(StartMethods, TerminateWorkers) {
  tandem::ProcessPoolExecutor ex(opts(1));
  EXPECT_EQ(ex.submit(add, 1, 1).result(), 2);  // the worker is up
  auto running = ex.submit(sleep_ms, 60000);
  while (!running.running()) usleep(1000);
  usleep(100000);  // not a synchronisation: both outcomes below are accepted
  ex.terminate_workers();
  try {
    running.result(30s);
    FAIL();
  } catch (const tandem::WorkerDied& e) {
    EXPECT_EQ(e.signal(), SIGTERM);
  } catch (const tandem::CancelledError&) {  // SIGTERM came before the worker began it
  }
}

INSTANTIATE_TEST_SUITE_P(All, StartMethods, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

}  // namespace

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
