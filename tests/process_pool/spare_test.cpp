// SPDX-License-Identifier: MIT
// ProcessPoolExecutor's spare worker (ProcessPoolOptions::spare_worker): a process started
// ahead of need that takes a dead worker's place at once. It is never a worker before its
// promotion (no task, not in worker_pids()), ends with the pool (no zombie, no descriptor
// left), and its failing initializer breaks the pool as any worker's does (CPython's
// executor.py FailingInitializerMixin: BrokenProcessPool for what is pending and what comes).
// For each start method. Own main(): mp::init(argc, argv) first.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
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

/// The flag file of InitializerFailsInTheSpare, named after the session (which every pool
/// process shares with the test, whatever the start method) and the start method M (ctest
/// runs the three instantiations at the same time, in the same session).
template <int M>
std::string fail_flag() {
  return "/tmp/tandem_pp_spare_fail_" + std::to_string(getsid(0)) + "_" + std::to_string(M);
}
template <int M>
void init_fails_once_flagged() {
  if (std::FILE* f = std::fopen(fail_flag<M>().c_str(), "r")) {
    std::fclose(f);
    throw std::runtime_error("the spare's initializer says no");
  }
}
struct FailingInit {
  std::string flag;
  void (*init)();
};
FailingInit failing_init(tandem::mp::StartMethod m) {
  switch (m) {
    case tandem::mp::StartMethod::fork: return {fail_flag<0>(), init_fails_once_flagged<0>};
    case tandem::mp::StartMethod::forkserver: return {fail_flag<1>(), init_fails_once_flagged<1>};
    default: return {fail_flag<2>(), init_fails_once_flagged<2>};
  }
}

/// Waits (polling, generous bound) for a ready spare other than `not_this`; 0 if none came.
int wait_spare(tandem::ProcessPoolExecutor& ex, int not_this = 0) {
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < until) {
    const int p = ex.spare_pid();
    if (p != 0 && p != not_this) return p;
    usleep(1000);
  }
  return 0;
}
/// Reaped (not a zombie, not running): kill(pid, 0) fails with ESRCH.
bool gone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }
int open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}
/// The result of my_pid submitted right after a kill: the task may reach the dying worker
/// first (then it is re-queued, never failed, as it had not started) — retried only in case.
int pid_after_kill(tandem::ProcessPoolExecutor& ex) {
  for (;;) {
    try {
      return ex.submit(my_pid).result(60s);
    } catch (const tandem::WorkerDied&) {
    }
  }
}

class Spare : public tandem_test::PoolByStartMethod {};

// A worker's death: the spare takes its place (the task after the kill runs in the spare's
// process), and a fresh spare appears.
TEST_P(Spare, TakesOverADeadWorker) {
  tandem::ProcessPoolExecutor ex(opts(1));
  const int worker = ex.submit(my_pid).result(60s);
  const int spare = wait_spare(ex);
  ASSERT_NE(spare, 0);
  ASSERT_NE(spare, worker);
  ASSERT_EQ(ex.worker_pids(), std::vector<int>{worker});
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  EXPECT_EQ(pid_after_kill(ex), spare);
  EXPECT_EQ(ex.worker_pids(), std::vector<int>{spare});
  const int next = wait_spare(ex, spare);
  EXPECT_NE(next, 0);
  EXPECT_NE(next, worker);
  EXPECT_TRUE(gone(worker));
  EXPECT_EQ(ex.submit(add, 2, 3).result(60s), 5);
}

// The spare is not a worker: max_workers() and worker_pids() leave it out, and no task runs
// in it while it is the spare.
TEST_P(Spare, IsNotAWorker) {
  tandem::ProcessPoolExecutor ex(opts(2));
  const int spare = wait_spare(ex);
  ASSERT_NE(spare, 0);
  EXPECT_EQ(ex.max_workers(), 2u);
  std::vector<int> pids = ex.worker_pids();
  EXPECT_EQ(pids.size(), 2u);
  EXPECT_EQ(std::count(pids.begin(), pids.end(), spare), 0);
  std::vector<tandem::Future<int>> fs;
  for (int i = 0; i < 2000; ++i) fs.push_back(ex.submit(my_pid));
  for (auto& f : fs) EXPECT_NE(f.result(60s), spare);
  EXPECT_EQ(ex.spare_pid(), spare);  // still parked
}

// spare_worker = false: no spare; a death is answered by starting a process then.
TEST_P(Spare, Disabled) {
  auto o = opts(1);
  o.spare_worker = false;
  tandem::ProcessPoolExecutor ex(o);
  const int worker = ex.submit(my_pid).result(60s);
  EXPECT_EQ(ex.spare_pid(), 0);
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  const int next = pid_after_kill(ex);
  EXPECT_NE(next, worker);
  EXPECT_EQ(ex.worker_pids(), std::vector<int>{next});
  EXPECT_EQ(ex.spare_pid(), 0);
}

// max_tasks_per_child: a worker retiring after its quota is replaced by the spare too.
TEST_P(Spare, ReplacesARetiredWorker) {
  auto o = opts(1);
  o.max_tasks_per_child = 2;
  tandem::ProcessPoolExecutor ex(o);
  const int first = ex.submit(my_pid).result(60s);
  const int spare = wait_spare(ex);
  ASSERT_NE(spare, 0);
  EXPECT_EQ(ex.submit(my_pid).result(60s), first);
  EXPECT_EQ(ex.submit(my_pid).result(60s), spare);
  EXPECT_EQ(ex.submit(my_pid).result(60s), spare);
  EXPECT_NE(ex.submit(my_pid).result(60s), spare);  // its quota too
}

// shutdown, terminate_workers() and kill_workers() end the spare with the workers: no
// zombie, no descriptor left open.
TEST_P(Spare, EndsWithThePool) {
  for (int how = 0; how < 3; ++how) {
    const int fds = open_fds();
    int spare = 0, worker = 0;
    {
      tandem::ProcessPoolExecutor ex(opts(1));
      worker = ex.submit(my_pid).result(60s);
      spare = wait_spare(ex);
      ASSERT_NE(spare, 0);
      if (how == 0) ex.shutdown(true);
      if (how == 1) ex.terminate_workers();
      if (how == 2) ex.kill_workers();
      if (how == 0) {
        EXPECT_EQ(ex.spare_pid(), 0);
      }
    }  // the destructor waits for the teardown
    EXPECT_TRUE(gone(spare)) << "how " << how;
    EXPECT_TRUE(gone(worker)) << "how " << how;
    EXPECT_EQ(open_fds(), fds) << "how " << how;
  }
}

// executor.py FailingInitializerMixin, for a replacement: the initializer starts failing after
// the pool came up, so the spare started after a death fails it again and again; the pool
// breaks (BrokenProcessPool for later submits) instead of forking spares forever.
TEST_P(Spare, InitializerFailsInTheSpare) {
  const FailingInit fi = failing_init(GetParam());
  std::remove(fi.flag.c_str());
  auto o = opts(1);
  o.initializer = fi.init;
  tandem::ProcessPoolExecutor ex(o);
  const int worker = ex.submit(my_pid).result(60s);
  ASSERT_NE(wait_spare(ex), 0);
  if (std::FILE* f = std::fopen(fi.flag.c_str(), "w")) std::fclose(f);
  ASSERT_EQ(::kill(worker, SIGKILL), 0);  // the spare takes over; the next spares fail
  bool broken = false;
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (!broken && std::chrono::steady_clock::now() < until) {
    // The future outlives the handler: libstdc++'s exception refcount is invisible to TSan.
    std::optional<tandem::Future<int>> f;
    try {
      f = ex.submit(add, 1, 2);
      f->result(60s);
      usleep(1000);
    } catch (const tandem::BrokenProcessPool& e) {
      broken = std::string(e.what()).find("initializer") != std::string::npos;
    }
  }
  std::remove(fi.flag.c_str());
  EXPECT_TRUE(broken);
  EXPECT_THROW(ex.submit(add, 1, 2), tandem::BrokenProcessPool);
}

// A burst of deaths: the worker is killed again before the new spare is ready (the one still
// starting is promoted); every task completes; afterwards nothing is left behind.
TEST_P(Spare, BurstOfDeaths) {
  std::vector<int> seen;
  const int fds = open_fds();
  {
    tandem::ProcessPoolExecutor ex(opts(1));
    std::vector<tandem::Future<int>> fs;
    for (int round = 0; round < 20; ++round) {
      for (int p : ex.worker_pids()) {
        seen.push_back(p);
        ::kill(p, SIGKILL);
      }
      for (int i = 0; i < 5; ++i) fs.push_back(ex.submit(add, round, i));
      if (round % 4 == 0) sleep_ms(1);  // not a synchronisation: varies the interleaving
    }
    for (std::size_t k = 0; k < fs.size(); ++k) {
      try {
        EXPECT_EQ(fs[k].result(60s), static_cast<int>(k / 5 + k % 5));
      } catch (const tandem::WorkerDied&) {  // it was running when its worker was killed
      }
    }
    EXPECT_EQ(ex.submit(add, 1, 1).result(60s), 2);
    for (int p : ex.worker_pids()) seen.push_back(p);
    if (int s = ex.spare_pid()) seen.push_back(s);
  }
  for (int p : seen) EXPECT_TRUE(gone(p)) << p;
  EXPECT_EQ(open_fds(), fds);
}

INSTANTIATE_TEST_SUITE_P(All, Spare, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

}  // namespace

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
