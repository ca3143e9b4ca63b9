// SPDX-License-Identifier: MIT
// tandem::mp::Process under faults, with real signals: exit codes of children that throw,
// exit, abort or segfault (CPython _TestProcess / _TestSubclassingProcess.test_sys_exit and
// test_stderr_flush, in spirit), children killed while the parent waits, and daemon children
// that must die with their parent.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

#include "support/mp_test_support.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/threading/thread.hpp"

using namespace std::chrono_literals;
using mptest::Board;
using mptest::Pipe;
using mptest::Shared;
namespace mp = tandem::mp;

// Targets for the spawned intermediate of DaemonDiesWithParent (shippable: plain
// functions with serializable arguments).
namespace pftest {

/// The daemon grandchild: writes "<pid>\n" into the FIFO, then sleeps until killed.
void report_pid_and_sleep(std::string fifo) {
  const int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) ::_exit(2);
  const std::string text = std::to_string(::getpid()) + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) ::_exit(3);
  ::close(fd);
  for (;;) ::pause();
}

/// The intermediate: starts the daemon grandchild with `method`, then sleeps until killed.
void start_daemon_and_wait(int method, std::string fifo) {
  mp::Process grandchild(report_pid_and_sleep, std::tuple{std::move(fifo)},
                         {.daemon = true, .start_method = static_cast<mp::StartMethod>(method)});
  grandchild.start();
  for (;;) ::pause();
}

}  // namespace pftest

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

// A daemon child dies with its parent, under each start method: an intermediate process
// (spawned, so that it is a program of its own, with its own fork server) starts a daemon
// grandchild with the method under test; the grandchild reports its pid through a FIFO
// (it shares no memory or descriptor with the test under forkserver) and sleeps; the
// intermediate is SIGKILLed; the grandchild must die. For forkserver that is the chain of
// process.hpp: the intermediate's server sees its main process gone and exits, and the
// worker's PR_SET_PDEATHSIG (against the server) fires.
class DaemonDiesWithParent : public mptest::ProcessFixture,
                             public ::testing::WithParamInterface<mp::StartMethod> {};

TEST_P(DaemonDiesWithParent, UnderEachStartMethod) {
  char dir[] = "/tmp/tandem-daemon-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string fifo = std::string(dir) + "/pid";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Our own idle writer keeps the FIFO from reporting a hang-up before the grandchild writes.
  const int rfd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  const int wfd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(rfd, 0);
  ASSERT_GE(wfd, 0);
  mp::Process middle(pftest::start_daemon_and_wait, std::tuple{static_cast<int>(GetParam()), fifo},
                     {.start_method = mp::StartMethod::spawn});
  middle.start();
  std::string text;
  pollfd rp{rfd, POLLIN, 0};
  while (text.find('\n') == std::string::npos) {
    int n;
    do n = ::poll(&rp, 1, 60'000);
    while (n < 0 && errno == EINTR);
    ASSERT_EQ(n, 1) << "the grandchild never reported";
    char buf[32];
    const ssize_t k = ::read(rfd, buf, sizeof buf);
    if (k > 0) text.append(buf, static_cast<std::size_t>(k));
  }
  ::close(wfd);
  ::close(rfd);
  ::unlink(fifo.c_str());
  ::rmdir(dir);
  const int gpid = std::stoi(text);
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
  if (n != 1) ::syscall(SYS_pidfd_send_signal, gfd, SIGKILL, nullptr, 0);  // no stray process
  ::close(gfd);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, DaemonDiesWithParent,
                         ::testing::Values(mp::StartMethod::fork, mp::StartMethod::forkserver,
                                           mp::StartMethod::spawn),
                         [](const ::testing::TestParamInfo<mp::StartMethod>& info) {
                           switch (info.param) {
                             case mp::StartMethod::fork: return std::string("fork");
                             case mp::StartMethod::forkserver: return std::string("forkserver");
                             case mp::StartMethod::spawn: return std::string("spawn");
                           }
                           return std::string("unknown");
                         });

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

// Our own main(): mp::init(argc, argv) first, so that spawned children (DaemonDiesWithParent's
// intermediate) are taken over there; gtest_main's main is then not linked.
int main(int argc, char** argv) {
  tandem::mp::init(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
