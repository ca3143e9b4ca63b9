// SPDX-License-Identifier: MIT
// mp::Manager's server process (the protocol is described in manager.cpp) and the socket
// helpers both sides use.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "multiprocessing/manager_protocol.hpp"

namespace tandem::mp::detail::manager_wire {

sockaddr_un address_of(const ManagerKey& key, socklen_t& len) {
  static constexpr char hex[] = "0123456789abcdef";
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  char* p = a.sun_path + 1;  // sun_path[0] == 0: the abstract namespace
  static constexpr char prefix[] = "tandem-mgr-";
  std::memcpy(p, prefix, sizeof prefix - 1);
  p += sizeof prefix - 1;
  for (std::uint8_t b : key.token) {
    *p++ = hex[b >> 4];
    *p++ = hex[b & 15];
  }
  len = static_cast<socklen_t>(p - reinterpret_cast<char*>(&a));
  return a;
}

bool same_secret(const std::uint8_t* a, const std::uint8_t* b) noexcept {
  unsigned diff = 0;  // constant time
  for (int i = 0; i < 16; ++i) diff |= static_cast<unsigned>(a[i] ^ b[i]);
  return diff == 0;
}

bool send_with_fds(int sock, const void* msg, std::size_t len, const int* fds, int nfds) noexcept {
  iovec iov{const_cast<void*>(msg), len};
  alignas(cmsghdr) char buf[CMSG_SPACE(2 * sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (nfds > 0) {
    mh.msg_control = buf;
    mh.msg_controllen = CMSG_SPACE(static_cast<std::size_t>(nfds) * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(static_cast<std::size_t>(nfds) * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds, static_cast<std::size_t>(nfds) * sizeof(int));
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n) == len;
    if (errno != EINTR) return false;
  }
}

ssize_t recv_with_fds(int sock, void* msg, std::size_t len, int* fds, int& nfds,
                      int flags) noexcept {
  nfds = 0;
  iovec iov{msg, len};
  alignas(cmsghdr) char buf[CMSG_SPACE(4 * sizeof(int))];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = buf;
  mh.msg_controllen = sizeof buf;
  ssize_t n;
  do n = ::recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < k; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (nfds < 2)
        fds[nfds++] = fd;
      else
        ::close(fd);  // more than we asked for: never leak it
    }
  }
  return n;
}

void set_timeouts(int sock, int seconds) noexcept {
  timeval tv{seconds, 0};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

namespace {

// ---------------------------------------------------------------- the server process

struct ServerEntry {
  int fd_plus_1;  // 0: no object (mmap'd memory starts zeroed)
  std::uint32_t kind;
  std::uint64_t tag;
  std::uint64_t count;
};

class Server {
 public:
  Server(int ctl, int lsn, int control_fd, const ManagerKey& key) noexcept
      : ctl_(ctl), lsn_(lsn), control_fd_(control_fd), key_(key) {}

  [[noreturn]] void run() noexcept {
    for (;;) {
      pollfd p[2] = {{ctl_, POLLIN, 0}, {lsn_, POLLIN, 0}};
      const int r = ::poll(p, 2, -1);
      if (r < 0) {
        if (errno == EINTR) continue;
        ::_exit(2);
      }
      if (p[0].revents != 0) drain_control();
      if (p[1].revents & POLLIN) serve_one();
    }
  }

 private:
  void drain_control() noexcept {
    for (;;) {
      CtlMsg m{};
      int fds[2], nfds = 0;
      const ssize_t n = recv_with_fds(ctl_, &m, sizeof m, fds, nfds, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) ::_exit(0);  // EOF: the owner shut down or died
      if (m.op == op_shutdown) ::_exit(0);
      if (m.op != op_register || nfds != 1 || !store(m, fds[0]))
        for (int i = 0; i < nfds; ++i) ::close(fds[i]);
    }
  }

  bool store(const CtlMsg& m, int fd) noexcept {
    if (m.id == 0) return false;
    if (m.id >= cap_) {
      std::size_t cap = cap_ == 0 ? 256 : cap_;
      while (cap <= m.id) cap *= 2;
      void* p = ::mmap(nullptr, cap * sizeof(ServerEntry), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return false;
      if (table_ != nullptr) {
        std::memcpy(p, table_, cap_ * sizeof(ServerEntry));
        ::munmap(table_, cap_ * sizeof(ServerEntry));
      }
      table_ = static_cast<ServerEntry*>(p);
      cap_ = cap;
    }
    ServerEntry& e = table_[m.id];
    if (e.fd_plus_1 != 0) return false;
    e = ServerEntry{fd + 1, m.kind, m.tag, m.count};
    return true;
  }

  void serve_one() noexcept {
    const int c = ::accept4(lsn_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    set_timeouts(c, kServerTimeoutSeconds);
    Reply rep{};
    int fds[2] = {control_fd_, -1};
    ucred cr{};
    socklen_t crlen = sizeof cr;
    Request rq{};
    ssize_t n;
    do n = ::recv(c, &rq, sizeof rq, 0);
    while (n < 0 && errno == EINTR);
    if (::getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0 || cr.uid != ::geteuid()) {
      rep.status = auth;
    } else if (n != static_cast<ssize_t>(sizeof rq) || rq.magic != kRequestMagic) {
      rep.status = malformed;
    } else if (!same_secret(rq.secret, key_.secret.data())) {
      rep.status = auth;
    } else {
      drain_control();  // a registration sent before the handle is always seen first
      if (rq.id == 0 || rq.id >= cap_ || table_[rq.id].fd_plus_1 == 0) {
        rep.status = unknown;
      } else {
        const ServerEntry& e = table_[rq.id];
        rep.kind = e.kind;
        rep.tag = e.tag;
        rep.count = e.count;
        if (e.kind != rq.kind || e.tag != rq.tag || e.count != rq.count) {
          rep.status = mismatch;
        } else {
          rep.status = ok;
          fds[1] = e.fd_plus_1 - 1;
        }
      }
    }
    send_with_fds(c, &rep, sizeof rep, fds, rep.status == ok ? 2 : 0);
    ::close(c);
  }

  int ctl_, lsn_, control_fd_;
  ManagerKey key_;
  ServerEntry* table_ = nullptr;
  std::size_t cap_ = 0;
};

void close_all_but(int a, int b, int c) noexcept {
  int keep[3] = {a, b, c};
  std::sort(keep, keep + 3);
  unsigned lo = 3;
  for (int k : keep) {
    if (k < 3) continue;
    if (static_cast<unsigned>(k) > lo) ::syscall(SYS_close_range, lo, static_cast<unsigned>(k) - 1, 0);
    lo = static_cast<unsigned>(k) + 1;
  }
  ::syscall(SYS_close_range, lo, ~0u, 0);
}

}  // namespace

[[noreturn]] void server_main(int ctl, int lsn, int control_fd, const ManagerKey& key) noexcept {
  ::prctl(PR_SET_NAME, "tandem-manager", 0, 0, 0);
  ::signal(SIGINT, SIG_IGN);  // Ctrl-C goes to the owner; the server follows it (EOF)
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    for (int i = 0; i < 3; ++i)
      if (i != null) ::dup2(null, i);  // never hold a test's or a pipe's stdio open
  }
  close_all_but(ctl, lsn, control_fd);
  Server(ctl, lsn, control_fd, key).run();
}

}  // namespace tandem::mp::detail::manager_wire
