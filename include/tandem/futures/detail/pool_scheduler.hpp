// SPDX-License-Identifier: MIT
// <tandem/futures/detail/pool_scheduler.hpp> — the scheduler behind ThreadPoolExecutor (detail).
//
// Design
//  * One Chase-Lev deque per worker (tasks submitted from inside a task go there, LIFO) and
//    one per submitting outside thread (up to kExternalSlots live at once; further threads share
//    one deque whose owner side is serialised by a FutexMutex). Workers take from their own
//    deque, then steal FIFO from everyone else's, starting at a rotating index — so
//    submitters never contend with each other, and a submit costs a push, one seq_cst fence
//    and two loads. (Work stealing: Blumofe & Leiserson 1999; deque: Le et al. PPoPP 2013.)
//  * Sleeping: a worker that finds nothing searches a short bounded while (8 rounds of
//    `pause`, then 24 rounds of sched_yield, so that on a small machine a searcher hands
//    its CPU to a runnable submitter instead of starving it: 1.0 → 10.5 M tasks/s on 2
//    CPUs, bench/RESULTS.md); only the first half of the searchers (at least one) poll
//    every ~16 pauses, the others every ~512, as Go and Tokio cap their spinning threads —
//    every poll reads the deque a submitter is pushing to, and two fast pollers of an
//    outpaced submitter halved its rate (9.7 → 16 M tasks/s alone) — then
//    announces itself in `sleepers_`, re-scans every deque, and sleeps on the futex word
//    `epoch_`. A submitter wakes a worker only when no worker is searching and one sleeps
//    (Dekker: push; light_fence; load searching_/sleepers_ — the worker does sleepers_++;
//    searching_--; heavy_fence; scan: an asymmetric fence, asymmetric_fence.hpp, so a submit
//    pays a compiler barrier and the worker about to sleep a membarrier(2); shutdown() pays
//    the heavy half too), so a busy or spinning worker is never woken, and a burst of
//    submissions costs at most one wake; a searcher that finds work wakes the next sleeper
//    (as Tokio's scheduler), so wake-ups fan out only while there is work.
//  * Shutdown: `shutdown_` is set (under the overflow deque's lock, for that deque's
//    submitters); a submitter re-checks it after its push+light fence and takes its task back
//    (it is still at the bottom of its own deque unless a worker already stole it), so a
//    task is either refused with RuntimeError or runs — never lost. Workers exit when they
//    see `shutdown_` and then find every deque empty; shutdown(wait) joins them, then runs
//    anything left itself.
//  * Priorities (TaskOptions::priority != 0) go to one shared PriorityInbox instead of a deque:
//    a worker takes positive ones before its own deque and negative ones once every deque is
//    empty. Plain submits never touch it; a worker pays one relaxed load while it is empty.
//  * Lazy workers (Python's rule): a submit while fewer than max_workers run consumes an
//    "idle token" (added by a worker as it finishes a task) or starts a new thread.
//  * Lifetime: the scheduler is shared-owned by the executor and by every worker thread
//    (each holds a reference until it leaves worker_main), so shutdown(wait=true) or the
//    executor's destructor called from one of the pool's own tasks is safe: that worker
//    cannot join itself, but the state it still touches stays alive until it exits, and
//    the last one out frees it (joining the others, detaching itself). Waiting for workers
//    goes through `live_` (threads started and not yet out of worker_main) and a futex
//    sequence word, not through join, so every shutdown(wait=true) waits — also a second
//    one racing the first, as Python's joins do.
//  * Outside submitters: a thread's private deque is returned when the thread exits (a
//    thread_local registry releases it, once drained or not: workers still steal what is
//    left), so short-lived submitting threads never exhaust the kExternalSlots deques.
//  * fork(): pthread_atfork handlers hold every pool's locks across fork() (so the child
//    inherits them unlocked) and mark every pool in the child as inherited: its workers do
//    not exist there. submit() raises BrokenThreadPool, shutdown()/the destructor fail the
//    tasks still queued with BrokenThreadPool and never join the parent's threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tandem/detail/futex_mutex.hpp"
#include "tandem/futures/detail/future_core.hpp"
#include "tandem/futures/options.hpp"
#include "tandem/futures/detail/priority_inbox.hpp"
#include "tandem/futures/detail/work_deque.hpp"

namespace tandem {

/// A snapshot of a pool's counters (each read relaxed: consistent only when idle).
struct PoolStats {
  std::uint64_t submitted = 0;   // tasks accepted by submit()/map()
  std::uint64_t completed = 0;   // tasks run (or failed/cancelled) by the workers
  std::uint64_t queued = 0;      // tasks waiting in the deques
  std::size_t workers = 0;       // threads started
  std::size_t workers_busy = 0;  // threads running a task now
  std::size_t submitters = 0;    // live outside threads holding a private submit deque
};

namespace detail {

class PoolScheduler final : public WaitHelper,
                            public std::enable_shared_from_this<PoolScheduler> {
 public:
  static constexpr std::size_t kExternalSlots = 64;

  /// Create with std::make_shared (workers hold references).
  explicit PoolScheduler(ThreadPoolOptions opts);
  ~PoolScheduler();
  PoolScheduler(const PoolScheduler&) = delete;
  PoolScheduler& operator=(const PoolScheduler&) = delete;

  /// Queues a task holding one reference for the queue. On RuntimeError (after shutdown) or
  /// BrokenThreadPool the reference is released before the exception propagates.
  void enqueue(FutureCore* task);
  /// As enqueue, into the priority inbox (priority != 0; see priority_inbox.hpp).
  void enqueue_priority(FutureCore* task, int priority);
  void shutdown(bool wait, bool cancel_futures);
  PoolStats stats() const noexcept;
  std::size_t max_workers() const noexcept { return max_workers_; }
  bool help_until(FutureCore& f, Deadline deadline) override;

  /// A submitting thread is exiting: its private deque (index into the external slots)
  /// may go to another thread. Tasks still in it stay there for the workers to steal.
  void release_submitter_slot(std::size_t slot) noexcept;

  // pthread_atfork handlers (installed once, for every pool).
  static void fork_prepare() noexcept;
  static void fork_parent() noexcept;
  static void fork_child() noexcept;

 private:
  struct alignas(64) Slot {
    WorkDeque<FutureCore*> dq;
    std::atomic<std::uint64_t> pushed{0};     // written by the owner only
    std::atomic<std::uint64_t> completed{0};  // workers: written by the owner only
    std::atomic<std::uint32_t> busy{0};
    std::atomic<const void*> owner{nullptr};  // external slots: the owning thread's token
  };
  class Finishing;

  Slot* my_slot();
  FutureCore* find_task(std::size_t self);
  void run(std::size_t self, FutureCore* t);
  void fail_broken(FutureCore* t);
  void check_open(FutureCore* task);
  void after_push();
  void worker_main(std::size_t index);
  void wake_one() noexcept;
  void wake_all() noexcept;
  void maybe_spawn();
  std::size_t nslots() const noexcept;
  void drain_leftovers();
  void shutdown_inherited();
  void mark_broken(const char* reason) noexcept;
  void bump_exits() noexcept;
  template <class Done>
  void wait_workers(Done done) noexcept;

  const std::uint64_t id_;
  const std::size_t max_workers_;
  const std::string name_prefix_;
  std::function<void()> initializer_;
  std::unique_ptr<Slot[]> slots_;  // [0, max_workers_) workers, then externals, then overflow
  Slot* overflow_;
  FutexMutex overflow_mu_;
  PriorityInbox prio_;
  FutexMutex reg_mu_;
  std::atomic<std::size_t> n_external_{0};

  alignas(64) std::atomic<std::uint32_t> epoch_{0};  // futex word workers sleep on
  std::atomic<std::uint32_t> sleepers_{0};
  std::atomic<std::uint32_t> searching_{0};
  alignas(64) std::atomic<bool> shutdown_{false};
  std::atomic<bool> broken_{false};
  std::atomic<const char*> broken_reason_{nullptr};  // a literal, stored before broken_
  std::atomic<bool> inherited_{false};  // we are a fork() child of the pool's process

  FutexMutex spawn_mu_;
  std::atomic<std::size_t> nthreads_{0};
  std::atomic<std::int64_t> idle_tokens_{0};
  bool joined_ = false;  // guarded by spawn_mu_
  std::vector<std::thread> threads_;  // guarded by spawn_mu_

  // Worker exits, for shutdown(wait=true): waiters sleep on exit_seq_, bumped whenever
  // live_ or self_waiters_ changes.
  std::atomic<std::uint32_t> live_{0};          // workers started, not yet out of worker_main
  std::atomic<std::uint32_t> self_waiters_{0};  // workers inside shutdown(wait=true)
  std::atomic<std::uint32_t> exit_seq_{0};

  // The process-wide list of pools, for the fork handlers (guarded by a global mutex).
  PoolScheduler* reg_prev_ = nullptr;
  PoolScheduler* reg_next_ = nullptr;
};

}  // namespace detail
}  // namespace tandem
