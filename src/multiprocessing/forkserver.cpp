// SPDX-License-Identifier: MIT
// StartMethod::forkserver — see <tandem/multiprocessing/process.hpp> ("Start methods").
//
// The server is a fork of the main process made by mp::init() while it is single-threaded
// (Python 3.14's default start method, for the same reason: a fork of a multi-threaded
// process may inherit locks held by threads that do not exist in the child). It is a
// grandchild (double fork), so it is never a child the program has to reap, and a
// waitpid(-1) elsewhere never sees it. It exits when the main process exits: it polls a
// pidfd of the main process (taken before the fork), and also when every client end of its
// socket is closed.
//
// Protocol. Clients hold one end of a SOCK_SEQPACKET socketpair (CLOEXEC; fork()ed children
// of the main process share it — datagrams are atomic, so concurrent starts do not mix).
// A request is one datagram with SCM_RIGHTS [reply socket, stop-page memfd, boot memfd].
// The server forks a worker, which closes every server descriptor and calls boot_worker().
// The server then sends on the reply socket {pid, 0} with SCM_RIGHTS [pidfd of the worker]
// ({-errno, 0} and no fd when fork failed) and keeps the reply socket; when the worker's
// pidfd polls readable it reaps it (waitid) and sends the exit code (4 bytes: code, or −N for
// signal N) and closes the socket.
// Parent side: the pidfd (opened by the server right after fork(), so it names the worker
// even if its pid were reused) serves join(timeout) — pidfds poll readable on exit for any
// process, not only children — and terminate()/kill() (pidfd_send_signal). The exit code
// comes from the server over the reply socket: we chose the server's report over waitid
// because only a parent can reap. If the server was killed, the report is lost: exitcode()
// is then 255, as when something else reaps a fork child.
// Daemon workers set PR_SET_PDEATHSIG against the server, which dies with the main process:
// they follow it one step later.
//
// Without mp::init(): the server is started on the first forkserver start(); if the
// process has threads by then, "tandem: the fork server was started from a multi-threaded
// process ..." is printed once on stderr (we do not refuse: it usually works, as fork does).
// A server found dead (EPIPE/ECONNREFUSED on send) is restarted once per start().
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "multiprocessing/process_launch.hpp"
#include "tandem/detail/futex_mutex.hpp"
#include "tandem/errors.hpp"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace tandem::mp::detail {
namespace {

std::atomic<int> g_server_fd{-1};  // our end of the server's socket
tandem::detail::FutexMutex g_server_mu;

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool send_fds(int sock, const void* data, std::size_t len, const int* fds, int nfds) {
  iovec iov{const_cast<void*>(data), len};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 3)] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (nfds > 0) {
    mh.msg_control = ctl;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * static_cast<unsigned>(nfds));
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * static_cast<unsigned>(nfds));
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * static_cast<unsigned>(nfds));
  }
  ssize_t n;
  do n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(len);
}

/// Receives a message and up to 3 fds (CLOEXEC). Returns the byte count (0: EOF, <0: error).
ssize_t recv_fds(int sock, void* data, std::size_t len, int* fds, int* nfds) {
  iovec iov{data, len};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 3)] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  ssize_t n;
  do n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  *nfds = 0;
  if (n < 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const int k = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfds < 3)
        fds[(*nfds)++] = fd;
      else
        ::close(fd);
    }
  }
  return n;
}

struct Kid {
  pid_t pid;
  int pidfd;
  int reply;
};

[[noreturn]] void server_main(int sock, int main_pidfd) {
  ::prctl(PR_SET_NAME, "tandem-forksrv", 0, 0, 0);
  ::signal(SIGINT, SIG_IGN);  // Ctrl-C is for the main process (which takes us along)
  const int self = static_cast<int>(::getpid());
  std::vector<Kid> kids;
  std::vector<pollfd> pfds;
  for (;;) {
    pfds.assign({{sock, POLLIN, 0}, {main_pidfd, POLLIN, 0}});
    for (const Kid& k : kids) pfds.push_back({k.pidfd, POLLIN, 0});
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      ::_exit(1);
    }
    if (pfds[1].revents) ::_exit(0);  // the main process is gone
    for (std::size_t i = kids.size(); i-- > 0;) {
      if (!pfds[i + 2].revents) continue;
      Kid k = kids[i];
      siginfo_t si{};
      int rc;
      do rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(k.pidfd), &si,
                       WEXITED | WNOHANG);
      while (rc < 0 && errno == EINTR);
      if (rc == 0 && si.si_pid == 0) continue;  // not yet
      const std::int32_t code = rc != 0                       ? 255
                                : si.si_code == CLD_EXITED    ? si.si_status
                                                              : -si.si_status;
      ::send(k.reply, &code, sizeof code, MSG_NOSIGNAL);
      ::close(k.reply);
      ::close(k.pidfd);
      kids.erase(kids.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (pfds[0].revents == 0) continue;
    char tag = 0;
    int fds[3];
    int nfds = 0;
    const ssize_t n = recv_fds(sock, &tag, 1, fds, &nfds);
    if (n == 0 || (n < 0 && errno != EAGAIN)) ::_exit(0);  // every client has gone
    if (n < 0) continue;
    if (nfds != 3) {
      for (int i = 0; i < nfds; ++i) ::close(fds[i]);
      continue;
    }
    const int reply = fds[0], stop = fds[1], boot = fds[2];
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(sock);
      ::close(main_pidfd);
      ::close(reply);
      for (const Kid& k : kids) {
        ::close(k.pidfd);
        ::close(k.reply);
      }
      ::signal(SIGINT, SIG_DFL);
      boot_worker(boot, stop, self);
    }
    ::close(stop);
    ::close(boot);
    if (pid < 0) {
      const std::int32_t msg[2] = {-errno, 0};
      ::send(reply, msg, sizeof msg, MSG_NOSIGNAL);
      ::close(reply);
      continue;
    }
    const int pidfd = pidfd_open(pid);
    const std::int32_t msg[2] = {static_cast<std::int32_t>(pid), 0};
    if (pidfd < 0) {  // cannot watch it: report failure, kill and reap it
      const std::int32_t bad[2] = {-errno, 0};
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      ::send(reply, bad, sizeof bad, MSG_NOSIGNAL);
      ::close(reply);
      continue;
    }
    send_fds(reply, msg, sizeof msg, &pidfd, 1);
    kids.push_back({pid, pidfd, reply});
  }
}

/// Double fork: the server is our grandchild. Returns our end of its socket, or -1.
int launch_server() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  const int me = pidfd_open(::getpid());
  if (me < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return -1;
  }
  flush_all();
  const pid_t mid = ::fork();
  if (mid == 0) {
    ::close(sv[0]);
    const pid_t server = ::fork();
    if (server == 0) server_main(sv[1], me);
    ::_exit(server < 0 ? 1 : 0);
  }
  ::close(sv[1]);
  ::close(me);
  if (mid < 0) {
    ::close(sv[0]);
    return -1;
  }
  int status = 0;
  while (::waitpid(mid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ::close(sv[0]);
    return -1;
  }
  return sv[0];
}

/// The server's socket, started now if need be; `dead` (a socket found closed) is replaced.
int server_socket(int dead) {
  int fd = g_server_fd.load(std::memory_order_acquire);
  if (fd >= 0 && fd != dead) return fd;
  g_server_mu.lock();
  fd = g_server_fd.load(std::memory_order_acquire);
  if (fd < 0 || fd == dead) {
    if (fd >= 0) ::close(fd);
    if (!init_was_called() && is_multithreaded())
      write_stderr("tandem: the fork server was started from a multi-threaded process (pid=" +
                   std::to_string(::getpid()) +
                   "); call tandem::mp::init(argc, argv) first in main() to start it while "
                   "the process is single-threaded.\n",
                   LogLevel::warning);
    fd = launch_server();
    g_server_fd.store(fd, std::memory_order_release);
  }
  g_server_mu.unlock();
  if (fd < 0) throw RuntimeError("cannot start the fork server: " + std::string(std::strerror(errno)));
  return fd;
}

}  // namespace

void forkserver_start() {
  if (g_server_fd.load(std::memory_order_acquire) >= 0) return;
  try {
    server_socket(-1);
  } catch (const RuntimeError&) {
    // Not fatal here: the next forkserver start() tries again and reports the error.
  }
}

Launched forkserver_worker(const std::vector<std::byte>& boot, int stop_fd) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    throw RuntimeError(std::string("socketpair failed: ") + std::strerror(errno));
  const int payload = bytes_to_memfd(boot, "tandem-boot");
  const int fds[3] = {pair[1], stop_fd, payload};
  const char tag = 'T';
  int sock = server_socket(-1);
  bool sent = send_fds(sock, &tag, 1, fds, 3);
  if (!sent && (errno == EPIPE || errno == ECONNREFUSED || errno == ECONNRESET)) {
    sock = server_socket(sock);  // the server died: start another and try once more
    sent = send_fds(sock, &tag, 1, fds, 3);
  }
  const int send_err = errno;
  ::close(pair[1]);
  ::close(payload);
  if (!sent) {
    ::close(pair[0]);
    throw RuntimeError(std::string("cannot reach the fork server: ") + std::strerror(send_err));
  }
  std::int32_t msg[2] = {0, 0};
  int got[3] = {-1, -1, -1}, nfds = 0;
  const ssize_t n = recv_fds(pair[0], msg, sizeof msg, got, &nfds);
  for (int i = 1; i < nfds; ++i) ::close(got[i]);
  const int pidfd = got[0];
  if (n != static_cast<ssize_t>(sizeof msg) || msg[0] <= 0 || nfds != 1) {
    if (nfds >= 1) ::close(pidfd);
    ::close(pair[0]);
    if (n == static_cast<ssize_t>(sizeof msg) && msg[0] < 0)
      throw RuntimeError(std::string("the fork server could not fork: ") +
                         std::strerror(-msg[0]));
    throw RuntimeError("the fork server did not answer (it died)");
  }
  return {msg[0], pidfd, pair[0]};
}

int forkserver_exit_code(int status_fd) {
  std::int32_t code = 0;
  std::size_t got = 0;
  while (got < sizeof code) {
    const ssize_t n = ::recv(status_fd, reinterpret_cast<char*>(&code) + got, sizeof code - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 255;
    got += static_cast<std::size_t>(n);
  }
  return code;
}

}  // namespace tandem::mp::detail
