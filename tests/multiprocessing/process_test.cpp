// SPDX-License-Identifier: MIT
// tandem::mp::Process — ports of CPython Lib/test/_test_multiprocessing.py (_TestProcess,
// _TestSubclassingProcess) plus tandem's own: the cross-process stop, names and titles,
// misuse errors, the destructor, joins from several threads, and many processes.
// Crashes, signals and parent death are in tests/multiprocessing/process_fault_test.cpp.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/threading/thread.hpp"

using namespace std::chrono_literals;
using mptest::Board;
using mptest::Pipe;
using mptest::Shared;
using tandem::RuntimeError;
namespace mp = tandem::mp;

namespace {

class ProcessTest : public mptest::ProcessFixture {};

// "PREFIX<digits>" → the number, or -1.
long numbered(const std::string& s, const std::string& prefix) {
  if (s.rfind(prefix, 0) != 0 || s.size() == prefix.size()) return -1;
  for (std::size_t i = prefix.size(); i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return -1;
  return std::stol(s.substr(prefix.size()));
}

template <class F>
void expect_runtime_error(F&& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected RuntimeError(\"" << message << "\")";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

// _TestProcess.test_current: the main process.
TEST_F(ProcessTest, CurrentProcessIsMainProcess) {
  EXPECT_EQ(mp::current_process_name(), "MainProcess");
}

// _TestProcess.test_process: is_alive / exitcode / pid / name / daemon through a lifetime.
TEST_F(ProcessTest, Lifecycle) {
  Shared<Board> board;
  mp::Process p(
      [&board] {
        board->pid = static_cast<int>(::getpid());
        board->put_text(mp::current_process_name());
        board->ready.set();
        board->go.wait();
      },
      {.name = "SomeProcess", .daemon = true});
  EXPECT_FALSE(p.is_alive());
  EXPECT_TRUE(p.daemon());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_EQ(p.pid(), 0);
  EXPECT_EQ(p.name(), "SomeProcess");

  p.start();
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_TRUE(p.is_alive());
  EXPECT_NE(p.pid(), 0);
  ASSERT_TRUE(board->ready.wait());
  EXPECT_EQ(std::string(board->text), "SomeProcess");
  EXPECT_EQ(board->pid.load(), p.pid());
  EXPECT_TRUE(p.is_alive());
  board->go.set();

  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
  p.join();  // again: no-op
  EXPECT_TRUE(p.join(0s));
}

// _TestProcess.test_daemon_argument
TEST_F(ProcessTest, DaemonArgument) {
  mp::Process p0([] {});
  EXPECT_FALSE(p0.daemon());
  mp::Process p1([] {}, {.daemon = true});
  EXPECT_TRUE(p1.daemon());
  mp::Process p2([] {}, {.daemon = false});
  EXPECT_FALSE(p2.daemon());
}

// Python's default names: "Process-N" from one counter; a child's children "Process-N:M".
TEST_F(ProcessTest, DefaultNamesAndNesting) {
  mp::Process a([] {});
  mp::Process b([] {});
  const long na = numbered(a.name(), "Process-"), nb = numbered(b.name(), "Process-");
  ASSERT_GT(na, 0) << a.name();
  EXPECT_EQ(nb, na + 1);

  Shared<Board> board;
  mp::Process outer([&board] {
    mp::Process inner1([] {});
    mp::Process inner2([&board] { board->put_text(mp::current_process_name()); });
    inner2.start();
    inner2.join();
  });
  outer.start();
  outer.join();
  EXPECT_EQ(outer.exitcode(), 0);
  EXPECT_EQ(std::string(board->text), outer.name() + ":2");
}

// The child's comm (what ps/top show) is its name, cut to 15 bytes.
TEST_F(ProcessTest, ProcessTitleIsTheName) {
  Shared<Board> board;
  mp::Process p(
      [&board] {
        char comm[32] = {};
        ::prctl(PR_GET_NAME, comm, 0, 0, 0);
        board->put_text(comm);
      },
      {.name = "a-rather-long-process-name"});
  p.start();
  p.join();
  EXPECT_EQ(std::string(board->text), "a-rather-long-p");
}

// mp::init(argc, argv) lets children overwrite their argv area with their name.
// (A plain TEST: mp::init also starts the fork server, whose socket is a descriptor the
// fixture's leak check would count; the server is a grandchild, never a zombie of ours.)
TEST(ProcessInit, InitArgvTitle) {
  static char area[] = "prog\0--x\0yy";
  static char* argv[] = {area, area + 5, area + 9, nullptr};
  mp::init(3, argv);
  Shared<Board> board;
  mp::Process p([&board] { board->put_text(std::string(area, sizeof area)); },
                {.name = "worker"});
  p.start();
  p.join();
  EXPECT_EQ(std::string(board->text), "worker");
  EXPECT_STREQ(area, "prog");  // the parent's own argv is untouched
}

// _TestProcess.test_sentinel, through join(timeout): not done, then done.
TEST_F(ProcessTest, JoinTimeout) {
  Shared<Board> board;
  mp::Process p([&board] { board->go.wait(); });
  p.start();
  EXPECT_FALSE(p.join(0s));
  EXPECT_FALSE(p.join(-1s));  // negative counts as 0
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.join(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_TRUE(p.is_alive());
  board->go.set();
  EXPECT_TRUE(p.join(60s));
  EXPECT_TRUE(p.join(1s));
  EXPECT_EQ(p.exitcode(), 0);
}

// _TestProcess._kill_process / test_terminate / test_kill
int kill_process(void (mp::Process::*meth)()) {
  Shared<Board> board;
  mp::Process p(
      [&board] {
        board->ready.set();
        tandem::sleep(100s);
      },
      {.daemon = true});
  p.start();
  EXPECT_TRUE(p.is_alive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_FALSE(p.join(0s));
  EXPECT_TRUE(p.is_alive());
  EXPECT_FALSE(p.join(-1s));
  EXPECT_TRUE(p.is_alive());
  EXPECT_TRUE(board->ready.wait());
  (p.*meth)();
  EXPECT_TRUE(p.join(60s));
  EXPECT_FALSE(p.is_alive());
  p.join();
  return p.exitcode().value_or(999);
}

TEST_F(ProcessTest, Terminate) { EXPECT_EQ(kill_process(&mp::Process::terminate), -SIGTERM); }

TEST_F(ProcessTest, Kill) { EXPECT_EQ(kill_process(&mp::Process::kill), -SIGKILL); }

TEST_F(ProcessTest, TerminateAfterExitIsHarmless) {
  mp::Process p([] {});
  p.terminate();  // before start: nothing
  p.start();
  p.join();
  p.terminate();
  p.kill();
  EXPECT_EQ(p.exitcode(), 0);
}

// _TestProcess.test_recursion: processes starting processes, in order.
void recurse(int fd, const std::string& id) {
  const std::string line = "[" + id + "]\n";
  (void)!::write(fd, line.data(), line.size());
  if (id.size() < 2) {
    for (int i = 0; i < 2; ++i) {
      mp::Process p([fd, id, i] { recurse(fd, id + std::to_string(i)); });
      p.start();
      p.join();
    }
  }
}

TEST_F(ProcessTest, Recursion) {
  Pipe pipe;
  recurse(pipe.w, "");
  pipe.close_write();
  EXPECT_EQ(pipe.read_all(), "[]\n[0]\n[00]\n[01]\n[1]\n[10]\n[11]\n");
}

// _TestProcess.test_many_processes (N = 50 here, as the machine is small).
TEST_F(ProcessTest, ManyProcesses) {
  constexpr int N = 50;
  {
    std::vector<std::unique_ptr<mp::Process>> procs;
    for (int i = 0; i < N; ++i)
      procs.push_back(std::make_unique<mp::Process>([] { tandem::sleep(10ms); }));
    for (auto& p : procs) p->start();
    for (auto& p : procs) p->join();
    for (auto& p : procs) EXPECT_EQ(p->exitcode(), 0);
  }
  {
    std::vector<std::unique_ptr<mp::Process>> procs;
    for (int i = 0; i < N; ++i)
      procs.push_back(std::make_unique<mp::Process>([] { tandem::sleep(100s); }));
    for (auto& p : procs) p->start();
    for (auto& p : procs) p->terminate();
    for (auto& p : procs) p->join();
    for (auto& p : procs) EXPECT_EQ(p->exitcode(), -SIGTERM);
  }
}

// _TestProcess.test_lose_target_ref: after start() the parent holds no reference to the
// target (the child has its own copy).
TEST_F(ProcessTest, LoseTargetRef) {
  Shared<Board> board;
  auto c = std::make_shared<int>(5);
  std::weak_ptr<int> wr = c;
  mp::Process p([c, &board] { board->value = *c; });
  c.reset();
  EXPECT_FALSE(wr.expired());
  p.start();
  EXPECT_TRUE(wr.expired());
  p.join();
  EXPECT_EQ(board->value.load(), 5);
}

// _TestSubclassingProcess.test_subclassing: run() overridden, using the object's members.
class Doubler : public mp::Process {
 public:
  explicit Doubler(Shared<Board>& b) : board_(b) {}
  int input = 0;

 protected:
  void run() override {
    board_->value = input * 2;
    board_->put_text(name());
  }

 private:
  Shared<Board>& board_;
};

TEST_F(ProcessTest, Subclassing) {
  Shared<Board> board;
  Doubler d(board);
  d.input = 21;
  d.set_daemon(true);
  d.start();
  d.join();
  EXPECT_EQ(d.exitcode(), 0);
  EXPECT_EQ(board->value.load(), 42);
  EXPECT_EQ(std::string(board->text), d.name());
}

// Misuse: RuntimeError where Python asserts (docs/multiprocessing.md#errors).
TEST_F(ProcessTest, MisuseErrors) {
  mp::Process p([] {});
  expect_runtime_error([&] { p.join(); }, "can only join a started process");
  expect_runtime_error([&] { (void)p.join(1s); }, "can only join a started process");
  p.start();
  expect_runtime_error([&] { p.start(); }, "cannot start a process twice");
  expect_runtime_error([&] { p.set_daemon(true); }, "process has already started");
  p.join();
  expect_runtime_error([&] { p.start(); }, "cannot start a process twice");
}

// spawn/forkserver ship the target: a closure can only be started with fork. (Shipped
// targets are tested in start_methods_test.cpp, whose main() calls mp::init.)
TEST_F(ProcessTest, ClosureNeedsFork) {
  int captured = 1;
  mp::Process s([captured] { (void)captured; }, {.start_method = mp::StartMethod::spawn});
  expect_runtime_error([&] { s.start(); },
                       "start method 'spawn' needs a target that is a function pointer or a "
                       "lambda without captures, with serializable arguments (a closure or an "
                       "overridden run() can only be started with fork)");
  mp::Process f([captured] { (void)captured; }, {.start_method = mp::StartMethod::forkserver});
  expect_runtime_error([&] { f.start(); },
                       "start method 'forkserver' needs a target that is a function pointer or "
                       "a lambda without captures, with serializable arguments (a closure or an "
                       "overridden run() can only be started with fork)");
  EXPECT_FALSE(f.is_alive());
}

// A child may not join (or restart) its own Process object; is_alive() there is true.
class SelfJoiner : public mp::Process {
 protected:
  void run() override {
    if (!is_alive()) throw std::logic_error("is_alive() false in the child");
    try {
      join();
    } catch (const RuntimeError& e) {
      if (std::string(e.what()) != "can only join a child process") throw;
      try {
        start();
      } catch (const RuntimeError& e2) {
        if (std::string(e2.what()) !=
            "can only start a process object created by current process")
          throw;
        return;  // exit code 0: both errors as expected
      }
    }
    throw std::logic_error("no error");
  }
};

TEST_F(ProcessTest, ChildCannotJoinItself) {
  SelfJoiner p;
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// Python: AssertionError('daemonic processes are not allowed to have children').
TEST_F(ProcessTest, DaemonCannotHaveChildren) {
  Shared<Board> board;
  mp::Process p(
      [&board] {
        mp::Process q([] {});
        try {
          q.start();
          q.join();
        } catch (const RuntimeError& e) {
          board->put_text(e.what());
        }
      },
      {.daemon = true});
  p.start();
  p.join();
  EXPECT_EQ(std::string(board->text), "daemonic processes are not allowed to have children");
}

// ---- the cross-process stop ---------------------------------------------------------------

// request_stop() reaches a child sleeping on its token at once (the seed's ch11_06 fixed).
TEST_F(ProcessTest, RequestStopWakesSleepingChild) {
  Shared<Board> board;
  mp::Process p([&board](mp::StopToken token) {
    board->ready.set();
    const bool slept_fully = mp::sleep(100s, token);
    board->value = slept_fully ? 1 : 2;
    board->count = token.stop_requested() ? 1 : 0;
  });
  p.start();
  ASSERT_TRUE(board->ready.wait());
  const auto t0 = std::chrono::steady_clock::now();
  p.request_stop();
  EXPECT_TRUE(p.join(60s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(board->value.load(), 2);
  EXPECT_EQ(board->count.load(), 1);
}

// A subclass loop as in ch11_06: while not stopped, count and sleep.
class Counter : public mp::Process {
 public:
  explicit Counter(Shared<Board>& b) : board_(b) {}

 protected:
  void run() override {
    auto running = stop_token();
    while (!running.stop_requested()) {
      board_->count++;
      board_->ready.set();
      mp::sleep(2s, running);
    }
    board_->value = 7;
  }

 private:
  Shared<Board>& board_;
};

TEST_F(ProcessTest, SubclassStopsOnRequest) {
  Shared<Board> board;
  Counter c(board);
  c.set_daemon(true);
  c.start();
  ASSERT_TRUE(board->ready.wait());
  c.request_stop();
  EXPECT_TRUE(c.join(60s));
  EXPECT_EQ(c.exitcode(), 0);
  EXPECT_EQ(board->value.load(), 7);
  EXPECT_GE(board->count.load(), 1);
}

TEST_F(ProcessTest, StopRequestedBeforeStart) {
  Shared<Board> board;
  mp::Process p([&board](mp::StopToken t) { board->value = t.stop_requested() ? 1 : 2; });
  p.request_stop();
  p.start();
  p.join();
  EXPECT_EQ(board->value.load(), 1);
}

TEST_F(ProcessTest, StopTokenAndSleepBasics) {
  mp::StopToken none;
  EXPECT_FALSE(none.stop_possible());
  EXPECT_FALSE(none.stop_requested());
  EXPECT_TRUE(mp::sleep(0s, none));
  EXPECT_TRUE(mp::sleep(1ms, none));
  EXPECT_THROW(mp::sleep(-1s, none), tandem::ValueError);
  mp::Process p([] {});
  auto t = p.stop_token();
  EXPECT_TRUE(t.stop_possible());
  EXPECT_FALSE(t.stop_requested());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(mp::sleep(20ms, t));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  p.request_stop();
  EXPECT_TRUE(t.stop_requested());
  EXPECT_FALSE(mp::sleep(100s, t));
}

// ---- destructor ---------------------------------------------------------------------------

// A running non-daemon child: request_stop() + join().
TEST_F(ProcessTest, DestructorStopsAndJoinsNonDaemon) {
  Shared<Board> board;
  {
    mp::Process p([&board](mp::StopToken t) {
      board->ready.set();
      while (mp::sleep(100s, t)) {
      }
      board->value = 3;
    });
    p.start();
    ASSERT_TRUE(board->ready.wait());
  }
  EXPECT_EQ(board->value.load(), 3);  // it saw the stop and finished its run()
}

// A running daemon child that ignores its token: terminated and reaped.
TEST_F(ProcessTest, DestructorTerminatesDaemon) {
  Shared<Board> board;
  {
    mp::Process p(
        [&board] {
          board->ready.set();
          tandem::sleep(100s);
          board->value = 1;
        },
        {.daemon = true});
    p.start();
    ASSERT_TRUE(board->ready.wait());
  }
  EXPECT_EQ(board->value.load(), 0);
}

TEST_F(ProcessTest, DestructorOfUnstartedAndFinished) {
  { mp::Process p([] {}); }
  {
    mp::Process p([] {});
    p.start();
    p.join();
  }
  SUCCEED();
}

// ---- threads and processes ------------------------------------------------------------------

// join() and is_alive() from several threads at once: one reaps, every one returns.
TEST_F(ProcessTest, JoinFromManyThreads) {
  Shared<Board> board;
  mp::Process p([&board] { board->go.wait(); });
  p.start();
  std::atomic<int> joined{0};
  std::vector<std::unique_ptr<tandem::Thread>> threads;
  for (int i = 0; i < 4; ++i) {
    threads.push_back(std::make_unique<tandem::Thread>([&p, &joined, i] {
      if (i % 2)
        p.join();
      else
        while (!p.join(1ms)) (void)p.is_alive();
      joined++;
    }));
    threads.back()->start();
  }
  board->go.set();
  for (auto& t : threads) t->join();
  EXPECT_EQ(joined.load(), 4);
  EXPECT_EQ(p.exitcode(), 0);
}

// Python 3.12+ warns when fork() is used in a multi-threaded process. Checked in a child,
// which starts single-threaded with its warning not yet given, and whose stderr is a pipe.
TEST_F(ProcessTest, WarnsWhenForkingMultithreaded) {
  Pipe err;
  mp::Process p([&err] {
    ::dup2(err.w, 2);
    Shared<Board> local;
    tandem::Thread t([&local] { local->go.wait(); });
    t.start();
    mp::Process q([] {});
    q.start();
    q.join();
    local->go.set();
    t.join();
  });
  p.start();
  p.join();
  err.close_write();
  const std::string text = err.read_all();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_NE(text.find("is multi-threaded, use of fork() may lead to deadlocks in the child."),
            std::string::npos)
      << text;
}

// Stress: processes started and joined from several threads at once.
TEST_F(ProcessTest, StartFromManyThreads) {
  Shared<Board> board;
  std::vector<std::unique_ptr<tandem::Thread>> threads;
  for (int i = 0; i < 4; ++i) {
    threads.push_back(std::make_unique<tandem::Thread>([&board] {
      for (int k = 0; k < 10; ++k) {
        mp::Process p([&board] { board->count++; });
        p.start();
        p.join();
        if (p.exitcode() != 0) board->value++;
      }
    }));
    threads.back()->start();
  }
  for (auto& t : threads) t->join();
  EXPECT_EQ(board->count.load(), 40);
  EXPECT_EQ(board->value.load(), 0);
}

}  // namespace
