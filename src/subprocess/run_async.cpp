// SPDX-License-Identifier: MIT
// run_async: one process-wide watcher thread completes every run_async future. It waits in
// epoll_wait on an eventfd (new jobs), each child's pidfd (exit) and its pipes (input to write,
// output to read), with the nearest timeout or grace as epoll's timeout. The same reactor shape
// as libuv's process handles with pidfds, without the SIGCHLD handler (Linux ≥ 5.3 makes a
// pidfd pollable, so no signal and no reaping of foreign children is involved).
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <vector>

#include "subprocess/pipes.hpp"
#include "subprocess/popen_access.hpp"
#include "subprocess/run_support.hpp"
#include "tandem/log.hpp"
#include "tandem/subprocess/run.hpp"

namespace tandem::subprocess::detail {
namespace {

using tandem::detail::Deadline;

struct Job;
struct Watch {
  Job* job;
  int which;  // 0 stdin, 1 stdout, 2 stderr, 3 pidfd
};

struct Job {
  Future<CompletedProcess> future;
  std::vector<std::string> args;
  bool check = false;
  std::optional<duration> timeout;
  Deadline deadline = Deadline::never();
  Deadline grace = Deadline::never();  // set once a timed-out child is reaped
  std::string input;
  std::size_t off = 0;
  Spawned child;
  int fd[3] = {-1, -1, -1};
  std::string out, err;
  std::optional<int> rc;
  bool timed_out = false;
  Watch watch[4];
};

class Watcher {
 public:
  Watcher() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    ev_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ep_ < 0 || ev_ < 0) raise_os_error(errno);
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.ptr = nullptr;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, ev_, &e);
    std::thread([this] { loop(); }).detach();
  }

  void submit(std::unique_ptr<Job> j) {
    {
      std::lock_guard lock(mu_);
      incoming_.push_back(std::move(j));
    }
    std::uint64_t one = 1;
    while (::write(ev_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

 private:
  void add(Job* j, int which, int fd, std::uint32_t events) {
    j->watch[which] = Watch{j, which};
    epoll_event e{};
    e.events = events;
    e.data.ptr = &j->watch[which];
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &e) < 0) raise_os_error(errno);
  }

  void close_fd(Job* j, int which) {
    int& fd = which == 3 ? j->child.pidfd : j->fd[which];
    if (fd < 0) return;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(std::exchange(fd, -1));
  }

  void adopt() {
    std::uint64_t n;
    while (::read(ev_, &n, sizeof n) > 0) {
    }
    std::vector<std::unique_ptr<Job>> fresh;
    {
      std::lock_guard lock(mu_);
      fresh.swap(incoming_);
    }
    for (auto& j : fresh) {
      Job* p = j.get();
      p->fd[0] = p->child.in;
      p->fd[1] = p->child.out;
      p->fd[2] = p->child.err;
      if (p->fd[0] >= 0 && p->off >= p->input.size()) ::close(std::exchange(p->fd[0], -1));
      for (int k = 0; k < 3; ++k)
        if (p->fd[k] >= 0) {
          set_nonblocking(p->fd[k]);
          add(p, k, p->fd[k], k == 0 ? EPOLLOUT : EPOLLIN);
        }
      add(p, 3, p->child.pidfd, EPOLLIN);
      jobs_.push_back(std::move(j));
    }
  }

  void on_event(Watch& w, SigpipeGuard& guard) {
    Job* j = w.job;
    if (w.which == 3) {
      int rc;
      if (reap_pidfd(j->child.pidfd, false, rc)) {
        j->rc = rc;
        close_fd(j, 3);
        if (j->timed_out) j->grace = Deadline::after(duration(kGraceSeconds));
      }
    } else if (w.which == 0) {
      Io io;
      while ((io = write_some(j->fd[0], j->input, j->off, guard)) == Io::progress && j->off < j->input.size()) {
      }
      if (io == Io::eof || j->off >= j->input.size()) close_fd(j, 0);
    } else {
      std::string& buf = w.which == 1 ? j->out : j->err;
      if (read_some(j->fd[w.which], buf) == Io::eof) close_fd(j, w.which);
    }
  }

  // Kills timed-out children, abandons pipes after the grace, completes finished jobs.
  // Returns epoll's timeout in ms (the nearest deadline, -1 for none).
  int sweep() {
    std::vector<std::unique_ptr<Job>> done;
    Deadline next = Deadline::never();
    auto nearer = [&](const Deadline& d) {
      if (!d.is_never() && (next.is_never() || d.time_point() < next.time_point())) next = d;
    };
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      Job* j = it->get();
      if (!j->timed_out && !j->rc && j->deadline.expired()) {
        j->timed_out = true;
        if (j->child.leads_group) ::kill(-j->child.pid, SIGKILL);
        pidfd_send_signal(j->child.pidfd, SIGKILL);
      }
      if (j->rc && j->grace.expired())
        for (int k = 0; k < 3; ++k) close_fd(j, k);
      if (j->rc && j->fd[0] < 0 && j->fd[1] < 0 && j->fd[2] < 0) {
        done.push_back(std::move(*it));
        *it = std::move(jobs_.back());
        jobs_.pop_back();
        continue;
      }
      if (!j->timed_out && !j->rc) nearer(j->deadline);
      if (j->rc) nearer(j->grace);
      ++it;
    }
    for (auto& j : done) complete(*j);
    return poll_ms(next);
  }

  static void complete(Job& j) {
    try {
      if (j.timed_out)
        throw TimeoutExpired(std::move(j.args), *j.timeout, std::move(j.out), std::move(j.err));
      j.future.set_result(finish_run(std::move(j.args), *j.rc, std::move(j.out), std::move(j.err), j.check));
    } catch (...) {
      j.future.set_exception(std::current_exception());
    }
  }

  void loop() {
    // SIGPIPE stays blocked in this thread; a pending one is consumed after each EPIPE.
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
    epoll_event events[64];
    int timeout_ms = -1;
    for (;;) {
      int n = ::epoll_wait(ep_, events, 64, timeout_ms);
      if (n < 0 && errno != EINTR) {
        tandem::log(LogLevel::critical, "subprocess", "run_async watcher: epoll_wait failed");
        return;
      }
      try {
        SigpipeGuard guard;
        for (int i = 0; i < n; ++i) {
          if (!events[i].data.ptr) {
            adopt();
          } else {
            on_event(*static_cast<Watch*>(events[i].data.ptr), guard);
          }
        }
      } catch (const std::exception& e) {
        tandem::log(LogLevel::error, "subprocess", std::string("run_async watcher: ") + e.what());
      }
      timeout_ms = sweep();
    }
  }

  int ep_ = -1, ev_ = -1;
  std::mutex mu_;
  std::vector<std::unique_ptr<Job>> incoming_;
  std::vector<std::unique_ptr<Job>> jobs_;  // the watcher thread's alone
};

// Never destroyed: no static-destruction order can pull it from under its thread. A fork()ed
// child forgets its parent's watcher (that thread does not exist there) and starts its own.
std::atomic<Watcher*> g_watcher{nullptr};
std::mutex g_start_mu;

Watcher& watcher() {
  if (Watcher* w = g_watcher.load(std::memory_order_acquire)) return *w;
  std::lock_guard lock(g_start_mu);
  if (Watcher* w = g_watcher.load(std::memory_order_relaxed)) return *w;
  static std::once_flag atfork;
  std::call_once(atfork, [] {
    ::pthread_atfork(nullptr, nullptr, [] {
      g_watcher.store(nullptr, std::memory_order_relaxed);
      new (&g_start_mu) std::mutex;  // it may have been held by another thread at the fork
    });
  });
  Watcher* w = new Watcher;
  g_watcher.store(w, std::memory_order_release);
  return *w;
}

}  // namespace
}  // namespace tandem::subprocess::detail

namespace tandem::subprocess {

Future<CompletedProcess> run_async(std::vector<std::string> args, RunOptions o) {
  Future<CompletedProcess> f;
  f.set_running_or_notify_cancel();  // started: cancel() is false, as for a running task
  try {
    detail::prepare_run(o);
    auto j = std::make_unique<detail::Job>();
    j->future = f;
    j->check = o.check;
    j->timeout = o.timeout;
    if (o.timeout) j->deadline = tandem::detail::Deadline::after(*o.timeout);
    if (o.input) j->input = std::move(*o.input);
    detail::Watcher& w = detail::watcher();
    {
      Popen p(args, o);
      j->child = detail::PopenAccess::detach(p);
    }
    j->args = std::move(args);
    w.submit(std::move(j));
  } catch (...) {
    f.set_exception(std::current_exception());
  }
  return f;
}

}  // namespace tandem::subprocess
