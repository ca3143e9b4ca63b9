// SPDX-License-Identifier: MIT
// set_start_method() / get_start_method() / get_all_start_methods() and mp::Context
// (<tandem/multiprocessing/context.hpp>). Ports of CPython Lib/test/_test_multiprocessing.py
// _TestStartMethod (named at each test).
//
// The default is process-wide state that get_start_method() fixes: what a fresh process
// sees is checked in a spawned child (a fresh exec: nothing fixed yet), which reports by
// its exit code. Tests that change the default restore it (force=true).
//
// This binary has its own main(): mp::init(argc, argv) must come first, for spawned children.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "support/fault_support.hpp"
#include "support/pool_test_support.hpp"
#include "tandem/multiprocessing.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;
using mp::StartMethod;
using faulttest::count_children;

namespace ctxtest {

void exit_with(int code) { ::_exit(code); }
int g_marker = 0;  // set by the parent before it starts a pool
int marker(int) { return g_marker; }
int parent_pid(int) { return static_cast<int>(::getppid()); }

/// In a fresh (spawned) process: the default is fork and not yet fixed; get_start_method()
/// fixes it; get_context(m) does not; force overrides. 0: as Python, else the failed check.
void fresh_defaults() {
  // get_context(method) leaves the default alone (Python's get_context("spawn")).
  if (mp::get_context(StartMethod::spawn).get_start_method() != StartMethod::spawn) ::_exit(10);
  try {
    mp::set_start_method(StartMethod::forkserver);  // not fixed yet: allowed
  } catch (...) {
    ::_exit(11);
  }
  if (mp::get_start_method() != StartMethod::forkserver) ::_exit(12);
  try {
    mp::set_start_method(StartMethod::spawn);
    ::_exit(13);
  } catch (const tandem::RuntimeError& e) {
    if (std::string(e.what()) != "context has already been set") ::_exit(14);
  }
  ::_exit(0);
}

/// In a fresh process: get_start_method() is fork and then fixes the default.
void fresh_get_fixes() {
  if (mp::get_start_method() != StartMethod::fork) ::_exit(20);
  const std::vector<StartMethod> all = mp::get_all_start_methods();
  if (all.size() != 3 || all.front() != StartMethod::fork) ::_exit(21);
  try {
    mp::set_start_method(StartMethod::spawn);
    ::_exit(22);
  } catch (const tandem::RuntimeError&) {
  }
  ::_exit(0);
}

/// In a fresh process: a Process made without a start method fixes the default too.
void fresh_process_fixes() {
  mp::Process p(exit_with, std::tuple{0});
  if (p.start_method() != StartMethod::fork) ::_exit(30);
  try {
    mp::set_start_method(StartMethod::spawn);
    ::_exit(31);
  } catch (const tandem::RuntimeError&) {
  }
  ::_exit(0);
}

/// In a child: the creator's default start method, fixed, came along (as Python's spawn).
void inherited_default(int expected) {
  if (static_cast<int>(mp::get_start_method()) != expected) ::_exit(40);
  try {
    mp::set_start_method(StartMethod::fork);
    ::_exit(41);
  } catch (const tandem::RuntimeError&) {
  }
  ::_exit(0);
}

/// Restores the default start method (force) when the test ends.
struct RestoreDefault {
  StartMethod saved = mp::get_start_method();
  ~RestoreDefault() { mp::set_start_method(saved, true); }
};

int run_spawned(void (*f)()) {
  mp::Process p(f, mp::ProcessOptions{.start_method = StartMethod::spawn});
  p.start();
  return tandem_test::join_exitcode(p);
}

class MpContext : public ::testing::TestWithParam<StartMethod> {};

}  // namespace ctxtest

using ctxtest::MpContext;

// _TestStartMethod.test_set_get (what a fresh process sees): the default is fork, not fixed
// until used; set_start_method() twice: RuntimeError("context has already been set").
TEST(MpContextMain, FreshProcessDefaults) {
  EXPECT_EQ(ctxtest::run_spawned(ctxtest::fresh_defaults), 0);
  EXPECT_EQ(ctxtest::run_spawned(ctxtest::fresh_get_fixes), 0);
  EXPECT_EQ(ctxtest::run_spawned(ctxtest::fresh_process_fixes), 0);
}

// _TestStartMethod.test_set_get: for each method, set_start_method(m, force=True) makes it
// the default: get_start_method(), get_context(), and a Process made without a method.
TEST(MpContextMain, SetGet) {
  ctxtest::RestoreDefault restore;
  int count = 0;
  for (StartMethod m : {StartMethod::fork, StartMethod::spawn, StartMethod::forkserver}) {
    mp::set_start_method(m, true);
    EXPECT_EQ(mp::get_start_method(), m);
    EXPECT_EQ(mp::get_context().get_start_method(), m);
    mp::Process p(ctxtest::exit_with, std::tuple{7});
    EXPECT_EQ(p.start_method(), m);
    p.start();
    ASSERT_TRUE(p.join(60s));
    EXPECT_EQ(p.exitcode(), 7);
    mp::Process o(mp::ProcessOptions{});  // a subclass's form: the default too
    EXPECT_EQ(o.start_method(), m);
    ++count;
  }
  EXPECT_GE(count, 1);
  // Once set, a second set without force is refused, and the default is unchanged.
  try {
    mp::set_start_method(StartMethod::fork);
    ADD_FAILURE() << "no RuntimeError";
  } catch (const tandem::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "context has already been set");
  }
  EXPECT_EQ(mp::get_start_method(), StartMethod::forkserver);
}

// _TestStartMethod.test_get_all_start_methods: all three on Linux, the default first.
TEST(MpContextMain, GetAllStartMethods) {
  ctxtest::RestoreDefault restore;
  for (StartMethod m : {StartMethod::fork, StartMethod::spawn, StartMethod::forkserver}) {
    mp::set_start_method(m, true);
    std::vector<StartMethod> all = mp::get_all_start_methods();
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all.front(), m);
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, (std::vector<StartMethod>{StartMethod::fork, StartMethod::forkserver,
                                              StartMethod::spawn}));
    EXPECT_EQ(mp::get_context(m).get_all_start_methods().front(), m);
  }
}

// _TestStartMethod.test_context: get_context(m).get_start_method() is m, ctx.Process uses m
// (even when the options name another method), and the default is left alone.
TEST_P(MpContext, Context) {
  const int children = count_children();
  ctxtest::RestoreDefault restore;
  const StartMethod other =
      GetParam() == StartMethod::fork ? StartMethod::spawn : StartMethod::fork;
  mp::set_start_method(other, true);
  const mp::Context ctx = mp::get_context(GetParam());
  EXPECT_EQ(ctx.get_start_method(), GetParam());
  EXPECT_EQ(ctx, mp::get_context(GetParam()));
  EXPECT_EQ(ctx.get_context(other).get_start_method(), other);
  EXPECT_EQ(mp::get_start_method(), other);

  auto p = ctx.Process(ctxtest::exit_with, std::tuple{5});
  auto q = ctx.Process(ctxtest::exit_with, std::tuple{6},
                       {.name = "ctx child", .start_method = other});
  EXPECT_EQ(p.start_method(), GetParam());
  EXPECT_EQ(q.start_method(), GetParam());
  EXPECT_EQ(q.name(), "ctx child");
  auto r = std::make_unique<mp::Process>(ctxtest::exit_with, std::tuple{4}, ctx.options());
  EXPECT_EQ(r->start_method(), GetParam());
  p.start();
  q.start();
  r->start();
  ASSERT_TRUE(p.join(60s));
  ASSERT_TRUE(q.join(60s));
  ASSERT_TRUE(r->join(60s));
  EXPECT_EQ(p.exitcode(), 5);
  EXPECT_EQ(q.exitcode(), 6);
  EXPECT_EQ(r->exitcode(), 4);
  EXPECT_EQ(mp::get_start_method(), other);
  EXPECT_EQ(count_children(), children);
}

// A child of every start method has its creator's default start method (CPython's spawn
// prepare() does set_start_method(parent's, force=True)).
TEST_P(MpContext, ChildInheritsTheDefault) {
  ctxtest::RestoreDefault restore;
  for (StartMethod d : {StartMethod::forkserver, StartMethod::spawn}) {
    mp::set_start_method(d, true);
    auto p = mp::get_context(GetParam()).Process(ctxtest::inherited_default,
                                                 std::tuple{static_cast<int>(d)});
    p.start();
    ASSERT_TRUE(p.join(60s));
    EXPECT_EQ(p.exitcode(), 0);
  }
}

// ctx.Process(f) with a target that takes a StopToken, and the forwarded module functions.
TEST_P(MpContext, ProcessWithStopTokenAndForwarders) {
  const mp::Context ctx = mp::get_context(GetParam());
  auto p = ctx.Process(+[](mp::StopToken t) { ::_exit(mp::sleep(60s, t) ? 9 : 0); });
  p.start();
  const std::vector<mp::ProcessInfo> live = ctx.active_children();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].pid, p.pid());
  EXPECT_EQ(ctx.current_process().name, "MainProcess");
  EXPECT_FALSE(ctx.parent_process().has_value());
  EXPECT_EQ(ctx.cpu_count(), mp::cpu_count());
  p.request_stop();
  ASSERT_TRUE(p.join(60s));
  EXPECT_EQ(p.exitcode(), 0);
}

// _TestStartMethod.test_context, for Pool: ctx.Pool's workers start with the context's
// method, and PoolOptions{} takes the default context's (as Python's Pool()). A fork worker
// sees the parent's memory (g_marker) and is our child; a spawn worker is a fresh exec but
// still our child; a forkserver worker is the fork server's child.
TEST_P(MpContext, PoolUsesTheContextsMethod) {
  ctxtest::RestoreDefault restore;
  ctxtest::g_marker = 42;
  const auto check = [&](mp::Pool& pool) {
    EXPECT_EQ(pool.apply(ctxtest::marker, 0), GetParam() == StartMethod::fork ? 42 : 0);
    const int ppid = pool.apply(ctxtest::parent_pid, 0);
    if (GetParam() == StartMethod::forkserver)
      EXPECT_NE(ppid, ::getpid());
    else
      EXPECT_EQ(ppid, ::getpid());
  };
  {
    mp::Pool pool = mp::get_context(GetParam()).Pool({.processes = 1});
    check(pool);
  }
  mp::set_start_method(GetParam(), true);
  {
    mp::Pool pool(mp::PoolOptions{.processes = 1});
    check(pool);
  }
  ctxtest::g_marker = 0;
}

// A closure can only be started with fork, in a context as directly.
TEST(MpContextMain, ClosureNeedsFork) {
  int captured = 3;
  auto f = mp::get_context(StartMethod::fork).Process([captured] { ::_exit(captured); });
  f.start();
  ASSERT_TRUE(f.join(60s));
  EXPECT_EQ(f.exitcode(), 3);
  auto s = mp::get_context(StartMethod::spawn).Process([captured] { ::_exit(captured); });
  EXPECT_FALSE(s.shippable());
  EXPECT_THROW(s.start(), tandem::RuntimeError);
}

INSTANTIATE_TEST_SUITE_P(All, MpContext, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
