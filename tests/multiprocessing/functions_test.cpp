// SPDX-License-Identifier: MIT
// The module functions of <tandem/multiprocessing/functions.hpp>: current_process(),
// parent_process(), active_children(), cpu_count(), process_cpu_count(), in the main process
// and in children of each start method (fork, forkserver, spawn). Ports of CPython
// Lib/test/_test_multiprocessing.py (named at each test).
//
// A child never uses EXPECT/ASSERT: it checks what it sees against what the parent expects
// and exits with the number of the first check that failed (0: all passed).
//
// This binary has its own main(): mp::init(argc, argv) must come first, for spawned children.
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/fault_support.hpp"
#include "support/pool_test_support.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/process_pool.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;
using mp::StartMethod;
using faulttest::count_children;

namespace fntest {

/// The child's view: 0 when current_process()/parent_process()/active_children() say what
/// the parent expects, else the number of the first check that failed.
int check_child_view(const std::string& name, bool daemon, int parent_pid,
                     const std::string& parent_name) {
  const mp::ProcessInfo me = mp::current_process();
  if (me.pid != static_cast<int>(::getpid())) return 10;
  if (me.name != name) return 11;
  if (me.daemon != daemon) return 12;
  if (mp::current_process_name() != name) return 13;
  const std::optional<mp::ProcessInfo> parent = mp::parent_process();
  if (!parent) return 14;
  if (parent->pid != parent_pid) return 15;
  if (parent->name != parent_name) return 16;
  if (parent->daemon) return 17;
  if (!mp::active_children().empty()) return 18;  // the creator's children are not ours
  return 0;
}

void child_view(std::string name, bool daemon, int parent_pid) {
  ::_exit(check_child_view(name, daemon, parent_pid, "MainProcess"));
}

/// Until the parent's request_stop(); 9 if 60 s passed without one.
void wait_for_stop(mp::StopToken token) { ::_exit(mp::sleep(60s, token) ? 9 : 0); }

void noop() {}

/// Waits (poll(2), no sleep) until the child has exited, without reaping it.
bool wait_exited(const mp::Process& p) {
  pollfd pfd{p.sentinel(), POLLIN, 0};
  return ::poll(&pfd, 1, 60000) == 1;
}

class MpFunctions : public ::testing::TestWithParam<StartMethod> {};

}  // namespace fntest

using fntest::MpFunctions;

// _TestProcess.test_current: current_process() in the main process.
TEST(MpFunctionsMain, CurrentProcessInMain) {
  const mp::ProcessInfo me = mp::current_process();
  EXPECT_EQ(me.pid, static_cast<int>(::getpid()));
  EXPECT_EQ(me.name, "MainProcess");
  EXPECT_FALSE(me.daemon);
}

// _TestProcess.test_parent_process: parent_process() is None in the main process.
TEST(MpFunctionsMain, ParentProcessIsNoneInMain) { EXPECT_FALSE(mp::parent_process().has_value()); }

// TestMisc / os.cpu_count, os.process_cpu_count (Python 3.13): never 0; as the system says.
TEST(MpFunctionsMain, CpuCount) {
  const std::size_t n = mp::cpu_count();
  EXPECT_GE(n, 1u);
  EXPECT_EQ(n, static_cast<std::size_t>(::sysconf(_SC_NPROCESSORS_ONLN)));
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_EQ(mp::process_cpu_count(), static_cast<std::size_t>(CPU_COUNT(&set)));
  EXPECT_GE(mp::process_cpu_count(), 1u);
  EXPECT_LE(mp::process_cpu_count(), n);
}

TEST(MpFunctionsMain, ProcessCpuCountFollowsAffinity) {
  // A fork child restricted to one CPU sees 1 (the parent's affinity stays).
  mp::Process p([] {
    cpu_set_t one;
    CPU_ZERO(&one);
    cpu_set_t cur;
    CPU_ZERO(&cur);
    if (::sched_getaffinity(0, sizeof(cur), &cur) != 0) ::_exit(2);
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &cur)) {
        CPU_SET(c, &one);
        break;
      }
    if (::sched_setaffinity(0, sizeof(one), &one) != 0) ::_exit(3);
    ::_exit(mp::process_cpu_count() == 1 && mp::cpu_count() >= 1 ? 0 : 4);
  }, {.start_method = StartMethod::fork});
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

/// The name the next default-named Process of this process will get ("Process-N").
std::string next_default_name() {
  mp::Process probe(fntest::noop);  // never started
  const std::string n = probe.name();
  return "Process-" + std::to_string(std::stoi(n.substr(n.find('-') + 1)) + 1);
}

// _TestProcess.test_current + test_parent_process_attributes, in a child of each start
// method: its own pid, name (default and given) and daemon flag; its parent is the main
// process, named "MainProcess"; it has no children of its own.
TEST_P(MpFunctions, ChildSeesItselfAndItsParent) {
  const int children = count_children();
  const int me = static_cast<int>(::getpid());
  for (bool daemon : {false, true}) {
    const std::string expected = next_default_name();
    mp::Process p(fntest::child_view, std::tuple{expected, daemon, me},
                  {.daemon = daemon, .start_method = GetParam()});
    ASSERT_EQ(p.name(), expected);
    mp::Process q(fntest::child_view, std::tuple{std::string("Named child"), daemon, me},
                  {.name = "Named child", .daemon = daemon, .start_method = GetParam()});
    p.start();
    q.start();
    ASSERT_TRUE(p.join(60s));
    ASSERT_TRUE(q.join(60s));
    EXPECT_EQ(p.exitcode(), 0) << "daemon " << daemon;
    EXPECT_EQ(q.exitcode(), 0) << "daemon " << daemon;
  }
  EXPECT_EQ(count_children(), children);
}

// _TestProcess.test_active_children: a started child is listed until it has finished.
TEST_P(MpFunctions, ActiveChildren) {
  const int children = count_children();
  EXPECT_TRUE(mp::active_children().empty());
  mp::Process p(fntest::wait_for_stop, {.name = "Waiter", .start_method = GetParam()});
  EXPECT_TRUE(mp::active_children().empty());  // not started: not a child yet
  p.start();
  std::vector<mp::ProcessInfo> live = mp::active_children();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].pid, p.pid());
  EXPECT_EQ(live[0].name, "Waiter");
  EXPECT_FALSE(live[0].daemon);
  p.request_stop();
  ASSERT_TRUE(p.join(60s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(mp::active_children().empty());
  EXPECT_EQ(count_children(), children);
}

// multiprocessing.active_children() "has the side effect of joining any processes which
// have already finished": the exited child is reaped by the call, without a join().
TEST_P(MpFunctions, ActiveChildrenReapsFinished) {
  const int children = count_children();
  mp::Process a(fntest::noop, {.start_method = GetParam()});
  mp::Process b(fntest::wait_for_stop, {.daemon = true, .start_method = GetParam()});
  a.start();
  b.start();
  ASSERT_TRUE(fntest::wait_exited(a));
  const std::vector<mp::ProcessInfo> live = mp::active_children();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].pid, b.pid());
  EXPECT_TRUE(live[0].daemon);
  EXPECT_EQ(a.exitcode(), 0);  // reaped by active_children()
  b.request_stop();
  ASSERT_TRUE(b.join(60s));
  EXPECT_EQ(count_children(), children);
}

// A destroyed Process is no longer listed; several children, in start order.
TEST(MpFunctionsMain, ActiveChildrenSeveralAndDestroyed) {
  std::vector<int> pids;
  {
    mp::Process a(fntest::wait_for_stop), b(fntest::wait_for_stop), c(fntest::wait_for_stop);
    a.start();
    b.start();
    c.start();
    const std::vector<mp::ProcessInfo> live = mp::active_children();
    ASSERT_EQ(live.size(), 3u);
    EXPECT_EQ(live[0].pid, a.pid());
    EXPECT_EQ(live[1].pid, b.pid());
    EXPECT_EQ(live[2].pid, c.pid());
  }  // ~Process: request_stop() + join()
  EXPECT_TRUE(mp::active_children().empty());
}

// Thread safety: active_children() while other threads start and destroy Processes.
TEST(MpFunctionsMain, ActiveChildrenWhileThreadsStartAndDestroy) {
  const int children = count_children();
  std::atomic<int> running{2};
  std::atomic<int> failures{0};
  auto worker = [&] {
    for (int i = 0; i < 15; ++i) {
      mp::Process p(fntest::noop, {.start_method = StartMethod::forkserver});
      p.start();
      if (i % 2 == 0 && !p.join(60s)) ++failures;
    }  // odd ones: ~Process joins
    --running;
  };
  std::thread a(worker), b(worker);
  int calls = 0;
  while (running.load() > 0 || calls == 0) {
    for (const mp::ProcessInfo& c : mp::active_children())
      if (c.pid <= 0 || c.name.rfind("Process-", 0) != 0 || c.daemon) ++failures;
    ++calls;
  }
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(mp::active_children().empty());
  EXPECT_EQ(count_children(), children);
}

// A ProcessPoolExecutor's workers are mp::Processes: listed, as Python lists its pool's
// workers; gone once the pool has shut down.
int twice(int x) { return 2 * x; }
TEST(MpFunctionsMain, ProcessPoolWorkersAreListed) {
  const int children = count_children();
  {
    tandem::ProcessPoolExecutor ex(tandem::ProcessPoolOptions{.max_workers = 1});
    ASSERT_EQ(ex.submit(twice, 21).result(60s), 42);  // a worker is up
    const std::vector<mp::ProcessInfo> live = mp::active_children();
    ASSERT_FALSE(live.empty());
    for (const mp::ProcessInfo& c : live)  // the worker (and a spare the pool may keep ready)
      EXPECT_EQ(c.name.rfind("ProcessPoolWorker-", 0), 0u) << c.name;
    ex.shutdown();
  }
  EXPECT_TRUE(mp::active_children().empty());
  EXPECT_EQ(count_children(), children);
}

// _TestProcess.test_parent_process (fork): in a grandchild, parent_process() is the child,
// by pid and name ("Process-N"), and current_process() is "Process-N:1".
TEST(MpFunctionsMain, GrandchildSeesTheChildAsParent) {
  mp::Process child([] {
    const mp::ProcessInfo me = mp::current_process();
    mp::Process grandchild([me](mp::StopToken token) {
      const std::optional<mp::ProcessInfo> parent = mp::parent_process();
      if (!parent || parent->pid != me.pid || parent->name != me.name) ::_exit(20);
      if (mp::current_process().name != me.name + ":1") ::_exit(21);
      ::_exit(mp::sleep(60s, token) ? 9 : 0);  // alive until the child's request_stop()
    });
    grandchild.start();
    const std::vector<mp::ProcessInfo> live = mp::active_children();
    if (live.size() != 1 || live[0].pid != grandchild.pid()) ::_exit(22);
    grandchild.request_stop();
    grandchild.join();
    if (!mp::active_children().empty()) ::_exit(23);
    ::_exit(*grandchild.exitcode());
  });
  child.start();
  ASSERT_TRUE(child.join(60s));
  EXPECT_EQ(child.exitcode(), 0);
}

INSTANTIATE_TEST_SUITE_P(All, MpFunctions, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
