// SPDX-License-Identifier: MIT
// ProcessPoolExecutor fault tests with real signals and real crashes: a dead worker fails
// only its task (WorkerDied with pid, signal/exit code and a hint), the pool keeps serving;
// timeouts and cancel() kill and replace; chaos (random SIGKILLs during many tasks) leaves
// every future completed, no zombies, no leaked descriptors, no stray processes.
// CPython: test_process_pool.py test_killed_child / ExecutorDeadlockTest cases, where Python
// breaks the pool and we must not.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/fault_support.hpp"
#include "support/pool_test_support.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/process_pool.hpp"

namespace {

using namespace std::chrono_literals;

int add(int a, int b) { return a + b; }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;  // their runtimes catch SIGSEGV and exit(1) instead
#else
constexpr bool kSanitized = false;
#endif
volatile std::uintptr_t g_bad_address = 64;  // volatile: no compile-time bounds analysis
int segfault(int) {
  // Not a null pointer (UBSan would report that and exit): an unmapped low address.
  return *reinterpret_cast<volatile int*>(g_bad_address);
}
int do_abort(int) { std::abort(); }
int do_exit(int code) { std::exit(code); }
int forever(int) {
  for (;;) pause();
}
void sleep_ms(int ms) { usleep(static_cast<useconds_t>(ms) * 1000); }
void limit_memory() {  // initializer: allocations fail fast instead of eating the machine
  rlimit r{std::size_t{1} << 30, std::size_t{1} << 30};
  setrlimit(RLIMIT_AS, &r);
}
long hog(int) {
  std::vector<char*> blocks;
  for (;;) {
    char* p = static_cast<char*>(std::malloc(16 << 20));
    if (!p) std::abort();  // out of memory: die as the OOM killer's victims do (by a signal)
    std::memset(p, 1, 16 << 20);
    blocks.push_back(p);
  }
}
/// Starts a grandchild that would live for a minute, records its pid in `path`, then hangs.
int spawn_grandchild_and_hang(std::string path) {
  pid_t g = fork();
  if (g == 0) {
    sleep(60);
    _exit(0);
  }
  if (FILE* f = std::fopen(path.c_str(), "w")) {
    std::fprintf(f, "%d\n", static_cast<int>(g));
    std::fclose(f);
  }
  for (;;) pause();
}

using faulttest::count_children;
using faulttest::count_fds;
using faulttest::process_exists;

class Faults : public tandem_test::PoolByStartMethod {};

template <class F>
tandem::WorkerDied expect_died(F&& f) {
  try {
    f.result(60s);
  } catch (const tandem::WorkerDied& e) {
    return e;
  }
  ADD_FAILURE() << "no WorkerDied";
  return tandem::WorkerDied("", 0, 0, 0);
}

// test_process_pool.py: test_killed_child — Python breaks the pool; we fail only that task.
TEST_P(Faults, KilledChildFailsOnlyItsTask) {
  tandem::ProcessPoolExecutor ex(opts(2));
  auto victim = ex.submit(sleep_ms, 60000);
  auto other = ex.submit(sleep_ms, 300);
  while (!victim.running()) usleep(1000);
  usleep(200000);  // not a synchronisation: either outcome below is checked
  std::vector<int> pids = ex.worker_pids();
  ASSERT_FALSE(pids.empty());
  for (int p : pids) kill(p, SIGKILL);
  tandem::WorkerDied e = expect_died(victim);
  EXPECT_EQ(e.signal(), SIGKILL);
  try {
    other.result(60s);  // finished before the kill, or died with its worker
  } catch (const tandem::WorkerDied&) {
  }
  EXPECT_NE(std::string(e.what()).find("SIGKILL"), std::string::npos);
  EXPECT_NE(std::string(e.what()).find("out-of-memory"), std::string::npos);
  // The pool keeps serving.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ex.submit(add, i, 1).result(60s), i + 1);
}

TEST_P(Faults, Segfault) {
  tandem::ProcessPoolExecutor ex(opts(2));
  auto e = expect_died(ex.submit(segfault, 0));
  if (!kSanitized) {
    EXPECT_EQ(e.signal(), SIGSEGV);
    EXPECT_NE(std::string(e.what()).find("SIGSEGV"), std::string::npos);
  }
  EXPECT_EQ(ex.submit(add, 1, 2).result(60s), 3);
}

TEST_P(Faults, Abort) {
  tandem::ProcessPoolExecutor ex(opts(1));
  auto e = expect_died(ex.submit(do_abort, 0));
  EXPECT_EQ(e.signal(), SIGABRT);
  EXPECT_EQ(ex.submit(add, 1, 2).result(60s), 3);
}

TEST_P(Faults, ExitCode) {
  tandem::ProcessPoolExecutor ex(opts(1));
  auto e = expect_died(ex.submit(do_exit, 3));
  EXPECT_EQ(e.exit_code(), 3);
  EXPECT_EQ(e.signal(), 0);
  EXPECT_NE(std::string(e.what()).find("exited with code 3"), std::string::npos);
  EXPECT_EQ(ex.submit(add, 1, 2).result(60s), 3);
}

TEST_P(Faults, QueuedTasksSurviveACrash) {
  tandem::ProcessPoolExecutor ex(opts(1));
  std::vector<tandem::Future<int>> before;
  auto bad = ex.submit(segfault, 0);
  for (int i = 0; i < 50; ++i) before.push_back(ex.submit(add, i, i));
  expect_died(bad);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(before[i].result(60s), 2 * i);
}

/// Writes this worker's pid into the FIFO at `path` (the test waits on it), then blocks until
/// it is killed.
int announce_and_block(std::string path) {
  const int fd = open(path.c_str(), O_WRONLY);
  const int pid = static_cast<int>(getpid());
  if (fd < 0 || write(fd, &pid, sizeof pid) != sizeof pid) std::abort();
  close(fd);
  for (;;) pause();
}

// Tasks a worker had received but not started are re-queued when it dies, and only the task
// it was running fails. The pool sends a fresh worker one task at a time (unknown task
// length), so the warm-up's tiny tasks come first: with a short measured task time the pool
// sends batches (a window of ~200 µs of work per worker). The worker is then blocked in the
// first task of its batch while the tasks behind it are RUNNING (= sent to a worker,
// process_pool.hpp; the pool has one worker) and killed there. The window comes from measured
// times, which a loaded machine (a sanitizer build, two ctest jobs) can inflate: a round whose
// worker got fewer than two tasks behind the blocker still checks every outcome, and the test
// tries again, up to five rounds.
TEST_P(Faults, ReceivedButNotStartedTasksAreRequeued) {
  tandem::ProcessPoolExecutor ex(opts(1));
  constexpr int kBehind = 40;
  constexpr int kSeveral = 2;
  int best = 0;
  for (int round = 0; round < 5 && best < kSeveral; ++round) {
    {
      std::vector<tandem::Future<int>> warm;
      for (int i = 0; i < 2000; ++i) warm.push_back(ex.submit(add, i, 1));
      for (int i = 0; i < 2000; ++i) ASSERT_EQ(warm[i].result(60s), i + 1);
    }
    const std::string fifo = "/tmp/tandem_pp_requeue_" + std::to_string(getpid()) + "_" +
                             std::to_string(static_cast<int>(GetParam()));
    std::remove(fifo.c_str());
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    const int rfd = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // before the writer opens it
    ASSERT_GE(rfd, 0);
    auto blocker = ex.submit(announce_and_block, fifo);
    std::vector<tandem::Future<int>> behind;
    for (int i = 0; i < kBehind; ++i) behind.push_back(ex.submit(add, i, i));
    pollfd p{rfd, POLLIN, 0};
    const int ready = poll(&p, 1, 60000);
    int pid = 0;
    const bool got = ready == 1 && read(rfd, &pid, sizeof pid) == static_cast<ssize_t>(sizeof pid);
    close(rfd);
    std::remove(fifo.c_str());
    ASSERT_TRUE(got) << "the blocking task did not start within 60 s";
    // Tasks go out in submission order and the blocker never returns, so what the worker holds
    // now is all it will get: wait for the first behind it, then count.
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!behind[0].running() && std::chrono::steady_clock::now() < until) usleep(1000);
    int sent = 0;
    for (auto& f : behind) sent += f.running() ? 1 : 0;
    ASSERT_EQ(kill(pid, SIGKILL), 0);  // before any check: a failed one must not leave it blocked
    tandem::WorkerDied e = expect_died(blocker);
    EXPECT_EQ(e.signal(), SIGKILL);
    for (int i = 0; i < kBehind; ++i) EXPECT_EQ(behind[i].result(60s), 2 * i) << "task " << i;
    std::printf("re-queue round %d: %d of %d tasks were in the killed worker's batch\n", round,
                sent, kBehind);
    best = std::max(best, sent);
  }
  EXPECT_GE(best, kSeveral) << "in five rounds the worker never held two tasks behind the "
                               "blocked one: the re-queue path was not exercised";
}

TEST_P(Faults, TimeoutKillsAndReplaces) {
  tandem::ProcessPoolExecutor ex(opts(1));
  const auto t0 = std::chrono::steady_clock::now();
  auto f = ex.submit(tandem::TaskOptions{.timeout = 0.2s}, forever, 0);
  EXPECT_THROW(f.result(60s), tandem::TimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 0.2s);
  EXPECT_EQ(ex.submit(tandem::TaskOptions{.timeout = 30s}, add, 2, 2).result(60s), 4);
}

TEST_P(Faults, CancelRunningKillsWorker) {
  tandem::ProcessPoolExecutor ex(opts(1));
  auto f = ex.submit(forever, 0);
  auto g = ex.submit(add, 1, 1);  // queued behind it on the same worker, or in the parent
  while (!f.running()) usleep(1000);
  usleep(100000);
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.result(), tandem::CancelledError);
  EXPECT_EQ(g.result(60s), 2);
}

TEST_P(Faults, AllocatesUntilKilled) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizer runtimes reserve terabytes of address space: RLIMIT_AS breaks them";
#endif
  auto o = opts(1);
  o.initializer = limit_memory;
  tandem::ProcessPoolExecutor ex(o);
  auto f = ex.submit(hog, 0);
  try {
    f.result(60s);
    FAIL();
  } catch (const tandem::WorkerDied& e) {
    EXPECT_EQ(e.signal(), SIGABRT);
  } catch (const std::bad_alloc&) {  // operator new's failure comes back as bad_alloc
  }
  EXPECT_EQ(ex.submit(add, 1, 2).result(60s), 3);
}

TEST_P(Faults, GrandchildrenDieWithKilledWorker) {
  tandem::ProcessPoolExecutor ex(opts(1));
  const std::string path = "/tmp/tandem_pp_grandchild_" + std::to_string(getpid());
  std::remove(path.c_str());
  auto f = ex.submit(tandem::TaskOptions{.timeout = 1s}, spawn_grandchild_and_hang, path);
  EXPECT_THROW(f.result(60s), tandem::TimeoutError);
  int g = 0;
  if (FILE* fp = std::fopen(path.c_str(), "r")) {
    if (std::fscanf(fp, "%d", &g) != 1) g = 0;
    std::fclose(fp);
  }
  std::remove(path.c_str());
  ASSERT_GT(g, 0);
  // SIGKILLed with the worker's group; reaped by init (or a subreaper) soon after.
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (process_exists(g) && std::chrono::steady_clock::now() < until) usleep(1000);
  EXPECT_FALSE(process_exists(g));
  EXPECT_EQ(ex.submit(add, 1, 1).result(60s), 2);
}

TEST_P(Faults, ShutdownDuringSubmission) {
  for (int round = 0; round < 3; ++round) {
    tandem::ProcessPoolExecutor ex(opts(2));
    std::atomic<int> refused{0};
    std::vector<tandem::Future<int>> fs;
    std::thread t([&] {
      for (int i = 0; i < 20000; ++i) {
        try {
          fs.push_back(ex.submit(add, i, 1));
        } catch (const tandem::RuntimeError&) {
          refused.fetch_add(1);
          break;
        }
      }
    });
    usleep(2000);
    ex.shutdown(round % 2 == 0, round == 2);
    t.join();
    for (auto& f : fs) {
      try {
        f.exception(60s);  // every future completes (value, or cancelled)
      } catch (const tandem::CancelledError&) {
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, Faults, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

// Chaos, sustained: a killer thread SIGKILLs a random live worker every ~10 ms (or, when a
// start takes longer, as soon as the pool is back at full strength) while tasks that each do
// a few microseconds of work are submitted, until at least kChaosTasks have completed AND at
// least kChaosKills kills were made (a run that stopped at the task count would test little:
// ~3 M trivial tasks/s finish 100,000 in a few kill periods). Every future completes with its
// result or WorkerDied; the pool keeps serving; afterwards no zombies, no leaked descriptors,
// no stray processes. The kills never break the pool (there is no initializer to blame).
int chaos_work(int i) {
  volatile unsigned x = static_cast<unsigned>(i);
  for (int k = 0; k < 300; ++k) x = x * 1103515245u + 12345u;  // ~1-3 µs
  return i + 1;
}

class ProcessPoolChaos : public tandem_test::PoolByStartMethod {};

TEST_P(ProcessPoolChaos, SustainedRandomSigkills) {
  constexpr int kChaosTasks = 100000, kChaosKills = 50, kBatch = 4000;
  const auto deadline = std::chrono::steady_clock::now() + 240s;
  const int fds_before = count_fds();
  const int children_before = count_children();
  std::vector<int> all_pids;
  int completed = 0, ok = 0, died = 0;
  {
    tandem::ProcessPoolExecutor ex(opts(2));
    std::atomic<bool> stop{false};
    std::atomic<int> kills{0};
    std::vector<int> victims;  // the killer's, read after it is joined
    std::thread killer([&] {
      std::mt19937 rng(12345);
      while (!stop.load()) {
        auto pids = ex.worker_pids();
        // Only a pool at full strength (both workers up, the spare ready) loses a worker: a
        // start can take longer than the kill period (a fork of an ASan process on a loaded
        // machine: ~0.1 s), and kills faster than the pool replaces would leave it forking only.
        if (pids.size() == 2 && ex.spare_pid() != 0) {
          const int p = pids[rng() % pids.size()];
          if (kill(p, SIGKILL) == 0) {
            kills.fetch_add(1);
            victims.push_back(p);
          }
        }
        usleep(10000);  // the kill period, not a synchronisation
      }
    });
    struct Joiner {
      std::atomic<bool>& stop;
      std::thread& t;
      ~Joiner() {
        stop = true;
        if (t.joinable()) t.join();
      }
    } joiner{stop, killer};
    std::vector<tandem::Future<int>> fs;
    fs.reserve(kBatch);
    while ((completed < kChaosTasks || kills.load() < kChaosKills) &&
           std::chrono::steady_clock::now() < deadline) {
      fs.clear();
      for (int i = 0; i < kBatch; ++i) fs.push_back(ex.submit(chaos_work, completed + i));
      for (int i = 0; i < kBatch; ++i) {
        try {
          EXPECT_EQ(fs[i].result(120s), completed + i + 1);
          ++ok;
        } catch (const tandem::WorkerDied&) {
          ++died;
        } catch (const std::exception& e) {
          ADD_FAILURE() << "task " << completed + i << ": " << e.what();
        }
      }
      completed += kBatch;
    }
    stop = true;
    killer.join();
    std::printf("chaos: %d tasks, %d ok, %d WorkerDied, %d kills\n", completed, ok, died,
                kills.load());
    EXPECT_GE(completed, kChaosTasks);
    EXPECT_GE(kills.load(), kChaosKills);
    EXPECT_EQ(ok + died, completed);
    // A kill fails at most the one task its worker was running: finished results survive
    // (the worker's result log), the rest of its batch runs elsewhere (issue 10).
    EXPECT_LE(died, kills.load());
    EXPECT_GT(ok, 0);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(ex.submit(add, i, 1).result(60s), i + 1);
    all_pids = ex.worker_pids();
    all_pids.insert(all_pids.end(), victims.begin(), victims.end());
  }
  EXPECT_EQ(count_children(), children_before);  // no zombies, no stray workers
  EXPECT_EQ(count_fds(), fds_before);            // no leaked descriptors
  for (int p : all_pids) EXPECT_FALSE(process_exists(p)) << p;
}

INSTANTIATE_TEST_SUITE_P(All, ProcessPoolChaos, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

}  // namespace

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
