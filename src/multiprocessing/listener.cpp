// SPDX-License-Identifier: MIT
// mp::connection: Address, Listener, Client, wait(). The handshake is in connection_wire.cpp.
#include "tandem/multiprocessing/listener.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "multiprocessing/connection_wire.hpp"
#include "subprocess/pipes.hpp"
#include "tandem/multiprocessing/process.hpp"

namespace tandem::mp::connection {

namespace {

// A socket address of either family, ready for bind/connect.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const noexcept { return storage.ss_family; }
};

SockAddr resolve(const Address& a, bool passive) {
  SockAddr out;
  if (a.family() == Address::Family::unix_socket) {
    auto* un = reinterpret_cast<sockaddr_un*>(&out.storage);
    un->sun_family = AF_UNIX;
    const std::string& p = a.path();
    // A path needs its terminating NUL in sun_path; an abstract name does not have one.
    if (p.empty() || p.size() > sizeof(un->sun_path) - (a.is_abstract() ? 0 : 1))
      throw ValueError("invalid UNIX socket address (empty, or longer than " +
                       std::to_string(sizeof(un->sun_path) - 1) + " bytes): '" + a.to_string() +
                       "'");
    std::memcpy(un->sun_path, p.data(), p.size());
    out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + p.size() +
                                     (a.is_abstract() ? 0 : 1));
    return out;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(a.port());
  const int rc = ::getaddrinfo(a.host().empty() ? nullptr : a.host().c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr)
    throw OSError(rc == EAI_SYSTEM ? errno : 0,
                  "cannot resolve '" + a.host() + "': " + ::gai_strerror(rc));
  std::memcpy(&out.storage, res->ai_addr, res->ai_addrlen);
  out.len = res->ai_addrlen;
  ::freeaddrinfo(res);
  return out;
}

void require_key_for_tcp(const Address& a, const std::optional<std::string>& key) {
  if (a.family() == Address::Family::tcp && !key)
    throw ValueError("an authkey is required for a TCP address (" + a.to_string() +
                     "): anyone who can reach the port could talk to this program");
}

// Closes fd on scope exit unless released.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
  int release() noexcept { return std::exchange(fd, -1); }
};

}  // namespace

std::string Address::to_string() const {
  if (family_ == Family::tcp) {
    const bool v6 = path_.find(':') != std::string::npos;
    return (v6 ? "[" + path_ + "]" : path_) + ":" + std::to_string(port_);
  }
  if (is_abstract()) return "@" + path_.substr(1);
  return path_;
}

Listener::Listener(Address address, ListenerOptions options)
    : address_(std::move(address)), authkey_(std::move(options.authkey)) {
  require_key_for_tcp(address_, authkey_);
  const SockAddr sa = resolve(address_, true);
  FdGuard fd{::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (fd.fd < 0) raise_os_error(errno);
  if (sa.family() == AF_UNIX) {
    // Linux gives the socket file the mode of the socket's inode (less the umask) at bind():
    // set it first, so the file never exists with a wider mode.
    ::fchmod(fd.fd, 0600);
  } else {
    const int one = 1;
    ::setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (::bind(fd.fd, sa.get(), sa.len) != 0) raise_os_error(errno, address_.to_string());
  if (::listen(fd.fd, options.backlog) != 0) raise_os_error(errno, address_.to_string());
  if (sa.family() != AF_UNIX) {
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
      const std::uint16_t port =
          bound.ss_family == AF_INET6
              ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
              : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
      address_ = Address::tcp(address_.host(), port);
    }
  }
  unlink_ = sa.family() == AF_UNIX && !address_.is_abstract();
  creator_ = ::getpid();
  fd_ = fd.release();
}

Listener::Listener(Listener&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), address_(std::move(o.address_)),
      authkey_(std::move(o.authkey_)), unlink_(std::exchange(o.unlink_, false)),
      creator_(o.creator_) {}

Listener& Listener::operator=(Listener&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    address_ = std::move(o.address_);
    authkey_ = std::move(o.authkey_);
    unlink_ = std::exchange(o.unlink_, false);
    creator_ = o.creator_;
  }
  return *this;
}

Listener::~Listener() { close(); }

void Listener::close() noexcept {
  if (fd_ < 0) return;
  ::close(std::exchange(fd_, -1));
  // Only the process that made the file removes it (a forked copy closing its descriptor
  // must not pull the path from under the parent; CPython's Finalize checks the pid too).
  if (unlink_ && ::getpid() == creator_) ::unlink(address_.path().c_str());
  unlink_ = false;
}

Connection Listener::accept() {
  if (fd_ < 0) throw OSError(EBADF, "listener is closed");
  int s;
  do s = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  while (s < 0 && (errno == EINTR || errno == ECONNABORTED));
  if (s < 0) raise_os_error(errno);
  Connection c(s);
  if (authkey_) {
    detail::wire::deliver_challenge(c, *authkey_);
    detail::wire::answer_challenge(c, *authkey_);
  }
  return c;
}

Connection Client(Address address, ClientOptions options) {
  require_key_for_tcp(address, options.authkey);
  const SockAddr sa = resolve(address, false);
  const int fd = ::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) raise_os_error(errno);
  Connection c(fd);
  if (::connect(fd, sa.get(), sa.len) != 0) {
    if (errno != EINTR) raise_os_error(errno, address.to_string());
    // Interrupted: the connect goes on in the background; wait for its outcome.
    pollfd p{fd, POLLOUT, 0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) raise_os_error(err, address.to_string());
  }
  if (options.authkey) {
    detail::wire::answer_challenge(c, *options.authkey);
    detail::wire::deliver_challenge(c, *options.authkey);
  }
  return c;
}

Waitable::Waitable(Process& p) : fd_(p.sentinel()), object_(&p) {}

std::vector<Waitable> wait(std::vector<Waitable> objects, std::optional<duration> timeout) {
  std::vector<pollfd> fds(objects.size());
  for (std::size_t i = 0; i < objects.size(); ++i) fds[i] = {objects[i].fileno(), POLLIN, 0};
  const auto dl = timeout ? tandem::detail::Deadline::after(timeout->count() > 0 ? *timeout : duration(0))
                          : tandem::detail::Deadline::never();
  for (;;) {
    const int r = ::poll(fds.data(), fds.size(), tandem::subprocess::detail::poll_ms(dl));
    if (r > 0) break;
    if (r == 0) {
      if (dl.expired()) return {};
      continue;
    }
    if (errno != EINTR) raise_os_error(errno);
  }
  std::vector<Waitable> ready;
  for (std::size_t i = 0; i < objects.size(); ++i)
    if (fds[i].revents != 0) ready.push_back(objects[i]);
  return ready;
}

}  // namespace tandem::mp::connection
