// SPDX-License-Identifier: MIT
// ProcessPoolExecutor's core: the workers' lifecycle — starting a worker (from a thread that
// lives as long as the pool), its handshake, the spare and its promotion, killing a worker for
// a timeout or a cancel, and a worker's death: who is blamed, what is re-queued, what is
// delivered from its result log first (pool_core_results.cpp). See pool_core.cpp.
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
#include "tandem/detail/wait.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/shipping/build_id.hpp"
#include "tandem/shipping/function_id.hpp"

namespace tandem::detail {

namespace {

void worker_entry(std::string sock, shipping::Task init, std::uint64_t max_tasks, int owner) {
  worker_main(sock, init, max_tasks, owner);
}

}  // namespace

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
          worker_main(sock_name_, init_, max, owner_);
        },
        po);
  } else {
    w.proc = std::make_unique<mp::Process>(&worker_entry,
                                           std::tuple{sock_name_, init_, max, owner_}, po);
  }
  w.proc->start();
  w.pid = w.proc->pid();
  w.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, w.pid, 0));
  publish_pid(slot, is_spare(slot) ? 0 : w.pid);  // the spare's once it is ready
  if (w.pidfd >= 0) epoll_set(EPOLL_CTL_ADD, w.pidfd, EPOLLIN, ev(evPidfd, static_cast<int>(slot), w.gen));
}

void PoolCore::close_inherited() noexcept {
  // In a fork()ed worker: the pool's descriptors are not ours to hold (another worker's
  // channel held open here would hide its end-of-file from that worker).
  for (int fd : {epfd_, wakefd_, listenfd_}) ::close(fd);
  for (Worker& w : w_)
    for (int fd : {w.sock, w.pidfd, w.memfd})
      if (fd >= 0) ::close(fd);
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

void PoolCore::publish_pid(std::size_t slot, int pid) noexcept {
  if (is_spare(slot))
    spare_pid_.store(pid, std::memory_order_release);
  else
    pids_[slot].store(pid, std::memory_order_release);
}

// The replacement for the worker that died in `slot`: the spare, already connected (and
// usually past its initializer), takes the slot; only the epoll keys naming the slot change.
// Its own replacement is forked later, off this path (maybe_start_spare).
bool PoolCore::promote_spare(std::size_t slot) {
  if (w_.size() == n_) return false;  // no spare configured
  if (!(gate_.load() & kShut)) spare_due_ = now_ns() + kSpareDelayNs;
  Worker& s = w_[n_];
  if (!s.alive() || s.kill_reason != kNone) return false;
  w_[slot] = std::move(s);
  s = Worker{};
  Worker& w = w_[slot];
  const int key = static_cast<int>(slot);
  if (w.pidfd >= 0) epoll_set(EPOLL_CTL_MOD, w.pidfd, EPOLLIN, ev(evPidfd, key, w.gen));
  if (w.sock_registered)
    epoll_set(EPOLL_CTL_MOD, w.sock, EPOLLIN | (w.want_out ? EPOLLOUT : 0u), ev(evSock, key, w.gen));
  publish_pid(n_, 0);
  publish_pid(slot, w.pid);
  return true;
}

void PoolCore::maybe_start_spare(std::uint64_t& wake_at) {
  if (spare_due_ == 0 || w_.size() == n_) return;
  if (broken_.load(std::memory_order_relaxed) || no_restart_ || (gate_.load() & kShut) ||
      w_[n_].alive()) {
    spare_due_ = 0;
    return;
  }
  const std::uint64_t now = now_ns();
  if (now < spare_due_ && !idle()) {  // results are awaited: the fork can wait a little
    wake_at = std::min(wake_at, spare_due_);
    return;
  }
  spare_due_ = 0;
  try {
    start_worker(n_);
  } catch (const std::exception&) {  // no process now (EAGAIN, ENOMEM): try again later
    w_[n_] = Worker{};
    spare_due_ = now + 100 * kSpareDelayNs;
    wake_at = std::min(wake_at, spare_due_);
  }
}

void PoolCore::count_start_failure(bool killed, int pid, const std::string& how) {
  int& n = killed ? init_kills_ : init_failures_;
  if (++n < (killed ? kMaxInitKills : kMaxInitFailures) || broken_.load(std::memory_order_relaxed))
    return;
  break_pool("A process in the process pool " +
             std::string(killed ? "was killed by SIGKILL " : "died ") + std::to_string(n) +
             " times in a row before its initializer returned (last: pid " + std::to_string(pid) +
             " " + how + "); the process pool is not usable anymore");
}

void PoolCore::kill_worker(std::size_t slot, int reason, std::uint64_t id) {
  Worker& w = w_[slot];
  if (!w.alive()) return;
  if (w.kill_reason == kNone || reason == kCorrupt) {
    w.kill_reason = reason;
    w.kill_id = id;
  }
  ::kill(-w.pid, SIGKILL);
  ::kill(w.pid, SIGKILL);
}

// The running task is the one the worker's page names (running != finished), wherever it
// stands in the worker's in-flight list: the tasks before it have finished, but their results
// may still be on their way (a batch is sent later). Looking only at the list's front missed
// a task running behind finished ones, and it was never killed (issue 10: a quick task
// stranded behind an endless one).
std::uint64_t PoolCore::check_timeouts() {
  std::uint64_t next = UINT64_MAX;
  const std::uint64_t now = now_ns();
  for (std::size_t i = 0; i < n_; ++i) {
    Worker& w = w_[i];
    if (!w.alive() || w.timed == 0 || w.inflight.empty() || w.kill_reason != kNone || !w.page)
      continue;
    const auto run = std::atomic_ref<std::uint64_t>(w.page->running).load(std::memory_order_seq_cst);
    const auto fin = std::atomic_ref<std::uint64_t>(w.page->finished).load(std::memory_order_acquire);
    const auto start = std::atomic_ref<std::uint64_t>(w.page->started_ns).load(std::memory_order_relaxed);
    const auto it = run == fin ? w.inflight.end()
                               : std::find_if(w.inflight.begin(), w.inflight.end(),
                                              [&](PTask* t) { return t->id == run; });
    if (it != w.inflight.end() && (*it)->timeout_s > 0) {
      const auto tns = static_cast<std::uint64_t>((*it)->timeout_s * 1e9);
      if (now >= start + tns) {
        kill_worker(i, kTimeout, run);
        continue;
      }
      next = std::min(next, start + tns);
    }
    // Another timed task, not started yet: its start is seen on the next look (the worker
    // does not say when it starts one), at most 2 ms late.
    if (it == w.inflight.end() || (*it)->timeout_s <= 0 || w.timed > 1)
      next = std::min(next, now + 2000000);
  }
  return next;
}

// Closes a worker's socket, pidfd and memfd (out of the epoll set first).
void PoolCore::release_channel(Worker& w) noexcept {
  if (w.sock >= 0) {
    if (w.sock_registered) epoll_set(EPOLL_CTL_DEL, w.sock, 0, 0);
    ::close(w.sock);
  }
  if (w.pidfd >= 0) {
    epoll_set(EPOLL_CTL_DEL, w.pidfd, 0, 0);
    ::close(w.pidfd);
  }
  if (w.memfd >= 0) ::close(w.memfd);
  w.sock = w.pidfd = w.memfd = -1;
  w.sock_registered = false;
}

void PoolCore::on_death(std::size_t slot) {
  Worker& w = w_[slot];
  if (w.sock >= 0 && w.hello) on_readable(slot);  // results sent before it died
  ::kill(-w.pid, SIGKILL);                           // its process group: grandchildren too
  Partial partial;
  drain_log(w, partial);                             // results finished but not sent
  release_channel(w);
  w.proc->join();
  const int code = w.proc->exitcode().value_or(255);
  const int pid = w.pid;
  publish_pid(slot, 0);
  std::uint64_t run = 0, fin = 0;
  bool ready = w.seen_ready, initializing = false;
  if (w.page) {
    initializing = std::atomic_ref<std::uint32_t>(w.page->initializing).load(std::memory_order_acquire);
    run = std::atomic_ref<std::uint64_t>(w.page->running).load(std::memory_order_acquire);
    fin = std::atomic_ref<std::uint64_t>(w.page->finished).load(std::memory_order_acquire);
    ready = ready || std::atomic_ref<std::uint32_t>(w.page->ready).load(std::memory_order_acquire);
    ::munmap(w.page, sizeof(WorkerPage));
  }
  const std::string how = death_text(code);
  const int exit_code = code >= 0 ? code : -1, sig = code < 0 ? -code : 0;
  std::deque<PTask*> left = std::move(w.inflight);
  std::deque<PTask*> requeue;
  if (w.kill_reason == kCorrupt) {
    for (PTask* t : left) {
      t->fail(std::make_exception_ptr(BrokenProcessPool(w.corrupt_msg)));
      finish(t);
    }
    left.clear();
  } else if (!ready) {
    requeue = std::move(left);
  } else {
    auto it = std::find_if(left.begin(), left.end(), [&](PTask* t) { return t->id == run; });
    if (it == left.end()) {
      requeue = std::move(left);
    } else {
      for (auto j = left.begin(); j != it; ++j) {
        (*j)->fail(std::make_exception_ptr(WorkerDied(
            "the worker process (pid " + std::to_string(pid) + ") " + how +
                " after running this task, before sending its result",
            pid, exit_code, sig)));
        finish(*j);
      }
      PTask* t = *it;
      std::exception_ptr e;
      if (w.kill_reason == kTimeout && w.kill_id == t->id) {
        e = std::make_exception_ptr(TimeoutError(
            "the task ran past its timeout; its worker process (pid " + std::to_string(pid) +
            ") was killed"));
      } else if (fin == t->id) {
        e = std::make_exception_ptr(WorkerDied(
            "the worker process (pid " + std::to_string(pid) + ") " + how +
                " after running this task, before sending its result",
            pid, exit_code, sig));
      } else {
        e = std::make_exception_ptr(WorkerDied(
            "the worker process (pid " + std::to_string(pid) + ") running this task " + how,
            pid, exit_code, sig));
      }
      if (partial.id == t->id && partial.count != 0)  // a map chunk keeps its finished items
        t->deliver_partial(partial.bytes, partial.count, std::move(e));
      else
        t->fail(std::move(e));
      finish(t);
      requeue.assign(it + 1, left.end());
    }
  }
  for (auto r = requeue.rbegin(); r != requeue.rend(); ++r) {
    (*r)->worker = -1;
    ready_.push_front(*r);
  }
  const int reason = w.kill_reason;
  if (reason == kTimeout)
    bump(timeouts_);
  else if (reason == kCancel)
    bump(cancel_kills_);
  else if (reason == kNone && code == 0 && ready && run == fin && !is_spare(slot))
    bump(retired_);  // exited between tasks: max_tasks_per_child (or a task's exit(0))
  else if (reason != kSignal)
    bump(deaths_);
  const std::string corrupt_msg = std::move(w.corrupt_msg);
  w.proc.reset();
  w = Worker{};
  // A fresh worker's death before its initializer returned counts towards breaking the pool
  // (kMaxInitFailures / kMaxInitKills in pool_core.hpp), except when the pool killed
  // it on purpose (a timeout, a cancel, terminate/kill_workers): a corrupt handshake counts.
  if (!ready && reason == kCorrupt) {
    count_start_failure(false, pid, "failed its handshake: " + corrupt_msg);
  } else if (!ready && reason == kNone && sig == SIGKILL) {
    if (initializing) count_start_failure(true, pid, how);
  } else if (!ready && reason == kNone) {
    count_start_failure(false, pid, how);
  }
  if (broken_.load(std::memory_order_relaxed) || no_restart_) return;
  if (is_spare(slot)) {
    if (!(gate_.load() & kShut)) spare_due_ = now_ns() + kSpareDelayNs;
  } else if (work_left() || !(gate_.load() & kShut)) {
    if (!promote_spare(slot)) start_worker(slot);
  }
}

}  // namespace tandem::detail
