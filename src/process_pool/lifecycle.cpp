// SPDX-License-Identifier: MIT
// ProcessPoolExecutor's core, second half: worker deaths (who is blamed, what is re-queued),
// timeouts, cancellation of running tasks, breaking the pool, teardown. See pool_core.cpp.
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "process_pool/pool_core.hpp"
#include "tandem/detail/wait.hpp"

namespace tandem::detail::pp {

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

void PoolCore::break_pool(const std::string& why) {
  broken_msg_ = why;
  broken_.store(1, std::memory_order_release);
  for (PTask* t : ready_) {
    t->fail(std::make_exception_ptr(BrokenProcessPool(why)));
    finish(t);
  }
  ready_.clear();
}

// The results a dead worker had finished but not sent: the records of its result log
// (wire.hpp, WorkerPage) whose tasks are still in flight, delivered in the log's order. A
// record the socket brought already is skipped (its task is done). Read after the socket, so
// nothing is delivered twice; never for a worker killed as corrupt (its bytes are not
// trusted: its tasks fail).
// The items of the map chunk it was running (ChunkProgress) come out in `partial`.
void PoolCore::drain_log(Worker& w, Partial& partial) {
  if (w.memfd < 0 || !w.page || w.inflight.empty() || w.kill_reason == kCorrupt) return;
  const std::uint64_t committed =
      std::atomic_ref<std::uint64_t>(w.page->committed).load(std::memory_order_acquire);
  partial.id = std::atomic_ref<std::uint64_t>(w.page->partial_id).load(std::memory_order_acquire);
  partial.count =
      partial.id ? std::atomic_ref<std::uint64_t>(w.page->partial_count).load(std::memory_order_acquire)
                 : 0;
  const std::uint64_t pbytes =
      partial.count ? std::atomic_ref<std::uint64_t>(w.page->partial_bytes).load(std::memory_order_relaxed)
                    : 0;
  struct stat st {};
  if ((committed == 0 && partial.count == 0) || ::fstat(w.memfd, &st) < 0 ||
      st.st_size <= static_cast<off_t>(kLogOffset + sizeof(FrameHeader)))
    return;
  const auto region = static_cast<std::size_t>(st.st_size) - kLogOffset;
  void* p = ::mmap(nullptr, region, PROT_READ, MAP_SHARED, w.memfd, static_cast<off_t>(kLogOffset));
  if (p == MAP_FAILED) return;
  const auto* records = static_cast<const std::byte*>(p) + sizeof(FrameHeader);
  const std::size_t n = std::min<std::uint64_t>(committed, region - sizeof(FrameHeader));
  try {
    for_each_result(std::span<const std::byte>(records, n),
                    [&](const ResultRecord& r, std::span<const std::byte> outcome) {
                      auto it = std::find_if(w.inflight.begin(), w.inflight.end(),
                                             [&](PTask* t) { return t->id == r.id; });
                      if (it == w.inflight.end()) return;  // came through the socket
                      PTask* t = *it;
                      w.inflight.erase(it);
                      if (t->timeout_s > 0) --w.timed;
                      t->deliver(outcome);
                      finish(t);
                    });
  } catch (const DecodeError&) {
    // Committed records are whole; a worker that scribbled over its log loses the rest.
  }
  if (partial.count != 0 && sizeof(FrameHeader) + committed + pbytes <= region) {
    const auto* b = records + committed;
    partial.bytes.assign(b, b + pbytes);
  } else {
    partial.count = 0;
  }
  ::munmap(p, region);
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

void PoolCore::count_start_failure(bool killed, int pid, const std::string& how) {
  int& n = killed ? init_kills_ : init_failures_;
  if (++n < (killed ? kMaxInitKills : kMaxInitFailures) || broken_.load(std::memory_order_relaxed))
    return;
  break_pool("A process in the process pool " +
             std::string(killed ? "was killed by SIGKILL " : "died ") + std::to_string(n) +
             " times in a row before its initializer returned (last: pid " + std::to_string(pid) +
             " " + how + "); the process pool is not usable anymore");
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

bool PoolCore::idle() const noexcept {
  if (!ready_.empty() || incoming_.load(std::memory_order_acquire)) return false;
  for (std::size_t i = 0; i < n_; ++i)
    if (!w_[i].inflight.empty()) return false;
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

bool PoolCore::work_left() const noexcept {
  if (!ready_.empty() || incoming_.load(std::memory_order_acquire)) return true;
  for (const Worker& w : w_)
    if (!w.inflight.empty()) return true;
  return false;
}

void PoolCore::run() noexcept {
  try {
    loop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tandem::ProcessPoolExecutor: dispatcher failed: %s\n", e.what());
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
  for (PTask* t : ready_) {
    t->fail(std::make_exception_ptr(BrokenProcessPool("the process pool shut down")));
    finish(t);
  }
  ready_.clear();
  publish_load();
  done_.store(1, std::memory_order_release);
  futex_wake_all(done_);
}

}  // namespace tandem::detail::pp
