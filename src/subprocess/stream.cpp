// SPDX-License-Identifier: MIT
#include "tandem/subprocess/stream.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "subprocess/pipes.hpp"
#include "tandem/errors.hpp"

namespace tandem::subprocess {

Stream::Stream(Stream&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)), pos_(std::exchange(o.pos_, 0)) {}

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    buf_ = std::move(o.buf_);
    pos_ = std::exchange(o.pos_, 0);
  }
  return *this;
}

Stream::~Stream() { close(); }

void Stream::close() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

void Stream::write(std::string_view data) {
  if (fd_ < 0) throw ValueError("write to closed file");
  detail::SigpipeGuard guard;
  std::size_t off = 0;
  while (off < data.size()) {
    switch (detail::write_some(fd_, data, off, guard)) {
      case detail::Io::eof: raise_os_error(EPIPE);  // Python's BrokenPipeError
      case detail::Io::again: detail::wait_fd(fd_, POLLOUT); break;
      case detail::Io::progress: break;
    }
  }
}

bool Stream::fill() {
  if (fd_ < 0) throw ValueError("read of closed file");
  buf_.erase(0, std::exchange(pos_, 0));  // once per read(2), not once per line
  for (;;) {
    switch (detail::read_some(fd_, buf_)) {
      case detail::Io::progress: return true;
      case detail::Io::eof: return false;
      case detail::Io::again: detail::wait_fd(fd_, POLLIN); break;
    }
  }
}

std::string Stream::read() {
  while (fill()) {
  }
  return take_buffer();
}

std::string Stream::readline() {
  std::size_t scanned = pos_;
  for (;;) {
    std::size_t nl = buf_.find('\n', scanned);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(pos_, nl + 1 - pos_);
      pos_ = nl + 1;
      return line;
    }
    scanned = buf_.size() - pos_;  // fill() moves the unread part to the front
    if (!fill()) return take_buffer();
  }
}

}  // namespace tandem::subprocess
