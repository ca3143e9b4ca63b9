// tandem::mp::Process under faults, with real signals: exit codes of children that throw,
// exit, abort or segfault (CPython _TestProcess / _TestSubclassingProcess.test_sys_exit and
// test_stderr_flush, in spirit), children killed while the parent waits, and daemon children
// that must die with their parent.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

#include "multiprocessing/mp_test_support.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/threading/thread.hpp"

using namespace std::chrono_literals;
using mptest::Board;
using mptest::Pipe;
using mptest::Shared;
namespace mp = tandem::mp;

namespace {

class ProcessFaultTest : public mptest::ProcessFixture {};

/// In a child about to crash on purpose: no core file, and the default action for `sig`
/// (sanitizers install their own SIGSEGV handler, which would exit with 1 instead).
void prepare_to_die(int sig) {
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
  ::signal(sig, SIG_DFL);
}

// test_stderr_flush: an exception escaping run() gives exit code 1 and is reported on the
// child's stderr as "Process NAME:" followed by the type and the message.
TEST_F(ProcessFaultTest, ThrowingChildExitsWith1AndReports) {
  Pipe err;
  mp::Process p(
      [&err] {
        ::dup2(err.w, 2);
        throw std::invalid_argument("bad value # MARKER");
      },
      {.name = "Thrower"});
  p.start();
  p.join();
  err.close_write();
  const std::string text = err.read_all();
  EXPECT_EQ(p.exitcode(), 1);
  EXPECT_EQ(text, "Process Thrower:\nstd::invalid_argument: bad value # MARKER\n");
}

TEST_F(ProcessFaultTest, NonStdExceptionIsReported) {
  Pipe err;
  mp::Process p([&err] {
    ::dup2(err.w, 2);
    throw 42;
  });
  p.start();
  p.join();
  err.close_write();
  const std::string text = err.read_all();
  EXPECT_EQ(p.exitcode(), 1);
  EXPECT_EQ(text, "Process " + p.name() + ":\nint\n");
}

// test_sys_exit: the status the child exits with is the exit code.
TEST_F(ProcessFaultTest, ExitStatusIsTheExitCode) {
  mp::Process a([] { std::exit(3); });
  mp::Process b([] { ::_exit(8); });
  mp::Process c([] { std::quick_exit(0); });
  a.start();
  b.start();
  c.start();
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(a.exitcode(), 3);
  EXPECT_EQ(b.exitcode(), 8);
  EXPECT_EQ(c.exitcode(), 0);
}

// The child's buffered output is flushed before its _exit (std::cout and C stdio).
TEST_F(ProcessFaultTest, ChildOutputIsFlushed) {
  Pipe out;
  mp::Process p([&out] {
    ::dup2(out.w, 1);
    std::printf("from printf ");
    std::cout << "from cout";
  });
  p.start();
  p.join();
  out.close_write();
  EXPECT_EQ(out.read_all(), "from printf from cout");
}

// os.abort() gives -SIGABRT (probed on CPython).
TEST_F(ProcessFaultTest, AbortGivesMinusSigabrt) {
  mp::Process p([] {
    prepare_to_die(SIGABRT);
    std::abort();
  });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGABRT);
}

TEST_F(ProcessFaultTest, SegfaultGivesMinusSigsegv) {
  mp::Process p([] {
    prepare_to_die(SIGSEGV);
    ::raise(SIGSEGV);
  });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGSEGV);
}

// A child that ignores SIGTERM survives terminate(); kill() still ends it.
TEST_F(ProcessFaultTest, KillAfterIgnoredTerminate) {
  Shared<Board> board;
  mp::Process p([&board] {
    ::signal(SIGTERM, SIG_IGN);
    board->ready.set();
    tandem::sleep(100s);
  });
  p.start();
  ASSERT_TRUE(board->ready.wait());
  p.terminate();
  EXPECT_FALSE(p.join(50ms));
  EXPECT_TRUE(p.is_alive());
  p.kill();
  EXPECT_TRUE(p.join(60s));
  EXPECT_EQ(p.exitcode(), -SIGKILL);
}

// A child killed from outside while the parent sleeps in join(): join returns at once.
TEST_F(ProcessFaultTest, JoinWakesWhenChildIsKilledExternally) {
  Shared<Board> board;
  mp::Process p([&board] {
    board->ready.set();
    tandem::sleep(100s);
  });
  p.start();
  ASSERT_TRUE(board->ready.wait());
  tandem::Thread killer([&p] { ::kill(p.pid(), SIGKILL); });
  killer.start();
  EXPECT_TRUE(p.join(60s));
  killer.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
}

// A daemon child dies with its parent: an intermediate process starts a daemon grandchild
// that reports its pid and sleeps; the intermediate is SIGKILLed; the grandchild must die.
TEST_F(ProcessFaultTest, DaemonChildDiesWithItsParent) {
  Shared<Board> board;
  mp::Process middle([&board] {
    mp::Process grandchild(
        [&board] {
          board->pid = static_cast<int>(::getpid());
          board->ready.set();
          tandem::sleep(100s);
          board->value = 1;  // never reached
        },
        {.daemon = true});
    grandchild.start();
    board->go.wait();  // sleeps until killed
  });
  middle.start();
  ASSERT_TRUE(board->ready.wait());
  const int gpid = board->pid.load();
  ASSERT_GT(gpid, 0);
  const int gfd = static_cast<int>(::syscall(SYS_pidfd_open, gpid, 0));
  ASSERT_GE(gfd, 0);
  middle.kill();
  middle.join();
  EXPECT_EQ(middle.exitcode(), -SIGKILL);
  pollfd pfd{gfd, POLLIN, 0};
  int n;
  do n = ::poll(&pfd, 1, 60'000);
  while (n < 0 && errno == EINTR);
  EXPECT_EQ(n, 1) << "the daemon grandchild outlived its parent";
  ::close(gfd);
  EXPECT_EQ(board->value.load(), 0);
}

// The same with a non-daemon grandchild: it survives (as in Python, it becomes an orphan);
// we then stop it through its stop page, which the test shares.
TEST_F(ProcessFaultTest, NonDaemonChildOutlivesItsParent) {
  Shared<Board> board;
  mp::Process middle([&board] {
    mp::Process grandchild([&board] {
      board->pid = static_cast<int>(::getpid());
      board->ready.set();
      board->go.wait();
      board->value = 1;
      board->done.set();
    });
    grandchild.start();
    tandem::sleep(100s);
  });
  middle.start();
  ASSERT_TRUE(board->ready.wait());
  middle.kill();
  middle.join();
  EXPECT_EQ(::kill(board->pid.load(), 0), 0);  // still there
  board->go.set();
  EXPECT_TRUE(board->done.wait());
  EXPECT_EQ(board->value.load(), 1);
}

}  // namespace
