// SPDX-License-Identifier: MIT
// ProcessPoolExecutor's core (see <tandem/process_pool.hpp> for the contract): dispatch.
//
// One dispatcher thread owns everything after construction: the queue of tasks not yet sent
// (ready_), the workers, their channels and pidfds, all in one epoll set. Submitters push onto
// a lock-free stack and write the eventfd only when the dispatcher sleeps. The dispatcher sends
// each worker a window of tasks in one frame, reads results in frames, completes the futures,
// watches pidfds for deaths and the workers' shared pages for timeouts, and starts
// replacements. When it has nothing to do it sleeps in epoll_pwait2 (0% CPU).
//
// PoolCore (pool_core.hpp) is implemented in three files, one per responsibility:
//   pool_core.cpp          intake (submit, cancel, shutdown), the window and sending, the loop
//   pool_core_workers.cpp  worker lifecycle: start, handshake, spare, timeouts, death, blame
//   pool_core_results.cpp  results: frames from the socket, the result log of a dead worker
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "detail/cpu_count.hpp"
#include "detail/thread_names.hpp"
#include "process_pool/pool_core.hpp"
#include "process_pool/wire.hpp"
#include "tandem/log.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/shipping/build_id.hpp"
#include "tandem/shipping/function_id.hpp"
#include "tandem/shipping/ship.hpp"

namespace tandem::detail {

PoolCore::PoolCore(const ProcessPoolOptions& o) : opts_(o) {
  n_ = o.max_workers != 0 ? o.max_workers : process_cpu_count();
  if (o.initializer && o.initializer_call.trampoline != 0)
    throw ValueError("ProcessPoolExecutor: give initializer or initializer_call, not both");
  if (o.initializer)
    init_ = shipping::ship(o.initializer);
  else
    init_ = o.initializer_call;
  w_.resize(o.spare_worker ? n_ + 1 : n_);
  pids_ = std::make_unique<std::atomic<int>[]>(n_);
  for (std::size_t i = 0; i < n_; ++i) pids_[i].store(0);

  std::random_device rd;
  const std::uint64_t secret = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  static std::atomic<unsigned> seq{0};
  pool_seq_ = seq.fetch_add(1);
  char name[96];
  const int len = std::snprintf(name, sizeof name, "%ctandem-pool-%d-%u-%016llx", '\0',
                                static_cast<int>(getpid()), pool_seq_,
                                static_cast<unsigned long long>(secret));
  sock_name_.assign(name, static_cast<std::size_t>(len));

  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  listenfd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (epfd_ < 0 || wakefd_ < 0 || listenfd_ < 0)
    throw RuntimeError(std::string("ProcessPoolExecutor: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, sock_name_.data(), sock_name_.size());
  const auto alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + sock_name_.size());
  if (::bind(listenfd_, reinterpret_cast<sockaddr*>(&addr), alen) < 0 ||
      ::listen(listenfd_, 128) < 0)
    throw RuntimeError(std::string("ProcessPoolExecutor: listen: ") + std::strerror(errno));
  epoll_set(EPOLL_CTL_ADD, wakefd_, EPOLLIN, ev(evWake, 0, 0));
  epoll_set(EPOLL_CTL_ADD, listenfd_, EPOLLIN, ev(evListen, 0, 0));
  owner_ = static_cast<int>(::getpid());
  // A fork or spawn worker dies with the thread that started it (PR_SET_PDEATHSIG,
  // worker_main): only a thread that lives as long as the pool may start one. The main thread
  // does (its end is the process's), and so does the dispatcher (it reaps every worker before
  // it returns); a forkserver worker's parent is the server. The first workers start from the
  // main thread when that is the caller: a fork pool built before other threads exist forks a
  // single-threaded process. Otherwise the dispatcher starts them, and this thread waits.
  const bool here = o.start_method == mp::StartMethod::forkserver ||
                    static_cast<int>(::syscall(SYS_gettid)) == owner_;
  if (here)
    for (std::size_t i = 0; i < w_.size(); ++i) start_worker(i);  // the spare too
  std::exception_ptr failed;
  std::atomic<std::uint32_t> started{here ? 1u : 0u};
  // `failed` and `started` live in this frame: the thread touches them only when this thread
  // waits for it (not `here`).
  const std::string disp = "pp" + std::to_string(pool_seq_) + "-disp";
  thread_ = std::thread([this, here, &failed, &started, disp] {
    name_this_thread("ProcessPoolExecutor-" + std::to_string(pool_seq_) + "-dispatcher", disp);
    if (!here) {
      try {
        for (std::size_t i = 0; i < w_.size(); ++i) start_worker(i);
      } catch (...) {
        failed = std::current_exception();
      }
      const bool ok = !failed;
      started.store(1, std::memory_order_release);  // `failed`, `started`: gone after this
      futex_wake_all(started);
      if (!ok) return;
    }
    run();
  });
  // The OS name from here too, so that it is there when the constructor returns.
  ::pthread_setname_np(thread_.native_handle(), disp.c_str());
  while (!started.load(std::memory_order_acquire)) futex_wait(started, 0);
  if (failed) {
    thread_.join();
    joined_.store(true);
    std::rethrow_exception(failed);
  }
}

PoolCore::~PoolCore() {
  shutdown(true, false);
  if (!joined_.exchange(true)) thread_.join();
  for (int fd : {epfd_, wakefd_, listenfd_})
    if (fd >= 0) ::close(fd);
}

void PoolCore::epoll_set(int op, int fd, std::uint32_t events, std::uint64_t data) {
  epoll_event e{};
  e.events = events;
  e.data.u64 = data;
  ::epoll_ctl(epfd_, op, fd, &e);
}

void PoolCore::submit(PTask* t) {
  if (gate_.fetch_add(1, std::memory_order_acq_rel) & kShut) {
    gate_.fetch_sub(1, std::memory_order_release);
    throw RuntimeError("cannot schedule new futures after shutdown");
  }
  if (broken_.load(std::memory_order_acquire)) {
    gate_.fetch_sub(1, std::memory_order_release);
    throw BrokenProcessPool(broken_msg_);
  }
  t->pool = this;
  t->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  submitted_.fetch_add(1, std::memory_order_relaxed);
  PTask* head = incoming_.load(std::memory_order_relaxed);
  do t->next = head;
  while (!incoming_.compare_exchange_weak(head, t, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
  gate_.fetch_sub(1, std::memory_order_release);
  if (sleeping_.load(std::memory_order_seq_cst) && sleeping_.exchange(0)) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
  }
}

void PoolCore::shutdown(bool wait, bool cancel_futures) {
  if (cancel_futures) cancel_futures_.store(1, std::memory_order_release);
  gate_.fetch_or(kShut, std::memory_order_seq_cst);
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
  if (!wait) return;
  while (!done_.load(std::memory_order_acquire)) futex_wait(done_, 0);
}

void PoolCore::signal_workers(int sig) {
  signal_req_.store(sig, std::memory_order_release);
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
}

bool PoolCore::cancel_running(PTask& t) {
  cancel_guard_.fetch_add(1, std::memory_order_acq_rel);
  const bool won = t.core().cancel_from_running();
  if (won) {
    t.core().add_ref();  // the dispatcher releases it after handling the request
    PTask* head = cancels_.load(std::memory_order_relaxed);
    do t.cancel_next = head;
    while (!cancels_.compare_exchange_weak(head, &t, std::memory_order_seq_cst,
                                           std::memory_order_relaxed));
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
  }
  if (cancel_guard_.fetch_sub(1, std::memory_order_acq_rel) == 1) futex_wake_all(cancel_guard_);
  return won || t.core().cancelled();
}

bool cancel_running_task(PTask& t) { return t.pool->cancel_running(t); }

void PoolCore::drain_cancels() {
  PTask* list = cancels_.exchange(nullptr, std::memory_order_acquire);
  while (list) {
    PTask* t = list;
    list = list->cancel_next;
    if (t->worker >= 0) {
      Worker& w = w_[static_cast<std::size_t>(t->worker)];
      const bool ours = std::find(w.inflight.begin(), w.inflight.end(), t) != w.inflight.end();
      if (ours && w.page) {
        std::atomic_ref<std::uint64_t>(w.page->cancel[w.cancel_next++ % WorkerPage::kCancelSlots])
            .store(t->id, std::memory_order_seq_cst);
        const auto run = std::atomic_ref<std::uint64_t>(w.page->running).load(std::memory_order_seq_cst);
        const auto fin = std::atomic_ref<std::uint64_t>(w.page->finished).load(std::memory_order_acquire);
        if (run == t->id && fin != t->id) kill_worker(static_cast<std::size_t>(t->worker), kCancel, t->id);
      } else if (ours) {
        kill_worker(static_cast<std::size_t>(t->worker), kCancel, t->id);
      }
    }
    t->core().release();
  }
}

ProcessPoolStats PoolCore::stats() const noexcept {
  ProcessPoolStats s;
  s.submitted = submitted_.load(std::memory_order_relaxed);
  s.completed = completed_.load(std::memory_order_relaxed);
  s.running = running_.load(std::memory_order_relaxed);
  s.queued = queued_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < n_; ++i)
    if (pids_[i].load(std::memory_order_relaxed)) ++s.workers;
  s.restarts = restarts_.load(std::memory_order_relaxed);
  s.deaths = deaths_.load(std::memory_order_relaxed);
  s.timeouts = timeouts_.load(std::memory_order_relaxed);
  s.cancels = cancel_kills_.load(std::memory_order_relaxed);
  s.retired = retired_.load(std::memory_order_relaxed);
  return s;
}

// running_/queued_ for stats(), as of now: called each time the dispatcher goes to sleep.
void PoolCore::publish_load() noexcept {
  std::uint64_t running = 0;
  for (const Worker& w : w_) running += w.inflight.size();
  running_.store(running, std::memory_order_relaxed);
  queued_.store(ready_.size(), std::memory_order_relaxed);
}

void PoolCore::drain_incoming() {
  PTask* list = incoming_.exchange(nullptr, std::memory_order_acquire);
  PTask* rev = nullptr;
  while (list) {
    PTask* next = list->next;
    list->next = rev;
    rev = list;
    list = next;
  }
  const bool broken = broken_.load(std::memory_order_relaxed);
  while (rev) {
    PTask* t = rev;
    rev = rev->next;  // before finish(): it may free t
    if (broken) {
      t->fail(std::make_exception_ptr(BrokenProcessPool(broken_msg_)));
      finish(t);
    } else {
      ready_.push_back(t);
    }
  }
}

std::size_t PoolCore::window() const noexcept {
  if (avg_us_ < 0) return 1;  // unknown task length: do not queue behind a possibly long one
  const double budget_us = 200;
  const double n = avg_us_ < 0.4 ? 512 : budget_us / avg_us_;
  return static_cast<std::size_t>(std::clamp(n, 1.0, 512.0));
}

void PoolCore::dispatch() {
  if (ready_.empty()) return;
  std::size_t live = 0;
  for (std::size_t i = 0; i < n_; ++i)  // not the spare: it gets no task before promotion
    if (w_[i].alive() && w_[i].hello && w_[i].kill_reason == kNone) ++live;
  if (live == 0) return;
  const std::size_t win = window();
  for (std::size_t k = 0; k < n_ && !ready_.empty(); ++k) {
    const std::size_t slot = (rr_ + k) % n_;
    Worker& w = w_[slot];
    if (!w.alive() || !w.hello || w.kill_reason != kNone || !w.sock_registered) continue;
    std::size_t limit = win;
    if (opts_.max_tasks_per_child != 0)
      limit = std::min<std::size_t>(limit, opts_.max_tasks_per_child - w.sent_total);
    if (w.inflight.size() >= limit) continue;
    std::size_t n = std::min(limit - w.inflight.size(), (ready_.size() + live - 1) / live);
    std::size_t at = 0;
    bool begun = false;
    while (n > 0 && !ready_.empty()) {
      PTask* t = ready_.pop_front();
      FutureCore& c = t->core();
      const auto phase = c.load() & FutureCore::kPhaseMask;
      if (phase == FutureCore::kPending) {
        bool go = false;
        try {
          go = c.set_running_or_notify_cancel();
        } catch (...) {
        }
        if (!go) {
          finish(t);
          continue;
        }
      } else if (phase != FutureCore::kRunning) {  // cancelled (or completed) meanwhile
        finish(t);
        continue;
      }
      if (!begun) {
        at = begin_frame(w.out, FrameType::tasks);
        begun = true;
      }
      const shipping::Task& tw = t->wire;
      append_pod(w.out, TaskRecord{t->id, tw.trampoline, tw.function, tw.check,
                                   static_cast<std::uint32_t>(tw.args.size()), 0});
      append_bytes(w.out, tw.args);
      t->worker = static_cast<int>(slot);
      if (t->timeout_s > 0) ++w.timed;
      w.inflight.push_back(t);
      ++w.sent_total;
      --n;
    }
    if (begun) {
      finish_frame(w.out, at);
      flush_out(slot);
    }
  }
  rr_ = (rr_ + 1) % n_;
}

void PoolCore::flush_out(std::size_t slot) {
  Worker& w = w_[slot];
  while (w.out_off < w.out.size()) {
    const ssize_t n = ::send(w.sock, w.out.data() + w.out_off, w.out.size() - w.out_off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (!w.want_out && w.sock_registered) {
          epoll_set(EPOLL_CTL_MOD, w.sock, EPOLLIN | EPOLLOUT, ev(evSock, static_cast<int>(slot), w.gen));
          w.want_out = true;
        }
        return;
      }
      w.out.clear();  // the worker is dying; its pidfd will tell
      w.out_off = 0;
      return;
    }
    w.out_off += static_cast<std::size_t>(n);
  }
  w.out.clear();
  w.out_off = 0;
  if (w.want_out && w.sock_registered) {
    epoll_set(EPOLL_CTL_MOD, w.sock, EPOLLIN, ev(evSock, static_cast<int>(slot), w.gen));
    w.want_out = false;
  }
}

void PoolCore::break_pool(const std::string& why) {
  broken_msg_ = why;
  broken_.store(1, std::memory_order_release);
  for (PTask* t : ready_.take_all()) {
    t->fail(std::make_exception_ptr(BrokenProcessPool(why)));
    finish(t);
  }
}

bool PoolCore::idle() const noexcept {
  if (!ready_.empty() || incoming_.load(std::memory_order_acquire)) return false;
  for (std::size_t i = 0; i < n_; ++i)
    if (!w_[i].inflight.empty()) return false;
  return true;
}

bool PoolCore::work_left() const noexcept {
  if (!ready_.empty() || incoming_.load(std::memory_order_acquire)) return true;
  for (const Worker& w : w_)
    if (!w.inflight.empty()) return true;
  return false;
}

void PoolCore::loop() {
  epoll_event evs[64];
  for (;;) {
    drain_incoming();
    drain_cancels();
    if (broken_.load(std::memory_order_relaxed) && !ready_.empty()) break_pool(broken_msg_);
    if (cancel_futures_.load(std::memory_order_acquire) && (gate_.load() & kShut)) {
      for (PTask* t : ready_.take_all()) {
        FutureCore& c = t->core();
        if ((c.load() & FutureCore::kPhaseMask) == FutureCore::kPending)
          c.cancel();
        else
          c.cancel_from_running();
        finish(t);
      }
        }
    if (const int sig = signal_req_.exchange(0); sig > 0) {
      for (std::size_t i = 0; i < w_.size(); ++i)  // the spare too
        if (w_[i].alive()) {
          if (w_[i].kill_reason == kNone) w_[i].kill_reason = kSignal;
          ::kill(-w_[i].pid, sig);
          ::kill(w_[i].pid, sig);
        }
      no_restart_ = true;  // the workers were told to go: no replacements from now on
    }
    dispatch();
    if ((gate_.load(std::memory_order_acquire) == kShut) && !work_left()) return;
    std::uint64_t wake_at = check_timeouts();
    maybe_start_spare(wake_at);
    publish_load();
    sleeping_.store(1, std::memory_order_seq_cst);
    if (incoming_.load(std::memory_order_seq_cst) || cancels_.load(std::memory_order_seq_cst)) {
      sleeping_.store(0, std::memory_order_relaxed);
      continue;
    }
    int n;
    if (wake_at == UINT64_MAX) {
      n = ::epoll_wait(epfd_, evs, 64, -1);
    } else {
      const std::uint64_t now = now_ns();
      const std::uint64_t d = wake_at > now ? wake_at - now : 0;
      timespec ts{static_cast<time_t>(d / 1000000000ull), static_cast<long>(d % 1000000000ull)};
      n = ::epoll_pwait2(epfd_, evs, 64, &ts, nullptr);
    }
    sleeping_.store(0, std::memory_order_relaxed);
    if (n < 0) continue;  // EINTR
    for (int i = 0; i < n; ++i) {
      const std::uint64_t d = evs[i].data.u64;
      const auto kind = static_cast<EvKind>(d >> 56);
      const auto slot = static_cast<std::size_t>((d >> 32) & 0xffffff);
      const auto gen = static_cast<std::uint32_t>(d);
      if (kind == evWake) {
        std::uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(wakefd_, &v, sizeof v);
        continue;
      }
      if (kind == evListen) {
        on_accept();
        continue;
      }
      if (slot >= w_.size() || !w_[slot].alive() || w_[slot].gen != gen) continue;  // stale
      if (kind == evSock) {
        if (evs[i].events & EPOLLOUT) flush_out(slot);
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(slot);
      } else if (kind == evPidfd) {
        on_death(slot);
      }
    }
  }
}

void PoolCore::run() noexcept {
  try {
    loop();
  } catch (const std::exception& e) {
    tandem::log(LogLevel::critical, "process_pool",
        std::string("tandem::ProcessPoolExecutor: dispatcher failed: ") + e.what());
    std::abort();
  }
  // Teardown: close the channels (idle workers read end-of-file and exit), then reap. The
  // listening socket goes first: a worker still starting then fails to connect, or reads
  // end-of-file waiting for its page, and exits.
  ::close(listenfd_);
  listenfd_ = -1;
  for (std::size_t i = 0; i < w_.size(); ++i) {  // the spare too
    Worker& w = w_[i];
    if (!w.alive()) continue;
    if (w.sock >= 0) ::shutdown(w.sock, SHUT_RDWR);
  }
  for (std::size_t i = 0; i < w_.size(); ++i) {
    Worker& w = w_[i];
    if (!w.alive()) continue;
    if (!w.proc->join(duration(2.0))) {
      ::kill(-w.pid, SIGKILL);
      w.proc->kill();
      w.proc->join();
    }
    ::kill(-w.pid, SIGKILL);
    Partial partial;
    drain_log(w, partial);
    for (PTask* t : w.inflight) {
      t->fail(std::make_exception_ptr(BrokenProcessPool("the process pool shut down")));
      finish(t);
    }
    release_channel(w);
    if (w.page) ::munmap(w.page, sizeof(WorkerPage));
    publish_pid(i, 0);
    w = Worker{};
  }
  while (std::uint32_t g = cancel_guard_.load(std::memory_order_acquire))
    futex_wait(cancel_guard_, g, Deadline::after(duration(0.001)));
  drain_cancels();
  drain_incoming();
  for (PTask* t : ready_.take_all()) {
    t->fail(std::make_exception_ptr(BrokenProcessPool("the process pool shut down")));
    finish(t);
  }
  publish_load();
  done_.store(1, std::memory_order_release);
  futex_wake_all(done_);
}

}  // namespace tandem::detail
