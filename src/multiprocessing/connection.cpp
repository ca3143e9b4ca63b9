// SPDX-License-Identifier: MIT
// mp::Connection and mp::Pipe; the framing itself is in connection_wire.cpp.
#include "tandem/multiprocessing/connection.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "multiprocessing/connection_wire.hpp"
#include "subprocess/pipes.hpp"

namespace tandem::mp {

namespace {
bool is_socket(int fd) noexcept {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

// The start of a message, read ahead while spinning: up to the 4 bytes of its length header,
// whether EOF was seen, and an error other than ECONNRESET (which is EOF to a reader).
struct HeadStart {
  std::byte bytes[4];
  std::size_t have = 0;
  int error = 0;
  bool eof = false;
};

// Whether a read of fd would not block now (data, EOF or an error is there). A socket is
// asked with the read itself (recv MSG_DONTWAIT into `head`), so a spin that catches the
// message has also read its header: one syscall, where poll + read would be two.
bool ready_now(int fd, bool socket, HeadStart& head) noexcept {
  if (!socket) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  const ssize_t r = ::recv(fd, head.bytes + head.have, 4 - head.have, MSG_DONTWAIT);
  if (r > 0) {
    head.have += static_cast<std::size_t>(r);
    return head.have == 4;
  }
  if (r == 0) return head.eof = true;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
  if (errno != ECONNRESET) head.error = errno;
  return head.eof = true;
}
}  // namespace

Connection::Connection(int fd, bool readable, bool writable)
    : fd_(fd), readable_(readable), writable_(writable) {
  if (fd < 0) throw ValueError("invalid handle");
  if (!readable && !writable) {
    fd_ = -1;
    throw ValueError("at least one of `readable` and `writable` must be True");
  }
  socket_ = is_socket(fd);
}

Connection::Connection(Connection&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), readable_(o.readable_), writable_(o.writable_),
      socket_(o.socket_) {}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    readable_ = o.readable_;
    writable_ = o.writable_;
    socket_ = o.socket_;
  }
  return *this;
}

Connection::~Connection() { close(); }

void Connection::close() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));  // no retry on EINTR: the fd is gone on Linux
}

void Connection::check_closed() const {
  if (fd_ < 0) throw OSError(EBADF, "handle is closed");
}
void Connection::check_readable() const {
  if (!readable_) throw OSError(EBADF, "connection is write-only");
}
void Connection::check_writable() const {
  if (!writable_) throw OSError(EBADF, "connection is read-only");
}

int Connection::fileno() const {
  check_closed();
  return fd_;
}

void Connection::send_bytes(std::span<const std::byte> data) {
  check_closed();
  check_writable();
  detail::wire::write_message(fd_, socket_, data);
}

std::vector<std::byte> Connection::recv_bytes(std::size_t maxlength) {
  check_closed();
  check_readable();
  HeadStart head;
  (void)spin_.spin([&] { return ready_now(fd_, socket_, head); },
                   tandem::detail::Deadline::never());
  if (head.error != 0) raise_os_error(head.error);
  if (head.eof && head.have == 0) throw EOFError("EOF: the other end of the connection is closed");
  if (head.eof) throw EOFError("got end of file during message");
  try {
    return detail::wire::read_message(fd_, maxlength, head.bytes, head.have);
  } catch (const detail::wire::BadLength&) {
    close();  // the rest of the message is unread: the framing is lost (as Python)
    throw OSError(EMSGSIZE, "bad message length");
  }
}

bool Connection::poll() { return poll(duration(0)); }

bool Connection::poll(duration timeout) {
  check_closed();
  check_readable();
  const auto dl = tandem::detail::Deadline::after(timeout.count() > 0 ? timeout : duration(0));
  pollfd p{fd_, POLLIN, 0};
  for (;;) {
    const int r = ::poll(&p, 1, tandem::subprocess::detail::poll_ms(dl));
    if (r > 0) return true;  // POLLIN, POLLHUP (EOF) or POLLERR: a recv will not block
    if (r == 0) {
      if (dl.expired()) return false;
      continue;  // poll_ms rounds up, but a wake a hair early is possible: wait the rest
    }
    if (errno != EINTR) raise_os_error(errno);
  }
}

std::pair<Connection, Connection> Pipe(bool duplex) {
  int fds[2];
  if (duplex) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) raise_os_error(errno);
    return {Connection(fds[0]), Connection(fds[1])};
  }
  if (::pipe2(fds, O_CLOEXEC) != 0) raise_os_error(errno);
  return {Connection(fds[0], true, false), Connection(fds[1], false, true)};
}

}  // namespace tandem::mp
