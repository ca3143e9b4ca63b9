// SPDX-License-Identifier: MIT
// ProcessPoolExecutor's core (see <tandem/process_pool.hpp> for the contract).
//
// One dispatcher thread owns everything after construction: the queue of tasks not yet sent
// (ready_), the workers, their channels and pidfds, all in one epoll set. Submitters push onto
// a lock-free stack and write the eventfd only when the dispatcher sleeps. The dispatcher sends
// each worker a window of tasks in one frame, reads results in frames, completes the futures,
// watches pidfds for deaths and the workers' shared pages for timeouts, and starts
// replacements. When it has nothing to do it sleeps in epoll_pwait2 (0% CPU).
#include "process_pool/pool_core.hpp"
#include "detail/cpu_count.hpp"
#include "detail/thread_names.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tandem/detail/wait.hpp"
#include "tandem/process_pool.hpp"
#include "process_pool/wire.hpp"
#include "tandem/shipping/build_id.hpp"
#include "tandem/shipping/function_id.hpp"

namespace tandem::detail::pp {
namespace {

void worker_entry(std::string sock, std::uint64_t init, std::uint64_t max_tasks, int owner) {
  worker_main(sock, init, max_tasks, owner);
}

}  // namespace

PoolCore::PoolCore(const ProcessPoolOptions& o) : opts_(o) {
  n_ = o.max_workers != 0 ? o.max_workers : process_cpu_count();
  if (o.initializer) init_offset_ = shipping::function_offset(shipping::address_of(o.initializer));
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

void PoolCore::close_inherited() noexcept {
  // In a fork()ed worker: the pool's descriptors are not ours to hold (another worker's
  // channel held open here would hide its end-of-file from that worker).
  for (int fd : {epfd_, wakefd_, listenfd_}) ::close(fd);
  for (Worker& w : w_)
    for (int fd : {w.sock, w.pidfd, w.memfd})
      if (fd >= 0) ::close(fd);
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

void PoolCore::start_worker(std::size_t slot) {
  if (starts_++ >= w_.size()) bump(restarts_);
  Worker& w = w_[slot];
  w = Worker{};
  w.gen = static_cast<std::uint32_t>(next_id_.fetch_add(1));  // unique per start
  mp::ProcessOptions po;
  po.start_method = opts_.start_method;
  po.name = "ProcessPoolWorker-" + std::to_string(slot + 1);
  const std::uint64_t max = opts_.max_tasks_per_child;
  if (opts_.start_method == mp::StartMethod::fork) {
    w.proc = std::make_unique<mp::Process>(
        [this, max] {
          close_inherited();
          worker_main(sock_name_, init_offset_, max, owner_);
        },
        po);
  } else {
    w.proc = std::make_unique<mp::Process>(&worker_entry,
                                           std::tuple{sock_name_, init_offset_, max, owner_}, po);
  }
  w.proc->start();
  w.pid = w.proc->pid();
  w.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, w.pid, 0));
  publish_pid(slot, is_spare(slot) ? 0 : w.pid);  // the spare's once it is ready
  if (w.pidfd >= 0) epoll_set(EPOLL_CTL_ADD, w.pidfd, EPOLLIN, ev(evPidfd, static_cast<int>(slot), w.gen));
}

void PoolCore::on_accept() {
  for (;;) {
    const int fd = ::accept4(listenfd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    ucred cred{};
    socklen_t cl = sizeof cred;
    std::size_t slot = w_.size();
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
      for (std::size_t i = 0; i < w_.size(); ++i)
        if (w_[i].alive() && w_[i].pid == cred.pid && w_[i].sock < 0) slot = i;
    if (slot == w_.size()) {  // not one of our starting workers
      ::close(fd);
      continue;
    }
    Worker& w = w_[slot];
    w.sock = fd;
    w.sock_registered = true;
    epoll_set(EPOLL_CTL_ADD, fd, EPOLLIN, ev(evSock, static_cast<int>(slot), w.gen));
  }
}

void PoolCore::on_hello(std::size_t slot, std::span<const std::byte> body) {
  Worker& w = w_[slot];
  std::span<const std::byte> id;
  const Hello h = decode_hello(body, id);
  const auto& mine = shipping::build_id().bytes();
  if (static_cast<int>(h.pid) != w.pid) throw DecodeError("the worker lied about its pid");
  if (!std::equal(id.begin(), id.end(), mine.begin(), mine.end())) {
    // Another binary cannot run our tasks, and every replacement would run it too: break the
    // pool now instead of restarting workers forever. The worker is killed as corrupt.
    const std::string theirs =
        shipping::BuildId(std::vector<std::byte>(id.begin(), id.end()), shipping::build_id().source())
            .hex();
    const std::string why = "tandem::ProcessPoolExecutor: worker pid " + std::to_string(w.pid) +
                            " runs another binary (build-id " + theirs + ", this process's is " +
                            shipping::build_id().hex() +
                            "); the process pool is not usable anymore";
    if (!broken_.load(std::memory_order_relaxed)) break_pool(why);
    throw DecodeError(why);
  }
  // The page and the result log: pages of a memfd are allocated when touched.
  const int mfd = ::memfd_create("tandem-pool-worker", MFD_CLOEXEC);
  if (mfd < 0) throw RuntimeError(std::string("memfd: ") + std::strerror(errno));
  w.memfd = mfd;  // closed with the worker's other descriptors (release_channel)
  if (::ftruncate(mfd, kLogOffset + kInitialLog) < 0)
    throw RuntimeError(std::string("memfd: ") + std::strerror(errno));
  void* p = ::mmap(nullptr, sizeof(WorkerPage), PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  if (p == MAP_FAILED) throw RuntimeError(std::string("mmap: ") + std::strerror(errno));
  w.page = static_cast<WorkerPage*>(p);
  char byte = 'p';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))]{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &mfd, sizeof mfd);
  ::sendmsg(w.sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);  // a fresh socket: room for one byte
  w.hello = true;
}

void PoolCore::corrupt(std::size_t slot, const std::string& why) {
  Worker& w = w_[slot];
  w.corrupt_msg = "tandem::ProcessPoolExecutor: corrupt data from worker pid " +
                  std::to_string(w.pid) + " (" + why + "); the worker was killed";
  kill_worker(slot, kCorrupt, 0);
  if (w.sock_registered) {
    epoll_set(EPOLL_CTL_DEL, w.sock, 0, 0);
    w.sock_registered = false;
  }
}

void PoolCore::on_readable(std::size_t slot) {
  Worker& w = w_[slot];
  for (;;) {
    if (w.in.size() - w.in_have < 64 * 1024) w.in.resize(std::max<std::size_t>(w.in.size() * 2, 256 * 1024));
    const ssize_t n = ::read(w.sock, w.in.data() + w.in_have, w.in.size() - w.in_have);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
    }
    if (n <= 0) {  // end of file or error: the worker is going; its pidfd tells when
      if (w.sock_registered) {
        epoll_set(EPOLL_CTL_DEL, w.sock, 0, 0);
        w.sock_registered = false;
      }
      break;
    }
    w.in_have += static_cast<std::size_t>(n);
  }
  std::size_t pos = 0;
  try {
    for (;;) {
      FrameType type;
      std::span<const std::byte> body;
      const std::size_t used =
          next_frame(std::span<const std::byte>(w.in).subspan(pos, w.in_have - pos), type, body);
      if (used == 0) break;
      pos += used;
      if (!w.hello) {
        if (type != FrameType::hello) throw DecodeError("expected a hello frame");
        on_hello(slot, body);
        continue;
      }
      if (type != FrameType::results) throw DecodeError("expected a results frame");
      if (!w.seen_ready) {  // its first results frame (empty: "my initializer returned")
        w.seen_ready = true;
        init_failures_ = 0;
        init_kills_ = 0;
        if (is_spare(slot)) publish_pid(slot, w.pid);
      }
      for_each_result(body, [&](const ResultRecord& r, std::span<const std::byte> outcome) {
        if (w.inflight.empty() || w.inflight.front()->id != r.id)
          throw DecodeError("a result for a task the worker was not running");
        PTask* t = w.inflight.front();
        w.inflight.pop_front();
        if (t->timeout_s > 0) --w.timed;
        // A sample is clipped to 4x the mean (and 50 µs): one preempted quick task (a 10 ms
        // time slice lost on a loaded machine) must not collapse the window to 1 for the next
        // hundred tasks; a real change of task length still moves the mean by up to 30% a task.
        const double us = avg_us_ < 0 ? r.run_us
                                      : std::min<double>(r.run_us, std::max(4 * avg_us_, 50.0));
        avg_us_ = avg_us_ < 0 ? us : avg_us_ * 0.9 + us * 0.1;
        t->deliver(outcome);
        finish(t);
      });
    }
  } catch (const std::exception& e) {
    corrupt(slot, e.what());
    w.in_have = 0;
    return;
  }
  std::memmove(w.in.data(), w.in.data() + pos, w.in_have - pos);
  w.in_have -= pos;
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
      PTask* t = ready_.front();
      ready_.pop_front();
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

void PoolCore::publish_pid(std::size_t slot, int pid) noexcept {
  if (is_spare(slot))
    spare_pid_.store(pid, std::memory_order_release);
  else
    pids_[slot].store(pid, std::memory_order_release);
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

void PoolCore::loop() {
  epoll_event evs[64];
  for (;;) {
    drain_incoming();
    drain_cancels();
    if (broken_.load(std::memory_order_relaxed) && !ready_.empty()) break_pool(broken_msg_);
    if (cancel_futures_.load(std::memory_order_acquire) && (gate_.load() & kShut)) {
      for (PTask* t : ready_) {
        FutureCore& c = t->core();
        if ((c.load() & FutureCore::kPhaseMask) == FutureCore::kPending)
          c.cancel();
        else
          c.cancel_from_running();
        finish(t);
      }
      ready_.clear();
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

bool cancel_running_task(PTask& t) { return t.pool->cancel_running(t); }

void PoolDeleter::operator()(PoolCore* p) const noexcept { delete p; }

std::unique_ptr<PoolCore, PoolDeleter> make_pool(const ProcessPoolOptions& opts) {
  return std::unique_ptr<PoolCore, PoolDeleter>(new PoolCore(opts));
}
void pool_submit(PoolCore& p, PTask* t) { p.submit(t); }
void pool_shutdown(PoolCore& p, bool wait, bool cancel_futures) { p.shutdown(wait, cancel_futures); }
void pool_signal_workers(PoolCore& p, int sig) { p.signal_workers(sig); }
std::size_t pool_max_workers(const PoolCore& p) noexcept { return p.max_workers(); }
std::vector<int> pool_worker_pids(PoolCore& p) { return p.pids(); }
int pool_spare_pid(PoolCore& p) noexcept { return p.spare_pid(); }
ProcessPoolStats pool_stats(const PoolCore& p) noexcept { return p.stats(); }

}  // namespace tandem::detail::pp
