// SPDX-License-Identifier: MIT
// mp::Process with StartMethod::spawn and ::forkserver (and fork, side by side): exit codes,
// join(timeout), terminate/kill, the cross-process stop, arguments shipped to a fresh exec,
// misuse, many processes, no zombies or fd leaks; start+join timings (printed, not asserted).
// Ports of CPython Lib/test/_test_multiprocessing.py _TestProcess cases (test_process,
// test_terminate / test_kill, test_exitcode via _test_exit, test_many_processes), run under
// each start method as CPython's suite does (it is generated once per start method).
//
// This binary has its own main(): mp::init(argc, argv) must come first, for spawned children
// to be taken over there (gtest_main's main is not linked: ours comes first).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;
using mp::StartMethod;

namespace smtest {

void noop() {}
void throws() { throw std::runtime_error("boom in the child"); }
void exit3() { std::exit(3); }
void exit_with(int code) { std::exit(code); }
// _exit: a child forked from a multi-threaded parent must not run exit-time checks such as
// LeakSanitizer's, which see the other threads' memory as leaked and change the exit code.
void exit_now_with(int code) { ::_exit(code); }
void check_args(std::string s, std::vector<int> v, double d) {
  std::exit(s == "hello" && v == std::vector<int>{1, 2, 3} && d == 2.5 ? 5 : 6);
}
/// 4 when a stop was requested, 9 if 60 s passed without one.
void wait_for_stop(mp::StopToken token) { std::exit(mp::sleep(60s, token) ? 9 : 4); }
void wait_for_stop_then(mp::StopToken token, int code) {
  std::exit(mp::sleep(60s, token) ? 9 : code);
}
void sleep_forever() {
  for (;;) ::pause();
}
void name_check(std::string expected) {
  std::exit(mp::current_process_name() == expected ? 0 : 7);
}
void segfault() {
  // No core file, and the default action (sanitizers' own SIGSEGV handler would exit 1).
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
  ::signal(SIGSEGV, SIG_DFL);
  ::raise(SIGSEGV);
}

}  // namespace smtest

namespace {

class StartMethods : public mptest::ProcessFixture,
                     public ::testing::WithParamInterface<StartMethod> {
 protected:
  mp::ProcessOptions opts(std::string name = {}) {
    return {.name = std::move(name), .daemon = false, .start_method = GetParam()};
  }
};

std::string method_name(const ::testing::TestParamInfo<StartMethod>& info) {
  switch (info.param) {
    case StartMethod::fork: return "fork";
    case StartMethod::forkserver: return "forkserver";
    case StartMethod::spawn: return "spawn";
  }
  return "?";
}

// _TestProcess.test_process: start, join, exitcode 0.
TEST_P(StartMethods, ExitCodeZero) {
  mp::Process p(smtest::noop, opts());
  EXPECT_FALSE(p.exitcode().has_value());
  p.start();
  EXPECT_GT(p.pid(), 0);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
}

// _TestProcess._test_exit / test_exitcode: exceptions give 1, sys.exit(n) gives n.
TEST_P(StartMethods, ExitCodes) {
  mp::Process a(smtest::throws, opts()), b(smtest::exit3, opts()),
      c(smtest::exit_with, std::tuple{42}, opts()), d(smtest::segfault, opts());
  a.start();
  b.start();
  c.start();
  d.start();
  a.join();
  b.join();
  c.join();
  d.join();
  EXPECT_EQ(a.exitcode(), 1);
  EXPECT_EQ(b.exitcode(), 3);
  EXPECT_EQ(c.exitcode(), 42);
  EXPECT_EQ(d.exitcode(), -SIGSEGV);
}

TEST_P(StartMethods, ArgumentsAndLambdas) {
  mp::Process p(smtest::check_args,
                std::tuple{std::string("hello"), std::vector<int>{1, 2, 3}, 2.5}, opts());
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 5);
  mp::Process q([](int x) { std::exit(x + 1); }, std::tuple{10}, opts());
  q.start();
  q.join();
  EXPECT_EQ(q.exitcode(), 11);
  mp::Process r([] { std::exit(12); }, opts());
  r.start();
  r.join();
  EXPECT_EQ(r.exitcode(), 12);
}

TEST_P(StartMethods, NameReachesTheChild) {
  mp::Process p(smtest::name_check, std::tuple{std::string("worker-x")}, opts("worker-x"));
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// _TestProcess.test_terminate / test_kill.
TEST_P(StartMethods, TerminateAndKill) {
  mp::Process t(smtest::sleep_forever, opts()), k(smtest::sleep_forever, opts());
  t.start();
  k.start();
  EXPECT_FALSE(t.join(50ms));
  EXPECT_TRUE(t.is_alive());
  t.terminate();
  k.kill();
  EXPECT_TRUE(t.join(60s));
  EXPECT_TRUE(k.join(60s));
  EXPECT_EQ(t.exitcode(), -SIGTERM);
  EXPECT_EQ(k.exitcode(), -SIGKILL);
  t.terminate();  // after the end: harmless
}

// The seed ch11_06's stop, across every start method.
TEST_P(StartMethods, RequestStopReachesTheChild) {
  mp::Process p(smtest::wait_for_stop, opts());
  p.start();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.join(30ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  p.request_stop();
  EXPECT_TRUE(p.join(60s));
  EXPECT_EQ(p.exitcode(), 4);
  mp::Process q(smtest::wait_for_stop_then, std::tuple{8}, opts());
  q.request_stop();  // before start: seen at once
  q.start();
  q.join();
  EXPECT_EQ(q.exitcode(), 8);
}

// The destructor of a running non-daemon child: request_stop + join.
TEST_P(StartMethods, DestructorStopsAndJoins) {
  auto p = std::make_unique<mp::Process>(smtest::wait_for_stop, opts());
  p->start();
  p.reset();  // returns: the child saw the stop; the fixture checks no zombie/fd is left
}

TEST_P(StartMethods, Daemon) {
  mp::Process p(smtest::exit_with, std::tuple{0}, mp::ProcessOptions{.daemon = true,
                                                                      .start_method = GetParam()});
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// _TestProcess.test_many_processes.
TEST_P(StartMethods, ManyProcesses) {
  constexpr int kN = 24;
  std::vector<std::unique_ptr<mp::Process>> ps;
  for (int i = 0; i < kN; ++i) {
    if (i % 3 == 2)
      ps.push_back(std::make_unique<mp::Process>(smtest::sleep_forever, opts()));
    else
      ps.push_back(std::make_unique<mp::Process>(smtest::exit_with, std::tuple{i}, opts()));
    ps.back()->start();
  }
  for (int i = 0; i < kN; ++i)
    if (i % 3 == 2) ps[i]->kill();
  for (int i = 0; i < kN; ++i) {
    ps[i]->join();
    EXPECT_EQ(ps[i]->exitcode(), i % 3 == 2 ? -SIGKILL : i) << i;
  }
}

TEST_P(StartMethods, StartTwiceAndJoinBeforeStart) {
  mp::Process p(smtest::noop, opts());
  EXPECT_THROW(p.join(), tandem::RuntimeError);
  p.start();
  EXPECT_THROW(p.start(), tandem::RuntimeError);
  p.join();
}

TEST_P(StartMethods, JoinFromSeveralThreads) {
  mp::Process p(smtest::wait_for_stop, opts());
  p.start();
  std::vector<std::thread> joiners;
  for (int i = 0; i < 3; ++i) joiners.emplace_back([&p] { p.join(); });
  p.request_stop();
  for (auto& t : joiners) t.join();
  EXPECT_EQ(p.exitcode(), 4);
}

// Starts from several threads at once (forkserver: datagrams on one shared socket).
TEST_P(StartMethods, ConcurrentStartsFromThreads) {
  constexpr int kThreads = 4, kEach = 6;
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        mp::Process p(smtest::exit_now_with, std::tuple{t * 10 + i}, opts());
        p.start();
        p.join();
        if (p.exitcode() == t * 10 + i) good.fetch_add(1);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), kThreads * kEach);
}

INSTANTIATE_TEST_SUITE_P(All, StartMethods,
                         ::testing::Values(StartMethod::fork, StartMethod::forkserver,
                                           StartMethod::spawn),
                         method_name);

// ---- shipped-only rules ------------------------------------------------------------------------

class ShippedOnly : public mptest::ProcessFixture,
                    public ::testing::WithParamInterface<StartMethod> {};

TEST_P(ShippedOnly, ClosureIsRefusedAtStart) {
  int captured = 3;
  mp::Process p([captured] { std::exit(captured); }, {.start_method = GetParam()});
  EXPECT_FALSE(p.shippable());
  try {
    p.start();
    FAIL();
  } catch (const tandem::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("only be started with fork"), std::string::npos);
  }
  EXPECT_EQ(p.pid(), 0);
}

class Subclass : public mp::Process {
 public:
  explicit Subclass(StartMethod m) : mp::Process(mp::ProcessOptions{.start_method = m}) {}

 protected:
  void run() override {}
};

TEST_P(ShippedOnly, SubclassIsRefusedAtStart) {
  Subclass s(GetParam());
  EXPECT_THROW(s.start(), tandem::RuntimeError);
}

INSTANTIATE_TEST_SUITE_P(Shipped, ShippedOnly,
                         ::testing::Values(StartMethod::forkserver, StartMethod::spawn),
                         method_name);

// A fresh exec has its own load base (ASLR): the offsets still find the functions.
TEST(SpawnChild, ExceptionReportedOnStderrAndExitOne) {
  mp::Process p(smtest::throws, {.name = "thrower", .start_method = StartMethod::spawn});
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 1);
}

// ---- timings (start + join of a process that does nothing) -------------------------------------

double median_start_join_ms(StartMethod m, int n) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    mp::Process p(smtest::noop, {.start_method = m});
    p.start();
    p.join();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

TEST(StartJoinTiming, Report) {
  const double f = median_start_join_ms(StartMethod::fork, 100);
  const double fs = median_start_join_ms(StartMethod::forkserver, 100);
  const double sp = median_start_join_ms(StartMethod::spawn, 40);
  std::printf("start+join median: fork %.3f ms, forkserver %.3f ms, spawn %.3f ms\n", f, fs, sp);
  EXPECT_GT(f, 0);
}

}  // namespace

int main(int argc, char** argv) {
  tandem::mp::init(argc, argv);  // first: a spawned child is taken over here
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
