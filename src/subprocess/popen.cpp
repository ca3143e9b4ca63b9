// SPDX-License-Identifier: MIT
#include "tandem/subprocess/popen.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "subprocess/pipes.hpp"
#include "subprocess/popen_access.hpp"
#include "subprocess/spawn.hpp"
#include "tandem/detail/timeout.hpp"

namespace tandem::subprocess {

using tandem::detail::Deadline;

Popen::Popen(std::vector<std::string> args, PopenOptions options) {
  detail::Spawned s = detail::spawn(args, options);
  args_ = std::move(args);
  pid_ = s.pid;
  pidfd_ = s.pidfd;
  leads_group_ = s.leads_group;
  in_ = Stream(s.in);
  out_ = Stream(s.out);
  err_ = Stream(s.err);
}

Popen::~Popen() {
  if (pidfd_ < 0) return;  // handed over (run_async)
  in_.close();
  out_.close();
  err_.close();
  reap(true);
  ::close(pidfd_);
}

std::optional<int> Popen::returncode() const noexcept {
  int rc = returncode_.load(std::memory_order_acquire);
  if (rc == kNone) return std::nullopt;
  return rc;
}

std::optional<int> Popen::reap(bool block) {
  if (auto rc = returncode()) return rc;
  std::unique_lock lock(reap_mu_, std::defer_lock);
  if (block) {
    lock.lock();
  } else if (!lock.try_lock()) {
    return std::nullopt;  // another thread is reaping (Python's poll does the same)
  }
  if (auto rc = returncode()) return rc;
  int rc;
  if (!detail::reap_pidfd(pidfd_, block, rc)) return std::nullopt;
  returncode_.store(rc, std::memory_order_release);
  return rc;
}

std::optional<int> Popen::poll() { return reap(false); }

bool Popen::wait_until(const Deadline& dl) {
  if (dl.is_never()) return reap(true).has_value();
  for (;;) {
    if (reap(false)) return true;
    pollfd p{pidfd_, POLLIN, 0};
    int r = ::poll(&p, 1, detail::poll_ms(dl));
    if (r < 0 && errno != EINTR) raise_os_error(errno);
    if (r > 0) {
      if (reap(true)) return true;  // readable: exited; waitid does not block
    } else if (dl.expired()) {
      return reap(false).has_value();
    }
  }
}

int Popen::wait() { return *reap(true); }

int Popen::wait(duration timeout) {
  if (!wait_until(tandem::detail::checked_deadline(timeout))) throw TimeoutExpired(args_, timeout);
  return *returncode();
}

void Popen::send_signal(int sig) {
  if (returncode()) return;
  // The pidfd names this child even if it has been reaped meanwhile (then ESRCH: ignored), so
  // a recycled pid is never signalled.
  if (detail::pidfd_send_signal(pidfd_, sig) < 0 && errno != ESRCH) raise_os_error(errno);
}

Output Popen::communicate(std::string_view input) { return communicate_until(input, Deadline::never(), std::nullopt); }

Output Popen::communicate(std::string_view input, duration timeout) {
  return communicate_until(input, tandem::detail::checked_deadline(timeout), timeout);
}

Output Popen::communicate_until(std::string_view input, const Deadline& dl, std::optional<duration> timeout) {
  std::string_view feed = input;
  if (comm_started_) {
    if (!input.empty()) throw ValueError("Cannot send input after starting communication");
    feed = pending_input_;
  } else {
    comm_started_ = true;
    comm_out_ = out_.closed() ? std::string() : out_.take_buffer();
    comm_err_ = err_.closed() ? std::string() : err_.take_buffer();
    input_offset_ = 0;
  }
  bool done = detail::pump(in_, feed, input_offset_, out_, comm_out_, err_, comm_err_, dl);
  if (done) done = wait_until(dl);
  if (!done) {
    if (!comm_started_input_saved_ && !in_.closed()) {
      // The caller's input may not outlive this call: keep what is left of it.
      pending_input_.assign(feed.substr(input_offset_));
      input_offset_ = 0;
      comm_started_input_saved_ = true;
    }
    throw TimeoutExpired(args_, timeout.value_or(duration(0)), comm_out_, comm_err_);
  }
  pending_input_.clear();
  return Output{std::move(comm_out_), std::move(comm_err_)};
}

namespace {
Stream& checked(Stream& s, const char* name) {
  if (s.closed()) throw ValueError(std::string(name) + "_(): the child's " + name + " is not a PIPE (or was closed)");
  return s;
}
}  // namespace

Stream& Popen::stdin_() { return checked(in_, "stdin"); }
Stream& Popen::stdout_() { return checked(out_, "stdout"); }
Stream& Popen::stderr_() { return checked(err_, "stderr"); }

}  // namespace tandem::subprocess
