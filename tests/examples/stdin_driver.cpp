// SPDX-License-Identifier: MIT
// tests/examples/stdin_driver.cpp — runs one example program the way a person at a terminal
// or a pipeline would, to test its "Press Enter to stop" handling (demo::input in
// examples/common/demo.hpp). Used by the example_<name>_{enter,eof,tty} tests in
// examples/CMakeLists.txt.
//
//   stdin_driver MODE [--wait TEXT]... [--expect TEXT]... [--timeout SECONDS] -- PROGRAM ARGS...
//
//   MODE enter  the program's stdin is a pipe; once every --wait TEXT has appeared in its
//               output, "\n" is written to the pipe (Enter, as a pipeline sends it)
//        eof    the program's stdin is a pipe whose writer is already closed (end of input);
//               nothing is sent
//        tty    the program's stdin, stdout and stderr are a new pseudo-terminal, which is its
//               controlling terminal; once every --wait TEXT has appeared, "\r" is typed (the
//               Enter key: the line discipline hands the program "\n" and echoes "\r\n").
//               Carriage returns are dropped from the output as it arrives (the terminal
//               ends lines with "\r\n"), so TEXTs hold only "\n"s in every mode.
//
// In TEXT, "\n" stands for a newline. The driver passes (exit 0) when the program exits with
// status 0 before the bound (--timeout, default 120 s from the start, generous for a loaded
// machine) and its output contains the --expect texts in the order given. Otherwise it says
// why, kills the program and exits 1. The program's output is copied to the driver's stdout.
// It never sleeps to synchronise: it waits on the program's output, and on its exit through a
// pidfd, with poll() bounded by the deadline.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::vector<std::string> waits;
  std::vector<std::string> expects;
  double timeout = 120;
  char** program = nullptr;
};

struct Child {
  pid_t pid = -1;
  int out = -1;  // the program's output (pipe read end, or the pty master)
  int in = -1;   // its input (pipe write end, or the pty master); -1 in eof mode
};

[[noreturn]] void usage() {
  std::fputs("usage: stdin_driver enter|eof|tty [--wait TEXT]... [--expect TEXT]... "
             "[--timeout SECONDS] -- PROGRAM ARGS...\n", stderr);
  std::exit(2);
}

std::string unescape(const char* text) {
  std::string s;
  for (const char* p = text; *p; ++p) {
    if (p[0] == '\\' && p[1] == 'n') {
      s += '\n';
      ++p;
    } else {
      s += *p;
    }
  }
  return s;
}

/// The text as it was given on the command line (newlines as "\n"), for messages.
std::string escape(const std::string& text) {
  std::string s;
  for (char c : text) s += c == '\n' ? std::string("\\n") : std::string(1, c);
  return s;
}

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) usage();
  o.mode = argv[1];
  if (o.mode != "enter" && o.mode != "eof" && o.mode != "tty") usage();
  int i = 2;
  for (; i + 1 < argc && std::strcmp(argv[i], "--") != 0; i += 2) {
    if (std::strcmp(argv[i], "--wait") == 0) {
      o.waits.push_back(unescape(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--expect") == 0) {
      o.expects.push_back(unescape(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--timeout") == 0) {
      o.timeout = std::strtod(argv[i + 1], nullptr);
    } else {
      usage();
    }
  }
  if (i + 1 >= argc || std::strcmp(argv[i], "--") != 0 || o.timeout <= 0) usage();
  o.program = argv + i + 1;
  return o;
}

[[noreturn]] void exec_program(char** program) {
  ::execv(program[0], program);
  std::fprintf(stderr, "stdin_driver: cannot run %s: %s\n", program[0], std::strerror(errno));
  ::_exit(127);
}

Child start_with_pipes(char** program, bool eof) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    std::perror("stdin_driver: pipe2");
    std::exit(1);
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("stdin_driver: fork");
    std::exit(1);
  }
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    exec_program(program);
  }
  ::close(in[0]);
  ::close(out[1]);
  if (eof) {
    ::close(in[1]);  // end of input before the program reads anything
    in[1] = -1;
  }
  return {pid, out[0], in[1]};
}

Child start_on_pty(char** program) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
    std::perror("stdin_driver: posix_openpt");
    std::exit(1);
  }
  const std::string slave = ::ptsname(master);
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("stdin_driver: fork");
    std::exit(1);
  }
  if (pid == 0) {
    // A new session whose controlling terminal is the pty, as a login shell's would be.
    ::setsid();
    const int fd = ::open(slave.c_str(), O_RDWR);
    if (fd < 0 || ::ioctl(fd, TIOCSCTTY, 0) != 0) {
      std::perror("stdin_driver: pty slave");
      ::_exit(127);
    }
    ::dup2(fd, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (fd > 2) ::close(fd);
    exec_program(program);
  }
  return {pid, master, master};
}

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

bool contains_all(const std::string& out, const std::vector<std::string>& texts) {
  for (const auto& t : texts) {
    if (out.find(t) == std::string::npos) return false;
  }
  return true;
}

/// Waits for the program to exit, at most until the deadline; its wait status, or -1.
int wait_exit(pid_t pid, Clock::time_point deadline) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int n;
    do {
      n = ::poll(&p, 1, ms_until(deadline));
    } while (n < 0 && errno == EINTR);
    ::close(pidfd);
    if (n <= 0) return -1;
  }
  // Exited (or no pidfds: the output's end came with the exit, so this does not block long).
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);  // a program that died early must not kill the driver
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(o.timeout));
  Child child = o.mode == "tty" ? start_on_pty(o.program) : start_with_pipes(o.program, o.mode == "eof");

  std::string out;
  std::string failure;
  bool to_send = o.mode != "eof";
  for (;;) {
    if (to_send && contains_all(out, o.waits)) {
      const char enter = o.mode == "tty" ? '\r' : '\n';
      if (::write(child.in, &enter, 1) != 1) {
        failure = std::string("could not send Enter: ") + std::strerror(errno);
        break;
      }
      to_send = false;
    }
    pollfd p{child.out, POLLIN, 0};
    const int n = ::poll(&p, 1, ms_until(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      failure = to_send ? "timed out waiting for the output that comes before Enter"
                        : "timed out waiting for the program to end its output";
      break;
    }
    char buf[4096];
    const ssize_t got = ::read(child.out, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got > 0) {
      for (ssize_t k = 0; k < got; ++k)
        if (o.mode != "tty" || buf[k] != '\r') out += buf[k];
      continue;
    }
    // End of output: 0 from a pipe; EIO from a pty master once the program is gone.
    if (got < 0 && errno != EIO) failure = std::string("read: ") + std::strerror(errno);
    if (to_send) failure = "the program ended before the output that comes before Enter";
    break;
  }

  int status = -1;
  if (failure.empty()) {
    status = wait_exit(child.pid, deadline);
    if (status == -1) {
      failure = "timed out waiting for the program to exit";
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      failure = "the program did not exit with status 0 (wait status " +
                std::to_string(status) + ")";
    }
  }
  if (status == -1) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
  }

  std::size_t pos = 0;
  for (const auto& e : o.expects) {
    if (!failure.empty()) break;
    const std::size_t at = out.find(e, pos);
    if (at == std::string::npos) {
      failure = "expected, in this order after what came before, \"" + escape(e) + "\"";
    } else {
      pos = at + e.size();
    }
  }

  std::printf("--- output of %s (%s) ---\n%s\n--- end of output ---\n", o.program[0],
              o.mode.c_str(), out.c_str());
  if (!failure.empty()) {
    std::printf("stdin_driver: FAIL: %s\n", failure.c_str());
    return 1;
  }
  std::printf("stdin_driver: ok\n");
  return 0;
}
