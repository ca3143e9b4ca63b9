// SPDX-License-Identifier: MIT
#include "subprocess/pipes.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <chrono>
#include <cmath>

#include "tandem/errors.hpp"

namespace tandem::subprocess::detail {

SigpipeGuard::SigpipeGuard() noexcept {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old_);
}

SigpipeGuard::~SigpipeGuard() {
  if (epipe_ && !was_pending_) {
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

void set_nonblocking(int fd) noexcept {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0 && !(fl & O_NONBLOCK)) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void wait_fd(int fd, short events) noexcept {
  pollfd p{fd, events, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

void grow_pipe(int fd) noexcept { ::fcntl(fd, F_SETPIPE_SZ, 1 << 20); }

namespace {

// Grows buf's capacity geometrically and, past a few MiB, asks for transparent huge pages
// over it (madvise(MADV_HUGEPAGE) on the 2 MiB-aligned interior of the block: memory we own).
// Bulk output is mostly page faults: a fresh 4 KiB page per 4 KiB read. On a VM where a fault
// costs ~20 us (measured here: 256 MiB touched in 1.4 s) that caps a 256 MiB communicate
// near 180 MB/s; one fault per 2 MiB lifts it to memory speed. Where THP is "never" the
// advice is a no-op.
void reserve_geometric(std::string& buf, std::size_t need) {
  if (buf.capacity() >= need) return;
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const std::size_t cap = std::max(need, buf.capacity() * 2);
  if (cap < 2 * kHuge) {
    buf.reserve(cap);
    return;
  }
  // A new block, advised before anything touches it (the copy included), then swapped in.
  std::string next;
  next.reserve(cap);
  const auto b = reinterpret_cast<std::uintptr_t>(next.data());
  const std::uintptr_t lo = (b + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t hi = (b + next.capacity()) & ~(kHuge - 1);
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
  next.append(buf);
  buf.swap(next);
}

}  // namespace

Io read_some(int fd, std::string& buf, std::size_t max) {
  const std::size_t old = buf.size();
  // The read size grows with what has come so far: a small output costs a 64 KiB resize (it
  // zero-fills), a bulk one reads up to `max` per call.
  if (max > 65536 && old < max) max = old < 65536 ? 65536 : old;
  reserve_geometric(buf, old + max);
  buf.resize(old + max);
  ssize_t n;
  do n = ::read(fd, buf.data() + old, max);
  while (n < 0 && errno == EINTR);
  buf.resize(old + (n > 0 ? static_cast<std::size_t>(n) : 0));
  if (n > 0) return Io::progress;
  if (n == 0) return Io::eof;
  if (errno == EAGAIN) return Io::again;
  raise_os_error(errno);
}

Io write_some(int fd, std::string_view data, std::size_t& off, SigpipeGuard& guard) {
  ssize_t n;
  do n = ::write(fd, data.data() + off, data.size() - off);
  while (n < 0 && errno == EINTR);
  if (n >= 0) {
    off += static_cast<std::size_t>(n);
    return Io::progress;
  }
  if (errno == EAGAIN) return Io::again;
  if (errno == EPIPE) {
    guard.saw_epipe();
    return Io::eof;
  }
  raise_os_error(errno);
}

int poll_ms(const tandem::detail::Deadline& dl) noexcept {
  if (dl.is_never()) return -1;
  double ms = std::ceil(dl.remaining().count() * 1000.0);
  return ms > 1e9 ? 1000000000 : static_cast<int>(ms);
}

bool pump(Stream& in, std::string_view input, std::size_t& off, Stream& out, std::string& out_buf,
          Stream& err, std::string& err_buf, const tandem::detail::Deadline& dl) {
  SigpipeGuard guard;
  if (!in.closed() && off >= input.size()) in.close();
  for (Stream* s : {&in, &out, &err})
    if (!s->closed()) set_nonblocking(s->fileno());
  if (!in.closed() && input.size() - off >= (256u << 10)) grow_pipe(in.fileno());
  bool grown_out = false, grown_err = false;
  for (;;) {
    pollfd p[3];
    Stream* who[3];
    nfds_t n = 0;
    if (!in.closed()) p[n] = {in.fileno(), POLLOUT, 0}, who[n++] = &in;
    if (!out.closed()) p[n] = {out.fileno(), POLLIN, 0}, who[n++] = &out;
    if (!err.closed()) p[n] = {err.fileno(), POLLIN, 0}, who[n++] = &err;
    if (n == 0) return true;
    int r = ::poll(p, n, poll_ms(dl));
    if (r < 0) {
      if (errno == EINTR) continue;
      raise_os_error(errno);
    }
    if (r == 0 && dl.expired()) return false;
    for (nfds_t i = 0; i < n; ++i) {
      if (!p[i].revents) continue;
      Stream& s = *who[i];
      if (&s == &in) {
        // Loop while the pipe takes data: one poll per pipe-full, not per write.
        Io io;
        while ((io = write_some(s.fileno(), input, off, guard)) == Io::progress && off < input.size()) {
        }
        if (io == Io::eof || off >= input.size()) s.close();
      } else {
        std::string& buf = &s == &out ? out_buf : err_buf;
        bool& grown = &s == &out ? grown_out : grown_err;
        const std::size_t before = buf.size();
        Io io = read_some(s.fileno(), buf);
        if (io == Io::eof) s.close();
        // A full pipe-load: bulk data is coming, a bigger pipe halves the wake-ups.
        if (!grown && io == Io::progress && buf.size() - before >= 65536) grown = true, grow_pipe(s.fileno());
      }
    }
  }
}

}  // namespace tandem::subprocess::detail
