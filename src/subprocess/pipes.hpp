// SPDX-License-Identifier: MIT
// Pipe plumbing shared by Popen, Stream, run() and the run_async watcher: SIGPIPE-free writes,
// non-blocking reads into a growing string, and the poll loop behind communicate().
#pragma once

#include <signal.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "tandem/detail/wait.hpp"
#include "tandem/subprocess/stream.hpp"

namespace tandem::subprocess::detail {

/// Blocks SIGPIPE in the calling thread for its lifetime and, on destruction, consumes a
/// SIGPIPE that the guarded writes made pending (sigtimedwait with a zero timeout), then
/// restores the mask. A SIGPIPE that was already pending before is left alone. This is the
/// thread-local way to get MSG_NOSIGNAL's effect on a pipe, where send() flags do not exist:
/// a process-wide SIG_IGN would change the program's own disposition, which a library must not.
class SigpipeGuard {
 public:
  SigpipeGuard() noexcept;
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;
  void saw_epipe() noexcept { epipe_ = true; }

 private:
  sigset_t old_;
  bool was_pending_ = false, epipe_ = false;
};

/// Marks fd non-blocking (the file description is ours alone: the child has the other end).
void set_nonblocking(int fd) noexcept;
/// Waits until fd is ready for `events` (POLLIN/POLLOUT), retrying EINTR.
void wait_fd(int fd, short events) noexcept;

enum class Io { progress, again, eof };
/// One read(2) of up to `max` bytes appended to `buf` (EINTR retried). eof at end of file.
/// Throws OSError on another error.
Io read_some(int fd, std::string& buf, std::size_t max = 1 << 20);
/// One write(2) of data[off..]; advances off. eof when the reader has gone (EPIPE): the caller
/// holds a SigpipeGuard.
Io write_some(int fd, std::string_view data, std::size_t& off, SigpipeGuard& guard);
/// Tries to grow a pipe to 1 MiB (fewer wake-ups for bulk data; ignored when refused).
void grow_pipe(int fd) noexcept;

/// communicate()'s loop: writes input[off..] to `in` (closing it when done or when the child
/// closed it), reads `out` and `err` to EOF (closing each), all at once with poll(2), until
/// every stream is closed (true) or the deadline passes (false, state kept for a later call).
/// A Stream that is closed takes no part.
bool pump(Stream& in, std::string_view input, std::size_t& off, Stream& out, std::string& out_buf,
          Stream& err, std::string& err_buf, const tandem::detail::Deadline& dl);

/// Milliseconds for poll(2) until `dl` (-1 for never), rounded up so that a wait never ends
/// before its deadline.
int poll_ms(const tandem::detail::Deadline& dl) noexcept;

}  // namespace tandem::subprocess::detail
