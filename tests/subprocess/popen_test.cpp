// SPDX-License-Identifier: MIT
// Popen and Stream, with real children. Where a case ports one of CPython's
// Lib/test/test_subprocess.py, the comment above it names that test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tandem/subprocess.hpp"

using namespace tandem::subprocess;
using namespace std::chrono_literals;

namespace {

PopenOptions pipes(bool in = true, bool out = true, bool err = false) {
  PopenOptions o;
  if (in) o.stdin_ = PIPE;
  if (out) o.stdout_ = PIPE;
  if (err) o.stderr_ = PIPE;
  return o;
}

}  // namespace

// ProcessTestCase.test_stdin_pipe / test_stdout_pipe
TEST(Popen, StdinAndStdoutPipes) {
  Popen p({"cat"}, pipes());
  p.stdin_().write("pear");
  p.stdin_().close();
  EXPECT_EQ(p.stdout_().read(), "pear");
  EXPECT_EQ(p.wait(), 0);
}

// ProcessTestCase.test_stderr_pipe
TEST(Popen, StderrPipe) {
  PopenOptions o;
  o.stderr_ = PIPE;
  Popen p({"sh", "-c", "echo strawberry >&2"}, o);
  EXPECT_EQ(p.stderr_().read(), "strawberry\n");
  EXPECT_EQ(p.wait(), 0);
}

// ProcessTestCase.test_stdout_stderr_pipe (stderr=STDOUT)
TEST(Popen, StderrToStdout) {
  PopenOptions o;
  o.stdout_ = PIPE;
  o.stderr_ = STDOUT;
  Popen p({"sh", "-c", "echo apple; echo orange >&2"}, o);
  EXPECT_EQ(p.stdout_().read(), "apple\norange\n");
  EXPECT_EQ(p.wait(), 0);
}

// ProcessTestCase.test_communicate
TEST(Popen, CommunicateAllThree) {
  Popen p({"sh", "-c", "cat; echo pineapple >&2"}, pipes(true, true, true));
  Output o = p.communicate("banana");
  EXPECT_EQ(o.stdout_, "banana");
  EXPECT_EQ(o.stderr_, "pineapple\n");
  EXPECT_EQ(p.returncode(), 0);
}

// ProcessTestCase.test_communicate_pipe_buf: more than a pipe holds, both ways at once.
TEST(Popen, CommunicateFourMiBEachWayOnAllThreePipes) {
  std::string input(4 << 20, '\0');
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = static_cast<char>('a' + i % 26);
  // stdout echoes stdin; stderr gets 4 MiB of its own while stdin is still being written.
  Popen p({"sh", "-c", "head -c 4194304 /dev/zero >&2 & cat; wait"}, pipes(true, true, true));
  Output o = p.communicate(input, 120s);
  EXPECT_EQ(o.stdout_.size(), input.size());
  EXPECT_TRUE(o.stdout_ == input);
  EXPECT_TRUE(o.stderr_ == std::string(4 << 20, '\0'));
  EXPECT_EQ(p.returncode(), 0);
}

// ProcessTestCase.test_communicate_returns (a stream that is not piped comes back empty)
TEST(Popen, CommunicateUnpipedStreamsAreEmpty) {
  PopenOptions o;
  o.stdout_ = PIPE;
  Popen p({"echo", "x"}, o);
  Output out = p.communicate();
  EXPECT_EQ(out.stdout_, "x\n");
  EXPECT_EQ(out.stderr_, "");
}

// The child waits on a pipe of ours (passed as `fd`) until the test says "go": no sleeps.
struct Gate {
  int fd[2];
  Gate() { EXPECT_EQ(::pipe2(fd, O_CLOEXEC), 0); }
  ~Gate() { close(); ::close(fd[0]); }
  std::string wait_cmd() const { return "read go <&" + std::to_string(fd[0]); }
  void open() { EXPECT_EQ(::write(fd[1], "go\n", 3), 3); close(); }
  void close() {
    if (fd[1] >= 0) ::close(fd[1]);
    fd[1] = -1;
  }
};

// ProcessTestCase.test_communicate_timeout and test_communicate_timeout_large_output: the
// timeout carries what was read, the next call returns everything.
TEST(Popen, CommunicateTimeoutKeepsPartialOutputAndContinues) {
  Gate gate;
  PopenOptions o = pipes(true, true, true);
  o.pass_fds = {gate.fd[0]};
  Popen p({"sh", "-c", "echo first; echo e >&2; " + gate.wait_cmd() + "; echo second"}, o);
  try {
    p.communicate("", 0.5s);
    FAIL() << "no timeout";
  } catch (const TimeoutExpired& e) {
    EXPECT_EQ(e.output, "first\n");
    EXPECT_EQ(e.stderr_, "e\n");
    EXPECT_EQ(e.timeout, 0.5s);
  }
  gate.open();
  Output out = p.communicate({}, 60s);
  EXPECT_EQ(out.stdout_, "first\nsecond\n");
  EXPECT_EQ(out.stderr_, "e\n");
  EXPECT_EQ(p.returncode(), 0);
}

// ProcessTestCase.test_communicate_timeout: input not yet consumed survives the timeout
// (the caller's buffer need not outlive the first call).
TEST(Popen, CommunicateTimeoutThenRestOfInput) {
  Gate gate;
  PopenOptions o = pipes(true, true);
  o.pass_fds = {gate.fd[0]};
  Popen p({"sh", "-c", gate.wait_cmd() + "; exec cat"}, o);
  std::string big(1 << 20, 'z');
  {
    std::string input = big;
    EXPECT_THROW(p.communicate(input, 0.3s), TimeoutExpired);
    input.assign(input.size(), '!');  // gone as far as communicate knows
  }
  gate.open();
  Output out = p.communicate({}, 60s);
  EXPECT_EQ(out.stdout_.size(), big.size());
  EXPECT_TRUE(out.stdout_ == big);
  EXPECT_THROW(p.communicate("more"), tandem::ValueError);  // Python: input after starting
}

// ProcessTestCase.test_wait_timeout
TEST(Popen, WaitTimeout) {
  Popen p({"sleep", "30"});
  EXPECT_THROW(p.wait(0.2s), TimeoutExpired);
  EXPECT_FALSE(p.returncode());
  p.kill();
  EXPECT_EQ(p.wait(60s), -SIGKILL);
}

// ProcessTestCase.test_invalid_args / negative timeouts
TEST(Popen, BadInput) {
  EXPECT_THROW(Popen({}), tandem::ValueError);
  EXPECT_THROW(Popen({std::string("ec\0ho", 5)}), tandem::ValueError);
  EXPECT_THROW(Popen({"echo", std::string("a\0b", 3)}), tandem::ValueError);
  Popen p({"true"});
  EXPECT_THROW(p.wait(-1s), tandem::ValueError);
  EXPECT_THROW(p.communicate("", -1s), tandem::ValueError);
  EXPECT_THROW(p.stdout_(), tandem::ValueError);  // not a PIPE
  PopenOptions o;
  o.stdout_ = STDOUT;
  EXPECT_THROW(Popen({"true"}, o), tandem::ValueError);
  PopenOptions e;
  e.env = std::map<std::string, std::string>{{"A=B", "c"}};
  EXPECT_THROW(Popen({"true"}, e), tandem::ValueError);
}

// POSIXProcessTestCase.test_exception_bad_executable / test_exception_errpipe_normal
TEST(Popen, ExecFailureIsFileNotFoundInParent) {
  try {
    Popen p({"/nonexistent/program"});
    FAIL();
  } catch (const tandem::FileNotFoundError& e) {
    EXPECT_EQ(e.errno_(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/program"), std::string::npos);
  }
  EXPECT_THROW(Popen({"no-such-program-tandem"}), tandem::FileNotFoundError);
}

// POSIXProcessTestCase.test_exception_cwd
TEST(Popen, BadCwd) {
  PopenOptions o;
  o.cwd = "/nonexistent/dir";
  try {
    Popen p({"true"}, o);
    FAIL();
  } catch (const tandem::OSError& e) {
    EXPECT_EQ(e.errno_(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir"), std::string::npos);
  }
}

// POSIXProcessTestCase.test_exception_bad_args_0 (not executable → PermissionError)
TEST(Popen, NotExecutableIsPermissionError) {
  auto path = std::filesystem::temp_directory_path() / ("tandem_noexec_" + std::to_string(getpid()));
  { int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644); ::close(fd); }
  EXPECT_THROW(Popen({path.string()}), tandem::PermissionError);
  std::filesystem::remove(path);
}

// ProcessTestCase.test_cwd
TEST(Popen, Cwd) {
  RunOptions o;
  o.cwd = "/tmp";
  o.capture_output = true;
  EXPECT_EQ(run({"pwd"}, o).stdout_, "/tmp\n");
}

// ProcessTestCase.test_env and env_extra
TEST(Popen, EnvReplacesEnvExtraAdds) {
  RunOptions o;
  o.env = std::map<std::string, std::string>{{"FRUIT", "orange"}};
  o.stdout_ = PIPE;
  EXPECT_EQ(run({"/usr/bin/env"}, o).stdout_, "FRUIT=orange\n");
  RunOptions x;
  x.env_extra["FRUIT"] = "apple";
  x.stdout_ = PIPE;
  std::string out = run({"sh", "-c", "echo $FRUIT; echo ${PATH:+has-path}"}, x).stdout_;
  EXPECT_EQ(out, "apple\nhas-path\n");
}

// ProcessTestCase.test_executable (args[0] is only argv[0])
TEST(Popen, Executable) {
  RunOptions o;
  o.executable = "/bin/sh";
  o.stdout_ = PIPE;
  EXPECT_EQ(run({"my-name", "-c", "echo $0"}, o).stdout_, "my-name\n");
}

// POSIXProcessTestCase.test_shell_string
TEST(Popen, Shell) {
  RunOptions o;
  o.shell = true;
  o.stdout_ = PIPE;
  EXPECT_EQ(run({"echo $((6*7)) | tr 4 x"}, o).stdout_, "x2\n");
}

// POSIXProcessTestCase.test_close_fds / test_pass_fds: the child sees only 0-2 and pass_fds
// (ls itself opens the directory it lists: the lowest free descriptor, 3).
TEST(Popen, ChildSeesOnlyStdioAndPassFds) {
  int leaked = ::open("/dev/null", O_RDONLY);  // inheritable on purpose: close_fds closes it
  ASSERT_GE(leaked, 3);
  RunOptions o;
  o.stdout_ = PIPE;
  EXPECT_EQ(run({"ls", "/proc/self/fd"}, o).stdout_, "0\n1\n2\n3\n");
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ASSERT_GT(p[1], 3);
  RunOptions q;
  q.stdout_ = PIPE;
  q.pass_fds = {p[1]};
  std::set<std::string> want = {"0", "1", "2", "3", std::to_string(p[1])};
  std::string expected;
  for (const auto& w : want) expected += w + "\n";
  EXPECT_EQ(run({"ls", "/proc/self/fd"}, q).stdout_, expected);
  RunOptions keep;
  keep.stdout_ = PIPE;
  keep.close_fds = false;  // the inheritable one survives, the O_CLOEXEC pipe does not
  std::string out = run({"ls", "/proc/self/fd"}, keep).stdout_;
  EXPECT_NE(out.find(std::to_string(leaked) + "\n"), std::string::npos) << out;
  EXPECT_EQ(out.find(std::to_string(p[1]) + "\n"), std::string::npos) << out;
  ::close(p[0]);
  ::close(p[1]);
  ::close(leaked);
}

// POSIXProcessTestCase.test_pass_fds: the passed fd works in the child.
TEST(Popen, PassFdsUsable) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  RunOptions o;
  o.pass_fds = {p[1]};
  run({"sh", "-c", "echo hi >&" + std::to_string(p[1])}, o);
  ::close(p[1]);
  char buf[8] = {};
  EXPECT_EQ(::read(p[0], buf, sizeof buf), 3);
  EXPECT_STREQ(buf, "hi\n");
  ::close(p[0]);
  EXPECT_EQ(fcntl(p[0], F_GETFD), -1);
  // POSIXProcessTestCase.test_pass_fds_bad (not open → OSError EBADF)
  RunOptions b;
  b.pass_fds = {p[0]};
  try {
    run({"true"}, b);
    FAIL();
  } catch (const tandem::OSError& e) {
    EXPECT_EQ(e.errno_(), EBADF);
  }
}

// POSIXProcessTestCase.test_start_new_session / test_process_group
TEST(Popen, SessionAndProcessGroup) {
  RunOptions o;
  o.start_new_session = true;
  o.stdout_ = PIPE;
  std::string out = run({"sh", "-c", "ps -o sid= -p $$; echo $$"}, o).stdout_;
  auto nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  EXPECT_EQ(std::stoi(out.substr(0, nl)), std::stoi(out.substr(nl + 1)));
  RunOptions g;
  g.process_group = 0;
  g.stdout_ = PIPE;
  out = run({"sh", "-c", "ps -o pgid= -p $$; echo $$"}, g).stdout_;
  nl = out.find('\n');
  EXPECT_EQ(std::stoi(out.substr(0, nl)), std::stoi(out.substr(nl + 1)));
}

// POSIXProcessTestCase.test_umask
TEST(Popen, Umask) {
  auto dir = std::filesystem::temp_directory_path() / ("tandem_umask_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  RunOptions o;
  o.umask = 0077;
  o.cwd = dir;
  run({"sh", "-c", "echo > f"}, o);
  struct stat st;
  ASSERT_EQ(::stat((dir / "f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  RunOptions bad;
  bad.umask = 022;
  EXPECT_THROW(run({"/nonexistent/x"}, bad), tandem::FileNotFoundError);
  std::filesystem::remove_all(dir);
}

// POSIXProcessTestCase.test_restore_signals: dispositions and mask reset in the child.
TEST(Popen, SignalsResetInChild) {
  struct sigaction ign{}, old{};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGUSR1, &ign, &old);
  sigset_t block, oldmask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &block, &oldmask);
  RunOptions o;
  o.stdout_ = PIPE;
  std::string out = run({"sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"}, o).stdout_;
  pthread_sigmask(SIG_SETMASK, &oldmask, nullptr);
  sigaction(SIGUSR1, &old, nullptr);
  // SIGUSR1 (bit 0x200) not ignored, SIGUSR2 (0x800) not blocked.
  EXPECT_NE(out.find("SigBlk:\t0000000000000000"), std::string::npos) << out;
  EXPECT_EQ(out.find("SigIgn:\t0000000000000200"), std::string::npos) << out;
}

// ProcessTestCase.test_stdout_filedes / test_stdin_filedes, and path redirects.
TEST(Popen, FdAndPathRedirects) {
  auto path = std::filesystem::temp_directory_path() / ("tandem_redir_" + std::to_string(getpid()));
  RunOptions o;
  o.stdout_ = path;
  run({"echo", "to a file"}, o);
  RunOptions i;
  i.stdin_ = path;
  i.stdout_ = PIPE;
  EXPECT_EQ(run({"cat"}, i).stdout_, "to a file\n");
  RunOptions n;
  n.stdin_ = DEVNULL;
  n.stdout_ = PIPE;
  EXPECT_EQ(run({"cat"}, n).stdout_, "");
  std::filesystem::remove(path);
}

// A pipeline: p1's stdout is p2's stdin (the docs' "replacing shell pipeline").
TEST(Popen, Pipeline) {
  PopenOptions a;
  a.stdout_ = PIPE;
  Popen p1({"printf", "b\\na\\nc\\n"}, a);
  PopenOptions b;
  b.stdin_ = p1.stdout_().fileno();
  b.stdout_ = PIPE;
  Popen p2({"sort"}, b);
  p1.stdout_().close();  // p2 holds it now; p1 gets SIGPIPE if p2 exits first (as the docs say)
  std::vector<std::string> lines;
  for (const std::string& line : p2.stdout_()) lines.push_back(line);
  EXPECT_EQ(lines, (std::vector<std::string>{"a\n", "b\n", "c\n"}));
  EXPECT_EQ(p2.wait(), 0);
  EXPECT_EQ(p1.wait(), 0);
}

// ProcessTestCase.test_readline / iteration without a trailing newline.
TEST(Popen, ReadlineAndRead) {
  PopenOptions o;
  o.stdout_ = PIPE;
  Popen p({"printf", "one\\ntwo\\nthree"}, o);
  EXPECT_EQ(p.stdout_().readline(), "one\n");
  EXPECT_EQ(p.stdout_().read(), "two\nthree");
  EXPECT_EQ(p.stdout_().readline(), "");
}

// ProcessTestCase.test_communicate_epipe / test_stdin_broken_pipe: writing to a child that
// has gone raises OSError(EPIPE), never SIGPIPE.
TEST(Popen, WriteToExitedChildIsEpipeNotSigpipe) {
  Popen p({"true"}, pipes(true, false));
  p.wait();
  try {
    p.stdin_().write(std::string(1 << 20, 'x'));
    FAIL();
  } catch (const tandem::OSError& e) {
    EXPECT_EQ(e.errno_(), EPIPE);
  }
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGPIPE));
  Popen q({"true"}, pipes(true, false));
  q.wait();
  EXPECT_NO_THROW(q.communicate(std::string(1 << 20, 'x')));  // Python ignores EPIPE here
}

// ProcessTestCase.test_poll / test_send_signal / test_kill / test_terminate
TEST(Popen, PollSignals) {
  Popen p({"sleep", "30"});
  EXPECT_FALSE(p.poll());
  p.terminate();
  EXPECT_EQ(p.wait(), -SIGTERM);
  EXPECT_EQ(p.poll(), -SIGTERM);
  p.kill();  // after reaping: nothing happens (Python)
  Popen q({"sh", "-c", "exit 7"});
  EXPECT_EQ(q.wait(), 7);
  EXPECT_EQ(q.args(), (std::vector<std::string>{"sh", "-c", "exit 7"}));
  EXPECT_GT(q.pid(), 0);
}

// errors: what() is Python's text; TimeoutExpired is a TimeoutError and a tandem::Error.
TEST(Popen, ErrorHierarchy) {
  try {
    throw TimeoutExpired({"sleep", "10"}, 1s);
  } catch (const tandem::TimeoutError& e) {
    EXPECT_STREQ(e.what(), "Command '['sleep', '10']' timed out after 1 seconds");
  }
  try {
    throw CalledProcessError(1, {"false"});
  } catch (const tandem::Error& e) {
    EXPECT_STREQ(e.what(), "Command '['false']' returned non-zero exit status 1.");
  }
  try {
    throw TimeoutExpired({"x"}, 1s);
  } catch (const SubprocessError&) {
  }
  try {
    throw TimeoutExpired({"x"}, 1s);
  } catch (const tandem::Error&) {
  }
}

// ProcessTestCase.test_leaking_fds_on_error / test_nonexisting_with_pipes: a Popen that fails
// to start closes every pipe it made.
TEST(Popen, FailedStartLeaksNothing) {
  auto fds = [] {
    int n = 0;
    for (int fd = 0; fd < 1024; ++fd) n += ::fcntl(fd, F_GETFD) != -1;
    return n;
  };
  const int before = fds();
  PopenOptions o;
  o.stdin_ = PIPE;
  o.stdout_ = PIPE;
  o.stderr_ = PIPE;
  for (int i = 0; i < 20; ++i) EXPECT_THROW(Popen({"/nonexistent/program"}, o), tandem::FileNotFoundError);
  PopenOptions u = o;
  u.umask = 022;
  EXPECT_THROW(Popen({"/nonexistent/program"}, u), tandem::FileNotFoundError);
  PopenOptions c = o;
  c.cwd = "/nonexistent";
  EXPECT_THROW(Popen({"true"}, c), tandem::FileNotFoundError);
  EXPECT_EQ(fds(), before);
}

// ProcessTestCase.test_communicate_stdin / test_stdout_none: input only, output inherited.
TEST(Popen, CommunicateInputOnly) {
  PopenOptions o;
  o.stdin_ = PIPE;
  Popen p({"sh", "-c", "read x; test \"$x\" = pear"}, o);
  Output out = p.communicate("pear\n");
  EXPECT_EQ(out.stdout_, "");
  EXPECT_EQ(p.returncode(), 0);
}
