// SPDX-License-Identifier: MIT
// MpiPoolExecutor's communicator thread (see include/tandem/mpi/detail/pool_core.hpp), and at world
// size 1 the local process pool that stands in for the worker ranks.
#include <mpi.h>
#include <pthread.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "mpi/runtime.hpp"
#include "tandem/errors.hpp"
#include "tandem/mpi/detail/pool_core.hpp"
#include "tandem/futures/detail/ready_queue.hpp"
#include "tandem/process_pool.hpp"

namespace tandem::mpi::detail {

namespace td = tandem::detail;

struct PoolCore::Impl {
  // state_: kClosed | kCancel | (submitters in progress << 2)
  static constexpr std::uint64_t kClosed = 1, kCancel = 2, kSubmitter = 4;

  Runtime& rt;
  std::size_t max_in_flight, max_batch;  // current limits (adapted when the options are 0)
  bool adaptive;
  std::uint64_t max_idle_ns;

  std::atomic<Job*> head{nullptr};
  std::atomic<std::uint64_t> state{0};
  std::atomic<std::uint32_t> bell{0};  // 1: the communicator thread sleeps (or is about to)
  std::atomic<std::uint32_t> done{0};  // 1: the communicator thread has let go of MPI
  std::thread thread;

  // Below: the communicator thread's own.
  struct Batch {
    std::vector<Job*> jobs;
    td::steady::time_point sent;
    std::size_t done = 0;  // jobs[0, done) have their results
  };
  double task_seconds = 0;  // moving average of a batch's round trip / its tasks
  struct Worker {
    int rank;
    std::size_t in_flight = 0;
    std::deque<Batch> batches;
  };
  struct Send {
    MPI_Request req;
    std::vector<std::byte> buf;
  };
  tandem::detail::ReadyQueue<Job> pending;  // by TaskOptions::priority
  std::vector<Worker> workers;
  std::size_t total_in_flight = 0;
  std::vector<Send> sends;
  std::vector<std::vector<std::byte>> spare;  // send buffers to reuse
  std::vector<Job*> timed;                    // jobs with a deadline, not yet released
  std::vector<std::byte> rbuf, out;
  bool cancelled = false;

  // World size 1: the pool every task goes to (MpiPoolExecutor::submit and map ask
  // PoolCore::local_pool()); no communicator thread then, and no MPI call.
  std::unique_ptr<ProcessPoolExecutor> local;
  std::atomic<bool> local_open{true};  // until the first shutdown frees the executor slot

  Impl(Runtime& r, const MpiPoolOptions& o)
      : rt(r),
        max_in_flight(o.max_in_flight ? o.max_in_flight : 128),
        max_batch(o.max_batch ? o.max_batch : 64),
        adaptive(o.max_in_flight == 0 && o.max_batch == 0),
        max_idle_ns(static_cast<std::uint64_t>(std::max(o.max_idle_sleep.count(), 1e-6) * 1e9)) {
    if (r.size == 1) {
      // Forked from the constructing thread, as a ProcessPoolExecutor built here would be;
      // the workers never make MPI calls (they only run shipped tasks) and leave with _exit.
      local = std::make_unique<ProcessPoolExecutor>(
          ProcessPoolOptions{.max_workers = o.local_workers});
    } else {
      for (int k = 1; k < r.size; ++k) workers.push_back(Worker{k, 0, {}});
    }
  }

  // Frees the executor slot (once): a local executor holds it from construction to its first
  // shutdown, so a second one while it is open is refused as under mpirun.
  void release_slot() noexcept {
    rt.active.store(nullptr, std::memory_order_release);
    rt.slot.store(0, std::memory_order_release);
    td::futex_wake_all(rt.slot);
  }

  void ring() noexcept {
    td::seq_cst_fence();
    if (bell.load(std::memory_order_relaxed) == 1 && bell.exchange(0) == 1)
      td::futex_wake_all(bell);
  }

  void begin_shutdown(bool cancel) noexcept {
    if (local) {
      try {
        local->shutdown(false, cancel);
      } catch (...) {  // shutdown(false) does not throw; the slot must be freed regardless
      }
      if (local_open.exchange(false, std::memory_order_acq_rel)) release_slot();
      return;
    }
    state.fetch_or(kClosed | (cancel ? kCancel : 0), std::memory_order_seq_cst);
    std::uint32_t one = 1;
    rt.slot.compare_exchange_strong(one, 2, std::memory_order_acq_rel);
    ring();
  }

  // Sleeps on the bell unless something arrived or the state changed since `seen`.
  void sleep(std::uint64_t seen, td::Deadline deadline) noexcept {
    bell.store(1, std::memory_order_relaxed);
    td::seq_cst_fence();
    if (head.load(std::memory_order_relaxed) != nullptr ||
        state.load(std::memory_order_relaxed) != seen) {
      bell.store(0, std::memory_order_relaxed);
      return;
    }
    td::futex_wait(bell, 1, deadline);
    bell.store(0, std::memory_order_relaxed);
  }

  void finish_job(Job* j) noexcept {
    if (!j->deadline.is_never()) {
      auto it = std::find(timed.begin(), timed.end(), j);
      if (it != timed.end()) {
        *it = timed.back();
        timed.pop_back();
      }
    }
    j->release_job();
  }

  bool take_submissions() {
    Job* list = head.exchange(nullptr, std::memory_order_acquire);
    if (!list) return false;
    Job* rev = nullptr;
    while (list) {
      Job* n = list->next;
      list->next = rev;
      rev = list;
      list = n;
    }
    for (Job* j = rev; j;) {
      Job* n = j->next;
      pending.push_back(j);
      if (!j->deadline.is_never()) timed.push_back(j);
      j = n;
    }
    return true;
  }

  Worker* least_loaded() noexcept {
    Worker* best = nullptr;
    for (Worker& w : workers)
      if (w.in_flight < max_in_flight && (!best || w.in_flight < best->in_flight)) best = &w;
    return best;
  }

  std::vector<std::byte> take_buffer() {
    if (spare.empty()) return {};
    std::vector<std::byte> b = std::move(spare.back());
    spare.pop_back();
    b.clear();
    return b;
  }

  bool dispatch() {
    bool any = false;
    while (!pending.empty()) {
      Worker* w = least_loaded();
      if (!w) break;
      // Spread a burst over the workers rather than filling the first one.
      const std::size_t share = (pending.size() + workers.size() - 1) / workers.size();
      const std::size_t n = std::min({max_in_flight - w->in_flight, max_batch, share});
      Batch b;
      b.jobs.reserve(n);
      std::vector<std::byte> buf = take_buffer();
      while (b.jobs.size() < n && !pending.empty()) {
        Job* j = pending.front();
        const std::size_t need = sizeof(TaskHeader) + j->task.args.size();
        if (buf.size() + need > static_cast<std::size_t>(INT_MAX)) {
          if (!b.jobs.empty()) break;  // next batch
          pending.pop_front();
          j->fail(std::make_exception_ptr(
              ValueError("tandem::MpiPoolExecutor: a task's arguments exceed 2 GiB")));
          finish_job(j);
          continue;
        }
        pending.pop_front();
        if (!j->start()) {  // cancelled, or timed out while queued
          finish_job(j);
          continue;
        }
        TaskHeader h{};
        h.trampoline = j->task.trampoline;
        h.function = j->task.function;
        h.check = j->task.check;
        h.args_len = j->task.args.size();
        h.kind = static_cast<std::uint8_t>(j->task.kind);
        const std::size_t at = buf.size();
        buf.resize(at + need);
        std::memcpy(buf.data() + at, &h, sizeof h);
        if (!j->task.args.empty())
          std::memcpy(buf.data() + at + sizeof h, j->task.args.data(), j->task.args.size());
        std::vector<std::byte>().swap(j->task.args);  // the bytes now live in the batch
        b.jobs.push_back(j);
      }
      if (b.jobs.empty()) {
        spare.push_back(std::move(buf));
        continue;
      }
      any = true;
      b.sent = td::steady::now();
      Send s{MPI_REQUEST_NULL, std::move(buf)};
      MPI_Isend(s.buf.data(), static_cast<int>(s.buf.size()), MPI_BYTE, w->rank, kTagTasks,
                rt.comm, &s.req);
      sends.push_back(std::move(s));
      w->in_flight += b.jobs.size();
      total_in_flight += b.jobs.size();
      w->batches.push_back(std::move(b));
    }
    return any;
  }

  /// Completes the jobs of `b` whose results `in` carries, in order from b.done: a worker
  /// sends a batch's results as one message or, when it meets a task that may be long
  /// (src/shipping/known_functions.hpp), as several. A truncated record fails the batch's rest.
  void complete_results(std::span<const std::byte> in, Batch& b) {
    std::size_t pos = 0;
    while (pos < in.size() && b.done < b.jobs.size()) {
      Job* j = b.jobs[b.done++];
      std::uint64_t len = 0;
      if (in.size() - pos >= 8) std::memcpy(&len, in.data() + pos, 8);
      if (in.size() - pos < 8 || len > in.size() - pos - 8) {
        j->fail(std::make_exception_ptr(
            DecodeError("tandem::MpiPoolExecutor: truncated result batch from a worker rank")));
        finish_job(j);
        while (b.done < b.jobs.size()) {
          Job* rest = b.jobs[b.done++];
          rest->fail(std::make_exception_ptr(DecodeError(
              "tandem::MpiPoolExecutor: truncated result batch from a worker rank")));
          finish_job(rest);
        }
        return;
      }
      j->complete(in.subspan(pos + 8, static_cast<std::size_t>(len)));
      pos += 8 + static_cast<std::size_t>(len);
      finish_job(j);
    }
  }

  bool receive() {
    bool any = false;
    for (;;) {
      int flag = 0;
      MPI_Message msg;
      MPI_Status st;
      MPI_Improbe(MPI_ANY_SOURCE, kTagResults, rt.comm, &flag, &msg, &st);
      if (!flag) break;
      int count = 0;
      MPI_Get_count(&st, MPI_BYTE, &count);
      rbuf.resize(static_cast<std::size_t>(count));
      MPI_Mrecv(rbuf.data(), count, MPI_BYTE, &msg, &st);
      Worker& w = workers[static_cast<std::size_t>(st.MPI_SOURCE - 1)];
      any = true;
      // A worker answers its batches in order (MPI does not overtake between two ranks).
      if (w.batches.empty()) continue;  // more results than jobs: nothing to complete
      Batch& b = w.batches.front();
      const std::size_t before = b.done;
      complete_results(rbuf, b);
      w.in_flight -= b.done - before;
      total_in_flight -= b.done - before;
      if (b.done == b.jobs.size()) {
        adapt(b);
        w.batches.pop_front();
      }
    }
    return any;
  }

  // Keeps about kWindow of work queued at each worker rank: enough that a worker never
  // waits for its next batch (trivial tasks: thousands in flight, big batches), few enough
  // that long tasks spread over the ranks (seconds each: 2 in flight, batches of 1).
  void adapt(const Batch& b) noexcept {
    if (!adaptive || b.jobs.empty()) return;
    constexpr double kWindow = 0.005;
    const double per = std::chrono::duration<double>(td::steady::now() - b.sent).count() /
                       static_cast<double>(b.jobs.size());
    task_seconds = task_seconds == 0 ? per : 0.75 * task_seconds + 0.25 * per;
    const double want = kWindow / std::max(task_seconds, 1e-9);
    max_in_flight = static_cast<std::size_t>(std::clamp(want, 2.0, 16384.0));
    max_batch = std::max<std::size_t>(1, max_in_flight / 2);
  }

  bool reap_sends() {
    bool any = false;
    for (std::size_t i = 0; i < sends.size();) {
      int flag = 0;
      MPI_Test(&sends[i].req, &flag, MPI_STATUS_IGNORE);
      if (!flag) {
        ++i;
        continue;
      }
      if (spare.size() < 8) spare.push_back(std::move(sends[i].buf));
      sends[i] = std::move(sends.back());
      sends.pop_back();
      any = true;
    }
    return any;
  }

  void check_timeouts() {
    if (timed.empty()) return;
    for (Job* j : timed) {
      if (j->timed_out || !j->deadline.expired()) continue;
      j->timed_out = true;
      j->fail(std::make_exception_ptr(TimeoutError(
          "MpiPoolExecutor task timed out (an MPI worker rank cannot be interrupted: it "
          "finishes the task, whose result is dropped)")));
    }
  }

  void cancel_pending() {
    take_submissions();
    for (Job* j : pending.take_all()) {
      j->cancel_job();
      finish_job(j);
    }
  }

  void run() noexcept {
    Backoff bo(max_idle_ns);
    for (;;) {
      const std::uint64_t s = state.load(std::memory_order_acquire);
      if ((s & kCancel) && !cancelled) {
        cancelled = true;
        cancel_pending();
      }
      bool progress = take_submissions();
      progress |= dispatch();
      progress |= receive();
      progress |= reap_sends();
      check_timeouts();
      const bool idle = pending.empty() && total_in_flight == 0 && sends.empty();
      if ((s & kClosed) && s < kSubmitter && idle &&
          head.load(std::memory_order_acquire) == nullptr)
        break;
      if (progress) {
        bo.reset();
        continue;
      }
      if (idle) {
        sleep(s, td::Deadline::never());
      } else if (std::uint64_t ns = bo.next()) {
        sleep(s, td::Deadline::after(duration(static_cast<double>(ns) * 1e-9)));
      }
    }
    done.store(1, std::memory_order_release);
    td::futex_wake_all(done);
    release_slot();
  }
};

void shutdown_active(PoolCore::Impl* impl) noexcept { impl->begin_shutdown(false); }

PoolCore::PoolCore(const MpiPoolOptions& opts) : impl_(nullptr) {
  Runtime& rt = runtime();
  if (!rt.inited)
    throw RuntimeError(
        "tandem::MpiPoolExecutor: call tandem::mpi::init(argc, argv) first, as the first line "
        "of main()");
  if (rt.finalized)
    throw RuntimeError("tandem::MpiPoolExecutor: MPI was finalized (tandem::mpi::finalize())");
  if (rt.rank != 0)
    throw RuntimeError("tandem::MpiPoolExecutor: only rank 0 can make an executor");
  for (;;) {
    std::uint32_t s = rt.slot.load(std::memory_order_acquire);
    if (s == 0) {
      if (rt.slot.compare_exchange_weak(s, 1, std::memory_order_acq_rel)) break;
      continue;
    }
    if (s == 1)
      throw RuntimeError(
          "tandem::MpiPoolExecutor: another MpiPoolExecutor is open; the worker ranks serve "
          "one executor at a time (shut the other one down first)");
    td::futex_wait(rt.slot, s);  // the previous one is draining
  }
  try {
    impl_ = new Impl(rt, opts);
    Impl* m = impl_;
    local_ = m->local.get();
    rt.active.store(m, std::memory_order_release);
    if (!local_)
      m->thread = std::thread([m] {
        pthread_setname_np(pthread_self(), "tandem-mpi");
        m->run();
      });
  } catch (...) {
    rt.active.store(nullptr);
    delete impl_;  // a local pool's destructor waits for its workers
    rt.slot.store(0, std::memory_order_release);
    td::futex_wake_all(rt.slot);
    throw;
  }
}

PoolCore::~PoolCore() {
  impl_->begin_shutdown(false);
  if (local_) local_->shutdown(true);
  if (impl_->thread.joinable()) impl_->thread.join();
  delete impl_;
}

void PoolCore::submit(Job* job) {
  Impl& m = *impl_;
  if (local_)  // MpiPoolExecutor sends nothing here at world size 1
    throw RuntimeError("tandem::MpiPoolExecutor: internal error: a job for the local pool");
  const std::uint64_t s = m.state.fetch_add(Impl::kSubmitter, std::memory_order_seq_cst);
  if (s & Impl::kClosed) {
    m.state.fetch_sub(Impl::kSubmitter, std::memory_order_seq_cst);
    m.ring();  // the communicator may be waiting for submitters to leave
    throw RuntimeError("cannot schedule new futures after shutdown");
  }
  Job* h = m.head.load(std::memory_order_relaxed);
  do {
    job->next = h;
  } while (!m.head.compare_exchange_weak(h, job, std::memory_order_release,
                                         std::memory_order_relaxed));
  m.state.fetch_sub(Impl::kSubmitter, std::memory_order_seq_cst);
  m.ring();
}

void PoolCore::shutdown(bool wait, bool cancel_futures) {
  impl_->begin_shutdown(cancel_futures);
  if (local_) {
    if (wait) local_->shutdown(true);
    return;
  }
  if (!wait || std::this_thread::get_id() == impl_->thread.get_id()) return;
  while (impl_->done.load(std::memory_order_acquire) == 0) td::futex_wait(impl_->done, 0);
}

std::size_t PoolCore::num_workers() const noexcept {
  return local_ ? local_->max_workers() : impl_->workers.size();
}

}  // namespace tandem::mpi::detail
